use serde::Deserialize;

use super::{InvalidValue, accept, validated_string};

/// nginx `server_name`: one or more names separated by single spaces, each
/// `_` or made of `A-Za-z0-9 . - *`. Nothing that could end the directive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct ServerName(String);

impl ServerName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'*' | b'_'))
        };
        accept(
            s.split(' ').all(name_ok),
            "server_name",
            s,
            "use host names (letters, digits, '.', '-', '*') or '_', separated by single spaces",
        )
        .map(Self)
    }
}

validated_string!(ServerName);

#[cfg(test)]
mod tests {
    use super::ServerName;

    #[test]
    fn server_name_refuses_nginx_syntax() {
        for ok in ["_", "example.com", "example.com *.example.com"] {
            assert!(ServerName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a;", "a }", "a  b", "~^re$", "a\nb", "\"a\""] {
            assert!(ServerName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
