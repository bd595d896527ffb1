//! How `cargo xtask bench NAME` runs a benchmark of the e2e crate (`e2e/benches/`): build what it drives, then run it
//! with the report going to its place in `bench/` unless told otherwise.

use crate::runner::{self, Result};
use crate::{spa, workspace};

/// Builds the SPA and the release relay, then runs the e2e benchmark `bench` (`e2e/benches/BENCH.rs`; `what` names
/// it in the output) with `args`, writing `report` (relative to the workspace root) unless `--out` says otherwise.
/// `--help` builds nothing and only prints the benchmark's options.
pub fn run(bench: &str, what: &str, report: &str, args: &[String]) -> Result {
    let help = is_help(args);
    if !help {
        spa::build()?;
        runner::run("build the relay", workspace::cargo().args(["build", "--release", "-p", "huddle-server"]))?;
    }
    let mut command = workspace::cargo();
    command.args(bench_args(bench, report, args));
    // The release relay just built, never an older debug one (unless one of the benchmark's options names another).
    command.env("HUDDLE_E2E_SERVER", workspace::root().join("target/release/huddle-server"));
    runner::run(what, &mut command)
}

fn is_help(args: &[String]) -> bool {
    args.iter().any(|arg| arg == "--help" || arg == "-h")
}

/// `cargo`'s arguments for the benchmark `bench` with `args`.
fn bench_args(bench: &str, report: &str, args: &[String]) -> Vec<String> {
    // The dev profile: the browsers do the measuring, so the driver needs no optimising and reuses the e2e tests'
    // build.
    let mut words: Vec<String> =
        ["bench", "-p", "huddle-e2e", "--bench", bench, "--profile", "dev", "--"].map(str::to_owned).to_vec();
    if !is_help(args) && !args.iter().any(|arg| arg == "--out" || arg.starts_with("--out=")) {
        words.extend(["--out".to_owned(), report.to_owned()]);
    }
    words.extend(args.iter().cloned());
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_report_goes_to_its_place_unless_told_otherwise() {
        let base = "bench -p huddle-e2e --bench network --profile dev --";
        let args = |text: &str| bench_args("network", "bench/NETWORK.md", &words(text));
        assert_eq!(args("--runs 1"), words(&format!("{base} --out bench/NETWORK.md --runs 1")));
        assert_eq!(args("--out x.md"), words(&format!("{base} --out x.md")));
        assert_eq!(args("--out=x.md"), words(&format!("{base} --out=x.md")));
        assert_eq!(args("--help"), words(&format!("{base} --help")));
    }
}
