//! Rates printed beside counts, only when they mean something: a rate over a few events
//! or a few milliseconds ("3 events in 0.0 s (48213 events/s)") says nothing.

/// The shortest run and the fewest items whose rate is worth printing.
const MIN_SECONDS: f64 = 1.0;
const MIN_COUNT: u64 = 100;

/// `"12345 events/s"` for `count` items of `unit` in `seconds`, or `None` when the run
/// was too short or too small for the rate to mean anything.
pub(super) fn per_second(count: u64, seconds: f64, unit: &str) -> Option<String> {
    (seconds >= MIN_SECONDS && count >= MIN_COUNT)
        .then(|| format!("{:.0} {unit}/s", count as f64 / seconds))
}

/// `" (12345 events/s)"`, or nothing (see [`per_second`]).
pub(super) fn in_brackets(count: u64, seconds: f64, unit: &str) -> String {
    per_second(count, seconds, unit)
        .map(|rate| format!(" ({rate})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_shown_only_over_enough_time_and_items() {
        assert_eq!(per_second(3, 0.004, "events"), None);
        assert_eq!(per_second(50_000, 0.2, "events"), None);
        assert_eq!(per_second(12, 30.0, "events"), None);
        assert_eq!(
            per_second(25_000, 2.0, "events").as_deref(),
            Some("12500 events/s")
        );
        assert_eq!(in_brackets(3, 0.01, "events"), "");
    }
}
