//! The slot attack on Huddle's relay, with every limit at its default: from one address, sockets that send a request
//! line and then dribble header bytes, and sockets that upgrade to a WebSocket and never join (answering pings), each
//! reopened a second after the relay refuses or cuts it. After a while the attacker stops reopening, and the relay's
//! deadlines clear what it still holds. Meanwhile a bystander at another address fetches `/healthz` and opens,
//! joins and closes a WebSocket, over and over. Prints the slots the attacker held (the relay's own gauges), what
//! the relay refused and cut, its memory, and the bystander's successes and latency; asserts nothing about speed.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use huddle_common::{close_code, ClientMessage, Join, RoomId, ServerMessage, PROTOCOL_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::procfs;
use crate::prometheus;
use crate::servers::Server;
use crate::stats;

/// The attacker's address.
const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 66);
/// The bystander's address.
const BYSTANDER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 77);
/// How long one bystander probe may take before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an attacking socket waits before it is reopened.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

/// The attack's size.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Sockets dribbling request headers.
    pub dribblers: usize,
    /// WebSockets that never join.
    pub idlers: usize,
    /// How long the bystander probes before the attack starts.
    pub baseline: Duration,
    /// How long the attacker keeps reopening what the relay refuses or cuts.
    pub attack: Duration,
    /// How long the run goes on after the attacker stops reopening.
    pub aftermath: Duration,
    /// Time between two bystander probes.
    pub probe_every: Duration,
}

#[derive(Default)]
struct Counters {
    refused_at_accept: AtomicU64,
    refused_at_upgrade: AtomicU64,
    cut_by_header_timeout: AtomicU64,
    cut_by_join_timeout: AtomicU64,
    upgraded: AtomicU64,
    other: AtomicU64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Before,
    Attack,
    After,
}

impl Phase {
    const ALL: [Phase; 3] = [Phase::Before, Phase::Attack, Phase::After];

    fn at(offset: Duration, plan: &Plan) -> Phase {
        if offset < plan.baseline {
            Phase::Before
        } else if offset < plan.baseline + plan.attack {
            Phase::Attack
        } else {
            Phase::After
        }
    }

    fn name(self) -> &'static str {
        match self {
            Phase::Before => "before the attack",
            Phase::Attack => "while attacked",
            Phase::After => "after it stopped reopening",
        }
    }
}

/// One bystander probe: when, and how long it took (or why it failed).
struct Probe {
    phase: Phase,
    http: Result<Duration, String>,
    join: Result<Duration, String>,
}

/// One second of the run, as the relay saw it.
struct Sample {
    at: Duration,
    in_http: f64,
    websockets: f64,
    rss_kib: u64,
}

/// Runs the attack against a Huddle relay started with [`Profile::Defaults`](crate::servers::Profile::Defaults); prints
/// the figures as it goes and returns them as a Markdown section.
pub async fn run(server: &Server, plan: Plan) -> Result<String, String> {
    let addr = server.addr;
    let start = Instant::now();
    let attack_from = start + plan.baseline;
    let stop_reopening = attack_from + plan.attack;
    let end = stop_reopening + plan.aftermath;
    let counters = Arc::new(Counters::default());
    let probes = Arc::new(Mutex::new(Vec::new()));

    let bystander = {
        let probes = Arc::clone(&probes);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(plan.probe_every);
            let mut n = 0u64;
            while Instant::now() < end {
                tick.tick().await;
                let phase = Phase::at(start.elapsed(), &plan);
                let http = probe_http(addr).await;
                n += 1;
                let join = probe_join(addr, n).await;
                probes.lock().expect("not poisoned").push(Probe { phase, http, join });
            }
        })
    };

    let mut samples = Vec::new();
    let mut attackers = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < end {
        tick.tick().await;
        if attackers.is_empty() && Instant::now() >= attack_from {
            // The WebSockets first, so that the dribblers do not hold every HTTP place they need to upgrade.
            for _ in 0..plan.idlers {
                attackers.push(tokio::spawn(idler(addr, Arc::clone(&counters), stop_reopening)));
            }
            for _ in 0..plan.dribblers {
                attackers.push(tokio::spawn(dribbler(addr, Arc::clone(&counters), stop_reopening)));
            }
        }
        let metrics = prometheus::fetch(addr).await.map_err(|error| format!("/metrics: {error}"))?;
        let gauge = |name| prometheus::sample(&metrics, name).unwrap_or(f64::NAN);
        // The request that reads /metrics is itself a connection in HTTP.
        let sample = Sample {
            at: start.elapsed(),
            in_http: gauge("huddle_http_connections") - 1.0,
            websockets: gauge("huddle_connections"),
            rss_kib: procfs::rss_kib(server.pid()).map_err(|error| error.to_string())?,
        };
        println!(
            "    {:>3} s  {:<27} in HTTP {:>4}  WebSockets {:>4}  RSS {:>6} KiB",
            sample.at.as_secs(),
            Phase::at(sample.at, &plan).name(),
            sample.in_http,
            sample.websockets,
            sample.rss_kib
        );
        samples.push(sample);
    }
    for attacker in attackers {
        attacker.abort();
    }
    let _ = bystander.await;
    let probes = std::mem::take(&mut *probes.lock().expect("not poisoned"));
    Ok(summarize(&plan, &counters, &samples, &probes))
}

