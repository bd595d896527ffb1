//! Where and on what a benchmark ran, for its report: the commit, the browser, the machine's load.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::artifacts;
use crate::call_setup::utc_date;

/// Where and when a benchmark ran, as every report states it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Machine {
    /// When, as `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// The commit measured (see [`commit`]).
    pub commit: String,
    /// The browser's version (see [`chromium_version`]).
    pub browser: String,
    /// CPUs available.
    pub cpus: usize,
    /// `/proc/loadavg`'s 1-minute load before and after the run.
    pub load_before: Option<f64>,
    /// See `load_before`.
    pub load_after: Option<f64>,
}

impl Machine {
    /// The machine now, before a run: all but the load after it.
    pub fn before_run() -> Machine {
        Machine {
            date: now(),
            commit: commit(),
            browser: chromium_version(),
            cpus: cpus(),
            load_before: load_average(),
            load_after: None,
        }
    }

    /// Notes the load at the end of the run.
    pub fn after_run(&mut self) {
        self.load_after = load_average();
    }

    /// A load average as the reports print it.
    pub fn load_text(load: Option<f64>) -> String {
        load.map(|l| format!("{l:.2}")).unwrap_or_else(|| "unknown".to_owned())
    }
}

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
