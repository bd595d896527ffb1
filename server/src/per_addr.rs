//! Limits per client address ([`AddrKey`]): how many connections one address holds open at once
//! ([`Holdings`]), and how fast it may join ([`JoinRate`]). Without them one host could take every slot of the
//! relay's global limits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::client_addr::AddrKey;
use crate::rate_limit::{Bucket, Rate};

/// Fewest buckets [`JoinRate`] keeps before it sweeps out the full ones.
const SWEEP_FLOOR: usize = 1024;

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing held under these locks can be left half-changed by a panic.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How many of something each address holds, each under the same cap.
#[derive(Debug)]
pub struct Holdings {
    cap: u32,
    counts: Mutex<HashMap<AddrKey, u32>>,
}

/// One thing held by an address; dropping it gives it back.
#[derive(Debug)]
pub struct Held {
    holdings: Arc<Holdings>,
    key: AddrKey,
}

impl Holdings {
    /// Nothing held yet; each address may hold `cap`.
    pub fn new(cap: u32) -> Arc<Self> {
        Arc::new(Holdings { cap, counts: Mutex::new(HashMap::new()) })
    }

    /// One more for `key`, or `None` when it holds its cap already.
    pub fn take(self: &Arc<Self>, key: AddrKey) -> Option<Held> {
        let mut counts = locked(&self.counts);
        let count = counts.entry(key).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Held { holdings: Arc::clone(self), key })
    }

    /// How many `key` holds now.
    pub fn held_by(&self, key: AddrKey) -> u32 {
        locked(&self.counts).get(&key).copied().unwrap_or(0)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut counts = locked(&self.holdings.counts);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// A token bucket per address: `burst` joins at once, refilled at a steady rate. An address whose bucket is full
/// again is forgotten (a full bucket is what a new one is), so memory follows the addresses that joined recently.
#[derive(Debug)]
pub struct JoinRate {
    rate: Rate,
    buckets: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    by_addr: HashMap<AddrKey, Bucket>,
    sweep_at: usize,
}

impl JoinRate {
    /// `per_minute` joins a minute on average, `burst` at once.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        JoinRate {
            rate: Rate::new(f64::from(per_minute) / Duration::from_secs(60).as_secs_f64(), burst),
            buckets: Mutex::new(Buckets { by_addr: HashMap::new(), sweep_at: SWEEP_FLOOR }),
        }
    }

    /// Takes a join for `key` at `now`; false when its bucket is empty.
    pub fn allow(&self, key: AddrKey, now: Instant) -> bool {
        let rate = self.rate;
        let mut buckets = locked(&self.buckets);
        if buckets.by_addr.len() >= buckets.sweep_at {
            buckets.by_addr.retain(|_, bucket| !bucket.is_full(rate, now));
            buckets.sweep_at = (buckets.by_addr.len() * 2).max(SWEEP_FLOOR);
        }
        buckets.by_addr.entry(key).or_insert_with(|| Bucket::full(rate, now)).take(rate, now)
    }

    /// How many addresses it remembers (for tests of the sweep).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        locked(&self.buckets).by_addr.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    fn key(n: u32) -> AddrKey {
        AddrKey::from(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)))
    }

    #[test]
    fn each_address_holds_up_to_its_cap_and_dropping_gives_back() {
        let holdings = Holdings::new(2);
        let first = holdings.take(key(1)).unwrap();
        let _second = holdings.take(key(1)).unwrap();
        assert!(holdings.take(key(1)).is_none());
        let _other = holdings.take(key(2)).expect("another address has its own cap");
        drop(first);
        assert_eq!(holdings.held_by(key(1)), 1);
        assert!(holdings.take(key(1)).is_some());
    }

    #[test]
    fn joins_come_in_a_burst_then_at_the_rate() {
        let rate = JoinRate::new(60, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(rate.allow(key(1), start));
        }
        assert!(!rate.allow(key(1), start));
        assert!(rate.allow(key(2), start), "another address has its own bucket");
        // 60 a minute: one more each second.
        assert!(rate.allow(key(1), start + Duration::from_secs(1)));
        assert!(!rate.allow(key(1), start + Duration::from_secs(1)));
    }

    #[test]
    fn addresses_whose_bucket_refilled_are_forgotten() {
        let rate = JoinRate::new(60, 2);
        let start = Instant::now();
        assert!(rate.allow(key(0), start));
        assert!(rate.allow(key(0), start));
        assert!(!rate.allow(key(0), start), "address 0 has used its burst");
        for n in 1..SWEEP_FLOOR as u32 {
            assert!(rate.allow(key(n), start));
        }
        assert_eq!(rate.remembered(), SWEEP_FLOOR);
        // A second later every bucket but address 0's is full again; the next newcomer sweeps them out.
        let later = start + Duration::from_secs(1);
        assert!(rate.allow(key(100_000), later));
        assert_eq!(rate.remembered(), 2);
        // Address 0 is remembered: one join refilled, not a whole new burst.
        assert!(rate.allow(key(0), later));
        assert!(!rate.allow(key(0), later));
    }
}
