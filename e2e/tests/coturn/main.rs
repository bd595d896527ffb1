//! coturn run with the documented configuration (docs/turnserver.conf, adapted as `huddle_e2e::adapt_turn_config`
//! says), probed by a TURN client holding valid credentials, as anyone who joins a room gets them: it relays UDP to
//! a public peer, and refuses every peer in a private or special-use range (a cloud metadata service at
//! 169.254.169.254 among them) and every TCP relay (RFC 6062).
//!
//! Each test re-executes itself in a network namespace of its own, where loopback also carries the addresses below;
//! nothing leaves it (it has no other interface). The "public" addresses are TEST-NET ones, which the documented
//! file denies like every special-use range: the test lets through exactly its own two peers (`allowed-peer-ip`).

mod client;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use client::{rest_credentials, TurnClient, TCP, UDP};
use huddle_e2e::{TurnServer, TurnSetup};
use stun_codec::rfc8656::attributes::AddressFamily;
use tokio::net::{TcpListener, UdpSocket};

/// Where coturn listens and relays from (IPv4), and relays from (IPv6).
const TURN_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const TURN_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// The peers the test relays to: the only addresses it allows.
const PEER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PEER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
/// A stand-in for a cloud metadata service, at the address clouds give it.
const METADATA: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// Puts those addresses on loopback in the test's namespace.
const SETUP: &str = "ip addr add 192.0.2.1/32 dev lo && ip addr add 192.0.2.2/32 dev lo \
                     && ip addr add 169.254.169.254/32 dev lo \
                     && ip addr add 2001:db8::1/128 dev lo nodad && ip addr add 2001:db8::2/128 dev lo nodad";

const SECRET: &str = "coturn-config-test-secret";
/// How long a relayed datagram may take to come back (it takes well under a millisecond).
const RELAY_TIMEOUT: Duration = Duration::from_secs(5);

/// One address in every range the documented file denies, and at the ends of some.
const DENIED_V4: &[&str] = &[
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "127.0.0.1",
    "127.0.0.53",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.0.0.9",
    "192.0.2.9",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.51.100.1",
    "203.0.113.10",
    "224.0.0.251",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
];
const DENIED_V6: &[&str] = &[
    "::1",
    "::2",
    "::0.1.2.3",
    "::0.0.1.1",
    "::1.0.0.0",
    "::127.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::ffff:0:a9fe:a9fe",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a9fe:a9fe",
    "100::1",
    "2001::a9fe:a9fe",
    "2001:db8::9",
    "2002:a9fe:a9fe::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "febf:ffff::1",
    "ff02::1",
    "ff0e::1",
];

/// Public addresses, just outside the denied ranges: coturn grants permissions for them (the test sends nothing
/// there; the namespace has no route to them anyway).
const PUBLIC: &[&str] = &[
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "169.253.255.255",
    "172.15.255.255",
    "172.32.0.0",
    "192.167.255.255",
    "192.169.0.0",
    "198.20.0.0",
    "223.255.255.255",
    "2001:200::1",
    "2003::1",
    "2a00:1450::1",
    "fbff:ffff::1",
    "2001:dba::1",
    "fec0::1",
];

fn probe_setup() -> TurnSetup {
    TurnSetup {
        listen: TURN_V4.into(),
        relay: vec![TURN_V4.into(), TURN_V6.into()],
        secret: SECRET.to_owned(),
        allowed_peers: vec![PEER_V4.into(), PEER_V6.into()],
    }
}

/// Runs `body` in the test's own namespace (see [`huddle_e2e::own_network_for_test`]); panics with its error.
fn in_own_network<F: Future<Output = Result<(), String>>>(name: &str, body: impl FnOnce() -> F) {
    match huddle_e2e::own_network_for_test(name, SETUP) {
        Ok(false) => {}
        Ok(true) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            if let Err(error) = runtime.block_on(body()) {
                panic!("{error}");
            }
        }
        Err(error) => panic!("{error}"),
    }
}

async fn start_turn(setup: &TurnSetup) -> Result<TurnServer, String> {
    TurnServer::start_with(setup).await.map_err(|error| error.to_string())
}

