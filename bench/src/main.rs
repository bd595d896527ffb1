//! `huddle-bench`: Huddle's relay beside PeerServer and matchbox_server under one load generator, and a soak of
//! Huddle's relay. `cargo xtask bench` installs the relays and runs this; see docs/BENCHMARKS.md.

mod client;
mod idle;
mod latency;
mod os;
mod payload;
mod procfs;
mod prometheus;
mod protocol;
mod report;
mod servers;
mod slots;
mod soak;
mod stalled;
mod stats;
mod throughput;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::protocol::{Adapter, RelayKind};
use crate::report::{RelayRun, Report};
use crate::servers::{Installed, Placement, Profile, Server};

/// Benchmarks Huddle's relay beside PeerServer and matchbox_server (saturation throughput, latency at a fixed load,
/// memory per idle connection, CPU per message), and soaks Huddle's relay. Everything runs on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "huddle-bench")]
struct Args {
    /// What to run.
    #[arg(value_enum, default_value_t = What::All)]
    what: What,
    /// The release build of huddle-server.
    #[arg(long)]
    huddle_server: PathBuf,
    /// The npm prefix where the `peer` package is installed.
    #[arg(long)]
    peerjs_dir: PathBuf,
    /// The `cargo install --root` of matchbox_server.
    #[arg(long)]
    matchbox_root: PathBuf,
    /// Where the relays write their logs.
    #[arg(long, default_value = "target/bench")]
    log_dir: PathBuf,
    /// Write the results as Markdown here.
    #[arg(long)]
    results: Option<PathBuf>,
    /// Short phases and fewer connections, to try the bench out (figures are not comparable with a full run).
    #[arg(long)]
    quick: bool,
    /// Compare only these relays (repeatable); all three by default.
    #[arg(long = "relay", value_enum)]
    relays: Vec<RelayKind>,
    /// How long the soak runs, in seconds.
    #[arg(long, default_value_t = 120)]
    soak_secs: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum What {
    /// The comparison, then the soak, then the attacks.
    All,
    /// The comparison of the three relays.
    Relays,
    /// The soak of Huddle's relay, then the attacks on it.
    Soak,
    /// One host trying to take every slot of Huddle's relay (bench/src/slots.rs).
    Slots,
    /// Only the stalled-receiver attack on Huddle's relay.
    Stalled,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match os::raise_open_files(os::OPEN_FILES) {
        Ok(limit) if limit < 10_500 => {
            eprintln!("warning: only {limit} open files allowed; 10,000 connections need more")
        }
        Ok(_) => {}
        Err(error) => eprintln!("warning: cannot raise the open-file limit: {error}"),
    }
    // The generator gets CPU 1, each relay CPU 0: neither takes the other's core.
    let pinned = os::available_cpus() >= 2 && os::pin_to_cpu(1).is_ok();
    // Ahead of other work on the machine (builds), the generator and every relay alike.
    let placement = Placement { cpu: pinned.then_some(0), priority: os::Priority::raise() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime starts");
    runtime.block_on(run(args, placement))
}

async fn run(args: Args, placement: Placement) -> ExitCode {
    let installed = Installed {
        huddle_server: args.huddle_server.clone(),
        peerjs_dir: args.peerjs_dir.clone(),
        matchbox_root: args.matchbox_root.clone(),
        log_dir: args.log_dir.clone(),
    };
    let plans = plans(args.quick);
    let mut report =
        Report { date: utc_now(), machine: procfs::Machine::read(), placement, plans, relays: Vec::new(), soak: None };
    let mut ok = true;

    if matches!(args.what, What::All | What::Relays) {
        let kinds = if args.relays.is_empty() { RelayKind::ALL.to_vec() } else { args.relays.clone() };
        for kind in kinds {
            println!("==> {}", kind.name());
            let run = bench_relay(kind, &installed, placement, plans).await;
            report.relays.push(run);
        }
        println!("==> saturation throughput, {} rounds", plans.0.rounds);
        saturation_rounds(&mut report.relays, &installed, placement, plans.0).await;
        ok &= report.relays.iter().all(|run| run.throughput.is_ok() && run.latency.is_ok() && run.idle.is_ok());
    }
    if matches!(args.what, What::All | What::Soak) {
        let plan = soak::Plan {
            duration: Duration::from_secs(if args.quick { 20 } else { args.soak_secs }),
            workers: 64,
            rooms: 256,
            settle_timeout: Duration::from_secs(30),
        };
        println!("==> soak of Huddle's relay, {} s", plan.duration.as_secs());
        let outcome = match Server::start(RelayKind::Huddle, &installed, Profile::Soak, placement).await {
            Ok(server) => {
                let outcome = soak::run(&server, plan).await;
                server.stop().await;
                outcome
            }
            Err(error) => Err(error),
        };
        ok &= outcome.as_ref().is_ok_and(soak::Soak::passed);
        report.soak = Some((plan, outcome));
    }
    let mut attacks = String::new();
    if matches!(args.what, What::All | What::Soak | What::Stalled) {
        let plan = stalled::Plan {
            pairs: if args.quick { 20 } else { 100 },
            signals: 200,
            sending_for: Duration::from_secs(10),
            sdp_bytes: 65_000,
            // One every 20 ms: as long as the senders send.
            round_trips: 500,
        };
        println!("==> stalled receivers: {} senders of big signals to clients that never read", plan.pairs);
        let outcome = match Server::start(RelayKind::Huddle, &installed, Profile::Defaults, placement).await {
            Ok(server) => {
                let outcome = stalled::run(&server, plan).await;
                server.stop().await;
                outcome
            }
            Err(error) => Err(error),
        };
        attacks.push_str(&stalled::report(plan, &outcome));
        ok &= outcome.is_ok();
    }

    if matches!(args.what, What::All | What::Soak | What::Slots) {
        let plan = slots::Plan {
            dribblers: 300,
            idlers: 100,
            baseline: Duration::from_secs(3),
            attack: Duration::from_secs(if args.quick { 12 } else { 30 }),
            aftermath: Duration::from_secs(15),
            probe_every: Duration::from_millis(500),
        };
        println!("==> slot attack on Huddle's relay");
        let outcome = match Server::start(RelayKind::Huddle, &installed, Profile::Defaults, placement).await {
            Ok(server) => {
                let outcome = slots::run(&server, plan).await;
                server.stop().await;
                outcome
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok(section) => attacks.push_str(&section),
            Err(error) => {
                println!("    slot attack: FAILED: {error}");
                ok = false;
            }
        }
    }

    println!("\n{}", report.table());
    for line in report.verdicts() {
        println!("{}", line.replace("**", ""));
    }
    if let Some(path) = &args.results {
        match std::fs::write(path, report.markdown() + &attacks) {
            Ok(()) => println!("\nwrote {}", path.display()),
            Err(error) => {
                eprintln!("cannot write {}: {error}", path.display());
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("\nsome phases failed (see above)");
        ExitCode::FAILURE
    }
}

fn plans(quick: bool) -> (throughput::Plan, latency::Plan, idle::Plan) {
    let secs = Duration::from_secs;
    let throughput = throughput::Plan {
        connections: 100,
        window: 8,
        rounds: if quick { 1 } else { 3 },
        warmup: secs(2),
        measure: if quick { secs(3) } else { secs(10) },
    };
    let latency = latency::Plan {
        connections: 1_000,
        rate: 10_000,
        warmup: if quick { secs(1) } else { secs(3) },
        measure: if quick { secs(4) } else { secs(15) },
        drain: secs(5),
    };
    let idle = idle::Plan {
        connections: if quick { 2_000 } else { 10_000 },
        warmup_pairs: 50,
        settle: secs(3),
        hold: if quick { secs(5) } else { secs(20) },
    };
    (throughput, latency, idle)
}

/// Idle connections and latency against one relay, each on a fresh process (throughput comes later, in rounds).
async fn bench_relay(
    kind: RelayKind,
    installed: &Installed,
    placement: Placement,
    (_, latency_plan, idle_plan): (throughput::Plan, latency::Plan, idle::Plan),
) -> RelayRun {
    let adapter = Arc::new(Adapter::new(kind));
    let load_average = procfs::load_average();
    let version = installed.version(kind);

    let idle = match Server::start(kind, installed, Profile::Bench, placement).await {
        Ok(server) => {
            let idle = idle::run(&server, &adapter, idle_plan).await;
            server.stop().await;
            idle
        }
        Err(error) => Err(error),
    };
    match &idle {
        Ok(idle) => println!(
            "    idle: {:.1} KiB per connection ({} → {} KiB), {} dropped, {} probes delivered",
            idle.bytes_per_connection() / 1024.0,
            idle.rss_before_kib,
            idle.rss_after_kib,
            idle.dropped,
            idle.probes_delivered
        ),
        Err(error) => println!("    idle: FAILED: {error}"),
    }

    let latency = match Server::start(kind, installed, Profile::Bench, placement).await {
        Ok(server) => {
            let latency = latency::run(&server, &adapter, latency_plan).await;
            server.stop().await;
            latency
        }
        Err(error) => Err(error),
    };
    match &latency {
        Ok(l) => println!(
            "    latency: p50 {} p90 {} p99 {} p99.9 {} max {}; {} lost of {}; generator's pacing lag p99 {} max {}",
            stats::human(l.summary.p50),
            stats::human(l.summary.p90),
            stats::human(l.summary.p99),
            stats::human(l.summary.p999),
            stats::human(l.summary.max),
            l.lost,
            l.scheduled,
            stats::human(l.pacing.p99),
            stats::human(l.pacing.max),
        ),
        Err(error) => println!("    latency: FAILED: {error}"),
    }
    if let Some(text) = latency.as_ref().ok().and_then(|l| l.first_unexpected.as_ref()) {
        println!("    latency: unexpected messages, the first: {text}");
    }
    RelayRun {
        kind,
        version,
        load_average,
        throughput: Err("not run".into()),
        throughput_rounds: Vec::new(),
        latency,
        idle,
    }
}

/// Saturation throughput, in rounds that take the relays in turn (each on a fresh process), so that a busy moment
/// on the machine does not fall on one relay only. Each relay's figure is its median round.
async fn saturation_rounds(runs: &mut [RelayRun], installed: &Installed, placement: Placement, plan: throughput::Plan) {
    let mut results: Vec<Vec<throughput::Throughput>> = runs.iter().map(|_| Vec::new()).collect();
    let mut failures: Vec<Option<String>> = runs.iter().map(|_| None).collect();
    for round in 1..=plan.rounds {
        for (index, run) in runs.iter().enumerate() {
            let adapter = Arc::new(Adapter::new(run.kind));
            let outcome = match Server::start(run.kind, installed, Profile::Bench, placement).await {
                Ok(server) => {
                    let outcome = throughput::run(&server, &adapter, plan).await;
                    server.stop().await;
                    outcome
                }
                Err(error) => Err(error),
            };
            match outcome {
                Ok(t) => {
                    println!(
                        "    round {round}, {}: {:.0} msg/s, relay {:.2} cores, generator {:.2} cores, {:.1} ms CPU per 1,000",
                        run.kind.name(),
                        t.messages_per_sec,
                        t.relay_cores,
                        t.generator_cores,
                        t.cpu_ms_per_1000
                    );
                    if let Some(text) = &t.first_unexpected {
                        println!("    unexpected messages, the first: {text}");
                    }
                    results[index].push(t);
                }
                Err(error) => {
                    println!("    round {round}, {}: FAILED: {error}", run.kind.name());
                    failures[index].get_or_insert(error);
                }
            }
        }
    }
    for ((run, mut rounds), failure) in runs.iter_mut().zip(results).zip(failures) {
        run.throughput_rounds = rounds.iter().map(|t| t.messages_per_sec).collect();
        run.throughput = match failure {
            Some(error) => Err(error),
            None => {
                rounds.sort_by(|a, b| a.messages_per_sec.total_cmp(&b.messages_per_sec));
                let median = rounds.len() / 2;
                rounds.into_iter().nth(median).ok_or_else(|| "no round ran".to_owned())
            }
        };
    }
}

/// The date and time, UTC, as `date` prints it.
fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "an unknown date".into())
}
