//! Hostile and malformed input: each gets its own error code, and the connection and relay carry on.

use huddle_common::{close_code, ErrorCode, SignalPayload, MAX_MESSAGE_BYTES};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::*;

fn join_json(room: &str, name: &str, version: u32) -> String {
    json!({"type": "join", "version": version, "room": room, "name": name}).to_string()
}

#[tokio::test]
async fn each_bad_frame_gets_its_own_error_and_the_connection_still_works() {
    let relay = relay(|_| {}).await;
    let addr = relay.local_addr();
    let room = room();
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let cases: Vec<(&str, Message, ErrorCode)> = vec![
        ("not JSON", Message::text("hello relay"), ErrorCode::InvalidJson),
        ("truncated JSON", Message::Text("{\"type\":\"join\",".into()), ErrorCode::InvalidJson),
        ("unknown type", Message::Text(json!({"type": "dance"}).to_string().into()), ErrorCode::UnknownType),
        ("no type", Message::Text(json!({"room": room}).to_string().into()), ErrorCode::UnknownType),
        ("not an object", Message::text("[1,2,3]"), ErrorCode::UnknownType),
        (
            "join of the wrong shape",
            Message::Text(json!({"type": "join", "version": "1", "room": room}).to_string().into()),
            ErrorCode::InvalidMessage,
        ),
        (
            "signal without a payload",
            Message::Text(json!({"type": "signal", "to": "x"}).to_string().into()),
            ErrorCode::InvalidMessage,
        ),
        ("deeply nested JSON", Message::text(deep), ErrorCode::TooDeep),
        ("binary frame", Message::binary(vec![0, 159, 146, 150]), ErrorCode::BinaryUnsupported),
        (
            "signal before join",
            Message::Text(
                json!({"type": "signal", "to": "xoldzqblu3i7g", "payload": {"kind": "end_of_candidates"}})
                    .to_string()
                    .into(),
            ),
            ErrorCode::NotJoined,
        ),
        ("leave before join", Message::Text(json!({"type": "leave"}).to_string().into()), ErrorCode::NotJoined),
        ("malformed room id", Message::text(join_json("../../etc", "Ada", 1)), ErrorCode::InvalidRoom),
        ("empty name", Message::text(join_json(room.as_str(), "   ", 1)), ErrorCode::InvalidName),
        ("name too long", Message::text(join_json(room.as_str(), &"x".repeat(33), 1)), ErrorCode::InvalidName),
        ("future protocol", Message::text(join_json(room.as_str(), "Ada", 99)), ErrorCode::UnsupportedVersion),
    ];

    let mut client = Client::connect(addr).await;
    for (what, frame, expected) in cases {
        client.send_frame(frame).await;
        assert_eq!(client.recv_error().await, expected, "{what}");
    }
    // Still open, still un-joined, and a good join works; a second join does not.
    let joined = client.join(&room, "Ada").await;
    client.send_text(join_json(room.as_str(), "Ada", 1)).await;
    assert_eq!(client.recv_error().await, ErrorCode::AlreadyJoined);
    // A `to` that no relay could have made is a malformed signal, not a peer that is missing.
    for to in ["x", "XOLDZQBLU3I7G", "xoldzqblu3i7h"] {
        let signal = json!({"type": "signal", "to": to, "payload": {"kind": "end_of_candidates"}});
        client.send_text(signal.to_string()).await;
        assert_eq!(client.recv_error().await, ErrorCode::InvalidMessage, "{to}");
    }
    client.signal(&"xoldzqblu3i7g".into(), SignalPayload::EndOfCandidates).await;
    assert_eq!(client.recv_error().await, ErrorCode::UnknownPeer);

    let mut bob = Client::connect(addr).await;
    bob.join(&room, "Bob").await;
    bob.signal(&joined.peer_id, SignalPayload::EndOfCandidates).await;
    assert!(matches!(client.recv().await, huddle_common::ServerMessage::PeerJoined { .. }));
    assert_eq!(client.recv_signal().await.1, SignalPayload::EndOfCandidates);

    for (reason, count) in [("invalid_json", 2), ("unknown_type", 3), ("too_deep", 1), ("not_joined", 2)] {
        assert_eq!(metric(addr, &format!("huddle_rejections_total{{reason=\"{reason}\"}}")).await, count, "{reason}");
    }
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
}

#[tokio::test]
async fn a_frame_over_the_size_limit_closes_that_connection_with_1009_only() {
    let relay = relay(|_| {}).await;
    let addr = relay.local_addr();
    let mut members = room_of(addr, &room(), &["Ada", "Bob"]).await;
    let (mut bob, bob_id) = members.pop().unwrap();
    let (mut ada, ada_id) = members.pop().unwrap();

    // Just under the limit is fine.
    let sdp = "a".repeat(MAX_MESSAGE_BYTES - 200);
    ada.signal(&bob_id, SignalPayload::Offer { sdp: sdp.clone() }).await;
    assert_eq!(bob.recv_signal().await, (ada_id, SignalPayload::Offer { sdp }));

    let huge = format!(
        "{{\"type\":\"signal\",\"to\":\"{bob_id}\",\"payload\":{{\"kind\":\"offer\",\"sdp\":\"{}\"}}}}",
        "a".repeat(2 << 20)
    );
    ada.send_text(huge).await;
    let frame = ada.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), close_code::MESSAGE_TOO_BIG);
    match bob.recv().await {
        huddle_common::ServerMessage::PeerLeft { .. } => {}
        other => panic!("expected peer_left, got {other:?}"),
    }
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"too_big\"}").await, 1);
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    // The relay goes on.
    let mut cy = Client::connect(addr).await;
    cy.join(&crate::harness::room(), "Cy").await;
}

#[tokio::test]
async fn an_error_quotes_only_a_little_of_a_big_bad_frame() {
    let relay = relay(|_| {}).await;
    let addr = relay.local_addr();
    let mut client = Client::connect(addr).await;
    // Near the size limit, each full of characters JSON escapes (so quoting them whole made replies four times the
    // frame).
    let long = "\"\\\u{1}".repeat(6_100);
    let frames = [
        (json!({"type": long}), ErrorCode::UnknownType),
        (json!({"type": "join", "version": long, "room": "r", "name": "n"}), ErrorCode::InvalidMessage),
        (json!({"type": "signal", "to": long, "payload": {"kind": "end_of_candidates"}}), ErrorCode::InvalidMessage),
        (json!({"type": "signal", "to": "xoldzqblu3i7g", "payload": {"kind": long}}), ErrorCode::InvalidMessage),
    ];
    for (frame, code) in frames {
        let frame = frame.to_string();
        assert!(frame.len() > 60_000 && frame.len() < MAX_MESSAGE_BYTES, "{}", frame.len());
        client.send_text(frame).await;
        let reply = client.recv_text().await;
        assert!(reply.len() < 600, "a {} byte reply: {reply}", reply.len());
        match serde_json::from_str(&reply).unwrap() {
            huddle_common::ServerMessage::Error { code: got, message } => assert_eq!(got, code, "{message}"),
            other => panic!("expected an error, got {other:?}"),
        }
    }
}
