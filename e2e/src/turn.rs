//! A real TURN server for the tests: coturn's `turnserver` on a free loopback port, checking TURN REST credentials
//! against a shared secret (`use-auth-secret`), set up as the TURN section of docs/DEPLOY.md tells operators to.
//!
//! It starts inside the tests' loopback-only namespace like everything else the test binary spawns, listens and
//! relays on 127.0.0.1 only, over plain UDP and TCP (no TLS, no DTLS, no admin CLI), reads no configuration file,
//! and writes its log into a scratch directory, which the failure report quotes. It is killed when dropped.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
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
const REALM: &str = "huddle.test";
/// Log lines quoted in the failure report.
const LOG_LINES: usize = 200;

/// A running `turnserver`; killed when dropped.
pub struct TurnServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: ScratchDir,
}

impl TurnServer {
    /// Starts coturn on a free loopback port with `use-auth-secret` and `static-auth-secret = secret`, and waits
    /// until it answers STUN on that port.
    pub async fn start(secret: &str) -> Result<TurnServer> {
        let binary = artifacts::turnserver()?;
        let dir = ScratchDir::new("turnserver")?;
        let port = free_port()?;
        let log = dir.path().join("turnserver.log");
        let output = File::create(&log).map_err(|e| Error::io(format!("create {}", log.display()), e))?;
        let errors = output.try_clone().map_err(|e| Error::io("share the turnserver log", e))?;
        let path = |name: &str| dir.path().join(name).display().to_string();
        let child = Command::new(&binary)
            .args([
                // Flags only: no /etc/turnserver.conf.
                "-n".to_owned(),
                "--listening-ip=127.0.0.1".to_owned(),
                format!("--listening-port={port}"),
                "--relay-ip=127.0.0.1".to_owned(),
                format!("--min-port={}", RELAY_PORTS.0),
                format!("--max-port={}", RELAY_PORTS.1),
                "--use-auth-secret".to_owned(),
                format!("--static-auth-secret={secret}"),
                format!("--realm={REALM}"),
                "--fingerprint".to_owned(),
                "--no-tls".to_owned(),
                "--no-dtls".to_owned(),
                "--no-cli".to_owned(),
                "--no-rfc5780".to_owned(),
                // Both browsers' relay addresses are on 127.0.0.1, which coturn refuses as a peer otherwise.
                "--allow-loopback-peers".to_owned(),
                "--log-file=stdout".to_owned(),
                "--simple-log".to_owned(),
                // Everything it writes stays in the scratch directory.
                format!("--pidfile={}", path("turnserver.pid")),
                format!("--db={}", path("turndb")),
            ])
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .spawn()
            .map_err(|e| Error::io(format!("start {}", binary.display()), e))?;
        let mut server = TurnServer { child, port, log, _dir: dir };
        server.wait_ready().await?;
        Ok(server)
    }

    /// The URL to give the relay's `--turn-url`: TURN over UDP on loopback.
    pub fn url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    /// Waits until coturn answers a STUN Binding request on its port (or fails if it exits first).
    async fn wait_ready(&mut self) -> Result<()> {
        let socket = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| Error::io("bind a UDP socket for the TURN probe", e))?;
        let server = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let port = self.port;
        let ready = wait_until(format!("turnserver answers STUN on 127.0.0.1:{port}"), START_TIMEOUT, async || {
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
    fn log_tail(&self) -> Vec<String> {
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
        diagnostics::note_block(&format!("turnserver log (127.0.0.1:{})", self.port), self.log_tail());
    }
}

/// A loopback port free for both UDP and TCP (coturn listens on both). Nothing else runs in the tests' namespace,
/// so it stays free until coturn takes it.
fn free_port() -> Result<u16> {
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| Error::io("find a free UDP port", e))?;
        let port = udp.local_addr().map_err(|e| Error::io("read a UDP port", e))?.port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(Error::Check("no loopback port is free for both UDP and TCP".into()))
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
