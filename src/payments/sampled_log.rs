//! Logging what anybody can cause as often as they like (forged notices): the first
//! occurrence, then at most one per interval with the count of those left out, so a
//! flood costs a line every few seconds, not a line each.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct SampledLog {
    interval: Duration,
    /// When the last line was logged, and how many occurrences went unlogged since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl SampledLog {
    pub const fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(left out since the last line)` when this occurrence is to be logged.
    pub fn admit(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (last, left_out) = &mut *state;
        if last.is_some_and(|at| at.elapsed() < self.interval) {
            *left_out += 1;
            return None;
        }
        *last = Some(Instant::now());
        Some(std::mem::take(left_out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_the_first_then_one_per_interval_with_the_count_left_out() {
        let log = SampledLog::new(Duration::from_millis(200));
        assert_eq!(log.admit(), Some(0));
        assert_eq!(log.admit(), None);
        assert_eq!(log.admit(), None);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(log.admit(), Some(2));
        assert_eq!(log.admit(), None);
    }
}
