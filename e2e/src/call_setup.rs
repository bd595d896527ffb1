//! The call-setup benchmark's parts (the benchmark itself is `benches/call_setup.rs`): the probe that takes marks
//! inside a page, reading them back, the statistics, and the report.
//!
//! What is timed, identically for Huddle's SPA and for the JavaScript baseline (`bench/call-setup/`): Ada has joined
//! a fresh room and waits; Bob, in a fresh browser, has his camera preview playing in the lobby. t0 is Bob's click on
//! Join (the click event's time stamp); t1 is when the first video frame from Ada is presented in a `<video>` on
//! Bob's page (`requestVideoFrameCallback`'s `presentationTime`). Both are read on Bob's page's `performance.now()`
//! clock by the same probe ([`PROBE`]), which the benchmark installs in both pages after they load and before the
//! click, and which needs nothing from the page: it watches the click, wraps `WebSocket` and `RTCPeerConnection`,
//! and notices a remote video track being given to a `<video>`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use huddle_common::RoomId;
use serde_json::{json, Value};

use crate::machine::Machine;
use crate::scratch::copy_dir;
use crate::{artifacts, cli, spa, Browser, Error, Result, ScratchDir};

/// The probe: `arguments[0]` is the selector of the Join button; the marks end up in `window.__callSetup`.
pub const PROBE: &str = include_str!("call_setup_probe.js");

/// The Join button, in the SPA's lobby and in the baseline alike.
pub const JOIN: &str = "#join";

/// The camera preview before joining, in both pages.
pub const PREVIEW: &str = "video#preview";

/// Where the baseline is served from, on the relay that also serves the SPA.
pub const BASELINE_PATH: &str = "/call-setup/baseline.html";

/// The mark of the measured moment: the first remote frame presented.
pub const FIRST_FRAME: &str = "first_frame";

/// Which page makes the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// Huddle's SPA.
    Huddle,
    /// The hand-written JavaScript baseline.
    Baseline,
    /// The baseline with the SPA's connection shape (`shape=huddle`: a third video transceiver, a data channel, one
    /// bundled transport), telling what the shape costs from what the SPA's code costs.
    BaselineShaped,
}

impl Client {
    /// Every client, in the report's order.
    pub const ALL: [Client; 3] = [Client::Huddle, Client::Baseline, Client::BaselineShaped];

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Client::Huddle => "Huddle",
            Client::Baseline => "JS baseline",
            Client::BaselineShaped => "JS, Huddle's shape",
        }
    }
}

/// Whose page a mark was taken on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// Ada, who joined first and answers.
    Ada,
    /// Bob, who joins second and offers: his click is t0.
    Bob,
}

/// The steps of a call's setup, in the order they normally happen, as shown in the report's breakdown:
/// `(description, whose page, probe mark)`.
pub const STEPS: &[(&str, Who, &str)] = &[
    ("Bob's WebSocket created", Who::Bob, "ws_created"),
    ("Bob's WebSocket open", Who::Bob, "ws_open"),
    ("Bob's `join` sent", Who::Bob, "join_sent"),
    ("Bob's `joined` received", Who::Bob, "joined"),
    ("Bob's RTCPeerConnection created", Who::Bob, "pc_created"),
    ("Bob's `negotiationneeded`", Who::Bob, "negotiation_needed"),
    ("Bob's setLocalDescription(offer) called", Who::Bob, "local_description_called"),
    ("Bob's offer set", Who::Bob, "local_description_set"),
    ("Bob's offer sent", Who::Bob, "offer_sent"),
    ("Ada's offer received", Who::Ada, "offer_received"),
    ("Ada's RTCPeerConnection created", Who::Ada, "pc_created"),
    ("Ada's setRemoteDescription(offer) called", Who::Ada, "remote_description_called"),
    ("Ada's offer applied", Who::Ada, "remote_description_set"),
    ("Ada's setLocalDescription(answer) called", Who::Ada, "local_description_called"),
    ("Ada's answer set", Who::Ada, "local_description_set"),
    ("Ada's answer sent", Who::Ada, "answer_sent"),
    ("Bob's answer received", Who::Bob, "answer_received"),
    ("Bob's setRemoteDescription(answer) called", Who::Bob, "remote_description_called"),
    ("Bob's answer applied", Who::Bob, "remote_description_set"),
    ("Bob's remote video track (`track`)", Who::Bob, "track_video"),
    ("Bob's ICE connected", Who::Bob, "ice_connected"),
    ("Ada's ICE connected", Who::Ada, "ice_connected"),
    ("Bob's connection connected (DTLS)", Who::Bob, "pc_connected"),
    ("Ada's connection connected (DTLS)", Who::Ada, "pc_connected"),
    ("Bob's remote video given to a `<video>`", Who::Bob, "remote_video_attached"),
    ("Bob's first frame received (last packet)", Who::Bob, "frame_received"),
    ("**Bob's first frame presented (t1)**", Who::Bob, FIRST_FRAME),
    ("Ada's first frame presented", Who::Ada, FIRST_FRAME),
];

