//! The WebDriver servers. chromedriver: one process for the whole run, on a free loopback port, serving every
//! Chromium session; and one more per simulated person of a network lab (`netlab`), started inside that person's
//! network namespace. geckodriver serves one session at a time: one process per Firefox.
//!
//! Besides fantoccini's async client, a few calls go over a tiny blocking HTTP client, because they are made from
//! `Drop` (closing a session so no Chromium outlives its test) where nothing can be awaited.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Value};

use crate::scratch::slug;
use crate::{artifacts, Error, Result};

/// Which WebDriver server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Program {
    /// chromedriver, for Chromium.
    Chromedriver,
    /// geckodriver, for Firefox.
    Geckodriver,
}

impl Program {
    /// Its command's name.
    fn name(self) -> &'static str {
        match self {
            Program::Chromedriver => "chromedriver",
            Program::Geckodriver => "geckodriver",
        }
    }
}

/// How long a driver may take to answer `/status`.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one blocking request may take (closing a session waits for Chromium to quit).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A running WebDriver server.
pub(crate) struct Driver {
    program: Program,
    /// Where it answers on this namespace's loopback.
    port: u16,
    child: Mutex<Child>,
    /// What carries requests to it when it runs in another network namespace (a forwarder), kept as long as it.
    _route: Option<Box<dyn Send + Sync>>,
}

static DRIVER: OnceLock<Result<Arc<Driver>, String>> = OnceLock::new();

/// The open sessions, whose browser each is and the chromedriver serving it, for screenshots at the moment a test
/// fails.
static SESSIONS: Mutex<Vec<(String, String, Weak<Driver>)>> = Mutex::new(Vec::new());

/// The run's chromedriver, started on first use.
pub(crate) fn driver() -> Result<Arc<Driver>> {
    DRIVER
        .get_or_init(|| Driver::start().map(Arc::new).map_err(|error| error.to_string()))
        .as_ref()
        .map(Arc::clone)
        .map_err(|why| Error::Io { what: "start chromedriver".to_owned(), source: std::io::Error::other(why.clone()) })
}

/// Stops chromedriver if it was started (the harness calls this after the last test).
pub(crate) fn shut_down() {
    if let Some(Ok(driver)) = DRIVER.get() {
        driver.kill();
    }
}

impl Driver {
    fn start() -> Result<Driver> {
        Self::on_free_port(Program::Chromedriver)
    }

    /// A geckodriver of its own, for one Firefox, on a free loopback port.
    pub(crate) fn geckodriver() -> Result<Driver> {
        Self::on_free_port(Program::Geckodriver)
    }

    /// Starts `program` on a free port of this namespace's loopback.
    fn on_free_port(program: Program) -> Result<Driver> {
        // Inside the test's own network namespace nothing else can take the port between here and the driver.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| Error::io(format!("find a free port for {}", program.name()), e))?
            .port();
        Self::launch(program, None, port, None)
    }

