//! The lobby-load benchmark's parts (the benchmark itself is `benches/lobby_load.rs`): the probe that watches the
//! page from its first moment, the loads it reports, the statistics and the report.
//!
//! What is timed: from the start of the navigation to a room link (the page's `performance.timeOrigin`) to the
//! lobby being usable: its name field enabled and its camera preview given the camera's stream, so that the person
//! can type their name and press Join. That is what a person opening a room link waits for (Join itself is enabled
//! only once a name is typed, so it would time the typing too); the first screen (the name field rendered, the wasm
//! started) comes a moment earlier and is reported too. The probe ([`PROBE`]) runs in every document before the
//! page's own scripts ([`crate::cdp::run_on_every_document`]), so it needs nothing from the page.
//!
//! The report file keeps one section per relay measured ("before", "current"...): a run rewrites the sections of the
//! relays it measured and keeps the others, each section carrying its figures in a comment for the summary table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::call_setup::Summary;
use crate::machine::Machine;
use crate::shaping::Rate;
use crate::{cdp, cli, Browser, Error, Result};

/// The probe; the marks end up in `window.__lobbyLoad`.
pub const PROBE: &str = include_str!("lobby_load_probe.js");

/// The mark of the measured moment: the name field is enabled and the camera preview has its stream.
pub const USABLE: &str = "usable";

/// The mark of the first screen: the lobby's name field is in the document.
pub const FIRST_SCREEN: &str = "first_screen";

/// The label of the relay given with `--before`.
pub const BEFORE: &str = "before";

/// How the page was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Visit {
    /// A fresh browser profile, so an empty HTTP cache: someone opening Huddle for the first time.
    First,
    /// The same browser opening another room's link (a new navigation, after `about:blank`): someone coming back.
    Repeat,
    /// The page reloaded (WebDriver's refresh, like the reload button).
    Reload,
}

impl Visit {
    /// Every visit, in the order a run makes them.
    pub const ALL: [Visit; 3] = [Visit::First, Visit::Repeat, Visit::Reload];

    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Visit::First => "first visit",
            Visit::Repeat => "repeat visit",
            Visit::Reload => "reload",
        }
    }

    /// Its name in the report's data.
    fn key(self) -> &'static str {
        match self {
            Visit::First => "first",
            Visit::Repeat => "repeat",
            Visit::Reload => "reload",
        }
    }

    fn from_key(key: &str) -> Option<Visit> {
        Visit::ALL.into_iter().find(|visit| visit.key() == key)
    }
}

/// What a file is, for the per-file byte counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The document (`index.html`, whatever the room path).
    Html,
    /// The JavaScript glue.
    Js,
    /// The SPA's wasm.
    Wasm,
    /// The stylesheet.
    Css,
    /// The runtime configuration, `config.json`.
    Config,
    /// The page's icon (which the browser fetches by itself).
    Icon,
    /// Anything else.
    Other,
}

impl Kind {
    /// Every kind, in the report's column order.
    pub const ALL: [Kind; 7] = [Kind::Html, Kind::Js, Kind::Wasm, Kind::Css, Kind::Config, Kind::Icon, Kind::Other];

    /// Its column heading.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Html => "html",
            Kind::Js => "js",
            Kind::Wasm => "wasm",
            Kind::Css => "css",
            Kind::Config => "config.json",
            Kind::Icon => "icon",
            Kind::Other => "other",
        }
    }

    /// The kind of a Resource Timing entry: the navigation is the document, the rest goes by the file's extension.
    fn of(name: &str, initiator: &str) -> Kind {
        if initiator == "navigation" {
            return Kind::Html;
        }
        let path = name.split(['?', '#']).next().unwrap_or_default();
        match path.rsplit_once('.').map(|(_, extension)| extension) {
            Some("wasm") => Kind::Wasm,
            Some("js" | "mjs") => Kind::Js,
            Some("css") => Kind::Css,
            Some("html") => Kind::Html,
            Some("json") => Kind::Config,
            Some("svg" | "ico" | "png") => Kind::Icon,
            _ => Kind::Other,
        }
    }
}

/// How a file reached the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// Over the network, in full.
    Network,
    /// Revalidated: a request, answered `304 Not Modified`, and the body from the cache.
    Revalidated,
    /// From the HTTP cache without a request.
    Cache,
}

