use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::{InvalidValue, validated_string};

/// An absolute, normalised path: no `.` or `..` components, no empty
/// components, no control characters. What bgctl writes stays where the
/// config says, and the path is safe on a unit-file line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct AbsPath(String);

impl AbsPath {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bad = |reason: &str| Err(InvalidValue::new("path", s, reason));
        if !s.starts_with('/') {
            return bad("it must be absolute (start with '/')");
        }
        if s.chars().any(char::is_control) {
            return bad("it holds a control character");
        }
        if s.len() > 1 && (s.ends_with('/') || s.contains("//")) {
            return bad("it has an empty component or a trailing '/'");
        }
        if Path::new(s)
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
            || s.split('/').any(|part| part == "." || part == "..")
        {
            return bad("'.' and '..' are not allowed");
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }

    /// `self/name`, where `name` is one plain file name.
    pub fn join(&self, name: &str) -> Result<AbsPath, InvalidValue> {
        if name.is_empty() || name.contains('/') {
            return Err(InvalidValue::new("file name", name, "it must be one path component"));
        }
        AbsPath::parse(&format!("{}/{name}", self.0.trim_end_matches('/')))
    }

    /// The path under `root`, as `DESTDIR` installs do.
    pub fn under(&self, root: &Path) -> PathBuf {
        root.join(self.0.trim_start_matches('/'))
    }
}

validated_string!(AbsPath);

#[cfg(test)]
mod tests {
    use super::AbsPath;

    #[test]
    fn abs_path_accepts_normal_absolute_paths() {
        for ok in ["/", "/etc/systemd/system", "/a b/c.conf"] {
            assert!(AbsPath::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn abs_path_refuses_relative_dotted_and_control_paths() {
        for bad in [
            "",
            "etc",
            "./etc",
            "/etc/../root",
            "/etc/./x",
            "/etc//x",
            "/etc/",
            "/a\nb",
        ] {
            assert!(AbsPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn join_refuses_anything_but_one_component() {
        let dir = AbsPath::parse("/etc/systemd/system").unwrap();
        assert_eq!(
            dir.join("a@.service").unwrap().as_str(),
            "/etc/systemd/system/a@.service"
        );
        assert_eq!(AbsPath::parse("/").unwrap().join("x").unwrap().as_str(), "/x");
        for bad in ["", "../x", "a/b", ".."] {
            assert!(dir.join(bad).is_err(), "{bad}");
        }
    }
}
