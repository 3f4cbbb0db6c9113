use serde::Deserialize;

use super::{HostName, InvalidValue, accept, validated_string};

/// A contact address for the ACME account: `local@host`, the local part
/// of letters, digits and `.+_-`, the host a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = s.split_once('@').is_some_and(|(local, host)| {
            !local.is_empty()
                && local.len() <= 64
                && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
                && host.contains('.')
                && HostName::parse(host).is_ok()
        });
        accept(ok, "e-mail address", s, "expected name@example.com").map(Self)
    }
}

validated_string!(EmailAddress);

#[cfg(test)]
mod tests {
    use super::EmailAddress;

    #[test]
    fn email_address_is_one_plain_address() {
        for ok in ["ops@example.com", "first.last+acme@mail.example.org"] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ops",
            "@example.com",
            "ops@",
            "ops@localhost",
            "a b@example.com",
            "a@b@example.com",
            "ops@example.com\n",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }
}
