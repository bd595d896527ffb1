//! Token buckets: the per-connection message limit ([`RateLimiter`]), the per-connection read rate in bytes
//! ([`ReadThrottle`]), and the one bucket they and the per-address join rate ([`crate::per_addr::JoinRate`]) refill
//! and draw from.

use std::time::{Duration, Instant};

/// How fast a token bucket refills and how many tokens it holds at most.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    per_sec: f64,
    burst: f64,
}

impl Rate {
    /// `per_sec` tokens a second, at most `burst` (at least one) at once.
    pub fn new(per_sec: f64, burst: u32) -> Self {
        Rate { per_sec, burst: f64::from(burst.max(1)) }
    }
}

/// One bucket's tokens, as of `at`; how it refills is its [`Rate`], kept by whoever keeps many buckets alike.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn full(rate: Rate, now: Instant) -> Self {
        Bucket { tokens: rate.burst, at: now }
    }

    fn refilled(self, rate: Rate, now: Instant) -> f64 {
        (self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * rate.per_sec).min(rate.burst)
    }

    /// Whether it has refilled completely by `now` (then it is no different from a new one).
    pub fn is_full(self, rate: Rate, now: Instant) -> bool {
        self.refilled(rate, now) >= rate.burst
    }

    /// Refills up to `now`, then takes `amount` tokens even if that leaves it owing; what it holds after (below 0:
    /// owed).
    fn draw(&mut self, rate: Rate, amount: f64, now: Instant) -> f64 {
        self.tokens = self.refilled(rate, now) - amount;
        self.at = now;
        self.tokens
    }

    /// Refills up to `now`, then takes a token; false when there is none.
    pub fn take(&mut self, rate: Rate, now: Instant) -> bool {
        self.tokens = self.refilled(rate, now);
        self.at = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// What the limiter says about one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit.
    Allow,
    /// Over the limit: drop it. `notify` is true at most once per second, so error replies cannot flood either.
    Drop { notify: bool },
    /// Over the limit for too long: close the connection.
    Close,
}

/// A connection's message limit: a token bucket of `burst` messages refilled at `per_sec`, and how long it has
/// been over it.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    bucket: Bucket,
    dropped_in_a_row: u32,
    close_after: u32,
    last_notice: Option<Instant>,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(per_sec: u32, burst: u32, close_after: u32, now: Instant) -> Self {
        let rate = Rate::new(f64::from(per_sec), burst);
        RateLimiter { rate, bucket: Bucket::full(rate, now), dropped_in_a_row: 0, close_after, last_notice: None }
    }

    /// Takes a token for one message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        if self.bucket.take(self.rate, now) {
            self.dropped_in_a_row = 0;
            return Verdict::Allow;
        }
        self.dropped_in_a_row += 1;
        if self.dropped_in_a_row >= self.close_after {
            return Verdict::Close;
        }
        let notify = self.last_notice.is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(1));
        if notify {
            self.last_notice = Some(now);
        }
        Verdict::Drop { notify }
    }
}

/// A connection's read rate in bytes: a bucket of `burst` bytes refilled at `per_sec`. Reading a frame draws its
/// bytes, whatever its kind; a frame that leaves the bucket owing pauses reading until the debt is repaid, so a
/// client sending faster than the rate waits on TCP's flow control (the bytes wait in its socket, not in the relay)
/// and nothing it sent is dropped.
#[derive(Debug)]
pub struct ReadThrottle {
    rate: Rate,
    bucket: Bucket,
}

impl ReadThrottle {
    /// A full bucket.
    pub fn new(per_sec: u32, burst: u32, now: Instant) -> Self {
        let rate = Rate::new(f64::from(per_sec.max(1)), burst);
        ReadThrottle { rate, bucket: Bucket::full(rate, now) }
    }

    /// Counts `bytes` read at `now`; how long to stop reading, if the bucket now owes.
    pub fn spend(&mut self, bytes: usize, now: Instant) -> Option<Duration> {
        let left = self.bucket.draw(self.rate, bytes as f64, now);
        (left < 0.0).then(|| Duration::from_secs_f64(-left / self.rate.per_sec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_drops_notify_once_a_second_then_close() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 3, 5, start);
        for _ in 0..3 {
            assert_eq!(limiter.check(start), Verdict::Allow);
        }
        assert_eq!(limiter.check(start), Verdict::Drop { notify: true });
        assert_eq!(limiter.check(start), Verdict::Drop { notify: false });
        // 100 ms refills one token at 10/s.
        assert_eq!(limiter.check(start + Duration::from_millis(100)), Verdict::Allow);
        let later = start + Duration::from_millis(100);
        for _ in 0..4 {
            assert!(matches!(limiter.check(later), Verdict::Drop { .. }));
        }
        assert_eq!(limiter.check(later), Verdict::Close);
    }

    #[test]
    fn refill_never_exceeds_the_burst() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(1000, 2, 100, start);
        let later = start + Duration::from_secs(60);
        assert_eq!(limiter.check(later), Verdict::Allow);
        assert_eq!(limiter.check(later), Verdict::Allow);
        assert_eq!(limiter.check(later), Verdict::Drop { notify: true });
    }

    #[test]
    fn reads_within_the_burst_go_on_and_a_debt_pauses_for_as_long_as_it_takes_to_repay() {
        let start = Instant::now();
        let mut throttle = ReadThrottle::new(1000, 4000, start);
        assert_eq!(throttle.spend(3000, start), None);
        assert_eq!(throttle.spend(1000, start), None);
        // 1,500 bytes owed at 1,000 a second.
        assert_eq!(throttle.spend(1500, start), Some(Duration::from_millis(1500)));
        // Repaid after the pause: the next frame owes only itself.
        let resumed = start + Duration::from_millis(1500);
        assert_eq!(throttle.spend(500, resumed), Some(Duration::from_millis(500)));
        // A long silence refills up to the burst, never beyond it.
        let later = resumed + Duration::from_secs(60);
        assert_eq!(throttle.spend(4000, later), None);
        assert_eq!(throttle.spend(1, later), Some(Duration::from_millis(1)));
    }
}
