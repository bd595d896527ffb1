//! `cargo xtask bench network`: what a person sees and hears in calls on impaired links (the profiles are the
//! benchmark's, `e2e/benches/network.rs`), Huddle's SPA beside the JavaScript baseline. Writes `bench/NETWORK.md`.

use crate::runner::Result;

/// The report the benchmark writes, relative to the workspace root.
pub const REPORT: &str = "bench/NETWORK.md";

/// Builds the SPA and the relay, then runs the benchmark with `args` (e.g. `--runs 5`), writing [`REPORT`] unless
/// `--out` says otherwise. `--help` only prints the benchmark's options.
pub fn run(args: &[String]) -> Result {
    crate::e2e_bench::run("network", "network benchmark", REPORT, args)
}
