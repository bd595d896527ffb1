//! The registry's decisions, observed as its peers would: what each connection finds queued, and whether it is
//! asked to close. Everything is synchronous, so nothing waits.

use futures_util::FutureExt;
use huddle_common::{close_code, Joined, SignalPayload};

use super::*;
use crate::resume::Nonce;

const CAPACITY: usize = 3;
const GRACE: Duration = Duration::from_secs(3600);

/// One connection as the registry sees it (its outbox) and as its client would (what is queued for it).
struct Client {
    outbox: Outbox,
    inbox: mpsc::Receiver<Arc<str>>,
}

impl Client {
    fn new(conn: ConnId) -> Self {
        Client::with_queue(conn, 128)
    }

    fn with_queue(conn: ConnId, capacity: usize) -> Self {
        Client::under(conn, capacity, budget())
    }

    fn under(conn: ConnId, capacity: usize, budget: Arc<Budget>) -> Self {
        let (queue, inbox) = mpsc::channel(capacity);
        let backlog = Arc::new(Backlog::new(budget));
        Client { outbox: Outbox { conn, queue, close: Arc::default(), backlog }, inbox }
    }

    /// Everything queued for this connection so far, in order, written out as the connection's task would (its
    /// bytes given back).
    fn received(&mut self) -> Vec<ServerMessage> {
        self.written()
            .iter()
            .map(|text| serde_json::from_str(text).expect("the registry queues server messages"))
            .collect()
    }

    /// Everything queued for this connection so far, as text, written out (see [`Client::received`]).
    fn written(&mut self) -> Vec<Arc<str>> {
        let texts: Vec<Arc<str>> = std::iter::from_fn(|| self.inbox.try_recv().ok()).collect();
        texts.iter().for_each(|text| self.outbox.backlog.release(text.len()));
        texts
    }

    /// The close code the registry asked for, if any.
    fn close_requested(&self) -> Option<u16> {
        self.outbox.close.requested().now_or_never()
    }
}

/// A budget no test here comes near.
fn budget() -> Arc<Budget> {
    Arc::new(Budget::new(usize::MAX / 2, u64::MAX / 2, Arc::new(Metrics::default())))
}

fn registry() -> Registry {
    Registry::new(CAPACITY, Arc::new(Metrics::default()), budget())
}

fn room() -> RoomId {
    RoomId::from_random([7; 16])
}

/// A join (or with `resuming`, a resume with the token of its last join) of `peer`; every join of a peer picks the
/// same nonce, [`nonce_of`] it.
fn request(room: &RoomId, name: &str, peer: &str, resuming: bool, client: &Client) -> JoinRequest {
    JoinRequest {
        room: room.clone(),
        name: DisplayName::parse(name).unwrap(),
        peer_id: PeerId::from(peer),
        resume: resuming.then(|| claim(nonce_of(peer), false)),
        nonce: nonce_of(peer),
        outbox: client.outbox.clone(),
    }
}

fn nonce_of(peer: &str) -> Nonce {
    let mut bytes = [0u8; 16];
    bytes.iter_mut().zip(peer.bytes()).for_each(|(byte, c)| *byte = c);
    Nonce(bytes)
}

fn claim(nonce: Nonce, from_earlier_process: bool) -> ResumeClaim {
    ResumeClaim { nonce, expires: SystemTime::now() + GRACE, from_earlier_process }
}

/// A `joined` with what the registry decided (the rest is the connection's business).
fn welcome(room: &RoomId) -> impl FnOnce(Admission<'_>) -> ServerMessage + '_ {
    move |admission: Admission<'_>| {
        ServerMessage::Joined(Joined {
            room: room.clone(),
            peer_id: admission.peer_id.clone(),
            resume_token: String::new(),
            resumed: admission.resumed,
            peers: admission.peers,
            ice_servers: Vec::new(),
            ice_transport_policy: Default::default(),
            capacity: CAPACITY as u32,
        })
    }
}

/// `peer` joins `room` through `client`, which must then be told `joined`; returns the ids it was told are there.
fn join(registry: &mut Registry, room: &RoomId, name: &str, peer: &str, client: &mut Client) -> Vec<String> {
    registry.join(request(room, name, peer, false, client), welcome(room)).expect("admitted");
    match client.received().as_slice() {
        [ServerMessage::Joined(joined)] => {
            assert!(!joined.resumed);
            assert_eq!(joined.peer_id.as_str(), peer);
            joined.peers.iter().map(|info| info.id.to_string()).collect()
        }
        other => panic!("expected only joined, got {other:?}"),
    }
}

