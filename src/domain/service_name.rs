use serde::Deserialize;

use super::{InvalidValue, validated_string};

/// The service's name: `[a-z][a-z0-9_]{0,47}`. It names units, containers,
/// files and etcd keys, so nothing outside that set may reach them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct ServiceName(String);

impl ServiceName {
    pub const MAX_LEN: usize = 48;

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bad = |reason: &str| Err(InvalidValue::new("service name", s, reason));
        let mut chars = s.chars();
        match chars.next() {
            None => return bad("it is empty"),
            Some(c) if !c.is_ascii_lowercase() => {
                return bad("it must start with a lowercase letter a-z");
            }
            Some(_) => {}
        }
        if s.len() > Self::MAX_LEN {
            return bad("it is longer than 48 characters");
        }
        if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return bad("only lowercase letters, digits and '_' are allowed");
        }
        Ok(Self(s.to_owned()))
    }
}

validated_string!(ServiceName);

#[cfg(test)]
mod tests {
    use super::ServiceName;

    #[test]
    fn service_name_accepts_the_documented_grammar() {
        for ok in ["a", "bdd_assistant", "x9_", &"a".repeat(48)] {
            assert!(ServiceName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn service_name_rejects_everything_else() {
        for bad in [
            "",
            "9a",
            "_a",
            "Abc",
            "a-b",
            "a b",
            "a\nb",
            "a.service",
            "ä",
            &"a".repeat(49),
        ] {
            assert!(ServiceName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
