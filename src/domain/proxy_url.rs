use super::{InvalidValue, Upstream};

/// Another proxy that must follow a switch (`[proxy] verify`):
/// `http://<host>[:<port>]`, port 80 when left out, no path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct ProxyUrl {
    url: String,
    at: Upstream,
}

impl ProxyUrl {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bad = |reason: &str| InvalidValue::new("proxy URL", s, reason);
        let rest = s
            .strip_prefix("http://")
            .ok_or_else(|| bad("expected http://<host>[:<port>] (plain HTTP, as nginx's listen port answers)"))?;
        let hostport = rest.strip_suffix('/').unwrap_or(rest);
        // A port of its own, unless the host is a bare IPv6 address in brackets.
        let has_port = hostport
            .rsplit_once(':')
            .is_some_and(|(host, _)| !host.ends_with('[') && !hostport.ends_with(']'));
        let with_port = if has_port {
            hostport.to_owned()
        } else {
            format!("{hostport}:80")
        };
        let at = Upstream::parse(&with_port).map_err(|e| bad(&e.reason))?;
        Ok(ProxyUrl { url: s.to_owned(), at })
    }

    /// `<host>:<port>`.
    pub fn upstream(&self) -> &Upstream {
        &self.at
    }
}

impl TryFrom<String> for ProxyUrl {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ProxyUrl::parse(&s)
    }
}

impl std::fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::ProxyUrl;

    #[test]
    fn a_proxy_url_is_plain_http_to_a_host_and_port() {
        for (ok, at) in [
            ("http://10.0.0.2:8080", "10.0.0.2:8080"),
            ("http://proxy-2.example.com/", "proxy-2.example.com:80"),
            ("http://[::1]:81", "[::1]:81"),
            ("http://[::1]", "[::1]:80"),
        ] {
            assert_eq!(ProxyUrl::parse(ok).unwrap().upstream().as_str(), at, "{ok}");
        }
        for bad in [
            "https://a:1",
            "10.0.0.2:80",
            "http://a:1/health",
            "http://a b:1",
            "http://:80",
            "http://a:0",
        ] {
            assert!(ProxyUrl::parse(bad).is_err(), "{bad:?}");
        }
    }
}
