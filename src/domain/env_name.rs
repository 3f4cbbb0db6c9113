use serde::Deserialize;

use super::{InvalidValue, accept, validated_string};

/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct EnvName(String);

impl EnvName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let valid_start = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
        accept(
            valid_start && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "environment variable name",
            s,
            "use letters, digits and '_', not starting with a digit",
        )
        .map(Self)
    }
}

validated_string!(EnvName);

#[cfg(test)]
mod tests {
    use super::EnvName;

    #[test]
    fn env_name_follows_posix_names() {
        for ok in ["JAVA_OPTS", "_x", "a1"] {
            assert!(EnvName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A B", "A=B", "A\nB"] {
            assert!(EnvName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
