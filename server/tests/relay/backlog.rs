//! Clients that stop reading: what the relay holds for them is bounded for each and in all, and a write that stalls
//! cuts them off; everyone else carries on.

use std::time::Duration;

use huddle_common::{close_code, ErrorCode, LeaveReason, PeerId, RoomId, ServerMessage, SignalPayload};
use huddle_server::{Config, RunningRelay};

use crate::harness::*;

/// About what a big SDP weighs, near the message size limit.
fn big_offer() -> SignalPayload {
    SignalPayload::Offer { sdp: "a".repeat(60_000) }
}

/// Most rounds of sending a test does before it gives up on the relay reacting.
const MAX_ROUNDS: usize = 2_000;

const QUEUED: &str = "huddle_queued_bytes";
const SLOW_CONSUMERS: &str = "huddle_rejections_total{reason=\"slow_consumer\"}";
const WRITE_TIMEOUTS: &str = "huddle_rejections_total{reason=\"write_timeout\"}";

/// A relay on which nothing but what `tweak` sets cuts a stalled client off: the write timeout and the heartbeat
/// outlast the test, and the rate limits (messages and bytes) are out of reach of its floods.
async fn relay_with_no_other_cutoffs(tweak: impl FnOnce(&mut Config)) -> RunningRelay {
    relay(|config| {
        config.write_timeout = Duration::from_secs(60);
        config.heartbeat_timeout = Duration::from_secs(60);
        config.rate_limit_per_sec = 100_000;
        config.rate_limit_burst = 100_000;
        config.read_bytes_per_sec = u32::MAX;
        tweak(config);
    })
    .await
}

/// A client that joins and then never reads, with a small receive buffer so that it stops taking bytes soon.
async fn stalled(addr: std::net::SocketAddr, room: &RoomId, name: &str) -> (Client, PeerId) {
    let mut client = Client::connect_with_receive_buffer(addr, 4096).await;
    let peer_id = client.join(room, name).await.peer_id;
    (client, peer_id)
}

/// A fresh room where Ada and Dee read, and stalled clients who joined after them never do.
struct StalledRoom<const N: usize> {
    room: RoomId,
    ada: Client,
    ada_id: PeerId,
    dee: Client,
    dee_id: PeerId,
    /// In the order they joined.
    stalled: [(Client, PeerId); N],
}

/// Ada and Dee join a fresh room on `addr`, then a [`stalled`] client for each of `names`; Ada and Dee are told of
/// every one.
async fn ada_and_dee_joined_by_stalled<const N: usize>(addr: std::net::SocketAddr, names: [&str; N]) -> StalledRoom<N> {
    let room = room();
    let mut readers = room_of(addr, &room, &["Ada", "Dee"]).await;
    let (mut dee, dee_id) = readers.pop().unwrap();
    let (mut ada, ada_id) = readers.pop().unwrap();
    let mut joined = Vec::with_capacity(N);
    for name in names {
        joined.push(stalled(addr, &room, name).await);
    }
    for _ in 0..N {
        assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { .. }));
        assert!(matches!(dee.recv().await, ServerMessage::PeerJoined { .. }));
    }
    let Ok(stalled) = joined.try_into() else { unreachable!("one stalled client for each name") };
    StalledRoom { room, ada, ada_id, dee, dee_id, stalled }
}

/// `from` signals `marker` to `to`, who must receive it: everything `from` sent before has been handled by then.
async fn barrier(from: &mut Client, to: &mut Client, to_id: &PeerId, from_id: &PeerId) {
    from.signal(to_id, offer("barrier")).await;
    assert_eq!(to.recv_signal().await, (from_id.clone(), offer("barrier")));
}

#[tokio::test]
async fn a_receiver_that_never_reads_is_cut_off_with_4000_once_its_bytes_pass_the_bound() {
    // Only the byte bound may cut Bob off here.
    let relay = relay_with_no_other_cutoffs(|config| {
        config.queue_bytes = 256 * 1024;
        config.rejoin_grace = Duration::from_millis(300);
    })
    .await;
    let addr = relay.local_addr();
    let room = room();
    let (mut ada, ada_id) = {
        let mut ada = Client::connect(addr).await;
        let id = ada.join(&room, "Ada").await.peer_id;
        (ada, id)
    };
    let (mut bob, bob_id) = stalled(addr, &room, "Bob").await;
    assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { .. }));
    let mut bystanders = room_of(addr, &crate::harness::room(), &["Cy", "Dee"]).await;
    let (mut dee, dee_id) = bystanders.pop().unwrap();
    let (mut cy, cy_id) = bystanders.pop().unwrap();

    // Ada pushes far more at Bob than his socket takes until the relay gives up on him; meanwhile the bystanders
    // talk, and get through every time.
    let mut rounds = 0;
    while metric(addr, SLOW_CONSUMERS).await == 0 {
        assert!(rounds < MAX_ROUNDS, "{} MB sent and Bob is still not cut off", rounds * 60 * 4 / 1000);
        for _ in 0..4 {
            ada.signal(&bob_id, big_offer()).await;
        }
        barrier(&mut cy, &mut dee, &dee_id, &cy_id).await;
        assert!(metric(addr, QUEUED).await <= 256 * 1024 + 4096, "more held than Bob's bound");
        rounds += 1;
    }

    // Bob reads again: what made it into his socket, then the close frame.
    let frame = bob.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), close_code::SLOW_CONSUMER);
    // Ada is told once his grace period ends, and her next signal goes out as ever.
    match ada.recv().await {
        ServerMessage::PeerLeft { peer_id, reason } => {
            assert_eq!((peer_id, reason), (bob_id, LeaveReason::Disconnected))
        }
        other => panic!("expected peer_left, got {other:?}"),
    }
    barrier(&mut dee, &mut cy, &cy_id, &dee_id).await;
    let mut eve = Client::connect(addr).await;
    let eve_id = eve.join(&room, "Eve").await.peer_id;
    assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { .. }));
    barrier(&mut ada, &mut eve, &eve_id, &ada_id).await;
    // Every byte held for Bob was given back.
    wait_for_metric(addr, QUEUED, 0).await;
    assert_eq!(metric(addr, SLOW_CONSUMERS).await, 1);
    assert_eq!(metric(addr, WRITE_TIMEOUTS).await, 0);
}

