//! The results: a table for the terminal and `bench/RESULTS.md`, with the machine, the versions and the method.

use std::fmt::Write;

use crate::idle::{self, Idle};
use crate::latency::{self, Latency};
use crate::os::Priority;
use crate::procfs::Machine;
use crate::protocol::RelayKind;
use crate::servers::{self, Placement, Profile};
use crate::soak::{self, Soak};
use crate::stats::human;
use crate::throughput::{self, Throughput};

/// One relay's figures (each phase may have failed, with the reason).
pub struct RelayRun {
    /// Which relay.
    pub kind: RelayKind,
    /// What was installed.
    pub version: String,
    /// The 1-minute load average when its phases started.
    pub load_average: Option<f64>,
    /// Closed-loop saturation: the median round.
    pub throughput: Result<Throughput, String>,
    /// Messages per second in each round, in the order run.
    pub throughput_rounds: Vec<f64>,
    /// Open-loop latency.
    pub latency: Result<Latency, String>,
    /// Idle connections.
    pub idle: Result<Idle, String>,
}

/// Everything one bench run found.
pub struct Report {
    /// When (UTC).
    pub date: String,
    /// Where.
    pub machine: Machine,
    /// Where the relays ran (the generator took the other core, at the same nice value).
    pub placement: Placement,
    /// The phases' shapes.
    pub plans: (throughput::Plan, latency::Plan, idle::Plan),
    /// Each relay's figures.
    pub relays: Vec<RelayRun>,
    /// The soak's plan and outcome, if it ran.
    pub soak: Option<(soak::Plan, Result<Soak, String>)>,
}