/// Ada (`a`, connection 1) and Bob (`b`, connection 2) in one room, Ada's news of Bob's arrival already read.
fn ada_and_bob() -> (Registry, RoomId, Client, Client) {
    let (mut registry, room) = (registry(), room());
    let (mut ada, mut bob) = (Client::new(1), Client::new(2));
    join(&mut registry, &room, "Ada", "a", &mut ada);
    join(&mut registry, &room, "Bob", "b", &mut bob);
    assert_eq!(ada.received(), [peer_joined("b", "Bob")]);
    (registry, room, ada, bob)
}

/// A `signal` from `from`, as a connection would have stamped it.
fn signal(from: &str, marker: &str) -> Arc<str> {
    encode(&ServerMessage::Signal { from: PeerId::from(from), payload: SignalPayload::Offer { sdp: marker.into() } })
}

fn signalled(from: &str, marker: &str) -> ServerMessage {
    serde_json::from_str(&signal(from, marker)).unwrap()
}

fn peer_joined(id: &str, name: &str) -> ServerMessage {
    ServerMessage::PeerJoined { peer: PeerInfo { id: PeerId::from(id), name: DisplayName::parse(name).unwrap() } }
}

fn peer_left(id: &str, reason: LeaveReason) -> ServerMessage {
    ServerMessage::PeerLeft { peer_id: PeerId::from(id), reason }
}

fn joined_of(message: &ServerMessage) -> &Joined {
    match message {
        ServerMessage::Joined(joined) => joined,
        other => panic!("expected joined, got {other:?}"),
    }
}

#[test]
fn a_newcomer_is_told_who_is_there_and_they_are_told_about_it() {
    let (mut registry, room) = (registry(), room());
    let (mut ada, mut bob) = (Client::new(1), Client::new(2));
    assert!(join(&mut registry, &room, "Ada", "a", &mut ada).is_empty());
    assert_eq!(join(&mut registry, &room, "Bob", "b", &mut bob), ["a"]);
    assert_eq!(ada.received(), [peer_joined("b", "Bob")]);
    assert_eq!(registry.metrics.rooms.load(Ordering::Relaxed), 1);
    assert_eq!(registry.metrics.peers.load(Ordering::Relaxed), 2);
}

#[test]
fn a_full_room_refuses_and_nobody_hears_of_it() {
    let (mut registry, room) = (registry(), room());
    let mut clients: Vec<Client> = (1..=CAPACITY as u64 + 1).map(Client::new).collect();
    for (index, client) in clients.iter_mut().take(CAPACITY).enumerate() {
        join(&mut registry, &room, &format!("P{index}"), &format!("p{index}"), client);
    }
    for client in &mut clients {
        client.received();
    }
    let late = &clients[CAPACITY];
    let refused = registry.join(request(&room, "Late", "late", false, late), welcome(&room));
    assert_eq!(refused, Err(JoinError::RoomFull(CAPACITY)));
    assert!(clients.iter_mut().all(|client| client.received().is_empty()));
    assert_eq!(registry.metrics.peers.load(Ordering::Relaxed), CAPACITY as u64);
}

#[test]
fn a_name_is_taken_whatever_its_case_but_free_in_another_room() {
    let (mut registry, room) = (registry(), room());
    let (mut ada, mut other) = (Client::new(1), Client::new(2));
    join(&mut registry, &room, "Ada", "a", &mut ada);
    let refused = registry.join(request(&room, "ADA", "b", false, &other), welcome(&room));
    assert_eq!(refused, Err(JoinError::NameTaken));
    assert!(other.received().is_empty());
    assert!(ada.received().is_empty());

    let elsewhere = RoomId::from_random([8; 16]);
    assert!(join(&mut registry, &elsewhere, "Ada", "b", &mut other).is_empty());
    assert!(ada.received().is_empty(), "rooms do not hear of each other");
}

#[test]
fn a_refused_join_leaves_no_empty_room_behind() {
    let mut registry = Registry::new(0, Arc::new(Metrics::default()), budget());
    let room = room();
    let refused = registry.join(request(&room, "Ada", "a", false, &Client::new(1)), welcome(&room));
    assert_eq!(refused, Err(JoinError::RoomFull(0)));
    assert!(registry.rooms.is_empty());
    assert_eq!(registry.metrics.rooms.load(Ordering::Relaxed), 0);
}

