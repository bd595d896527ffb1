//! The stalled-receiver attack on Huddle's relay, run with its default limits: pairs of clients in a room of their
//! own, one sending big signals as fast as the relay takes them, the other never reading them, so that whatever the
//! relay holds for a client that does not read is all it holds. Measured: the relay's resident memory before and
//! during the attack (per stalled receiver), the bytes it read from the senders, and the signal round trip of a
//! bystander pair in another room, without and with the attack. Prints figures; asserts nothing.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use huddle_common::{ClientMessage, Join, PeerId, RoomId, ServerMessage, SignalPayload, PROTOCOL_VERSION};
use tokio::net::TcpSocket;
use tokio::time::{timeout_at, Instant};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Ws};
use crate::servers::Server;
use crate::stats;
use crate::{procfs, prometheus};

/// The attack's size.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Sender and stalled receiver pairs, each in a room of its own.
    pub pairs: u64,
    /// Signals each sender sends its receiver at most.
    pub signals: u64,
    /// How long the senders send (those the relay reads slowly send fewer signals).
    pub sending_for: Duration,
    /// Bytes of each signal's SDP (the message is a little bigger).
    pub sdp_bytes: usize,
    /// Bystander round trips measured, without the attack and again with it.
    pub round_trips: usize,
}

/// What the attack did to the relay.
#[derive(Clone, Debug)]
pub struct Stalled {
    /// Relay RSS with the bystanders connected, before the attack, KiB.
    pub rss_before_kib: u64,
    /// Highest relay RSS seen from the attack's start until its receivers were cut off, KiB.
    pub rss_peak_kib: u64,
    /// Highest `huddle_queued_bytes` seen (None: the relay has no such gauge).
    pub queued_peak_bytes: Option<f64>,
    /// Stalled receivers the relay cut off: for their queue (`slow_consumer`), the budget (`queue_budget`) or a
    /// stalled write (`write_timeout`); None where the relay has no such counter.
    pub cut_off: [(&'static str, Option<f64>); 3],
    /// How long from the attack's start until the relay held nothing for anyone (None: not within the wait).
    pub drained_after: Option<Duration>,
    /// Bytes the relay read from clients from the attack's start until the senders stopped, and how long that was
    /// (None: the relay does not count them).
    pub read: Option<(f64, Duration)>,
    /// Times the relay paused reading a connection for its read rate (None: no such counter).
    pub read_pauses: Option<f64>,
    /// Bystander round trips without the attack.
    pub quiet: stats::LatencySummary,
    /// Bystander round trips during the attack.
    pub attacked: stats::LatencySummary,
}

impl Stalled {
    /// Resident memory the attack added, per stalled receiver, MiB.
    pub fn mib_per_receiver(&self, pairs: u64) -> f64 {
        self.rss_peak_kib.saturating_sub(self.rss_before_kib) as f64 / 1024.0 / pairs.max(1) as f64
    }
}

/// How long any one step may take.
const STEP: Duration = Duration::from_secs(20);

/// Runs the attack against a relay that was just started.
pub async fn run(server: &Server, plan: Plan) -> Result<Stalled, String> {
    let rss = || procfs::rss_kib(server.pid()).map_err(|error| error.to_string());
    let (mut ping, mut pong) = bystanders(server.addr).await?;
    let quiet = round_trips(&mut ping, &mut pong, plan.round_trips).await?;
    let rss_before_kib = rss()?;
    let bytes_received = || async {
        let metrics = prometheus::fetch(server.addr).await.map_err(|error| error.to_string())?;
        Ok::<_, String>(prometheus::sample(&metrics, "huddle_bytes_received_total"))
    };
    let received_before = bytes_received().await?;

    let started = Instant::now();
    let mut attack = Some(tokio::spawn(attack(server.addr, plan)));
    // The bystanders measure while the attack runs; the relay's memory is watched meanwhile.
    let measuring = tokio::spawn(async move {
        let summary = round_trips(&mut ping, &mut pong, plan.round_trips).await;
        (summary, ping, pong)
    });
    let mut rss_peak_kib = rss_before_kib;
    let mut queued_peak_bytes = None::<f64>;
    let mut drained_after = None;
    let mut receivers = None;
    let mut read = None;
    while started.elapsed() < Duration::from_secs(120) {
        rss_peak_kib = rss_peak_kib.max(rss()?);
        let metrics = prometheus::fetch(server.addr).await.map_err(|error| error.to_string())?;
        let queued = prometheus::sample(&metrics, "huddle_queued_bytes");
        if let Some(queued) = queued {
            queued_peak_bytes = Some(queued_peak_bytes.unwrap_or(0.0).max(queued));
        }
        if let Some(finished) = attack.take_if(|attack| attack.is_finished()) {
            receivers = Some(finished.await.map_err(|error| format!("the attack panicked: {error}"))??);
            let received = prometheus::sample(&metrics, "huddle_bytes_received_total");
            read = received.zip(received_before).map(|(after, before)| (after - before, started.elapsed()));
        }
        // Done once every signal is sent and the relay holds nothing (or, without the gauge, at once).
        if receivers.is_some() && measuring.is_finished() && queued.unwrap_or(0.0) == 0.0 {
            drained_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (attacked, _ping, _pong) = measuring.await.map_err(|error| format!("the bystanders panicked: {error}"))?;
    let attacked = attacked?;
    let metrics = prometheus::fetch(server.addr).await.map_err(|error| error.to_string())?;
    let cut_off = ["slow_consumer", "queue_budget", "write_timeout"].map(|reason| {
        (reason, prometheus::sample(&metrics, &format!("huddle_rejections_total{{reason=\"{reason}\"}}")))
    });
    let read_pauses = prometheus::sample(&metrics, "huddle_read_pauses_total");
    drop(receivers);
    Ok(Stalled {
        rss_before_kib,
        rss_peak_kib,
        queued_peak_bytes,
        cut_off,
        drained_after,
        read,
        read_pauses,
        quiet,
        attacked,
    })
}

/// Room `index` of this phase.
fn room_id(index: u64) -> RoomId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&index.to_be_bytes());
    bytes[8..].copy_from_slice(b"stalled!");
    RoomId::from_random(bytes)
}

async fn send(ws: &mut Ws, message: &ClientMessage) -> Result<(), String> {
    let text = serde_json::to_string(message).expect("serializes");
    timeout_at(Instant::now() + STEP, ws.send(Message::Text(text)))
        .await
        .map_err(|_| "send timed out".to_owned())?
        .map_err(|error| format!("send: {error}"))
}

/// Joins `room` as `name`; the peer id.
async fn join(ws: &mut Ws, room: &RoomId, name: &str) -> Result<PeerId, String> {
    let join = Join { version: PROTOCOL_VERSION, room: room.as_str().into(), name: name.into(), resume: None };
    send(ws, &ClientMessage::Join(join)).await?;
    let deadline = Instant::now() + STEP;
    loop {
        let text = client::next_text(ws, deadline).await?;
        match serde_json::from_str(&text).map_err(|error| format!("{error}: {text}"))? {
            ServerMessage::Joined(joined) => return Ok(joined.peer_id),
            ServerMessage::Error { code, message } => {
                return Err(format!("join refused: {}: {message}", code.as_str()))
            }
            _ => {}
        }
    }
}

/// A client whose socket takes little (a small receive buffer), as a client that stopped reading soon does.
async fn connect_small(server: SocketAddr, source: std::net::Ipv4Addr) -> Result<Ws, String> {
    let socket = TcpSocket::new_v4().map_err(|error| format!("socket: {error}"))?;
    socket.set_recv_buffer_size(4096).map_err(|error| format!("SO_RCVBUF: {error}"))?;
    socket.bind(SocketAddr::new(source.into(), 0)).map_err(|error| format!("bind {source}: {error}"))?;
    let stream = socket.connect(server).await.map_err(|error| format!("connect: {error}"))?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{server}/ws"), stream)
        .await
        .map_err(|error| format!("WebSocket handshake: {error}"))?;
    Ok(ws)
}

/// Opens the pairs and has every sender send its signals, until it has sent them all or its time is up; returns
/// the receivers, still open and never read.
async fn attack(server: SocketAddr, plan: Plan) -> Result<Vec<Ws>, String> {
    let offer = SignalPayload::Offer { sdp: "a".repeat(plan.sdp_bytes) };
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for pair in 0..plan.pairs {
        let room = room_id(pair);
        let mut sender = client::connect(server, client::source_address(pair * 2), "/ws").await?;
        join(&mut sender, &room, "sender").await?;
        let mut receiver = connect_small(server, client::source_address(pair * 2 + 1)).await?;
        let receiver_id = join(&mut receiver, &room, "receiver").await?;
        senders.push((sender, receiver_id));
        receivers.push(receiver);
    }
    let end = Instant::now() + plan.sending_for;
    let tasks: Vec<_> = senders
        .into_iter()
        .map(|(mut sender, to)| {
            let text =
                serde_json::to_string(&ClientMessage::Signal { to, payload: offer.clone() }).expect("serializes");
            tokio::spawn(async move {
                for _ in 0..plan.signals {
                    // A send waits while the relay is not reading this sender; at the end it is given up.
                    match timeout_at(end, sender.send(Message::text(text.clone()))).await {
                        Ok(sent) => sent.map_err(|error| format!("send: {error}"))?,
                        Err(_) => break,
                    }
                }
                // Read what the relay said meanwhile (the receiver's arrival, perhaps its departure), and keep the
                // sender open until the end.
                let _ = timeout_at(Instant::now() + Duration::from_millis(10), sender.next()).await;
                Ok::<_, String>(sender)
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|error| format!("a sender panicked: {error}"))??;
    }
    Ok(receivers)
}

/// Two clients in a room of their own that signal each other.
async fn bystanders(server: SocketAddr) -> Result<((Ws, PeerId), (Ws, PeerId)), String> {
    let room = room_id(u64::MAX);
    let mut ping = client::connect(server, client::source_address(1_000_001), "/ws").await?;
    let ping_id = join(&mut ping, &room, "ping").await?;
    let mut pong = client::connect(server, client::source_address(1_000_002), "/ws").await?;
    let pong_id = join(&mut pong, &room, "pong").await?;
    Ok(((ping, pong_id), (pong, ping_id)))
}

/// The next `signal`, skipping everything else.
async fn next_signal(ws: &mut Ws) -> Result<(), String> {
    let deadline = Instant::now() + STEP;
    loop {
        let text = client::next_text(ws, deadline).await?;
        if text.starts_with(r#"{"type":"signal""#) {
            return Ok(());
        }
    }
}

/// `count` round trips of a candidate-sized signal, one every 20 ms: ping to pong and back.
async fn round_trips(
    ping: &mut (Ws, PeerId),
    pong: &mut (Ws, PeerId),
    count: usize,
) -> Result<stats::LatencySummary, String> {
    let payload = SignalPayload::Candidate {
        candidate: crate::payload::candidate_template(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: None,
    };
    let there = ClientMessage::Signal { to: ping.1.clone(), payload: payload.clone() };
    let back = ClientMessage::Signal { to: pong.1.clone(), payload };
    let mut samples = Vec::with_capacity(count);
    let mut pace = tokio::time::interval(Duration::from_millis(20));
    for _ in 0..count {
        pace.tick().await;
        let sent = Instant::now();
        send(&mut ping.0, &there).await?;
        next_signal(&mut pong.0).await?;
        send(&mut pong.0, &back).await?;
        next_signal(&mut ping.0).await?;
        samples.push(sent.elapsed().as_nanos() as u64);
    }
    stats::summarize(&mut samples).ok_or_else(|| "no round trips".to_owned())
}

/// Prints the figures.
pub fn report(plan: Plan, outcome: &Result<Stalled, String>) -> String {
    let stalled = match outcome {
        Ok(stalled) => stalled,
        Err(error) => {
            println!("    stalled receivers: FAILED: {error}");
            return String::new();
        }
    };
    let mut lines = vec![format!(
        "{} pairs, each sender sending up to {} signals of {} KB for {} s: relay RSS {} KiB before, {} KiB at its \
         peak: {:.2} MiB per stalled receiver",
        plan.pairs,
        plan.signals,
        plan.sdp_bytes / 1000,
        plan.sending_for.as_secs(),
        stalled.rss_before_kib,
        stalled.rss_peak_kib,
        stalled.mib_per_receiver(plan.pairs),
    )];
    let count = |value: Option<f64>| value.map_or_else(|| "not counted".to_owned(), |v| format!("{v:.0}"));
    let cut: Vec<String> =
        stalled.cut_off.iter().map(|(reason, value)| format!("{reason} {}", count(*value))).collect();
    lines.push(format!(
        "held at most {}; cut off: {}; held nothing again after {}",
        stalled
            .queued_peak_bytes
            .map_or_else(|| "(no gauge)".to_owned(), |bytes| format!("{:.1} MiB", bytes / 1048576.0)),
        cut.join(", "),
        stalled
            .drained_after
            .map_or_else(|| "(not within 120 s)".to_owned(), |after| format!("{:.1} s", after.as_secs_f64())),
    ));
    if let Some((bytes, over)) = stalled.read {
        lines.push(format!(
            "the relay read {:.1} MB from its clients in the {:.1} s from the attack's start until the senders \
             stopped ({:.1} MB/s); it paused reading a sender {} times for the read rate",
            bytes / 1e6,
            over.as_secs_f64(),
            bytes / 1e6 / over.as_secs_f64(),
            count(stalled.read_pauses),
        ));
    }
    for (label, summary) in [("without the attack", &stalled.quiet), ("during the attack", &stalled.attacked)] {
        lines.push(format!(
            "bystander signal round trip {label}: p50 {} p90 {} p99 {} max {}",
            stats::human(summary.p50),
            stats::human(summary.p90),
            stats::human(summary.p99),
            stats::human(summary.max),
        ));
    }
    let mut markdown =
        String::from("\n## Stalled receivers\n\nWritten by `huddle-bench stalled` (`bench/src/stalled.rs`).\n\n");
    for line in lines {
        println!("    stalled receivers: {line}");
        markdown.push_str(&format!("- {line}\n"));
    }
    markdown
}
