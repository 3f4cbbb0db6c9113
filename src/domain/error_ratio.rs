use std::fmt;

use serde::Deserialize;

use super::InvalidValue;

/// A share of responses that may fail: a finite number from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct ErrorRatio(f64);

impl Eq for ErrorRatio {}

impl ErrorRatio {
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for ErrorRatio {
    type Error = InvalidValue;
    fn try_from(n: f64) -> Result<Self, Self::Error> {
        if (0.0..=1.0).contains(&n) {
            Ok(ErrorRatio(n))
        } else {
            Err(InvalidValue::new(
                "error ratio",
                &n.to_string(),
                "it must be between 0 and 1 (0.02 is 2 %)",
            ))
        }
    }
}

impl fmt::Display for ErrorRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorRatio;

    #[test]
    fn an_error_ratio_is_0_to_1() {
        assert_eq!(ErrorRatio::try_from(0.02).map(ErrorRatio::get), Ok(0.02));
        for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(ErrorRatio::try_from(bad).is_err(), "{bad}");
        }
    }
}
