//! Leaving, dropping, resuming and heartbeats.

use std::time::Duration;

use huddle_common::{close_code, ClientMessage, ErrorCode, Joined, LeaveReason, Resume, RoomId, ServerMessage};

use crate::harness::*;

fn expect_left(message: ServerMessage) -> (huddle_common::PeerId, LeaveReason) {
    match message {
        ServerMessage::PeerLeft { peer_id, reason } => (peer_id, reason),
        other => panic!("expected peer_left, got {other:?}"),
    }
}

/// Ada and Bob in a fresh room, each with the `joined` (and so the resume token) the relay gave them.
struct AdaAndBob {
    room: RoomId,
    ada: Client,
    ada_joined: Joined,
    bob: Client,
    bob_joined: Joined,
}

/// Ada joins a fresh room on `addr`, then Bob; Ada has heard that he joined.
async fn ada_then_bob(addr: std::net::SocketAddr) -> AdaAndBob {
    let room = room();
    let mut ada = Client::connect(addr).await;
    let ada_joined = ada.join(&room, "Ada").await;
    let mut bob = Client::connect(addr).await;
    let bob_joined = bob.join(&room, "Bob").await;
    assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { .. }));
    AdaAndBob { room, ada, ada_joined, bob, bob_joined }
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
    let AdaAndBob { room, mut ada, ada_joined, bob, bob_joined } = ada_then_bob(addr).await;

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
async fn the_token_of_a_peer_whose_grace_period_ended_is_refused() {
    let relay = relay(|config| config.rejoin_grace = Duration::from_millis(100)).await;
    let addr = relay.local_addr();
    let AdaAndBob { room, mut ada, bob, bob_joined, .. } = ada_then_bob(addr).await;
    bob.vanish();
    assert_eq!(expect_left(ada.recv().await), (bob_joined.peer_id.clone(), LeaveReason::Disconnected));

    let mut bob = Client::connect(addr).await;
    assert_eq!(try_resume(&mut bob, &room, "Bob", &bob_joined).await, Err(ErrorCode::InvalidResume));
    // The connection stays open; Bob joins as someone new, which the SPA does on `invalid_resume`.
    let again = bob.join(&room, "Bob").await;
    assert_ne!(again.peer_id, bob_joined.peer_id);
    assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { peer } if peer.id == again.peer_id));
}

#[tokio::test]
async fn the_token_of_a_peer_that_left_is_refused() {
    let relay = relay(|config| config.rejoin_grace = Duration::from_secs(3600)).await;
    let addr = relay.local_addr();
    let AdaAndBob { room, mut ada, mut bob, bob_joined, .. } = ada_then_bob(addr).await;
    bob.send(&ClientMessage::Leave).await;
    assert_eq!(expect_left(ada.recv().await), (bob_joined.peer_id.clone(), LeaveReason::Left));

    let mut mallory = Client::connect(addr).await;
    assert_eq!(try_resume(&mut mallory, &room, "Bob", &bob_joined).await, Err(ErrorCode::InvalidResume));
    // Nobody came back as Bob: Ada's next news is someone new.
    let cy_id = mallory.join(&room, "Cy").await.peer_id;
    assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { peer } if peer.id == cy_id));
}

#[tokio::test]
async fn a_resume_rotates_the_token_so_an_old_copy_is_refused_and_a_thief_is_told_nothing() {
    let relay = relay(|config| config.rejoin_grace = Duration::from_secs(3600)).await;
    let addr = relay.local_addr();
    let room = room();
    let mut ada = Client::connect(addr).await;
    let ada_joined = ada.join(&room, "Ada").await;
    ada.vanish();
    wait_for_metric(addr, "huddle_connections", 0).await;

    let mut ada = Client::connect(addr).await;
    let resumed = try_resume(&mut ada, &room, "Ada", &ada_joined).await.expect("resume accepted");
    assert!(resumed.resumed);
    assert_ne!(resumed.resume_token, ada_joined.resume_token, "each resume issues a fresh token");

    // A copy of the first token (stolen from the page, a log, a proxy) is void now: Ada keeps her connection.
    let mut thief = Client::connect(addr).await;
    assert_eq!(try_resume(&mut thief, &room, "Ada", &ada_joined).await, Err(ErrorCode::InvalidResume));
    let bob_id = thief.join(&room, "Bob").await.peer_id;
    assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { peer } if peer.id == bob_id));

    // The fresh token resumes (and closes the connection it replaces with 4001, saying why).
    let mut ada_elsewhere = Client::connect(addr).await;
    let again = try_resume(&mut ada_elsewhere, &room, "Ada", &resumed).await.expect("the fresh token resumes");
    assert!(again.resumed);
    let frame = ada.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), close_code::REPLACED);
    assert!(frame.reason.contains("resume"), "{}", frame.reason);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let lifetime = Duration::from_millis(300);
    let relay = relay(|config| {
        config.rejoin_grace = Duration::from_secs(3600);
        config.resume_ttl = lifetime;
    })
    .await;
    let addr = relay.local_addr();
    let room = room();
    let mut ada = Client::connect(addr).await;
    let ada_joined = ada.join(&room, "Ada").await;
    // The token was issued before `joined` arrived, so it expires by then + its lifetime.
    let issued = std::time::Instant::now();
    ada.vanish();
    // Ada is still within her grace period: only the token's age refuses her. (Waiting out a lifetime is what
    // expiry is; nothing else is awaited here.)
    tokio::time::sleep_until((issued + lifetime).into()).await;
    let mut ada = Client::connect(addr).await;
    assert_eq!(try_resume(&mut ada, &room, "Ada", &ada_joined).await, Err(ErrorCode::InvalidResume));
    assert_eq!(metric(addr, "huddle_peers").await, 1, "her place is kept for a resume that will not come");
}

#[tokio::test]
async fn a_relay_restarted_with_the_same_secret_takes_back_a_token_from_before_once() {
    const SECRET: &str = "the resume secret of this test, long enough";
    let (mut first, addr) = relay_process(&["--resume-secret", SECRET]);
    let room = room();
    let mut ada = Client::connect(addr).await;
    let ada_joined = ada.join(&room, "Ada").await;
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, addr) = relay_process(&["--resume-secret", SECRET]);
    let mut ada = Client::connect(addr).await;
    let back = try_resume(&mut ada, &room, "Ada", &ada_joined).await.expect("a token from before the restart");
    assert_eq!(back.peer_id, ada_joined.peer_id, "same id, so her calls go on");
    assert!(!back.resumed, "the relay forgot the room: she is news to whoever is there");
    ada.close().await;
    // Once: the same old token does not bring her back again.
    let mut again = Client::connect(addr).await;
    assert_eq!(try_resume(&mut again, &room, "Ada", &ada_joined).await, Err(ErrorCode::InvalidResume));
    second.kill().unwrap();
    second.wait().unwrap();
}

/// Sends `join` with `joined`'s resume token; the new `joined`, or the error's code.
async fn try_resume(client: &mut Client, room: &RoomId, name: &str, joined: &Joined) -> Result<Joined, ErrorCode> {
    let resume = Resume { peer_id: joined.peer_id.clone(), token: joined.resume_token.clone() };
    match client.try_join(room, name, Some(resume)).await {
        ServerMessage::Joined(joined) => Ok(joined),
        ServerMessage::Error { code, .. } => Err(code),
        other => panic!("expected joined or an error, got {other:?}"),
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
