//! Several relays sharing rooms through a real `redis-server` (`--redis-url`).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::future::join_all;
use huddle_common::{ErrorCode, Joined, LeaveReason, PeerId, Resume, RoomId, ServerMessage};
use huddle_server::{Config, RunningRelay};

use crate::harness::*;
use crate::redis_server::RedisServer;

const SECRET: &str = "shared by the relays of these tests";
const CLUSTER_SECRET: &str = "sealing what the relays of these tests tell each other";

/// Keys of each test apart, in case two tests ever share a server.
fn prefix() -> String {
    let mut bytes = [0u8; 6];
    getrandom::getrandom(&mut bytes).unwrap();
    format!("test-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A relay in this process sharing rooms through `redis` under `prefix`, ready to take joins.
async fn relay_on(redis: &RedisServer, prefix: &str, tweak: impl FnOnce(&mut Config)) -> RunningRelay {
    let relay = relay(|config| {
        config.redis_url = Some(redis.url());
        config.redis_prefix = prefix.into();
        config.resume_secret = Some(SECRET.into());
        config.cluster_secret = Some(CLUSTER_SECRET.into());
        tweak(config);
    })
    .await;
    wait_for_health(relay.local_addr(), 200).await;
    relay
}

/// Waits until `/healthz` answers `status` (200 with Redis reachable, 503 without); returns its body.
async fn wait_for_health(addr: SocketAddr, status: u16) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (now, body) = http_get(addr, "/healthz").await;
        if now == status {
            return serde_json::from_str(&body).unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "/healthz stayed {now}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ids(peers: &[huddle_common::PeerInfo]) -> Vec<&str> {
    peers.iter().map(|peer| peer.id.as_str()).collect()
}

/// Two relays sharing a fresh room through one Redis: Ada joined through the first, Bob through the second.
struct AcrossTwoRelays {
    a: RunningRelay,
    b: RunningRelay,
    room: RoomId,
    ada: Client,
    ada_joined: Joined,
    bob: Client,
    bob_joined: Joined,
}

/// Starts two relays on `redis` under `prefix`, both changed by `tweak`; Ada joins a fresh room through the first,
/// then Bob through the second, and Ada is told that Bob, by his id and name, joined.
async fn ada_and_bob_on_two_relays(redis: &RedisServer, prefix: &str, tweak: impl Fn(&mut Config)) -> AcrossTwoRelays {
    let (a, b) = (relay_on(redis, prefix, &tweak).await, relay_on(redis, prefix, &tweak).await);
    let room = room();
    let mut ada = Client::connect(a.local_addr()).await;
    let ada_joined = ada.join(&room, "Ada").await;
    let mut bob = Client::connect(b.local_addr()).await;
    let bob_joined = bob.join(&room, "Bob").await;
    match ada.recv().await {
        ServerMessage::PeerJoined { peer } => assert_eq!((&peer.id, peer.name.as_str()), (&bob_joined.peer_id, "Bob")),
        other => panic!("expected peer_joined, got {other:?}"),
    }
    AcrossTwoRelays { a, b, room, ada, ada_joined, bob, bob_joined }
}

#[tokio::test]
async fn peers_on_two_relays_meet_signal_each_other_and_hear_who_leaves() {
    let redis = RedisServer::start();
    let prefix = prefix();
    let AcrossTwoRelays { a, b, room, mut ada, ada_joined, mut bob, bob_joined } =
        ada_and_bob_on_two_relays(&redis, &prefix, |_| {}).await;
    let ada_id = ada_joined.peer_id;
    assert_eq!(ids(&bob_joined.peers), [ada_id.as_str()]);
    assert_eq!(bob_joined.peers[0].name.as_str(), "Ada");

    // A signal to oneself is refused as it is without Redis, not passed round through it.
    bob.signal(&bob_joined.peer_id, offer("to myself")).await;
    assert_eq!(bob.recv_error().await, ErrorCode::UnknownPeer);

    bob.signal(&ada_id, offer("from-b")).await;
    assert_eq!(ada.recv_signal().await, (bob_joined.peer_id.clone(), offer("from-b")));
    ada.signal(&bob_joined.peer_id, offer("from-a")).await;
    assert_eq!(bob.recv_signal().await, (ada_id.clone(), offer("from-a")));
    assert_eq!(metric(b.local_addr(), "huddle_messages_relayed_total").await, 1);

    // A third person on the first relay sees both, wherever they are.
    let mut cy = Client::connect(a.local_addr()).await;
    let cy_joined = cy.join(&room, "Cy").await;
    assert_eq!(ids(&cy_joined.peers), [ada_id.as_str(), bob_joined.peer_id.as_str()]);
    for other in [&mut ada, &mut bob] {
        assert!(matches!(other.recv().await, ServerMessage::PeerJoined { peer } if peer.id == cy_joined.peer_id));
    }

    ada.close().await;
    for other in [&mut bob, &mut cy] {
        match other.recv().await {
            ServerMessage::PeerLeft { peer_id, reason } => {
                assert_eq!((peer_id, reason), (ada_id.clone(), LeaveReason::Left))
            }
            unexpected => panic!("expected peer_left, got {unexpected:?}"),
        }
    }
    bob.signal(&ada_id, offer("too late")).await;
    assert_eq!(bob.recv_error().await, ErrorCode::UnknownPeer);
}

#[tokio::test]
async fn capacity_and_names_hold_when_many_join_at_once_through_two_relays() {
    let redis = RedisServer::start();
    let prefix = prefix();
    let relays = [relay_on(&redis, &prefix, |_| {}).await, relay_on(&redis, &prefix, |_| {}).await];

    // Ten different people rush a room of four, half through each relay.
    let room = room();
    let mut clients = Vec::new();
    for i in 0..10 {
        clients.push(Client::connect(relays[i % 2].local_addr()).await);
    }
    let names: Vec<String> = (0..clients.len()).map(|i| format!("P{i}")).collect();
    let replies =
        join_all(clients.iter_mut().zip(&names).map(|(client, name)| client.try_join(&room, name, None))).await;
    let joined = replies.iter().filter(|reply| matches!(reply, ServerMessage::Joined(_))).count();
    let full =
        replies.iter().filter(|reply| matches!(reply, ServerMessage::Error { code: ErrorCode::RoomFull, .. })).count();
    assert_eq!((joined, full), (4, 6), "{replies:?}");

    // Six people called Ada rush another room.
    let room = crate::harness::room();
    let mut clients = Vec::new();
    for i in 0..6 {
        clients.push(Client::connect(relays[i % 2].local_addr()).await);
    }
    let replies = join_all(clients.iter_mut().map(|client| client.try_join(&room, "Ada", None))).await;
    let joined = replies.iter().filter(|reply| matches!(reply, ServerMessage::Joined(_))).count();
    let taken =
        replies.iter().filter(|reply| matches!(reply, ServerMessage::Error { code: ErrorCode::NameTaken, .. })).count();
    assert_eq!((joined, taken), (1, 5), "{replies:?}");

    // Through the relay Ada did not join by, "ADA" with Cyrillic А's is Ada too: Redis compares the keys each
    // relay computed, alike.
    let ada_relay = replies.iter().position(|reply| matches!(reply, ServerMessage::Joined(_))).unwrap() % 2;
    let mut imposter = Client::connect(relays[1 - ada_relay].local_addr()).await;
    match imposter.try_join(&room, "\u{410}DA", None).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::NameTaken),
        other => panic!("expected name_taken, got {other:?}"),
    }
}

