//! The network benchmark's report: per profile and call size, Huddle beside the baseline, the median and the worst
//! receiver of every figure, pooled over the runs.

use std::fmt::Write as _;

use super::metrics::{CallRecord, Window, WHOLE_CALL};
use super::profile::Profile;
use crate::call_setup::{percentile, Client};
use crate::machine::Machine;

/// The clients compared, in the report's order.
pub const CLIENTS: [Client; 2] = [Client::Huddle, Client::Baseline];

/// A figure of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Join → the sender's first frame presented, per receiver (ms).
    Setup,
    /// After an outage: the link's return → the first frame presented again (ms).
    Back,
    /// A browser's CPU time over the measured phases (% of one core), per person.
    Cpu,
    /// Frozen video, % of the phase.
    Frozen,
    /// Video freezes in the phase.
    Freezes,
    /// Video frames decoded per second.
    Fps,
    /// Median decoded frame height (px).
    Height,
    /// Audio concealed, % of the audio played.
    Concealed,
    /// Mean round trip of the selected candidate pair (ms).
    Rtt,
    /// Media packets lost on the way, % of those sent (video and audio).
    Lost,
}

impl Metric {
    /// The figures measured over a whole call, shown once per call size.
    pub const CALL: [Metric; 3] = [Metric::Setup, Metric::Back, Metric::Cpu];
    /// The figures measured per phase.
    pub const PHASE: [Metric; 7] =
        [Metric::Frozen, Metric::Freezes, Metric::Fps, Metric::Height, Metric::Concealed, Metric::Rtt, Metric::Lost];

    /// Whether the figure is shown per phase when a profile has several: a packet counts as lost when a later one
    /// arrives, so in the phase after the one where it happened, and a freeze's time is split at a phase's end only
    /// from the probe's last frame (one sample apart); these are shown over the whole call instead.
    pub fn per_phase(self) -> bool {
        !matches!(self, Metric::Frozen | Metric::Freezes | Metric::Lost)
    }

    /// The row's label.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Setup => "setup: Join → first frame (ms)",
            Metric::Back => "after the outage: link back → first frame (ms)",
            Metric::Cpu => "CPU per browser (% of a core)",
            Metric::Frozen => "video frozen (% of the time)",
            Metric::Freezes => "video freezes",
            Metric::Fps => "frames per second",
            Metric::Height => "resolution (frame height, px)",
            Metric::Concealed => "audio concealed (%)",
            Metric::Rtt => "round trip (ms)",
            Metric::Lost => "packets lost (%)",
        }
    }

    /// Whether a larger value is worse (else a smaller one is).
    pub fn larger_is_worse(self) -> bool {
        !matches!(self, Metric::Fps | Metric::Height)
    }

    /// How a value is written.
    pub fn show(self, value: f64) -> String {
        match self {
            Metric::Frozen | Metric::Freezes | Metric::Fps => format!("{value:.1}"),
            Metric::Concealed | Metric::Lost => format!("{value:.2}"),
            _ => format!("{value:.0}"),
        }
    }

    /// This figure of one receiver's window (phase figures only).
    pub fn of_window(self, window: &Window) -> Option<f64> {
        match self {
            Metric::Frozen => Some(window.frozen_percent()),
            Metric::Freezes => Some(window.freezes),
            Metric::Fps => Some(window.fps()),
            Metric::Height => window.height,
            Metric::Concealed => window.concealed_percent(),
            Metric::Rtt => window.rtt_ms,
            Metric::Lost => window.lost_percent(),
            Metric::Setup | Metric::Back | Metric::Cpu => None,
        }
    }
}

/// The median and the worst of a figure, over every affected receiver (or browser) of every run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    /// The median, if any receiver had a value.
    pub median: Option<f64>,
    /// The worst value (largest or smallest, see [`Metric::larger_is_worse`]).
    pub worst: Option<f64>,
    /// How many values.
    pub count: usize,
    /// Receivers that had no value where one was expected (video never back after the outage).
    pub missing: usize,
}

impl Cell {
    fn of(metric: Metric, values: &[Option<f64>]) -> Option<Cell> {
        let mut present: Vec<f64> = values.iter().flatten().copied().collect();
        present.sort_by(f64::total_cmp);
        // Only a video that never came back is a value missing for a bad reason; a round trip in an outage, say,
        // simply has none.
        if present.is_empty() && (metric != Metric::Back || values.is_empty()) {
            return None;
        }
        let median = percentile(&present, 0.5);
        let worst = if metric.larger_is_worse() { present.last() } else { present.first() };
        Some(Cell { median, worst: worst.copied(), count: present.len(), missing: values.len() - present.len() })
    }
}

