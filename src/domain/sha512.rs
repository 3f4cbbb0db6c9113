use serde::Deserialize;

use super::{InvalidValue, accept, validated_string};

/// A SHA-512 digest in hex (128 lowercase hex digits): what a host checks
/// a downloaded bgctl binary against (`provision --binary-sha512`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Sha512(String);

impl Sha512 {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = s.len() == 128 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        accept(
            ok,
            "SHA-512",
            s,
            "expected 128 lowercase hex digits (sha512sum prints them)",
        )
        .map(Self)
    }
}

validated_string!(Sha512);

#[cfg(test)]
mod tests {
    use super::Sha512;

    #[test]
    fn sha512_is_128_lowercase_hex_digits() {
        assert!(Sha512::parse(&"0a".repeat(64)).is_ok());
        for bad in [
            "",
            "0a",
            &"0A".repeat(64),
            &"0a".repeat(65),
            &format!("{}\n", "0".repeat(127)),
        ] {
            assert!(Sha512::parse(bad).is_err(), "{bad:?}");
        }
    }
}
