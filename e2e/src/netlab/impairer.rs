//! The impairer of one direction of one link: a thread that serves an NFQUEUE queue (iptables hands it the
//! packets), drops each at random with the configured probability, and holds the others for the configured delay
//! (plus or minus the jitter) before letting them go on.
//!
//! The `nfq` crate gives no file descriptor to wait on, so the thread polls the queue without blocking, about once
//! a millisecond while the link is impaired or packets are held (the delay is that much coarser), and sleeps on a
//! condition variable otherwise.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io::ErrorKind;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nfq::{Message, Queue, Verdict};

use crate::{Error, Result};

/// How often the queue is looked at while impairing.
const TICK: Duration = Duration::from_millis(1);
/// How often an idle impairer looks anyway (packets the kernel queued just before its rule went away).
const IDLE: Duration = Duration::from_millis(100);
/// The most packets the kernel keeps waiting for a verdict on one queue (held ones included).
const QUEUE_LENGTH: u32 = 16_384;

/// What the impairer does to each packet.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Params {
    /// Probability of dropping a packet.
    pub loss: f64,
    /// Added to each packet's way.
    pub delay: Duration,
    /// Each packet's delay varies by up to this much either way.
    pub jitter: Duration,
}

impl Params {
    /// Whether packets need to pass through the impairer at all.
    pub fn impairs(&self) -> bool {
        self.loss > 0.0 || !self.delay.is_zero() || !self.jitter.is_zero()
    }

