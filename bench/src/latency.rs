//! Latency at a fixed offered load, open loop: messages go out on a fixed schedule whatever the relay does, and each
//! carries its scheduled time, so a relay that stalls is charged for every message that waited (no coordinated
//! omission). Latency is measured from the scheduled send time to receipt by the partner.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Client, Unexpected};
use crate::payload::{find_stamp, Kind};
use crate::protocol::Adapter;
use crate::servers::Server;
use crate::stats::{self, LatencySummary};

/// The offered load.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Client connections (two per pair).
    pub connections: u64,
    /// Messages per second, all clients together, evenly spaced.
    pub rate: u64,
    /// Sent before measuring.
    pub warmup: Duration,
    /// Messages scheduled in this window are measured.
    pub measure: Duration,
    /// How long to wait for the last messages after the schedule ends.
    pub drain: Duration,
}

/// What the open loop measured.
#[derive(Clone, Debug)]
pub struct Latency {
    /// Latency of the messages scheduled in the measured window.
    pub summary: LatencySummary,
    /// Messages scheduled in the window.
    pub scheduled: u64,
    /// Of those, not delivered by the end of the drain.
    pub lost: u64,
    /// Messages received that were not relayed signals; should be 0.
    pub unexpected: u64,
    /// The first of them.
    pub first_unexpected: Option<String>,
    /// How late the generator handed out each message against its schedule: its own lag (the machine's pauses
    /// included), which is part of every latency above.
    pub pacing: LatencySummary,
}

/// Pair numbers of this phase (see [`client::open_pairs`]).
const FIRST_PAIR: u64 = 2_000_000;

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    unexpected: Unexpected,
    failures: AtomicU64,
}

