use std::net::IpAddr;

use serde::Deserialize;

use super::{InvalidValue, accept, validated_string};

/// A DNS host name or an IP address (for the advertised url).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct HostName(String);

impl HostName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        accept(
            s.parse::<IpAddr>().is_ok() || (s.len() <= 253 && s.split('.').all(label_ok)),
            "host name",
            s,
            "expected a DNS name or an IP address",
        )
        .map(Self)
    }
}

validated_string!(HostName);

#[cfg(test)]
mod tests {
    use super::HostName;

    #[test]
    fn host_name_accepts_names_and_addresses() {
        for ok in ["localhost", "web-1.example.com", "10.0.0.5", "::1"] {
            assert!(HostName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "-a", "a..b", "a/b", "a\n"] {
            assert!(HostName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
