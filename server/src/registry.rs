//! Who is in which room, and how to reach them. Plain synchronous state behind one lock: every operation is a few
//! map look-ups and non-blocking queue pushes, so no await ever happens while it is held.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use huddle_common::{DisplayName, LeaveReason, PeerId, PeerInfo, RoomId, ServerMessage};
use tokio::sync::{mpsc, Notify};

use crate::backlog::{Backlog, Budget, Hold, Overflow};
use crate::metrics::{Metrics, Rejection};
use crate::resume::Nonce;

/// Identifies one WebSocket connection (a peer id outlives its connections when it resumes).
pub type ConnId = u64;

/// Signals queued for a peer within its grace period, at most (and at most a quarter of `--queue-bytes`); older
/// ones are dropped first.
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
    /// The bytes in `queue`: counted here, given back by the connection's task as it writes or drops them.
    pub backlog: Arc<Backlog>,
}

impl Outbox {
    /// Queues a message without waiting; false if it was not queued. A full queue (in messages or bytes) means
    /// the client is not reading: it is disconnected rather than allowed to hold up the sender or anyone else, or
    /// to make the relay hold more and more for it.
    pub fn send(&self, text: Arc<str>, metrics: &Metrics) -> bool {
        let len = text.len();
        if let Err(overflow) = self.backlog.charge(len) {
            self.cut_off(overflow, metrics);
            return false;
        }
        match self.queue.try_send(text) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.backlog.release(len);
                self.cut_off(Overflow::Connection, metrics);
                false
            }
            // The task is already finishing; it will tell the registry.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.backlog.release(len);
                false
            }
        }
    }

    fn cut_off(&self, overflow: Overflow, metrics: &Metrics) {
        if !self.close.is_requested() {
            metrics.reject(match overflow {
                Overflow::Connection => Rejection::SlowConsumer,
                Overflow::Relay => Rejection::QueueBudget,
            });
        }
        self.close.request(huddle_common::close_code::SLOW_CONSUMER);
    }

    /// Queues a message for the client (see [`Outbox::send`]), counted as sent.
    fn deliver(&self, text: Arc<str>, metrics: &Metrics) {
        let len = text.len() as u64;
        if self.send(text, metrics) {
            metrics.bytes_sent.fetch_add(len, Ordering::Relaxed);
        }
    }
}

fn encode(message: &ServerMessage) -> Arc<str> {
    serde_json::to_string(message).expect("server messages always serialize").into()
}

/// Messages held for a peer that cannot take them yet, with their senders (dropped if the sender leaves), their
/// bytes counted in the relay's budget until they are passed on or dropped.
#[derive(Debug)]
pub struct Pending {
    messages: VecDeque<(PeerId, Arc<str>)>,
    hold: Hold,
}

impl Pending {
    /// Nothing held yet.
    pub fn new(budget: &Arc<Budget>) -> Self {
        Pending { messages: VecDeque::new(), hold: Hold::new(budget) }
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.hold.bytes()
    }

    /// Holds `text` from `from`, dropping the oldest messages to stay within [`PENDING_LIMIT`] messages and a quarter
    /// of a connection's bytes. When the relay's budget is spent, `text` is dropped instead.
    fn push(&mut self, from: &PeerId, text: Arc<str>) {
        while !self.messages.is_empty()
            && (self.messages.len() >= PENDING_LIMIT || self.hold.would_overflow(text.len()))
        {
            self.pop_front();
        }
        if self.hold.would_overflow(text.len()) || self.hold.take(text.len()).is_err() {
            return;
        }
        self.messages.push_back((from.clone(), text));
    }

    fn pop_front(&mut self) {
        if let Some((_, text)) = self.messages.pop_front() {
            self.hold.give_back(text.len());
        }
    }

    /// Drops what `gone` sent.
    fn drop_from(&mut self, gone: &PeerId) {
        let hold = &mut self.hold;
        self.messages.retain(|(from, text)| {
            let keep = from != gone;
            if !keep {
                hold.give_back(text.len());
            }
            keep
        });
    }
}

