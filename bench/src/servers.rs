//! Starting and stopping the relays under test, each on loopback, with a high open-file limit, pinned to its core.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::time::Instant;

use crate::os;
use crate::protocol::RelayKind;

/// Where the relays are installed (`cargo xtask bench` installs them and passes these).
#[derive(Clone, Debug)]
pub struct Installed {
    /// The release build of `huddle-server`.
    pub huddle_server: PathBuf,
    /// The npm prefix holding `node_modules/peer`.
    pub peerjs_dir: PathBuf,
    /// The `cargo install --root` holding `bin/matchbox_server`.
    pub matchbox_root: PathBuf,
    /// Where the relays' logs go.
    pub log_dir: PathBuf,
}

impl Installed {
    fn peerjs_script(&self) -> PathBuf {
        self.peerjs_dir.join("node_modules/peer/dist/bin/peerjs.js")
    }

    fn matchbox_server(&self) -> PathBuf {
        self.matchbox_root.join("bin/matchbox_server")
    }

    /// What each relay is, for the results: its version, read from what was installed.
    pub fn version(&self, kind: RelayKind) -> String {
        match kind {
            RelayKind::Huddle => {
                let version = output(Command::new(&self.huddle_server).arg("--version"));
                let commit = output(Command::new("git").args(["rev-parse", "--short", "HEAD"]));
                format!("{} (commit {}), release build", version.trim(), commit.trim())
            }
            RelayKind::PeerServer => {
                let manifest = fs::read_to_string(self.peerjs_dir.join("node_modules/peer/package.json"))
                    .ok()
                    .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
                let version = manifest.as_ref().and_then(|m| m["version"].as_str()).unwrap_or("unknown").to_owned();
                let node = output(Command::new("node").arg("--version"));
                format!("peer {version} (npm), Node.js {}", node.trim())
            }
            RelayKind::Matchbox => {
                let crates = fs::read_to_string(self.matchbox_root.join(".crates.toml")).unwrap_or_default();
                let version = installed_crate_version(&crates, "matchbox_server").unwrap_or_else(|| "unknown".into());
                format!("matchbox_server {version} (crates.io), release build")
            }
        }
    }
}

fn output(command: &mut Command) -> String {
    command
        .stderr(Stdio::null())
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// The version of `name` in a `cargo install` root's `.crates.toml` (`"name 1.2.3 (registry+…)" = [...]`).
pub fn installed_crate_version(crates_toml: &str, name: &str) -> Option<String> {
    let start = crates_toml.find(&format!("\"{name} "))? + name.len() + 2;
    Some(crates_toml[start..].split_whitespace().next()?.to_owned())
}

/// How a relay is configured for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// The comparison: limits raised so that they do not cut the workload short.
    Bench,
    /// The soak: Huddle's default limits, with short grace and heartbeat periods so that dropped and stalled
    /// clients are cleaned up within the run, and a per-address join rate for its 200 source addresses, each of
    /// which joins faster than one household would.
    Soak,
    /// The attacks: Huddle's defaults, every limit as deployed.
    Defaults,
}

/// The Huddle flags of `profile`, for the results.
pub fn huddle_flags(profile: Profile) -> &'static [&'static str] {
    match profile {
        Profile::Bench => &[
            "--max-connections",
            "100000",
            "--rate-limit-per-sec",
            "1000000",
            "--rate-limit-burst",
            "1000000",
            "--read-bytes-per-sec",
            "4000000000",
            "--read-burst-bytes",
            "4000000000",
            "--max-connections-per-ip",
            "100000",
            "--join-rate-per-ip",
            "1000000",
            "--join-burst-per-ip",
            "1000000",
            "--max-http-connections",
            "100000",
            "--max-http-connections-per-ip",
            "100000",
        ],
        Profile::Soak => &[
            "--rejoin-grace",
            "2s",
            "--heartbeat-interval",
            "1s",
            "--heartbeat-timeout",
            "3s",
            "--join-rate-per-ip",
            "6000",
        ],
        Profile::Defaults => &[],
    }
}

