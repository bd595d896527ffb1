//! A real TURN server for the tests: coturn's `turnserver` run with the configuration docs/DEPLOY.md gives operators
//! (`docs/turnserver.conf`), so that what the tests show holds for that file.
//!
//! The test changes only what must differ on a test machine ([`adapt`]): the addresses and ports it listens and
//! relays on, the realm and the secret; TLS is off (no certificate; browsers in the tests reach it over UDP); the
//! log, pid file and database go into a scratch directory, which the failure report quotes; and the few peer
//! addresses the test itself relays to are let through with `allowed-peer-ip`, because the documented file denies
//! every private and special-use range, the test's own addresses included. It starts inside the tests' network
//! namespace like everything else the test binary spawns, and is killed when dropped.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::scratch::{random_u64, ScratchDir};
use crate::wait::wait_until;
use crate::{artifacts, diagnostics, Error, Result};

/// How long coturn may take to answer its first STUN request.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one readiness probe waits for its answer.
const PROBE_TIMEOUT: Duration = Duration::from_millis(200);
/// The relay ports coturn allocates from: a few, below the kernel's ephemeral range (32768–60999), so that no
/// browser or relay socket of the test sits on one.
const RELAY_PORTS: (u16, u16) = (20000, 20099);
/// The realm coturn puts in its authentication challenges.
pub const REALM: &str = "huddle.test";
/// Log lines quoted in the failure report.
const LOG_LINES: usize = 200;

/// The documented coturn configuration, relative to the workspace root (docs/DEPLOY.md links it).
pub const DOCUMENTED_CONFIG: &str = "docs/turnserver.conf";

/// The options of the documented file a test replaces (with [`TurnSetup`]'s values, or with nothing): where it
/// listens and relays, the realm and secret, and TLS, for which a test has no certificate.
const REPLACED: [&str; 11] = [
    "listening-ip",
    "listening-port",
    "tls-listening-port",
    "relay-ip",
    "external-ip",
    "min-port",
    "max-port",
    "realm",
    "static-auth-secret",
    "cert",
    "pkey",
];

/// What differs between the documented coturn and one a test runs.
#[derive(Clone, Debug)]
pub struct TurnSetup {
    /// The address it listens on (UDP and TCP; the port is a free one).
    pub listen: IpAddr,
    /// The addresses it relays from (one per address family it should allocate in).
    pub relay: Vec<IpAddr>,
    /// The shared secret (`static-auth-secret`).
    pub secret: String,
    /// The only peers let through the documented `denied-peer-ip` ranges (`allowed-peer-ip`).
    pub allowed_peers: Vec<IpAddr>,
}

impl TurnSetup {
    /// The browsers' TURN server: on 127.0.0.1, the only address the browsers' namespace has, relaying between
    /// relay addresses on 127.0.0.1 too. That one loopback address is let through, and nothing else of 127/8.
    pub fn loopback(secret: &str) -> TurnSetup {
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        TurnSetup {
            listen: localhost,
            relay: vec![localhost],
            secret: secret.to_owned(),
            allowed_peers: vec![localhost],
        }
    }
}

/// The documented configuration `documented` with `setup` put in: the [`REPLACED`] options dropped, every other
/// line kept as it is, then the test's own lines. Fails if the file lacks one of the options the test replaces that
/// an operator must set (so a renamed option is noticed).
pub fn adapt(documented: &str, setup: &TurnSetup, port: u16, scratch: &std::path::Path) -> Result<String> {
    let key_of = |line: &str| line.split(['=', ' ']).next().unwrap_or_default().trim().to_owned();
    for needed in ["listening-port", "realm", "static-auth-secret", "use-auth-secret"] {
        if !documented.lines().any(|line| key_of(line) == needed) {
            return Err(Error::Check(format!("{DOCUMENTED_CONFIG} has no `{needed}` line")));
        }
    }
    let mut config: Vec<String> = documented
        .lines()
        .filter(|line| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with('#') && !REPLACED.contains(&key_of(line).as_str())
        })
        .map(str::to_owned)
        .collect();
    let path = |name: &str| scratch.join(name).display().to_string();
    config.push("# --- The test's own (e2e/src/turn.rs) ---".to_owned());
    config.push(format!("listening-ip={}", setup.listen));
    config.push(format!("listening-port={port}"));
    config.extend(setup.relay.iter().map(|relay| format!("relay-ip={relay}")));
    config.push(format!("min-port={}", RELAY_PORTS.0));
    config.push(format!("max-port={}", RELAY_PORTS.1));
    config.push(format!("realm={REALM}"));
    config.push(format!("static-auth-secret={}", setup.secret));
    config.push("no-tls".to_owned());
    config.extend(setup.allowed_peers.iter().map(|peer| format!("allowed-peer-ip={peer}")));
    if setup.allowed_peers.iter().any(IpAddr::is_loopback) {
        // coturn checks loopback before its allowed and denied lists; the documented `denied-peer-ip` for 127/8
        // and ::1 still holds for every loopback address not allowed above.
        config.push("allow-loopback-peers".to_owned());
    }
    config.push("log-file=stdout".to_owned());
    config.push("simple-log".to_owned());
    config.push(format!("pidfile={}", path("turnserver.pid")));
    config.push(format!("userdb={}", path("turndb")));
    Ok(config.join("\n") + "\n")
}