#[tokio::test]
async fn past_the_budget_joins_are_refused_with_overloaded_until_the_stalled_are_gone() {
    let relay = relay_with_no_other_cutoffs(|config| {
        config.queue_budget = 1024 * 1024;
        config.room_capacity = 8;
    })
    .await;
    let addr = relay.local_addr();
    let StalledRoom { room, mut ada, ada_id, mut dee, dee_id, stalled: [(bob, bob_id), (cy, cy_id)] } =
        ada_and_dee_joined_by_stalled(addr, ["Bob", "Cy"]).await;

    // Bob and Cy never read what Ada sends them: the relay holds it, until three quarters of the budget.
    let mut rounds = 0;
    let held = loop {
        assert!(rounds < MAX_ROUNDS, "the relay never held three quarters of its budget");
        ada.signal(&bob_id, big_offer()).await;
        ada.signal(&cy_id, big_offer()).await;
        barrier(&mut ada, &mut dee, &dee_id, &ada_id).await;
        let held = metric(addr, QUEUED).await;
        if held >= 768 * 1024 {
            break held;
        }
        rounds += 1;
    };
    assert!(held <= 1024 * 1024, "{held}");

    // Nobody new gets in, here or in another room; those in the room carry on.
    let mut eve = Client::connect(addr).await;
    for room in [&room, &crate::harness::room()] {
        match eve.try_join(room, "Eve", None).await {
            ServerMessage::Error { code: ErrorCode::Overloaded, message } => assert!(message.contains("try again")),
            other => panic!("expected overloaded, got {other:?}"),
        }
    }
    barrier(&mut dee, &mut ada, &ada_id, &dee_id).await;
    assert_eq!(metric(addr, SLOW_CONSUMERS).await, 0, "nothing was dropped to refuse the joins");

    // Once the stalled clients are gone, what the relay held for them is given back, and joins work again.
    bob.vanish();
    cy.vanish();
    wait_for_metric(addr, QUEUED, 0).await;
    eve.join(&room, "Eve").await;
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"overloaded\"}").await, 2);
}

#[tokio::test]
async fn a_write_that_stalls_past_the_write_timeout_cuts_the_receiver_off() {
    let relay = relay_with_no_other_cutoffs(|config| {
        config.write_timeout = Duration::from_millis(500);
        config.rejoin_grace = Duration::from_millis(300);
    })
    .await;
    let addr = relay.local_addr();
    // Bob stays connected (and stalled) until the relay cuts him off.
    let StalledRoom { mut ada, ada_id, mut dee, dee_id, stalled: [(_bob, bob_id)], .. } =
        ada_and_dee_joined_by_stalled(addr, ["Bob"]).await;

    // Enough for Bob's socket to fill and the relay to start holding bytes for him, far below his 1 MiB bound.
    let mut rounds = 0;
    while metric(addr, QUEUED).await < 240_000 {
        assert!(rounds < MAX_ROUNDS, "the relay never held anything for Bob");
        ada.signal(&bob_id, big_offer()).await;
        barrier(&mut ada, &mut dee, &dee_id, &ada_id).await;
        rounds += 1;
    }
    // Then nothing more: the write that is stuck is what cuts him off.
    wait_for_metric(addr, WRITE_TIMEOUTS, 1).await;
    match ada.recv().await {
        ServerMessage::PeerLeft { peer_id, reason } => {
            assert_eq!((peer_id, reason), (bob_id, LeaveReason::Disconnected))
        }
        other => panic!("expected peer_left, got {other:?}"),
    }
    assert!(matches!(dee.recv().await, ServerMessage::PeerLeft { .. }));
    wait_for_metric(addr, QUEUED, 0).await;
    assert_eq!(metric(addr, SLOW_CONSUMERS).await, 0);
    barrier(&mut ada, &mut dee, &dee_id, &ada_id).await;
}