/// A UDP peer on `address` that answers every datagram with "echo:" and the datagram.
async fn echo_peer(address: IpAddr) -> Result<SocketAddr, String> {
    let socket = UdpSocket::bind((address, 0)).await.map_err(|e| format!("bind {address}: {e}"))?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let mut buffer = [0; 2048];
        while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
            let reply = [b"echo:", &buffer[..len]].concat();
            if socket.send_to(&reply, from).await.is_err() {
                break;
            }
        }
    });
    Ok(local)
}

/// Allocates a relay address, lets `peer` in, sends it a datagram and waits for its answer through the relay.
async fn relayed_exchange(client: &mut TurnClient, peer: SocketAddr) -> Result<(), String> {
    client.create_permission(peer).await?.map_err(|refused| format!("permission for {peer} refused: {refused:?}"))?;
    client.send(peer, b"hello").await?;
    let (from, payload) = client.receive(RELAY_TIMEOUT).await?;
    if from != peer || payload != b"echo:hello" {
        return Err(format!("relayed {payload:?} from {from}, expected the echo from {peer}"));
    }
    Ok(())
}

/// A normal relayed exchange works with the documented config: a UDP allocation (IPv4, and IPv6) reaches an
/// allowed peer and gets its answer.
#[test]
fn documented_coturn_relays_udp_to_a_public_peer() {
    in_own_network("documented_coturn_relays_udp_to_a_public_peer", async || {
        let turn = start_turn(&probe_setup()).await?;
        let (username, password) = rest_credentials(SECRET, "ada");
        for (family, turn_ip, peer_ip) in [
            (AddressFamily::V4, IpAddr::from(TURN_V4), IpAddr::from(PEER_V4)),
            (AddressFamily::V6, TURN_V6.into(), PEER_V6.into()),
        ] {
            let peer = echo_peer(peer_ip).await?;
            let mut client = TurnClient::udp(turn.address(), &username, &password).await?;
            let relayed = client
                .allocate(UDP, Some(family))
                .await?
                .map_err(|e| format!("{family}: allocation refused: {e:?}"))?;
            if relayed.ip() != turn_ip {
                return Err(format!("{family}: relayed address {relayed}, expected one on {turn_ip}"));
            }
            relayed_exchange(&mut client, peer).await?;
        }
        Ok(())
    });
}

/// Valid credentials get no permission for any private or special-use peer, IPv4 or IPv6 (IPv4 ones written as
/// IPv6 too), and a datagram sent to the metadata stand-in anyway never arrives; on the same allocation the allowed
/// peer still answers.
#[test]
fn documented_coturn_refuses_special_use_peers() {
    in_own_network("documented_coturn_refuses_special_use_peers", async || {
        let turn = start_turn(&probe_setup()).await?;
        let (username, password) = rest_credentials(SECRET, "mallory");
        let metadata = UdpSocket::bind((METADATA, 80)).await.map_err(|e| format!("bind {METADATA}:80: {e}"))?;

        let mut v4 = TurnClient::udp(turn.address(), &username, &password).await?;
        v4.allocate(UDP, None).await?.map_err(|e| format!("allocation refused: {e:?}"))?;
        // One allocation for every IPv6 peer: a client made for each, dropped without deallocating, left its
        // allocation behind, and a later client that the kernel gave the same source port was refused 437
        // (allocation mismatch) now and then.
        let mut v6 = ipv6_client(&turn, &username, &password).await?;
        let mut allowed = Vec::new();
        for address in DENIED_V4.iter().chain(DENIED_V6) {
            let address: IpAddr = address.parse().expect("an address");
            let client = if address.is_ipv4() { &mut v4 } else { &mut v6 };
            match client.create_permission(SocketAddr::new(address, 80)).await? {
                Err((403, _)) => {}
                other => allowed.push(format!("{address}: {other:?}")),
            }
        }
        if !allowed.is_empty() {
            return Err(format!("expected 403 Forbidden for each, got: {allowed:#?}"));
        }
        let mut refused = Vec::new();
        for address in PUBLIC {
            let address: IpAddr = address.parse().expect("an address");
            let client = if address.is_ipv4() { &mut v4 } else { &mut v6 };
            if let Err(refusal) = client.create_permission(SocketAddr::new(address, 80)).await? {
                refused.push(format!("{address}: {refusal:?}"));
            }
        }
        if !refused.is_empty() {
            return Err(format!("public peers refused: {refused:#?}"));
        }

        // The permission was refused; a Send indication without one is dropped. The allowed peer's answer comes
        // back through the same allocation after it, so the metadata datagram had its chance to arrive first.
        let peer = echo_peer(PEER_V4.into()).await?;
        v4.send(SocketAddr::from((METADATA, 80)), b"GET /latest/meta-data/").await?;
        relayed_exchange(&mut v4, peer).await?;
        let mut buffer = [0; 64];
        match metadata.try_recv_from(&mut buffer) {
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
            other => Err(format!("the metadata stand-in received something: {other:?}")),
        }
    });
}