/// One of the goals for Huddle on this benchmark: a figure of the worst receiver against a bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Goal {
    /// The profile it is about.
    pub profile: Profile,
    /// The call size, if the goal names one.
    pub people: Option<usize>,
    /// The figure.
    pub metric: Metric,
    /// The phase the figure is taken in (see [`Report::cell`]).
    pub phase: &'static str,
    /// The bound: the worst receiver's figure must be below it (or, for frames per second, at least it).
    pub bound: f64,
}

/// The goals of issue 16 that this benchmark measures.
pub const GOALS: [Goal; 5] = [
    Goal { profile: Profile::Uplink1M, people: Some(4), metric: Metric::Concealed, phase: "call", bound: 2.0 },
    Goal { profile: Profile::Uplink1M, people: Some(4), metric: Metric::Frozen, phase: "call", bound: 2.0 },
    Goal { profile: Profile::Uplink1M, people: Some(4), metric: Metric::Fps, phase: "call", bound: 10.0 },
    Goal { profile: Profile::Lossy, people: None, metric: Metric::Frozen, phase: "call", bound: 1.0 },
    Goal { profile: Profile::Outage, people: None, metric: Metric::Back, phase: "", bound: 2000.0 },
];

impl Goal {
    /// Whether `value` meets the goal.
    pub fn met_by(&self, value: f64) -> bool {
        if self.metric.larger_is_worse() {
            value < self.bound
        } else {
            value >= self.bound
        }
    }

    /// How the report states it.
    pub fn text(&self) -> String {
        let relation = if self.metric.larger_is_worse() { "<" } else { "≥" };
        format!("{}: {} {relation} {}", self.profile.label(), self.metric.label(), self.metric.show(self.bound))
    }
}

/// What a failed call was.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// Which page.
    pub client: Client,
    /// Which profile.
    pub profile: Profile,
    /// How many people.
    pub people: usize,
    /// What went wrong.
    pub error: String,
}

/// Where and how the benchmark ran.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    /// The machine, when, and at which commit.
    pub machine: Machine,
    /// Calls per client, profile and size.
    pub runs: usize,
    /// Seconds a steady profile is measured, and the recovery after a drop or an outage.
    pub seconds: u64,
    /// The network the people were on (see `call::Network::describe`).
    pub network: String,
}

/// The benchmark's report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Where and how.
    pub context: Context,
    /// Every measured call.
    pub calls: Vec<CallRecord>,
    /// Calls that did not complete.
    pub failures: Vec<Failure>,
}

impl Report {
    fn calls_of(&self, client: Client, profile: Profile, people: usize) -> impl Iterator<Item = &CallRecord> {
        self.calls.iter().filter(move |c| c.client == client && c.profile == profile && c.people == people)
    }

    /// The figure over the calls of `client`, `profile` and `people`: for a phase figure, in the phase named
    /// `phase`; over the receivers the profile affects.
    pub fn cell(&self, client: Client, profile: Profile, people: usize, phase: &str, metric: Metric) -> Option<Cell> {
        let mut values = Vec::new();
        for call in self.calls_of(client, profile, people) {
            match metric {
                Metric::Setup => values.extend(call.setup_ms.iter().map(|(_, ms)| Some(*ms))),
                Metric::Back => values.extend(call.back_ms.iter().map(|(_, ms)| *ms)),
                Metric::Cpu => values.extend(call.cpu_percent.iter().copied()),
                _ => {
                    let Some(record) = call.phases.iter().find(|p| p.name == phase) else { continue };
                    let affected = record.windows.iter().filter(|(r, _)| call.affected.contains(r));
                    values.extend(affected.map(|(_, window)| metric.of_window(window)));
                }
            }
        }
        Cell::of(metric, &values)
    }