/// The PeerServer flags for the bench (its default limit is 5,000 clients).
pub const PEERSERVER_FLAGS: &[&str] = &["--concurrent_limit", "100000"];

/// Where a relay runs: the processor it is pinned to and its scheduling priority, as the bench could arrange them.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    /// The logical processor.
    pub cpu: Option<usize>,
    /// The scheduling priority (the generator's too).
    pub priority: os::Priority,
}

/// A relay process this bench started.
pub struct Server {
    /// Which relay.
    pub kind: RelayKind,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl Server {
    /// Starts `kind` on a free loopback port, pinned to `cpu` if given, and waits until it accepts connections.
    pub async fn start(
        kind: RelayKind,
        installed: &Installed,
        profile: Profile,
        placement: Placement,
    ) -> Result<Server, String> {
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut command = match kind {
            RelayKind::Huddle => {
                let mut command = Command::new(&installed.huddle_server);
                command.args(["--host", "127.0.0.1", "--port", &port.to_string()]).args(huddle_flags(profile));
                command
            }
            RelayKind::PeerServer => {
                let mut command = Command::new("node");
                command.arg(installed.peerjs_script()).args(["--host", "127.0.0.1", "--port", &port.to_string()]);
                command.args(PEERSERVER_FLAGS);
                command
            }
            RelayKind::Matchbox => {
                let mut command = Command::new(installed.matchbox_server());
                command.arg(addr.to_string());
                command
            }
        };
        // Logging off (warnings only) for the Rust relays; PeerServer prints a line per connection, not per message.
        command.env("RUST_LOG", "warn");
        fs::create_dir_all(&installed.log_dir).map_err(|error| format!("{}: {error}", installed.log_dir.display()))?;
        let log_path = installed.log_dir.join(format!("{}.log", kind.name()));
        let log = File::create(&log_path).map_err(|error| format!("{}: {error}", log_path.display()))?;
        command.stdin(Stdio::null()).stdout(log.try_clone().map_err(|e| e.to_string())?).stderr(log);
        // SAFETY: the closure only makes async-signal-safe system calls (setrlimit, sched_setaffinity, setpriority).
        #[expect(unsafe_code, reason = "the relays' limits and placement are set between fork and exec")]
        unsafe {
            command.pre_exec(move || {
                os::raise_open_files(os::OPEN_FILES)?;
                if let Some(cpu) = placement.cpu {
                    os::pin_to_cpu(cpu)?;
                }
                placement.priority.apply()?;
                Ok(())
            });
        }
        let child = command.spawn().map_err(|error| format!("cannot start {}: {error}", kind.name()))?;
        let mut server = Server { kind, addr, child };
        server.wait_until_listening(&log_path).await?;
        Ok(server)
    }

    /// The relay's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_until_listening(&mut self, log: &Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited with {status} at start (see {})", self.kind.name(), log.display()));
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{} did not listen within 30 s (see {})", self.kind.name(), log.display()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the relay: SIGTERM, then SIGKILL if it has not exited within 5 s.
    pub async fn stop(mut self) {
        self.terminate().await;
    }

    async fn terminate(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // The child is not reaped yet, so its pid cannot name another process. If it has just exited, the wait below
        // sees it.
        let _ =
            rustix::process::kill_process(rustix::process::Pid::from_child(&self.child), rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port nothing listens on now (the OS picks it; the relay binds it a moment later).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|error| format!("no free port: {error}"))?;
    listener.local_addr().map(|addr| addr.port()).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installed_version_is_read_from_cargo_s_record() {
        let crates = "[v1]\n\"matchbox_server 0.15.0 (registry+https://github.com/rust-lang/crates.io-index)\" = \
                      [\"matchbox_server\"]\n";
        assert_eq!(installed_crate_version(crates, "matchbox_server").as_deref(), Some("0.15.0"));
        assert_eq!(installed_crate_version(crates, "trunk"), None);
    }
}
