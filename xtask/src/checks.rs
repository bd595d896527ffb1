//! `cargo xtask test`: everything CI checks, in order, stopping at the first failure.

use std::fmt;
use std::time::Instant;

use crate::runner::{self, Result};
use crate::{size, spa, tools, workspace};

/// The SPA must build, the code must be formatted and lint-clean on the host and on wasm32, the tests pass, and the
/// SPA fit its size budget.
/// `cargo_test_args` go to `cargo test --workspace`.
pub fn test(cargo_test_args: &[String]) -> Result {
    let start = Instant::now();
    let mut done = Vec::new();
    let mut step = |name: &'static str, body: &mut dyn FnMut() -> Result| {
        let step_start = Instant::now();
        runner::timed(name, body)?;
        done.push((name, step_start.elapsed()));
        Ok(())
    };

    step("build (setup + SPA)", &mut spa::build)?;
    step("setup (test tools)", &mut tools::setup_tests)?;
    step("fmt", &mut || runner::run("fmt", workspace::cargo().args(["fmt", "--all", "--check"])))?;
    step("clippy (host)", &mut || {
        runner::run(
            "clippy (host)",
            workspace::cargo().args(["clippy", "--workspace", "--all-targets"]).args(["--", "-D", "warnings"]),
        )
    })?;
    step("clippy (wasm32)", &mut || {
        let wasm32 = ["--target", "wasm32-unknown-unknown"];
        let deny_warnings = ["--", "-D", "warnings"];
        // The crates that run in the browser, tests included (the property tests are host-only, see
        // common/Cargo.toml).
        runner::run(
            "clippy (wasm32)",
            workspace::cargo()
                .args(["clippy", "-p", "huddle-client", "-p", "huddle-common", "--all-targets"])
                .args(wasm32)
                .args(deny_warnings),
        )
    })?;
    let mut tally = TestTally::default();
    step("cargo test", &mut || {
        runner::run_reading_lines(
            "cargo test",
            workspace::cargo().args(["test", "--workspace"]).args(cargo_test_args),
            |line| tally.add(line),
        )
    })?;
    // The SPA built above, measured (not rebuilt). Last, so that an SPA over its budget still gets every other
    // check run.
    step("size budget", &mut size::check)?;

    println!("\nAll checks passed:");
    for (name, elapsed) in &done {
        println!("  {name:<24} {:>9}", runner::human_duration(*elapsed));
    }
    println!("  {:<24} {:>9}", "total", runner::human_duration(start.elapsed()));
    // Last, so that whoever reads the end of the log (people, CI) sees how many tests ran.
    println!("tests: {tally}");
    Ok(())
}

/// The tests cargo ran, summed over its `test result:` lines (one per test binary and doctest run).
#[derive(Debug, Default, PartialEq)]
struct TestTally {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestTally {
    /// Counts `line` if it is a `test result: ok. 3 passed; 0 failed; 1 ignored; ...` line.
    fn add(&mut self, line: &str) {
        let Some(counts) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in counts.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }
}

impl fmt::Display for TestTally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed, {} skipped", self.passed, self.failed, self.ignored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_results_are_summed_over_binaries() {
        let mut tally = TestTally::default();
        for line in [
            "running 3 tests",
            "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            "test a::b ... ok",
            "test result: FAILED. 7 passed; 2 failed; 0 ignored; 0 measured; 4 filtered out; finished in 1.20s",
        ] {
            tally.add(line);
        }
        assert_eq!(tally, TestTally { passed: 10, failed: 2, ignored: 1 });
        assert_eq!(tally.to_string(), "10 passed, 2 failed, 1 skipped");
    }
}