    /// The table of one profile and call size.
    pub fn table(&self, profile: Profile, people: usize) -> String {
        let mut out = String::new();
        let labels: Vec<String> =
            CLIENTS.iter().flat_map(|c| [format!("{} median", c.label()), format!("{} worst", c.label())]).collect();
        let _ = writeln!(out, "| | {} |", labels.join(" | "));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(labels.len()));
        let calls: Vec<String> = CLIENTS
            .iter()
            .map(|c| {
                let calls = self.calls_of(*c, profile, people).count();
                let failed = self
                    .failures
                    .iter()
                    .filter(|f| f.client == *c && f.profile == profile && f.people == people)
                    .count();
                let failed = if failed > 0 { format!(", {failed} failed") } else { String::new() };
                format!("{calls}{failed}")
            })
            .collect();
        let _ = writeln!(out, "| calls | {} | |", calls.join(" | | "));
        let phases = profile.phases(self.context.seconds.max(2));
        let row = |out: &mut String, label: String, phase: &str, metric: Metric| {
            let cells: Vec<Option<Cell>> =
                CLIENTS.iter().map(|c| self.cell(*c, profile, people, phase, metric)).collect();
            if cells.iter().all(Option::is_none) {
                return;
            }
            let text: Vec<String> = cells
                .iter()
                .flat_map(|cell| match cell {
                    Some(cell) => {
                        let show = |value: Option<f64>| value.map(|v| metric.show(v)).unwrap_or_else(|| "–".into());
                        let worst =
                            if cell.missing > 0 { format!("{} never back", cell.missing) } else { show(cell.worst) };
                        [show(cell.median), worst]
                    }
                    None => ["–".to_owned(), "–".to_owned()],
                })
                .collect();
            let _ = writeln!(out, "| {label} | {} |", text.join(" | "));
        };
        for metric in Metric::CALL {
            row(&mut out, metric.label().to_owned(), "", metric);
        }
        if phases.len() > 1 {
            for metric in Metric::PHASE.into_iter().filter(|m| !m.per_phase()) {
                row(&mut out, format!("*whole call:* {}", metric.label()), WHOLE_CALL, metric);
            }
        }
        for phase in &phases {
            for metric in Metric::PHASE {
                if phases.len() == 1 {
                    row(&mut out, metric.label().to_owned(), phase.name, metric);
                } else if metric.per_phase() {
                    let when = format!("*{}, {}:*", phase.name, humantime(phase.duration.as_secs()));
                    row(&mut out, format!("{when} {}", metric.label()), phase.name, metric);
                }
            }
        }
        out
    }

    /// The whole report, in Markdown.
    pub fn markdown(&self) -> String {
        let context = &self.context;
        let load = Machine::load_text;
        let mut out = format!(
            "# Calls on impaired networks\n\n\
             Written by `cargo xtask bench network` on {date}, commit `{commit}`: {runs} call(s) per client, profile \
             and call size, Huddle and the JS baseline alternating, in headless {browser}, on {cpus} CPUs (1-minute \
             load average {before} before the run, {after} after). Every person is a browser of their own, with \
             Chromium's fake camera (640×480, 20 frames a second) and microphone.\n\n\
             **Network:** {network}.\n\n\
             **What is measured**, the same way for both pages, by a probe installed in each before Join \
             (`e2e/src/network_probe.js`): every second, `getStats()` of every `RTCPeerConnection` in \
             `window.__huddle_pcs`; and every remote `<video>` watched with `requestVideoFrameCallback`. A \
             *receiver* is one person receiving one other person's media. Per receiver and phase: video freezes \
             and frozen time (`freezeCount`, `totalFreezesDuration`, and the pauses counted apart from them, \
             `pauseCount`, `totalPausesDuration`: the browser calls a stop a pause once it has noticed the stream \
             go quiet, as in an outage or while the sender holds its video back; these count a stop when it ends, \
             plus one still going at the phase's end: the time since the last frame presented), frames decoded per second, \
             the median decoded frame height, concealed audio (`concealedSamples` − `silentConcealedSamples`, over \
             `totalSamplesReceived`: what is made up while the sender is silent, as it often is with Opus DTX, is \
             not heard), and the mean round trip of the candidate pair selected at the phase's end (an ICE restart \
             selects another). Setup: from the later of \
             the two people's Join clicks to the sender's first frame presented at the receiver. After an outage: \
             from the link's return to the first frame presented again at each affected receiver. CPU: each \
             browser's processes (`/proc`), over the measured phases. Medians and the worst receiver are over \
             every receiver the profile affects (for the drop and the outage, those involving the first person), \
             in every run. The baseline (`bench/call-setup/baseline.js`) sets no encoding parameters at all: \
             Chromium's own congestion control only. Both pages show every video in a grid that fills the \
             window, as a call page does: headless Chromium draws video in software, at a cost that grows with its \
             size on screen.\n\n",
            date = context.machine.date,
            commit = context.machine.commit,
            runs = context.runs,
            browser = context.machine.browser,
            cpus = context.machine.cpus,
            before = load(context.machine.load_before),
            after = load(context.machine.load_after),
            network = context.network,
        );
        let mut profiles: Vec<Profile> = Vec::new();
        let mut sizes: Vec<usize> = Vec::new();
        for call in &self.calls {
            if !profiles.contains(&call.profile) {
                profiles.push(call.profile);
            }
            if !sizes.contains(&call.people) {
                sizes.push(call.people);
            }
        }
        for failure in &self.failures {
            if !profiles.contains(&failure.profile) {
                profiles.push(failure.profile);
            }
            if !sizes.contains(&failure.people) {
                sizes.push(failure.people);
            }
        }
        profiles.sort_by_key(|p| Profile::ALL.iter().position(|q| q == p));
        sizes.sort_unstable();
        out.push_str(&self.processor_markdown(&sizes));
        for profile in &profiles {
            for people in &sizes {
                let _ = writeln!(out, "## {}, {people} people\n", profile.label());
                let _ = writeln!(out, "{}", self.table(*profile, *people));
            }
        }
        out.push_str(&self.goals_markdown(&sizes));
        if !self.failures.is_empty() {
            let _ = writeln!(out, "## Failed calls\n");
            for failure in &self.failures {
                let first = failure.error.lines().next().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "- {}, {}, {} people: {first}",
                    failure.client.label(),
                    failure.profile.name(),
                    failure.people
                );
            }
            let _ = writeln!(out);
        }
        out
    }
}