/// The marks of one page: milliseconds on its `performance.now()` clock, and that clock's origin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marks {
    /// `performance.timeOrigin`: milliseconds since the Unix epoch at the page's `performance.now()` zero.
    pub time_origin: f64,
    /// Each mark's first occurrence.
    pub at: BTreeMap<String, f64>,
}

impl Marks {
    /// Reads the probe's snapshot, `{"timeOrigin": ms, "marks": {"name": ms, ...}}`.
    pub fn from_json(value: &Value) -> std::result::Result<Marks, String> {
        let time_origin = value["timeOrigin"].as_f64().ok_or_else(|| format!("no timeOrigin in {value}"))?;
        let marks = value["marks"].as_object().ok_or_else(|| format!("no marks in {value}"))?;
        let at = marks
            .iter()
            .map(|(name, at)| Ok((name.clone(), at.as_f64().ok_or_else(|| format!("mark {name} is {at}"))?)))
            .collect::<std::result::Result<_, String>>()?;
        Ok(Marks { time_origin, at })
    }

    /// A mark on this page's clock.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.at.get(name).copied()
    }

    /// A mark in milliseconds since the Unix epoch, to compare with another page's marks.
    pub fn epoch(&self, name: &str) -> Option<f64> {
        self.get(name).map(|at| self.time_origin + at)
    }
}

/// One measured call: both pages' marks.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// Which page made it.
    pub client: Client,
    /// Ada's marks (she joined first).
    pub ada: Marks,
    /// Bob's marks (his click is t0).
    pub bob: Marks,
}

impl Call {
    /// The measure: from Bob's click on Join to the first frame from Ada presented on Bob's page, on Bob's clock.
    pub fn setup_ms(&self) -> Option<f64> {
        Some(self.bob.get(FIRST_FRAME)? - self.bob.get("join")?)
    }

    /// When a step happened, in milliseconds after Bob's click. Ada's marks go through both pages' time origins
    /// (the same machine's clock, read by two browsers: good to about a millisecond).
    pub fn step_ms(&self, who: Who, mark: &str) -> Option<f64> {
        match who {
            Who::Bob => Some(self.bob.get(mark)? - self.bob.get("join")?),
            Who::Ada => Some(self.ada.epoch(mark)? - self.bob.epoch("join")?),
        }
    }
}

/// Median, 90th percentile, minimum and maximum of a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// How many values.
    pub count: usize,
    /// The 50th percentile.
    pub median: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Summary {
    /// The summary of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Summary> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            count: sorted.len(),
            median: percentile(&sorted, 0.5)?,
            p90: percentile(&sorted, 0.9)?,
            min: *sorted.first()?,
            max: *sorted.last()?,
        })
    }
}

/// The `p`-quantile (0 to 1) of sorted values, interpolating linearly between the two nearest ranks (so the median
/// of an even count is the mean of the middle two); `None` for no values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = p.clamp(0.0, 1.0) * last as f64;
    let (below, above) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[below] + (sorted[above] - sorted[below]) * (rank - below as f64))
}

/// The command line of the benchmark.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Measured calls per client.
    pub calls: usize,
    /// Calls per client made first and left out of the figures (a cold start of Chromium and the relay).
    pub warmup: usize,
    /// Where the report goes, if anywhere.
    pub out: Option<String>,
    /// Print browser consoles and relay logs of every call, not only of failed ones.
    pub verbose: bool,
    /// Also measure the baseline with Huddle's connection shape ([`Client::BaselineShaped`]).
    pub shape: bool,
    /// Measure rejoins instead of first joins: this many per client ([`RejoinReport`]); 0 for first joins.
    pub rejoins: usize,
    /// Print the usage.
    pub help: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { calls: 15, warmup: 1, out: None, verbose: false, shape: false, rejoins: 0, help: false }
    }
}

