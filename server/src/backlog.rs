//! Bytes the relay holds for clients: queued for a connection until its socket takes them, or held for a peer that
//! is away (its grace period) or still joining. A client that does not read must not make the relay hold an
//! unbounded amount, so these bytes are bounded for each connection (and each peer away) and in all.
//!
//! Every byte is counted when it is queued or held and given back when it is written or dropped: the connection's
//! [`Backlog`] and the relay's [`Budget`] (whose count is the `huddle_queued_bytes` gauge) always say what is held.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::metrics::Metrics;

/// Why bytes could not be counted: nothing was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Overflow {
    /// They would take what waits for one connection (or one peer away) past `--queue-bytes`.
    #[error("more than one connection may hold is waiting for it")]
    Connection,
    /// They would take what the relay holds in all past `--queue-budget`.
    #[error("the relay holds as much as it may for clients")]
    Relay,
}

/// The relay's bounds on held bytes, and its count of them.
#[derive(Debug)]
pub struct Budget {
    per_connection: usize,
    total: u64,
    metrics: Arc<Metrics>,
}

impl Budget {
    /// Bounds of `per_connection` bytes for each connection (or peer away) and `total` in all, counted in
    /// `metrics.queued_bytes`.
    pub fn new(per_connection: usize, total: u64, metrics: Arc<Metrics>) -> Self {
        Budget { per_connection, total, metrics }
    }

    /// The bound for one connection, or one peer away.
    pub fn per_connection(&self) -> usize {
        self.per_connection
    }

    /// Bytes held now, for every client together.
    pub fn held(&self) -> u64 {
        self.metrics.queued_bytes.load(Ordering::Relaxed)
    }

    /// Whether new joins are to be refused: past three quarters of the budget, so that the relay stops taking on
    /// clients well before it has to drop anything for the ones it has.
    pub fn is_strained(&self) -> bool {
        self.held() >= self.total - self.total / 4
    }

    /// Counts `bytes` more held, unless that would pass the budget.
    fn take(&self, bytes: usize) -> Result<(), Overflow> {
        let bytes = bytes as u64;
        let before = self.metrics.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        if before + bytes > self.total {
            self.give_back(bytes as usize);
            return Err(Overflow::Relay);
        }
        Ok(())
    }

    /// Counts `bytes` no longer held.
    fn give_back(&self, bytes: usize) {
        if bytes > 0 {
            self.metrics.queued_bytes.fetch_sub(bytes as u64, Ordering::AcqRel);
        }
    }
}

/// What waits for one connection, shared by whoever queues for it and the task that writes it out.
#[derive(Debug)]
pub struct Backlog {
    bytes: AtomicUsize,
    budget: Arc<Budget>,
}

impl Backlog {
    /// An empty backlog under `budget`.
    pub fn new(budget: Arc<Budget>) -> Self {
        Backlog { bytes: AtomicUsize::new(0), budget }
    }

    /// Counts `bytes` more waiting, unless that would take this connection past its bound or the relay past its
    /// budget (then nothing is counted).
    pub fn charge(&self, bytes: usize) -> Result<(), Overflow> {
        let before = self.bytes.fetch_add(bytes, Ordering::AcqRel);
        if before + bytes > self.budget.per_connection {
            self.bytes.fetch_sub(bytes, Ordering::AcqRel);
            return Err(Overflow::Connection);
        }
        if let Err(overflow) = self.budget.take(bytes) {
            self.bytes.fetch_sub(bytes, Ordering::AcqRel);
            return Err(overflow);
        }
        Ok(())
    }

    /// Counts `bytes` written or dropped.
    pub fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.bytes.fetch_sub(bytes, Ordering::AcqRel);
            self.budget.give_back(bytes);
        }
    }

    /// Bytes waiting now.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }
}

/// Counts bytes held outside any connection's queue (for a peer away or joining), each holder on its own.
#[derive(Debug)]
pub struct Hold {
    bytes: usize,
    budget: Arc<Budget>,
}

impl Hold {
    /// Nothing held yet, under `budget`.
    pub fn new(budget: &Arc<Budget>) -> Self {
        Hold { bytes: 0, budget: Arc::clone(budget) }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `bytes` more would pass the bound of one peer away: a quarter of a connection's, so that what was
    /// held fits, after the welcome, in the connection that resumes it, and so that a client cut off for not
    /// reading (and then away) costs the relay less than it did while connected.
    pub fn would_overflow(&self, bytes: usize) -> bool {
        self.bytes + bytes > self.budget.per_connection / 4
    }

    /// Counts `bytes` more held, unless that would pass the relay's budget.
    pub fn take(&mut self, bytes: usize) -> Result<(), Overflow> {
        self.budget.take(bytes)?;
        self.bytes += bytes;
        Ok(())
    }

    /// Counts `bytes` no longer held.
    pub fn give_back(&mut self, bytes: usize) {
        let bytes = bytes.min(self.bytes);
        self.bytes -= bytes;
        self.budget.give_back(bytes);
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(per_connection: usize, total: u64) -> Arc<Budget> {
        Arc::new(Budget::new(per_connection, total, Arc::new(Metrics::default())))
    }

    #[test]
    fn a_connection_takes_up_to_its_bound_and_gets_it_back_as_it_is_written() {
        let budget = budget(100, 1_000);
        let backlog = Backlog::new(Arc::clone(&budget));
        backlog.charge(60).unwrap();
        backlog.charge(40).unwrap();
        assert_eq!(backlog.charge(1), Err(Overflow::Connection));
        assert_eq!((backlog.bytes(), budget.held()), (100, 100));
        backlog.release(60);
        backlog.charge(50).unwrap();
        assert_eq!((backlog.bytes(), budget.held()), (90, 90));
        backlog.release(90);
        assert_eq!((backlog.bytes(), budget.held()), (0, 0));
    }

    #[test]
    fn the_budget_bounds_every_connection_together_and_joins_stop_first() {
        let budget = budget(100, 200);
        let (first, second, third) =
            (Backlog::new(Arc::clone(&budget)), Backlog::new(Arc::clone(&budget)), Backlog::new(Arc::clone(&budget)));
        first.charge(100).unwrap();
        second.charge(49).unwrap();
        assert!(!budget.is_strained());
        second.charge(1).unwrap();
        assert!(budget.is_strained(), "three quarters held");
        third.charge(50).unwrap();
        assert_eq!(third.charge(1), Err(Overflow::Relay));
        assert_eq!((third.bytes(), budget.held()), (50, 200), "a refused charge counts nothing");
        first.release(100);
        assert!(!budget.is_strained());
        third.charge(1).unwrap();
    }

    #[test]
    fn what_is_held_for_a_peer_away_is_given_back_when_dropped() {
        let budget = budget(400, 1_000);
        let mut hold = Hold::new(&budget);
        hold.take(70).unwrap();
        assert!(hold.would_overflow(31) && !hold.would_overflow(30));
        hold.give_back(20);
        assert_eq!((hold.bytes(), budget.held()), (50, 50));
        drop(hold);
        assert_eq!(budget.held(), 0);
    }
}
