//! A duration as settings are written and shown: typed the way people write them
//! (`15m`, `2s`, `7d`, `1h 30m`), shown in `--help` in the largest whole unit (`90d`, not
//! humantime's `2months 28days 13h 30m`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingDuration(pub Duration);

/// The longest duration a setting takes: ten years. Past it an instant plus the duration
/// (an order's expiry, a timer's deadline) could overflow and stop the server, and no
/// timeout, interval or retention means a century.
const LONGEST: Duration = Duration::from_secs(3_650 * 86_400);

impl FromStr for SettingDuration {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let duration = humantime::parse_duration(value.trim())
            .map_err(|err| format!("{err} (write it as `15m`, `2s`, `7d`, `1h 30m`)"))?;
        if duration > LONGEST {
            return Err(format!("at most {}", Self(LONGEST)));
        }
        Ok(Self(duration))
    }
}

impl fmt::Display for SettingDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs();
        if self.0.subsec_nanos() != 0 || seconds == 0 {
            return write!(f, "{}", humantime::format_duration(self.0));
        }
        let (count, unit) = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")]
            .into_iter()
            .find(|(size, _)| seconds.is_multiple_of(*size))
            .map(|(size, unit)| (seconds / size, unit))
            .unwrap_or((seconds, "s"));
        write!(f, "{count}{unit}")
    }
}

impl From<Duration> for SettingDuration {
    fn from(duration: Duration) -> Self {
        Self(duration)
    }
}

impl From<SettingDuration> for Duration {
    fn from(setting: SettingDuration) -> Self {
        setting.0
    }
}

/// A duration longer than zero (`10s`, `1m`): a zero deadline or interval would refuse
/// everyone or spin.
pub fn positive(value: &str) -> Result<SettingDuration, String> {
    let duration: SettingDuration = value.parse()?;
    if duration.0.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_reads_as_typed_and_shows_in_its_largest_whole_unit() {
        for (typed, shown) in [
            ("15m", "15m"),
            ("900s", "15m"),
            ("90d", "90d"),
            ("7days", "7d"),
            ("1h 30m", "90m"),
            ("24h", "1d"),
            ("1500ms", "1s 500ms"),
        ] {
            let duration: SettingDuration = typed.parse().expect(typed);
            assert_eq!(duration.to_string(), shown, "{typed}");
            assert_eq!(shown.parse::<SettingDuration>(), Ok(duration), "{shown}");
        }
        assert!("soon".parse::<SettingDuration>().is_err());
        assert!("-5m".parse::<SettingDuration>().is_err());
        assert_eq!(
            "100000y".parse::<SettingDuration>(),
            Err("at most 3650d".to_owned())
        );
        assert!("99999999999999999999s".parse::<SettingDuration>().is_err());
        assert!(positive("0s").is_err());
    }
}
