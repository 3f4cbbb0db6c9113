use std::fmt;

use serde::Deserialize;

use super::InvalidValue;

/// An HTTP status code a check expects: 100–599.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "i64")]
pub struct HttpStatus(u16);

impl HttpStatus {
    pub const OK: HttpStatus = HttpStatus(200);

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for HttpStatus {
    type Error = InvalidValue;
    fn try_from(n: i64) -> Result<Self, Self::Error> {
        u16::try_from(n)
            .ok()
            .filter(|s| (100..600).contains(s))
            .map(HttpStatus)
            .ok_or_else(|| InvalidValue::new("HTTP status", &n.to_string(), "it must be between 100 and 599"))
    }
}

impl fmt::Display for HttpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::HttpStatus;

    #[test]
    fn http_status_is_100_to_599() {
        assert_eq!(HttpStatus::try_from(204).map(HttpStatus::get), Ok(204));
        for bad in [0, 99, 600, -200, 70000] {
            assert!(HttpStatus::try_from(bad).is_err(), "{bad}");
        }
    }
}
