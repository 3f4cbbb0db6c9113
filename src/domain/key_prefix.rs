use serde::Deserialize;

use super::{InvalidValue, accept, validated_string};

/// The etcd key prefix bgctl's keys live under: `/` then `A-Za-z0-9/_.-`,
/// no trailing `/` (keys are `<prefix>/<key>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct KeyPrefix(String);

impl KeyPrefix {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let chars_ok = s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b));
        accept(
            s.starts_with('/') && s.len() > 1 && !s.ends_with('/') && chars_ok,
            "etcd prefix",
            s,
            "it must start with '/', not end with '/', and use A-Z a-z 0-9 / _ . -",
        )
        .map(Self)
    }
}

validated_string!(KeyPrefix);

#[cfg(test)]
mod tests {
    use super::KeyPrefix;

    #[test]
    fn key_prefix_is_an_absolute_key_path() {
        for ok in ["/bdd-assistant", "/a/b_c.d"] {
            assert!(KeyPrefix::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/", "a", "/a/", "/a b", "/a\n"] {
            assert!(KeyPrefix::parse(bad).is_err(), "{bad:?}");
        }
    }
}
