//! What the relay's log says: never a room id (the room's only credential), but a tag that tells rooms apart.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::harness::*;

/// The relay binary logging JSON lines at `info`, its lines sent to the returned channel as they come.
fn logging_relay() -> (std::process::Child, SocketAddr, mpsc::Receiver<serde_json::Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_huddle-server"))
        .args(["--port", "0", "--log-format", "json"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the relay binary starts");
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let value = serde_json::from_str(&line).unwrap_or(serde_json::Value::String(line));
            if lines.send(value).is_err() {
                return;
            }
        }
    });
    let addr = received
        .iter()
        .find_map(|line| line["fields"]["addr"].as_str()?.parse().ok())
        .expect("the relay logs its address");
    (child, addr, received)
}

/// The next line whose message is `message`, at most [`WAIT`] away.
fn line_saying(lines: &mpsc::Receiver<serde_json::Value>, message: &str, seen: &mut Vec<String>) -> serde_json::Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = lines.recv_timeout(left).unwrap_or_else(|_| panic!("no {message:?} line; saw {seen:#?}"));
        seen.push(line.to_string());
        if line["fields"]["message"] == message {
            return line;
        }
    }
}

#[tokio::test]
async fn log_lines_name_a_room_by_a_tag_and_never_by_its_id() {
    let (mut child, addr, lines) = logging_relay();
    let (first, second) = (room(), room());
    let mut seen = Vec::new();
    let mut tags = Vec::new();
    for room in [&first, &first, &second] {
        let mut client = Client::connect(addr).await;
        let name = format!("n{}", tags.len());
        client.join(room, &name).await;
        tags.push(line_saying(&lines, "joined", &mut seen)["fields"]["room"].as_str().unwrap().to_owned());
        client.close().await;
        let ended = line_saying(&lines, "connection ended", &mut seen);
        assert_eq!(ended["fields"]["room"].as_str(), Some(&*tags[tags.len() - 1]));
    }
    // One room, one tag; two rooms, two tags.
    assert_eq!(tags[0], tags[1]);
    assert_ne!(tags[0], tags[2]);
    assert!(tags.iter().all(|tag| tag.len() == 12 && tag.bytes().all(|b| b.is_ascii_hexdigit())), "{tags:?}");
    let _ = child.kill();
    let _ = child.wait();
    // Whatever else it logged until it stopped.
    while let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
        seen.push(line.to_string());
    }
    for room in [&first, &second] {
        assert!(seen.iter().all(|line| !line.contains(room.as_str())), "a log line has the room id: {seen:#?}");
    }
}
