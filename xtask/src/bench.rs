//! `cargo xtask bench`: installs the relays Huddle is compared with (each only when missing), builds Huddle's relay
//! and the bench in release mode, and runs `huddle-bench` (`bench/`).

use std::env;
use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use crate::runner::{self, Failure, Result};
use crate::{tools, workspace};

/// The PeerServer release compared against (npm package `peer`).
pub const PEER_VERSION: &str = "1.0.2";

/// The matchbox_server release compared against (crates.io).
pub const MATCHBOX_VERSION: &str = "0.15.0";

/// What `cargo xtask bench` may be asked to run; anything else is passed on to `huddle-bench`.
const PARTS: [&str; 5] = ["all", "relays", "soak", "slots", "stalled"];

fn bench_dir() -> PathBuf {
    workspace::cache_dir().join("bench")
}

fn peerjs_dir() -> PathBuf {
    bench_dir().join("peerjs")
}

fn matchbox_root() -> PathBuf {
    bench_dir().join("matchbox")
}

fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace::root().join("target"))
}

/// A relay the bench needs beside Huddle's.
enum Peer {
    PeerServer,
    Matchbox,
}

impl Peer {
    fn label(&self) -> String {
        match self {
            Peer::PeerServer => format!("PeerServer (npm peer@{PEER_VERSION})"),
            Peer::Matchbox => format!("matchbox_server {MATCHBOX_VERSION}"),
        }
    }

    fn is_installed(&self) -> bool {
        match self {
            Peer::PeerServer => fs::read_to_string(peerjs_dir().join("node_modules/peer/package.json"))
                .is_ok_and(|manifest| manifest.contains(&format!("\"version\": \"{PEER_VERSION}\""))),
            Peer::Matchbox => {
                matchbox_root().join("bin/matchbox_server").is_file()
                    && fs::read_to_string(matchbox_root().join(".crates.toml"))
                        .is_ok_and(|record| record.contains(&format!("\"matchbox_server {MATCHBOX_VERSION} ")))
            }
        }
    }

    fn install(&self) -> Result {
        let step = format!("install {}", self.label());
        fs::create_dir_all(bench_dir())
            .map_err(|error| Failure::new(&step, format!("cannot create {}: {error}", bench_dir().display())))?;
        match self {
            Peer::PeerServer => tools::npm_install(&step, &peerjs_dir(), &format!("peer@{PEER_VERSION}")),
            Peer::Matchbox => runner::run(
                &step,
                workspace::cargo()
                    .args(["install", "matchbox_server", "--locked", "--version", MATCHBOX_VERSION, "--root"])
                    .arg(matchbox_root()),
            ),
        }
    }
}

/// The part to run (`all` unless the first argument names one) and the arguments for `huddle-bench`, without the
/// `--` that only separates them.
fn split_part(args: &[String]) -> (&str, Vec<&String>) {
    let (part, rest) = match args.first() {
        Some(first) if PARTS.contains(&first.as_str()) => (first.as_str(), &args[1..]),
        _ => ("all", args),
    };
    (part, rest.iter().filter(|arg| *arg != "--").collect())
}

/// Installs what is missing, builds, and runs the bench. `args` may start with `all`, `relays`, `soak`, `slots` or
/// `stalled`; the rest go to `huddle-bench` (e.g. `--quick`, `--soak-secs 300`).
pub fn bench(args: &[String]) -> Result {
    let (part, rest) = split_part(args);
    // The soak and the attacks run Huddle's relay only.
    if !matches!(part, "soak" | "slots" | "stalled") {
        for peer in [Peer::PeerServer, Peer::Matchbox] {
            let label = peer.label();
            if peer.is_installed() {
                println!("{label:<36} present");
                continue;
            }
            println!("{label:<36} installing into {}…", bench_dir().display());
            let start = Instant::now();
            peer.install()?;
            if !peer.is_installed() {
                return Err(Failure::new(format!("install {label}"), "finished, but the install is not there"));
            }
            println!("{label:<36} installed in {}", runner::human_duration(start.elapsed()));
        }
    }
    runner::run(
        "build the relay and the bench",
        workspace::cargo().args(["build", "--release", "-p", "huddle-server", "-p", "huddle-bench"]),
    )?;

    let release = target_dir().join("release");
    let mut command = workspace::command(&release.join("huddle-bench").to_string_lossy());
    command
        .arg(part)
        .arg("--huddle-server")
        .arg(release.join("huddle-server"))
        .arg("--peerjs-dir")
        .arg(peerjs_dir())
        .arg("--matchbox-root")
        .arg(matchbox_root())
        .arg("--log-dir")
        .arg(target_dir().join("bench"));
    // Only a full run of everything is worth recording.
    if part == "all" && !rest.iter().any(|arg| *arg == "--quick") {
        command.arg("--results").arg(workspace::root().join("bench/RESULTS.md"));
    }
    let whole = part == "all" && !rest.iter().any(|arg| *arg == "--quick");
    command.args(rest);
    runner::run("bench", &mut command)?;
    // The whole set of figures also has the call setup in the browser (bench/call-setup.md, linked from RESULTS.md),
    // with the baseline also measured in Huddle's connection shape, which tells the SPA's cost from the shape's.
    // And the time to a usable lobby on a thin link (bench/lobby-load.md), for this relay; its
    // other sections (the relay before a change, measured with `--before`) stay as they are.
    if whole {
        crate::bench_setup::run(&["--shape".to_owned()])?;
        crate::bench_lobby::run(&[])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_part_comes_first_and_the_rest_goes_to_the_bench() {
        let words = args(&["soak", "--", "--soak-secs", "600"]);
        let (part, rest) = split_part(&words);
        assert_eq!(part, "soak");
        assert_eq!(rest, ["--soak-secs", "600"]);

        let words = args(&["--", "--quick"]);
        let (part, rest) = split_part(&words);
        assert_eq!(part, "all");
        assert_eq!(rest, ["--quick"]);
    }
}
