use serde::Deserialize;

use super::{InvalidValue, validated_string};

/// A Docker image reference, by Docker's grammar (distribution/reference):
/// `[host[:port]/]path[:tag][@algo:hex]`. Lowercase path components, a tag of
/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, no whitespace or shell characters; so
/// it is always exactly one word on a command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct ImageRef(String);

/// Docker's limit on the name part.
const NAME_MAX: usize = 255;

impl ImageRef {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        check(s)
            .map(|()| Self(s.to_owned()))
            .map_err(|reason| InvalidValue::new("image reference", s, reason))
    }
}

validated_string!(ImageRef);

impl ImageRef {
    /// The repository: the reference without its tag and digest
    /// (`registry:5000/team/app:1.2@sha256:…` → `registry:5000/team/app`).
    pub fn repository(&self) -> &str {
        let rest = self.0.split_once('@').map_or(self.0.as_str(), |(rest, _)| rest);
        match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => &rest[..i],
            _ => rest,
        }
    }
}

fn check(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    if let Some(digest) = digest {
        check_digest(digest)?;
    }
    // A ':' after the last '/' starts the tag; one before it is a registry port.
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    if name.len() > NAME_MAX {
        return Err(format!("the name is longer than {NAME_MAX} characters"));
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    // The first part is a registry when it looks like a host (Docker's rule).
    if parts.len() > 1
        && (parts[0].contains(['.', ':'])
            || parts[0] == "localhost"
            || parts[0].chars().any(|c| c.is_ascii_uppercase()))
    {
        check_registry(parts.remove(0))?;
    }
    parts.into_iter().try_for_each(check_path_component)
}

fn check_registry(host: &str) -> Result<(), String> {
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("registry port {port:?} is not a number"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("registry host {name:?} is not a valid host name"))
    }
}

/// `[a-z0-9]+` groups joined by `.`, `_`, `__` or any run of `-`.
fn check_path_component(part: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "path component {part:?}: use lowercase letters, digits and single separators (. _ __ -)"
        ))
    };
    let bytes = part.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return bad();
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        let run = bytes[i..].iter().take_while(|&&c| !alnum(c)).count();
        let sep = &part[i..i + run];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return bad();
        }
        i += run;
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = tag.as_bytes();
    if !b.is_empty() && b.len() <= 128 && word(b[0]) && b.iter().all(|&c| word(c) || c == b'.' || c == b'-') {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?}: use up to 128 of A-Z a-z 0-9 _ . -, not starting with . or -"
        ))
    }
}

fn check_digest(digest: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "digest {digest:?}: expected algorithm:hex, e.g. sha256:<64 hex digits>"
        ))
    };
    let Some((algo, hex)) = digest.split_once(':') else {
        return bad();
    };
    let algo_ok = algo
        .split(['+', '.', '-', '_'])
        .all(|c| c.starts_with(|ch: char| ch.is_ascii_alphabetic()) && c.bytes().all(|b| b.is_ascii_alphanumeric()));
    if algo_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        bad()
    }
}

#[cfg(test)]
mod tests {
    use super::ImageRef;

    #[test]
    fn image_ref_accepts_docker_references() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for ok in [
            "nginx",
            "bgctl-demo:v1",
            "vfarcic/technologyconversationsbdd",
            "library/nginx:1.25-alpine",
            "localhost:5000/team/app:latest",
            "registry.example.com/a__b/c.d/e--f:V_1.0",
            &format!("app@{digest}"),
            &format!("reg.io:443/app:tag@{digest}"),
        ] {
            assert!(ImageRef::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn image_ref_refuses_what_docker_refuses_and_shell_text() {
        for bad in [
            "",
            "Nginx",
            "app:",
            "app:-x",
            "app name",
            "app;rm -rf /",
            "app$(id)",
            "app\n",
            "-app",
            "app/",
            "a..b",
            "a___b",
            "app@sha256:xyz",
            "reg:abc/app",
            &format!("app:{}", "t".repeat(129)),
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?}");
        }
    }
}