/// Runs the open loop against `server`.
pub async fn run(server: &Server, adapter: &Arc<Adapter>, plan: Plan) -> Result<Latency, String> {
    let pairs = client::open_pairs(adapter, server.addr, FIRST_PAIR, plan.connections / 2, 32).await?;
    let counters = Arc::new(Counters::default());
    let (stop, stopped) = watch::channel(false);
    let epoch = Instant::now();
    let schedule_start = epoch + Duration::from_millis(200);
    let window_start = nanos(schedule_start + plan.warmup - epoch);
    let window_end = window_start + nanos(plan.measure);
    let window = window_start..window_end;

    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for pair in pairs {
        let (first_id, second_id) = (pair.first.id.clone(), pair.second.id.clone());
        for (client, to) in [(pair.first, second_id), (pair.second, first_id)] {
            let (schedule, scheduled) = mpsc::unbounded_channel();
            senders.push(schedule);
            let connection = Connection {
                adapter: Arc::clone(adapter),
                counters: Arc::clone(&counters),
                epoch,
                window: window.clone(),
            };
            tasks.push(tokio::spawn(connection.run(client, to, scheduled, stopped.clone())));
        }
    }

    let mut lags = pace(senders, schedule_start, plan.rate, plan.warmup + plan.measure, epoch).await;
    let handed_out = lags.len() as u64;
    let drain_deadline = Instant::now() + plan.drain;
    while counters.received.load(Ordering::Relaxed) < handed_out && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    let mut samples = Vec::new();
    let mut scheduled_in_window = 0;
    for task in tasks {
        if let Ok((mut task_samples, sent_in_window)) = task.await {
            samples.append(&mut task_samples);
            scheduled_in_window += sent_in_window;
        }
    }
    let first_unexpected = counters.unexpected.take_first();
    let failures = counters.failures.load(Ordering::Relaxed);
    if failures > 0 {
        return Err(format!("{failures} connections failed during the open loop"));
    }
    let delivered = samples.len() as u64;
    let summary = stats::summarize(&mut samples).ok_or("no message was delivered in the measured window")?;
    Ok(Latency {
        summary,
        scheduled: scheduled_in_window,
        lost: scheduled_in_window.saturating_sub(delivered),
        unexpected: counters.unexpected.count(),
        first_unexpected,
        pacing: stats::summarize(&mut lags).ok_or("nothing was scheduled")?,
    })
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Hands out the schedule: message `k` is due at `start + k / rate`, from connection `k mod n`, so every connection
/// sends at `rate / n` and the total is evenly spaced. Returns how late each hand-out was, in nanoseconds.
///
/// Tokio's timers tick in milliseconds, coarser than the spacing of the messages at the rates measured, so the schedule
/// is kept by a thread of its own that sleeps until each due time (the kernel's high-resolution timers, with no timer
/// slack). It must sleep, not spin: under real-time scheduling the kernel gives real-time threads at most 95% of each
/// second (`sched_rt_runtime_us`) and stops one that spins for the remaining 50 ms, which would show as 50 ms pauses in
/// every relay's latency.
async fn pace(
    senders: Vec<mpsc::UnboundedSender<u64>>,
    start: Instant,
    rate: u64,
    length: Duration,
    epoch: Instant,
) -> Vec<u64> {
    let (done, lags) = oneshot::channel();
    let (start, epoch) = (start.into_std(), epoch.into_std());
    std::thread::spawn(move || {
        crate::os::precise_sleeps();
        let spacing = Duration::from_secs_f64(1.0 / rate as f64);
        let total = (length.as_secs_f64() * rate as f64) as u64;
        let mut lags = Vec::with_capacity(total as usize);
        for k in 0..total {
            let due = start + spacing.mul_f64(k as f64);
            let now = std::time::Instant::now();
            if now < due {
                std::thread::sleep(due - now);
            }
            lags.push(nanos(std::time::Instant::now().saturating_duration_since(due)));
            let _ = senders[(k % senders.len() as u64) as usize].send(nanos(due - epoch));
        }
        let _ = done.send(lags);
    });
    lags.await.unwrap_or_default()
}

struct Connection {
    adapter: Arc<Adapter>,
    counters: Arc<Counters>,
    epoch: Instant,
    window: std::ops::Range<u64>,
}

impl Connection {
    /// Sends what the pacer schedules, records the latency of what arrives; returns the latencies of messages
    /// scheduled in the window, and how many this connection sent in it.
    async fn run(
        self,
        client: Client,
        to: String,
        mut scheduled: mpsc::UnboundedReceiver<u64>,
        mut stopped: watch::Receiver<bool>,
    ) -> (Vec<u64>, u64) {
        let (mut sink, mut stream) = client.ws.split();
        let mut samples = Vec::new();
        let (mut seq, mut sent_in_window) = (0u64, 0u64);
        let mut schedule_open = true;
        let mut failed = false;
        let mut heartbeat = client::heartbeat(&self.adapter);
        while !failed {
            tokio::select! {
                _ = stopped.changed() => break,
                due = scheduled.recv(), if schedule_open => match due {
                    Some(stamp) => {
                        let mut text = String::new();
                        self.adapter.encode_signal(&mut text, &to, Kind::for_sequence(seq), stamp);
                        seq += 1;
                        if self.window.contains(&stamp) {
                            sent_in_window += 1;
                        }
                        failed = sink.send(Message::Text(text)).await.is_err();
                    }
                    None => schedule_open = false,
                },
                beat = async {
                    let (interval, message) = heartbeat.as_mut().expect("guarded");
                    interval.tick().await;
                    *message
                }, if heartbeat.is_some() => {
                    failed = sink.send(Message::Text(beat.to_owned())).await.is_err();
                }
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        let now = nanos(Instant::now() - self.epoch);
                        match find_stamp(&text).filter(|_| self.adapter.is_signal(&text)) {
                            Some(stamp) => {
                                self.counters.received.fetch_add(1, Ordering::Relaxed);
                                if self.window.contains(&stamp) {
                                    samples.push(now.saturating_sub(stamp));
                                }
                            }
                            None if !*stopped.borrow() => self.counters.unexpected.record(&text),
                            None => {}
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => failed = true,
                    Some(Ok(_)) => {}
                },
            }
        }
        if failed && !*stopped.borrow() {
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
        (samples, sent_in_window)
    }
}
