//! `cargo xtask`: Huddle's developer tasks — install the toolchain, build the SPA, run the relay, run every check.
//!
//! Plain Rust with no dependencies, so it builds in seconds on a fresh machine before anything else is installed.

#![forbid(unsafe_code)]

mod bench;
mod bench_lobby;
mod bench_network;
mod bench_setup;
mod checks;
mod e2e_bench;
mod glue;
mod precompress;
mod relay;
mod runner;
mod size;
mod spa;
mod tools;
mod workspace;

use std::process::ExitCode;

const HELP: &str = "\
Huddle's developer tasks.

Usage: cargo xtask <COMMAND> [ARGS]

Commands:
  setup         Install what the build needs, skipping what is there: the wasm32 target, the
                standard library's source (rust-src), the crates of the workspace and of the
                standard library (the build runs offline), trunk, wasm-bindgen-cli (the version in
                Cargo.lock), binaryen's wasm-opt and terser (from npm); and geckodriver, with
                which the end-to-end tests drive Firefox
  build         setup (geckodriver aside), then build the SPA into dist/ (trunk, release, with the
                standard library built for size), shorten the wasm's import names and minify the
                JavaScript glue, write a .br and a .gz beside each file, and print its size
  size          build, then print what a first visit downloads (index.html and the files it
                loads), raw and as served gzip -9 and brotli; fails if it weighs more than the
                budget of 150,000 bytes brotli
  run [-- ARGS] build, then run the relay serving dist/ at http://127.0.0.1:8080;
                ARGS go to huddle-server (e.g. -- --port 9000)
  test [ARGS]   build, geckodriver if missing, then cargo fmt --check, clippy (host, wasm32),
                cargo test --workspace and the size budget; ARGS go to cargo test (e.g.
                golden -- --nocapture)
  bench [PART] [-- ARGS]
                Benchmark the relay beside PeerServer and matchbox_server (installed into
                ~/.cache/huddle/bench when missing), soak it, attack its slots; writes bench/RESULTS.md.
                PART: all (default: also call-setup and lobby-load), relays, soak or slots; ARGS go
                to huddle-bench (e.g. --quick)
  bench call-setup [-- ARGS]
                build, then time Join to first remote frame, Huddle against a JavaScript
                baseline, into bench/call-setup.md (ARGS: e.g. --calls 20, or --rejoins 12 to time
                leaving and joining again; --help lists them)
  bench lobby-load [-- ARGS]
                build, then time opening a room link to a usable lobby (name field and camera
                ready) on thin links (shaped by tbf), first visit, repeat visit and reload,
                with the bytes transferred, into bench/lobby-load.md (ARGS: e.g. --runs 9,
                --before PATH to measure an older relay beside this one; --help lists them)
  bench network [-- ARGS]
                build, then measure calls of 2 and 4 people on impaired links (loss and delay,
                thin uplinks, a drop, an outage): freezes, frame rate, resolution, audio
                concealment, round trip, setup, recovery, CPU, Huddle against the JavaScript
                baseline, into bench/NETWORK.md (ARGS: --runs, --people, --profiles, --seconds;
                --help lists them; the defaults take about an hour)
  help          Print this text
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();

    let result = match command.as_deref() {
        Some("setup") => no_args("setup", &rest).and_then(|()| tools::setup()).and_then(|()| tools::setup_tests()),
        Some("build") => no_args("build", &rest).and_then(|()| spa::build()).and_then(|()| size::report().map(drop)),
        Some("size") => no_args("size", &rest).and_then(|()| size::size()),
        Some("run") => relay::run(strip_separator(&rest)),
        Some("test") => checks::test(&rest),
        Some("bench") if rest.first().is_some_and(|arg| arg == "call-setup") => {
            bench_setup::run(strip_separator(&rest[1..]))
        }
        Some("bench") if rest.first().is_some_and(|arg| arg == "lobby-load") => {
            bench_lobby::run(strip_separator(&rest[1..]))
        }
        Some("bench") if rest.first().is_some_and(|arg| arg == "network") => {
            bench_network::run(strip_separator(&rest[1..]))
        }
        Some("bench") => bench::bench(&rest),
        None | Some("help" | "-h" | "--help") => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprint!("xtask: unknown command `{other}`\n\n{HELP}");
            return ExitCode::from(2);
        }
    };

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("xtask: {failure}");
            ExitCode::FAILURE
        }
    }
}

fn no_args(command: &str, rest: &[String]) -> runner::Result {
    match rest.first() {
        None => Ok(()),
        Some(arg) => Err(runner::Failure::new(command, format!("takes no arguments (got `{arg}`)"))),
    }
}

/// `cargo xtask run -- --port 9000` reaches us with the `--`; it only separates, so drop it.
fn strip_separator(args: &[String]) -> &[String] {
    match args.first() {
        Some(first) if first == "--" => &args[1..],
        _ => args,
    }
}