impl IntoIterator for Pending {
    type Item = (PeerId, Arc<str>);
    type IntoIter = std::collections::vec_deque::IntoIter<(PeerId, Arc<str>)>;

    /// The messages, oldest first, no longer counted as held (whoever takes them counts them if it keeps them).
    fn into_iter(mut self) -> Self::IntoIter {
        let bytes = self.hold.bytes();
        self.hold.give_back(bytes);
        std::mem::take(&mut self.messages).into_iter()
    }
}

fn hold(pending: &mut Pending, from: &PeerId, text: Arc<str>) {
    pending.push(from, text);
}

#[derive(Debug)]
enum Link {
    Online(Outbox),
    /// The connection `conn` dropped; the peer may resume until the grace period for `epoch` ends at `expires`.
    Offline {
        epoch: u64,
        conn: ConnId,
        expires: Instant,
        pending: Pending,
    },
}

#[derive(Debug)]
struct Peer {
    id: PeerId,
    name: DisplayName,
    name_key: String,
    /// The nonce of its latest join or resume: only a token naming it resumes this peer.
    nonce: Nonce,
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
    /// With a shared registry: peers it admitted whose `joined` is not sent yet, and what arrived for them meanwhile.
    joining: Vec<(PeerId, Pending)>,
}

impl Room {
    fn peer(&self, id: &PeerId) -> Option<&Peer> {
        self.peers.iter().find(|peer| &peer.id == id)
    }

    fn peer_mut(&mut self, id: &PeerId) -> Option<&mut Peer> {
        self.peers.iter_mut().find(|peer| &peer.id == id)
    }

    /// Sends `message` to every online peer but `except`, and to those still joining.
    fn broadcast(&mut self, except: &PeerId, message: &ServerMessage, metrics: &Metrics) {
        let text = encode(message);
        for peer in self.peers.iter().filter(|peer| &peer.id != except) {
            if let Link::Online(outbox) = &peer.link {
                outbox.deliver(text.clone(), metrics);
            }
        }
        for (_, pending) in self.joining.iter_mut().filter(|(id, _)| id != except) {
            hold(pending, except, text.clone());
        }
    }

    fn is_empty(&self) -> bool {
        self.peers.is_empty() && self.joining.is_empty()
    }
}

/// Why a join was refused (the checks that need the room's state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The room is at capacity.
    #[error("the room is full ({0} people)")]
    RoomFull(usize),
    /// Someone in the room has that name already, or one that looks the same (`crate::names`).
    #[error("someone in this room is already called that, or by a name that looks the same")]
    NameTaken,
    /// The shared registry (Redis) cannot be reached; nothing was changed.
    #[error("the relay cannot reach its shared room registry; try again in a moment")]
    Unavailable,
    /// The resume token is genuine but no longer names a join in the room: the peer left, its grace period
    /// ended, or a later resume replaced the token.
    #[error("this resume token is no longer valid (the peer left, or resumed since); join again")]
    InvalidResume,
}

/// A genuine, unexpired resume token, as the registry weighs it.
#[derive(Clone, Copy, Debug)]
pub struct ResumeClaim {
    /// The nonce of the join it was issued at.
    pub nonce: Nonce,
    /// When it expires.
    pub expires: SystemTime,
    /// It was issued before this relay process started. Without a shared registry, a restart forgets everyone, so
    /// such a token of a peer not in the room may bring its id back, once, as a new arrival.
    pub from_earlier_process: bool,
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
    /// The verified resume token `peer_id` came from, if it did.
    pub resume: Option<ResumeClaim>,
    /// The nonce this join picked: its token names it, and it voids any earlier one.
    pub nonce: Nonce,
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

/// What a shared registry (Redis) decided about a join: this process only carries it out.
#[derive(Debug)]
pub struct Decision {
    /// The peer took over its own earlier place (the others were not told anything).
    pub resumed: bool,
    /// Everyone else in the room, on any relay.
    pub peers: Vec<PeerInfo>,
}

/// One peer this process holds, as a shared registry needs to know it (see [`Registry::held`]).
#[derive(Debug)]
pub struct Held {
    /// Its room.
    pub room: RoomId,
    /// Its id.
    pub peer: PeerId,
    /// Its connection, or the last one.
    pub conn: ConnId,
    /// Its name.
    pub name: DisplayName,
    /// What makes its name unique in the room.
    pub name_key: String,
    /// The nonce of its latest join.
    pub nonce: Nonce,
    /// Zero while connected; otherwise what is left of its grace period (never zero).
    pub grace_left: Duration,
}

/// The registry behind its one lock, as the router and the cluster's listener share it.
///
/// A std `Mutex`, not tokio's: no await ever happens while it is held (every operation is a few map look-ups and
/// non-blocking queue pushes), so an async lock would only make every message cost more.
#[derive(Clone, Debug)]
pub struct RegistryHandle(Arc<Mutex<Registry>>);

impl RegistryHandle {
    /// Puts `registry` behind its lock.
    pub fn new(registry: Registry) -> Self {
        RegistryHandle(Arc::new(Mutex::new(registry)))
    }