#[test]
fn a_signal_reaches_a_peer_of_the_room_and_no_one_else() {
    let (mut registry, room, mut ada, mut bob) = ada_and_bob();
    let (a, b) = (PeerId::from("a"), PeerId::from("b"));

    assert!(registry.deliver(&room, &a, &b, &signal("a", "hello")));
    assert_eq!(bob.received(), [signalled("a", "hello")]);

    // Absent, oneself, from a stranger, or in another room: not delivered, and nobody gets anything.
    assert!(!registry.deliver(&room, &a, &PeerId::from("nobody"), &signal("a", "lost")));
    assert!(!registry.deliver(&room, &a, &a, &signal("a", "to myself")));
    assert!(!registry.deliver(&room, &PeerId::from("stranger"), &b, &signal("stranger", "forged")));
    assert!(!registry.deliver(&RoomId::from_random([8; 16]), &a, &b, &signal("a", "wrong room")));
    assert!(ada.received().is_empty());
    assert!(bob.received().is_empty());
}

#[test]
fn leaving_tells_the_others_and_the_last_one_out_closes_the_room() {
    let (mut registry, room, mut ada, _bob) = ada_and_bob();

    // Only the connection that holds the peer can take it out.
    registry.leave(&room, &PeerId::from("b"), 99, LeaveReason::Left);
    assert!(ada.received().is_empty());

    registry.leave(&room, &PeerId::from("b"), 2, LeaveReason::Left);
    assert_eq!(ada.received(), [peer_left("b", LeaveReason::Left)]);
    assert!(!registry.deliver(&room, &PeerId::from("a"), &PeerId::from("b"), &signal("a", "too late")));

    registry.leave(&room, &PeerId::from("a"), 1, LeaveReason::Disconnected);
    assert!(registry.rooms.is_empty());
    assert_eq!(registry.metrics.rooms.load(Ordering::Relaxed), 0);
    assert_eq!(registry.metrics.peers.load(Ordering::Relaxed), 0);
}

#[test]
fn a_dropped_peer_resumes_quietly_and_gets_what_was_held_for_it() {
    let (mut registry, room, mut ada, _bob) = ada_and_bob();
    let (a, b) = (PeerId::from("a"), PeerId::from("b"));

    assert_eq!(registry.disconnect(&room, &b, 99, GRACE), None, "not the connection that holds it");
    let epoch = registry.disconnect(&room, &b, 2, GRACE).expect("held by connection 2");
    assert!(registry.is_away(&room, &b, epoch));
    assert!(ada.received().is_empty(), "a drop is no news until the grace period ends");
    assert!(registry.deliver(&room, &a, &b, &signal("a", "first")));
    assert!(registry.deliver(&room, &a, &b, &signal("a", "second")));

    let mut bob_again = Client::new(3);
    registry.join(request(&room, "Bob", "b", true, &bob_again), welcome(&room)).unwrap();
    let received = bob_again.received();
    let joined = joined_of(&received[0]);
    assert!(joined.resumed);
    assert_eq!(joined.peers.iter().map(|info| info.id.as_str()).collect::<Vec<_>>(), ["a"]);
    assert_eq!(received[1..], [signalled("a", "first"), signalled("a", "second")]);
    assert!(ada.received().is_empty(), "a resume is no news either");

    // The grace period that started before the resume ends without effect.
    assert!(!registry.is_away(&room, &b, epoch));
    registry.expire(&room, &b, epoch);
    assert!(ada.received().is_empty());
    assert!(registry.deliver(&room, &a, &b, &signal("a", "third")));
    assert_eq!(bob_again.received(), [signalled("a", "third")]);
}

#[test]
fn a_dropped_peer_that_does_not_resume_leaves_when_its_grace_period_ends() {
    let (mut registry, room, mut ada, _bob) = ada_and_bob();
    let b = PeerId::from("b");
    let epoch = registry.disconnect(&room, &b, 2, GRACE).unwrap();

    registry.expire(&room, &b, epoch);
    assert_eq!(ada.received(), [peer_left("b", LeaveReason::Disconnected)]);
    assert!(!registry.is_away(&room, &b, epoch));

    // Its token went with it; its name and place are free again.
    let refused = registry.join(request(&room, "Bob", "b", true, &Client::new(3)), welcome(&room));
    assert_eq!(refused, Err(JoinError::InvalidResume));
    let mut bob_again = Client::new(4);
    join(&mut registry, &room, "Bob", "b2", &mut bob_again);
    assert_eq!(ada.received(), [peer_joined("b2", "Bob")]);
}

