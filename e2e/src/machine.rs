//! Where and on what a benchmark ran, for its report: the commit, the browser, the machine's load.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::artifacts;
use crate::call_setup::utc_date;

/// Now, as `YYYY-MM-DD HH:MM UTC`.
pub fn now() -> String {
    utc_date(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))
}

/// The 1-minute load average of the machine (namespaces do not hide it).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// The CPUs this process may use.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

/// The workspace's commit, marked `-dirty` when the work tree has changes.
pub fn commit() -> String {
    let git = |args: &[&str]| {
        let output = Command::new("git").args(args).current_dir(artifacts::workspace_root()).output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    match (git(&["rev-parse", "--short", "HEAD"]), git(&["status", "--porcelain", "--untracked-files=no"])) {
        (Some(head), Some(status)) if !status.is_empty() => format!("{head}-dirty"),
        (Some(head), _) => head,
        _ => "unknown".to_owned(),
    }
}

/// `Chromium 1xx.0.x.y built on Debian ...`, as the browser says.
pub fn chromium_version() -> String {
    let version = artifacts::chromium()
        .ok()
        .and_then(|binary| Command::new(binary).arg("--version").output().ok())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
    version.filter(|v| !v.is_empty()).unwrap_or_else(|| "Chromium (version unknown)".to_owned())
}
