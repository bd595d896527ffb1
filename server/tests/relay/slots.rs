//! One host cannot take every slot: the per-address caps on WebSockets and on connections still in HTTP, the
//! per-address join rate, `X-Forwarded-For` believed only from a trusted proxy, the join deadline and the
//! header-read timeout. Every loopback address is this host; 127.0.0.2, .3 … stand for different clients.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use huddle_common::{close_code, ErrorCode, ServerMessage};
use huddle_server::client_addr::parse_proxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Reads until the relay closes `stream`, at most [`WAIT`]; returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await.expect("the relay closes the connection") {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn one_address_gets_its_cap_of_websockets_while_another_still_gets_in() {
    let relay = relay(|config| config.max_connections_per_ip = 3).await;
    let addr = relay.local_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(Client::connect_as(addr, ip("127.0.0.2"), &[]).await.expect("within the cap"));
    }
    let (status, body) = Client::connect_as(addr, ip("127.0.0.2"), &[]).await.err().expect("past the cap");
    assert_eq!(status, 429);
    assert!(body.contains("too many connections from your address"), "{body}");
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"ip_connection_limit\"}").await, 1);

    // Another address is not held back, and joins.
    let mut other = Client::connect_as(addr, ip("127.0.0.3"), &[]).await.expect("another address gets in");
    other.join(&room(), "Ada").await;

    // A closed one frees its place for the same address.
    held.pop().unwrap().close().await;
    wait_for_metric(addr, "huddle_connections", 3).await;
    Client::connect_as(addr, ip("127.0.0.2"), &[]).await.expect("a place was freed");
}

#[tokio::test]
async fn joins_past_the_address_rate_are_refused_and_other_addresses_join() {
    let relay = relay(|config| {
        // No refill: the outcome cannot depend on how fast this machine is.
        config.join_rate_per_ip = 0;
        config.join_burst_per_ip = 2;
    })
    .await;
    let addr = relay.local_addr();
    let room = room();
    let mut ada = Client::connect_as(addr, ip("127.0.0.2"), &[]).await.unwrap();
    ada.join(&room, "Ada").await;
    // A join refused for its fields never got to a room and does not count; one refused by the room does.
    let mut bob = Client::connect_as(addr, ip("127.0.0.2"), &[]).await.unwrap();
    match bob.try_join(&room, " ", None).await {
        ServerMessage::Error { code: ErrorCode::InvalidName, .. } => {}
        other => panic!("expected invalid_name, got {other:?}"),
    }
    match bob.try_join(&room, "ada", None).await {
        ServerMessage::Error { code: ErrorCode::NameTaken, .. } => {}
        other => panic!("expected name_taken, got {other:?}"),
    }
    match bob.try_join(&room, "Bob", None).await {
        ServerMessage::Error { code: ErrorCode::JoinRateLimited, message } => {
            assert!(message.contains("too many joins from your address"), "{message}");
        }
        other => panic!("expected join_rate_limited, got {other:?}"),
    }
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"join_rate_limited\"}").await, 1);

    // Someone at another address joins the same room, and Ada hears of it: nobody else is affected.
    let mut cy = Client::connect_as(addr, ip("127.0.0.3"), &[]).await.unwrap();
    let joined = cy.join(&room, "Cy").await;
    match ada.recv().await {
        ServerMessage::PeerJoined { peer } => assert_eq!(peer.id, joined.peer_id),
        other => panic!("expected peer_joined, got {other:?}"),
    }
}

#[tokio::test]
async fn forwarded_for_is_believed_from_a_trusted_proxy_only() {
    let relay = relay(|config| {
        config.max_connections_per_ip = 1;
        config.trusted_proxies = vec![parse_proxy("127.0.0.5").unwrap()];
    })
    .await;
    let addr = relay.local_addr();
    let proxy = ip("127.0.0.5");
    let xff = "x-forwarded-for";

    // Through the proxy, each client it names counts on its own.
    let _first = Client::connect_as(addr, proxy, &[(xff, "198.51.100.1")]).await.expect("first client");
    let _second = Client::connect_as(addr, proxy, &[(xff, "198.51.100.2")]).await.expect("another client");
    assert_eq!(Client::connect_as(addr, proxy, &[(xff, "198.51.100.1")]).await.err().unwrap().0, 429);
    // The proxy appends what it saw; what the client wrote itself, to the left, is not believed.
    let forged = "203.0.113.9, 198.51.100.1";
    assert_eq!(Client::connect_as(addr, proxy, &[(xff, forged)]).await.err().unwrap().0, 429);

    // From any other peer, X-Forwarded-For changes nothing: a forged one does not evade the cap.
    let direct = ip("127.0.0.2");
    let _own = Client::connect_as(addr, direct, &[(xff, "198.51.100.3")]).await.expect("its first connection");
    assert_eq!(Client::connect_as(addr, direct, &[(xff, "198.51.100.4")]).await.err().unwrap().0, 429);
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"ip_connection_limit\"}").await, 3);

    // Without --trusted-proxy, not even the would-be proxy is believed.
    let untrusting = crate::harness::relay(|config| config.max_connections_per_ip = 1).await;
    let addr = untrusting.local_addr();
    let _one = Client::connect_as(addr, proxy, &[(xff, "198.51.100.1")]).await.expect("its first connection");
    assert_eq!(Client::connect_as(addr, proxy, &[(xff, "198.51.100.2")]).await.err().unwrap().0, 429);
}