/// The usage text of the benchmark.
pub const USAGE: &str = "\
Usage: cargo xtask bench call-setup [OPTIONS]
   or: cargo bench -p huddle-e2e --bench call_setup -- [OPTIONS]

Measures the time from a click on Join to the first remote video frame, for Huddle's SPA and for a minimal
JavaScript page (bench/call-setup/) against the same relay, in headless Chromium inside a loopback-only network.
Calls alternate: Huddle, baseline (, shaped baseline), Huddle, baseline...

  --calls N     measured calls per client (default 15)
  --warmup N    calls per client first, left out of the figures (default 1)
  --out FILE    also write the report, in Markdown, to FILE (relative to the workspace root)
  --shape       also measure the baseline with Huddle's connection shape (a third video
                transceiver, a data channel, max-bundle): what the shape costs, apart from the SPA's code
  --rejoins N   measure rejoining instead: per client, N times Bob leaves, goes back to the lobby
                and joins again, in calls of up to 5 rejoins, the clients in turn (written to the
                report's \"Rejoining\" section, the rest of the report is kept)
  --verbose     print browser consoles and relay logs of every call
";

impl Options {
    /// Parses the arguments (without the program name). `--bench`, which `cargo bench` passes, is accepted.
    pub fn parse(args: impl IntoIterator<Item = String>) -> std::result::Result<Options, String> {
        let mut options = Options::default();
        let mut args = cli::Args::new(args);
        while let Some(arg) = args.next() {
            let count = |text: String| {
                text.parse::<usize>().map_err(|_| format!("{} takes a whole number, not `{text}`", arg.flag))
            };
            match arg.flag.as_str() {
                "--calls" => options.calls = count(args.value(&arg)?)?,
                "--warmup" => options.warmup = count(args.value(&arg)?)?,
                "--out" => options.out = Some(args.value(&arg)?),
                "--verbose" => options.verbose = true,
                "--shape" => options.shape = true,
                "--rejoins" => options.rejoins = count(args.value(&arg)?)?,
                "--bench" => {}
                "-h" | "--help" => options.help = true,
                _ => return Err(format!("unknown argument `{}` (see --help)", arg.raw)),
            }
        }
        if options.calls == 0 {
            return Err("--calls must be at least 1".to_owned());
        }
        Ok(options)
    }
}

/// Installs [`PROBE`] in the page the browser shows (before its Join button is clicked).
pub async fn install_probe(browser: &Browser) -> Result<()> {
    browser.eval_js(PROBE, vec![json!(JOIN)]).await.map(drop)
}

/// Forgets the probe's marks (before a rejoin's click on Join): each is taken again the next time it happens.
pub async fn reset_probe(browser: &Browser) -> Result<()> {
    browser.eval_js("if (window.__callSetup) window.__callSetup.reset();", Vec::new()).await.map(drop)
}

/// Waits, inside the page, until the probe has taken `mark`, and returns the page's marks. One WebDriver call that
/// returns when the mark is taken (bounded by the script timeout): no polling disturbs the page meanwhile.
pub async fn wait_mark(browser: &Browser, mark: &str) -> Result<Marks> {
    const WHEN: &str = r#"
        const [mark, done] = arguments;
        if (!window.__callSetup) return done({ error: 'the probe is not installed' });
        window.__callSetup.when(mark).then(done);
    "#;
    let reply = browser.eval_js_async(WHEN, vec![json!(mark)]).await?;
    if let Some(error) = reply["error"].as_str() {
        return Err(Error::Check(format!("{}: {error}", browser.label())));
    }
    Marks::from_json(&reply).map_err(|why| Error::Check(format!("{}: probe marks: {why}", browser.label())))
}

/// The page's marks now, even if incomplete (for a failed call's report).
pub async fn marks_now(browser: &Browser) -> Result<Marks> {
    let reply =
        browser.eval_js("return window.__callSetup ? window.__callSetup.snapshot() : null;", Vec::new()).await?;
    if reply.is_null() {
        return Ok(Marks::default());
    }
    Marks::from_json(&reply).map_err(|why| Error::Check(format!("{}: probe marks: {why}", browser.label())))
}

/// The path of `client`'s page for `room`, as the person `name` opens it (the baseline takes the name from the link).
pub fn page_path(client: Client, room: &RoomId, name: &str) -> String {
    match client {
        Client::Huddle => spa::room_path(room),
        Client::Baseline => format!("{BASELINE_PATH}?room={room}&name={name}"),
        Client::BaselineShaped => format!("{BASELINE_PATH}?room={room}&name={name}&shape=huddle"),
    }
}

/// Opens `url` (a [`page_path`] on the relay) before joining, and waits until Join can be clicked and the camera
/// preview plays. Huddle's Join stays disabled until a name is typed: the browser's label is typed.
pub async fn open_lobby(browser: &Browser, client: Client, url: &str) -> Result<()> {
    let name = browser.label();
    browser.goto(url).await?;
    if client == Client::Huddle {
        browser.wait_interactable(spa::selector::NAME).await?;
        if browser.value(spa::selector::NAME).await?.trim() != name {
            browser.type_into(spa::selector::NAME, name).await?;
        }
    }
    browser.wait_interactable(JOIN).await?;
    browser.wait_video_playing(PREVIEW).await
}

/// A directory for the relay to serve: the built SPA, and the baseline under `/call-setup/`, so that both pages come
/// from the same relay process and talk to it on the same origin.
pub fn site() -> Result<ScratchDir> {
    let site = ScratchDir::new("call-setup-site")?;
    copy_dir(&artifacts::dist_dir()?, site.path())?;
    let baseline = artifacts::workspace_root().join("bench/call-setup");
    copy_dir(&baseline, &site.path().join(BASELINE_PATH.trim_start_matches('/').split('/').next().unwrap_or("")))?;
    Ok(site)
}

/// What the report says about where and how it was measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    /// The machine, when, and at which commit.
    pub machine: Machine,
    /// Measured calls per client asked for.
    pub calls: usize,
    /// Warm-up calls per client.
    pub warmup: usize,
}

