//! Running commands as named steps: echo what runs, time it, and turn a failure into a message naming the step.

use std::fmt;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A step that failed, and why.
#[derive(Debug)]
pub struct Failure {
    step: String,
    reason: String,
}

impl Failure {
    /// A failure of `step` for `reason`.
    pub fn new(step: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { step: step.into(), reason: reason.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step `{}` failed: {}", self.step, self.reason)
    }
}

/// What every task returns.
pub type Result<T = ()> = std::result::Result<T, Failure>;

/// The command line as a person would type it, for messages.
pub fn describe(command: &Command) -> String {
    // `cargo`, not `/root/.rustup/toolchains/…/bin/cargo`: the full path only adds noise.
    let program = Path::new(command.get_program());
    let mut words = vec![program.file_name().unwrap_or(program.as_os_str()).to_string_lossy().into_owned()];
    words.extend(command.get_args().map(|arg| arg.to_string_lossy().into_owned()));
    words.join(" ")
}

fn spawn_error(command: &Command, error: &io::Error) -> String {
    if error.kind() == io::ErrorKind::NotFound {
        format!("`{}` is not installed (not found on PATH)", command.get_program().to_string_lossy())
    } else {
        format!("could not start `{}`: {error}", describe(command))
    }
}

/// Runs `command` with the terminal attached; fails `step` unless it exits successfully.
pub fn run(step: &str, command: &mut Command) -> Result {
    println!("$ {}", describe(command));
    let status = command.status().map_err(|error| Failure::new(step, spawn_error(command, &error)))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::new(step, format!("`{}` exited with {status}", describe(command))))
    }
}

/// Like [`run`], but also hands each line of standard output to `each_line` as it passes through to the terminal.
pub fn run_reading_lines(step: &str, command: &mut Command, mut each_line: impl FnMut(&str)) -> Result {
    println!("$ {}", describe(command));
    let mut child =
        command.stdout(Stdio::piped()).spawn().map_err(|error| Failure::new(step, spawn_error(command, &error)))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|error| Failure::new(step, format!("cannot read its output: {error}")))?;
        println!("{line}");
        each_line(&line);
    }
    let status = child.wait().map_err(|error| Failure::new(step, format!("cannot wait for it: {error}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::new(step, format!("`{}` exited with {status}", describe(command))))
    }
}

/// Runs `command` quietly and returns its standard output, or `None` if it is missing or fails.
/// For probes such as `--version`, where failure just means "not installed".
pub fn probe(command: &mut Command) -> Option<String> {
    let output = command.stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `body` as the named step, announcing it and printing how long it took.
pub fn timed<T>(step: &str, body: impl FnOnce() -> Result<T>) -> Result<T> {
    println!("==> {step}");
    let start = Instant::now();
    let result = body();
    let outcome = if result.is_ok() { "done" } else { "FAILED" };
    println!("<== {step}: {outcome} in {}", human_duration(start.elapsed()));
    result
}

/// `4.2s`, or `7m 03s` past a minute.
pub fn human_duration(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = duration.as_secs();
        format!("{}m {:02}s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_millis(4_240)), "4.2s");
        assert_eq!(human_duration(Duration::from_secs(423)), "7m 03s");
    }

    #[test]
    fn failures_name_their_step() {
        let failure = Failure::new("clippy (host)", "`cargo clippy` exited with exit status: 101");
        assert_eq!(failure.to_string(), "step `clippy (host)` failed: `cargo clippy` exited with exit status: 101");
    }

    #[test]
    fn a_missing_program_is_reported_as_not_installed() {
        let mut command = Command::new("huddle-no-such-program");
        let failure = run("probe", &mut command).unwrap_err();
        assert!(failure.to_string().contains("is not installed"), "{failure}");
        assert_eq!(probe(&mut command), None);
    }
}
