//! The soak: for a bounded time, many clients at once join and leave Huddle's relay, disconnect abruptly, resume,
//! stall, flood and send every kind of bad message. Each client checks that the relay answers as the protocol says.
//! Afterwards the relay must come back to no connections, rooms or peers, and its memory near where it started.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use huddle_common::{
    close_code, ClientMessage, ErrorCode, Join, Joined, PeerId, Resume, RoomId, ServerMessage, SignalPayload,
    MAX_MESSAGE_BYTES, PROTOCOL_VERSION,
};
use tokio::time::{timeout_at, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Ws};
use crate::procfs;
use crate::prometheus;
use crate::servers::Server;

/// The soak's size.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// How long clients keep starting new sessions.
    pub duration: Duration,
    /// Clients at once.
    pub workers: u64,
    /// Rooms they share (fewer rooms than workers, so rooms fill up and names collide).
    pub rooms: u64,
    /// How long the relay may take to come back to zero afterwards.
    pub settle_timeout: Duration,
}

/// What happened, by outcome, and what the relay looked like before and after.
#[derive(Clone, Debug, Default)]
pub struct Soak {
    /// How many times each outcome happened.
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Outcomes the protocol does not allow, with what happened (at most the first 20).
    pub violations: Vec<String>,
    /// How many violations in all.
    pub violation_count: u64,
    /// Connections the relay accepted during the soak (its `huddle_connections_total`).
    pub connections_total: f64,
    /// Relay RSS right after start, KiB.
    pub rss_baseline_kib: u64,
    /// Highest relay RSS seen during the soak, KiB.
    pub rss_peak_kib: u64,
    /// Relay RSS once it came back to zero, KiB.
    pub rss_final_kib: u64,
    /// How long after the last client it took to reach zero connections, rooms and peers (`None`: it did not,
    /// within the timeout).
    pub settled_after: Option<Duration>,
    /// `huddle_connections`, `huddle_rooms`, `huddle_peers` at the end.
    pub final_gauges: [f64; 3],
}

impl Soak {
    /// Whether the relay did everything the protocol says and came back to zero.
    pub fn passed(&self) -> bool {
        self.violation_count == 0 && self.settled_after.is_some()
    }
}

#[derive(Default)]
struct Tally {
    outcomes: BTreeMap<&'static str, u64>,
    violations: Vec<String>,
    violation_count: u64,
}

type Shared = Arc<Mutex<Tally>>;

/// Outcomes the relay counts too (`huddle_rejections_total`): after the run, the two counts must agree.
const STALL: &str = "stalled past the heartbeat timeout";
const FLOOD: &str = "flooded past the rate limit";
const OVERSIZE: &str = "sent a frame over the size limit";
const CROSS_CHECKS: [(&str, &str); 3] = [(STALL, "heartbeat_timeout"), (FLOOD, "flood"), (OVERSIZE, "too_big")];

fn count(tally: &Shared, outcome: &'static str) {
    *tally.lock().expect("not poisoned").outcomes.entry(outcome).or_default() += 1;
}

