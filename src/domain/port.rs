use std::fmt;
use std::num::NonZeroU16;
use std::str::FromStr;

use serde::Deserialize;

use super::InvalidValue;

/// A TCP port, 1–65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "i64")]
pub struct Port(NonZeroU16);

impl Port {
    pub const fn new(port: u16) -> Option<Port> {
        match NonZeroU16::new(port) {
            Some(p) => Some(Port(p)),
            None => None,
        }
    }

    pub fn get(self) -> u16 {
        self.0.get()
    }
}

impl TryFrom<i64> for Port {
    type Error = InvalidValue;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        u16::try_from(n)
            .ok()
            .and_then(Port::new)
            .ok_or_else(|| InvalidValue::new("port", &n.to_string(), "it must be between 1 and 65535"))
    }
}

impl FromStr for Port {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n: i64 = s
            .parse()
            .map_err(|_| InvalidValue::new("port", s, "it is not a number"))?;
        Port::try_from(n)
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::Port;

    #[test]
    fn port_accepts_1_to_65535_only() {
        assert_eq!(Port::try_from(1).map(Port::get), Ok(1));
        assert_eq!(Port::try_from(65535).map(Port::get), Ok(65535));
        for bad in [0, -1, 65536] {
            assert!(Port::try_from(bad).is_err(), "{bad}");
        }
        assert!("80x".parse::<Port>().is_err());
    }
}