fn kib(value: f64) -> String {
    format!("{value:.1} KiB")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn thousands(value: f64) -> String {
    let whole = value.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A row of the comparison: the figure's name, each relay's value, and Huddle's target.
struct Row {
    figure: String,
    values: Vec<String>,
    target: &'static str,
}

impl Report {
    fn huddle(&self) -> Option<&RelayRun> {
        self.relays.iter().find(|run| run.kind == RelayKind::Huddle)
    }

    fn rows(&self) -> Vec<Row> {
        let (throughput_plan, latency_plan, idle_plan) = self.plans;
        let mut rows = Vec::new();
        let mut row = |figure: String, target: &'static str, value: &dyn Fn(&RelayRun) -> Result<String, String>| {
            let values = self
                .relays
                .iter()
                .map(|run| value(run).unwrap_or_else(|error| format!("failed: {}", first_line(&error))))
                .collect();
            rows.push(Row { figure, values, target });
        };
        let saturation = format!(
            "Saturation, msg/s ({} connections, {} in flight each; median of {} rounds)",
            throughput_plan.connections, throughput_plan.window, throughput_plan.rounds
        );
        row(saturation, "≥ 3× PeerServer, > matchbox", &|run| {
            Ok(thousands(run.throughput.as_ref()?.messages_per_sec))
        });
        row("Saturation in each round, msg/s".into(), "", &|run| {
            Ok(run.throughput_rounds.iter().map(|rate| thousands(*rate)).collect::<Vec<_>>().join(" / "))
        });
        let huddle_rate = self.huddle().and_then(|run| run.throughput.as_ref().ok()).map(|t| t.messages_per_sec);
        row("Huddle's saturation relative to this relay".into(), "", &|run| {
            let own = run.throughput.as_ref()?.messages_per_sec;
            Ok(huddle_rate.map(|huddle| format!("{:.2}×", huddle / own)).unwrap_or_else(|| "–".into()))
        });
        row("Delivered at saturation (median round), MB/s".into(), "", &|run| {
            Ok(format!("{:.1}", run.throughput.as_ref()?.bytes_per_sec / 1e6))
        });
        row("Relay CPU at saturation, cores".into(), "", &|run| {
            Ok(format!("{:.2}", run.throughput.as_ref()?.relay_cores))
        });
        row("Load generator CPU at saturation, cores".into(), "", &|run| {
            Ok(format!("{:.2}", run.throughput.as_ref()?.generator_cores))
        });
        row("Relay CPU time per 1,000 messages".into(), "", &|run| {
            Ok(format!("{:.1} ms", run.throughput.as_ref()?.cpu_ms_per_1000))
        });
        let load = format!(
            "at {} msg/s over {} connections",
            thousands(latency_plan.rate as f64),
            thousands(latency_plan.connections as f64)
        );
        row(format!("Latency p50 {load}"), "", &|run| Ok(human(run.latency.as_ref()?.summary.p50)));
        row(format!("Latency p90 {load}"), "", &|run| Ok(human(run.latency.as_ref()?.summary.p90)));
        row(format!("Latency p99 {load}"), "< 1 ms", &|run| Ok(human(run.latency.as_ref()?.summary.p99)));
        row(format!("Latency p99.9 {load}"), "", &|run| Ok(human(run.latency.as_ref()?.summary.p999)));
        row(format!("Latency max {load}"), "", &|run| Ok(human(run.latency.as_ref()?.summary.max)));
        row("Messages delivered within 1 ms".into(), "", &|run| {
            Ok(format!("{:.2}%", run.latency.as_ref()?.summary.within_1ms * 100.0))
        });
        row("Messages the generator itself handed out over 1 ms late".into(), "", &|run| {
            Ok(format!("{:.2}%", (1.0 - run.latency.as_ref()?.pacing.within_1ms) * 100.0))
        });
        row("The generator's own pacing lag p50 / p99 / max (part of the latencies)".into(), "", &|run| {
            let pacing = run.latency.as_ref()?.pacing;
            Ok(format!("{} / {} / {}", human(pacing.p50), human(pacing.p99), human(pacing.max)))
        });
        row("Messages measured / not delivered".into(), "", &|run| {
            let latency = run.latency.as_ref()?;
            Ok(format!("{} / {}", thousands(latency.scheduled as f64), latency.lost))
        });
        let idle = format!("{} idle connections", thousands(idle_plan.connections as f64));
        row(format!("Relay memory per connection, {idle}"), "< 8 KiB", &|run| {
            Ok(kib(run.idle.as_ref()?.bytes_per_connection() / 1024.0))
        });
        row("Relay RSS before → with them open".into(), "", &|run| {
            let idle = run.idle.as_ref()?;
            Ok(format!("{} → {}", mib(idle.rss_before_kib), mib(idle.rss_after_kib)))
        });
        row(
            format!("Held: {idle}, open for {} s", (idle_plan.settle + idle_plan.hold).as_secs()),
            "all held",
            &|run| {
                let idle = run.idle.as_ref()?;
                Ok(format!(
                    "{} held, {} dropped, {} probes delivered",
                    thousands((idle.connections - idle.dropped) as f64),
                    idle.dropped,
                    thousands(idle.probes_delivered as f64)
                ))
            },
        );
        row("Unexpected messages received (errors and the like)".into(), "0", &|run| {
            let throughput = run.throughput.as_ref().map(|t| t.unexpected).unwrap_or(0);
            let latency = run.latency.as_ref().map(|l| l.unexpected).unwrap_or(0);
            Ok(thousands((throughput + latency) as f64))
        });
        row("Sockets the relay held at the end of the hold".into(), "", &|run| {
            Ok(thousands(run.idle.as_ref()?.relay_sockets as f64))
        });
        row("Opening them took".into(), "", &|run| Ok(human(run.idle.as_ref()?.open_time)));
        rows
    }

    /// The comparison as a plain-text table.
    pub fn table(&self) -> String {
        let rows = self.rows();
        let mut widths = vec![rows.iter().map(|r| r.figure.chars().count()).max().unwrap_or(0)];
        for (index, run) in self.relays.iter().enumerate() {
            let widest = rows.iter().map(|r| r.values[index].chars().count()).max().unwrap_or(0);
            widths.push(widest.max(run.kind.name().len()));
        }
        let mut out = String::new();
        let pad =
            |text: &str, width: usize| format!("{text}{}", " ".repeat(width.saturating_sub(text.chars().count())));
        let _ = write!(out, "{}", pad("", widths[0]));
        for (index, run) in self.relays.iter().enumerate() {
            let _ = write!(out, "  {}", pad(run.kind.name(), widths[index + 1]));
        }
        let _ = writeln!(out, "  Huddle target");
        for row in &rows {
            let _ = write!(out, "{}", pad(&row.figure, widths[0]));
            for (index, value) in row.values.iter().enumerate() {
                let _ = write!(out, "  {}", pad(value, widths[index + 1]));
            }
            let _ = writeln!(out, "  {}", row.target);
        }
        if let Some((_, soak)) = &self.soak {
            let _ = writeln!(out, "\n{}", soak_text(soak));
        }
        out
    }

    /// `bench/RESULTS.md`.
    pub fn markdown(&self) -> String {
        let (throughput_plan, latency_plan, idle_plan) = self.plans;
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(out, "# Relay benchmark results\n");
        let _ = writeln!(
            out,
            "Generated by `cargo xtask bench` on {}. Do not edit by hand: run it again \
             ([docs/BENCHMARKS.md](../docs/BENCHMARKS.md#the-relay-benchmark)).\n",
            self.date
        );
        let _ = writeln!(out, "## Machine\n");
        let _ = writeln!(out, "- {} logical processors: {}", m.cores, m.cpu_model);
        let _ = writeln!(out, "- {:.1} GiB of memory; Linux {}", m.mem_total_kib as f64 / 1024.0 / 1024.0, m.kernel);
        if self.placement.cpu.is_some() {
            let _ = writeln!(
                out,
                "- Placement: each relay pinned to CPU 0 (so Huddle's and matchbox's tokio runtimes run one worker \
                 thread, as Node runs PeerServer's JavaScript on one), the load generator (one thread) pinned to \
                 CPU 1. Each relay therefore has one core and the same generator on the other core; the two do not \
                 share a core."
            );
        } else {
            let _ = writeln!(
                out,
                "- Placement: not pinned (fewer than 2 processors): relay and generator share the cores."
            );
        }
        let priority = match self.placement.priority {
            Priority::Fifo => "real-time (`SCHED_FIFO`, priority 1)".to_owned(),
            Priority::Nice(nice) => format!("nice {nice}"),
            Priority::Unchanged => "the default priority (raising it was not permitted)".to_owned(),
        };
        let _ = writeln!(
            out,
            "- Priority: the generator and every relay ran at {priority}, ahead of the other work on this shared \
             machine (other engineers' builds, which were not stopped; the load average at the start of each relay's \
             phases is in the table). Real-time threads get at most 95% of each second (the kernel's \
             `sched_rt_runtime_us`), then wait 50 ms: at saturation every relay is held to 0.95 of its core alike, \
             and the generator must not busy-wait, so it sleeps between due times; its pacing lag (below) shows how \
             well it kept the schedule."
        );
        let _ = writeln!(out, "\n## Relays\n");
        let _ = writeln!(out, "| Relay | Version | Started with |\n| --- | --- | --- |");
        for run in &self.relays {
            let arguments = match run.kind {
                RelayKind::Huddle => {
                    format!("`--host 127.0.0.1 --port PORT {}`", servers::huddle_flags(Profile::Bench).join(" "))
                }
                RelayKind::PeerServer => {
                    format!("`node peerjs.js --host 127.0.0.1 --port PORT {}`", servers::PEERSERVER_FLAGS.join(" "))
                }
                RelayKind::Matchbox => "`127.0.0.1:PORT` (its one argument)".to_owned(),
            };
            let _ = writeln!(out, "| {} | {} | {arguments} |", run.kind.name(), run.version);
        }
        let _ = writeln!(
            out,
            "\nAll on 127.0.0.1, logging at `warn` (`RUST_LOG=warn`) for the Rust relays; PeerServer prints one \
             line per connection (not per message) to a file. Each relay is started afresh for the idle phase, \
             again for latency, and again for each round of throughput.\n"
        );

        let _ = writeln!(out, "## Results\n");
        let _ = write!(out, "| Figure |");
        for run in &self.relays {
            let _ = write!(out, " {} |", run.kind.name());
        }
        let _ = writeln!(out, " Huddle target |");
        let _ = writeln!(out, "|{}", " --- |".repeat(self.relays.len() + 2));
        let mut rows = self.rows();
        rows.push(Row {
            figure: "Load average (1 min) when the relay's phases started".into(),
            values: self
                .relays
                .iter()
                .map(|run| run.load_average.map(|l| format!("{l:.2}")).unwrap_or_else(|| "–".into()))
                .collect(),
            target: "",
        });
        for row in rows {
            let _ = write!(out, "| {} |", row.figure);
            for value in &row.values {
                let _ = write!(out, " {value} |");
            }
            let _ = writeln!(out, " {} |", row.target);
        }

        let _ = writeln!(out, "\n## Huddle against its targets\n");
        for line in self.verdicts() {
            let _ = writeln!(out, "- {line}");
        }

        let _ = writeln!(out, "\n## How each figure is measured\n");
        let _ = writeln!(
            out,
            "One load generator, written in Rust (tokio, tokio-tungstenite), speaks each relay's own protocol \
             through an adapter (`bench/src/protocol/`). Clients come in pairs that negotiate with each other \
             through the relay: Huddle's pairs `join` a room of their own and `signal` each other's peer id; \
             PeerServer's connect with their own id and send `OFFER`/`ANSWER`/`CANDIDATE` to the other's id (and \
             `HEARTBEAT` every 5 s, as the PeerJS client does); matchbox's connect to a room path of their own and \
             send `Signal` to the id the relay assigned. The payloads are the same SDP and candidate text for every \
             relay, wrapped the way each relay's usual client wraps them: one message in {} is an SDP description \
             (offers of ~5 KB and answers of ~3.5 KB alternating, the size of Chromium's for an audio and video \
             call), the rest are ICE candidates (~200 B). Client sockets are spread over the source addresses \
             127.0.0.1–127.0.0.200 and have Nagle's algorithm off.\n",
            crate::payload::MIX_PERIOD
        );
        let _ = writeln!(
            out,
            "- **Saturation throughput** (closed loop): {} connections ({} pairs); each client keeps {} messages in \
             flight to its partner and sends a new one for each it receives (replies that pile up while deliveries \
             keep arriving go out in one write). After {} s of warm-up, the messages delivered in {} s, per second. \
             This runs in {} rounds taking the relays in turn, each on a fresh process, and each relay's figure is \
             its median round, so that a busy moment on the machine does not fall on one relay only. The relay's \
             and the generator's CPU use over the same window come from `/proc/PID/stat`; a relay below 1.0 core \
             while the generator is near 1.0 would have been limited by the generator, not by itself (a relay \
             pinned to a core of a virtual machine reaches about 0.95).",
            throughput_plan.connections,
            throughput_plan.connections / 2,
            throughput_plan.window,
            throughput_plan.warmup.as_secs(),
            throughput_plan.measure.as_secs(),
            throughput_plan.rounds
        );
        let _ = writeln!(
            out,
            "- **CPU time per 1,000 messages**: the relay's user + system CPU time (`utime + stime`) over the \
             saturation window, divided by the thousands of messages delivered in it."
        );
        let _ = writeln!(
            out,
            "- **Latency** (open loop): {} connections send {} messages per second in all, evenly spaced (each \
             client every {} ms), whatever the relay does. Each message carries the time it was *scheduled*; the \
             latency is the receipt time minus that, so a relay that stalls is charged for every message that \
             waited behind the stall (no coordinated omission). Messages scheduled in the {} s after a {} s warm-up \
             are measured; the generator then waits up to {} s for stragglers, and any still missing count as not \
             delivered. The figures include two loopback hops and the generator's own delay: its *pacing lag* is \
             how late it handed each message out against the schedule (a thread of its own sleeps until each due \
             time on the kernel's high-resolution timers, as tokio's timers tick in milliseconds); when the machine \
             pauses, that lag and every relay's latency grow together.",
            thousands(latency_plan.connections as f64),
            thousands(latency_plan.rate as f64),
            latency_plan.connections * 1000 / latency_plan.rate,
            latency_plan.measure.as_secs(),
            latency_plan.warmup.as_secs(),
            latency_plan.drain.as_secs()
        );
        let _ = writeln!(
            out,
            "- **Memory per idle connection**: on a fresh relay, {} pairs are opened, exchange a message and close \
             (so start-up allocations are not counted); then the relay's `VmRSS` (`/proc/PID/status`) is read, \
             {} connections are opened in pairs (joined, as people waiting in a call), and after {} s `VmRSS` is \
             read again: the difference divided by the number of connections. It includes everything the relay \
             keeps per connection (socket buffers are kernel memory, not RSS).",
            idle_plan.warmup_pairs,
            thousands(idle_plan.connections as f64),
            idle_plan.settle.as_secs()
        );
        let _ = writeln!(
            out,
            "- **Held**: the connections then stay open for {} s more (answering pings, sending PeerServer's \
             heartbeats). *Dropped* counts those the relay closed; *sockets* is how many more sockets the relay \
             process holds than before they opened (`/proc/PID/fd`); then every client sends one message to its \
             partner and *probes delivered* counts those that arrived — all of them means every connection still \
             worked both ways.",
            idle_plan.hold.as_secs()
        );
        if let Some((plan, soak)) = &self.soak {
            let _ = writeln!(out, "\n## Soak (Huddle)\n");
            let _ = writeln!(
                out,
                "For {} s, {} clients at once run sessions against one relay (started with `{}`, Huddle's default \
                 limits otherwise), sharing {} rooms so that rooms fill up and names collide. A session is one of: a \
                 call (join, offer and trickle to whoever is there, answer offers, then end with `leave`, a close \
                 frame, a TCP FIN without a close frame, or a TCP RST), a run of every kind of bad message (each must \
                 be answered with its error code, and the connection must stay usable), a resume after an abrupt \
                 drop (same peer id, `resumed: true`), a stall (the relay must cut it off at the heartbeat timeout), \
                 a flood (closed with 1008 after `rate_limited`), or a frame over the size limit (closed with 1009). \
                 Afterwards `/metrics` must come back to 0 connections, rooms and peers within {} s, and the relay's \
                 counts of heartbeat timeouts, floods and oversized frames must equal the sessions that provoked \
                 them. The relay's RSS is read at the start, every 0.5 s during the soak, and 2 s after it reached \
                 zero; what it frees goes back to its allocator, which keeps some of it for reuse.\n",
                plan.duration.as_secs(),
                plan.workers,
                servers::huddle_flags(Profile::Soak).join(" "),
                plan.rooms,
                plan.settle_timeout.as_secs()
            );
            let _ = writeln!(out, "```\n{}\n```", soak_text(soak));
        }
        let _ = writeln!(
            out,
            "\n## Call setup and size\n\n`cargo xtask bench` goes on with the call setup benchmark: Join to the first \
             remote video frame in Chromium, Huddle's SPA against a hand-written JavaScript page on the same relay, \
             in [call-setup.md](call-setup.md). What the SPA weighs (raw, gzip, brotli, against its budget) is \
             printed by `cargo xtask size` and kept in [docs/SIZE.md](../docs/SIZE.md#what-a-first-load-weighs)."
        );
        out
    }

    /// Huddle's figures against its targets, as sentences.
    pub fn verdicts(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let Some(huddle) = self.huddle() else { return lines };
        let rate = |kind| {
            self.relays
                .iter()
                .find(|run| run.kind == kind)
                .and_then(|run| run.throughput.as_ref().ok())
                .map(|t| t.messages_per_sec)
        };
        let met = |ok: bool| if ok { "met" } else { "**missed**" };
        if let Ok(throughput) = &huddle.throughput {
            if let Some(peerserver) = rate(RelayKind::PeerServer) {
                let ratio = throughput.messages_per_sec / peerserver;
                lines.push(format!("Saturation ≥ 3× PeerServer's: {:.2}× — {}", ratio, met(ratio >= 3.0)));
            }
            if let Some(matchbox) = rate(RelayKind::Matchbox) {
                let ratio = throughput.messages_per_sec / matchbox;
                lines.push(format!("Saturation above matchbox's: {:.2}× — {}", ratio, met(ratio > 1.0)));
            }
        }
        if let Ok(latency) = &huddle.latency {
            let p99 = latency.summary.p99;
            let mut line = format!(
                "p99 < 1 ms at {} msg/s over {} connections: {} — {}",
                thousands(self.plans.1.rate as f64),
                thousands(self.plans.1.connections as f64),
                human(p99),
                met(p99.as_micros() < 1000 && latency.lost == 0)
            );
            let late = 1.0 - latency.pacing.within_1ms;
            if late >= 0.01 {
                let _ = write!(
                    line,
                    " (not measurable in this run: the generator itself handed {:.2}% of the messages out over \
                     1 ms late, as the machine paused, so every relay's p99 shows those pauses; {:.2}% of \
                     Huddle's messages arrived within 1 ms and its p90 is {})",
                    late * 100.0,
                    latency.summary.within_1ms * 100.0,
                    human(latency.summary.p90)
                );
            }
            lines.push(line);
        }
        if let Ok(idle) = &huddle.idle {
            let per = idle.bytes_per_connection() / 1024.0;
            lines.push(format!("< 8 KiB per idle connection: {} — {}", kib(per), met(per < 8.0)));
            let all = idle.dropped == 0 && idle.probes_delivered == idle.connections;
            lines.push(format!(
                "{} connections held: {} dropped, {} of {} probes delivered — {}",
                thousands(idle.connections as f64),
                idle.dropped,
                thousands(idle.probes_delivered as f64),
                thousands(idle.connections as f64),
                met(all)
            ));
        }
        if let Some((_, soak)) = &self.soak {
            match soak {
                Ok(soak) => lines.push(format!(
                    "Soak: {} — {} protocol violations, relay back to 0 connections/rooms/peers: {}",
                    if soak.passed() { "passed" } else { "**failed**" },
                    soak.violation_count,
                    soak.settled_after.map(|d| format!("after {}", human(d))).unwrap_or_else(|| "no".into())
                )),
                Err(error) => lines.push(format!("Soak: **failed to run**: {error}")),
            }
        }
        lines
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// The soak's outcome as text.
pub fn soak_text(soak: &Result<Soak, String>) -> String {
    let soak = match soak {
        Ok(soak) => soak,
        Err(error) => return format!("Soak failed to run: {error}"),
    };
    let mut out = String::new();
    let _ = writeln!(out, "Soak: {}", if soak.passed() { "PASSED" } else { "FAILED" });
    let _ = writeln!(out, "  connections accepted by the relay: {}", thousands(soak.connections_total));
    for (outcome, count) in &soak.outcomes {
        let _ = writeln!(out, "  {outcome}: {}", thousands(*count as f64));
    }
    let _ = writeln!(out, "  protocol violations: {}", soak.violation_count);
    for violation in &soak.violations {
        let _ = writeln!(out, "    {violation}");
    }
    let [connections, rooms, peers] = soak.final_gauges;
    let _ = writeln!(
        out,
        "  after the last client: connections {connections}, rooms {rooms}, peers {peers} ({})",
        soak.settled_after.map(|d| format!("reached 0 after {}", human(d))).unwrap_or_else(|| "did NOT reach 0".into())
    );
    let _ = write!(
        out,
        "  relay RSS: {} at start, {} at peak, {} afterwards",
        mib(soak.rss_baseline_kib),
        mib(soak.rss_peak_kib),
        mib(soak.rss_final_kib)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_numbers_get_thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(10_000.0), "10,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }
}