#[test]
fn a_resume_voids_the_token_it_came_with() {
    let (mut registry, room, mut ada, bob) = ada_and_bob();
    let mut bob_again = Client::new(3);
    let mut resume = request(&room, "Bob", "b", true, &bob_again);
    let rotated = Nonce([9; 16]);
    resume.nonce = rotated;
    registry.join(resume, welcome(&room)).unwrap();
    assert!(joined_of(&bob_again.received()[0]).resumed);
    assert_eq!(bob.close_requested(), Some(close_code::REPLACED));

    // The token Bob came back with (or a stolen copy of it) is void; the connection holding Bob is left alone.
    let thief = Client::new(4);
    let refused = registry.join(request(&room, "Bob", "b", true, &thief), welcome(&room));
    assert_eq!(refused, Err(JoinError::InvalidResume));
    assert_eq!(bob_again.close_requested(), None);
    // The token of the resume works.
    let mut latest = request(&room, "Bob", "b", true, &Client::new(5));
    latest.resume = Some(claim(rotated, false));
    registry.join(latest, welcome(&room)).unwrap();
    assert_eq!(bob_again.close_requested(), Some(close_code::REPLACED));
    assert!(ada.received().is_empty(), "resumes are no news");
}

#[test]
fn a_token_from_before_this_process_brings_a_peer_back_once() {
    let (mut registry, room, mut ada, _bob) = ada_and_bob();
    // As after a restart: the relay has never heard of Bob.
    registry.leave(&room, &PeerId::from("b"), 2, LeaveReason::Left);
    assert_eq!(ada.received(), [peer_left("b", LeaveReason::Left)]);
    let refused = registry.join(request(&room, "Bob", "b", true, &Client::new(3)), welcome(&room));
    assert_eq!(refused, Err(JoinError::InvalidResume), "a token of this process, of a peer that left");

    let mut earlier = request(&room, "Bob", "b", true, &Client::new(4));
    earlier.resume = Some(claim(nonce_of("b"), true));
    let mut bob_again = Client::new(4);
    earlier.outbox = bob_again.outbox.clone();
    registry.join(earlier, welcome(&room)).unwrap();
    assert!(!joined_of(&bob_again.received()[0]).resumed);
    assert_eq!(ada.received(), [peer_joined("b", "Bob")]);

    registry.leave(&room, &PeerId::from("b"), 4, LeaveReason::Left);
    let mut replayed = request(&room, "Bob", "b", true, &Client::new(5));
    replayed.resume = Some(claim(nonce_of("b"), true));
    assert_eq!(registry.join(replayed, welcome(&room)), Err(JoinError::InvalidResume));
}

#[test]
fn what_was_held_from_a_peer_that_left_is_not_passed_on() {
    let (mut registry, room, _ada, _bob) = ada_and_bob();
    let (a, b) = (PeerId::from("a"), PeerId::from("b"));
    registry.disconnect(&room, &a, 1, GRACE).unwrap();
    assert!(registry.deliver(&room, &b, &a, &signal("b", "stale")));
    registry.leave(&room, &b, 2, LeaveReason::Left);

    let mut ada_again = Client::new(3);
    registry.join(request(&room, "Ada", "a", true, &ada_again), welcome(&room)).unwrap();
    let received = ada_again.received();
    let joined = joined_of(&received[0]);
    assert!(joined.resumed);
    assert!(joined.peers.is_empty(), "Bob left");
    assert_eq!(received.len(), 1, "nothing Bob sent before he left: {received:?}");
}

