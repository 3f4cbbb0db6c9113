use serde::Deserialize;

use super::{InvalidValue, accept, is_host_port, validated_string};

/// An etcd client URL: `http://host:port` or `https://host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Endpoint(String);

impl Endpoint {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let addr = s.strip_prefix("http://").or_else(|| s.strip_prefix("https://"));
        let ok = addr.is_some_and(is_host_port);
        accept(ok, "etcd endpoint", s, "expected http://host:port or https://host:port").map(Self)
    }
}

validated_string!(Endpoint);

#[cfg(test)]
mod tests {
    use super::Endpoint;

    #[test]
    fn endpoint_needs_scheme_host_and_port() {
        for ok in [
            "http://127.0.0.1:2379",
            "https://etcd-1.example:2379",
            "http://[::1]:2379",
        ] {
            assert!(Endpoint::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "127.0.0.1:2379",
            "http://h",
            "http://h:x",
            "ftp://h:1",
            "http://h :1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?}");
        }
    }
}