/// One file the page fetched (or the navigation), as Resource Timing reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// Its URL.
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// `transferSize`: headers and body as received; 0 from the cache.
    pub transfer: u64,
    /// `encodedBodySize`: the body as sent (compressed, if it was).
    pub encoded: u64,
    /// `decodedBodySize`: the body once decoded.
    pub decoded: u64,
    /// `responseEnd`: when its last byte arrived, in milliseconds after the navigation started.
    pub response_end: f64,
    /// `deliveryType` (`cache` when it came from the HTTP cache), where Chromium reports it.
    pub delivery: String,
    /// `contentEncoding` (`br`, `gzip`), where Chromium reports it.
    pub encoding: String,
}

impl Resource {
    /// How it reached the page. Chromium says `deliveryType: "cache"` for a revalidated file too, but counts the
    /// 304's headers in its transfer; without `deliveryType`, a revalidation transfers less than the body.
    pub fn served(&self) -> Served {
        if self.transfer == 0 && (self.delivery == "cache" || self.decoded > 0) {
            Served::Cache
        } else if self.delivery == "cache" || (self.transfer > 0 && self.transfer < self.encoded) {
            Served::Revalidated
        } else {
            Served::Network
        }
    }

    /// One line for the verbose log.
    pub fn describe(&self) -> String {
        let path = self.name.splitn(4, '/').nth(3).unwrap_or(&self.name);
        format!(
            "{:<5} /{path}: transfer {}, body {} (decoded {}), done at {:.0} ms{}{}",
            self.kind.label(),
            self.transfer,
            self.encoded,
            self.decoded,
            self.response_end,
            if self.delivery.is_empty() { String::new() } else { format!(", delivery {}", self.delivery) },
            if self.encoding.is_empty() { String::new() } else { format!(", encoding {}", self.encoding) },
        )
    }

    /// The content encoding it came in: Chromium's word, else `compressed` when the body shrank on the way.
    pub fn encoding(&self) -> Option<String> {
        if !self.encoding.is_empty() && self.encoding != "identity" {
            Some(self.encoding.clone())
        } else if self.encoding.is_empty() && self.encoded > 0 && self.encoded < self.decoded {
            Some("compressed".to_owned())
        } else {
            None
        }
    }
}

/// One page load: the probe's marks and what was transferred up to the moment the lobby was usable.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// How the page was reached.
    pub visit: Visit,
    /// Each mark, in milliseconds after the navigation started.
    pub marks: BTreeMap<String, f64>,
    /// The navigation and the resources.
    pub resources: Vec<Resource>,
}

impl Load {
    /// Reads the probe's snapshot: `{"marks": {...}, "entries": [{name, initiator, transfer, ...}, ...]}`.
    pub fn from_json(visit: Visit, value: &Value) -> std::result::Result<Load, String> {
        let marks = value["marks"].as_object().ok_or_else(|| format!("no marks in {value}"))?;
        let marks = marks
            .iter()
            .map(|(name, at)| Ok((name.clone(), at.as_f64().ok_or_else(|| format!("mark {name} is {at}"))?)))
            .collect::<std::result::Result<_, String>>()?;
        let entries = value["entries"].as_array().ok_or_else(|| format!("no entries in {value}"))?;
        let text = |entry: &Value, key: &str| entry[key].as_str().unwrap_or_default().to_owned();
        let number = |entry: &Value, key: &str| entry[key].as_f64().unwrap_or(0.0);
        let resources = entries
            .iter()
            .map(|entry| {
                let (name, initiator) = (text(entry, "name"), text(entry, "initiator"));
                Resource {
                    kind: Kind::of(&name, &initiator),
                    name,
                    transfer: number(entry, "transfer") as u64,
                    encoded: number(entry, "encoded") as u64,
                    decoded: number(entry, "decoded") as u64,
                    response_end: number(entry, "response_end"),
                    delivery: text(entry, "delivery"),
                    encoding: text(entry, "encoding"),
                }
            })
            .collect();
        Ok(Load { visit, marks, resources })
    }

    /// Navigation to a usable lobby (name field enabled, camera preview acquired), in milliseconds.
    pub fn usable_ms(&self) -> Option<f64> {
        self.marks.get(USABLE).copied()
    }

    /// Navigation to the first screen (the name field rendered), in milliseconds.
    pub fn first_screen_ms(&self) -> Option<f64> {
        self.marks.get(FIRST_SCREEN).copied()
    }

    /// When the wasm's last byte arrived (or it came from the cache), in milliseconds.
    pub fn wasm_received_ms(&self) -> Option<f64> {
        self.resources.iter().filter(|r| r.kind == Kind::Wasm).map(|r| r.response_end).reduce(f64::max)
    }

    /// Bytes transferred for the files of `kind`, or for all of them.
    pub fn transferred(&self, kind: Option<Kind>) -> u64 {
        self.resources.iter().filter(|r| kind.is_none_or(|kind| r.kind == kind)).map(|r| r.transfer).sum()
    }