/// Runs the soak against a Huddle relay started with the soak profile.
pub async fn run(server: &Server, plan: Plan) -> Result<Soak, String> {
    let rss = || procfs::rss_kib(server.pid()).map_err(|error| error.to_string());
    let rss_baseline_kib = rss()?;
    let tally: Shared = Arc::default();
    let deadline = Instant::now() + plan.duration;
    let mut workers = Vec::new();
    for worker in 0..plan.workers {
        let (tally, addr) = (Arc::clone(&tally), server.addr);
        workers.push(tokio::spawn(async move {
            let mut rng = Rng::new(worker + 1);
            let mut session = 0u64;
            while Instant::now() < deadline {
                let scenario = Scenario::pick(&mut rng);
                let source = client::source_address(worker * 1_000_003 + session);
                session += 1;
                let room = room_id(rng.below(plan.rooms));
                if let Err(violation) = scenario.run(addr, source, room, &mut rng, &tally).await {
                    let mut tally = tally.lock().expect("not poisoned");
                    tally.violation_count += 1;
                    if tally.violations.len() < 20 {
                        tally.violations.push(format!("{}: {violation}", scenario.name()));
                    }
                }
            }
        }));
    }
    let mut rss_peak_kib = rss_baseline_kib;
    while workers.iter().any(|worker| !worker.is_finished()) {
        rss_peak_kib = rss_peak_kib.max(rss()?);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for worker in workers {
        worker.await.map_err(|error| format!("a soak worker panicked: {error}"))?;
    }

    let ended = Instant::now();
    let mut settled_after = None;
    let mut final_gauges = [f64::NAN; 3];
    let mut connections_total = f64::NAN;
    let mut rejections = [f64::NAN; 3];
    while ended.elapsed() < plan.settle_timeout {
        let metrics = prometheus::fetch(server.addr).await.map_err(|error| error.to_string())?;
        let gauge = |name| prometheus::sample(&metrics, name).unwrap_or(f64::NAN);
        final_gauges = [gauge("huddle_connections"), gauge("huddle_rooms"), gauge("huddle_peers")];
        connections_total = gauge("huddle_connections_total");
        rejections = CROSS_CHECKS.map(|(_, reason)| {
            prometheus::sample(&metrics, &format!("huddle_rejections_total{{reason=\"{reason}\"}}")).unwrap_or(f64::NAN)
        });
        // The scrape itself is an HTTP request, not a WebSocket, so it does not count as a connection.
        if final_gauges == [0.0; 3] {
            settled_after = Some(ended.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Memory freed by the relay is returned to the allocator at once, to the kernel in its own time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_final_kib = rss()?;
    let mut tally =
        Arc::try_unwrap(tally).map_err(|_| "workers still hold the tally")?.into_inner().expect("not poisoned");
    for ((outcome, reason), counted) in CROSS_CHECKS.iter().zip(rejections) {
        let seen = tally.outcomes.get(outcome).copied().unwrap_or(0);
        if seen as f64 != counted {
            tally.violation_count += 1;
            tally.violations.push(format!("{seen} sessions {outcome}, but the relay counted {counted} {reason}"));
        }
    }
    Ok(Soak {
        outcomes: tally.outcomes,
        violations: tally.violations,
        violation_count: tally.violation_count,
        connections_total,
        rss_baseline_kib,
        rss_peak_kib,
        rss_final_kib,
        settled_after,
        final_gauges,
    })
}

/// A small deterministic generator (xorshift64*), so a soak can be replayed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn room_id(index: u64) -> RoomId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&index.to_be_bytes());
    bytes[8..].copy_from_slice(b"huddlesk");
    RoomId::from_random(bytes)
}

/// What one session of a soak client does.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    /// Join, negotiate with whoever is there, then end in one of four ways.
    Call,
    /// Every kind of bad message, each answered with its error code, on a connection that stays open.
    BadMessages,
    /// Join, drop the connection abruptly, come back with the resume token.
    Resume,
    /// Join, then neither read nor write: the relay cuts it off at the heartbeat timeout.
    Stall,
    /// Messages far past the rate limit: the relay closes with 1008.
    Flood,
    /// A frame over the size limit: the relay closes with 1009.
    Oversize,
}

impl Scenario {
    fn pick(rng: &mut Rng) -> Scenario {
        match rng.below(100) {
            0..=59 => Scenario::Call,
            60..=79 => Scenario::BadMessages,
            80..=91 => Scenario::Resume,
            92..=95 => Scenario::Stall,
            96..=97 => Scenario::Flood,
            _ => Scenario::Oversize,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Call => "call",
            Scenario::BadMessages => "bad messages",
            Scenario::Resume => "resume",
            Scenario::Stall => "stall",
            Scenario::Flood => "flood",
            Scenario::Oversize => "oversize",
        }
    }

    async fn run(
        self,
        addr: SocketAddr,
        source: std::net::Ipv4Addr,
        room: RoomId,
        rng: &mut Rng,
        tally: &Shared,
    ) -> Result<(), String> {
        let ws = client::connect(addr, source, "/ws").await?;
        let mut session = Session { ws, deadline: Instant::now() + Duration::from_secs(15) };
        let name = format!("soak {}", rng.below(12));
        match self {
            Scenario::Call => call(session, &room, &name, rng, tally).await,
            Scenario::BadMessages => bad_messages(session, &room, &name, tally).await,
            Scenario::Resume => resume(session, addr, source, &room, &name, tally).await,
            Scenario::Stall => stall(session, &room, &name, tally).await,
            Scenario::Flood => flood(session, tally).await,
            Scenario::Oversize => {
                session.send(Message::Text("x".repeat(MAX_MESSAGE_BYTES + 1))).await?;
                let seen = session.expect_close(close_code::MESSAGE_TOO_BIG).await?;
                count(tally, if seen { "oversize: closed 1009" } else { "oversize: closed (frame not read)" });
                count(tally, OVERSIZE);
                Ok(())
            }
        }
    }
}

/// One connection with a deadline for everything it waits for.
struct Session {
    ws: Ws,
    deadline: Instant,
}

/// How a join ended.
enum Joining {
    Joined(Box<Joined>),
    /// Refused for a reason the soak provokes on purpose (room full, name taken).
    Refused,
}

impl Session {
    async fn send(&mut self, message: Message) -> Result<(), String> {
        timeout_at(self.deadline, self.ws.send(message))
            .await
            .map_err(|_| "send timed out".to_owned())?
            .map_err(|error| format!("send: {error}"))
    }

    async fn send_json(&mut self, message: &ClientMessage) -> Result<(), String> {
        self.send(Message::Text(serde_json::to_string(message).expect("serializes"))).await
    }

    /// The next message from the relay, which must be valid protocol.
    async fn receive(&mut self) -> Result<ServerMessage, String> {
        let text = client::next_text(&mut self.ws, self.deadline).await?;
        serde_json::from_str(&text).map_err(|error| format!("not a server message ({error}): {text}"))
    }

    /// Skips what others in the room send until an `error`, which must carry `code`.
    async fn expect_error(&mut self, code: ErrorCode) -> Result<(), String> {
        loop {
            match self.receive().await? {
                ServerMessage::Error { code: got, .. } if got == code => return Ok(()),
                ServerMessage::Error { code: got, message } => {
                    return Err(format!("expected error {}, got {} ({message})", code.as_str(), got.as_str()))
                }
                ServerMessage::Joined(_) => return Err(format!("expected error {}, got joined", code.as_str())),
                _ => {}
            }
        }
    }

    async fn join(&mut self, room: &RoomId, name: &str, resume: Option<Resume>) -> Result<Joining, String> {
        let join = Join { version: PROTOCOL_VERSION, room: room.as_str().into(), name: name.into(), resume };
        self.send_json(&ClientMessage::Join(join)).await?;
        // Nothing reaches a connection outside a room, so the answer comes first.
        match self.receive().await? {
            ServerMessage::Joined(joined) => Ok(Joining::Joined(Box::new(joined))),
            ServerMessage::Error { code: ErrorCode::RoomFull | ErrorCode::NameTaken, .. } => Ok(Joining::Refused),
            ServerMessage::Error { code, message } => Err(format!("join refused with {}: {message}", code.as_str())),
            other => Err(format!("expected joined, got {other:?}")),
        }
    }

    /// Reads until the relay closes the connection, which must be with `code`: `Ok(true)` when the close frame was
    /// read, `Ok(false)` when the connection ended before it could be (reading answers pending pings, and a write
    /// to a socket the relay already closed resets it). The run's end checks the relay's own count of such closes.
    async fn expect_close(&mut self, code: u16) -> Result<bool, String> {
        loop {
            match timeout_at(self.deadline, self.ws.next()).await {
                Err(_) => return Err(format!("expected close {code}, the connection stayed open")),
                Ok(Some(Ok(Message::Close(Some(frame))))) if frame.code == CloseCode::from(code) => return Ok(true),
                Ok(Some(Ok(Message::Close(frame)))) => return Err(format!("expected close {code}, got {frame:?}")),
                Ok(None) | Ok(Some(Err(_))) => return Ok(false),
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Drops the TCP connection without a close frame: FIN, or RST when `reset`.
    fn drop_abruptly(self, reset: bool) {
        if reset {
            let linger = libc::linger { l_onoff: 1, l_linger: 0 };
            let fd = self.ws.get_ref().as_raw_fd();
            // SAFETY: setsockopt on a socket we own, with a correctly sized option value.
            #[expect(unsafe_code, reason = "std cannot set SO_LINGER")]
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
        drop(self.ws);
    }
}

fn signal(to: &PeerId, payload: SignalPayload) -> ClientMessage {
    ClientMessage::Signal { to: to.clone(), payload }
}

fn offer() -> SignalPayload {
    SignalPayload::Offer { sdp: crate::payload::sdp_template(crate::payload::Kind::Offer) }
}

fn candidate() -> SignalPayload {
    SignalPayload::Candidate {
        candidate: crate::payload::candidate_template(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: None,
    }
}

async fn call(mut session: Session, room: &RoomId, name: &str, rng: &mut Rng, tally: &Shared) -> Result<(), String> {
    let Joining::Joined(joined) = session.join(room, name, None).await? else {
        count(tally, "join refused: room full or name taken");
        return Ok(());
    };
    count(tally, "joined");
    for peer in &joined.peers {
        session.send_json(&signal(&peer.id, offer())).await?;
        session.send_json(&signal(&peer.id, candidate())).await?;
        count(tally, "signals sent");
    }
    // Answer what arrives for a while, as a browser negotiating would.
    let listen_until = (Instant::now() + Duration::from_millis(20 + rng.below(300))).min(session.deadline);
    loop {
        let text = match timeout_at(listen_until, client::next_text(&mut session.ws, session.deadline)).await {
            Err(_) => break,
            Ok(text) => text?,
        };
        let message: ServerMessage = serde_json::from_str(&text).map_err(|error| format!("{error}: {text}"))?;
        match message {
            ServerMessage::Signal { from, payload: SignalPayload::Offer { .. } } => {
                count(tally, "offers answered");
                let answer = SignalPayload::Answer { sdp: crate::payload::sdp_template(crate::payload::Kind::Answer) };
                session.send_json(&signal(&from, answer)).await?;
            }
            // A peer may leave between its offer and our answer: then the relay says so.
            ServerMessage::Error { code: ErrorCode::UnknownPeer, .. } => count(tally, "answers to a peer already gone"),
            ServerMessage::Error { code, message } => {
                return Err(format!("error {} in a call: {message}", code.as_str()))
            }
            _ => {}
        }
    }
    match rng.below(4) {
        0 => {
            session.send_json(&ClientMessage::Leave).await?;
            count(tally, "left with leave");
        }
        1 => {
            let _ = timeout_at(session.deadline, session.ws.close(None)).await;
            count(tally, "left with a close frame");
        }
        2 => {
            session.drop_abruptly(false);
            count(tally, "dropped: TCP FIN, no close frame");
        }
        _ => {
            session.drop_abruptly(true);
            count(tally, "dropped: TCP RST");
        }
    }
    Ok(())
}

async fn bad_messages(mut session: Session, room: &RoomId, name: &str, tally: &Shared) -> Result<(), String> {
    let nobody = PeerId::from_random([7; 8]);
    let before_join: [(Message, ErrorCode); 10] = [
        (Message::Text("hello".into()), ErrorCode::InvalidJson),
        (Message::Text("{\"type\":\"join\"".into()), ErrorCode::InvalidJson),
        (Message::Text("{\"type\":\"dance\"}".into()), ErrorCode::UnknownType),
        (Message::Text("[1,2,3]".into()), ErrorCode::UnknownType),
        (Message::Text("{\"type\":\"signal\",\"to\":\"x\"}".into()), ErrorCode::InvalidMessage),
        (Message::Binary(vec![1, 2, 3]), ErrorCode::BinaryUnsupported),
        (Message::Text(format!("{}{}", "[".repeat(100), "]".repeat(100))), ErrorCode::TooDeep),
        (Message::Text(serde_json::to_string(&signal(&nobody, candidate())).unwrap()), ErrorCode::NotJoined),
        (Message::Text("{\"type\":\"leave\"}".into()), ErrorCode::NotJoined),
        (
            Message::Text(
                serde_json::json!({"type": "join", "version": 99, "room": room.as_str(), "name": name}).to_string(),
            ),
            ErrorCode::UnsupportedVersion,
        ),
    ];
    for (message, code) in before_join {
        session.send(message).await?;
        session.expect_error(code).await?;
        count(tally, "bad messages answered with their error code");
    }
    let bad_joins = [
        (
            Join { version: PROTOCOL_VERSION, room: "not-a-room".into(), name: name.into(), resume: None },
            ErrorCode::InvalidRoom,
        ),
        (
            Join { version: PROTOCOL_VERSION, room: room.as_str().into(), name: " ".into(), resume: None },
            ErrorCode::InvalidName,
        ),
        (
            Join {
                version: PROTOCOL_VERSION,
                room: room.as_str().into(),
                name: name.into(),
                resume: Some(Resume { peer_id: nobody.clone(), token: "forged".into() }),
            },
            ErrorCode::InvalidResume,
        ),
    ];
    for (join, code) in bad_joins {
        session.send_json(&ClientMessage::Join(join)).await?;
        session.expect_error(code).await?;
        count(tally, "bad messages answered with their error code");
    }
    // Still usable after all that.
    let Joining::Joined(_) = session.join(room, name, None).await? else {
        count(tally, "join refused: room full or name taken");
        return Ok(());
    };
    count(tally, "joined");
    let again = Join { version: PROTOCOL_VERSION, room: room.as_str().into(), name: name.into(), resume: None };
    session.send_json(&ClientMessage::Join(again)).await?;
    session.expect_error(ErrorCode::AlreadyJoined).await?;
    session.send_json(&signal(&nobody, candidate())).await?;
    session.expect_error(ErrorCode::UnknownPeer).await?;
    count(tally, "bad messages answered with their error code");
    count(tally, "bad messages answered with their error code");
    session.send_json(&ClientMessage::Leave).await?;
    count(tally, "left with leave");
    Ok(())
}

async fn resume(
    mut session: Session,
    addr: SocketAddr,
    source: std::net::Ipv4Addr,
    room: &RoomId,
    name: &str,
    tally: &Shared,
) -> Result<(), String> {
    let Joining::Joined(joined) = session.join(room, name, None).await? else {
        count(tally, "join refused: room full or name taken");
        return Ok(());
    };
    count(tally, "joined");
    let deadline = session.deadline;
    session.drop_abruptly(false);
    count(tally, "dropped: TCP FIN, no close frame");
    let ws = client::connect(addr, source, "/ws").await?;
    let mut session = Session { ws, deadline };
    let resume = Resume { peer_id: joined.peer_id.clone(), token: joined.resume_token.clone() };
    match session.join(room, name, Some(resume)).await? {
        Joining::Joined(again) if again.resumed && again.peer_id == joined.peer_id => count(tally, "resumed"),
        Joining::Joined(again) => return Err(format!("resume gave a new place: {again:?}")),
        Joining::Refused => return Err("resume refused".into()),
    }
    session.send_json(&ClientMessage::Leave).await?;
    count(tally, "left with leave");
    Ok(())
}

async fn stall(mut session: Session, room: &RoomId, name: &str, tally: &Shared) -> Result<(), String> {
    let Joining::Joined(_) = session.join(room, name, None).await? else {
        count(tally, "join refused: room full or name taken");
        return Ok(());
    };
    count(tally, "joined");
    // Neither read (so pings go unanswered) nor write, past the soak profile's 3 s heartbeat timeout; the relay
    // checks at each 1 s heartbeat.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    let seen = session.expect_close(close_code::HEARTBEAT_TIMEOUT).await?;
    count(tally, if seen { "stall: closed 4002" } else { "stall: closed (frame not read)" });
    count(tally, STALL);
    Ok(())
}

async fn flood(session: Session, tally: &Shared) -> Result<(), String> {
    // Read while writing, so that the error replies never fill the relay's queue for this client.
    let deadline = session.deadline;
    let (mut sink, mut stream) = session.ws.split();
    let reader = tokio::spawn(async move {
        let mut rate_limited = false;
        loop {
            match timeout_at(deadline, stream.next()).await {
                Err(_) => return Err("expected close 1008, the connection stayed open".to_owned()),
                Ok(Some(Ok(Message::Text(text)))) => {
                    rate_limited |= text.contains("\"code\":\"rate_limited\"");
                }
                Ok(Some(Ok(Message::Close(Some(frame))))) if frame.code == CloseCode::Policy => {
                    return if rate_limited { Ok(()) } else { Err("closed 1008 without a rate_limited error".into()) }
                }
                Ok(Some(Ok(Message::Close(frame)))) => return Err(format!("expected close 1008, got {frame:?}")),
                // Counted by the relay's own metric, checked at the end (see `Session::expect_close`).
                Ok(None) | Ok(Some(Err(_))) => return Ok(()),
                Ok(Some(Ok(_))) => {}
            }
        }
    });
    let leave = Message::Text("{\"type\":\"leave\"}".into());
    // Burst (200) + drops before the close (100), with margin for refills.
    for _ in 0..1_000 {
        if sink.send(leave.clone()).await.is_err() {
            break;
        }
    }
    reader.await.map_err(|error| error.to_string())??;
    count(tally, FLOOD);
    Ok(())
}
