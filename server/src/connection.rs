//! One task per WebSocket: speaks the protocol with the client (reads and answers its messages, writes what is
//! queued for it, pings it) and hands its joins, signals and how it ended to the [`Router`](crate::router::Router).

use std::sync::Arc;
use std::time::SystemTime;

use futures_util::{SinkExt, StreamExt};
use huddle_common::{
    close_code, DisplayName, ErrorCode, Join, Joined, LeaveReason, PeerId, RoomId, ServerMessage, PROTOCOL_VERSION,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use crate::backlog::Backlog;
use crate::decode::{decode, Incoming};
use crate::metrics::Rejection;
use crate::rate_limit::{RateLimiter, ReadThrottle, Verdict};
use crate::registry::{Admission, CloseRequest, JoinError, JoinRequest, Outbox, ResumeClaim};
use crate::relay::{ConnectionSlot, Relay};
use crate::resume::Nonce;
use crate::room_tag::RoomTag;
use crate::router::SignalError;

/// Most queued messages written to a socket at once (then flushed together).
const WRITE_BATCH: usize = 32;

/// Why a join is refused while the relay holds too much for clients that do not read.
const OVERLOADED: &str =
    "the relay is holding too many messages for clients that do not read them; try again in a moment";

/// Where a connection stands in the protocol.
enum State {
    /// Connected, not in a room (before `join`, or after a refused one).
    Lobby,
    /// In a room.
    Joined { room: RoomId, peer: PeerId },
}

/// How a connection ended, which decides what the rest of its room is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// `leave`, or a close frame from the client: the others are told at once.
    Left,
    /// The connection dropped (or the client stopped reading or answering): wait for a resume.
    Dropped,
    /// The relay closed it for abuse: the others are told at once.
    Expelled,
    /// The relay is going away; no one is told anything.
    Shutdown,
    /// Another connection resumed this peer; it is no longer this connection's business.
    Replaced,
}

