//! Opening bench clients: a WebSocket from a chosen loopback source address, and pairs of clients that can signal
//! each other through a relay.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::protocol::{Adapter, SetupEvent};

/// A client's WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// How long one client may take to connect and be set up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(20);

/// Loopback source addresses the clients are spread over, so that 10,000 connections to one port never run short
/// of ephemeral ports on one address.
const SOURCE_ADDRESSES: u64 = 200;

/// The source address of the `index`th client: 127.0.0.1 to 127.0.0.200 in turn.
pub fn source_address(index: u64) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 1 + (index % SOURCE_ADDRESSES) as u8)
}

/// Connects a WebSocket to `path` on `server` from `source`, with Nagle's algorithm off (as browsers have it).
pub async fn connect(server: SocketAddr, source: Ipv4Addr, path: &str) -> Result<Ws, String> {
    let socket = TcpSocket::new_v4().map_err(|error| format!("socket: {error}"))?;
    socket.bind(SocketAddr::new(source.into(), 0)).map_err(|error| format!("bind {source}: {error}"))?;
    let stream = socket.connect(server).await.map_err(|error| format!("connect from {source}: {error}"))?;
    stream.set_nodelay(true).map_err(|error| format!("nodelay: {error}"))?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{server}{path}"), stream)
        .await
        .map_err(|error| format!("WebSocket handshake: {error}"))?;
    Ok(ws)
}

/// The next text message, skipping control frames; an error once the connection ends or `deadline` passes.
pub async fn next_text(ws: &mut Ws, deadline: Instant) -> Result<String, String> {
    loop {
        match timeout_at(deadline, ws.next()).await {
            Err(_) => return Err("timed out".into()),
            Ok(None) => return Err("the relay closed the connection".into()),
            Ok(Some(Err(error))) => return Err(format!("read: {error}")),
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text),
            Ok(Some(Ok(Message::Close(frame)))) => return Err(format!("the relay closed the connection: {frame:?}")),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Messages a client received that were not what the phase expects (errors and the like): how many, and the first.
#[derive(Debug, Default)]
pub struct Unexpected {
    count: AtomicU64,
    first: Mutex<Option<String>>,
}

impl Unexpected {
    /// Counts `text` (keeping the first 200 characters of the first one).
    pub fn record(&self, text: &str) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock().expect("not poisoned");
        if first.is_none() {
            *first = Some(text.chars().take(200).collect());
        }
    }

    /// How many so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The first one, taken out.
    pub fn take_first(&self) -> Option<String> {
        self.first.lock().expect("not poisoned").take()
    }
}

/// The timer for the keep-alives `adapter`'s protocol needs, if any, with the message to send at each tick.
pub fn heartbeat(adapter: &Adapter) -> Option<(Interval, &'static str)> {
    adapter.heartbeat().map(|(period, message)| {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        (interval, message)
    })
}

/// One client, set up: its socket and the id its partner addresses it by.
pub struct Client {
    /// The WebSocket.
    pub ws: Ws,
    /// This client's id at the relay.
    pub id: String,
}

/// Two clients that can signal each other.
pub struct Pair {
    /// The first to connect.
    pub first: Client,
    /// The second.
    pub second: Client,
}

/// Connects member `member` of pair `pair` and waits until the relay confirms it.
async fn open_member(adapter: &Adapter, server: SocketAddr, pair: u64, member: u8) -> Result<Client, String> {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    let source = source_address(pair * 2 + u64::from(member));
    let mut ws = timeout_at(deadline, connect(server, source, &adapter.path(pair, member)))
        .await
        .map_err(|_| "connect timed out".to_owned())??;
    if let Some(hello) = adapter.hello(pair, member) {
        ws.send(Message::Text(hello)).await.map_err(|error| format!("send: {error}"))?;
    }
    loop {
        let text = next_text(&mut ws, deadline).await?;
        match adapter.setup_event(&text) {
            SetupEvent::Assigned(id) => {
                let id = adapter.chosen_id(pair, member).unwrap_or(id);
                return Ok(Client { ws, id });
            }
            SetupEvent::Refused(why) => return Err(format!("refused: {why}")),
            SetupEvent::Arrived(_) | SetupEvent::Other => {}
        }
    }
}

/// Opens pair number `pair`: both clients confirmed, and (where the relay announces arrivals) the first told of
/// the second, so each can reach the other.
pub async fn open_pair(adapter: &Adapter, server: SocketAddr, pair: u64) -> Result<Pair, String> {
    let mut first = open_member(adapter, server, pair, 0).await?;
    let second = open_member(adapter, server, pair, 1).await?;
    if adapter.announces_arrivals() {
        let deadline = Instant::now() + SETUP_TIMEOUT;
        loop {
            let text =
                next_text(&mut first.ws, deadline).await.map_err(|why| format!("waiting for the partner: {why}"))?;
            if adapter.setup_event(&text) == SetupEvent::Arrived(second.id.clone()) {
                break;
            }
        }
    }
    Ok(Pair { first, second })
}

/// Opens `count` pairs numbered from `first` (each phase uses numbers of its own, so no room or id is reused),
/// `concurrency` at a time. Fails with the first error (and how many pairs were open).
pub async fn open_pairs(
    adapter: &Arc<Adapter>,
    server: SocketAddr,
    first: u64,
    count: u64,
    concurrency: usize,
) -> Result<Vec<Pair>, String> {
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(count as usize);
    for pair in first..first + count {
        let (adapter, permits) = (Arc::clone(adapter), Arc::clone(&permits));
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.expect("never closed");
            open_pair(&adapter, server, pair).await
        }));
    }
    let mut pairs = Vec::with_capacity(count as usize);
    let mut first_error = None;
    for task in tasks {
        match task.await.map_err(|error| format!("setup task: {error}")).and_then(|opened| opened) {
            Ok(pair) => pairs.push(pair),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        None => Ok(pairs),
        Some(error) => Err(format!("{} of {count} pairs opened; first failure: {error}", pairs.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexpected_messages_are_counted_and_the_first_kept() {
        let unexpected = Unexpected::default();
        unexpected.record(&"x".repeat(300));
        unexpected.record("second");
        assert_eq!(unexpected.count(), 2);
        assert_eq!(unexpected.take_first(), Some("x".repeat(200)));
        assert_eq!(unexpected.take_first(), None);
    }

    #[test]
    fn sources_cycle_over_two_hundred_loopback_addresses() {
        assert_eq!(source_address(0), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(source_address(199), Ipv4Addr::new(127, 0, 0, 200));
        assert_eq!(source_address(200), Ipv4Addr::new(127, 0, 0, 1));
        assert!((0..10_000).map(source_address).all(|address| address.is_loopback()));
    }
}