/// The benchmark's report: the context, every measured call, the calls that failed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Where and how.
    pub context: Context,
    /// The measured calls, in the order made.
    pub calls: Vec<Call>,
    /// Calls that did not complete: which client, and why.
    pub failures: Vec<(Client, String)>,
}

/// The ratio the issue aims for: Huddle's median within this factor of the baseline's.
pub const TARGET_RATIO: f64 = 1.2;

impl Report {
    /// The setup times of one client's calls.
    pub fn setup_times(&self, client: Client) -> Vec<f64> {
        self.calls.iter().filter(|call| call.client == client).filter_map(Call::setup_ms).collect()
    }

    /// Huddle's median over the baseline's.
    pub fn ratio(&self) -> Option<f64> {
        self.ratio_to(Client::Baseline)
    }

    /// Huddle's median over `other`'s.
    pub fn ratio_to(&self, other: Client) -> Option<f64> {
        let huddle = Summary::of(&self.setup_times(Client::Huddle))?;
        let other = Summary::of(&self.setup_times(other))?;
        (other.median > 0.0).then(|| huddle.median / other.median)
    }

    /// The clients measured: Huddle and the baseline always, the shaped baseline when it was run.
    pub fn clients(&self) -> Vec<Client> {
        let ran = |client: Client| {
            self.calls.iter().any(|call| call.client == client) || self.failures.iter().any(|(c, _)| *c == client)
        };
        Client::ALL.into_iter().filter(|client| *client != Client::BaselineShaped || ran(*client)).collect()
    }