#[tokio::test]
async fn a_peer_resumes_through_another_relay_and_gets_what_was_held_for_it() {
    let redis = RedisServer::start();
    let prefix = prefix();
    let AcrossTwoRelays { a, b, room, ada, ada_joined, mut bob, bob_joined } =
        ada_and_bob_on_two_relays(&redis, &prefix, |_| {}).await;
    let bob_id = bob_joined.peer_id;

    // Ada's network drops; her relay holds what Bob sends her meanwhile.
    ada.vanish();
    wait_for_metric(a.local_addr(), "huddle_connections", 0).await;
    bob.signal(&ada_joined.peer_id, offer("held")).await;
    // Bob's messages are handled in order: once this is refused, the signal before it has been passed on.
    bob.signal(&PeerId::from_random([0; 8]), offer("marker")).await;
    assert_eq!(bob.recv_error().await, ErrorCode::UnknownPeer);

    // She comes back through the other relay.
    let mut ada = Client::connect(b.local_addr()).await;
    let resume = Resume { peer_id: ada_joined.peer_id.clone(), token: ada_joined.resume_token.clone() };
    let rejoined = match ada.try_join(&room, "Ada", Some(resume)).await {
        ServerMessage::Joined(joined) => joined,
        other => panic!("resume refused: {other:?}"),
    };
    assert!(rejoined.resumed);
    assert_eq!(rejoined.peer_id, ada_joined.peer_id);
    assert_eq!(ids(&rejoined.peers), [bob_id.as_str()]);
    assert_eq!(ada.recv_signal().await, (bob_id.clone(), offer("held")));

    // Bob was told nothing: the next thing he hears is Ada's new signal.
    ada.signal(&bob_id, offer("back")).await;
    assert_eq!(bob.recv_signal().await, (ada_joined.peer_id.clone(), offer("back")));
    wait_for_metric(a.local_addr(), "huddle_peers", 0).await;

    // Her first token was voided by that resume, on every relay; the fresh one works, from either.
    assert_ne!(rejoined.resume_token, ada_joined.resume_token);
    let mut thief = Client::connect(a.local_addr()).await;
    let old = Resume { peer_id: ada_joined.peer_id.clone(), token: ada_joined.resume_token.clone() };
    match thief.try_join(&room, "Ada", Some(old)).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::InvalidResume),
        other => panic!("expected invalid_resume, got {other:?}"),
    }
    let mut ada_again = Client::connect(a.local_addr()).await;
    let fresh = Resume { peer_id: ada_joined.peer_id.clone(), token: rejoined.resume_token.clone() };
    let again = match ada_again.try_join(&room, "Ada", Some(fresh)).await {
        ServerMessage::Joined(joined) => joined,
        other => panic!("resume refused: {other:?}"),
    };
    assert!(again.resumed);
    assert_eq!(u16::from(ada.recv_close().await.expect("a close frame").code), huddle_common::close_code::REPLACED);

    // After she leaves, her latest token is refused too.
    ada_again.send(&huddle_common::ClientMessage::Leave).await;
    assert!(matches!(bob.recv().await, ServerMessage::PeerLeft { peer_id, .. } if peer_id == ada_joined.peer_id));
    let latest = Resume { peer_id: ada_joined.peer_id.clone(), token: again.resume_token.clone() };
    match thief.try_join(&room, "Ada", Some(latest)).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::InvalidResume),
        other => panic!("expected invalid_resume, got {other:?}"),
    }
}