#[test]
fn a_peer_within_its_grace_period_gets_the_newest_signals_held_for_it() {
    let (mut registry, room) = (registry(), room());
    let (mut ada, mut bob) = (Client::new(1), Client::with_queue(2, PENDING_LIMIT * 2));
    join(&mut registry, &room, "Ada", "a", &mut ada);
    join(&mut registry, &room, "Bob", "b", &mut bob);
    let (a, b) = (PeerId::from("a"), PeerId::from("b"));
    registry.disconnect(&room, &b, 2, GRACE).unwrap();
    let sent = PENDING_LIMIT + 5;
    for n in 0..sent {
        assert!(registry.deliver(&room, &a, &b, &signal("a", &n.to_string())));
    }

    let mut bob_again = Client::with_queue(3, PENDING_LIMIT * 2);
    registry.join(request(&room, "Bob", "b", true, &bob_again), welcome(&room)).unwrap();
    let received = bob_again.received();
    let expected: Vec<_> = (sent - PENDING_LIMIT..sent).map(|n| signalled("a", &n.to_string())).collect();
    assert_eq!(received[1..], expected, "the oldest are dropped first");
}

#[test]
fn resuming_while_the_old_connection_is_open_closes_it_as_replaced() {
    let (mut registry, room, mut ada, bob) = ada_and_bob();

    let mut bob_again = Client::new(3);
    registry.join(request(&room, "Bob", "b", true, &bob_again), welcome(&room)).unwrap();
    assert_eq!(bob.close_requested(), Some(close_code::REPLACED));
    assert!(joined_of(&bob_again.received()[0]).resumed);
    assert!(ada.received().is_empty());

    // The replaced connection no longer holds the peer: its end changes nothing.
    registry.leave(&room, &PeerId::from("b"), 2, LeaveReason::Left);
    assert_eq!(registry.disconnect(&room, &PeerId::from("b"), 2, GRACE), None);
    assert!(ada.received().is_empty());
    assert!(registry.deliver(&room, &PeerId::from("a"), &PeerId::from("b"), &signal("a", "to the new one")));
    assert_eq!(bob_again.received(), [signalled("a", "to the new one")]);
}

#[test]
fn a_peer_that_does_not_read_is_closed_as_a_slow_consumer() {
    let (mut registry, room) = (registry(), room());
    let (mut ada, mut bob) = (Client::new(1), Client::with_queue(2, 2));
    join(&mut registry, &room, "Ada", "a", &mut ada);
    join(&mut registry, &room, "Bob", "b", &mut bob);
    let (a, b) = (PeerId::from("a"), PeerId::from("b"));
    for n in 0..4 {
        registry.deliver(&room, &a, &b, &signal("a", &n.to_string()));
    }
    assert_eq!(bob.close_requested(), Some(close_code::SLOW_CONSUMER));
    assert_eq!(bob.received(), [signalled("a", "0"), signalled("a", "1")]);
    assert_eq!(registry.metrics.rejections(Rejection::SlowConsumer), 1, "counted once per connection");
    assert_eq!(ada.close_requested(), None);
}

#[test]
fn with_a_shared_registry_what_arrives_while_joining_follows_joined() {
    let (mut registry, room) = (registry(), room());
    let mut ada = Client::new(1);
    join(&mut registry, &room, "Ada", "a", &mut ada);
    let (a, b) = (PeerId::from("a"), PeerId::from("b"));

    let mut bob = Client::new(2);
    registry.reserve(&room, &b);
    assert!(registry.deliver(&room, &a, &b, &signal("a", "early")));
    assert!(registry.deliver_forwarded(&room, &PeerId::from("c"), &b, signal("c", "from afar")));
    assert!(bob.received().is_empty(), "nothing before joined");
    let others = vec![PeerInfo { id: a.clone(), name: DisplayName::parse("Ada").unwrap() }];
    registry.admit(request(&room, "Bob", "b", false, &bob), Decision { resumed: false, peers: others }, welcome(&room));
    let received = bob.received();
    assert!(!joined_of(&received[0]).resumed);
    assert_eq!(received[1..], [signalled("a", "early"), signalled("c", "from afar")]);
    assert_eq!(ada.received(), [peer_joined("b", "Bob")]);
}

#[test]
fn with_a_shared_registry_a_cancelled_join_leaves_nothing_behind() {
    let (mut registry, room) = (registry(), room());
    let b = PeerId::from("b");
    registry.reserve(&room, &b);
    assert!(registry.deliver_forwarded(&room, &PeerId::from("c"), &b, signal("c", "early")));
    registry.cancel(&room, &b);
    assert!(!registry.deliver_forwarded(&room, &PeerId::from("c"), &b, signal("c", "late")));
    assert!(registry.rooms.is_empty());
}

