//! A person's network namespace, as this process sees it: held open by a sleeping `unshare --net` process, entered
//! by a thread of ours to make sockets there, and reached from the router's loopback through a forwarder.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};

use crate::{Error, Result};

/// How long `unshare` may take to have its namespace.
const HOLDER_TIMEOUT: Duration = Duration::from_secs(5);

/// A network namespace of its own, alive as long as this (its holder process is killed on drop).
pub(crate) struct Namespace {
    holder: Child,
    /// The namespace itself, kept open so that threads can enter it.
    file: Arc<File>,
}

impl Namespace {
    /// A fresh network namespace with only a loopback interface, down.
    pub(crate) fn new() -> Result<Namespace> {
        let own = std::fs::metadata("/proc/self/ns/net").map_err(|e| Error::io("read this network namespace", e))?;
        let mut holder = Command::new("unshare")
            .args(["--net", "sleep", "infinity"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::io("start `unshare --net` (util-linux)", e))?;
        let path = PathBuf::from(format!("/proc/{}/ns/net", holder.id()));
        // Until `unshare` has made its namespace, its /proc entry still names ours.
        let deadline = Instant::now() + HOLDER_TIMEOUT;
        let opened = loop {
            match std::fs::metadata(&path) {
                Ok(meta) if meta.ino() != own.ino() || meta.dev() != own.dev() => {
                    break File::open(&path).map_err(|e| Error::io(format!("open {}", path.display()), e));
                }
                _ if Instant::now() >= deadline => {
                    break Err(Error::Check(format!(
                        "`unshare --net` had no namespace of its own after {HOLDER_TIMEOUT:?}"
                    )));
                }
                // A process that is starting: each check is one stat.
                _ => thread::sleep(Duration::from_millis(5)),
            }
        };
        match opened {
            Ok(file) => Ok(Namespace { holder, file: Arc::new(file) }),
            Err(error) => {
                let _ = holder.kill();
                let _ = holder.wait();
                Err(error)
            }
        }
    }

    /// `/proc/PID/ns/net` of the holder, for `nsenter --net=`.
    pub(crate) fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.holder.id()))
    }

    /// Runs `f` on a thread inside the namespace: sockets it makes belong there (and stay there, whichever thread
    /// then uses them), and so do processes it starts.
    pub(crate) fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        enter_and_run(&self.file, f)
    }

    /// Starts a thread that forwards every TCP connection made to a free port on this namespace's loopback to
    /// `127.0.0.1:port` inside the namespace, so that the router side reaches a person's local service without
    /// crossing (and being slowed by) the person's link.
    pub(crate) fn forward(&self, port: u16) -> Result<Forwarder> {
        Forwarder::start(Arc::clone(&self.file), port)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn enter_and_run<T: Send>(namespace: &File, f: impl FnOnce() -> T + Send) -> Result<T> {
    thread::scope(|scope| {
        scope
            .spawn(|| {
                // Only this thread moves: setns(2) with CLONE_NEWNET changes the calling thread's namespace.
                move_into_link_name_space(namespace.as_fd(), Some(LinkNameSpaceType::Network))
                    .map_err(|e| Error::io("enter a person's network namespace", e.into()))?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| Err(Error::Check("a thread inside a person's network namespace panicked".to_owned())))
    })
}

/// A TCP forwarder from this namespace's loopback into another namespace; stops accepting when dropped
/// (connections already made run until either side closes them).
pub(crate) struct Forwarder {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Forwarder {
    fn start(namespace: Arc<File>, target: u16) -> Result<Forwarder> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("listen for the forwarder", e))?;
        let port = listener.local_addr().map_err(|e| Error::io("listen for the forwarder", e))?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name(format!("forward-{target}"))
            .spawn(move || {
                for client in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let namespace = Arc::clone(&namespace);
                    let _ = thread::Builder::new().name(format!("forward-{target}-conn")).spawn(move || {
                        let upstream = enter_and_run(&namespace, || {
                            TcpStream::connect_timeout(
                                &SocketAddr::from(([127, 0, 0, 1], target)),
                                Duration::from_secs(5),
                            )
                        });
                        if let Ok(Ok(upstream)) = upstream {
                            splice(client, upstream);
                        }
                    });
                }
            })
            .map_err(|e| Error::io("start the forwarder", e))?;
        Ok(Forwarder { port, stop, thread: Some(thread) })
    }

    /// The port it listens on (127.0.0.1 here).
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept, which then sees the flag.
        let _ = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], self.port)));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Copies both ways between two connections until one side closes.
fn splice(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else { return };
    let back = thread::spawn(move || copy(b2, a2));
    copy(a, b);
    let _ = back.join();
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// The ids of every descendant of process `root` (not `root` itself), from /proc.
pub(crate) fn descendants(root: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let parents: Vec<(u32, u32)> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect();
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(parents.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        next += 1;
    }
    found.remove(0);
    found
}

/// The parent of a process, from `/proc/PID/stat` (its fourth field, after the command name in parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_parent(&stat)
}

fn parse_parent(stat: &str) -> Option<u32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parent_even_with_odd_command_names() {
        assert_eq!(parse_parent("42 (chrome) S 7 42 42 0"), Some(7));
        assert_eq!(parse_parent("43 (a) b (c)) R 9 1 1"), Some(9));
        assert_eq!(parse_parent("garbage"), None);
    }
}