    /// The registry, locked. A panic elsewhere while holding it cannot leave it half-updated in a way that matters
    /// more than stopping every call, so a poisoned lock is used as is.
    pub fn lock(&self) -> MutexGuard<'_, Registry> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The rooms of one relay process: all of them, or with a shared registry the peers connected here.
#[derive(Debug)]
pub struct Registry {
    rooms: HashMap<RoomId, Room>,
    capacity: usize,
    next_epoch: u64,
    metrics: Arc<Metrics>,
    /// Tokens from an earlier process that brought a peer id back, until they expire: each does so once.
    revived: Vec<(Nonce, SystemTime)>,
    budget: Arc<Budget>,
}

impl Registry {
    /// An empty registry whose rooms hold at most `capacity` peers, and what it holds for peers away within
    /// `budget`.
    pub fn new(capacity: usize, metrics: Arc<Metrics>, budget: Arc<Budget>) -> Self {
        Registry { rooms: HashMap::new(), capacity, next_epoch: 0, metrics, revived: Vec::new(), budget }
    }

    /// Admits a peer, or takes over its place when resuming. `welcome` builds the newcomer's `joined`, which is
    /// queued before anything else can reach it (the lock is held), so a client never sees a signal before it.
    ///
    /// A resume takes over only a peer in the room with the token's nonce (the peer then keeps the request's new
    /// one); the token of a peer that is gone is refused, unless it comes from before this process started (see
    /// [`ResumeClaim::from_earlier_process`]).
    pub fn join(
        &mut self,
        request: JoinRequest,
        welcome: impl FnOnce(Admission<'_>) -> ServerMessage,
    ) -> Result<(), JoinError> {
        let JoinRequest { room: room_id, name, peer_id, resume, nonce, outbox } = request;
        let metrics = Arc::clone(&self.metrics);
        let now = SystemTime::now();
        self.revived.retain(|(_, expires)| *expires > now);
        let room = self.rooms.entry(room_id.clone()).or_default();

        if let Some(claim) = resume {
            let refusal = match room.index(&peer_id) {
                Some(index) if room.peers[index].nonce == claim.nonce => {
                    let others = room.infos_except(&peer_id);
                    let welcome = welcome(Admission { peer_id: &peer_id, resumed: true, peers: others });
                    room.peers[index].nonce = nonce;
                    room.take_over(index, outbox, &welcome, Pending::new(&self.budget), &metrics);
                    return Ok(());
                }
                Some(_) => Some(JoinError::InvalidResume),
                None if claim.from_earlier_process && !self.revived.iter().any(|(n, _)| *n == claim.nonce) => None,
                None => Some(JoinError::InvalidResume),
            };
            if let Some(refusal) = refusal {
                if room.is_empty() {
                    self.rooms.remove(&room_id);
                }
                return Err(refusal);
            }
        }

        let name_key = crate::names::uniqueness_key(&name);
        let refusal = if room.peers.len() >= self.capacity {
            Some(JoinError::RoomFull(self.capacity))
        } else if room.peers.iter().any(|peer| peer.name_key == name_key) {
            Some(JoinError::NameTaken)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            if room.is_empty() {
                self.rooms.remove(&room_id);
            }
            return Err(refusal);
        }
        let others = room.infos_except(&peer_id);
        let welcome = welcome(Admission { peer_id: &peer_id, resumed: false, peers: others });
        let peer = Peer { id: peer_id, name, name_key, nonce, link: Link::Online(outbox.clone()) };
        room.add(peer, true, &outbox, &welcome, Pending::new(&self.budget), &metrics);
        if let Some(claim) = resume {
            self.revived.push((claim.nonce, claim.expires));
        }
        Ok(())
    }

    /// With a shared registry: holds whatever arrives for `peer` while the shared registry decides on its join.
    pub fn reserve(&mut self, room: &RoomId, peer: &PeerId) {
        self.rooms.entry(room.clone()).or_default().joining.push((peer.clone(), Pending::new(&self.budget)));
    }

    /// With a shared registry: the join was refused after all; drops what [`Registry::reserve`] held.
    pub fn cancel(&mut self, room_id: &RoomId, peer: &PeerId) {
        let Some(room) = self.rooms.get_mut(room_id) else { return };
        room.unreserve(peer);
        if room.is_empty() {
            self.rooms.remove(room_id);
        }
    }

    /// With a shared registry: carries out a join it admitted. The newcomer's `joined` goes first, then what
    /// arrived for it since [`Registry::reserve`].
    pub fn admit(
        &mut self,
        request: JoinRequest,
        decision: Decision,
        welcome: impl FnOnce(Admission<'_>) -> ServerMessage,
    ) {
        let JoinRequest { room: room_id, name, peer_id, nonce, outbox, .. } = request;
        let metrics = Arc::clone(&self.metrics);
        let room = self.rooms.entry(room_id).or_default();
        let early = room.unreserve(&peer_id).unwrap_or_else(|| Pending::new(&self.budget));
        let welcome = welcome(Admission { peer_id: &peer_id, resumed: decision.resumed, peers: decision.peers });
        let existing = room.index(&peer_id);
        if let (true, Some(index)) = (decision.resumed, existing) {
            room.peers[index].nonce = nonce;
            room.take_over(index, outbox, &welcome, early, &metrics);
            return;
        }
        if let Some(index) = existing {
            // The shared registry let this peer go (its grace period ended); the id comes back as news.
            if let Link::Online(old) = room.detach(index, &metrics).link {
                old.close.request(huddle_common::close_code::REPLACED);
            }
        }
        let name_key = crate::names::uniqueness_key(&name);
        let peer = Peer { id: peer_id, name, name_key, nonce, link: Link::Online(outbox.clone()) };
        // A peer resumed from another relay is no news to anyone.
        room.add(peer, !decision.resumed, &outbox, &welcome, early, &metrics);
    }

    /// Delivers a signal from `from`, a peer here, to `to` in `room` (`text`: the `signal` message, `from`
    /// stamped), or holds it while `to` is away. Returns false when `to` is not in that room here (or is the
    /// sender), or `from` is not.
    pub fn deliver(&mut self, room: &RoomId, from: &PeerId, to: &PeerId, text: &Arc<str>) -> bool {
        let Some(room) = self.rooms.get_mut(room) else { return false };
        if from == to || room.peer(from).is_none() {
            return false;
        }
        room.send_to(to, from, || Arc::clone(text), &self.metrics)
    }

    /// With a shared registry: delivers a message another relay passed on from `from` for `to`. Returns false if
    /// `to` is not here.
    pub fn deliver_forwarded(&mut self, room: &RoomId, from: &PeerId, to: &PeerId, text: Arc<str>) -> bool {
        let Some(room) = self.rooms.get_mut(room) else { return false };
        room.send_to(to, from, || text, &self.metrics)
    }

    /// With a shared registry: someone joined the room through another relay; tells the peers here.
    pub fn announce_joined(&mut self, room: &RoomId, peer: PeerInfo) {
        let Some(room) = self.rooms.get_mut(room) else { return };
        let id = peer.id.clone();
        room.broadcast(&id, &ServerMessage::PeerJoined { peer }, &self.metrics);
    }

    /// With a shared registry: `peer` is no longer in the room (it left through another relay, or its grace
    /// period ended). Tells the peers here, and lets go of `peer` if it is here: a connection that is still open
    /// is closed with 1001 so that its client joins again.
    pub fn announce_left(&mut self, room_id: &RoomId, peer: &PeerId, reason: LeaveReason) {
        let Some(room) = self.rooms.get_mut(room_id) else { return };
        if let Some(index) = room.index(peer) {
            if let Link::Online(outbox) = room.detach(index, &self.metrics).link {
                outbox.close.request(huddle_common::close_code::GOING_AWAY);
            }
        }
        room.forget(peer, reason, &self.metrics);
        if room.is_empty() {
            self.rooms.remove(room_id);
        }
    }

    /// With a shared registry: `peer` resumed through another relay. Lets go of it here without telling anyone,
    /// closing its old connection (4001) if open; returns what was held for it, to pass on.
    pub fn hand_over(&mut self, room_id: &RoomId, peer: &PeerId) -> Pending {
        let Some(room) = self.rooms.get_mut(room_id) else { return Pending::new(&self.budget) };
        let Some(index) = room.index(peer) else { return Pending::new(&self.budget) };
        let held = match room.detach(index, &self.metrics).link {
            Link::Online(outbox) => {
                outbox.close.request(huddle_common::close_code::REPLACED);
                Pending::new(&self.budget)
            }
            Link::Offline { pending, .. } => pending,
        };
        if room.is_empty() {
            self.rooms.remove(room_id);
        }
        held
    }

    /// Every peer held here (connected or within its grace period), for the shared registry.
    pub fn held(&self, now: Instant) -> Vec<Held> {
        let mut held = Vec::new();
        for (room_id, room) in &self.rooms {
            for peer in &room.peers {
                let (conn, grace_left) = match &peer.link {
                    Link::Online(outbox) => (outbox.conn, Duration::ZERO),
                    Link::Offline { conn, expires, .. } => {
                        (*conn, expires.saturating_duration_since(now).max(Duration::from_millis(1)))
                    }
                };
                held.push(Held {
                    room: room_id.clone(),
                    peer: peer.id.clone(),
                    conn,
                    name: peer.name.clone(),
                    name_key: peer.name_key.clone(),
                    nonce: peer.nonce,
                    grace_left,
                });
            }
        }
        held
    }

    /// Removes a peer that left on purpose, if `conn` still holds it; the others are told at once.
    pub fn leave(&mut self, room: &RoomId, peer: &PeerId, conn: ConnId, reason: LeaveReason) {
        let holds = |link: &Link| matches!(link, Link::Online(outbox) if outbox.conn == conn);
        self.remove_if(room, peer, reason, holds);
    }

    /// Marks a peer whose connection dropped as offline for `grace`, if `conn` still holds it. Returns the epoch
    /// to pass to [`Registry::expire`] when the grace period ends.
    pub fn disconnect(&mut self, room: &RoomId, peer: &PeerId, conn: ConnId, grace: Duration) -> Option<u64> {
        let peer = self.rooms.get_mut(room)?.peer_mut(peer)?;
        if !matches!(&peer.link, Link::Online(outbox) if outbox.conn == conn) {
            return None;
        }
        self.next_epoch += 1;
        let expires = Instant::now() + grace;
        peer.link = Link::Offline { epoch: self.next_epoch, conn, expires, pending: Pending::new(&self.budget) };
        Some(self.next_epoch)
    }

    /// Whether `peer` is still offline since `epoch`.
    pub fn is_away(&self, room: &RoomId, peer: &PeerId, epoch: u64) -> bool {
        let peer = self.rooms.get(room).and_then(|room| room.peer(peer));
        peer.is_some_and(|peer| matches!(peer.link, Link::Offline { epoch: e, .. } if e == epoch))
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
        room.detach(index, &self.metrics);
        room.forget(peer_id, reason, &self.metrics);
        if room.is_empty() {
            self.rooms.remove(room_id);
        }
    }
}

impl Room {
    fn index(&self, id: &PeerId) -> Option<usize> {
        self.peers.iter().position(|peer| &peer.id == id)
    }

    fn infos_except(&self, id: &PeerId) -> Vec<PeerInfo> {
        self.peers.iter().filter(|peer| &peer.id != id).map(Peer::info).collect()
    }

    /// Takes back what [`Registry::reserve`] held for `peer`.
    fn unreserve(&mut self, peer: &PeerId) -> Option<Pending> {
        let index = self.joining.iter().position(|(id, _)| id == peer)?;
        Some(self.joining.swap_remove(index).1)
    }

    /// Sends to `to` (queued if it is away or still joining). Returns false if `to` is not here.
    fn send_to(&mut self, to: &PeerId, from: &PeerId, text: impl FnOnce() -> Arc<str>, metrics: &Metrics) -> bool {
        if let Some(target) = self.peer_mut(to) {
            match &mut target.link {
                Link::Online(outbox) => outbox.deliver(text(), metrics),
                Link::Offline { pending, .. } => hold(pending, from, text()),
            }
            return true;
        }
        match self.joining.iter_mut().find(|(id, _)| id == to) {
            Some((_, pending)) => {
                hold(pending, from, text());
                true
            }
            None => false,
        }
    }

    /// Points the peer at `index` to a new connection: it is sent `welcome`, what was queued while it was away,
    /// then `early`; an older connection still open is closed (4001).
    fn take_over(&mut self, index: usize, outbox: Outbox, welcome: &ServerMessage, early: Pending, metrics: &Metrics) {
        let previous = std::mem::replace(&mut self.peers[index].link, Link::Online(outbox.clone()));
        outbox.deliver(encode(welcome), metrics);
        match previous {
            Link::Online(old) if old.conn != outbox.conn => old.close.request(huddle_common::close_code::REPLACED),
            Link::Online(_) => {}
            Link::Offline { pending, .. } => {
                for (_, text) in pending {
                    outbox.deliver(text, metrics);
                }
            }
        }
        for (_, text) in early {
            outbox.deliver(text, metrics);
        }
    }

    /// Adds a peer (telling the others first, if `announce`), then sends it `welcome` and `early`.
    fn add(
        &mut self,
        peer: Peer,
        announce: bool,
        outbox: &Outbox,
        welcome: &ServerMessage,
        early: Pending,
        metrics: &Metrics,
    ) {
        if announce {
            self.broadcast(&peer.id, &ServerMessage::PeerJoined { peer: peer.info() }, metrics);
        }
        if self.peers.is_empty() {
            metrics.rooms.fetch_add(1, Ordering::Relaxed);
        }
        metrics.peers.fetch_add(1, Ordering::Relaxed);
        self.peers.push(peer);
        outbox.deliver(encode(welcome), metrics);
        for (_, text) in early {
            outbox.deliver(text, metrics);
        }
    }

    /// Takes the peer at `index` out without telling anyone.
    fn detach(&mut self, index: usize, metrics: &Metrics) -> Peer {
        let peer = self.peers.remove(index);
        metrics.peers.fetch_sub(1, Ordering::Relaxed);
        if self.peers.is_empty() {
            metrics.rooms.fetch_sub(1, Ordering::Relaxed);
        }
        peer
    }

    /// Tells everyone here that `gone` left, and drops what was queued from it.
    fn forget(&mut self, gone: &PeerId, reason: LeaveReason, metrics: &Metrics) {
        for peer in &mut self.peers {
            if let Link::Offline { pending, .. } = &mut peer.link {
                pending.drop_from(gone);
            }
        }
        for (_, pending) in &mut self.joining {
            pending.drop_from(gone);
        }
        self.broadcast(gone, &ServerMessage::PeerLeft { peer_id: gone.clone(), reason }, metrics);
    }
}

#[cfg(test)]
mod tests;
