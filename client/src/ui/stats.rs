//! The call statistics side panel: per peer, how media travels, bitrates, round trip, loss, and the received video,
//! with sparklines of the last minute.
//!
//! It polls `getStats()` once a second, only while open, and keeps the history in its own state: each update
//! re-renders this panel alone, never the video tiles.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_timers::callback::Interval;
use huddle_common::PeerId;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::call::decimal::{fixed, trimmed};
use crate::call::peer_input::DropCounts;
use crate::call::stats::{format_kbps, format_ms, format_percent, PeerHistory, Sample, Sparkline, HISTORY};
use crate::rtc::engine::Engine;
use crate::rtc::stats::{now_ms, reports, snapshot};
use crate::small_map::SmallMap;

/// How often the panel reads the statistics.
const POLL_MS: u32 = 1_000;
/// The sparklines' viewBox.
const GRAPH_WIDTH: f64 = 120.0;
const GRAPH_HEIGHT: f64 = 28.0;

/// Properties of [`StatsPanel`].
#[derive(Properties, PartialEq)]
pub struct StatsPanelProps {
    /// The call whose connections to read.
    pub engine: Engine,
    /// Who is in the call, in order: id and name.
    pub peers: Vec<(PeerId, AttrValue)>,
    /// Close the panel.
    pub on_close: Callback<()>,
}

/// What the panel keeps between polls (outside Yew's state, so that an update is one re-render and no copy).
#[derive(Default)]
struct Readings {
    peers: SmallMap<PeerId, PeerHistory>,
    /// What each peer sent that was dropped (`call::peer_input`), as of the latest poll.
    dropped: SmallMap<PeerId, DropCounts>,
    /// When the latest poll asked the browser, and when its reports arrived (the page's own work starting), until
    /// the render showing it is done.
    poll_times: Option<(f64, f64)>,
}

/// The statistics panel.
#[function_component(StatsPanel)]
pub fn stats_panel(props: &StatsPanelProps) -> Html {
    let readings = use_mut_ref(Readings::default);
    let rerender = use_force_update();
    let panel = use_node_ref();
    let close_button = use_node_ref();
    {
        let (readings, rerender) = (readings.clone(), rerender.clone());
        use_effect_with(props.engine.clone(), move |engine| {
            let alive = Rc::new(Cell::new(true));
            let poll = poller(engine.clone(), readings, Rc::clone(&alive), move || rerender.force_update());
            poll();
            let interval = Interval::new(POLL_MS, poll);
            move || {
                alive.set(false);
                drop(interval);
            }
        });
    }
    // After each render, for the curious (and the end-to-end test): how long the last update took from asking the
    // browser to showing it (`data-update-ms`), and how much of that was the page's own work (`data-work-ms`:
    // reading the reports, computing, rendering; the rest the browser spends gathering, off the main thread).
    {
        let (readings, panel) = (readings.clone(), panel.clone());
        use_effect(move || {
            let times = readings.borrow_mut().poll_times.take();
            if let (Some((asked, arrived)), Some(panel)) = (times, panel.cast::<web_sys::Element>()) {
                let now = now_ms();
                let _ = panel.set_attribute("data-update-ms", &fixed(now - asked, 1));
                let _ = panel.set_attribute("data-work-ms", &fixed(now - arrived, 1));
            }
        });
    }
    {
        let close_button = close_button.clone();
        use_effect_with((), move |_| {
            if let Some(button) = close_button.cast::<web_sys::HtmlElement>() {
                let _ = button.focus();
            }
        });
    }
    // Closing hands the focus back to the button that opens the panel.
    let close = {
        let on_close = props.on_close.clone();
        Callback::from(move |()| {
            on_close.emit(());
            if let Some(button) = web_sys::window()
                .and_then(|window| window.document())
                .and_then(|document| document.get_element_by_id("toggle-stats"))
                .and_then(|element| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(element).ok())
            {
                let _ = button.focus();
            }
        })
    };
    let on_keydown = {
        let close = close.clone();
        Callback::from(move |event: KeyboardEvent| {
            if event.key() == "Escape" {
                event.prevent_default();
                event.stop_propagation();
                close.emit(());
            }
        })
    };

    let readings = readings.borrow();
    html! {
        <aside id="stats" class="stats" aria-label="Call statistics" ref={panel} onkeydown={on_keydown}>
            <header>
                <h2>{ "Call statistics" }</h2>
                <button type="button" class="icon" aria-label="Close call statistics" ref={close_button}
                    onclick={close.reform(|_| ())}>{ "✕" }</button>
            </header>
            <div class="stats-peers">
                if props.peers.is_empty() {
                    <p class="stats-empty">{ "Statistics appear here once someone joins." }</p>
                }
                { for props.peers.iter().map(|(id, name)| {
                    peer_stats(id, name, readings.peers.get(id), readings.dropped.get(id).copied().unwrap_or_default())
                }) }
            </div>
            <p class="stats-footnote">{ "Last minute, updated every second while this panel is open." }</p>
        </aside>
    }
}

