//! A relay on 127.0.0.1:0 and real WebSocket clients (tokio-tungstenite) to drive it.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use huddle_common::{
    ClientMessage, ErrorCode, Join, Joined, PeerId, Resume, RoomId, ServerMessage, SignalPayload, PROTOCOL_VERSION,
};
use huddle_server::{Config, RunningRelay};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single expected event may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);

/// Starts a relay with the defaults, changed by `tweak`, on a free loopback port.
pub async fn relay(tweak: impl FnOnce(&mut Config)) -> RunningRelay {
    let mut config = Config::defaults();
    config.host = "127.0.0.1".parse().unwrap();
    config.port = 0;
    tweak(&mut config);
    huddle_server::start(config).await.expect("relay starts")
}

/// A fresh random room id.
pub fn room() -> RoomId {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).unwrap();
    RoomId::from_random(bytes)
}

/// A minimal offer payload carrying `marker` so a test can tell messages apart.
pub fn offer(marker: &str) -> SignalPayload {
    SignalPayload::Offer { sdp: format!("v=0\r\no=- {marker} 2 IN IP4 127.0.0.1\r\n") }
}

/// One WebSocket client.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Connects to `/ws`.
    pub async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.expect("upgrade succeeds");
        Client { ws }
    }

    /// Connects with a socket receive buffer of about `bytes` (the kernel's minimum at least), so that a client
    /// that stops reading stops taking the relay's bytes soon.
    pub async fn connect_with_receive_buffer(addr: SocketAddr, bytes: u32) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(bytes).unwrap();
        let stream = socket.connect(addr).await.expect("connects");
        let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), MaybeTlsStream::Plain(stream))
            .await
            .expect("upgrade succeeds");
        Client { ws }
    }

    /// Connects with an `Origin` header; the HTTP status when the upgrade is refused.
    pub async fn connect_from(addr: SocketAddr, origin: &str) -> Result<Client, u16> {
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        request.headers_mut().insert("origin", origin.parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(Client { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(other) => panic!("unexpected connect error: {other}"),
        }
    }

    /// Sends a frame as is.
    pub async fn send_frame(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.send_frame(Message::text(text.into())).await;
    }

    /// Sends a protocol message.
    pub async fn send(&mut self, message: &ClientMessage) {
        self.send_text(serde_json::to_string(message).unwrap()).await;
    }

    /// The next protocol message (control frames skipped); fails the test after [`WAIT`].
    pub async fn recv(&mut self) -> ServerMessage {
        serde_json::from_str(&self.recv_text().await).expect("relay sends valid messages")
    }

    /// The next text frame as it came (control frames skipped); fails the test after [`WAIT`].
    pub async fn recv_text(&mut self) -> String {
        loop {
            match self.next_frame().await {
                Some(Message::Text(text)) => return text.to_string(),
                Some(Message::Ping(_) | Message::Pong(_)) => continue,
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// Expects an `error` and returns its code.
    pub async fn recv_error(&mut self) -> ErrorCode {
        match self.recv().await {
            ServerMessage::Error { code, message } => {
                assert!(!message.is_empty(), "an error always explains itself");
                code
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// Expects a `signal` and returns its sender and payload.
    pub async fn recv_signal(&mut self) -> (PeerId, SignalPayload) {
        match self.recv().await {
            ServerMessage::Signal { from, payload } => (from, payload),
            other => panic!("expected a signal, got {other:?}"),
        }
    }

    /// Reads until the relay closes the connection; returns the close frame (None when it just dropped).
    pub async fn recv_close(&mut self) -> Option<CloseFrame> {
        loop {
            match self.next_frame().await {
                Some(Message::Close(frame)) => return frame,
                None => return None,
                Some(_) => continue,
            }
        }
    }

    async fn next_frame(&mut self) -> Option<Message> {
        match tokio::time::timeout(WAIT, self.ws.next()).await.expect("timed out waiting for the relay") {
            Some(Ok(message)) => Some(message),
            Some(Err(_)) | None => None,
        }
    }

    /// Sends `join` and returns the reply.
    pub async fn try_join(&mut self, room: &RoomId, name: &str, resume: Option<Resume>) -> ServerMessage {
        let join = Join { version: PROTOCOL_VERSION, room: room.to_string(), name: name.into(), resume };
        self.send(&ClientMessage::Join(join)).await;
        self.recv().await
    }

    /// Joins and expects success.
    pub async fn join(&mut self, room: &RoomId, name: &str) -> Joined {
        match self.try_join(room, name, None).await {
            ServerMessage::Joined(joined) => joined,
            other => panic!("join as {name} refused: {other:?}"),
        }
    }

    /// Sends a signal.
    pub async fn signal(&mut self, to: &PeerId, payload: SignalPayload) {
        self.send(&ClientMessage::Signal { to: to.clone(), payload }).await;
    }

    /// Closes cleanly (close frame).
    pub async fn close(mut self) {
        self.ws.close(None).await.expect("close");
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.ws.next()).await {}
    }

    /// Vanishes without a close frame, as a crashed tab or a lost network would.
    pub fn vanish(self) {
        drop(self);
    }

    /// The underlying stream, for tests that must stop reading.
    pub fn into_inner(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.ws
    }
}

/// Joins `names` into one room in order and returns their clients and peer ids, with every `peer_joined`
/// notification consumed.
pub async fn room_of(addr: SocketAddr, room: &RoomId, names: &[&str]) -> Vec<(Client, PeerId)> {
    let mut members: Vec<(Client, PeerId)> = Vec::new();
    for name in names {
        let mut client = Client::connect(addr).await;
        let joined = client.join(room, name).await;
        for (other, _) in &mut members {
            match other.recv().await {
                ServerMessage::PeerJoined { peer } => assert_eq!(peer.id, joined.peer_id),
                unexpected => panic!("expected peer_joined, got {unexpected:?}"),
            }
        }
        members.push((client, joined.peer_id));
    }
    members
}

/// A plain HTTP/1.1 GET; returns the status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    get_over(TcpStream::connect(addr).await.unwrap(), addr, path).await
}

/// Sends a `Connection: close` GET for `path` to `addr` over `stream` and reads the response to its end; returns the
/// status and body.
async fn get_over(mut stream: TcpStream, addr: SocketAddr, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut response)).await.expect("HTTP response in time").unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// The value of one line of `/metrics`, e.g. `huddle_rooms` or `huddle_rejections_total{reason="room_full"}`.
pub async fn metric(addr: SocketAddr, series: &str) -> u64 {
    let (_, body) = http_get(addr, "/metrics").await;
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from /metrics:\n{body}"))
}

/// Waits until `/metrics` shows `series` at `value`, at most [`WAIT`].
pub async fn wait_for_metric(addr: SocketAddr, series: &str, value: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = metric(addr, series).await;
        if now == value {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{series} stayed at {now}, expected {value}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The relay binary with `args` (and `--port 0 --log-format json`), its log drained in the background; returns it
/// and the address it logged.
pub fn relay_process(args: &[&str]) -> (std::process::Child, SocketAddr) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_huddle-server"))
        .args(["--port", "0", "--log-format", "json"])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the relay binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .find_map(|line| {
            let line: serde_json::Value = serde_json::from_str(&line.ok()?).ok()?;
            line["fields"]["addr"].as_str()?.parse().ok()
        })
        .expect("the relay logs its address");
    // Keep draining the log so the relay never blocks writing it.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

/// A TCP connection to `addr` from the loopback address `from` (127.0.0.x: every one of them is this host, and the
/// relay sees each as another client).
pub async fn tcp_from(addr: SocketAddr, from: std::net::IpAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    tokio::time::timeout(WAIT, socket.connect(addr)).await.expect("connects in time").expect("connects")
}

impl Client {
    /// Connects to `/ws` from the loopback address `from`, with extra request headers; the HTTP status and body
    /// when the upgrade is refused.
    pub async fn connect_as(
        addr: SocketAddr,
        from: std::net::IpAddr,
        headers: &[(&'static str, &str)],
    ) -> Result<Client, (u16, String)> {
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().append(*name, value.parse().unwrap());
        }
        let stream = MaybeTlsStream::Plain(tcp_from(addr, from).await);
        let connecting = tokio_tungstenite::client_async(request, stream);
        match tokio::time::timeout(WAIT, connecting).await.expect("upgrade answered in time") {
            Ok((ws, _)) => Ok(Client { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
                Err((response.status().as_u16(), body))
            }
            Err(other) => panic!("unexpected connect error: {other}"),
        }
    }
}

/// A plain HTTP/1.1 GET from the loopback address `from`; returns the status and body.
pub async fn http_get_from(addr: SocketAddr, from: std::net::IpAddr, path: &str) -> (u16, String) {
    get_over(tcp_from(addr, from).await, addr, path).await
}

/// Waits until `condition` holds, at most [`WAIT`]; `what` says what was awaited when it never does.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