#[tokio::test]
async fn a_socket_that_never_joins_is_closed_with_4003_while_joined_ones_stay() {
    let relay = relay(|config| config.join_timeout = Duration::from_millis(500)).await;
    let addr = relay.local_addr();
    let room = room();
    let mut ada = Client::connect(addr).await;
    ada.join(&room, "Ada").await;
    // A refused join leaves time to join again on the same connection, within the deadline.
    let mut bob = Client::connect(addr).await;
    match bob.try_join(&room, "ADA", None).await {
        ServerMessage::Error { code: ErrorCode::NameTaken, .. } => {}
        other => panic!("expected name_taken, got {other:?}"),
    }
    bob.join(&room, "Bob").await;
    assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { .. }));

    // Connected after both: its deadline passes after theirs.
    let mut idle = Client::connect(addr).await;
    let frame = idle.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), close_code::JOIN_TIMEOUT);
    assert_eq!(frame.reason, "join timeout");
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"join_timeout\"}").await, 1);

    // Ada and Bob, past their deadlines, are still in the call.
    let mut cy = Client::connect(addr).await;
    let cy_id = cy.join(&room, "Cy").await.peer_id;
    for member in [&mut ada, &mut bob] {
        match member.recv().await {
            ServerMessage::PeerJoined { peer } => assert_eq!(peer.id, cy_id),
            other => panic!("expected peer_joined, got {other:?}"),
        }
    }
    assert_eq!(metric(addr, "huddle_connections").await, 3);
}

#[tokio::test]
async fn dribbled_headers_and_silent_connections_are_cut_by_the_header_read_timeout() {
    let relay = relay(|config| config.header_read_timeout = Duration::from_millis(500)).await;
    let addr = relay.local_addr();
    let mut silent = tcp_from(addr, ip("127.0.0.2")).await;
    let mut dribbler = tcp_from(addr, ip("127.0.0.2")).await;
    dribbler.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    // A header line every 50 ms, never the blank line that ends them, until the relay hangs up.
    let dribbling = async {
        let mut line = 0u32;
        loop {
            if dribbler.write_all(format!("x-{line}: y\r\n").as_bytes()).await.is_err() {
                return;
            }
            line += 1;
            let mut byte = [0u8; 1];
            let read = tokio::time::timeout(Duration::from_millis(50), dribbler.read(&mut byte)).await;
            if let Ok(Ok(0) | Err(_)) = read {
                return;
            }
        }
    };
    tokio::time::timeout(WAIT, dribbling).await.expect("the dribbling connection is closed");
    read_until_closed(&mut silent).await;
    let metrics = &relay.relay().metrics;
    wait_until("no connection is left in HTTP", || metrics.http_connections.load(Ordering::Relaxed) == 0).await;

    // A real request is served as ever.
    assert_eq!(http_get_from(addr, ip("127.0.0.3"), "/healthz").await.0, 200);
}

#[tokio::test]
async fn past_the_per_address_http_cap_the_extras_are_refused_and_others_are_served() {
    let relay = relay(|config| config.max_http_connections_per_ip = 4).await;
    let addr = relay.local_addr();
    let metrics = &relay.relay().metrics;
    let mut attackers = Vec::new();
    for _ in 0..10 {
        let mut stream = tcp_from(addr, ip("127.0.0.2")).await;
        stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        attackers.push(stream);
    }
    // Accepted in the order they connected: the first four hold their places, the other six are refused.
    for refused in &mut attackers[4..] {
        let answer = read_until_closed(refused).await;
        assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
        assert!(answer.ends_with("too many connections; try again in a moment\n"), "{answer}");
    }
    assert_eq!(metrics.http_connections.load(Ordering::Relaxed), 4);
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"http_connection_limit\"}").await, 6);

    // Meanwhile another client is served, and can open a WebSocket and join.
    assert_eq!(http_get_from(addr, ip("127.0.0.3"), "/healthz").await.0, 200);
    let mut bystander = Client::connect_as(addr, ip("127.0.0.3"), &[]).await.expect("a bystander upgrades");
    bystander.join(&room(), "Ada").await;
    // An upgraded connection no longer counts as one in HTTP.
    assert_eq!(metrics.http_connections.load(Ordering::Relaxed), 4);
}

#[tokio::test]
async fn past_the_total_http_cap_newcomers_are_refused_until_a_place_frees() {
    let relay = relay(|config| config.max_http_connections = 3).await;
    let addr = relay.local_addr();
    let metrics = &relay.relay().metrics;
    let mut holders = Vec::new();
    for _ in 0..3 {
        let mut stream = tcp_from(addr, ip("127.0.0.2")).await;
        stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        holders.push(stream);
    }
    wait_until("three connections are in HTTP", || metrics.http_connections.load(Ordering::Relaxed) == 3).await;
    let mut late = tcp_from(addr, ip("127.0.0.3")).await;
    assert!(read_until_closed(&mut late).await.starts_with("HTTP/1.1 503 "));

    drop(holders.pop());
    wait_until("a place is free", || metrics.http_connections.load(Ordering::Relaxed) == 2).await;
    assert_eq!(http_get_from(addr, ip("127.0.0.3"), "/healthz").await.0, 200);
}
