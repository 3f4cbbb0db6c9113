//! The phases of a switch (DESIGN §4), in order.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    Lock,
    Read,
    Start,
    Healthy,
    Flip,
    Proxy,
    Verify,
    Drain,
    Stop,
}

impl Phase {
    pub const ALL: [Phase; 9] = [
        Phase::Lock,
        Phase::Read,
        Phase::Start,
        Phase::Healthy,
        Phase::Flip,
        Phase::Proxy,
        Phase::Verify,
        Phase::Drain,
        Phase::Stop,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Lock => "lock",
            Phase::Read => "read",
            Phase::Start => "start",
            Phase::Healthy => "healthy",
            Phase::Flip => "flip",
            Phase::Proxy => "proxy",
            Phase::Verify => "verify",
            Phase::Drain => "drain",
            Phase::Stop => "stop",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown phase {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::Phase;

    #[test]
    fn phases_round_trip_and_keep_the_designed_order() {
        for p in Phase::ALL {
            assert_eq!(p.to_string().parse::<Phase>(), Ok(p));
        }
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "lock", "read", "start", "healthy", "flip", "proxy", "verify", "drain", "stop"
            ]
        );
        assert!(Phase::ALL.windows(2).all(|w| w[0] < w[1]));
    }
}