#[tokio::test]
async fn when_a_relay_dies_its_peers_leave_after_the_grace_period_and_can_rejoin_elsewhere() {
    let redis = RedisServer::start();
    let prefix = prefix();
    let url = redis.url();
    let (mut doomed, a) = relay_process(&[
        "--rejoin-grace",
        "1s",
        "--redis-prefix",
        &prefix,
        "--redis-url",
        &url,
        "--resume-secret",
        SECRET,
        "--cluster-secret",
        CLUSTER_SECRET,
    ]);
    wait_for_health(a, 200).await;
    let b = relay_on(&redis, &prefix, |config| config.rejoin_grace = Duration::from_secs(1)).await;
    let room = room();
    let mut ada = Client::connect(a).await;
    let ada_joined = ada.join(&room, "Ada").await;
    let mut bob = Client::connect(b.local_addr()).await;
    let bob_id = bob.join(&room, "Bob").await.peer_id;

    // Killed outright: no close frames, nothing written to Redis.
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    // Grace 1 s, then the next sync of the surviving relay (every second): well within `recv`'s wait.
    let told = match bob.recv().await {
        ServerMessage::PeerLeft { peer_id, reason } => (peer_id, reason),
        other => panic!("expected peer_left, got {other:?}"),
    };
    assert_eq!(told, (ada_joined.peer_id.clone(), LeaveReason::Disconnected));

    // Ada's app reconnects to the relay that is left; her place and her token are gone, so she joins anew.
    let mut ada = Client::connect(b.local_addr()).await;
    let resume = Resume { peer_id: ada_joined.peer_id.clone(), token: ada_joined.resume_token.clone() };
    match ada.try_join(&room, "Ada", Some(resume)).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::InvalidResume),
        other => panic!("expected invalid_resume, got {other:?}"),
    }
    let rejoined = ada.join(&room, "Ada").await;
    assert_ne!(rejoined.peer_id, ada_joined.peer_id);
    assert_eq!(ids(&rejoined.peers), [bob_id.as_str()]);
    assert!(matches!(bob.recv().await, ServerMessage::PeerJoined { peer } if peer.id == rejoined.peer_id));
}

