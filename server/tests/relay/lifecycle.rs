//! Leaving, dropping, resuming and heartbeats.

use std::time::Duration;

use huddle_common::{close_code, ClientMessage, ErrorCode, LeaveReason, Resume, ServerMessage};

use crate::harness::*;

fn expect_left(message: ServerMessage) -> (huddle_common::PeerId, LeaveReason) {
    match message {
        ServerMessage::PeerLeft { peer_id, reason } => (peer_id, reason),
        other => panic!("expected peer_left, got {other:?}"),
    }
}

#[tokio::test]
async fn leave_and_a_clean_close_tell_the_others_at_once() {
    // A grace period longer than the test's wait proves neither case waits for it.
    let relay = relay(|config| config.rejoin_grace = Duration::from_secs(3600)).await;
    let mut members = room_of(relay.local_addr(), &room(), &["Ada", "Bob", "Cy"]).await;
    let (mut cy, cy_id) = members.pop().unwrap();
    let (bob, bob_id) = members.pop().unwrap();
    let (ada, _) = &mut members[0];

    cy.send(&ClientMessage::Leave).await;
    assert_eq!(expect_left(ada.recv().await), (cy_id, LeaveReason::Left));
    bob.close().await;
    assert_eq!(expect_left(ada.recv().await), (bob_id, LeaveReason::Left));
    wait_for_metric(relay.local_addr(), "huddle_peers", 1).await;
}

#[tokio::test]
async fn an_abrupt_drop_is_announced_after_the_grace_period_and_the_room_empties() {
    let relay = relay(|config| config.rejoin_grace = Duration::from_millis(200)).await;
    let addr = relay.local_addr();
    let mut members = room_of(addr, &room(), &["Ada", "Bob"]).await;
    let (bob, bob_id) = members.pop().unwrap();
    bob.vanish();
    let (mut ada, _) = members.pop().unwrap();
    assert_eq!(expect_left(ada.recv().await), (bob_id, LeaveReason::Disconnected));
    ada.vanish();
    wait_for_metric(addr, "huddle_rooms", 0).await;
    wait_for_metric(addr, "huddle_peers", 0).await;
    wait_for_metric(addr, "huddle_connections", 0).await;
}

#[tokio::test]
async fn a_resume_within_the_grace_period_keeps_the_peer_id_and_delivers_what_was_missed() {
    let relay = relay(|config| config.rejoin_grace = Duration::from_secs(3600)).await;
    let addr = relay.local_addr();
    let room = room();
    let mut ada = Client::connect(addr).await;
    let ada_joined = ada.join(&room, "Ada").await;
    let mut bob = Client::connect(addr).await;
    let bob_joined = bob.join(&room, "Bob").await;
    assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { .. }));

    bob.vanish();
    wait_for_metric(addr, "huddle_connections", 1).await;
    // Ada renegotiates while Bob is away: the offer waits for him.
    ada.signal(&bob_joined.peer_id, offer("while-away")).await;

    let mut bob = Client::connect(addr).await;
    let resume = Resume { peer_id: bob_joined.peer_id.clone(), token: bob_joined.resume_token.clone() };
    let rejoined = match bob.try_join(&room, "Bob", Some(resume)).await {
        ServerMessage::Joined(joined) => joined,
        other => panic!("resume refused: {other:?}"),
    };
    assert!(rejoined.resumed);
    assert_eq!(rejoined.peer_id, bob_joined.peer_id);
    assert_eq!(rejoined.peers.len(), 1);
    assert_eq!(bob.recv_signal().await, (ada_joined.peer_id.clone(), offer("while-away")));

    // Ada was told nothing: her next message is Bob's fresh signal, not peer_left or peer_joined.
    bob.signal(&ada_joined.peer_id, offer("back")).await;
    assert_eq!(ada.recv_signal().await, (bob_joined.peer_id, offer("back")));
}

