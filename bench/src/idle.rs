//! Memory per idle connection: the relay's resident memory before and after opening many connections (joined in
//! pairs, as people waiting in a call), divided by their number; then a hold to see that the relay keeps every one,
//! and a probe that each can still send and receive.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Client};
use crate::payload::Kind;
use crate::procfs;
use crate::protocol::Adapter;
use crate::servers::Server;

/// How many connections, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Connections to open (two per pair).
    pub connections: u64,
    /// Pairs opened and closed before the baseline, so one-time start-up allocations do not count.
    pub warmup_pairs: u64,
    /// Wait after opening, before reading memory.
    pub settle: Duration,
    /// How long to hold them all open.
    pub hold: Duration,
}

/// What the idle phase measured.
#[derive(Clone, Debug)]
pub struct Idle {
    /// Connections opened.
    pub connections: u64,
    /// Relay RSS before opening them, KiB.
    pub rss_before_kib: u64,
    /// Relay RSS with all of them open, KiB.
    pub rss_after_kib: u64,
    /// Connections the relay closed during the hold (should be 0).
    pub dropped: u64,
    /// Sockets the relay process held at the end of the hold, beyond its baseline.
    pub relay_sockets: usize,
    /// Connections whose probe message reached their partner after the hold.
    pub probes_delivered: u64,
    /// How long opening all connections took.
    pub open_time: Duration,
}

impl Idle {
    /// Bytes of relay memory per connection.
    pub fn bytes_per_connection(&self) -> f64 {
        (self.rss_after_kib as f64 - self.rss_before_kib as f64) * 1024.0 / self.connections as f64
    }
}

#[derive(Default)]
struct Counters {
    dropped: AtomicU64,
    delivered: AtomicU64,
}

/// Runs the idle phase against a freshly started `server`.
pub async fn run(server: &Server, adapter: &Arc<Adapter>, plan: Plan) -> Result<Idle, String> {
    warm_up(server, adapter, plan.warmup_pairs).await?;
    let rss = || procfs::rss_kib(server.pid()).map_err(|error| error.to_string());
    let sockets = || procfs::socket_count(server.pid()).map_err(|error| error.to_string());
    let (rss_before_kib, sockets_before) = (rss()?, sockets()?);

    let opening = Instant::now();
    let pairs = client::open_pairs(adapter, server.addr, 0, plan.connections / 2, 64).await?;
    let open_time = opening.elapsed();
    let counters = Arc::new(Counters::default());
    let (stop, stopped) = watch::channel(false);
    let (probe, probed) = watch::channel(false);
    let mut tasks = Vec::new();
    for pair in pairs {
        let (first_id, second_id) = (pair.first.id.clone(), pair.second.id.clone());
        for (client, to) in [(pair.first, second_id), (pair.second, first_id)] {
            let (adapter, counters) = (Arc::clone(adapter), Arc::clone(&counters));
            tasks.push(tokio::spawn(idle_client(client, to, adapter, counters, probed.clone(), stopped.clone())));
        }
    }

    tokio::time::sleep(plan.settle).await;
    let rss_after_kib = rss()?;
    tokio::time::sleep(plan.hold).await;
    let relay_sockets = sockets()?.saturating_sub(sockets_before);
    let dropped = counters.dropped.load(Ordering::Relaxed);

    let _ = probe.send(true);
    let deadline = Instant::now() + Duration::from_secs(20);
    while counters.delivered.load(Ordering::Relaxed) < plan.connections && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let probes_delivered = counters.delivered.load(Ordering::Relaxed);
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    Ok(Idle {
        connections: plan.connections,
        rss_before_kib,
        rss_after_kib,
        dropped,
        relay_sockets,
        probes_delivered,
        open_time,
    })
}

/// Opens and closes a few pairs that exchange one message each way, so the relay has started everything it starts
/// lazily before the baseline is read.
async fn warm_up(server: &Server, adapter: &Arc<Adapter>, pairs: u64) -> Result<(), String> {
    // Pair numbers far above the measured ones, so that rooms and ids are never shared with them.
    const FIRST: u64 = 1 << 40;
    let mut text = String::new();
    for pair in FIRST..FIRST + pairs {
        let mut opened = client::open_pair(adapter, server.addr, pair).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        adapter.encode_signal(&mut text, &opened.second.id, Kind::Offer, 0);
        opened.first.ws.send(Message::Text(text.clone())).await.map_err(|error| error.to_string())?;
        loop {
            let received = client::next_text(&mut opened.second.ws, deadline).await?;
            if adapter.is_signal(&received) {
                break;
            }
        }
        let _ = opened.first.ws.close(None).await;
        let _ = opened.second.ws.close(None).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

/// Holds a connection open (answering pings, sending the protocol's heartbeats), sends one probe when asked and
/// counts the probe it receives.
async fn idle_client(
    client: Client,
    to: String,
    adapter: Arc<Adapter>,
    counters: Arc<Counters>,
    mut probed: watch::Receiver<bool>,
    mut stopped: watch::Receiver<bool>,
) {
    let (mut sink, mut stream) = client.ws.split();
    let mut heartbeat = client::heartbeat(&adapter);
    let mut probe_pending = true;
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            _ = probed.changed(), if probe_pending => {
                probe_pending = false;
                let mut text = String::new();
                adapter.encode_signal(&mut text, &to, Kind::Candidate, 0);
                if sink.send(Message::Text(text)).await.is_err() {
                    break;
                }
            }
            beat = async {
                let (interval, message) = heartbeat.as_mut().expect("guarded");
                interval.tick().await;
                *message
            }, if heartbeat.is_some() => {
                if sink.send(Message::Text(beat.to_owned())).await.is_err() {
                    break;
                }
            }
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if adapter.is_signal(&text) {
                        counters.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
}