#[tokio::test]
async fn without_redis_calls_go_on_joins_are_refused_and_everything_recovers_when_it_returns() {
    let mut redis = RedisServer::start();
    let prefix = prefix();
    let (a, b) = (relay_on(&redis, &prefix, |_| {}).await, relay_on(&redis, &prefix, |_| {}).await);
    let room = room();
    let mut members = Vec::new();
    for (name, relay) in [("Ada", &a), ("Bob", &a), ("Cy", &b)] {
        let mut client = Client::connect(relay.local_addr()).await;
        let id = client.join(&room, name).await.peer_id;
        for (earlier, _) in &mut members {
            let earlier: &mut Client = earlier;
            assert!(matches!(earlier.recv().await, ServerMessage::PeerJoined { .. }));
        }
        members.push((client, id));
    }
    let [(mut ada, ada_id), (mut bob, bob_id), (mut cy, cy_id)]: [(Client, PeerId); 3] =
        members.try_into().unwrap_or_else(|_| unreachable!());

    redis.stop();
    let health = wait_for_health(a.local_addr(), 503).await;
    assert_eq!((health["status"].as_str(), health["redis"].as_str()), (Some("degraded"), Some("unreachable")));
    assert_eq!(metric(a.local_addr(), "huddle_redis_up").await, 0);

    // Newcomers are refused with a clear code...
    let mut dan = Client::connect(a.local_addr()).await;
    match dan.try_join(&room, "Dan", None).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::Unavailable),
        other => panic!("expected unavailable, got {other:?}"),
    }
    // ...peers on the same relay still reach each other, and a signal that needs Redis says why it failed.
    ada.signal(&bob_id, offer("same relay")).await;
    assert_eq!(bob.recv_signal().await, (ada_id.clone(), offer("same relay")));
    ada.signal(&cy_id, offer("other relay")).await;
    assert_eq!(ada.recv_error().await, ErrorCode::Unavailable);

    // Redis comes back empty; the relays put their peers back and carry on.
    redis.restart();
    wait_for_health(a.local_addr(), 200).await;
    wait_for_health(b.local_addr(), 200).await;
    cy.signal(&ada_id, offer("across again")).await;
    assert_eq!(ada.recv_signal().await, (cy_id.clone(), offer("across again")));
    let dan_joined = dan.join(&room, "Dan").await;
    // Put back in whatever order the relays synced, but all there.
    let mut listed = ids(&dan_joined.peers);
    listed.sort_unstable();
    let mut expected = [ada_id.as_str(), bob_id.as_str(), cy_id.as_str()];
    expected.sort_unstable();
    assert_eq!(listed, expected);
    for other in [&mut ada, &mut bob, &mut cy] {
        assert!(matches!(other.recv().await, ServerMessage::PeerJoined { peer } if peer.id == dan_joined.peer_id));
    }
}

