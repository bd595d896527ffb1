//! The real binary: SIGTERM closes every socket with 1001 and exits 0.

use std::process::Command;

use huddle_common::close_code;

use crate::harness::*;

#[tokio::test]
async fn sigterm_closes_every_socket_with_going_away_and_exits_cleanly() {
    let (mut child, addr) = relay_process(&[]);

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
