use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::InvalidValue;

/// A duration written as a string ("250ms", "60s", "1m 30s").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct HumanDuration(Duration);

impl HumanDuration {
    pub const fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        humantime::parse_duration(s)
            .map(Self)
            .map_err(|e| InvalidValue::new("duration", s, format!("{e}; write it like \"250ms\" or \"60s\"")))
    }

    pub fn get(self) -> Duration {
        self.0
    }

    /// Whole seconds, rounded up: for tools (docker stop -t) that take seconds.
    pub fn ceil_secs(self) -> u64 {
        self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)
    }
}

impl TryFrom<String> for HumanDuration {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_duration(self.0).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::HumanDuration;
    use std::time::Duration;

    #[test]
    fn duration_parses_strings_and_rounds_seconds_up() {
        let d = HumanDuration::parse("250ms").unwrap();
        assert_eq!(d.get(), Duration::from_millis(250));
        assert_eq!(d.ceil_secs(), 1);
        assert_eq!(HumanDuration::parse("10s").unwrap().ceil_secs(), 10);
        assert_eq!(HumanDuration::parse("1m 30s").unwrap().get(), Duration::from_secs(90));
        assert_eq!(
            HumanDuration::parse("90s")
                .unwrap()
                .to_string()
                .parse::<humantime::Duration>()
                .unwrap()
                .as_secs(),
            90
        );
        for bad in ["", "10", "ten seconds", "-1s"] {
            assert!(HumanDuration::parse(bad).is_err(), "{bad:?}");
        }
    }
}
