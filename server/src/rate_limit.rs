//! Per-connection token bucket.

use std::time::{Duration, Instant};

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

/// A token bucket: `burst` messages at once, refilled at `per_sec`.
#[derive(Debug)]
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last_refill: Instant,
    dropped_in_a_row: u32,
    close_after: u32,
    last_notice: Option<Instant>,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(per_sec: u32, burst: u32, close_after: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            per_sec: f64::from(per_sec),
            burst,
            tokens: burst,
            last_refill: now,
            dropped_in_a_row: 0,
            close_after,
            last_notice: None,
        }
    }

    /// Takes a token for one message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last_refill).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        self.last_refill = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
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
}