/// A running `turnserver`; killed when dropped.
pub struct TurnServer {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
    _dir: ScratchDir,
}

impl TurnServer {
    /// Starts coturn with the documented configuration on a free loopback port, secret `secret` (see
    /// [`TurnSetup::loopback`]), and waits until it answers STUN on that port.
    pub async fn start(secret: &str) -> Result<TurnServer> {
        TurnServer::start_with(&TurnSetup::loopback(secret)).await
    }

    /// Starts coturn with the documented configuration adapted to `setup`, and waits until it answers STUN.
    pub async fn start_with(setup: &TurnSetup) -> Result<TurnServer> {
        let binary = artifacts::turnserver()?;
        let documented_path = artifacts::workspace_root().join(DOCUMENTED_CONFIG);
        let documented = std::fs::read_to_string(&documented_path)
            .map_err(|e| Error::io(format!("read {}", documented_path.display()), e))?;
        let dir = ScratchDir::new("turnserver")?;
        let port = free_port(setup.listen)?;
        let config = dir.write("turnserver.conf", adapt(&documented, setup, port, dir.path())?)?;
        let log = dir.path().join("turnserver.log");
        let output = File::create(&log).map_err(|e| Error::io(format!("create {}", log.display()), e))?;
        let errors = output.try_clone().map_err(|e| Error::io("share the turnserver log", e))?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .spawn()
            .map_err(|e| Error::io(format!("start {}", binary.display()), e))?;
        let mut server = TurnServer { child, address: SocketAddr::new(setup.listen, port), log, _dir: dir };
        server.wait_ready().await?;
        Ok(server)
    }

    /// The URL to give the relay's `--turn-url`: TURN over UDP.
    pub fn url(&self) -> String {
        format!("turn:{}?transport=udp", self.address)
    }

    /// Where it listens (UDP and TCP).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Waits until coturn answers a STUN Binding request on its port (or fails if it exits first).
    async fn wait_ready(&mut self) -> Result<()> {
        let unspecified: IpAddr =
            if self.address.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { "::".parse().expect("an address") };
        let socket = tokio::net::UdpSocket::bind((unspecified, 0))
            .await
            .map_err(|e| Error::io("bind a UDP socket for the TURN probe", e))?;
        let server = self.address;
        let ready = wait_until(format!("turnserver answers STUN on {server}"), START_TIMEOUT, async || {
            if let Some(status) = self.child.try_wait().map_err(|e| Error::io("wait for turnserver", e))? {
                return Err(Error::Check(format!("turnserver exited with {status}")));
            }
            let request = binding_request(random_u64().to_le_bytes());
            socket.send_to(&request, server).await.map_err(|e| Error::io("send a STUN request", e))?;
            let mut reply = [0; 512];
            match tokio::time::timeout(PROBE_TIMEOUT, socket.recv_from(&mut reply)).await {
                Ok(Ok((len, from))) => Ok(from == server && is_binding_success(&reply[..len], &request)),
                Ok(Err(error)) => Err(Error::io("read the STUN answer", error)),
                Err(_) => Ok(false),
            }
        })
        .await;
        if let Err(error) = ready {
            return Err(Error::Check(format!("{error}; turnserver's log:\n{}", self.log_tail().join("\n"))));
        }
        Ok(())
    }

