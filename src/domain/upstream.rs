use std::net::Ipv6Addr;

use super::{HostName, InvalidValue, Port, validated_string};

/// Where a proxy reaches a color: `<host>:<port>` (an IPv6 address in
/// brackets), as the state's `url` holds it. Safe on an nginx `server`
/// line: the host is a DNS name or an address, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upstream(String);

impl Upstream {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bad = |reason: &str| InvalidValue::new("upstream", s, reason);
        let (host, port) = s.rsplit_once(':').ok_or_else(|| bad("expected <host>:<port>"))?;
        port.parse::<u16>()
            .ok()
            .and_then(Port::new)
            .ok_or_else(|| bad("the port must be between 1 and 65535"))?;
        let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
            None => !host.contains(':') && HostName::parse(host).is_ok(),
        };
        if host_ok {
            Ok(Upstream(s.to_owned()))
        } else {
            Err(bad("the host must be a DNS name, an IPv4 address or [an IPv6 address]"))
        }
    }
}

validated_string!(Upstream);

#[cfg(test)]
mod tests {
    use super::Upstream;

    #[test]
    fn an_upstream_is_a_host_and_a_port_and_nothing_else() {
        for ok in ["127.0.0.1:9001", "web-1.example.com:9002", "[::1]:9001", "localhost:80"] {
            assert_eq!(Upstream::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "127.0.0.1",
            "127.0.0.1:0",
            "127.0.0.1:70000",
            "::1:9001",
            "a b:9001",
            "x;return 200:9001",
            "host:9001\nserver evil:1",
            "[not-v6]:9001",
            ":9001",
        ] {
            assert!(Upstream::parse(bad).is_err(), "{bad:?}");
        }
    }
}