/// The poll: reads every connection's statistics at once, adds them to the histories, re-renders. A poll still
/// waiting for the browser when the next is due is not doubled up.
fn poller(
    engine: Engine,
    readings: Rc<RefCell<Readings>>,
    alive: Rc<Cell<bool>>,
    rerender: impl Fn() + Clone + 'static,
) -> impl Fn() + 'static {
    let busy = Rc::new(Cell::new(false));
    move || {
        if busy.replace(true) {
            return;
        }
        let (engine, readings, alive, busy, rerender) =
            (engine.clone(), readings.clone(), alive.clone(), busy.clone(), rerender.clone());
        spawn_local(async move {
            let asked = now_ms();
            let connections = engine.peer_connections();
            let pcs: Vec<_> = connections.iter().map(|(_, pc)| pc.clone()).collect();
            let reports = reports(&pcs).await;
            busy.set(false);
            if !alive.get() {
                return;
            }
            let arrived = now_ms();
            {
                let mut readings = readings.borrow_mut();
                readings.peers.retain(|peer, _| connections.iter().any(|(id, _)| id == peer));
                readings.dropped = connections.iter().map(|(id, _)| (id.clone(), engine.dropped_from(id))).collect();
                for ((peer, _), report) in connections.into_iter().zip(reports) {
                    match report {
                        Ok(report) => {
                            readings.peers.get_or_insert_with(peer, PeerHistory::default).push(snapshot(&report))
                        }
                        // A connection closing as we ask: it drops out of the list on the next poll.
                        Err(error) => web_sys::console::warn_2(&"getStats failed:".into(), &error),
                    }
                }
                readings.poll_times = Some((asked, arrived));
            }
            rerender();
        });
    }
}

/// One peer's section (keyed by the peer).
fn peer_stats(id: &PeerId, name: &AttrValue, history: Option<&PeerHistory>, dropped: DropCounts) -> Html {
    let empty = PeerHistory::default();
    let history = history.unwrap_or(&empty);
    let latest = history.latest().cloned().unwrap_or_default();
    let heading = format!("stats-name-{id}");
    let unknown = || "—".to_owned();
    let (path, relayed) = match &latest.path {
        Some(path) => (path.label(), path.is_relayed()),
        None => ("Finding a path…".to_owned(), false),
    };
    let loss = latest.loss_percent.map_or_else(unknown, format_percent);
    let fps = latest.fps.map_or_else(unknown, |fps| format!("{} fps", fixed(fps, 0)));
    let resolution = latest.resolution.map_or_else(unknown, |(width, height)| format!("{width}x{height}"));
    let codec = latest.codec.clone().unwrap_or_else(unknown);
    html! {
        <section key={id.to_string()} class="stats-peer" data-peer-id={id.to_string()} aria-labelledby={heading.clone()}>
            <header class="stats-peer-head">
                <h3 id={heading}>{ name.clone() }</h3>
                <span class={classes!("stats-path", relayed.then_some("relayed"))} title="How media travels">
                    { path }
                </span>
            </header>
            { graph(Measure::BitrateIn, history, latest.bitrate_in_kbps) }
            { graph(Measure::BitrateOut, history, latest.bitrate_out_kbps) }
            { graph(Measure::Rtt, history, latest.rtt_ms) }
            <dl class="stats-facts">
                <div><dt>{ "Packet loss" }</dt><dd class="stats-loss">{ loss }</dd></div>
                <div><dt>{ "Frame rate" }</dt><dd class="stats-fps">{ fps }</dd></div>
                <div><dt>{ "Resolution" }</dt><dd class="stats-resolution">{ resolution }</dd></div>
                <div><dt>{ "Codec" }</dt><dd class="stats-codec">{ codec }</dd></div>
            </dl>
            if let Some(dropped_text) = dropped.describe() {
                <p class="stats-dropped" data-too-fast={dropped.too_fast.to_string()}
                    data-malformed={dropped.malformed.to_string()} data-too-big={dropped.too_big.to_string()}>
                    { format!("From {name}: {dropped_text}") }
                </p>
            }
        </section>
    }
}

/// What a graph draws.
#[derive(Clone, Copy, PartialEq)]
enum Measure {
    BitrateIn,
    BitrateOut,
    Rtt,
}

impl Measure {
    /// Its value in a sample.
    fn of(self, sample: &Sample) -> Option<f64> {
        match self {
            Measure::BitrateIn => sample.bitrate_in_kbps,
            Measure::BitrateOut => sample.bitrate_out_kbps,
            Measure::Rtt => sample.rtt_ms,
        }
    }

    /// The class of its value (the UI contract's selector), its colour and its label.
    fn look(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Measure::BitrateIn => ("stats-bitrate-in", "in", "Receiving"),
            Measure::BitrateOut => ("stats-bitrate-out", "out", "Sending"),
            Measure::Rtt => ("stats-rtt", "rtt", "Round trip"),
        }
    }

    fn format(self, value: f64) -> String {
        match self {
            Measure::BitrateIn | Measure::BitrateOut => format_kbps(value),
            Measure::Rtt => format_ms(value),
        }
    }
}

/// A labelled value with a sparkline of its last minute.
fn graph(measure: Measure, history: &PeerHistory, value: Option<f64>) -> Html {
    let (class, tone, label) = measure.look();
    let line = Sparkline::new(&history.series(|sample| measure.of(sample)), HISTORY, GRAPH_WIDTH, GRAPH_HEIGHT, 1.5);
    let description = if line.len == 0 {
        format!("{label}: no readings yet")
    } else {
        format!("{label} over the last minute, peaking at {}", measure.format(line.max))
    };
    let value = value.map_or_else(|| "—".to_owned(), |value| measure.format(value));
    html! {
        <div class={classes!("stats-graph", tone)}>
            <div class="stats-graph-head">
                <span class="stats-label">{ label }</span>
                <span class={classes!("stats-value", class)}>{ value }</span>
            </div>
            <svg class="sparkline" viewBox={format!("0 0 {} {}", trimmed(GRAPH_WIDTH, 2), trimmed(GRAPH_HEIGHT, 2))} preserveAspectRatio="none"
                role="img" aria-label={description}>
                <polygon class="sparkline-area" points={line.area} />
                <polyline points={line.points} fill="none" stroke="currentColor" stroke-width="1.5"
                    stroke-linejoin="round" stroke-linecap="round" vector-effect="non-scaling-stroke" />
            </svg>
        </div>
    }
}