/// What a raw Redis client sees: the relays' channels under `prefix` (their ids are on no public endpoint).
async fn relay_channels(redis: &mut redis::aio::MultiplexedConnection, prefix: &str, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let channels: Vec<String> =
            redis::cmd("PUBSUB").arg("CHANNELS").arg(format!("{prefix}:relay:*")).query_async(redis).await.unwrap();
        if channels.len() == count {
            return channels;
        }
        assert!(tokio::time::Instant::now() < deadline, "channels: {channels:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn messages_published_on_the_relays_channels_without_the_cluster_secret_change_nothing() {
    let redis = RedisServer::start();
    let prefix = prefix();
    let AcrossTwoRelays { a, b, room, mut ada, ada_joined, mut bob, bob_joined } =
        ada_and_bob_on_two_relays(&redis, &prefix, |_| {}).await;
    let (ada_id, bob_id) = (ada_joined.peer_id, bob_joined.peer_id);
    let health = wait_for_health(a.local_addr(), 200).await;
    assert!(health.get("relay_id").is_none(), "/healthz names no channel: {health}");

    // Anyone else who can reach Redis: forges a signal "from Bob" to Ada and a "Bob left", as the relays used to
    // take them (bare JSON), and with made-up tags in the sealed form, on every relay's channel.
    let mut raw = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let channels = relay_channels(&mut raw, &prefix, 2).await;
    let signal = format!(
        r#"{{"type":"signal","from":"{bob_id}","payload":{}}}"#,
        serde_json::to_string(&offer("forged")).unwrap()
    );
    let deliver = serde_json::json!({"kind": "deliver", "room": room, "to": ada_id, "from": bob_id, "text": signal});
    let left = serde_json::json!({"kind": "left", "room": room, "peer": bob_id, "reason": "left"});
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    for channel in &channels {
        let relay = channel.rsplit(':').next().unwrap();
        for forged in [
            deliver.to_string(),
            left.to_string(),
            format!("{}.c.{now}.0.*.{deliver}", "ab".repeat(32)),
            format!("{}.m.{now}.{}.{relay}.{left}", "cd".repeat(20), now * 1000 + 1),
        ] {
            let _: i64 = redis::cmd("PUBLISH").arg(channel).arg(forged).query_async(&mut raw).await.unwrap();
        }
    }
    for relay in [&a, &b] {
        wait_for_metric(relay.local_addr(), "huddle_redis_dropped_total{reason=\"unauthenticated\"}", 4).await;
    }

    // Ada heard nothing of it: the next thing she gets is Bob's real signal; and Bob is still connected and joined.
    bob.signal(&ada_id, offer("real")).await;
    assert_eq!(ada.recv_signal().await, (bob_id.clone(), offer("real")));
    ada.signal(&bob_id, offer("still there?")).await;
    assert_eq!(bob.recv_signal().await, (ada_id.clone(), offer("still there?")));
    assert_eq!(metric(a.local_addr(), "huddle_peers").await, 1);
    assert_eq!(metric(b.local_addr(), "huddle_peers").await, 1);
}

#[tokio::test]
async fn a_relay_with_another_cluster_secret_is_not_believed() {
    let redis = RedisServer::start();
    let prefix = prefix();
    let a = relay_on(&redis, &prefix, |_| {}).await;
    let b = relay_on(&redis, &prefix, |config| {
        config.cluster_secret = Some("not the secret the other relay was given".into())
    })
    .await;
    let room = room();
    let mut ada = Client::connect(a.local_addr()).await;
    let ada_id = ada.join(&room, "Ada").await.peer_id;
    let mut bob = Client::connect(b.local_addr()).await;
    bob.join(&room, "Bob").await;
    // Bob's signal passes through Redis but Ada's relay drops it; so was the news of Bob's arrival.
    bob.signal(&ada_id, offer("from a stranger")).await;
    wait_for_metric(a.local_addr(), "huddle_redis_dropped_total{reason=\"unauthenticated\"}", 2).await;
    let mut cy = Client::connect(a.local_addr()).await;
    let cy_id = cy.join(&room, "Cy").await.peer_id;
    match ada.recv().await {
        ServerMessage::PeerJoined { peer } => assert_eq!(peer.id, cy_id),
        other => panic!("expected Cy's arrival, got {other:?}"),
    }
}

/// A throwaway CA and a certificate it issued for 127.0.0.1, made with the `openssl` command: (CA, cert, key).
fn throwaway_certificates(dir: &std::path::Path) -> [std::path::PathBuf; 3] {
    let [ca, ca_key, cert, key, request, extensions] =
        ["ca.pem", "ca.key", "cert.pem", "cert.key", "cert.csr", "ext.cnf"].map(|name| dir.join(name));
    std::fs::write(&extensions, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n").unwrap();
    let openssl = |args: &[&std::ffi::OsStr]| {
        let status = std::process::Command::new("openssl").args(args).stderr(std::process::Stdio::null()).status();
        assert!(status.expect("openssl runs").success(), "openssl {args:?}");
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].map(std::ffi::OsStr::new);
    let s = std::ffi::OsStr::new;
    openssl(
        &[
            &[s("req"), s("-x509")][..],
            &ec,
            &[s("-days"), s("1"), s("-subj"), s("/CN=Huddle test CA")],
            &[s("-addext"), s("basicConstraints=critical,CA:TRUE"), s("-addext"), s("keyUsage=critical,keyCertSign")],
            &[s("-keyout"), ca_key.as_os_str(), s("-out"), ca.as_os_str()],
        ]
        .concat(),
    );
    openssl(
        &[
            &[s("req")][..],
            &ec,
            &[s("-subj"), s("/CN=127.0.0.1")],
            &[s("-keyout"), key.as_os_str(), s("-out"), request.as_os_str()],
        ]
        .concat(),
    );
    openssl(&[
        s("x509"),
        s("-req"),
        s("-in"),
        request.as_os_str(),
        s("-CA"),
        ca.as_os_str(),
        s("-CAkey"),
        ca_key.as_os_str(),
        s("-CAcreateserial"),
        s("-days"),
        s("1"),
        s("-extfile"),
        extensions.as_os_str(),
        s("-out"),
        cert.as_os_str(),
    ]);
    [ca, cert, key]
}

#[tokio::test]
async fn relays_share_rooms_through_redis_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let [ca, cert, key] = throwaway_certificates(dir.path());
    let redis = RedisServer::start_tls(&cert, &key, &ca);
    let prefix = prefix();
    let over_tls = |config: &mut Config| {
        config.redis_url = redis.tls_url();
        config.redis_ca_file = Some(ca.clone());
    };
    // Healthy only once subscribed, and the only way in is the TLS port.
    let AcrossTwoRelays { a: _a, b: _b, mut ada, ada_joined, mut bob, bob_joined, .. } =
        ada_and_bob_on_two_relays(&redis, &prefix, over_tls).await;
    let ada_id = ada_joined.peer_id;
    assert_eq!(ids(&bob_joined.peers), [ada_id.as_str()]);
    bob.signal(&ada_id, offer("over tls")).await;
    assert_eq!(ada.recv_signal().await, (bob_joined.peer_id, offer("over tls")));
}

#[tokio::test]
async fn relays_work_as_the_redis_user_docs_deploy_md_describes() {
    let redis = RedisServer::start();
    let prefix = prefix();
    let deploy = include_str!("../../../docs/DEPLOY.md");
    let line = deploy.lines().find(|line| line.starts_with("ACL SETUSER huddle-relay ")).expect("DEPLOY.md's ACL line");
    let line = line.replace("huddle:", &format!("{prefix}:")).replace("CHANGE-ME-long-random-password", "pw");
    let mut raw = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let mut words = line.split_whitespace();
    let mut command = redis::cmd(words.next().unwrap());
    command.arg(words.collect::<Vec<_>>());
    let () = command.query_async(&mut raw).await.unwrap();

    let port = redis.url().rsplit(':').next().unwrap().to_owned();
    let as_user = |config: &mut Config| {
        config.redis_url = Some(format!("redis://huddle-relay:pw@127.0.0.1:{port}"));
        config.rejoin_grace = Duration::from_millis(500);
    };
    // Joins, a signal across, a clean leave and a grace period that ends: every script, as that user.
    let AcrossTwoRelays { a, b, room, mut ada, ada_joined, mut bob, bob_joined } =
        ada_and_bob_on_two_relays(&redis, &prefix, as_user).await;
    let (ada_id, bob_id) = (ada_joined.peer_id, bob_joined.peer_id);
    bob.signal(&ada_id, offer("as huddle-relay")).await;
    assert_eq!(ada.recv_signal().await, (bob_id.clone(), offer("as huddle-relay")));
    let mut cy = Client::connect(b.local_addr()).await;
    let cy_id = cy.join(&room, "Cy").await.peer_id;
    assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { peer } if peer.id == cy_id));
    cy.close().await;
    assert_eq!(expect_left(ada.recv().await), (cy_id, LeaveReason::Left));
    bob.vanish();
    assert_eq!(expect_left(ada.recv().await), (bob_id, LeaveReason::Disconnected));
    for relay in [&a, &b] {
        assert_eq!(metric(relay.local_addr(), "huddle_redis_errors_total").await, 0);
    }
}

fn expect_left(message: ServerMessage) -> (PeerId, LeaveReason) {
    match message {
        ServerMessage::PeerLeft { peer_id, reason } => (peer_id, reason),
        other => panic!("expected peer_left, got {other:?}"),
    }
}