/// A TCP connection from `source`.
async fn connect_from(addr: SocketAddr, source: Ipv4Addr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source.into(), 0))?;
    socket.connect(addr).await
}

/// Opens a socket, sends a request line, then one header byte a second until the relay answers or hangs up.
async fn dribbler(addr: SocketAddr, counters: Arc<Counters>, stop_reopening: Instant) {
    while Instant::now() < stop_reopening {
        let Ok(mut stream) = connect_from(addr, ATTACKER).await else {
            counters.other.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(REOPEN_AFTER).await;
            continue;
        };
        let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: relay\r\nX-Slow: ").await;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut answer = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                },
                _ = tick.tick() => {
                    if stream.write_all(b"a").await.is_err() {
                        break;
                    }
                }
            }
        }
        let counter = if answer.starts_with(b"HTTP/1.1 503") {
            &counters.refused_at_accept
        } else if answer.is_empty() {
            &counters.cut_by_header_timeout
        } else {
            &counters.other
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(REOPEN_AFTER).await;
    }
}

/// Upgrades to a WebSocket and never joins, answering pings, until the relay closes it.
async fn idler(addr: SocketAddr, counters: Arc<Counters>, stop_reopening: Instant) {
    while Instant::now() < stop_reopening {
        let upgrade = async {
            let stream = connect_from(addr, ATTACKER).await.map_err(tungstenite::Error::Io)?;
            tokio_tungstenite::client_async(format!("ws://{addr}/ws"), stream).await
        };
        match upgrade.await {
            Ok((mut ws, _)) => {
                counters.upgraded.fetch_add(1, Ordering::Relaxed);
                // Reading answers the relay's pings.
                let mut code = None;
                while let Some(Ok(frame)) = ws.next().await {
                    if let Message::Close(frame) = frame {
                        code = frame.map(|frame| u16::from(frame.code));
                    }
                }
                let counter = if code == Some(close_code::JOIN_TIMEOUT) {
                    &counters.cut_by_join_timeout
                } else {
                    &counters.other
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Err(tungstenite::Error::Http(response)) if response.status() == 429 => {
                counters.refused_at_upgrade.fetch_add(1, Ordering::Relaxed);
            }
            Err(tungstenite::Error::Http(response)) if response.status() == 503 => {
                counters.refused_at_accept.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                counters.other.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(REOPEN_AFTER).await;
    }
}

/// `GET /healthz` from the bystander's address: the time to the whole answer.
async fn probe_http(addr: SocketAddr) -> Result<Duration, String> {
    let started = Instant::now();
    let exchange = async {
        let mut stream = connect_from(addr, BYSTANDER).await.map_err(|error| format!("connect: {error}"))?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n")
            .await
            .map_err(|error| format!("write: {error}"))?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.map_err(|error| format!("read: {error}"))?;
        if !response.starts_with(b"HTTP/1.1 200") {
            let line = String::from_utf8_lossy(&response).lines().next().unwrap_or("nothing").to_owned();
            return Err(format!("answered {line}"));
        }
        Ok(started.elapsed())
    };
    timeout(PROBE_TIMEOUT, exchange).await.map_err(|_| "timed out".to_owned())?
}

/// A WebSocket from the bystander's address that joins a room of its own: the time from connecting to `joined`.
async fn probe_join(addr: SocketAddr, n: u64) -> Result<Duration, String> {
    let started = Instant::now();
    let exchange = async {
        let stream = connect_from(addr, BYSTANDER).await.map_err(|error| format!("connect: {error}"))?;
        let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), stream)
            .await
            .map_err(|error| format!("upgrade: {error}"))?;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        bytes[8..].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
        let room = RoomId::from_random(bytes);
        let join =
            Join { version: PROTOCOL_VERSION, room: room.as_str().into(), name: "Bystander".into(), resume: None };
        let text = serde_json::to_string(&ClientMessage::Join(join)).expect("serializes");
        ws.send(Message::Text(text)).await.map_err(|error| format!("send: {error}"))?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerMessage>(&text) {
                    Ok(ServerMessage::Joined(_)) => break,
                    _ => return Err(format!("expected joined, got {text}")),
                },
                Some(Ok(_)) => {}
                other => return Err(format!("connection ended: {other:?}")),
            }
        }
        let took = started.elapsed();
        let _ = ws.close(None).await;
        Ok(took)
    };
    timeout(PROBE_TIMEOUT, exchange).await.map_err(|_| "timed out".to_owned())?
}