    /// How long to hold one packet.
    fn hold(&self, rng: &mut fastrand::Rng) -> Duration {
        if self.jitter.is_zero() {
            return self.delay;
        }
        let spread = self.jitter.as_secs_f64();
        let offset = (rng.f64() * 2.0 - 1.0) * spread;
        Duration::from_secs_f64((self.delay.as_secs_f64() + offset).max(0.0))
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    params: Params,
    stop: bool,
    /// Why the thread stopped serving, if it failed.
    failure: Option<String>,
}

/// One queue's impairer; its thread lets every held packet go and stops when this is dropped.
pub(crate) struct Impairer {
    queue: u16,
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Impairer {
    /// Starts serving NFQUEUE queue `queue` (of this network namespace), letting everything through until told
    /// otherwise; returns once the queue is bound, so that a rule sending packets there loses none.
    pub(crate) fn start(queue: u16) -> Result<Impairer> {
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), changed: Condvar::new() });
        let (ready_tx, ready_rx) = mpsc::channel();
        let serving = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name(format!("impairer-{queue}"))
            .spawn(move || serve(queue, &serving, ready_tx))
            .map_err(|e| Error::io("start an impairer thread", e))?;
        let mut impairer = Impairer { queue, shared, thread: Some(thread) };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(impairer),
            Ok(Err(error)) => Err(Error::io(format!("bind NFQUEUE queue {queue} (nfnetlink_queue)"), error)),
            Err(_) => {
                impairer.stop();
                Err(Error::Check(format!("the impairer of queue {queue} ended before binding")))
            }
        }
    }

    /// From now on, does this to each packet.
    pub(crate) fn set(&self, params: Params) -> Result<()> {
        let mut state = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(failure) = &state.failure {
            return Err(Error::Check(format!("the impairer of queue {} failed: {failure}", self.queue)));
        }
        state.params = params;
        self.shared.changed.notify_all();
        Ok(())
    }

    fn stop(&mut self) {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Impairer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A packet held until `at`; `seq` keeps packets due at the same instant in arrival order.
struct Held {
    at: Instant,
    seq: u64,
    message: Message,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

fn open(queue_num: u16) -> std::io::Result<Queue> {
    let mut queue = Queue::open()?;
    queue.bind(queue_num)?;
    // Only the verdict matters: no payload is copied to us.
    queue.set_copy_range(queue_num, 0)?;
    queue.set_queue_max_len(queue_num, QUEUE_LENGTH)?;
    queue.set_nonblocking(true);
    Ok(queue)
}

fn serve(queue_num: u16, shared: &Shared, ready: mpsc::Sender<std::io::Result<()>>) {
    let mut queue = match open(queue_num) {
        Ok(queue) => {
            let _ = ready.send(Ok(()));
            queue
        }
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    let mut held: BinaryHeap<Reverse<Held>> = BinaryHeap::new();
    let mut rng = fastrand::Rng::new();
    let mut seq = 0u64;
    let failure = loop {
        let params = {
            let state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            if state.stop {
                break None;
            }
            state.params
        };
        if let Err(error) = take_queued(&mut queue, &params, &mut held, &mut rng, &mut seq) {
            break Some(error.to_string());
        }
        let now = Instant::now();
        if let Err(error) = release(&mut queue, &mut held, now) {
            break Some(error.to_string());
        }
        match held.peek() {
            Some(Reverse(next)) => thread::sleep(TICK.min(next.at.saturating_duration_since(now))),
            None if params.impairs() => thread::sleep(TICK),
            None => {
                let state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
                if !state.stop && state.params == params {
                    let _ = shared.changed.wait_timeout(state, IDLE);
                }
            }
        }
    };
    // Whatever is still held goes on now rather than being lost with the queue.
    let _ = release(&mut queue, &mut held, Instant::now() + Duration::from_secs(3600));
    if let Some(failure) = failure {
        crate::diagnostics::note(format!("the impairer of NFQUEUE queue {queue_num} stopped: {failure}"));
        shared.state.lock().unwrap_or_else(|p| p.into_inner()).failure = Some(failure);
    }
}

/// Takes every packet the kernel has queued: drops some, lets some go at once, holds the rest.
fn take_queued(
    queue: &mut Queue,
    params: &Params,
    held: &mut BinaryHeap<Reverse<Held>>,
    rng: &mut fastrand::Rng,
    seq: &mut u64,
) -> std::io::Result<()> {
    loop {
        let mut message = match queue.recv() {
            Ok(message) => message,
            Err(error) if error.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if params.loss > 0.0 && rng.f64() < params.loss {
            message.set_verdict(Verdict::Drop);
            queue.verdict(message)?;
            continue;
        }
        let hold = params.hold(rng);
        if hold.is_zero() {
            message.set_verdict(Verdict::Accept);
            queue.verdict(message)?;
        } else {
            *seq += 1;
            held.push(Reverse(Held { at: Instant::now() + hold, seq: *seq, message }));
        }
    }
}

/// Lets every held packet due by `now` go on.
fn release(queue: &mut Queue, held: &mut BinaryHeap<Reverse<Held>>, now: Instant) -> std::io::Result<()> {
    while held.peek().is_some_and(|Reverse(next)| next.at <= now) {
        if let Some(Reverse(Held { mut message, .. })) = held.pop() {
            message.set_verdict(Verdict::Accept);
            queue.verdict(message)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_for_the_delay_give_or_take_the_jitter() {
        let mut rng = fastrand::Rng::with_seed(7);
        let plain = Params { delay: Duration::from_millis(40), ..Params::default() };
        assert_eq!(plain.hold(&mut rng), Duration::from_millis(40));
        let jittery = Params { delay: Duration::from_millis(10), jitter: Duration::from_millis(20), loss: 0.0 };
        let holds: Vec<Duration> = (0..1000).map(|_| jittery.hold(&mut rng)).collect();
        assert!(holds.iter().all(|hold| *hold <= Duration::from_millis(30)));
        // Never negative: below zero is "at once".
        assert!(holds.iter().any(|hold| hold.is_zero()));
        assert!(holds.iter().any(|hold| *hold > Duration::from_millis(25)));
        assert!(!Params::default().impairs());
        assert!(Params { loss: 0.01, ..Params::default() }.impairs());
    }
}
