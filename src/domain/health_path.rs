use serde::Deserialize;

use super::{InvalidValue, accept, validated_string};

/// The HTTP path the health probe GETs: starts with `/`, visible ASCII only,
/// so it is one token on a request line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct HealthPath(String);

impl HealthPath {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        accept(
            s.starts_with('/') && s.bytes().all(|b| b.is_ascii_graphic()),
            "health path",
            s,
            "it must start with '/' and hold no spaces or non-ASCII characters",
        )
        .map(Self)
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