#[test]
fn with_a_shared_registry_news_from_other_relays_reaches_the_peers_here() {
    let (mut registry, room, mut ada, mut bob) = ada_and_bob();

    let carol = PeerInfo { id: PeerId::from("c"), name: DisplayName::parse("Carol").unwrap() };
    registry.announce_joined(&room, carol);
    assert_eq!(ada.received(), [peer_joined("c", "Carol")]);
    assert_eq!(bob.received(), [peer_joined("c", "Carol")]);
    registry.announce_left(&room, &PeerId::from("c"), LeaveReason::Left);
    assert_eq!(ada.received(), [peer_left("c", LeaveReason::Left)]);

    // Redis let Bob go (its view wins): his open connection is closed so that his client joins again.
    registry.announce_left(&room, &PeerId::from("b"), LeaveReason::Disconnected);
    assert_eq!(bob.close_requested(), Some(close_code::GOING_AWAY));
    assert_eq!(ada.received(), [peer_left("b", LeaveReason::Disconnected)]);
}

#[test]
fn with_a_shared_registry_a_peer_resumed_elsewhere_is_handed_over_with_what_was_held() {
    let (mut registry, room, mut ada, _bob) = ada_and_bob();
    let (a, b) = (PeerId::from("a"), PeerId::from("b"));
    registry.disconnect(&room, &b, 2, GRACE).unwrap();
    registry.deliver(&room, &a, &b, &signal("a", "held"));

    let now = Instant::now();
    let held = registry.held(now);
    let grace_of = |peer: &str| held.iter().find(|held| held.peer.as_str() == peer).map(|held| held.grace_left);
    assert_eq!(grace_of("a"), Some(Duration::ZERO), "connected");
    assert!(grace_of("b").is_some_and(|left| left > Duration::ZERO && left <= GRACE));

    let handed: Vec<_> = registry.hand_over(&room, &b).into_iter().collect();
    assert_eq!(handed, [(a.clone(), signal("a", "held"))]);
    assert!(ada.received().is_empty(), "Bob is still in the call, through another relay");
    assert!(!registry.deliver(&room, &a, &b, &signal("a", "not here any more")));
}

#[test]
fn what_is_held_for_a_peer_away_is_bounded_in_bytes_and_counted_until_passed_on() {
    let metrics = Arc::new(Metrics::default());
    let budget = Arc::new(Budget::new(4_000, 1 << 20, Arc::clone(&metrics)));
    let mut registry = Registry::new(CAPACITY, Arc::clone(&metrics), Arc::clone(&budget));
    let room = room();
    let (mut ada, mut bob) = (Client::under(1, 128, Arc::clone(&budget)), Client::under(2, 128, Arc::clone(&budget)));
    join(&mut registry, &room, "Ada", "a", &mut ada);
    join(&mut registry, &room, "Bob", "b", &mut bob);
    ada.received();
    assert_eq!(budget.held(), 0);

    let (a, b) = (PeerId::from("a"), PeerId::from("b"));
    registry.disconnect(&room, &b, 2, GRACE).unwrap();
    let big = |n: usize| signal("a", &format!("{n:0>280}"));
    for n in 0..20 {
        assert!(registry.deliver(&room, &a, &b, &big(n)));
        assert!(budget.held() <= 1_000, "{} bytes held", budget.held());
    }
    // Only the newest that fit are held, and only they are counted.
    let mut bob_again = Client::under(3, 128, Arc::clone(&budget));
    registry.join(request(&room, "Bob", "b", true, &bob_again), welcome(&room)).unwrap();
    let queued = bob_again.written();
    let held: Vec<_> = queued[1..].iter().map(|text| serde_json::from_str::<ServerMessage>(text).unwrap()).collect();
    let expected: Vec<_> = (20 - held.len()..20).map(|n| serde_json::from_str(&big(n)).unwrap()).collect();
    assert_eq!(held, expected);
    assert!(held.len() >= 2 && queued[1..].iter().map(|text| text.len()).sum::<usize>() <= 1_000);
    assert_eq!(budget.held(), 0, "everything was passed on, and written");

    // Held and then dropped, at the end of the grace period: given back too.
    let epoch = registry.disconnect(&room, &b, 3, GRACE).unwrap();
    registry.deliver(&room, &a, &b, &big(0));
    assert!(budget.held() > 0);
    registry.expire(&room, &b, epoch);
    assert_eq!(ada.received(), [peer_left("b", LeaveReason::Disconnected)]);
    assert_eq!(budget.held(), 0);
}
