//! A latency histogram of fixed size: buckets 2 % wide on a log scale from 1 µs to
//! about 6 minutes, so a benchmark can record millions of samples in 8 KB and its own
//! bookkeeping does not show in the memory it measures. Percentiles are exact to ±1 %.

use std::time::Duration;

/// Each bucket's upper bound is this factor times its lower bound.
const GROWTH: f64 = 1.02;
/// 1.02^1000 µs ≈ 400 s; slower samples land in the last bucket.
const BUCKETS: usize = 1_000;

#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, sample: Duration) {
        let micros = sample.as_secs_f64() * 1e6;
        let bucket = if micros <= 1.0 {
            0
        } else {
            ((micros.ln() / GROWTH.ln()) as usize).min(BUCKETS - 1)
        };
        self.counts[bucket] += 1;
        self.total += 1;
    }

    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    pub fn len(&self) -> u64 {
        self.total
    }

    /// The `p` quantile in milliseconds (the middle of its bucket); 0 when empty.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((self.total - 1) as f64 * p).round() as u64;
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen > rank {
                return GROWTH.powf(bucket as f64 + 0.5) / 1_000.0;
            }
        }
        GROWTH.powf(BUCKETS as f64) / 1_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_two_percent_of_the_samples() {
        let mut histogram = Histogram::default();
        for ms in 1..=1_000 {
            histogram.record(Duration::from_millis(ms));
        }
        for (p, expected) in [(0.5, 500.0), (0.99, 990.0), (0.0, 1.0)] {
            let got = histogram.percentile_ms(p);
            assert!(
                (got - expected).abs() / expected < 0.02,
                "p{p}: {got} ms, expected {expected} ms"
            );
        }
        assert_eq!(histogram.len(), 1_000);
    }

    #[test]
    fn merged_histograms_count_both() {
        let (mut fast, mut slow) = (Histogram::default(), Histogram::default());
        fast.record(Duration::from_millis(1));
        slow.record(Duration::from_secs(1));
        fast.merge(&slow);
        assert_eq!(fast.len(), 2);
        assert!(fast.percentile_ms(1.0) > 900.0);
        assert_eq!(Histogram::default().percentile_ms(0.5), 0.0);
    }
}
