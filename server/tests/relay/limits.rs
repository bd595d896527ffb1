//! Rate limits, slow consumers and the connection limit.

use std::time::Duration;

use huddle_common::{close_code, ClientMessage, ErrorCode, LeaveReason, ServerMessage, SignalPayload};

use crate::harness::*;

#[tokio::test]
async fn a_flood_is_answered_with_rate_limited_then_closed_with_1008() {
    let relay = relay(|config| {
        // No refill: the outcome cannot depend on how fast this machine sends.
        config.rate_limit_per_sec = 0;
        config.rate_limit_burst = 5;
        config.rate_limit_close_after = 20;
    })
    .await;
    let addr = relay.local_addr();
    let mut flooder = Client::connect(addr).await;
    for _ in 0..30 {
        flooder.send_text("{\"type\":\"leave\"}").await;
    }
    for _ in 0..5 {
        assert_eq!(flooder.recv_error().await, ErrorCode::NotJoined);
    }
    assert_eq!(flooder.recv_error().await, ErrorCode::RateLimited);
    let frame = flooder.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), close_code::POLICY_VIOLATION);
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"flood\"}").await, 1);

    // Everyone else is unaffected: each connection has its own bucket.
    let mut other = Client::connect(addr).await;
    other.join(&room(), "Ada").await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_without_holding_up_anyone() {
    let relay = relay(|config| {
        config.queue_capacity = 8;
        config.heartbeat_timeout = Duration::from_secs(2);
        config.rejoin_grace = Duration::from_millis(300);
        config.rate_limit_per_sec = 100_000;
        config.rate_limit_burst = 100_000;
        config.read_bytes_per_sec = u32::MAX;
    })
    .await;
    let addr = relay.local_addr();
    let mut members = room_of(addr, &room(), &["Ada", "Bob", "Cy"]).await;
    let (mut cy, cy_id) = members.pop().unwrap();
    let (bob, bob_id) = members.pop().unwrap();
    let (mut ada, ada_id) = members.pop().unwrap();
    // Bob's tab hangs: his socket stays open but nothing reads it.
    let _hung = bob.into_inner();

    // Ada pushes far more at Bob than socket buffers hold, 60 KB at a time, until the relay gives up on him.
    let slow_consumers = "huddle_rejections_total{reason=\"slow_consumer\"}";
    let big = SignalPayload::Offer { sdp: "a".repeat(60_000) };
    let mut sent = 0;
    while metric(addr, slow_consumers).await == 0 {
        assert!(sent < 2_000, "120 MB sent and Bob is still not cut off");
        for _ in 0..20 {
            ada.signal(&bob_id, big.clone()).await;
        }
        sent += 20;
    }

    // Cy's signal to Ada gets through at once, and Bob, past his grace period, is announced.
    cy.signal(&ada_id, SignalPayload::EndOfCandidates).await;
    assert_eq!(ada.recv_signal().await, (cy_id, SignalPayload::EndOfCandidates));
    match ada.recv().await {
        ServerMessage::PeerLeft { peer_id, reason } => {
            assert_eq!((peer_id, reason), (bob_id, LeaveReason::Disconnected));
        }
        other => panic!("expected peer_left, got {other:?}"),
    }
    wait_for_metric(addr, "huddle_connections", 2).await;
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"slow_consumer\"}").await, 1);
}

#[tokio::test]
async fn a_sender_past_its_read_rate_is_read_no_faster_and_loses_nothing() {
    const BURST: u32 = 40_000;
    const PER_SEC: u32 = 80_000;
    let relay = relay(|config| {
        config.read_bytes_per_sec = PER_SEC;
        config.read_burst_bytes = BURST;
    })
    .await;
    let addr = relay.local_addr();
    let mut members = room_of(addr, &room(), &["Ada", "Bob"]).await;
    let (mut bob, bob_id) = members.pop().unwrap();
    let (mut ada, ada_id) = members.pop().unwrap();

    // Ada sends ten 20 KB offers at once, five times her burst: the relay reads them at her rate.
    let offers: Vec<_> = (0..10).map(|n| SignalPayload::Offer { sdp: format!("{n:0>20000}") }).collect();
    let frame_bytes: Vec<usize> = offers
        .iter()
        .map(|payload| {
            let message = ClientMessage::Signal { to: bob_id.clone(), payload: payload.clone() };
            serde_json::to_string(&message).unwrap().len()
        })
        .collect();
    let start = std::time::Instant::now();
    let sending = {
        let (offers, bob_id) = (offers.clone(), bob_id.clone());
        tokio::spawn(async move {
            for payload in offers {
                ada.signal(&bob_id, payload).await;
            }
            ada
        })
    };
    // Each offer arrives whole and in order, and never before the relay could have read it: what Ada sent before it
    // fits in her burst and what her rate refilled since the start.
    let mut read_before = 0;
    for (payload, bytes) in offers.into_iter().zip(frame_bytes) {
        assert_eq!(bob.recv_signal().await, (ada_id.clone(), payload));
        let allowed = f64::from(BURST) + f64::from(PER_SEC) * start.elapsed().as_secs_f64();
        assert!(
            read_before as f64 <= allowed,
            "{read_before} bytes read before this offer, {allowed:.0} allowed by now"
        );
        read_before += bytes;
    }
    assert!(metric(addr, "huddle_read_pauses_total").await >= 1);

    // Ada was slowed, not cut off: she still hears Bob.
    let mut ada = sending.await.unwrap();
    bob.signal(&ada_id, SignalPayload::EndOfCandidates).await;
    assert_eq!(ada.recv_signal().await, (bob_id, SignalPayload::EndOfCandidates));
    assert_eq!(metric(addr, "huddle_connections").await, 2);
}

#[tokio::test]
async fn past_the_connection_limit_the_upgrade_is_refused_with_503() {
    let relay = relay(|config| config.max_connections = 2).await;
    let addr = relay.local_addr();
    let first = Client::connect(addr).await;
    let _second = Client::connect(addr).await;
    assert_eq!(Client::connect_from(addr, "http://127.0.0.1").await.err(), Some(503));
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"connection_limit\"}").await, 1);
    first.close().await;
    wait_for_metric(addr, "huddle_connections", 1).await;
    assert!(Client::connect_from(addr, "http://127.0.0.1").await.is_ok());
}