    /// The summary table and the verdict (also what the terminal shows at the end).
    pub fn summary_markdown(&self) -> String {
        let mut out = String::new();
        let clients = self.clients();
        let summaries: Vec<Option<Summary>> =
            clients.iter().map(|client| Summary::of(&self.setup_times(*client))).collect();
        let row = |name: &str, cell: &dyn Fn(&Option<Summary>) -> String| {
            let cells: Vec<String> = summaries.iter().map(cell).collect();
            format!("| {name} | {} |\n", cells.join(" | "))
        };
        let labels: Vec<&str> = clients.iter().map(|client| client.label()).collect();
        let _ = writeln!(out, "| Join → first remote frame (ms) | {} |", labels.join(" | "));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(clients.len()));
        out.push_str(&row("calls", &|s| s.map(|s| s.count).unwrap_or(0).to_string()));
        for (name, pick) in [
            ("median", (|s: &Summary| s.median) as fn(&Summary) -> f64),
            ("p90", |s| s.p90),
            ("min", |s| s.min),
            ("max", |s| s.max),
        ] {
            out.push_str(&row(name, &|s| s.map(|s| format!("{:.0}", pick(&s))).unwrap_or_else(|| "–".to_owned())));
        }
        let _ = writeln!(out);
        match self.ratio() {
            Some(ratio) => {
                let verdict = if ratio <= TARGET_RATIO { "within" } else { "NOT within" };
                let _ = writeln!(
                    out,
                    "Huddle / baseline (medians): **{ratio:.2}x**, {verdict} the {TARGET_RATIO}x target."
                );
            }
            None => {
                let _ = writeln!(out, "No ratio: a client has no completed call.");
            }
        }
        if let Some(ratio) = self.ratio_to(Client::BaselineShaped) {
            let _ = writeln!(out, "\nHuddle / JS with Huddle's connection shape (medians): {ratio:.2}x.");
        }
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\n{} call(s) did not complete and are left out:", self.failures.len());
            for (client, why) in &self.failures {
                let _ = writeln!(out, "- {}: {}", client.label(), why.lines().next().unwrap_or_default());
            }
        }
        out
    }

    /// The median time of each setup step, per client (milliseconds after Bob's click).
    pub fn steps_markdown(&self) -> String {
        let mut out = String::new();
        let clients = self.clients();
        let labels: Vec<&str> = clients.iter().map(|client| client.label()).collect();
        let _ = writeln!(out, "| Step (median ms after Bob's click) | {} | Huddle − baseline |", labels.join(" | "));
        let _ = writeln!(out, "|---|{}---:|", "---:|".repeat(clients.len()));
        for (description, who, mark) in STEPS {
            let median = |client: Client| {
                let times: Vec<f64> = self
                    .calls
                    .iter()
                    .filter(|call| call.client == client)
                    .filter_map(|call| call.step_ms(*who, mark))
                    .collect();
                Summary::of(&times).map(|s| s.median)
            };
            let show = |value: Option<f64>| value.map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".to_owned());
            let cells: Vec<String> = clients.iter().map(|client| show(median(*client))).collect();
            let difference = match (median(Client::Huddle), median(Client::Baseline)) {
                (Some(h), Some(b)) => format!("{:+.0}", h - b),
                _ => "–".to_owned(),
            };
            let _ = writeln!(out, "| {description} | {} | {difference} |", cells.join(" | "));
        }
        out
    }

    /// One line per call.
    pub fn calls_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "| # | client | Join → first frame at Bob (ms) | ICE connected | Ada's first frame |");
        let _ = writeln!(out, "|---:|---|---:|---:|---:|");
        let show = |value: Option<f64>| value.map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".to_owned());
        for (number, call) in self.calls.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                number + 1,
                call.client.label(),
                show(call.setup_ms()),
                show(call.step_ms(Who::Bob, "ice_connected")),
                show(call.step_ms(Who::Ada, FIRST_FRAME)),
            );
        }
        out
    }

    /// The whole report, in Markdown.
    pub fn markdown(&self) -> String {
        let context = &self.context;
        let load = Machine::load_text;
        format!(
            "# Call setup time\n\n\
             Written by `cargo xtask bench call-setup` on {date}, commit `{commit}`: {calls} measured calls per \
             client after {warmup} warm-up call(s) each, one call of each client in turn, in headless \
             {browser}, on {cpus} CPUs (1-minute load average {before} before the run, {after} after; the \
             benchmark's own browsers, chromedriver and relay add about 3 to it).\n\n\
             **What is timed**, the same way for both: Ada has joined a fresh room on the relay and waits; Bob, in a \
             fresh browser, has the room open with his camera preview playing. t0 is Bob's click on Join (the click \
             event's time stamp); t1 is when the first video frame from Ada is presented in a `<video>` on Bob's \
             page (`requestVideoFrameCallback`'s `presentationTime`), both on Bob's `performance.now()` clock. A \
             probe installed in both pages before the click takes these and the intermediate marks without the \
             page's help (it watches the click, wraps `WebSocket` and `RTCPeerConnection`, and notices a remote \
             video track given to a `<video>`). The baseline is `bench/call-setup/baseline.js`: the same \
             getUserMedia before Join, WebSocket and protocol, one `RTCPeerConnection` with the two tracks; \
             served by the same relay process as the SPA, over loopback. \"JS, Huddle's shape\" (with `--shape`) \
             is the same page making the SPA's connection: a third, empty video transceiver (for screen sharing) \
             and a pre-negotiated data channel, all on one transport from the start (`max-bundle`).\n\n\
             {summary}\n\
             ## Where the time goes\n\n\
             Ada's marks are converted to Bob's clock through both pages' `performance.timeOrigin` (about 1 ms \
             of uncertainty). Marks taken from events (ICE and connection state, `track`, `negotiationneeded`) \
             are when the page's main thread dispatched them, so a busy page delays them too; the first frame's \
             last packet is timed by the network stack.\n\n\
             {steps}\n\
             ## Every call\n\n\
             {each}",
            date = context.machine.date,
            commit = context.machine.commit,
            calls = context.calls,
            warmup = context.warmup,
            browser = context.machine.browser,
            cpus = context.machine.cpus,
            before = load(context.machine.load_before),
            after = load(context.machine.load_after),
            summary = self.summary_markdown(),
            steps = self.steps_markdown(),
            each = self.calls_markdown(),
        )
    }
}

