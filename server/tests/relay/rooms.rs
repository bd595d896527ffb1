//! Joining, names, capacity, and who receives what.

use huddle_common::{ErrorCode, LeaveReason, PeerId, ServerMessage, SignalPayload};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn joined_lists_the_peers_already_there_and_they_hear_of_the_newcomer() {
    let relay = relay(|_| {}).await;
    let room = room();
    let mut ada = Client::connect(relay.local_addr()).await;
    let ada_joined = ada.join(&room, "Ada").await;
    assert!(ada_joined.peers.is_empty());
    assert!(!ada_joined.resumed);
    assert_eq!(ada_joined.room, room);
    assert_eq!(ada_joined.capacity, 4);
    assert!(ada_joined.ice_servers.is_empty(), "no STUN/TURN server unless configured");

    let mut bob = Client::connect(relay.local_addr()).await;
    let bob_joined = bob.join(&room, "Bob").await;
    assert_ne!(bob_joined.peer_id, ada_joined.peer_id);
    assert_eq!(bob_joined.peers.len(), 1);
    assert_eq!(bob_joined.peers[0].id, ada_joined.peer_id);
    assert_eq!(bob_joined.peers[0].name.as_str(), "Ada");
    match ada.recv().await {
        ServerMessage::PeerJoined { peer } => {
            assert_eq!(peer.id, bob_joined.peer_id);
            assert_eq!(peer.name.as_str(), "Bob");
        }
        other => panic!("expected peer_joined, got {other:?}"),
    }
}

#[tokio::test]
async fn a_name_is_unique_within_a_room_regardless_of_case_but_not_across_rooms() {
    let relay = relay(|_| {}).await;
    let room = room();
    let mut ada = Client::connect(relay.local_addr()).await;
    ada.join(&room, "Ada").await;

    let mut imposter = Client::connect(relay.local_addr()).await;
    match imposter.try_join(&room, " ADA ", None).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::NameTaken),
        other => panic!("expected name_taken, got {other:?}"),
    }
    // The refused connection stays open and may try another name.
    let joined = imposter.join(&room, "Ada L.").await;
    assert_eq!(joined.peers.len(), 1);

    let mut elsewhere = Client::connect(relay.local_addr()).await;
    elsewhere.join(&crate::harness::room(), "Ada").await;
}

#[tokio::test]
async fn a_name_that_looks_like_someone_elses_is_taken_and_an_invisible_one_is_invalid() {
    let relay = relay(|_| {}).await;
    let room = room();
    let mut ada = Client::connect(relay.local_addr()).await;
    ada.join(&room, "Ada").await;

    let mut imposter = Client::connect(relay.local_addr()).await;
    // Cyrillic А, full-width Ａ: the same letters to the eye.
    for name in ["\u{410}da", "\u{FF21}da"] {
        match imposter.try_join(&room, name, None).await {
            ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::NameTaken, "{name:?}"),
            other => panic!("expected name_taken for {name:?}, got {other:?}"),
        }
    }
    // "Ada" and a Hangul filler, which draws nothing.
    match imposter.try_join(&room, "Ada\u{3164}", None).await {
        ServerMessage::Error { code, message } => {
            assert_eq!(code, ErrorCode::InvalidName);
            assert!(message.contains("U+3164"), "says which character: {message}");
        }
        other => panic!("expected invalid_name, got {other:?}"),
    }
    // Accents make another name.
    let joined = imposter.join(&room, "Adà").await;
    assert_eq!(joined.peers.len(), 1);
}

#[tokio::test]
async fn a_full_room_refuses_the_next_person_until_someone_leaves() {
    let relay = relay(|config| config.room_capacity = 2).await;
    let room = room();
    let mut members = room_of(relay.local_addr(), &room, &["Ada", "Bob"]).await;

    let mut third = Client::connect(relay.local_addr()).await;
    match third.try_join(&room, "Cy", None).await {
        ServerMessage::Error { code, message } => {
            assert_eq!(code, ErrorCode::RoomFull);
            assert!(message.contains('2'), "says how many fit: {message}");
        }
        other => panic!("expected room_full, got {other:?}"),
    }
    let (bob, _) = members.pop().unwrap();
    bob.close().await;
    let (ada, _) = &mut members[0];
    assert!(matches!(ada.recv().await, ServerMessage::PeerLeft { reason: LeaveReason::Left, .. }));
    let joined = third.join(&room, "Cy").await;
    assert_eq!(joined.peers.len(), 1);
}

