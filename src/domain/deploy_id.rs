use super::{InvalidValue, accept, validated_string};

/// A deploy's id as bgctl makes them (`<millis hex>-<pid hex>`): safe as a
/// journal match (`BGCTL_DEPLOY_ID=<id>`) and in an etcd key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployId(String);

impl DeployId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        accept(
            (1..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'),
            "deploy id",
            s,
            "expected an id as switch, status and history print it, e.g. 19a3f0c2b1e-4d2",
        )
        .map(Self)
    }
}

validated_string!(DeployId);

#[cfg(test)]
mod tests {
    use super::DeployId;

    #[test]
    fn deploy_ids_are_what_bgctl_makes_and_nothing_else() {
        for ok in ["19a3f0c2b1e-4d2", "abc"] {
            assert!(DeployId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "x=1", "1\n", "_SYSTEMD_UNIT=ssh", &"a".repeat(41)] {
            assert!(DeployId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
