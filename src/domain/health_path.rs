use serde::Deserialize;

use super::{InvalidValue, validated_string};

/// The HTTP path the health probe GETs: starts with `/`, visible ASCII only,
/// so it is one token on a request line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct HealthPath(String);

impl HealthPath {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.starts_with('/') && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "health path",
                s,
                "it must start with '/' and hold no spaces or non-ASCII characters",
            ))
        }
    }
}

validated_string!(HealthPath);

#[cfg(test)]
mod tests {
    use super::HealthPath;

    #[test]
    fn health_path_is_one_request_line_token() {
        assert!(HealthPath::parse("/health?full=1").is_ok());
        for bad in ["", "health", "/a b", "/\r\nHost: x", "/é"] {
            assert!(HealthPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