/// The heading of the report's section on rejoining (`--rejoins`), which each mode keeps when it writes the other.
pub const REJOIN_HEADING: &str = "## Rejoining";

/// The rejoin mode's report: every measured rejoin (a [`Call`] whose t0 is Bob's click on Join back in the lobby),
/// and the rejoins that failed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RejoinReport {
    /// Where and how (`calls`: rejoins asked for per client).
    pub context: Context,
    /// The measured rejoins, in the order made.
    pub rejoins: Vec<Call>,
    /// Rejoins that did not complete: which client, and why.
    pub failures: Vec<(Client, String)>,
}

impl RejoinReport {
    /// One measure of every rejoin of `client`: Bob's (`Who::Bob`: Ada's first frame at Bob) or Ada's (Bob's first
    /// frame at Ada), in milliseconds after Bob's click.
    pub fn times(&self, client: Client, at: Who) -> Vec<f64> {
        let rejoins = self.rejoins.iter().filter(|call| call.client == client);
        match at {
            Who::Bob => rejoins.filter_map(Call::setup_ms).collect(),
            Who::Ada => rejoins.filter_map(|call| call.step_ms(Who::Ada, FIRST_FRAME)).collect(),
        }
    }

    /// The summary table (also what the terminal shows at the end).
    pub fn summary_markdown(&self) -> String {
        let mut out = String::new();
        let clients = [Client::Huddle, Client::Baseline];
        let columns: Vec<(Client, Who)> =
            clients.iter().flat_map(|client| [(*client, Who::Bob), (*client, Who::Ada)]).collect();
        let summaries: Vec<Option<Summary>> =
            columns.iter().map(|(client, at)| Summary::of(&self.times(*client, *at))).collect();
        let _ = writeln!(
            out,
            "| Join again → first remote frame (ms) | Huddle, at Bob | Huddle, at Ada | JS baseline, at Bob | \
             JS baseline, at Ada |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        let row = |name: &str, pick: &dyn Fn(&Summary) -> String| {
            let cells: Vec<String> =
                summaries.iter().map(|s| s.as_ref().map(pick).unwrap_or_else(|| "–".into())).collect();
            format!("| {name} | {} |\n", cells.join(" | "))
        };
        out.push_str(&row("rejoins", &|s| s.count.to_string()));
        out.push_str(&row("median", &|s| format!("{:.0}", s.median)));
        out.push_str(&row("p90", &|s| format!("{:.0}", s.p90)));
        out.push_str(&row("min", &|s| format!("{:.0}", s.min)));
        out.push_str(&row("max", &|s| format!("{:.0}", s.max)));
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\n{} rejoin(s) did not complete and are left out:", self.failures.len());
            for (client, why) in &self.failures {
                let _ = writeln!(out, "- {}: {}", client.label(), why.lines().next().unwrap_or_default());
            }
        }
        out
    }

    /// The report's section, from [`REJOIN_HEADING`] on.
    pub fn markdown(&self) -> String {
        let context = &self.context;
        let load = Machine::load_text;
        let show = |value: Option<f64>| value.map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".to_owned());
        let mut each = String::new();
        let _ = writeln!(each, "| # | client | at Bob (ms) | at Ada (ms) | ICE connected |");
        let _ = writeln!(each, "|---:|---|---:|---:|---:|");
        for (number, call) in self.rejoins.iter().enumerate() {
            let _ = writeln!(
                each,
                "| {} | {} | {} | {} | {} |",
                number + 1,
                call.client.label(),
                show(call.setup_ms()),
                show(call.step_ms(Who::Ada, FIRST_FRAME)),
                show(call.step_ms(Who::Bob, "ice_connected")),
            );
        }
        format!(
            "{REJOIN_HEADING}\n\n\
             Written by `cargo xtask bench call-setup -- --rejoins {rejoins}` on {date}, commit `{commit}`: per \
             client, Bob leaves and joins again {rejoins} times, in calls of two fresh browsers of up to 5 rejoins \
             each, the clients in turn, in headless {browser}, on {cpus} CPUs (1-minute load average {before} \
             before the run, {after} after).\n\n\
             **What is timed**: Ada and Bob are in a call; Bob leaves (Huddle: Leave, then Rejoin, back in the \
             lobby; the baseline: its Leave button, which closes everything and gets the camera again), and once his \
             camera preview plays again he clicks Join. t0 is that click; \"at Bob\" is the first video frame from \
             Ada presented on Bob's page, \"at Ada\" the first frame from Bob presented on Ada's (converted to Bob's \
             clock), with the same probe as above. Ada keeps her camera and page throughout: the new connection \
             sends the track her old one sent.\n\n\
             {summary}\n\
             ### Every rejoin\n\n\
             {each}",
            rejoins = context.calls,
            date = context.machine.date,
            commit = context.machine.commit,
            browser = context.machine.browser,
            cpus = context.machine.cpus,
            before = load(context.machine.load_before),
            after = load(context.machine.load_after),
            summary = self.summary_markdown(),
        )
    }
}

