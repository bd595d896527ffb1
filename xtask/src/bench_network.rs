//! `cargo xtask bench network`: what a person sees and hears in calls on impaired links (the profiles are the
//! benchmark's, `e2e/benches/network.rs`), Huddle's SPA beside the JavaScript baseline. Writes `bench/NETWORK.md`.

use crate::runner::{self, Result};
use crate::{spa, workspace};

/// The report the benchmark writes, relative to the workspace root.
pub const REPORT: &str = "bench/NETWORK.md";

/// Builds the SPA and the relay, then runs the benchmark with `args` (e.g. `--runs 5`), writing [`REPORT`] unless
/// `--out` says otherwise. `--help` only prints the benchmark's options.
pub fn run(args: &[String]) -> Result {
    let help = args.iter().any(|arg| arg == "--help" || arg == "-h");
    if !help {
        spa::build()?;
        runner::run("build the relay", workspace::cargo().args(["build", "--release", "-p", "huddle-server"]))?;
    }
    let relay = workspace::root().join("target/release/huddle-server");
    let mut bench = workspace::cargo();
    // The dev profile: the browsers do the measuring, so the driver needs no optimising and reuses the e2e tests'
    // build.
    bench.args(["bench", "-p", "huddle-e2e", "--bench", "network", "--profile", "dev", "--"]);
    if !help && !args.iter().any(|arg| arg == "--out" || arg.starts_with("--out=")) {
        bench.args(["--out", REPORT]);
    }
    // The release relay just built, never an older debug one.
    bench.args(args).env("HUDDLE_E2E_SERVER", relay);
    runner::run("network benchmark", &mut bench)
}