/// What handling one message asks of the loop.
enum Flow {
    Continue,
    End(Ending),
    Close(u16, &'static str, Ending),
}

struct Connection {
    relay: Arc<Relay>,
    slot: ConnectionSlot,
    outbox: Outbox,
    state: State,
    limiter: RateLimiter,
    /// When to send fresh ICE servers (TURN credentials), set by each `joined` and `ice_servers` sent; the loop
    /// takes it and arms its timer.
    ice_refresh_due: Option<Instant>,
}

/// Serves one upgraded WebSocket until it ends.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut socket: WebSocketStream<S>,
    relay: Arc<Relay>,
    slot: ConnectionSlot,
) {
    let limits = relay.limits.clone();
    let (queue, mut queued) = mpsc::channel::<Arc<str>>(limits.queue_capacity);
    let close = Arc::new(CloseRequest::default());
    let backlog = Arc::new(Backlog::new(Arc::clone(relay.router.budget())));
    let outbox = Outbox { conn: slot.id, queue, close: Arc::clone(&close), backlog: Arc::clone(&backlog) };
    let limiter = RateLimiter::new(
        limits.rate_limit_per_sec,
        limits.rate_limit_burst,
        limits.rate_limit_close_after,
        Instant::now().into_std(),
    );
    let mut connection =
        Connection { relay: Arc::clone(&relay), slot, outbox, state: State::Lobby, limiter, ice_refresh_due: None };
    // Made once and polled by reference: a fresh `Notified` on every turn of the loop would register with (and
    // leave) the notifier each time, for every message.
    let mut shutdown = relay.shutdown_signal();
    let mut shutting_down = std::pin::pin!(async move { drop(shutdown.wait_for(|down| *down).await) });
    let mut close_requested = std::pin::pin!(close.requested());
    let mut heartbeat = interval_at(Instant::now() + limits.heartbeat_interval, limits.heartbeat_interval);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    // One timer per connection, armed once joined (and only with a TURN server): fresh credentials before the last
    // ones expire.
    let mut ice_refresh = std::pin::pin!(tokio::time::sleep_until(Instant::now()));
    let mut ice_refresh_armed = false;
    // Counted from the upgrade, whatever was sent meanwhile: a refused join may be tried again until then.
    let mut join_deadline = std::pin::pin!(tokio::time::sleep(limits.join_timeout));
    // Reading stops while the client owes its read rate, and starts again when it is repaid.
    let mut throttle = ReadThrottle::new(limits.read_bytes_per_sec, limits.read_burst_bytes, Instant::now().into_std());
    let mut read_resumes = std::pin::pin!(tokio::time::sleep_until(Instant::now()));
    let mut read_paused = false;

    let (ending, farewell) = loop {
        let flow = tokio::select! {
            _ = &mut join_deadline, if matches!(connection.state, State::Lobby) => {
                relay.metrics.reject(Rejection::JoinTimeout);
                Flow::Close(close_code::JOIN_TIMEOUT, "join timeout", Ending::Dropped)
            }
            _ = &mut shutting_down => {
                Flow::Close(close_code::GOING_AWAY, "relay shutting down", Ending::Shutdown)
            }
            code = &mut close_requested => Flow::Close(code, close_reason(code), ending_for(code)),
            frame = socket.next(), if !read_paused => match frame {
                Some(Ok(message)) => {
                    last_heard = Instant::now();
                    if let Some(pause) = throttle.spend(message.len(), last_heard.into_std()) {
                        relay.metrics.read_pauses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        read_resumes.as_mut().reset(last_heard + pause);
                        read_paused = true;
                    }
                    connection.on_frame(message, last_heard).await
                }
                Some(Err(error)) => connection.on_read_error(error),
                None => Flow::End(Ending::Dropped),
            },
            Some(text) = queued.recv() => {
                // A write blocks while the client's TCP window is full; a client that stays that way is cut off
                // (when one step of the write makes no headway for the write timeout, or at once when its queue
                // overflows meanwhile). What else is queued already goes out with it, in one write. Its bytes
                // count as waiting until the write is over, however it ends.
                let mut written = text.len();
                let batch = async {
                    stall_guard(limits.write_timeout, socket.feed(Message::text(&*text))).await?;
                    for _ in 1..WRITE_BATCH {
                        let Ok(text) = queued.try_recv() else { break };
                        written += text.len();
                        stall_guard(limits.write_timeout, socket.feed(Message::text(&*text))).await?;
                    }
                    stall_guard(limits.write_timeout, socket.flush()).await
                };
                let flow = tokio::select! {
                    sent = batch => after_write(sent, &relay),
                    code = &mut close_requested => Flow::Close(code, close_reason(code), ending_for(code)),
                };
                backlog.release(written);
                flow
            }
            _ = &mut read_resumes, if read_paused => {
                // The pause was the relay's doing: its silence does not count towards the heartbeat timeout.
                read_paused = false;
                last_heard = Instant::now();
                Flow::Continue
            }
            _ = &mut ice_refresh, if ice_refresh_armed => {
                ice_refresh_armed = false;
                connection.send_ice_servers();
                Flow::Continue
            }
            _ = heartbeat.tick() => {
                if !read_paused && last_heard.elapsed() >= limits.heartbeat_timeout {
                    relay.metrics.reject(Rejection::HeartbeatTimeout);
                    Flow::Close(close_code::HEARTBEAT_TIMEOUT, "heartbeat timeout", Ending::Dropped)
                } else {
                    let ping = socket.send(Message::Ping(Default::default()));
                    after_write(stall_guard(limits.write_timeout, ping).await, &relay)
                }
            }
        };
        if let Some(due) = connection.ice_refresh_due.take() {
            ice_refresh.as_mut().reset(due);
            ice_refresh_armed = true;
        }
        match flow {
            Flow::Continue => {}
            Flow::End(ending) => break (ending, None),
            Flow::Close(code, reason, ending) => break (ending, Some((code, reason))),
        }
    };
    // Nothing more is queued from now on, and the room learns of the ending before the goodbye, which may take as
    // long as the write timeout when the client is not reading.
    queued.close();
    connection.finish(ending);
    if farewell.is_some_and(|(code, _)| code == close_code::SLOW_CONSUMER) {
        // The client is cut off for not reading it: nothing queued is kept while it is told so.
        while let Ok(text) = queued.try_recv() {
            backlog.release(text.len());
        }
    }
    if let Some((code, reason)) = farewell {
        // Best effort, bounded: what was queued (e.g. the error explaining the close) goes first.
        let mut written = 0;
        let goodbye = async {
            while let Ok(text) = queued.try_recv() {
                written += text.len();
                socket.feed(Message::text(&*text)).await?;
            }
            let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
            socket.send(Message::Close(Some(frame))).await
        };
        let _ = tokio::time::timeout(limits.heartbeat_interval.min(limits.write_timeout), goodbye).await;
        backlog.release(written);
    }
    // Whatever is still queued is dropped, and counted as such.
    while let Ok(text) = queued.try_recv() {
        backlog.release(text.len());
    }
}

