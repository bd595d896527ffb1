//! The HTTP side: health, metrics, origin checks, the SPA and its config, ICE servers with TURN credentials and the
//! transport policy.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use huddle_common::IceTransportPolicy;
use huddle_server::config::IcePolicy;

use crate::harness::*;

#[tokio::test]
async fn healthz_and_metrics_report_live_figures() {
    let relay = relay(|_| {}).await;
    let addr = relay.local_addr();
    let (status, body) = http_get(addr, "/healthz").await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");

    let mut members = room_of(addr, &room(), &["Ada", "Bob"]).await;
    let bob = members[1].1.clone();
    members[0].0.signal(&bob, offer("counted")).await;
    members[1].0.recv_signal().await;
    assert_eq!(metric(addr, "huddle_connections").await, 2);
    assert_eq!(metric(addr, "huddle_rooms").await, 1);
    assert_eq!(metric(addr, "huddle_peers").await, 2);
    assert_eq!(metric(addr, "huddle_messages_relayed_total").await, 1);
    assert_eq!(metric(addr, "huddle_messages_received_total").await, 3);
    assert!(metric(addr, "huddle_bytes_received_total").await > 100);
    assert!(metric(addr, "huddle_bytes_sent_total").await > 100);
    let (_, body) = http_get(addr, "/metrics").await;
    assert!(body.contains("# TYPE huddle_rejections_total counter"), "{body}");
}

#[tokio::test]
async fn only_allowed_origins_may_upgrade() {
    let relay = relay(|config| config.allowed_origins = vec!["https://huddle.example".into()]).await;
    let addr = relay.local_addr();
    assert_eq!(Client::connect_from(addr, "https://evil.example").await.err(), Some(403));
    assert_eq!(metric(addr, "huddle_rejections_total{reason=\"origin\"}").await, 1);
    let mut allowed = Client::connect_from(addr, "https://huddle.example").await.expect("allowed origin");
    allowed.join(&room(), "Ada").await;
    // Non-browser clients send no Origin; the allowlist is about other web pages, so they pass.
    Client::connect(addr).await.join(&room(), "Bob").await;
}

#[tokio::test]
async fn ws_without_a_websocket_upgrade_is_a_bad_request_and_counts_no_connection() {
    let relay = relay(|_| {}).await;
    let addr = relay.local_addr();
    let (status, body) = http_get(addr, "/ws").await;
    assert_eq!((status, body.as_str()), (400, "expected a WebSocket upgrade (version 13)"));
    assert_eq!(metric(addr, "huddle_connections_total").await, 0);
    // The next real upgrade still works.
    Client::connect(addr).await.join(&room(), "Ada").await;
    assert_eq!(metric(addr, "huddle_connections_total").await, 1);
}

