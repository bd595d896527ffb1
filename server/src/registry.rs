//! Who is in which room, and how to reach them. Plain synchronous state behind one lock: every operation is a few
//! map look-ups and non-blocking queue pushes, so no await ever happens while it is held.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use huddle_common::{DisplayName, LeaveReason, PeerId, PeerInfo, RoomId, ServerMessage};
use tokio::sync::{mpsc, Notify};

use crate::metrics::{Metrics, Rejection};

/// Identifies one WebSocket connection (a peer id outlives its connections when it resumes).
pub type ConnId = u64;

/// Signals queued for a peer within its grace period, at most; older ones are dropped first.
const PENDING_LIMIT: usize = 64;

/// Asks a connection task to close its socket with a code, from outside the task.
#[derive(Debug, Default)]
pub struct CloseRequest {
    code: AtomicU16,
    notify: Notify,
}

impl CloseRequest {
    /// Requests a close; the first code requested wins.
    pub fn request(&self, code: u16) {
        if self.code.compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.notify.notify_one();
        }
    }

    /// Whether a close was requested already.
    pub fn is_requested(&self) -> bool {
        self.code.load(Ordering::Acquire) != 0
    }

    /// Resolves with the code once a close was requested.
    pub async fn requested(&self) -> u16 {
        loop {
            let code = self.code.load(Ordering::Acquire);
            if code != 0 {
                return code;
            }
            self.notify.notified().await;
        }
    }
}

/// How the registry reaches one connection: its bounded outbound queue and its close request.
#[derive(Clone, Debug)]
pub struct Outbox {
    /// The connection this outbox belongs to.
    pub conn: ConnId,
    /// Serialized messages waiting to be written to the socket.
    pub queue: mpsc::Sender<Arc<str>>,
    /// Lets the registry close a connection that cannot keep up or was replaced.
    pub close: Arc<CloseRequest>,
}

