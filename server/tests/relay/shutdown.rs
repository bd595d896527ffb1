//! The real binary: SIGTERM closes every socket with 1001 and exits 0.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use huddle_common::close_code;

use crate::harness::*;

#[tokio::test]
async fn sigterm_closes_every_socket_with_going_away_and_exits_cleanly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_huddle-server"))
        .args(["--port", "0", "--log-format", "json"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the relay binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr: SocketAddr = lines
        .by_ref()
        .find_map(|line| {
            let line: serde_json::Value = serde_json::from_str(&line.ok()?).ok()?;
            line["fields"]["addr"].as_str()?.parse().ok()
        })
        .expect("the relay logs its address");
    // Keep draining the log so the relay never blocks writing it.
    std::thread::spawn(move || lines.for_each(drop));

    let mut members = room_of(addr, &room(), &["Ada", "Bob"]).await;
    let lobby = Client::connect(addr).await;
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());

    let mut clients: Vec<Client> = members.drain(..).map(|(client, _)| client).collect();
    clients.push(lobby);
    for client in &mut clients {
        let frame = client.recv_close().await.expect("a close frame");
        assert_eq!(u16::from(frame.code), close_code::GOING_AWAY);
    }
    let exit = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}
