use serde::Deserialize;

use super::{InvalidValue, accept, validated_string};

/// An `http://` or `https://` URL a host fetches at boot (`provision
/// --binary-url`): a host, then only the characters RFC 3986 allows, so it
/// is one word in a unit file, a YAML scalar and a JSON string alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct HttpUrl(String);

const MAX_LEN: usize = 2048;

impl HttpUrl {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
        let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
        let uri_char = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c);
        let ok = host.is_some_and(|h| !h.is_empty()) && s.len() <= MAX_LEN && s.chars().all(uri_char);
        accept(
            ok,
            "URL",
            s,
            "expected http(s)://host/path, with only the characters RFC 3986 allows (percent-encode the rest)",
        )
        .map(Self)
    }
}

validated_string!(HttpUrl);

#[cfg(test)]
mod tests {
    use super::HttpUrl;

    #[test]
    fn http_url_takes_plain_urls_only() {
        for ok in [
            "https://example.com/bgctl",
            "http://10.0.0.1:8080/releases/bgctl-0.1.0?x=1&y=%20",
        ] {
            assert!(HttpUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ftp://example.com/x",
            "https://",
            "https:///x",
            "https://a b/x",
            "https://a/x\ny",
            "https://a/\"x\"",
            "https://a/x\\y",
            "https://a/{x}",
            "file:///etc/passwd",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad:?}");
        }
    }
}
