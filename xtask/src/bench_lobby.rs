//! `cargo xtask bench lobby-load`: how long a person waits from opening a room link to a usable lobby on a thin link
//! (the rates are the benchmark's, `e2e/benches/lobby_load.rs`), first visit, repeat visit and reload. Writes
//! `bench/lobby-load.md`, keeping the sections of relays it does not measure (e.g. `--before`'s from an earlier run).

use crate::runner::Result;

/// The report the benchmark writes, relative to the workspace root.
pub const REPORT: &str = "bench/lobby-load.md";

/// Builds the SPA and the relay, then runs the benchmark with `args` (e.g. `--before PATH`), writing [`REPORT`]
/// unless `--out` says otherwise. `--help` only prints the benchmark's options.
pub fn run(args: &[String]) -> Result {
    crate::e2e_bench::run("lobby_load", "lobby-load benchmark", REPORT, args)
}