/// `document` with its section under `heading` (up to the next heading of the same level, or the end) replaced by
/// `section`, or with `section` appended if it has none.
pub fn splice_section(document: &str, heading: &str, section: &str) -> String {
    let section = section.trim_end();
    let start = document.lines().scan(0, |offset, line| {
        let at = *offset;
        *offset += line.len() + 1;
        Some((at, line))
    });
    let mut start_at = None;
    let mut end_at = None;
    for (at, line) in start {
        if start_at.is_none() {
            if line == heading {
                start_at = Some(at);
            }
        } else if line.starts_with("## ") {
            end_at = Some(at);
            break;
        }
    }
    match start_at {
        Some(start) => {
            let rest = end_at.map(|end| &document[end..]).unwrap_or("");
            let gap = if rest.is_empty() { "\n" } else { "\n\n" };
            format!("{}{section}{gap}{rest}", &document[..start])
        }
        None if document.trim().is_empty() => format!("{section}\n"),
        None => format!("{}\n\n{section}\n", document.trim_end()),
    }
}

/// `YYYY-MM-DD HH:MM UTC` for a time in seconds since the Unix epoch (proleptic Gregorian calendar).
pub fn utc_date(unix_seconds: u64) -> String {
    let (days, seconds) = ((unix_seconds / 86_400) as i64, unix_seconds % 86_400);
    // Days to a civil date: the era-based method of Howard Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", seconds / 3600, seconds % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(time_origin: f64, at: &[(&str, f64)]) -> Marks {
        Marks { time_origin, at: at.iter().map(|(name, at)| (name.to_string(), *at)).collect() }
    }

    #[test]
    fn a_section_is_replaced_or_appended() {
        let section = "## Rejoining\n\nnew\n";
        let with = "# T\n\nintro\n\n## Rejoining\n\nold\nlines\n\n## Every call\n\nrows\n";
        assert_eq!(
            splice_section(with, REJOIN_HEADING, section),
            "# T\n\nintro\n\n## Rejoining\n\nnew\n\n## Every call\n\nrows\n"
        );
        let last = "# T\n\n## Rejoining\n\nold\n";
        assert_eq!(splice_section(last, REJOIN_HEADING, section), "# T\n\n## Rejoining\n\nnew\n");
        assert_eq!(splice_section("# T\n\nrows\n", REJOIN_HEADING, section), "# T\n\nrows\n\n## Rejoining\n\nnew\n");
        assert_eq!(splice_section("", REJOIN_HEADING, section), "## Rejoining\n\nnew\n");
    }

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&ten, 0.5), Some(5.5));
        assert_eq!(percentile(&ten, 0.9), Some(9.1));
        assert_eq!(percentile(&ten, 0.0), Some(1.0));
        assert_eq!(percentile(&ten, 1.0), Some(10.0));
        assert_eq!(percentile(&[7.0], 0.9), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn summaries_sort_first() {
        let summary = Summary::of(&[300.0, 100.0, 200.0]).unwrap();
        assert_eq!(summary, Summary { count: 3, median: 200.0, p90: 280.0, min: 100.0, max: 300.0 });
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn reads_the_probe_snapshot() {
        let value = json!({ "timeOrigin": 1_700_000_000_000.5, "marks": { "join": 10.25, "first_frame": 400.0 } });
        let read = Marks::from_json(&value).unwrap();
        assert_eq!(read, marks(1_700_000_000_000.5, &[("join", 10.25), ("first_frame", 400.0)]));
        assert_eq!(read.epoch("join"), Some(1_700_000_000_010.75));
        assert!(Marks::from_json(&json!({ "marks": {} })).is_err());
        assert!(Marks::from_json(&json!({ "timeOrigin": 1, "marks": { "join": "soon" } })).is_err());
    }

    #[test]
    fn setup_is_on_bobs_clock_and_adas_marks_are_converted() {
        let call = Call {
            client: Client::Huddle,
            ada: marks(1_000_500.0, &[("first_frame", 900.0), ("offer_received", 60.0)]),
            bob: marks(1_000_000.0, &[("join", 100.0), ("first_frame", 750.0)]),
        };
        assert_eq!(call.setup_ms(), Some(650.0));
        // Ada's first frame: 1_001_400 on the epoch clock; Bob's click: 1_000_100.
        assert_eq!(call.step_ms(Who::Ada, FIRST_FRAME), Some(1300.0));
        assert_eq!(call.step_ms(Who::Ada, "offer_received"), Some(460.0));
        assert_eq!(call.step_ms(Who::Bob, "ice_connected"), None);
        let unfinished = Call { bob: marks(0.0, &[("join", 1.0)]), ..call };
        assert_eq!(unfinished.setup_ms(), None);
    }

    #[test]
    fn the_report_gives_the_ratio_of_medians() {
        let call = |client, setup: f64| Call {
            client,
            ada: Marks::default(),
            bob: marks(0.0, &[("join", 0.0), ("first_frame", setup)]),
        };
        let report = Report {
            calls: vec![
                call(Client::Huddle, 600.0),
                call(Client::Baseline, 500.0),
                call(Client::Huddle, 660.0),
                call(Client::Baseline, 520.0),
            ],
            failures: vec![(Client::Huddle, "timed out\nmore".to_owned())],
            ..Report::default()
        };
        assert_eq!(report.setup_times(Client::Huddle), [600.0, 660.0]);
        let ratio = report.ratio().unwrap();
        assert!((ratio - 630.0 / 510.0).abs() < 1e-9, "{ratio}");
        let summary = report.summary_markdown();
        assert!(summary.contains("| median | 630 | 510 |"), "{summary}");
        assert!(summary.contains("**1.24x**, NOT within the 1.2x target"), "{summary}");
        assert!(summary.contains("- Huddle: timed out\n"), "{summary}");
        let each = report.calls_markdown();
        assert!(each.contains("| 2 | JS baseline | 500 | – | – |"), "{each}");
        assert!(report.steps_markdown().contains("| **Bob's first frame presented (t1)** | 630 | 510 | +120 |"));
        assert_eq!(report.clients(), [Client::Huddle, Client::Baseline]);
        assert_eq!(report.ratio_to(Client::BaselineShaped), None);
        let shaped = Report { calls: vec![call(Client::Huddle, 600.0), call(Client::BaselineShaped, 400.0)], ..report };
        assert!(shaped.summary_markdown().contains("| median | 600 | – | 400 |"), "{}", shaped.summary_markdown());
        assert!(shaped.summary_markdown().contains("connection shape (medians): 1.50x"));
    }

    #[test]
    fn options_accept_what_cargo_bench_passes() {
        let parse = |args: &[&str]| Options::parse(args.iter().map(|a| a.to_string()));
        assert_eq!(parse(&["--bench"]).unwrap(), Options::default());
        let options =
            parse(&["--calls", "12", "--warmup=0", "--out", "bench/call-setup.md", "--verbose", "--shape"]).unwrap();
        assert_eq!((options.calls, options.warmup, options.verbose, options.shape), (12, 0, true, true));
        assert_eq!(options.out.as_deref(), Some("bench/call-setup.md"));
        assert!(parse(&["--calls", "ten"]).unwrap_err().contains("whole number"));
        assert!(parse(&["--calls", "0"]).is_err());
        assert!(parse(&["--fast"]).is_err());
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_date(1_767_225_599), "2025-12-31 23:59 UTC");
    }
}
