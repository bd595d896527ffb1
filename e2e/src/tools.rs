//! The system's network tools (`ip`, `tc`, `iptables`, `nsenter`), run the one way every part of the harness runs
//! them: from /usr/sbin or /sbin, no input, their error output in the error.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::{Error, Result};

/// Runs a command line (`ip ...`, `tc ...`, `iptables ...`; they live in /usr/sbin or /sbin) and returns what it
/// printed; `netns`: inside that network namespace (through `nsenter`).
pub fn run_tool(netns: Option<&Path>, command: &str) -> Result<String> {
    let mut words = command.split_whitespace();
    let mut process = match netns {
        Some(path) => {
            let mut nsenter = Command::new("nsenter");
            nsenter.arg(format!("--net={}", path.display()));
            nsenter
        }
        None => Command::new(words.next().unwrap_or_default()),
    };
    let output = process
        .args(words)
        .env("PATH", "/usr/sbin:/sbin:/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("{command} (iproute2 and iptables are needed)"), e))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Error::Check(format!("`{command}` failed: {}", String::from_utf8_lossy(&output.stderr).trim())))
    }
}