/// An IPv6 allocation (coturn relays IPv6 from its second relay address).
async fn ipv6_client(turn: &TurnServer, username: &str, password: &str) -> Result<TurnClient, String> {
    let mut client = TurnClient::udp(turn.address(), username, password).await?;
    client.allocate(UDP, Some(AddressFamily::V6)).await?.map_err(|e| format!("IPv6 allocation refused: {e:?}"))?;
    Ok(client)
}

/// The browsers' adaptation (coturn on 127.0.0.1 with loopback peers allowed, for 127.0.0.1 only) lets no other
/// loopback address through: the documented `denied-peer-ip` for 127/8 holds once coturn's own loopback refusal is
/// switched off.
#[test]
fn the_browsers_coturn_allows_only_its_own_loopback_address() {
    in_own_network("the_browsers_coturn_allows_only_its_own_loopback_address", async || {
        let turn = start_turn(&TurnSetup::loopback(SECRET)).await?;
        let (username, password) = rest_credentials(SECRET, "ada");
        let mut client = TurnClient::udp(turn.address(), &username, &password).await?;
        client.allocate(UDP, None).await?.map_err(|e| format!("allocation refused: {e:?}"))?;
        for (peer, expected) in [("127.0.0.1", None), ("127.0.0.2", Some(403)), ("127.255.255.254", Some(403))] {
            let peer = SocketAddr::new(peer.parse().expect("an address"), 80);
            let answer = client.create_permission(peer).await?;
            if answer.as_ref().err().map(|refused| refused.0) != expected {
                return Err(format!("permission for {peer}: {answer:?}, expected refusal code {expected:?}"));
            }
        }
        Ok(())
    });
}

/// Valid credentials get no TCP relay (RFC 6062: REQUESTED-TRANSPORT TCP over a TCP connection), so no CONNECT to
/// anything, the metadata service included; the same connection still gets a UDP relay.
#[test]
fn documented_coturn_refuses_tcp_relays() {
    in_own_network("documented_coturn_refuses_tcp_relays", async || {
        let turn = start_turn(&probe_setup()).await?;
        let metadata = TcpListener::bind((METADATA, 80)).await.map_err(|e| format!("bind {METADATA}:80: {e}"))?;
        let (username, password) = rest_credentials(SECRET, "mallory");
        let mut client = TurnClient::tcp(turn.address(), &username, &password).await?;
        match client.allocate(TCP, None).await? {
            Err((442, _)) => {}
            other => return Err(format!("a TCP allocation: {other:?}, expected 442 Unsupported Transport Protocol")),
        }
        client.allocate(UDP, None).await?.map_err(|e| format!("then a UDP allocation refused: {e:?}"))?;
        let peer = echo_peer(PEER_V4.into()).await?;
        relayed_exchange(&mut client, peer).await?;
        match tokio::time::timeout(Duration::ZERO, metadata.accept()).await {
            Err(_) => Ok(()),
            Ok(accepted) => Err(format!("the metadata stand-in was reached: {accepted:?}")),
        }
    });
}