/// Why a write to the socket failed.
enum WriteError {
    /// The socket is gone.
    Socket,
    /// One step of the write made no headway for the write timeout: the client is not reading.
    Stalled,
}

/// Bounds one step of a write (queueing a frame, which may write out what is buffered, or flushing).
async fn stall_guard(
    limit: std::time::Duration,
    write: impl std::future::Future<Output = Result<(), tungstenite::Error>>,
) -> Result<(), WriteError> {
    match tokio::time::timeout(limit, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(WriteError::Socket),
        Err(_) => Err(WriteError::Stalled),
    }
}

/// What the loop does after a write: go on, or drop a connection that is gone or stalled (a close frame could
/// not get through).
fn after_write(written: Result<(), WriteError>, relay: &Relay) -> Flow {
    match written {
        Ok(()) => Flow::Continue,
        Err(WriteError::Socket) => Flow::End(Ending::Dropped),
        Err(WriteError::Stalled) => {
            relay.metrics.reject(Rejection::WriteTimeout);
            Flow::End(Ending::Dropped)
        }
    }
}

/// How a connection the registry asked to close with `code` ended.
fn ending_for(code: u16) -> Ending {
    if code == close_code::REPLACED {
        Ending::Replaced
    } else {
        Ending::Dropped
    }
}

/// The `signal` sent to the recipient: the sender's payload text as it came, with `from` stamped by the relay (the
/// same JSON as serde writes for `ServerMessage::Signal`, but for the payload, which is not rebuilt).
fn signal_text(from: &PeerId, payload: &str) -> Arc<str> {
    const HEAD: &str = r#"{"type":"signal","from":"#;
    const MIDDLE: &str = r#","payload":"#;
    let mut text = String::with_capacity(HEAD.len() + from.as_str().len() + 2 + MIDDLE.len() + payload.len() + 1);
    text.push_str(HEAD);
    // Peer ids are made by relays (base32), but nothing here relies on it.
    text.push_str(&serde_json::to_string(from.as_str()).expect("strings serialize"));
    text.push_str(MIDDLE);
    text.push_str(payload);
    text.push('}');
    text.into()
}

fn close_reason(code: u16) -> &'static str {
    match code {
        close_code::SLOW_CONSUMER => "too slow reading messages",
        close_code::REPLACED => "replaced: another connection resumed this peer with its resume token",
        _ => "closed by the relay",
    }
}

impl Connection {
    fn reply(&self, code: ErrorCode, message: impl Into<String>) {
        self.relay.metrics.reject(Rejection::Error(code));
        let text: Arc<str> = serde_json::to_string(&ServerMessage::error(code, message)).expect("serializes").into();
        // Not queued: the client is not reading, and is cut off.
        self.outbox.send(text, &self.relay.metrics);
    }

