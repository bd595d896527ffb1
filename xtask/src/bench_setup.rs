//! `cargo xtask bench call-setup`: how long a call takes to set up in Huddle's SPA, against a minimal JavaScript
//! page on the same relay (`e2e/benches/call_setup.rs`, `bench/call-setup/`), or (`--rejoins N`) how long rejoining
//! takes. Writes `bench/call-setup.md`.

use crate::runner::{self, Result};
use crate::{spa, workspace};

/// The report the benchmark writes, relative to the workspace root.
pub const REPORT: &str = "bench/call-setup.md";

/// Builds the SPA and the relay, then runs the benchmark with `args` (e.g. `--calls 20`), writing [`REPORT`]
/// unless `--out` says otherwise.
pub fn run(args: &[String]) -> Result {
    spa::build()?;
    runner::run("build the relay", workspace::cargo().args(["build", "--release", "-p", "huddle-server"]))?;
    let relay = workspace::root().join("target/release/huddle-server");
    let mut bench = workspace::cargo();
    // The dev profile: the browsers do the timing, so the driver needs no optimising and reuses the e2e tests' build.
    bench.args(["bench", "-p", "huddle-e2e", "--bench", "call_setup", "--profile", "dev", "--"]);
    if !args.iter().any(|arg| arg == "--out" || arg.starts_with("--out=")) {
        bench.args(["--out", REPORT]);
    }
    // The release relay just built, never an older debug one.
    bench.args(args).env("HUDDLE_E2E_SERVER", relay);
    runner::run("call-setup benchmark", &mut bench)
}