#[tokio::test]
async fn a_resume_from_a_new_connection_replaces_a_stale_one() {
    let relay = relay(|_| {}).await;
    let addr = relay.local_addr();
    let room = room();
    let mut old = Client::connect(addr).await;
    let joined = old.join(&room, "Ada").await;
    let mut new = Client::connect(addr).await;
    let resume = Resume { peer_id: joined.peer_id.clone(), token: joined.resume_token };
    assert!(matches!(new.try_join(&room, "Ada", Some(resume)).await, ServerMessage::Joined(j) if j.resumed));
    let frame = old.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), close_code::REPLACED);
    // The replaced connection ending does not take the peer with it.
    let mut bob = Client::connect(addr).await;
    let bob_joined = bob.join(&room, "Bob").await;
    assert_eq!(bob_joined.peers[0].id, joined.peer_id);
}

#[tokio::test]
async fn a_forged_or_foreign_resume_token_is_refused() {
    let relay = relay(|_| {}).await;
    let addr = relay.local_addr();
    let room = room();
    let mut ada = Client::connect(addr).await;
    let joined = ada.join(&room, "Ada").await;

    let mut mallory = Client::connect(addr).await;
    let forged = Resume { peer_id: joined.peer_id.clone(), token: "AAAA".into() };
    match mallory.try_join(&room, "Mallory", Some(forged)).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::InvalidResume),
        other => panic!("expected invalid_resume, got {other:?}"),
    }
    // Ada's genuine token is no good in another room.
    let foreign = Resume { peer_id: joined.peer_id, token: joined.resume_token };
    match mallory.try_join(&crate::harness::room(), "Mallory", Some(foreign)).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::InvalidResume),
        other => panic!("expected invalid_resume, got {other:?}"),
    }
}

#[tokio::test]
async fn a_resume_after_the_grace_period_rejoins_with_the_same_id_as_news_to_the_others() {
    let relay = relay(|config| config.rejoin_grace = Duration::from_millis(100)).await;
    let addr = relay.local_addr();
    let room = room();
    let mut ada = Client::connect(addr).await;
    ada.join(&room, "Ada").await;
    let mut bob = Client::connect(addr).await;
    let bob_joined = bob.join(&room, "Bob").await;
    assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { .. }));
    bob.vanish();
    assert_eq!(expect_left(ada.recv().await), (bob_joined.peer_id.clone(), LeaveReason::Disconnected));

    let mut bob = Client::connect(addr).await;
    let resume = Resume { peer_id: bob_joined.peer_id.clone(), token: bob_joined.resume_token };
    let rejoined = match bob.try_join(&room, "Bob", Some(resume)).await {
        ServerMessage::Joined(joined) => joined,
        other => panic!("rejoin refused: {other:?}"),
    };
    assert!(!rejoined.resumed, "the others were told Bob left, so this is a new arrival to them");
    assert_eq!(rejoined.peer_id, bob_joined.peer_id);
    match ada.recv().await {
        ServerMessage::PeerJoined { peer } => assert_eq!(peer.id, bob_joined.peer_id),
        other => panic!("expected peer_joined, got {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_connection_is_dropped_by_the_heartbeat() {
    let relay = relay(|config| {
        config.heartbeat_interval = Duration::from_millis(50);
        config.heartbeat_timeout = Duration::from_millis(200);
        config.rejoin_grace = Duration::from_millis(50);
    })
    .await;
    let addr = relay.local_addr();
    let mut members = room_of(addr, &room(), &["Ada", "Bob"]).await;
    // Bob's client stops reading, so it never answers a ping.
    let (bob, bob_id) = members.pop().unwrap();
    let _frozen = bob.into_inner();
    let (ada, _) = &mut members[0];
    // Ada reads (and so answers pings): she stays; Bob is dropped and, past the grace period, announced.
    assert_eq!(expect_left(ada.recv().await), (bob_id, LeaveReason::Disconnected));
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"heartbeat_timeout\"}").await, 1);
    assert_eq!(metric(addr, "huddle_connections").await, 1);
}