#[tokio::test]
async fn a_signal_reaches_only_its_target_stamped_with_the_real_sender() {
    let relay = relay(|_| {}).await;
    let room = room();
    let mut members = room_of(relay.local_addr(), &room, &["Ada", "Bob", "Cy"]).await;
    let ids: Vec<_> = members.iter().map(|(_, id)| id.clone()).collect();

    // Ada claims to be Cy; the relay ignores the claim and stamps Ada.
    let forged = json!({"type": "signal", "to": ids[1], "from": ids[2], "payload": offer("from-ada")});
    members[0].0.send_text(forged.to_string()).await;
    let (from, payload) = members[1].0.recv_signal().await;
    assert_eq!(from, ids[0]);
    assert_eq!(payload, offer("from-ada"));

    // Cy got nothing: the next thing Cy receives is Bob's marker.
    members[1].0.signal(&ids[2], SignalPayload::EndOfCandidates).await;
    assert_eq!(members[2].0.recv_signal().await, (ids[1].clone(), SignalPayload::EndOfCandidates));
}

#[tokio::test]
async fn rooms_are_isolated_from_each_other() {
    let relay = relay(|_| {}).await;
    let mut here = room_of(relay.local_addr(), &room(), &["Ada", "Bob"]).await;
    let mut there = room_of(relay.local_addr(), &room(), &["Cy", "Dee"]).await;

    // Ada knows Cy's id (say it leaked); signalling across rooms is refused all the same.
    let cy = there[0].1.clone();
    here[0].0.signal(&cy, offer("leak")).await;
    assert_eq!(here[0].0.recv_error().await, ErrorCode::UnknownPeer);
    let dee = there[1].1.clone();
    there[1].0.signal(&cy, offer("marker")).await;
    assert_eq!(there[0].0.recv_signal().await, (dee, offer("marker")));

    // A peer that never existed, and oneself, are unknown too.
    here[0].0.signal(&PeerId::from_random([0; 8]), offer("x")).await;
    assert_eq!(here[0].0.recv_error().await, ErrorCode::UnknownPeer);
    let ada = here[0].1.clone();
    here[0].0.signal(&ada, offer("x")).await;
    assert_eq!(here[0].0.recv_error().await, ErrorCode::UnknownPeer);
}

#[tokio::test]
async fn candidates_and_answers_pass_through_untouched() {
    let relay = relay(|_| {}).await;
    let mut members = room_of(relay.local_addr(), &room(), &["Ada", "Bob"]).await;
    let (ada_id, bob_id) = (members[0].1.clone(), members[1].1.clone());
    let candidate = SignalPayload::Candidate {
        candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: Some("aBcD".into()),
    };
    members[1].0.signal(&ada_id, SignalPayload::Answer { sdp: "v=0\r\n".into() }).await;
    members[1].0.signal(&ada_id, candidate.clone()).await;
    assert_eq!(members[0].0.recv_signal().await, (bob_id.clone(), SignalPayload::Answer { sdp: "v=0\r\n".into() }));
    assert_eq!(members[0].0.recv_signal().await, (bob_id, candidate));
}

#[tokio::test]
async fn a_payload_reaches_the_recipient_as_sent_extra_fields_and_escapes_included() {
    let relay = relay(|_| {}).await;
    let mut members = room_of(relay.local_addr(), &room(), &["Ada", "Bob"]).await;
    let (ada_id, bob_id) = (members[0].1.clone(), members[1].1.clone());
    // Fields the relay does not know, inside the payload and beside it, and escapes serde would not write.
    let payload = r#"{"sdp":"\u0076=0\r\n\/","kind":"offer","x_codec":{"prefer":["av1",1.5e3]},"from":"inside"}"#;
    let text = format!(r#"{{"type":"signal","from":"forged","to":"{bob_id}","x_hint":true,"payload":{payload}}}"#);
    members[0].0.send_text(text).await;

    let received = members[1].0.recv_text().await;
    assert_eq!(received, format!(r#"{{"type":"signal","from":"{ada_id}","payload":{payload}}}"#));
    assert_eq!(
        serde_json::from_str::<ServerMessage>(&received).unwrap(),
        ServerMessage::Signal { from: ada_id, payload: SignalPayload::Offer { sdp: "v=0\r\n/".into() } }
    );
}

#[tokio::test]
async fn a_payload_reaches_the_recipient_as_sent_from_a_signal_the_fast_path_does_not_read() {
    let relay = relay(|_| {}).await;
    let mut members = room_of(relay.local_addr(), &room(), &["Ada", "Bob"]).await;
    let (ada_id, bob_id) = (members[0].1.clone(), members[1].1.clone());
    // serde also reads a message written as an array of its fields: only the relay's slower path takes it.
    let payload = r#"{"sdp":"\u0076=0\r\n\/","kind":"offer","x_codec":{"prefer":["av1",1.5e3]}}"#;
    members[0].0.send_text(format!(r#"["signal","{bob_id}",{payload}]"#)).await;

    let received = members[1].0.recv_text().await;
    assert_eq!(received, format!(r#"{{"type":"signal","from":"{ada_id}","payload":{payload}}}"#));
}
