//! Latency percentiles from raw samples.

use std::time::Duration;

/// The distribution of a set of latencies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencySummary {
    /// How many samples.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// The slowest.
    pub max: Duration,
    /// The share of samples of at most 1 ms, 0 to 1.
    pub within_1ms: f64,
}

/// The nearest-rank `percent`th percentile of `sorted` (ascending, not empty): the smallest sample that at least
/// `percent`% of the samples do not exceed.
pub fn percentile(sorted: &[u64], percent: f64) -> u64 {
    assert!(!sorted.is_empty(), "a percentile of nothing");
    // Less a hair, so that 99.9% of 1,000 is rank 999 and not 1,000 through rounding (99.9 is not exact in binary).
    let rank = (percent * sorted.len() as f64 / 100.0 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises latencies given in nanoseconds (sorted in place); `None` without samples.
pub fn summarize(samples_ns: &mut [u64]) -> Option<LatencySummary> {
    if samples_ns.is_empty() {
        return None;
    }
    samples_ns.sort_unstable();
    let at = |percent| Duration::from_nanos(percentile(samples_ns, percent));
    Some(LatencySummary {
        count: samples_ns.len(),
        p50: at(50.0),
        p90: at(90.0),
        p99: at(99.0),
        p999: at(99.9),
        max: Duration::from_nanos(*samples_ns.last().expect("not empty")),
        within_1ms: samples_ns.partition_point(|&ns| ns <= 1_000_000) as f64 / samples_ns.len() as f64,
    })
}

/// A duration for tables: `734 µs`, `1.24 ms`, `2.1 s`.
pub fn human(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros < 1_000.0 {
        format!("{micros:.0} µs")
    } else if micros < 1_000_000.0 {
        format!("{:.2} ms", micros / 1_000.0)
    } else {
        format!("{:.1} s", micros / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), 50);
        assert_eq!(percentile(&sorted, 99.0), 99);
        assert_eq!(percentile(&sorted, 99.9), 100);
        let thousand: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&thousand, 99.9), 999);
        assert_eq!(percentile(&sorted, 100.0), 100);
        assert_eq!(percentile(&sorted, 0.0), 1);
        assert_eq!(percentile(&[7], 99.0), 7);
    }

    #[test]
    fn one_slow_sample_in_a_thousand_shows_only_in_the_max() {
        let mut samples = vec![1_000u64; 999];
        samples.push(5_000_000);
        samples.reverse();
        let summary = summarize(&mut samples).unwrap();
        assert_eq!(summary.count, 1000);
        assert_eq!(summary.p50, Duration::from_micros(1));
        assert_eq!(summary.p90, Duration::from_micros(1));
        assert_eq!(summary.p99, Duration::from_micros(1));
        assert_eq!(summary.p999, Duration::from_micros(1));
        assert_eq!(summary.max, Duration::from_millis(5));
        assert_eq!(summary.within_1ms, 0.999);
        assert_eq!(summarize(&mut []), None);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_micros(734)), "734 µs");
        assert_eq!(human(Duration::from_micros(1_240)), "1.24 ms");
        assert_eq!(human(Duration::from_millis(2_100)), "2.1 s");
    }
}