impl Report {
    /// How busy the browsers of a call kept the machine, per call size: where every person's browser waits for the
    /// processor, the figures are the machine's as much as the network's.
    pub fn processor_markdown(&self, sizes: &[usize]) -> String {
        let cpus = self.context.machine.cpus.max(1) as f64;
        let busy: Vec<String> = sizes
            .iter()
            .filter_map(|&people| {
                // Each call's browsers together, in % of the machine; the mean over the calls that measured all.
                let calls: Vec<f64> = self
                    .calls
                    .iter()
                    .filter(|call| call.people == people)
                    .filter_map(|call| call.cpu_percent.iter().copied().sum::<Option<f64>>())
                    .map(|sum| sum / cpus)
                    .collect();
                (!calls.is_empty())
                    .then(|| format!("{people} people {:.0} %", calls.iter().sum::<f64>() / calls.len() as f64))
            })
            .collect();
        if busy.is_empty() {
            return String::new();
        }
        format!(
            "**The processor.** The browsers of a call together kept the machine's {cpus} CPUs this busy over the \
             measured phases (the mean of every call, both pages): {}. Where that is near 100 %, each browser waited \
             for the processor as much as for the network, and the freezes, frame rates, round trips and setup times \
             of those calls are the machine's as much as the link's: a person's own computer gives their browser \
             cores of its own.\n\n",
            busy.join(", ")
        )
    }

    /// The goals whose profile (and size) was measured, each judged on Huddle's worst receiver, beside the
    /// baseline's.
    pub fn goals_markdown(&self, sizes: &[usize]) -> String {
        let mut rows = String::new();
        for goal in GOALS {
            for &people in sizes.iter().filter(|&&n| goal.people.is_none_or(|wanted| wanted == n)) {
                let cells: Vec<Option<Cell>> =
                    CLIENTS.iter().map(|c| self.cell(*c, goal.profile, people, goal.phase, goal.metric)).collect();
                let Some(Some(huddle)) = cells.first() else { continue };
                let worst = |cell: &Option<Cell>| match cell {
                    Some(cell) if cell.missing > 0 => format!("{} never back", cell.missing),
                    Some(Cell { worst: Some(worst), .. }) => goal.metric.show(*worst),
                    _ => "–".to_owned(),
                };
                let verdict = match huddle.worst {
                    Some(worst) if huddle.missing == 0 && goal.met_by(worst) => "met",
                    _ => "**not met**",
                };
                let _ = writeln!(
                    rows,
                    "| {}, {people} people | {} | {} | {verdict} |",
                    goal.text(),
                    worst(&cells[0]),
                    cells.get(1).map(worst).unwrap_or_default(),
                );
            }
        }
        if rows.is_empty() {
            return String::new();
        }
        format!(
            "## The issue's goals\n\nJudged on the worst receiver of every run.\n\n\
             | goal | Huddle worst | JS baseline worst | Huddle |\n|---|---:|---:|---|\n{rows}\n"
        )
    }
}

