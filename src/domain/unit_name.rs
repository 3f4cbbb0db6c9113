use serde::Deserialize;

use super::{InvalidValue, validated_string};

/// A systemd unit name (e.g. `nginx.service`): systemd's character set, at
/// most 255 bytes, with a unit-type suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct UnitName(String);

const SUFFIXES: [&str; 6] = [".service", ".socket", ".target", ".mount", ".path", ".timer"];

impl UnitName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bad = |reason: &str| Err(InvalidValue::new("unit name", s, reason));
        if s.len() > 255 {
            return bad("it is longer than 255 bytes");
        }
        let Some(stem) = SUFFIXES.iter().find_map(|suffix| s.strip_suffix(suffix)) else {
            return bad("it needs a unit type suffix such as .service");
        };
        // systemd also allows `\` escapes; refused here, since a backslash is
        // never written bare into a unit file.
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b":_.@-".contains(&b);
        if stem.is_empty() || !stem.bytes().all(allowed) {
            return bad("only A-Z a-z 0-9 : _ . @ - are allowed before the suffix");
        }
        Ok(Self(s.to_owned()))
    }
}

validated_string!(UnitName);

#[cfg(test)]
mod tests {
    use super::UnitName;

    #[test]
    fn unit_name_follows_systemd() {
        for ok in ["nginx.service", "docker.socket", "a_blue@9001.service"] {
            assert!(UnitName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "nginx",
            ".service",
            "a b.service",
            "a\n.service",
            "a/b.service",
            "x\\x2dy.service",
        ] {
            assert!(UnitName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
