use serde::Deserialize;

use super::{InvalidValue, accept, validated_string};

/// An nginx size (`client_max_body_size`): digits and an optional `k`, `m`
/// or `g` (`"10m"`, `"512k"`, `"0"` for no limit). Nothing else reaches the
/// site.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct BodySize(String);

impl BodySize {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let digits = s.strip_suffix(['k', 'm', 'g', 'K', 'M', 'G']).unwrap_or(s);
        accept(
            !digits.is_empty() && digits.len() <= 12 && digits.bytes().all(|b| b.is_ascii_digit()),
            "size",
            s,
            "write digits with an optional k, m or g, like \"10m\" (\"0\": no limit)",
        )
        .map(Self)
    }
}

validated_string!(BodySize);

#[cfg(test)]
mod tests {
    use super::BodySize;

    #[test]
    fn body_size_takes_nginx_sizes_only() {
        for ok in ["0", "1m", "10M", "512k", "2g", "1048576"] {
            assert!(BodySize::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "m", "10mb", "1.5m", "-1m", "10 m", "1m;", "1m\ninclude x", "ten"] {
            assert!(BodySize::parse(bad).is_err(), "{bad:?}");
        }
    }
}