/// `5 s`, `2 min`, `1 min 30 s`.
fn humantime(seconds: u64) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::metrics::{PhaseRecord, Receiver};

    fn window(fps: f64, frozen: f64) -> Window {
        Window {
            seconds: 10.0,
            frames: fps * 10.0,
            frozen_seconds: frozen,
            freezes: 1.0,
            audio_samples: 480_000.0,
            concealed_samples: 4800.0,
            height: Some(480.0),
            min_height: Some(360.0),
            rtt_ms: Some(50.0),
            packets: 990.0,
            lost: 10.0,
        }
    }

    fn call(client: Client, profile: Profile, windows: &[(usize, usize, Window)], back: Option<f64>) -> CallRecord {
        let windows: Vec<(Receiver, Window)> =
            windows.iter().map(|(person, from, w)| (Receiver { person: *person, from: *from }, *w)).collect();
        let names: Vec<&str> = profile.phases(10).iter().map(|p| p.name).collect();
        CallRecord {
            client,
            profile,
            people: 2,
            affected: windows.iter().map(|(r, _)| *r).collect(),
            setup_ms: windows.iter().map(|(r, _)| (*r, 600.0)).collect(),
            phases: names
                .iter()
                .chain([WHOLE_CALL].iter())
                .map(|n| PhaseRecord { name: n.to_string(), windows: windows.clone() })
                .collect(),
            back_ms: if profile == Profile::Outage {
                windows.iter().map(|(r, _)| (*r, back)).collect()
            } else {
                vec![]
            },
            cpu_percent: vec![Some(80.0), Some(90.0)],
        }
    }

    #[test]
    fn cells_take_the_median_and_the_worst() {
        let report = Report {
            context: Context { seconds: 10, runs: 1, ..Context::default() },
            calls: vec![
                call(Client::Huddle, Profile::Lossy, &[(0, 1, window(30.0, 0.0)), (1, 0, window(20.0, 1.0))], None),
                call(Client::Baseline, Profile::Lossy, &[(0, 1, window(10.0, 2.0)), (1, 0, window(12.0, 3.0))], None),
            ],
            failures: vec![Failure {
                client: Client::Baseline,
                profile: Profile::Lossy,
                people: 2,
                error: "timed out\nmore".into(),
            }],
        };
        let fps = report.cell(Client::Huddle, Profile::Lossy, 2, "call", Metric::Fps).unwrap();
        assert_eq!((fps.median, fps.worst, fps.count), (Some(25.0), Some(20.0), 2));
        let frozen = report.cell(Client::Baseline, Profile::Lossy, 2, "call", Metric::Frozen).unwrap();
        assert_eq!((frozen.median, frozen.worst), (Some(25.0), Some(30.0)));
        assert_eq!(report.cell(Client::Huddle, Profile::Clean, 2, "call", Metric::Fps), None);
        let markdown = report.markdown();
        assert!(markdown.contains("## 3 % loss, 50 ms RTT, 20 ms jitter (every uplink), 2 people"), "{markdown}");
        assert!(markdown.contains("| frames per second | 25.0 | 20.0 | 11.0 | 10.0 |"), "{markdown}");
        assert!(markdown.contains("| calls | 1 | | 1, 1 failed | |"), "{markdown}");
        assert!(markdown.contains("| CPU per browser (% of a core) | 85 | 90 | 85 | 90 |"), "{markdown}");
        assert!(markdown.contains("- JS baseline, lossy, 2 people: timed out\n"), "{markdown}");
        // Two browsers at 80 % and 90 % of a core each, on a machine of 2 CPUs: 85 % of it.
        let report = Report {
            context: Context { machine: Machine { cpus: 2, ..report.context.machine }, ..report.context },
            ..report
        };
        assert!(
            report
                .markdown()
                .contains("this busy over the measured phases (the mean of every call, both pages): 2 people 85 %."),
            "{}",
            report.markdown()
        );
    }

    #[test]
    fn outages_report_receivers_never_back_and_phases_by_name() {
        let report = Report {
            context: Context { seconds: 10, ..Context::default() },
            calls: vec![call(Client::Huddle, Profile::Outage, &[(0, 1, window(30.0, 0.0))], Some(700.0))],
            failures: vec![],
        };
        let table = report.table(Profile::Outage, 2);
        assert!(table.contains("| after the outage: link back → first frame (ms) | 700 | 700 | – | – |"), "{table}");
        assert!(table.contains("| *outage, 5 s:* frames per second | 30.0 |"), "{table}");
        assert!(table.contains("| *whole call:* video frozen (% of the time) | 0.0 |"), "{table}");
        assert!(!table.contains("*outage, 5 s:* video frozen"), "{table}");
        let never =
            Report { calls: vec![call(Client::Huddle, Profile::Outage, &[(0, 1, window(30.0, 0.0))], None)], ..report };
        assert!(
            never.table(Profile::Outage, 2).contains("| – | 1 never back |"),
            "{}",
            never.table(Profile::Outage, 2)
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(humantime(5), "5 s");
        assert_eq!(humantime(120), "2 min");
        assert_eq!(humantime(90), "1 min 30 s");
    }
}