    /// How the files of `kind` came, e.g. `br`, `cache`, `304`, `304, br`; empty for plain downloads. A file the
    /// page asked for twice (a preload, then the fetch that used it) is described by its larger transfer.
    pub fn how_served(&self, kind: Kind) -> String {
        let mut files: Vec<&Resource> = Vec::new();
        for resource in self.resources.iter().filter(|r| r.kind == kind) {
            match files.iter_mut().find(|file| file.name == resource.name) {
                Some(file) if resource.transfer > file.transfer => *file = resource,
                Some(_) => {}
                None => files.push(resource),
            }
        }
        let mut words: Vec<String> = Vec::new();
        for resource in files {
            let word = match resource.served() {
                Served::Cache => Some("cache".to_owned()),
                Served::Revalidated => Some("304".to_owned()),
                Served::Network => resource.encoding(),
            };
            if let Some(word) = word.filter(|word| !words.contains(word)) {
                words.push(word);
            }
        }
        words.sort();
        words.join(", ")
    }
}

/// The loads of one relay on one link for one kind of visit.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The link rate.
    pub rate: Rate,
    /// The kind of visit.
    pub visit: Visit,
    /// The measured loads, in the order made.
    pub loads: Vec<Load>,
    /// Loads that did not complete, and why.
    pub failures: Vec<String>,
}

impl Series {
    /// The usable times.
    pub fn usable(&self) -> Vec<f64> {
        self.loads.iter().filter_map(Load::usable_ms).collect()
    }

    /// The median of a figure of each load.
    fn median(&self, figure: impl Fn(&Load) -> Option<f64>) -> Option<f64> {
        Summary::of(&self.loads.iter().filter_map(figure).collect::<Vec<_>>()).map(|s| s.median)
    }
}

/// Where and how a relay was measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    /// The machine, when, and at which commit.
    pub machine: Machine,
    /// The relay binary.
    pub relay: PathBuf,
    /// The SPA served: its directory, its wasm's name, size and age.
    pub dist: String,
    /// Runs per link asked for.
    pub runs: usize,
}

/// One relay's figures: its section of the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured {
    /// Its name in the report (`before`, `current`).
    pub label: String,
    /// Where and how.
    pub context: Context,
    /// The shaping checks made before its runs, one line each.
    pub checks: Vec<String>,
    /// Its loads, by link and visit.
    pub series: Vec<Series>,
}

impl Measured {
    /// The series of a link and a visit, created empty on first use.
    pub fn series_mut(&mut self, rate: Rate, visit: Visit) -> &mut Series {
        let index = match self.series.iter().position(|s| s.rate == rate && s.visit == visit) {
            Some(index) => index,
            None => {
                self.series.push(Series { rate, visit, loads: Vec::new(), failures: Vec::new() });
                self.series.len() - 1
            }
        };
        &mut self.series[index]
    }