    /// Queues `ice_servers` with fresh credentials for the joined peer, and schedules the next.
    fn send_ice_servers(&mut self) {
        let State::Joined { peer, .. } = &self.state else { return };
        let ice_servers = self.relay.ice.servers_for(peer, SystemTime::now());
        let message = ServerMessage::IceServers { ice_servers };
        let text: Arc<str> = serde_json::to_string(&message).expect("serializes").into();
        // Through the outbox like everything else, so that its bytes are counted against the bounds.
        self.outbox.send(text, &self.relay.metrics);
        self.ice_refresh_due = self.relay.ice.refresh_after().map(|after| Instant::now() + after);
    }

    fn on_read_error(&self, error: tungstenite::Error) -> Flow {
        if let tungstenite::Error::Capacity(_) = error {
            self.relay.metrics.reject(Rejection::TooBig);
            Flow::Close(close_code::MESSAGE_TOO_BIG, "message too big", Ending::Expelled)
        } else {
            tracing::debug!(conn = self.slot.id, %error, "read error");
            Flow::End(Ending::Dropped)
        }
    }

    async fn on_frame(&mut self, message: Message, now: Instant) -> Flow {
        if message.is_close() {
            return Flow::End(Ending::Left);
        }
        if message.is_ping() || message.is_pong() {
            return Flow::Continue;
        }
        let metrics = &self.relay.metrics;
        metrics.messages_received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        metrics.bytes_received.fetch_add(message.len() as u64, std::sync::atomic::Ordering::Relaxed);
        match self.limiter.check(now.into_std()) {
            Verdict::Allow => {}
            Verdict::Drop { notify } => {
                if notify {
                    self.reply(ErrorCode::RateLimited, "too many messages; slow down");
                } else {
                    metrics.reject(Rejection::Error(ErrorCode::RateLimited));
                }
                return Flow::Continue;
            }
            Verdict::Close => {
                metrics.reject(Rejection::Flood);
                return Flow::Close(close_code::POLICY_VIOLATION, "message flood", Ending::Expelled);
            }
        }
        let Message::Text(text) = &message else {
            self.reply(ErrorCode::BinaryUnsupported, "binary frames are not part of the protocol; send JSON text");
            return Flow::Continue;
        };
        match decode(text.as_str()) {
            Ok(message) => self.on_message(message).await,
            Err(error) => {
                self.reply(error.code(), error.to_string());
                Flow::Continue
            }
        }
    }

    async fn on_message(&mut self, message: Incoming<'_>) -> Flow {
        match (message, &self.state) {
            (Incoming::Join(_), State::Joined { .. }) => {
                self.reply(ErrorCode::AlreadyJoined, "this connection is already in a room");
            }
            (Incoming::Join(join), State::Lobby) => self.join(join).await,
            (Incoming::Signal { to, payload }, State::Joined { room, peer }) => {
                let text = signal_text(peer, payload);
                match self.relay.router.signal(room, peer, &to, &text).await {
                    Ok(()) => {}
                    Err(error @ SignalError::UnknownPeer(_)) => self.reply(ErrorCode::UnknownPeer, error.to_string()),
                    Err(error @ SignalError::Unavailable(_)) => self.reply(ErrorCode::Unavailable, error.to_string()),
                }
            }
            (Incoming::Leave, State::Joined { .. }) => return Flow::End(Ending::Left),
            (Incoming::Signal { .. } | Incoming::Leave, State::Lobby) => {
                self.reply(ErrorCode::NotJoined, "join a room first");
            }
        }
        Flow::Continue
    }

