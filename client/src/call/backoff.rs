//! How long to wait before reconnecting to the relay: exponential, capped, with jitter so a relay restart is not
//! met by every client at the same instant.

/// Reconnect delays for successive attempts.
#[derive(Clone, Debug)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// The first delay.
    pub const INITIAL_MS: u32 = 250;
    /// The longest delay.
    pub const MAX_MS: u32 = 5_000;

    /// A fresh sequence.
    pub fn new() -> Self {
        Backoff { attempt: 0 }
    }

    /// Attempts made since the last success.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt; `random` in [0, 1) spreads it over 50–100 % of the nominal delay.
    pub fn next_delay_ms(&mut self, random: f64) -> u32 {
        let nominal = Self::INITIAL_MS.saturating_mul(1 << self.attempt.min(10)).min(Self::MAX_MS);
        self.attempt += 1;
        let spread = 0.5 + 0.5 * random.clamp(0.0, 1.0);
        (f64::from(nominal) * spread) as u32
    }

    /// A connection succeeded: start over.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_reset() {
        let mut backoff = Backoff::new();
        let delays: Vec<u32> = (0..8).map(|_| backoff.next_delay_ms(0.999_999)).collect();
        assert_eq!(delays, [249, 499, 999, 1999, 3999, 4999, 4999, 4999]);
        assert_eq!(backoff.attempts(), 8);
        backoff.reset();
        assert_eq!(backoff.next_delay_ms(0.0), Backoff::INITIAL_MS / 2);
    }
}