    /// The figures the summary table needs, kept in the report with the section.
    fn data(&self) -> Value {
        let rows: Vec<Value> = self
            .series
            .iter()
            .map(|series| {
                json!({
                    "rate_kbit": series.rate.as_kbit(),
                    "visit": series.visit.key(),
                    "usable_ms": series.usable().iter().map(|ms| ms.round()).collect::<Vec<_>>(),
                    "bytes": series.loads.iter().map(|load| load.transferred(None)).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({ "label": self.label, "rows": rows })
    }

    /// Its section of the report, in Markdown.
    pub fn markdown(&self) -> String {
        let context = &self.context;
        let load = Machine::load_text;
        let mut out = format!(
            "## `{label}`\n\n\
             Measured {date}: the relay `{relay}` serving {dist}, the workspace at commit `{commit}`; {runs} runs \
             per link, in headless {browser} on {cpus} CPUs (1-minute load average {before} before, {after} \
             after).\n\n\
             Shaping check, before the runs (a plain HTTP client, no content encoding asked for):\n\n",
            label = self.label,
            date = context.machine.date,
            relay = context.relay.display(),
            commit = context.machine.commit,
            dist = context.dist,
            runs = context.runs,
            browser = context.machine.browser,
            cpus = context.machine.cpus,
            before = load(context.machine.load_before),
            after = load(context.machine.load_after),
        );
        for check in &self.checks {
            let _ = writeln!(out, "- {check}");
        }
        let _ = writeln!(out);
        out.push_str(&self.table_markdown());
        let failures: Vec<(&Series, &String)> =
            self.series.iter().flat_map(|s| s.failures.iter().map(move |why| (s, why))).collect();
        if !failures.is_empty() {
            let _ = writeln!(out, "\n{} load(s) did not complete and are left out:", failures.len());
            for (series, why) in failures {
                let first = why.lines().next().unwrap_or_default();
                let _ = writeln!(out, "- {}, {}: {first}", series.rate, series.visit.label());
            }
        }
        out
    }

    /// The table of figures, one row per link and visit, with a column for each kind of file the pages fetched.
    pub fn table_markdown(&self) -> String {
        let mut out = String::new();
        let kinds: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|kind| {
                self.series.iter().flat_map(|s| &s.loads).flat_map(|l| &l.resources).any(|r| r.kind == *kind)
            })
            .collect();
        let headings: Vec<&str> = kinds.iter().map(|kind| kind.label()).collect();
        let _ = writeln!(
            out,
            "| link | visit | runs | **usable**, median (ms) | min | max | first screen, median | wasm received, \
             median | bytes transferred, median | {} |",
            headings.join(" | ")
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|{}", "---:|".repeat(kinds.len()));
        let mut series: Vec<&Series> = self.series.iter().collect();
        series.sort_by_key(|s| (s.rate, s.visit));
        let ms = |value: Option<f64>| value.map(|v| thousands(v.round() as u64)).unwrap_or_else(|| "–".to_owned());
        for series in series {
            let usable = Summary::of(&series.usable());
            let bytes = |kind: Option<Kind>| series.median(|load| Some(load.transferred(kind) as f64));
            let mut cells = vec![
                series.rate.to_string(),
                series.visit.label().to_owned(),
                series.loads.len().to_string(),
                format!("**{}**", ms(usable.map(|s| s.median))),
                ms(usable.map(|s| s.min)),
                ms(usable.map(|s| s.max)),
                ms(series.median(Load::first_screen_ms)),
                ms(series.median(Load::wasm_received_ms)),
                ms(bytes(None)),
            ];
            for &kind in &kinds {
                let how = series.loads.first().map(|load| load.how_served(kind)).unwrap_or_default();
                let how = if how.is_empty() { String::new() } else { format!(" ({how})") };
                cells.push(format!("{}{how}", ms(bytes(Some(kind)))));
            }
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }
}

/// A section of the report file: a relay's label, its figures for the summary, and its Markdown.
#[derive(Clone, Debug, PartialEq)]
struct Section {
    label: String,
    data: Value,
    markdown: String,
}

const SECTION_START: &str = "<!-- lobby-load section ";
const SECTION_END: &str = "<!-- lobby-load end -->";

/// The sections of an existing report, in their order.
fn sections(report: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut rest = report;
    while let Some(start) = rest.find(SECTION_START) {
        let after = &rest[start + SECTION_START.len()..];
        let Some(data_end) = after.find(" -->") else { break };
        let Some(end) = after.find(SECTION_END) else { break };
        if let Ok(data) = serde_json::from_str::<Value>(&after[..data_end]) {
            let markdown = after[data_end + " -->".len()..end].trim().to_owned();
            if let Some(label) = data["label"].as_str() {
                sections.push(Section { label: label.to_owned(), data: data.clone(), markdown });
            }
        }
        rest = &after[end + SECTION_END.len()..];
    }
    sections
}

/// The report: `existing`'s sections of relays not measured now, in place, with the relays `measured` now
/// replacing theirs (or added at the end), and a summary of all.
pub fn report(existing: Option<&str>, measured: &[Measured]) -> String {
    let mut all = existing.map(sections).unwrap_or_default();
    for relay in measured {
        let markdown = relay.markdown().trim().to_owned();
        let section = Section { label: relay.label.clone(), data: relay.data(), markdown };
        match all.iter_mut().find(|kept| kept.label == relay.label) {
            Some(kept) => *kept = section,
            None => all.push(section),
        }
    }
    let mut out = format!(
        "# Time to a usable lobby on a thin link\n\n\
         Written by `cargo xtask bench lobby-load` (`e2e/benches/lobby_load.rs`). Each relay measured has a section \
         below, which says when and on what; a run rewrites the sections of the relays it measured and keeps the \
         others, so that a relay before a change and after it can be measured on different days (`--before PATH` \
         measures both in one run, on the same build of the SPA).\n\n\
         {HOW}\n\
         ## Summary\n\n\
         Navigation to a usable lobby, median milliseconds, and bytes transferred (median):\n\n"
    );
    out.push_str(&summary_markdown(&all));
    for section in &all {
        let _ = write!(out, "\n{SECTION_START}{} -->\n{}\n{SECTION_END}\n", section.data, section.markdown);
    }
    out
}

/// How the figures are measured (the report's fixed text).
const HOW: &str = "\
**What is timed**: from the start of the navigation to a room link (`/r/<room>`; t0 is the page's \
`performance.timeOrigin`) to the moment the lobby is **usable**: the name field (`#name`) enabled and the camera \
preview (`video#preview`) given the camera's stream, so that a person can type their name and press Join (the SPA \
enables `#join` once a name is typed, which a first visit has not, so Join enabled would time the typing). A probe \
that Chromium runs in every document before the page's own scripts (DevTools' \
`Page.addScriptToEvaluateOnNewDocument`) marks it with `performance.now()` from a DOM mutation observer and the \
preview's `loadstart`. The **first screen**, the lobby's name field rendered, i.e. the wasm downloaded, compiled and \
started, comes a moment before; between the two is getUserMedia, instant with Chromium's fake camera (a real one, \
and the permission prompt, add their own time, before and after alike). **wasm received** \
is the wasm's `responseEnd`.

**Visits**: *first visit*: a fresh Chromium with an empty profile, hence an empty HTTP cache, opens a room link. \
*repeat visit*: the same browser goes to `about:blank`, then opens another room's link: a new navigation, which uses \
the HTTP cache as the response headers allow. *reload*: that page reloaded (WebDriver's refresh, as the reload \
button): Chromium revalidates the page itself and uses its subresources from the cache as the headers allow. A run \
is one browser making the three visits; with two relays, their runs alternate.

**Bytes**: Resource Timing's `transferSize` (headers and body as received; 0 from the cache) of the navigation and \
every resource, summed, and per file: html (the navigation), js (the glue), wasm, css, `config.json`, the icon \
(which Chromium fetches by itself). A file \
is marked *(cache)* when it came from the HTTP cache without a request, *(304)* when it was revalidated, and with its \
content encoding (*br*, *gzip*) when it came compressed. A relay that sends no `Cache-Control`, only \
`Last-Modified`, leaves Chromium to guess: it reuses such a file without asking for a tenth of the time since it \
was modified (heuristic freshness), so that relay's repeat visits depend on the age of the build, which each \
section gives.

**The link**: only what the relay sends is shaped, by the kernel's token bucket filter (`tbf`) at the rate shown, on \
loopback inside the harness's network namespace: an `htb` root qdisc on `lo` with a `u32` filter on the relay's \
source port, `lo`'s MTU set to 1500, a 1 s queue (a mobile link's buffers are large; a short one makes TCP's \
retransmission timeouts add noise). The rate counts link-layer bytes, so TCP/IP headers take ~4% of \
it. Requests, and chromedriver's DevTools traffic, are not shaped. No latency is added (this kernel has no `netem`): \
a real thin link's round trip of 50 to 300 ms would add a few round trips to every figure, before and after alike. \
Each section's shaping check downloads the wasm through the shaper with a plain HTTP client, and 300 KB from another \
loopback port, which is not shaped.
";

/// One relay's figures in a row of the summary: its usable times and bytes transferred.
type Figures = (Vec<f64>, Vec<f64>);

/// The summary table: a row per link and visit, a pair of columns per relay.
fn summary_markdown(sections: &[Section]) -> String {
    // (rate in kbit/s, visit) -> relay label -> figures
    let mut rows: BTreeMap<(u32, Visit), BTreeMap<&str, Figures>> = BTreeMap::new();
    for section in sections {
        for row in section.data["rows"].as_array().into_iter().flatten() {
            let (Some(kbit), Some(visit)) =
                (row["rate_kbit"].as_u64(), row["visit"].as_str().and_then(Visit::from_key))
            else {
                continue;
            };
            let numbers = |key: &str| -> Vec<f64> {
                row[key].as_array().into_iter().flatten().filter_map(Value::as_f64).collect()
            };
            rows.entry((kbit as u32, visit))
                .or_default()
                .insert(section.label.as_str(), (numbers("usable_ms"), numbers("bytes")));
        }
    }
    let mut out = String::new();
    let headings: Vec<String> =
        sections.iter().map(|s| format!("`{0}`: usable (ms) | `{0}`: bytes", s.label)).collect();
    let _ = writeln!(out, "| link | visit | {} |", headings.join(" | "));
    let _ = writeln!(out, "|---|---|{}", "---:|---:|".repeat(sections.len()));
    let median = |values: &[f64]| {
        Summary::of(values).map(|s| thousands(s.median.round() as u64)).unwrap_or_else(|| "–".to_owned())
    };
    for ((kbit, visit), by_label) in &rows {
        let cells: Vec<String> = sections
            .iter()
            .map(|section| match by_label.get(section.label.as_str()) {
                Some((usable, bytes)) => format!("{} | {}", median(usable), median(bytes)),
                None => "– | –".to_owned(),
            })
            .collect();
        let _ = writeln!(out, "| {} | {} | {} |", Rate::kbit(*kbit), visit.label(), cells.join(" | "));
    }
    if rows.is_empty() {
        let _ = writeln!(out, "| – | – |{}", " – | – |".repeat(sections.len()));
    }
    out
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The command line of the benchmark.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Runs per relay and link.
    pub runs: usize,
    /// The link rates.
    pub rates: Vec<Rate>,
    /// The relay measured; `None`: the workspace's, as the e2e harness finds it.
    pub relay: Option<PathBuf>,
    /// Its label in the report.
    pub label: String,
    /// Another relay measured in the same run...
    pub before: Option<PathBuf>,
    /// ...and its label in the report ([`BEFORE`] unless told otherwise).
    pub before_label: String,
    /// The directory served; `None`: the workspace's `dist/`.
    pub dist: Option<PathBuf>,
    /// Where the report goes, if anywhere.
    pub out: Option<String>,
    /// Print browser consoles and relay logs, and the shaper's setup.
    pub verbose: bool,
    /// Print the usage.
    pub help: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runs: 5,
            rates: vec![Rate::kbit(600), Rate::kbit(2000)],
            relay: None,
            label: "current".to_owned(),
            before: None,
            before_label: BEFORE.to_owned(),
            dist: None,
            out: None,
            verbose: false,
            help: false,
        }
    }
}

/// The usage text of the benchmark.
pub const USAGE: &str = "\
Usage: cargo xtask bench lobby-load [-- OPTIONS]
   or: cargo bench -p huddle-e2e --bench lobby_load -- [OPTIONS]

Measures the time from navigating to a room link to a usable lobby (the name field enabled, the
camera preview acquired) and the bytes transferred, in headless Chromium inside a loopback-only
network where the kernel's tbf shapes what the relay sends to a thin link's rate: a first visit
(fresh profile), a repeat visit and a reload, each run in a fresh browser.

  --runs N              runs per relay and link rate (default 5)
  --rates LIST          link rates, comma-separated (default 600kbit,2mbit)
  --relay-binary PATH   the relay measured (default: the workspace's, as the e2e tests find it:
                        $HUDDLE_E2E_SERVER, else the newest target/{release,debug}/huddle-server)
  --label NAME          its section in the report (default current)
  --before PATH         also measure this relay in the same run; the two relays' runs
                        alternate, on the same dist/
  --before-label NAME   its section in the report (default before; e.g. \"before (a235d64)\")
  --dist DIR            serve DIR instead of the workspace's dist/ (a build of the SPA)
  --out FILE            write the report to FILE (relative to the workspace root), keeping the
                        sections of relays not measured in this run
  --verbose             print browser consoles, relay logs and the shaper's tc setup
";

impl Options {
    /// Parses the arguments (without the program name). `--bench`, which `cargo bench` passes, is accepted.
    pub fn parse(args: impl IntoIterator<Item = String>) -> std::result::Result<Options, String> {
        let mut options = Options::default();
        let mut args = cli::Args::new(args);
        while let Some(arg) = args.next() {
            match arg.flag.as_str() {
                "--runs" => {
                    let text = args.value(&arg)?;
                    options.runs = text.parse().map_err(|_| format!("--runs takes a whole number, not `{text}`"))?;
                }
                "--rates" => {
                    options.rates = args.value(&arg)?.split(',').map(Rate::parse).collect::<Result<_, _>>()?;
                }
                "--relay-binary" => options.relay = Some(PathBuf::from(args.value(&arg)?)),
                "--label" => options.label = args.value(&arg)?,
                "--before" => options.before = Some(PathBuf::from(args.value(&arg)?)),
                "--before-label" => options.before_label = args.value(&arg)?,
                "--dist" => options.dist = Some(PathBuf::from(args.value(&arg)?)),
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
        if options.rates.is_empty() {
            return Err("--rates needs at least one rate".to_owned());
        }
        for label in [&options.label, &options.before_label] {
            if label.is_empty() || label.contains("--") || label.contains(['`', '|', '\n']) {
                return Err(format!("the label `{label}` cannot name a report section (no `, |, -- or newline)"));
            }
        }
        if options.before.is_some() && options.label == options.before_label {
            return Err(format!("--before's relay and the other cannot both be labelled `{}`", options.label));
        }
        Ok(options)
    }
}

/// Has the browser run the probe in every document it opens from now on.
pub async fn install_probe(browser: &Browser) -> Result<()> {
    cdp::run_on_every_document(browser, PROBE).await
}

/// Waits, inside the page, until the lobby is usable; returns the load. One WebDriver call that returns when the
/// mark is taken (bounded by the script timeout): no polling disturbs the page meanwhile.
pub async fn wait_usable(browser: &Browser, visit: Visit) -> Result<Load> {
    const WHEN: &str = r#"
        const [mark, done] = arguments;
        if (!window.__lobbyLoad) return done({ error: 'the probe is not in this page' });
        window.__lobbyLoad.when(mark).then(done);
    "#;
    let reply = browser.eval_js_async(WHEN, vec![json!(USABLE)]).await?;
    if let Some(error) = reply["error"].as_str() {
        return Err(Error::Check(format!("{}: {error}", browser.label())));
    }
    Load::from_json(visit, &reply).map_err(|why| Error::Check(format!("{}: probe snapshot: {why}", browser.label())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, initiator: &str, transfer: u64, encoded: u64, decoded: u64) -> Value {
        json!({ "name": name, "initiator": initiator, "transfer": transfer, "encoded": encoded, "decoded": decoded,
                "response_end": 100.0, "delivery": "", "encoding": "" })
    }

    fn load(visit: Visit, usable: f64, entries: Vec<Value>) -> Load {
        let snapshot = json!({ "marks": { "first_screen": usable - 40.0, "usable": usable }, "entries": entries });
        Load::from_json(visit, &snapshot).unwrap()
    }

    fn first_visit(usable: f64) -> Load {
        load(
            Visit::First,
            usable,
            vec![
                entry("http://127.0.0.1:1/r/abc", "navigation", 2_300, 2_000, 2_000),
                entry("http://127.0.0.1:1/huddle-client-1.js", "link", 5_500, 5_200, 22_000),
                entry("http://127.0.0.1:1/huddle-client-1_bg.wasm", "link", 355_000, 354_600, 354_600),
                json!({ "name": "http://127.0.0.1:1/huddle-client-1_bg.wasm", "initiator": "fetch", "transfer": 0,
                        "encoded": 354_600, "decoded": 354_600, "response_end": 90.0, "delivery": "cache" }),
                entry("http://127.0.0.1:1/style-2.css", "link", 9_000, 8_700, 8_700),
                entry("http://127.0.0.1:1/config.json", "fetch", 320, 20, 20),
            ],
        )
    }

    #[test]
    fn files_are_sorted_by_what_they_are() {
        assert_eq!(Kind::of("http://h/r/abc", "navigation"), Kind::Html);
        assert_eq!(Kind::of("http://h/a_bg.wasm?x=1", "fetch"), Kind::Wasm);
        assert_eq!(Kind::of("http://h/a.js", "script"), Kind::Js);
        assert_eq!(Kind::of("http://h/s.css#x", "link"), Kind::Css);
        assert_eq!(Kind::of("http://h/config.json", "fetch"), Kind::Config);
        assert_eq!(Kind::of("http://h/favicon-1.svg", "other"), Kind::Icon);
        assert_eq!(Kind::of("http://h/r/abc", "fetch"), Kind::Other);
    }

    #[test]
    fn a_load_sums_its_transfers_and_says_how_files_came() {
        let first = first_visit(5_000.0);
        assert_eq!(first.usable_ms(), Some(5_000.0));
        assert_eq!(first.first_screen_ms(), Some(4_960.0));
        assert_eq!(first.transferred(None), 372_120);
        assert_eq!(first.transferred(Some(Kind::Wasm)), 355_000);
        assert_eq!(first.how_served(Kind::Wasm), "");
        assert_eq!(first.how_served(Kind::Js), "compressed");
        let mut js = json!({ "name": "http://h/a.js", "initiator": "script", "transfer": 4_900, "encoded": 4_700,
                             "decoded": 22_000, "delivery": "", "encoding": "br" });
        let repeat = load(
            Visit::Repeat,
            300.0,
            vec![
                entry("http://h/r/b", "navigation", 310, 2_000, 2_000),
                js.clone(),
                entry("http://h/a_bg.wasm", "fetch", 0, 354_600, 354_600),
            ],
        );
        assert_eq!(repeat.how_served(Kind::Html), "304");
        assert_eq!(repeat.how_served(Kind::Js), "br");
        assert_eq!(repeat.how_served(Kind::Wasm), "cache");
        js["delivery"] = json!("cache");
        js["transfer"] = json!(0);
        let cached = load(Visit::Reload, 200.0, vec![js.clone()]);
        assert_eq!(cached.how_served(Kind::Js), "cache");
        // Chromium's revalidated file: from the cache, with the 304's headers counted.
        js["transfer"] = json!(300);
        let revalidated = load(Visit::Reload, 200.0, vec![js]);
        assert_eq!(revalidated.how_served(Kind::Js), "304");
        assert!(Load::from_json(Visit::First, &json!({ "marks": { "usable": "soon" }, "entries": [] })).is_err());
    }

    fn measured(label: &str, usable: &[f64]) -> Measured {
        let mut relay = Measured { label: label.to_owned(), ..Measured::default() };
        relay.checks.push("600 kbit/s: fine".to_owned());
        for &ms in usable {
            relay.series_mut(Rate::kbit(600), Visit::First).loads.push(first_visit(ms));
        }
        relay.series_mut(Rate::kbit(600), Visit::Repeat).failures.push("timed out\nmore".to_owned());
        relay
    }

    #[test]
    fn a_section_tabulates_medians_and_failures() {
        let section = measured("before", &[5_000.0, 5_400.0, 5_100.0]).markdown();
        assert!(section.starts_with("## `before`\n"), "{section}");
        assert!(section.contains("- 600 kbit/s: fine\n"), "{section}");
        assert!(
            section.contains(
                "| 600 kbit/s | first visit | 3 | **5,100** | 5,000 | 5,400 | 5,060 | 100 | 372,120 | 2,300 | \
                 5,500 (compressed) | 355,000 | 9,000 | 320 |"
            ),
            "{section}"
        );
        assert!(section.contains("| 600 kbit/s | repeat visit | 0 | **–** |"), "{section}");
        assert!(section.contains("- 600 kbit/s, repeat visit: timed out\n"), "{section}");
    }

    #[test]
    fn the_report_keeps_the_sections_of_relays_not_measured_again() {
        let first = report(None, &[measured("before", &[5_000.0])]);
        assert!(first.contains("| `before`: usable (ms) | `before`: bytes |"), "{first}");
        assert!(first.contains("| 600 kbit/s | first visit | 5,000 | 372,120 |"), "{first}");
        let second = report(Some(&first), &[measured("current", &[1_800.0, 2_000.0])]);
        assert!(second.contains("| 600 kbit/s | first visit | 5,000 | 372,120 | 1,900 | 372,120 |"), "{second}");
        assert!(second.contains("| 600 kbit/s | repeat visit | – | – | – | – |"), "{second}");
        assert_eq!(sections(&second).iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["before", "current"]);
        let third = report(Some(&second), &[measured("before", &[4_000.0])]);
        assert_eq!(sections(&third).iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["before", "current"]);
        assert!(third.contains("| 600 kbit/s | first visit | 4,000 | 372,120 | 1,900 | 372,120 |"), "{third}");
        assert_eq!(report(Some(&third), &[]), third);
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(354_604), "354,604");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn options_accept_what_cargo_bench_passes() {
        let parse = |args: &[&str]| Options::parse(args.iter().map(|a| a.to_string()));
        assert_eq!(parse(&["--bench"]).unwrap(), Options::default());
        let options = parse(&[
            "--runs=3",
            "--rates",
            "600kbit,1mbit",
            "--before",
            "/tmp/old",
            "--relay-binary",
            "/tmp/new",
            "--label",
            "after",
            "--out",
            "bench/lobby-load.md",
        ])
        .unwrap();
        assert_eq!(options.runs, 3);
        assert_eq!(options.rates, [Rate::kbit(600), Rate::kbit(1000)]);
        assert_eq!(options.before.as_deref(), Some(std::path::Path::new("/tmp/old")));
        assert_eq!(options.relay.as_deref(), Some(std::path::Path::new("/tmp/new")));
        assert_eq!((options.label.as_str(), options.out.as_deref()), ("after", Some("bench/lobby-load.md")));
        assert!(parse(&["--runs", "0"]).is_err());
        assert!(parse(&["--rates", "fast"]).is_err());
        assert!(parse(&["--label", "a|b"]).is_err());
        assert!(parse(&["--before", "/tmp/old", "--label", "before"]).is_err());
        let labelled = parse(&["--before", "/tmp/old", "--before-label", "before (a235d64)"]).unwrap();
        assert_eq!(labelled.before_label, "before (a235d64)");
        assert!(parse(&["--before-label", "a--b"]).is_err());
        assert!(parse(&["--fast"]).is_err());
    }
}
