//! Saturation throughput, closed loop: every client keeps a window of messages in flight to its partner and sends a
//! new one for each it receives, so the relay is never idle and never overrun. Also the relay's CPU time per message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Client, Unexpected};
use crate::payload::Kind;
use crate::procfs;
use crate::protocol::Adapter;
use crate::servers::Server;

/// The shape of the closed loop.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Client connections (two per pair).
    pub connections: u64,
    /// Messages each client keeps in flight.
    pub window: u32,
    /// How many times each relay is measured (the median counts).
    pub rounds: usize,
    /// Run before measuring.
    pub warmup: Duration,
    /// Measured.
    pub measure: Duration,
}

/// What the closed loop measured.
#[derive(Clone, Debug)]
pub struct Throughput {
    /// Messages delivered per second.
    pub messages_per_sec: f64,
    /// Payload bytes delivered per second (what the clients sent, as sent).
    pub bytes_per_sec: f64,
    /// The relay's CPU time (user + system) per 1,000 delivered messages.
    pub cpu_ms_per_1000: f64,
    /// The relay's CPU use over the window, in cores (1.0 = one core busy).
    pub relay_cores: f64,
    /// The load generator's CPU use over the window, in cores.
    pub generator_cores: f64,
    /// Messages received that were not relayed signals (errors and the like); should be 0.
    pub unexpected: u64,
    /// The first of them.
    pub first_unexpected: Option<String>,
}

/// Pair numbers of this phase (see [`client::open_pairs`]).
const FIRST_PAIR: u64 = 1_000_000;

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    bytes: AtomicU64,
    unexpected: Unexpected,
    failures: AtomicU64,
}

/// Runs the closed loop against `server`.
pub async fn run(server: &Server, adapter: &Arc<Adapter>, plan: Plan) -> Result<Throughput, String> {
    let pairs = client::open_pairs(adapter, server.addr, FIRST_PAIR, plan.connections / 2, 32).await?;
    let counters = Arc::new(Counters::default());
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for pair in pairs {
        let (first_id, second_id) = (pair.first.id.clone(), pair.second.id.clone());
        for (client, to) in [(pair.first, second_id), (pair.second, first_id)] {
            let (adapter, counters, stopped) = (Arc::clone(adapter), Arc::clone(&counters), stopped.clone());
            tasks.push(tokio::spawn(closed_loop(client, to, adapter, plan.window, counters, stopped)));
        }
    }

    tokio::time::sleep(plan.warmup).await;
    let ticks_per_sec = procfs::ticks_per_second() as f64;
    let sample = || {
        let relay = procfs::cpu_ticks(server.pid()).map_err(|error| error.to_string())?;
        let generator = procfs::cpu_ticks(std::process::id()).map_err(|error| error.to_string())?;
        let delivered = counters.delivered.load(Ordering::Relaxed);
        Ok::<_, String>((Instant::now(), relay, generator, delivered, counters.bytes.load(Ordering::Relaxed)))
    };
    let (start, relay_before, generator_before, delivered_before, bytes_before) = sample()?;
    tokio::time::sleep(plan.measure).await;
    let (end, relay_after, generator_after, delivered_after, bytes_after) = sample()?;
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }

    let first_unexpected = counters.unexpected.take_first();
    let failures = counters.failures.load(Ordering::Relaxed);
    if failures > 0 {
        return Err(format!("{failures} connections failed during the closed loop"));
    }
    let elapsed = (end - start).as_secs_f64();
    let delivered = (delivered_after - delivered_before) as f64;
    if delivered == 0.0 {
        return Err("no message was delivered".into());
    }
    let relay_secs = (relay_after - relay_before) as f64 / ticks_per_sec;
    Ok(Throughput {
        messages_per_sec: delivered / elapsed,
        bytes_per_sec: (bytes_after - bytes_before) as f64 / elapsed,
        cpu_ms_per_1000: relay_secs * 1000.0 / (delivered / 1000.0),
        relay_cores: relay_secs / elapsed,
        generator_cores: (generator_after - generator_before) as f64 / ticks_per_sec / elapsed,
        unexpected: counters.unexpected.count(),
        first_unexpected,
    })
}

/// One client of the loop: fills its window, then answers each delivery with a new message until told to stop.
async fn closed_loop(
    client: Client,
    to: String,
    adapter: Arc<Adapter>,
    window: u32,
    counters: Arc<Counters>,
    mut stopped: watch::Receiver<bool>,
) {
    let (mut sink, mut stream) = client.ws.split();
    let mut seq = 0u64;
    let next_message = |seq: &mut u64| {
        let mut text = String::new();
        adapter.encode_signal(&mut text, &to, Kind::for_sequence(*seq), *seq);
        *seq += 1;
        Message::Text(text)
    };
    let mut failed = false;
    for _ in 0..window {
        if sink.send(next_message(&mut seq)).await.is_err() {
            failed = true;
        }
    }
    let mut heartbeat = client::heartbeat(&adapter);
    // Replies are queued as deliveries arrive and written together once none is waiting, so the generator spends
    // one write per burst rather than per message and stays cheaper than the relays it measures.
    let mut unflushed = false;
    while !failed {
        tokio::select! {
            biased;
            _ = stopped.changed() => break,
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if adapter.is_signal(&text) {
                        counters.delivered.fetch_add(1, Ordering::Relaxed);
                        counters.bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
                        failed = sink.feed(next_message(&mut seq)).await.is_err();
                        unflushed = true;
                    } else if !*stopped.borrow() {
                        counters.unexpected.record(&text);
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => failed = true,
                Some(Ok(_)) => {}
            },
            flushed = sink.flush(), if unflushed => {
                failed = flushed.is_err();
                unflushed = false;
            }
            beat = async {
                let (interval, message) = heartbeat.as_mut().expect("guarded");
                interval.tick().await;
                *message
            }, if heartbeat.is_some() => {
                failed = sink.send(Message::Text(beat.to_owned())).await.is_err();
            }
        }
    }
    if failed && !*stopped.borrow() {
        counters.failures.fetch_add(1, Ordering::Relaxed);
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
}
