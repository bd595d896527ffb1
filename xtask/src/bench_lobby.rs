//! `cargo xtask bench lobby-load`: how long a person waits from opening a room link to a usable lobby on a thin link
//! (the rates are the benchmark's, `e2e/benches/lobby_load.rs`), first visit, repeat visit and reload. Writes
//! `bench/lobby-load.md`, keeping the sections of relays it does not measure (e.g. `--before`'s from an earlier run).

use crate::runner::{self, Result};
use crate::{spa, workspace};

/// The report the benchmark writes, relative to the workspace root.
pub const REPORT: &str = "bench/lobby-load.md";

/// Builds the SPA and the relay, then runs the benchmark with `args` (e.g. `--before PATH`), writing [`REPORT`]
/// unless `--out` says otherwise. `--help` only prints the benchmark's options.
pub fn run(args: &[String]) -> Result {
    let help = args.iter().any(|arg| arg == "--help" || arg == "-h");
    if !help {
        spa::build()?;
        runner::run("build the relay", workspace::cargo().args(["build", "--release", "-p", "huddle-server"]))?;
    }
    let relay = workspace::root().join("target/release/huddle-server");
    let mut bench = workspace::cargo();
    // The dev profile: the browser does the timing, so the driver needs no optimising and reuses the e2e tests' build.
    bench.args(["bench", "-p", "huddle-e2e", "--bench", "lobby_load", "--profile", "dev", "--"]);
    if !help && !args.iter().any(|arg| arg == "--out" || arg.starts_with("--out=")) {
        bench.args(["--out", REPORT]);
    }
    // The release relay just built, never an older debug one (unless `--relay-binary` names another).
    bench.args(args).env("HUDDLE_E2E_SERVER", relay);
    runner::run("lobby-load benchmark", &mut bench)
}
