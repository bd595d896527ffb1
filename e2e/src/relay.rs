//! The relay under test: the real `huddle-server` binary, serving a static directory (normally the built SPA) on a
//! free loopback port. It can be stopped and started again on the same port in the middle of a test.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::wait::wait_until;
use crate::{artifacts, diagnostics, Error, Result};

/// How long a starting relay may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a relay may take to shut down gracefully (it closes every WebSocket with 1001 first).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How soon a failed restart is tried again.
const RETRY: Duration = Duration::from_millis(50);
/// Log lines kept per relay process for the failure report.
const LOG_LINES: usize = 400;

/// A running `huddle-server`; killed when dropped.
pub struct Relay {
    binary: PathBuf,
    static_dir: PathBuf,
    args: Vec<OsString>,
    /// The address it binds (`--host`): loopback, unless a network lab needs it on every interface.
    host: IpAddr,
    addr: SocketAddr,
    process: Option<Process>,
    /// How many processes this relay has run, to tell their logs apart.
    generation: u32,
}

struct Process {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Relay {
    /// Starts a relay serving the built SPA (`dist/`) with default settings.
    pub async fn start() -> Result<Relay> {
        Self::start_with(&[]).await
    }

    /// Starts a relay serving the built SPA, with extra flags (e.g. `["--room-capacity", "2"]`).
    pub async fn start_with(args: &[&str]) -> Result<Relay> {
        Self::serving(artifacts::dist_dir()?, args).await
    }

    /// Starts a relay serving `static_dir` instead of the SPA, with extra flags.
    pub async fn serving(static_dir: impl Into<PathBuf>, args: &[&str]) -> Result<Relay> {
        Self::binary_serving(artifacts::server_binary()?, static_dir, args).await
    }

    /// Starts the relay `binary` (rather than the workspace's, e.g. an older build to compare with) serving
    /// `static_dir`, with extra flags.
    pub async fn binary_serving(
        binary: impl Into<PathBuf>,
        static_dir: impl Into<PathBuf>,
        args: &[&str],
    ) -> Result<Relay> {
        Self::launch(binary.into(), IpAddr::V4(Ipv4Addr::LOCALHOST), static_dir.into(), args).await
    }

    /// Starts a relay serving `static_dir` on `host` (e.g. 0.0.0.0, for the people of a network lab, who reach it
    /// over their links), with extra flags.
    pub async fn serving_on(host: IpAddr, static_dir: impl Into<PathBuf>, args: &[&str]) -> Result<Relay> {
        Self::launch(artifacts::server_binary()?, host, static_dir.into(), args).await
    }