/// Prints the figures and returns them as Markdown.
fn summarize(plan: &Plan, counters: &Counters, samples: &[Sample], probes: &[Probe]) -> String {
    let mut lines = Vec::new();
    let attack_end = plan.baseline + plan.attack;
    let peak = |phase: Phase, pick: fn(&Sample) -> f64| {
        samples.iter().filter(|s| Phase::at(s.at, plan) == phase).map(pick).fold(0.0, f64::max)
    };
    lines.push(format!(
        "Attacker ({ATTACKER}, one address): {} header-dribbling sockets and {} WebSockets that never join, each \
         reopened {} s after the relay refused or cut it, for {} s; then {} s without reopening. Relay: Huddle's \
         defaults.",
        plan.dribblers,
        plan.idlers,
        REOPEN_AFTER.as_secs(),
        plan.attack.as_secs(),
        plan.aftermath.as_secs()
    ));
    lines.push(format!(
        "Slots held at most while attacked: {} connections in HTTP, {} WebSockets (the relay's gauges).",
        peak(Phase::Attack, |s| s.in_http),
        peak(Phase::Attack, |s| s.websockets)
    ));
    let cleared = samples.iter().find(|s| s.at >= attack_end && s.in_http <= 0.0 && s.websockets <= 0.0);
    let held_at_end = samples.last().map_or((f64::NAN, f64::NAN), |s| (s.in_http, s.websockets));
    lines.push(format!(
        "After it stopped reopening: nothing held {}; at the end {} in HTTP, {} WebSockets.",
        cleared.map_or("within the run".to_owned(), |s| format!(
            "{} s later (sampled each second)",
            (s.at - attack_end).as_secs()
        )),
        held_at_end.0,
        held_at_end.1
    ));
    let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    lines.push(format!(
        "Refused: {} at accept (503), {} at upgrade (429). Upgraded: {}. Cut: {} by the header-read timeout, {} by the \
         join timeout (4003). Anything else: {}.",
        count(&counters.refused_at_accept),
        count(&counters.refused_at_upgrade),
        count(&counters.upgraded),
        count(&counters.cut_by_header_timeout),
        count(&counters.cut_by_join_timeout),
        count(&counters.other)
    ));
    let rss = |phase: Phase| samples.iter().filter(|s| Phase::at(s.at, plan) == phase).map(|s| s.rss_kib).max();
    lines.push(format!(
        "Relay RSS, highest: {} KiB before, {} KiB while attacked, {} KiB after.",
        rss(Phase::Before).unwrap_or(0),
        rss(Phase::Attack).unwrap_or(0),
        rss(Phase::After).unwrap_or(0)
    ));
    for phase in Phase::ALL {
        let of_phase: Vec<&Probe> = probes.iter().filter(|p| p.phase == phase).collect();
        for (what, pick) in [
            ("GET /healthz", (|p: &Probe| &p.http) as fn(&Probe) -> &Result<Duration, String>),
            ("WebSocket to joined", |p: &Probe| &p.join),
        ] {
            let mut ok: Vec<u64> =
                of_phase.iter().filter_map(|p| pick(p).as_ref().ok()).map(|d| d.as_nanos() as u64).collect();
            let failed: Vec<&String> = of_phase.iter().filter_map(|p| pick(p).as_ref().err()).collect();
            let latency = stats::summarize(&mut ok).map_or("no success".to_owned(), |s| {
                format!("p50 {}, max {}", stats::human(s.p50), stats::human(s.max))
            });
            let first_failure = failed.first().map_or(String::new(), |error| format!(" (first: {error})"));
            lines.push(format!(
                "Bystander ({BYSTANDER}) {what}, {}: {} of {} succeeded, {latency}{first_failure}.",
                phase.name(),
                of_phase.len() - failed.len(),
                of_phase.len()
            ));
        }
    }
    for line in &lines {
        println!("    {line}");
    }
    let mut markdown = String::from("\n## Slot attack\n\nWritten by `huddle-bench slots` (`bench/src/slots.rs`).\n\n");
    for line in lines {
        markdown.push_str(&format!("- {line}\n"));
    }
    markdown
}