    /// Starts `program` listening on `port` and waits until it is ready. `wrapper`: a command that runs it (such
    /// as `nsenter` into another network namespace), given the driver's path and flags as its last arguments.
    /// `route`: how this process reaches it then (a forwarder listening on this namespace's loopback, on the port
    /// given), kept as long as the driver; `None` when chromedriver listens on this namespace's loopback itself.
    pub(crate) fn launch(
        program: Program,
        wrapper: Option<Command>,
        port: u16,
        route: Option<(u16, Box<dyn Send + Sync>)>,
    ) -> Result<Driver> {
        let binary = match program {
            Program::Chromedriver => artifacts::chromedriver()?,
            Program::Geckodriver => artifacts::geckodriver()?,
        };
        let mut command = match wrapper {
            Some(mut wrapper) => {
                wrapper.arg(&binary);
                wrapper
            }
            None => Command::new(&binary),
        };
        match program {
            // Session errors (e.g. Chromium failing to start) come back in the WebDriver replies.
            Program::Chromedriver => command.arg(format!("--port={port}")).arg("--log-level=SEVERE"),
            Program::Geckodriver => {
                command.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--log", "fatal"])
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::io(format!("start {}", binary.display()), e))?;
        let (local_port, route) = match route {
            Some((local_port, route)) => (local_port, Some(route)),
            None => (port, None),
        };
        let driver = Driver { program, port: local_port, child: Mutex::new(child), _route: route };

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match driver.request("GET", "/status", None) {
                Ok(status) if status["value"]["ready"] == json!(true) => return Ok(driver),
                _ if Instant::now() >= deadline => {
                    driver.kill();
                    return Err(Error::Io {
                        what: format!("start {}", binary.display()),
                        source: std::io::Error::other(format!("not ready on port {port} after {START_TIMEOUT:?}")),
                    });
                }
                // Polling a local process that is starting up; each check is a cheap loopback request.
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// The process id of the driver (the browsers it starts are its descendants).
    pub(crate) fn pid(&self) -> u32 {
        self.child.lock().unwrap_or_else(|p| p.into_inner()).id()
    }

    fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Remembers an open session (see [`capture_screens`]).
    pub(crate) fn track(self: &Arc<Self>, session: &str, label: &str) {
        let entry = (session.to_owned(), label.to_owned(), Arc::downgrade(self));
        SESSIONS.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
    }

    /// Forgets a session that is closing.
    pub(crate) fn untrack(&self, session: &str) {
        SESSIONS.lock().unwrap_or_else(|p| p.into_inner()).retain(|(open, _, _)| open != session);
    }

    /// The WebDriver URL for fantoccini.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Ends a session: chromedriver quits its Chromium and waits for it.
    pub(crate) fn delete_session(&self, session: &str) -> Result<()> {
        self.request("DELETE", &format!("/session/{session}"), None)
            .map(drop)
            .map_err(|e| Error::io(format!("close browser session {session}"), e))
    }

    /// Saves what a session's page shows as a PNG at `path`.
    pub(crate) fn screenshot(&self, session: &str, path: &Path) -> Result<()> {
        let reply = self
            .request("GET", &format!("/session/{session}/screenshot"), None)
            .map_err(|e| Error::io("take a screenshot", e))?;
        let png =
            reply["value"].as_str().and_then(|encoded| BASE64.decode(encoded).ok()).ok_or_else(|| Error::Script {
                what: "screenshot".to_owned(),
                value: reply["value"].get("error").cloned().unwrap_or_default(),
            })?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        }
        std::fs::write(path, png).map_err(|e| Error::io(format!("write {}", path.display()), e))
    }

    /// The browser console messages of a session since the last call (needs `goog:loggingPrefs`). geckodriver has no
    /// way to read them: `None`.
    pub(crate) fn console_log(&self, session: &str) -> Result<Option<Vec<String>>> {
        if self.program == Program::Geckodriver {
            return Ok(None);
        }
        let entries = self.log(session, "browser").map_err(|e| Error::io("read the browser console", e))?;
        let lines = entries
            .iter()
            // Chromium's own pages (the first tab is a new-tab page) are not the page under test.
            .filter(|entry| !entry["message"].as_str().unwrap_or_default().starts_with("chrome://"))
            .map(|entry| {
                let level = entry["level"].as_str().unwrap_or("?");
                let message = entry["message"].as_str().unwrap_or_default();
                format!("{level} {message}")
            })
            .collect();
        Ok(Some(lines))
    }

    /// The DevTools events of a session since the last call, each `{"method": …, "params": …}` (needs `performance`
    /// in `goog:loggingPrefs`).
    pub(crate) fn performance_log(&self, session: &str) -> Result<Vec<Value>> {
        let entries = self.log(session, "performance").map_err(|e| Error::io("read the DevTools events", e))?;
        Ok(entries
            .iter()
            .filter_map(|entry| serde_json::from_str::<Value>(entry["message"].as_str()?).ok())
            .map(|mut event| event["message"].take())
            .collect())
    }

    /// The entries of one of a session's logs since the last call.
    fn log(&self, session: &str, kind: &str) -> std::io::Result<Vec<Value>> {
        let reply = self.request("POST", &format!("/session/{session}/se/log"), Some(&json!({ "type": kind })))?;
        Ok(reply["value"].as_array().cloned().unwrap_or_default())
    }

    /// One blocking HTTP/1.1 request to chromedriver, answered with JSON.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<Value> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut reader = BufReader::new(stream);
        let mut length = None;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse::<usize>().ok();
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut payload = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim(), 16).map_err(std::io::Error::other)?;
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                payload.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(length) = length {
            payload.resize(length, 0);
            reader.read_exact(&mut payload)?;
        } else {
            reader.read_to_end(&mut payload)?;
        }
        serde_json::from_slice(&payload).map_err(std::io::Error::other)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Saves what every open browser shows as `<dir>/<label>.png`; returns a line per browser for the report.
pub(crate) fn capture_screens(dir: &Path) -> Vec<String> {
    let sessions = SESSIONS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    sessions
        .iter()
        .filter_map(|(session, label, driver)| Some((session, label, driver.upgrade()?)))
        .map(|(session, label, driver)| {
            let path = dir.join(format!("{}.png", slug(label)));
            match driver.screenshot(session, &path) {
                Ok(()) => format!("{label}'s screen when the test failed: {}", path.display()),
                Err(error) => format!("{label}'s screen could not be saved: {error}"),
            }
        })
        .collect()
}
