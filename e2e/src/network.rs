//! The network benchmark's parts (the benchmark itself is `benches/network.rs`, its smoke test
//! `tests/e2e/network.rs`): what a person sees and hears in calls on impaired links, for Huddle's SPA and for the
//! JavaScript baseline (`bench/call-setup/`), which does no adaptation.
//!
//! - [`profile`]: the link profiles and their schedules (what each person's link does, phase by phase);
//! - [`probe`]: the probe installed in both pages, reading `getStats()` of every `RTCPeerConnection` in
//!   `window.__huddle_pcs` and watching remote `<video>`s with `requestVideoFrameCallback`;
//! - [`call`]: one call of N people under a profile, on a [`call::Network`] (per-person links, or loopback);
//! - [`metrics`]: per receiver (a person, and a remote person they receive) and per phase, the figures;
//! - [`report`]: medians and worst receivers, Huddle beside the baseline, in Markdown (`bench/NETWORK.md`);
//! - [`cpu`]: CPU time of each browser's processes;
//! - [`lab`]: the network lab as the benchmark's network.

pub mod call;
pub mod cpu;
pub mod lab;
pub mod metrics;
pub mod probe;
pub mod profile;
pub mod report;

use crate::cli;
use profile::Profile;

/// The command line of the benchmark.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Calls per client, profile and size.
    pub runs: usize,
    /// Call sizes (people per call).
    pub people: Vec<usize>,
    /// Profiles to run, in order.
    pub profiles: Vec<Profile>,
    /// How long a steady profile is measured, and the recovery after a change.
    pub seconds: u64,
    /// Where the report goes, if anywhere.
    pub out: Option<String>,
    /// Print browser consoles and relay logs of every call, not only of failed ones.
    pub verbose: bool,
    /// Print the usage.
    pub help: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runs: 3,
            people: vec![2, 4],
            profiles: Profile::ALL.to_vec(),
            seconds: 30,
            out: None,
            verbose: false,
            help: false,
        }
    }
}

/// The usage text of the benchmark.
pub const USAGE: &str = "\
Usage: cargo xtask bench network [-- OPTIONS]
   or: cargo bench -p huddle-e2e --bench network -- [OPTIONS]

What a person sees and hears in calls on impaired links (freezes, frame rate, resolution, audio concealment, round
trip, setup time, recovery after an outage, CPU per browser), for Huddle's SPA and for the minimal JavaScript page
(bench/call-setup/), alternating, in headless Chromium: each person in a network namespace of their own, with
an uplink and a downlink the run shapes (e2e/src/netlab.rs). The defaults make 72 calls (how long that takes:
docs/BENCHMARKS.md).

  --runs N          calls per client, profile and size (default 3)
  --people LIST     call sizes, comma-separated (default 2,4)
  --profiles LIST   comma-separated, from: clean, lossy, uplink-1mbit, 500kbit, drop-300kbit, outage
                    (default: all, in that order)
  --seconds N       how long a steady profile is measured, and how long the recovery after a drop or an
                    outage (default 30; at least 2)
  --out FILE        also write the report, in Markdown, to FILE (relative to the workspace root)
  --verbose         print browser consoles and relay logs of every call
";

impl Options {
    /// Parses the arguments (without the program name). `--bench`, which `cargo bench` passes, is accepted.
    pub fn parse(args: impl IntoIterator<Item = String>) -> std::result::Result<Options, String> {
        let mut options = Options::default();
        let mut args = cli::Args::new(args);
        while let Some(arg) = args.next() {
            let count = |text: &str| {
                text.trim().parse::<usize>().map_err(|_| format!("{} takes whole numbers, not `{text}`", arg.flag))
            };
            match arg.flag.as_str() {
                "--runs" => options.runs = count(&args.value(&arg)?)?,
                "--people" => {
                    options.people = args.value(&arg)?.split(',').map(count).collect::<Result<_, _>>()?;
                }
                "--profiles" => {
                    options.profiles = args.value(&arg)?.split(',').map(Profile::parse).collect::<Result<_, _>>()?;
                }
                "--seconds" => options.seconds = count(&args.value(&arg)?)? as u64,
                "--out" => options.out = Some(args.value(&arg)?),
                "--verbose" => options.verbose = true,
                "--bench" => {}
                "-h" | "--help" => options.help = true,
                _ => return Err(format!("unknown argument `{}` (see --help)", arg.raw)),
            }
        }
        if options.runs == 0 {
            return Err("--runs must be at least 1".to_owned());
        }
        if options.people.is_empty() || options.people.iter().any(|&n| !(2..=call::MAX_PEOPLE).contains(&n)) {
            return Err(format!("--people takes call sizes from 2 to {}", call::MAX_PEOPLE));
        }
        if options.profiles.is_empty() {
            return Err("--profiles names no profile".to_owned());
        }
        if options.seconds < 2 {
            return Err("--seconds must be at least 2".to_owned());
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_lists_and_refuse_nonsense() {
        let parse = |args: &[&str]| Options::parse(args.iter().map(|a| a.to_string()));
        assert_eq!(parse(&["--bench"]).unwrap(), Options::default());
        let options = parse(&["--runs=2", "--people", "2", "--profiles", "lossy,outage", "--seconds", "5"]).unwrap();
        assert_eq!(options.runs, 2);
        assert_eq!(options.people, [2]);
        assert_eq!(options.profiles, [Profile::Lossy, Profile::Outage]);
        assert_eq!(options.seconds, 5);
        assert!(parse(&["--people", "1"]).is_err());
        assert!(parse(&["--people", "2,x"]).unwrap_err().contains("whole numbers"));
        assert!(parse(&["--profiles", "wifi"]).unwrap_err().contains("wifi"));
        assert!(parse(&["--seconds", "1"]).is_err());
        assert!(parse(&["--runs", "0"]).is_err());
        assert!(parse(&["--fast"]).is_err());
        assert!(parse(&["--help"]).unwrap().help);
    }
}