    async fn launch(binary: PathBuf, host: IpAddr, static_dir: PathBuf, args: &[&str]) -> Result<Relay> {
        let mut relay = Relay {
            binary,
            static_dir,
            args: args.iter().map(OsString::from).collect(),
            host,
            addr: SocketAddr::from((host, 0)),
            process: None,
            generation: 0,
        };
        relay.spawn(0).await?;
        Ok(relay)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The HTTP URL of `path` on the relay (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits until `/healthz` answers 200: with `--redis-url`, the relay is subscribed and takes joins.
    pub async fn wait_healthy(&self) -> Result<()> {
        let addr = self.addr;
        wait_until(format!("the relay on {addr} is healthy"), START_TIMEOUT, async || {
            Ok(healthz(addr).is_some_and(|(status, _)| status == 200))
        })
        .await
    }

    /// What `/healthz` says now (JSON).
    pub fn health(&self) -> Result<serde_json::Value> {
        let (_, body) =
            healthz(self.addr).ok_or_else(|| Error::Relay(format!("no answer from {}/healthz", self.addr)))?;
        serde_json::from_str(&body).map_err(|_| Error::Relay(format!("/healthz is not JSON: {body}")))
    }

    /// Kills the relay at once (SIGKILL): connections drop without a close frame, as in a crash.
    pub fn kill(&mut self) {
        if let Some(process) = self.process.take() {
            self.finish(process, true);
        }
    }

    /// Stops the relay gracefully (SIGTERM): it closes every WebSocket with 1001 (going away) and exits.
    pub async fn stop(&mut self) -> Result<()> {
        let Some(mut process) = self.process.take() else { return Ok(()) };
        // The child is not reaped yet, so its pid cannot name another process.
        let pid = rustix::process::Pid::from_child(&process.child);
        if let Err(error) = rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
            eprintln!("warning: cannot send SIGTERM to the relay: {error}");
        }
        let stopped = wait_until("the relay exits after SIGTERM", STOP_TIMEOUT, async || {
            Ok(process.child.try_wait().map_err(|e| Error::io("wait for the relay", e))?.is_some())
        })
        .await;
        self.finish(process, stopped.is_err());
        stopped
    }

    /// Starts the relay again on the same port, after [`kill`](Self::kill) or [`stop`](Self::stop) (kills it
    /// first if it is still running). Rooms and peers start empty, as after a real restart.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill();
        let port = self.addr.port();
        // The port is free once the old process is reaped; retry briefly in case the kernel still holds it.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn(port).await {
                Ok(()) => return Ok(()),
                Err(error) if Instant::now() >= deadline => {
                    return Err(Error::Relay(format!("cannot restart on port {port}: {error}")));
                }
                Err(_) => tokio::time::sleep(RETRY).await,
            }
        }
    }

    /// Starts a process on `port` (0: any free port) and waits for its "listening" log line.
    async fn spawn(&mut self, port: u16) -> Result<()> {
        let mut command = Command::new(&self.binary);
        command
            .arg("--static-dir")
            .arg(&self.static_dir)
            .arg("--host")
            .arg(self.host.to_string())
            .args(["--port", &port.to_string(), "--log-format", "json"])
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The developer's own relay settings must not leak into the test's relay.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HUDDLE_") || name == "PORT" {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().map_err(|e| Error::io(format!("start {}", self.binary.display()), e))?;
        self.generation += 1;

        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = oneshot::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let readers =
            vec![read_log(stdout, Arc::clone(&logs), Some(addr_tx)), read_log(stderr, Arc::clone(&logs), None)];
        let process = Process { child, logs, readers };

        let addr = match tokio::time::timeout(START_TIMEOUT, addr_rx).await {
            Ok(Ok(addr)) => addr,
            outcome => {
                let why = match outcome {
                    Err(_) => format!("did not log its address within {START_TIMEOUT:?}"),
                    Ok(Err(_)) => "exited before listening".to_owned(),
                    Ok(Ok(_)) => unreachable!(),
                };
                let log = process.logs.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
                self.finish(process, true);
                return Err(Error::Relay(format!("{} {why}; its log:\n{log}", self.binary.display())));
            }
        };
        self.addr = addr;
        self.process = Some(process);
        Ok(())
    }

    /// Reaps a process (killing it first if asked) and files its log for the failure report.
    fn finish(&self, mut process: Process, kill: bool) {
        if kill {
            let _ = process.child.kill();
        }
        let _ = process.child.wait();
        for reader in process.readers.drain(..) {
            let _ = reader.join();
        }
        let lines = std::mem::take(&mut *process.logs.lock().unwrap_or_else(|p| p.into_inner()));
        diagnostics::note_block(&format!("relay #{} log ({})", self.generation, self.addr), lines);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads a relay output stream line by line into `logs` (compacted), reporting the listening address once.
fn read_log(
    stream: impl Read + Send + 'static,
    logs: Arc<Mutex<Vec<String>>>,
    mut addr_tx: Option<oneshot::Sender<SocketAddr>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let entry: Option<serde_json::Value> = serde_json::from_str(&line).ok();
            if let Some(addr) = entry.as_ref().and_then(listening_addr) {
                if let Some(tx) = addr_tx.take() {
                    let _ = tx.send(addr);
                }
            }
            let mut logs = logs.lock().unwrap_or_else(|p| p.into_inner());
            if logs.len() == LOG_LINES {
                logs.remove(0);
            }
            logs.push(entry.as_ref().map(compact).unwrap_or(line));
        }
    })
}

/// The address in the relay's "listening" line: `{"fields": {"addr": "127.0.0.1:PORT", ...}, ...}`.
fn listening_addr(entry: &serde_json::Value) -> Option<SocketAddr> {
    entry.get("fields")?.get("addr")?.as_str()?.parse().ok()
}

/// A JSON log line as `LEVEL message key=value ...`, easier to read in a failure report.
fn compact(entry: &serde_json::Value) -> String {
    let text = |value: &serde_json::Value| value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
    let mut line = entry.get("level").map(text).unwrap_or_default();
    if let Some(fields) = entry.get("fields").and_then(|f| f.as_object()) {
        if let Some(message) = fields.get("message") {
            line.push(' ');
            line.push_str(&text(message));
        }
        for (key, value) in fields.iter().filter(|(key, _)| *key != "message") {
            line.push_str(&format!(" {key}={}", text(value)));
        }
    }
    line
}

/// `GET /healthz` by hand over a short-lived loopback connection: its status and body; `None` if there is no answer.
fn healthz(addr: SocketAddr) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    Some((status, response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_in_the_listening_line() {
        let line = r#"{"timestamp":"t","level":"INFO","fields":{"message":"relay listening on ws://127.0.0.1:4242/ws","addr":"127.0.0.1:4242"},"target":"huddle_server"}"#;
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(listening_addr(&entry), Some(SocketAddr::from(([127, 0, 0, 1], 4242))));
        assert_eq!(compact(&entry), "INFO relay listening on ws://127.0.0.1:4242/ws addr=127.0.0.1:4242");
        let other: serde_json::Value = serde_json::from_str(r#"{"fields":{"message":"hi"}}"#).unwrap();
        assert_eq!(listening_addr(&other), None);
    }
}
