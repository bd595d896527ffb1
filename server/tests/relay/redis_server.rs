//! A real `redis-server` (Debian package `redis-server`) on a free loopback port, without persistence, stopped
//! when dropped. The relay's integration tests and the browser tests (which include this file by path) share it,
//! so it needs nothing but std.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long `redis-server` may take to answer PING after starting.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A running (or stopped) `redis-server` owned by one test.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// The TLS port and the `redis-server` flags that configure it.
    tls: Option<(u16, Vec<String>)>,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers.
    pub fn start() -> RedisServer {
        Self::start_with_tls(None)
    }

    /// Starts one that also takes TLS connections on a second free port, with the server certificate `cert`, its
    /// key and the CA that issued it (PEM files); clients are not asked for certificates.
    pub fn start_tls(cert: &Path, key: &Path, ca: &Path) -> RedisServer {
        let port = free_port();
        let mut flags = vec!["--tls-port".to_owned(), port.to_string()];
        for (flag, file) in [("--tls-cert-file", cert), ("--tls-key-file", key), ("--tls-ca-cert-file", ca)] {
            flags.extend([flag.to_owned(), file.to_str().expect("a UTF-8 path").to_owned()]);
        }
        flags.extend(["--tls-auth-clients".to_owned(), "no".to_owned()]);
        Self::start_with_tls(Some((port, flags)))
    }

    fn start_with_tls(tls: Option<(u16, Vec<String>)>) -> RedisServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("huddle-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = RedisServer { port, dir, child: None, tls };
        server.restart();
        server
    }

    /// `redis://…` for `--redis-url`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// `rediss://…` for `--redis-url`, when started with [`RedisServer::start_tls`].
    pub fn tls_url(&self) -> Option<String> {
        self.tls.as_ref().map(|(port, _)| format!("rediss://127.0.0.1:{port}/0"))
    }

    /// Kills it (everything it held is gone: there is no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again, empty, on the same port (stopping it first if it runs).
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(self.tls.iter().flat_map(|(_, flags)| flags))
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian package redis-server; .ci/run installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + READY_WITHIN;
        while !answers_ping(self.port) {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer within {READY_WITHIN:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