    /// The last lines of coturn's log, without its empty ones.
    pub fn log_tail(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<String> =
            text.lines().filter(|line| !line.trim_end().ends_with(':')).map(str::to_owned).collect();
        lines[lines.len().saturating_sub(LOG_LINES)..].to_vec()
    }
}

impl Drop for TurnServer {
    fn drop(&mut self) {
        // Kills the process we spawned (by its PID, through the handle) and reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
        diagnostics::note_block(&format!("turnserver log ({})", self.address), self.log_tail());
    }
}

/// A port of `address` free for both UDP and TCP (coturn listens on both). Nothing else runs in the tests'
/// namespace, so it stays free until coturn takes it.
fn free_port(address: IpAddr) -> Result<u16> {
    for _ in 0..20 {
        let udp = UdpSocket::bind((address, 0)).map_err(|e| Error::io("find a free UDP port", e))?;
        let port = udp.local_addr().map_err(|e| Error::io("read a UDP port", e))?.port();
        if TcpListener::bind((address, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(Error::Check(format!("no port of {address} is free for both UDP and TCP")))
}

/// STUN's magic cookie (RFC 8489), in every message after the type and length.
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// A STUN Binding request without attributes: type 0x0001, length 0, the cookie, a 96-bit transaction id.
fn binding_request(random: [u8; 8]) -> [u8; 20] {
    let mut request = [0; 20];
    request[..2].copy_from_slice(&[0x00, 0x01]);
    request[4..8].copy_from_slice(&MAGIC_COOKIE);
    request[8..16].copy_from_slice(&random);
    request[16..20].copy_from_slice(b"hudl");
    request
}

/// Whether `reply` is a Binding success response (0x0101) to `request` (same transaction id).
fn is_binding_success(reply: &[u8], request: &[u8; 20]) -> bool {
    reply.len() >= 20 && reply[..2] == [0x01, 0x01] && reply[4..20] == request[4..20]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_config_keeps_every_line_but_addresses_ports_realm_secret_and_tls_files() {
        let path = artifacts::workspace_root().join(DOCUMENTED_CONFIG);
        let documented = std::fs::read_to_string(&path).unwrap();
        let adapted =
            adapt(&documented, &TurnSetup::loopback("s3cret"), 3478, std::path::Path::new("/scratch")).unwrap();
        let (kept, ours) = adapted.split_once("# --- The test's own").unwrap();
        let settings = documented.lines().filter(|line| !line.is_empty() && !line.starts_with('#'));
        let expected: Vec<&str> =
            settings.filter(|line| !REPLACED.iter().any(|key| line.split('=').next() == Some(key))).collect();
        assert_eq!(kept.lines().collect::<Vec<_>>(), expected);
        for line in ["no-tcp-relay", "denied-peer-ip=169.254.0.0-169.254.255.255", "user-quota=36"] {
            assert!(expected.contains(&line), "{line}");
        }
        assert!(!kept.contains("CHANGE-ME") && !kept.contains("letsencrypt") && !kept.contains("listening-port"));
        for line in ["listening-ip=127.0.0.1", "listening-port=3478", "static-auth-secret=s3cret", "no-tls"] {
            assert!(ours.lines().any(|ours| ours == line), "{line} in {ours}");
        }
        assert!(ours.contains("allowed-peer-ip=127.0.0.1\nallow-loopback-peers"), "{ours}");
    }

    #[test]
    fn a_documented_config_without_the_secret_is_refused() {
        let refused = adapt("realm=x\nlistening-port=1\nuse-auth-secret\n", &TurnSetup::loopback("s"), 1, "/".as_ref());
        assert!(refused.unwrap_err().to_string().contains("static-auth-secret"));
    }

    #[test]
    fn a_binding_answer_matches_only_its_request() {
        let request = binding_request(*b"12345678");
        assert_eq!(&request[..8], &[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
        let mut success = request;
        success[..2].copy_from_slice(&[0x01, 0x01]);
        assert!(is_binding_success(&success, &request));
        let mut error = success;
        error[1] = 0x11; // Binding error response.
        assert!(!is_binding_success(&error, &request));
        let other = binding_request(*b"87654321");
        assert!(!is_binding_success(&success, &other));
        assert!(!is_binding_success(&success[..12], &request));
    }
}