#[tokio::test]
async fn the_spa_is_served_with_its_config_and_room_links_fall_back_to_index() {
    let dir = std::env::temp_dir().join(format!("huddle-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>Huddle</title>").unwrap();
    std::fs::write(dir.join("app.js"), "console.log('hi')").unwrap();
    let static_dir = dir.clone();
    let relay = relay(move |config| {
        config.static_dir = Some(static_dir);
        config.public_url = Some("wss://relay.example/ws".into());
    })
    .await;
    let addr = relay.local_addr();

    assert_eq!(http_get(addr, "/app.js").await, (200, "console.log('hi')".into()));
    let (status, body) = http_get(addr, "/r/abcdefghijklmnopqrstuvwxya").await;
    assert_eq!((status, body.contains("<title>Huddle</title>")), (200, true));
    assert_eq!(http_get(addr, "/").await.0, 200);
    assert_eq!(http_get(addr, "/missing.js").await.0, 404, "a missing asset is not the app");
    let (status, body) = http_get(addr, "/config.json").await;
    assert_eq!(status, 200);
    let config: huddle_common::ClientConfig = serde_json::from_str(&body).unwrap();
    assert_eq!(config.relay_url.as_deref(), Some("wss://relay.example/ws"));
    // The API routes still win over the fallback.
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn turn_credentials_verify_with_an_independent_hmac() {
    let relay = relay(|config| {
        config.stun_urls = vec!["stun:127.0.0.1:3478".into()];
        config.turn_urls = vec!["turn:127.0.0.1:3478?transport=udp".into(), "turn:127.0.0.1:3478?transport=tcp".into()];
        config.turn_secret = Some("s3cret-shared-with-coturn".into());
        config.turn_ttl = Duration::from_secs(600);
    })
    .await;
    let joined = Client::connect(relay.local_addr()).await.join(&room(), "Ada").await;
    assert_eq!(joined.ice_servers.len(), 2);
    assert_eq!(joined.ice_servers[0].urls, ["stun:127.0.0.1:3478"]);
    assert_eq!(joined.ice_servers[0].username, None);
    let turn = &joined.ice_servers[1];
    assert_eq!(turn.urls.len(), 2);
    let username = turn.username.clone().expect("TURN username");
    let (expiry, peer) = username.split_once(':').expect("expiry:peer");
    assert_eq!(peer, joined.peer_id.as_str());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!((now + 590..=now + 610).contains(&expiry), "expiry {expiry} is about 10 minutes from {now}");

    // What coturn computes for use-auth-secret, done by openssl rather than by the relay's code.
    let script =
        format!("printf %s '{username}' | openssl dgst -sha1 -hmac 's3cret-shared-with-coturn' -binary | base64");
    let output = Command::new("sh").arg("-c").arg(script).output().expect("openssl runs");
    assert!(output.status.success());
    assert_eq!(turn.credential.as_deref(), Some(String::from_utf8(output.stdout).unwrap().trim()));
}

#[tokio::test]
async fn joined_carries_the_relay_only_policy_when_configured() {
    let default = relay(|_| {}).await;
    let joined = Client::connect(default.local_addr()).await.join(&room(), "Ada").await;
    assert_eq!(joined.ice_transport_policy, IceTransportPolicy::All);

    let relay_only = relay(|config| {
        config.turn_urls = vec!["turn:127.0.0.1:3478?transport=udp".into()];
        config.turn_secret = Some("s3cret-shared-with-coturn".into());
        config.ice_transport_policy = IcePolicy::Relay;
    })
    .await;
    let joined = Client::connect(relay_only.local_addr()).await.join(&room(), "Ada").await;
    assert_eq!(joined.ice_transport_policy, IceTransportPolicy::Relay);
    assert_eq!(joined.ice_servers.len(), 1, "the TURN server comes with it");
    assert!(joined.ice_servers[0].credential.is_some());
}

#[tokio::test]
async fn a_joined_client_gets_fresh_turn_credentials_before_the_old_ones_expire() {
    let relay = relay(|config| {
        config.stun_urls = vec!["stun:127.0.0.1:3478".into()];
        config.turn_urls = vec!["turn:127.0.0.1:3478?transport=udp".into()];
        config.turn_secret = Some("s3cret-shared-with-coturn".into());
        config.turn_ttl = Duration::from_secs(3);
    })
    .await;
    let mut ada = Client::connect(relay.local_addr()).await;
    let joined = ada.join(&room(), "Ada").await;
    let expiry_of = |servers: &[huddle_common::IceServer]| -> u64 {
        assert_eq!(servers[0].urls, ["stun:127.0.0.1:3478"], "the whole list comes again");
        let username = servers[1].username.as_deref().expect("TURN username");
        let (expiry, peer) = username.split_once(':').expect("expiry:peer");
        assert_eq!(peer, joined.peer_id.as_str());
        expiry.parse().unwrap()
    };
    let mut expiry = expiry_of(&joined.ice_servers);
    let mut credential = joined.ice_servers[1].credential.clone();
    // Twice: the relay keeps renewing them for as long as the client stays.
    for _ in 0..2 {
        // Each comes at two thirds of the lifetime, within the harness's wait.
        let huddle_common::ServerMessage::IceServers { ice_servers } = ada.recv().await else {
            panic!("expected ice_servers")
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert!(now < expiry, "fresh credentials at {now}, after the old ones expired at {expiry}");
        let fresh = expiry_of(&ice_servers);
        assert!(fresh > expiry, "the fresh credentials expire at {fresh}, no later than the old ones ({expiry})");
        assert_ne!(ice_servers[1].credential, credential);
        (expiry, credential) = (fresh, ice_servers[1].credential.clone());
    }
}