impl Outbox {
    /// Queues a message without waiting. A full queue means the client is not reading: it is disconnected rather
    /// than allowed to hold up the sender or anyone else.
    fn deliver(&self, text: Arc<str>, metrics: &Metrics) {
        let len = text.len() as u64;
        match self.queue.try_send(text) {
            Ok(()) => {
                metrics.bytes_sent.fetch_add(len, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.close.is_requested() {
                    metrics.reject(Rejection::SlowConsumer);
                }
                self.close.request(huddle_common::close_code::SLOW_CONSUMER);
            }
            // The task is already finishing; it will tell the registry.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

fn encode(message: &ServerMessage) -> Arc<str> {
    serde_json::to_string(message).expect("server messages always serialize").into()
}

#[derive(Debug)]
enum Link {
    Online(Outbox),
    /// The connection dropped; the peer may resume until the grace period for `epoch` ends.
    Offline {
        epoch: u64,
        pending: VecDeque<(PeerId, Arc<str>)>,
    },
}

#[derive(Debug)]
struct Peer {
    id: PeerId,
    name: DisplayName,
    name_key: String,
    link: Link,
}

impl Peer {
    fn info(&self) -> PeerInfo {
        PeerInfo { id: self.id.clone(), name: self.name.clone() }
    }
}

#[derive(Debug, Default)]
struct Room {
    /// In join order; rooms are small (capacity ≤ 64), so a vector beats a map.
    peers: Vec<Peer>,
}

impl Room {
    fn peer(&self, id: &PeerId) -> Option<&Peer> {
        self.peers.iter().find(|peer| &peer.id == id)
    }

    fn peer_mut(&mut self, id: &PeerId) -> Option<&mut Peer> {
        self.peers.iter_mut().find(|peer| &peer.id == id)
    }

    /// Sends `message` to every online peer but `except`.
    fn broadcast(&self, except: &PeerId, message: &ServerMessage, metrics: &Metrics) {
        let text = encode(message);
        for peer in self.peers.iter().filter(|peer| &peer.id != except) {
            if let Link::Online(outbox) = &peer.link {
                outbox.deliver(text.clone(), metrics);
            }
        }
    }
}

/// Why a join was refused (the checks that need the room's state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The room is at capacity.
    #[error("the room is full ({0} people)")]
    RoomFull(usize),
    /// Someone in the room has that name already.
    #[error("someone in this room is already called that")]
    NameTaken,
}

/// A join request that passed validation.
#[derive(Debug)]
pub struct JoinRequest {
    /// The room.
    pub room: RoomId,
    /// The display name.
    pub name: DisplayName,
    /// The peer id to use: a fresh one, or the one a verified resume token proved.
    pub peer_id: PeerId,
    /// Whether `peer_id` came from a verified resume token.
    pub resuming: bool,
    /// The joining connection.
    pub outbox: Outbox,
}

/// What the joining connection is told: everything `joined` needs that the registry knows.
#[derive(Debug)]
pub struct Admission<'a> {
    /// The peer id, new or kept.
    pub peer_id: &'a PeerId,
    /// Whether an existing peer was taken over (the others were not told anything).
    pub resumed: bool,
    /// Everyone else in the room.
    pub peers: Vec<PeerInfo>,
}

/// All rooms of one relay process.
#[derive(Debug)]
pub struct Registry {
    rooms: HashMap<RoomId, Room>,
    capacity: usize,
    next_epoch: u64,
    metrics: Arc<Metrics>,
}

impl Registry {
    /// An empty registry whose rooms hold at most `capacity` peers.
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> Self {
        Registry { rooms: HashMap::new(), capacity, next_epoch: 0, metrics }
    }

    /// Admits a peer, or takes over its place when resuming. `welcome` builds the newcomer's `joined`, which is
    /// queued before anything else can reach it (the lock is held), so a client never sees a signal before it.
    pub fn join(
        &mut self,
        request: JoinRequest,
        welcome: impl FnOnce(Admission<'_>) -> ServerMessage,
    ) -> Result<(), JoinError> {
        let JoinRequest { room: room_id, name, peer_id, resuming, outbox } = request;
        let metrics = Arc::clone(&self.metrics);
        let room = self.rooms.entry(room_id.clone()).or_default();

        if resuming {
            if let Some(peer) = room.peer_mut(&peer_id) {
                let previous = std::mem::replace(&mut peer.link, Link::Online(outbox.clone()));
                let others = room.peers.iter().filter(|p| p.id != peer_id).map(Peer::info).collect();
                let welcome = welcome(Admission { peer_id: &peer_id, resumed: true, peers: others });
                outbox.deliver(encode(&welcome), &metrics);
                match previous {
                    Link::Online(old) if old.conn != outbox.conn => {
                        old.close.request(huddle_common::close_code::REPLACED);
                    }
                    Link::Online(_) => {}
                    Link::Offline { pending, .. } => {
                        for (_, text) in pending {
                            outbox.deliver(text, &metrics);
                        }
                    }
                }
                return Ok(());
            }
        }

        let name_key = name.uniqueness_key();
        let refusal = if room.peers.len() >= self.capacity {
            Some(JoinError::RoomFull(self.capacity))
        } else if room.peers.iter().any(|peer| peer.name_key == name_key) {
            Some(JoinError::NameTaken)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            if room.peers.is_empty() {
                self.rooms.remove(&room_id);
            }
            return Err(refusal);
        }
        if room.peers.is_empty() {
            metrics.rooms.fetch_add(1, Ordering::Relaxed);
        }
        metrics.peers.fetch_add(1, Ordering::Relaxed);
        let peer = Peer { id: peer_id.clone(), name, name_key, link: Link::Online(outbox.clone()) };
        room.broadcast(&peer_id, &ServerMessage::PeerJoined { peer: peer.info() }, &metrics);
        let others = room.peers.iter().map(Peer::info).collect();
        room.peers.push(peer);
        outbox.deliver(encode(&welcome(Admission { peer_id: &peer_id, resumed: false, peers: others })), &metrics);
        Ok(())
    }

    /// Delivers a signal from `from` to `to` in `room`, stamping the sender. Returns false when `to` is not in
    /// that room (or is the sender).
    pub fn relay(&mut self, room: &RoomId, from: &PeerId, to: &PeerId, message: &ServerMessage) -> bool {
        let Some(room) = self.rooms.get_mut(room) else { return false };
        if from == to || room.peer(from).is_none() {
            return false;
        }
        let Some(target) = room.peer_mut(to) else { return false };
        let text = encode(message);
        match &mut target.link {
            Link::Online(outbox) => outbox.deliver(text, &self.metrics),
            Link::Offline { pending, .. } => {
                if pending.len() == PENDING_LIMIT {
                    pending.pop_front();
                }
                pending.push_back((from.clone(), text));
            }
        }
        self.metrics.messages_relayed.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Removes a peer that left on purpose, if `conn` still holds it; the others are told at once.
    pub fn leave(&mut self, room: &RoomId, peer: &PeerId, conn: ConnId, reason: LeaveReason) {
        let holds = |link: &Link| matches!(link, Link::Online(outbox) if outbox.conn == conn);
        self.remove_if(room, peer, reason, holds);
    }

    /// Marks a peer whose connection dropped as offline, if `conn` still holds it. Returns the epoch to pass to
    /// [`Registry::expire`] when the grace period ends.
    pub fn disconnect(&mut self, room: &RoomId, peer: &PeerId, conn: ConnId) -> Option<u64> {
        let peer = self.rooms.get_mut(room)?.peer_mut(peer)?;
        if !matches!(&peer.link, Link::Online(outbox) if outbox.conn == conn) {
            return None;
        }
        self.next_epoch += 1;
        peer.link = Link::Offline { epoch: self.next_epoch, pending: VecDeque::new() };
        Some(self.next_epoch)
    }

    /// Ends a grace period: removes the peer if it is still offline since `epoch`.
    pub fn expire(&mut self, room: &RoomId, peer: &PeerId, epoch: u64) {
        let still_away = |link: &Link| matches!(link, Link::Offline { epoch: e, .. } if *e == epoch);
        self.remove_if(room, peer, LeaveReason::Disconnected, still_away);
    }

    fn remove_if(&mut self, room_id: &RoomId, peer_id: &PeerId, reason: LeaveReason, check: impl Fn(&Link) -> bool) {
        let Some(room) = self.rooms.get_mut(room_id) else { return };
        let Some(index) = room.peers.iter().position(|peer| &peer.id == peer_id && check(&peer.link)) else {
            return;
        };
        room.peers.remove(index);
        self.metrics.peers.fetch_sub(1, Ordering::Relaxed);
        for peer in &mut room.peers {
            if let Link::Offline { pending, .. } = &mut peer.link {
                pending.retain(|(from, _)| from != peer_id);
            }
        }
        room.broadcast(peer_id, &ServerMessage::PeerLeft { peer_id: peer_id.clone(), reason }, &self.metrics);
        if room.peers.is_empty() {
            self.rooms.remove(room_id);
            self.metrics.rooms.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