    async fn join(&mut self, join: Join) {
        if join.version != PROTOCOL_VERSION {
            let message = format!("this relay speaks protocol version {PROTOCOL_VERSION}, not {}", join.version);
            return self.reply(ErrorCode::UnsupportedVersion, message);
        }
        let room = match RoomId::parse(&join.room) {
            Ok(room) => room,
            Err(error) => return self.reply(ErrorCode::InvalidRoom, error.to_string()),
        };
        let name = match DisplayName::parse(&join.name) {
            Ok(name) => name,
            Err(error) => return self.reply(ErrorCode::InvalidName, error.to_string()),
        };
        let (peer_id, resume) = match join.resume {
            Some(resume) => {
                match self.relay.resume_key.verify(&room, &resume.peer_id, &resume.token, SystemTime::now()) {
                    Ok(claim) => {
                        let from_earlier_process = claim.issued < self.relay.started;
                        let claim = ResumeClaim { nonce: claim.nonce, expires: claim.expires, from_earlier_process };
                        (resume.peer_id, Some(claim))
                    }
                    Err(error) => return self.reply(ErrorCode::InvalidResume, error.to_string()),
                }
            }
            None => (new_peer_id(), None),
        };
        let resuming = resume.is_some();
        if self.relay.router.budget().is_strained() {
            return self.reply(ErrorCode::Overloaded, OVERLOADED);
        }
        // Only a join that gets as far as a room counts: malformed ones cost little, and the per-connection rate
        // limit bounds them.
        if !self.relay.join_rate.allow(self.slot.client, Instant::now().into_std()) {
            let message = "too many joins from your address; try again in a minute";
            return self.reply(ErrorCode::JoinRateLimited, message);
        }
        let relay = Arc::clone(&self.relay);
        // Picked for this join: its token names it, and a resume voids the token it came with.
        let nonce = Nonce::random();
        let request = JoinRequest {
            room: room.clone(),
            name,
            peer_id: peer_id.clone(),
            resume,
            nonce,
            outbox: self.outbox.clone(),
        };
        let welcome = |admission: Admission<'_>| {
            ServerMessage::Joined(Joined {
                room: room.clone(),
                peer_id: admission.peer_id.clone(),
                resume_token: relay.resume_key.token(&room, admission.peer_id, nonce, SystemTime::now()),
                resumed: admission.resumed,
                peers: admission.peers,
                ice_servers: relay.ice.servers_for(admission.peer_id, SystemTime::now()),
                ice_transport_policy: relay.ice.transport_policy(),
                capacity: relay.room_capacity,
            })
        };
        match relay.router.join(request, welcome).await {
            Ok(()) => {
                tracing::info!(conn = self.slot.id, room = %RoomTag::of(&room), peer = %peer_id, resuming, "joined");
                self.state = State::Joined { room, peer: peer_id };
                self.ice_refresh_due = relay.ice.refresh_after().map(|after| Instant::now() + after);
            }
            Err(error @ JoinError::RoomFull(_)) => self.reply(ErrorCode::RoomFull, error.to_string()),
            Err(error @ JoinError::NameTaken) => self.reply(ErrorCode::NameTaken, error.to_string()),
            Err(error @ JoinError::Unavailable) => self.reply(ErrorCode::Unavailable, error.to_string()),
            Err(error @ JoinError::InvalidResume) => self.reply(ErrorCode::InvalidResume, error.to_string()),
        }
    }

    /// Tells the router how this connection ended.
    fn finish(self, ending: Ending) {
        let State::Joined { room, peer } = self.state else { return };
        tracing::info!(conn = self.slot.id, room = %RoomTag::of(&room), %peer, ?ending, "connection ended");
        let router = &self.relay.router;
        match ending {
            Ending::Left => router.leave(room, peer, self.slot.id, LeaveReason::Left),
            Ending::Expelled => router.leave(room, peer, self.slot.id, LeaveReason::Disconnected),
            Ending::Dropped => router.disconnect(room, peer, self.slot.id),
            Ending::Shutdown | Ending::Replaced => {}
        }
    }
}

fn new_peer_id() -> PeerId {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).expect("the OS random source is available");
    PeerId::from_random(bytes)
}
