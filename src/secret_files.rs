//! Files that hold secrets and that the user provides: `[container]
//! env_file`, the TLS key, a config with etcd's password. Each must be
//! root's and unreadable by group and others, or a command that would use
//! it refuses (exit 2) before it changes anything. No value read here is
//! ever copied anywhere: errors name the file and the line, never a value.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::domain::EnvName;

#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("{key} {path}: cannot read it ({source}): create it (root-owned, chmod 600) or fix {key}")]
    Unreadable {
        key: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{key} {path} is owned by uid {uid}, not root: chown root: {path}")]
    NotRoots { key: &'static str, path: PathBuf, uid: u32 },
    #[error("{key} {path} has mode {mode:04o}, so group or others can read the secret in it: chmod 600 {path}")]
    Readable {
        key: &'static str,
        path: PathBuf,
        mode: u32,
    },
    #[error(
        "{key} {path} line {line}: {why}; every line is KEY=VALUE (a letter or _ first, then letters, digits, _), a #comment or empty"
    )]
    BadLine {
        key: &'static str,
        path: PathBuf,
        line: usize,
        why: &'static str,
    },
}

/// `path` is root's and only root can read it.
pub fn check_private(key: &'static str, path: &Path) -> Result<(), SecretFileError> {
    let meta = std::fs::metadata(path).map_err(|source| SecretFileError::Unreadable {
        key,
        path: path.to_owned(),
        source,
    })?;
    if meta.uid() != 0 {
        return Err(SecretFileError::NotRoots {
            key,
            path: path.to_owned(),
            uid: meta.uid(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o044 != 0 {
        return Err(SecretFileError::Readable {
            key,
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// The env_file is private and every line is one the docker CLI reads as
/// `KEY=VALUE`. A bare `KEY` would take the value from the docker CLI's own
/// environment, so it is refused too.
pub fn check_env_file(path: &Path) -> Result<(), SecretFileError> {
    const KEY: &str = "container.env_file";
    check_private(KEY, path)?;
    let text = std::fs::read(path).map_err(|source| SecretFileError::Unreadable {
        key: KEY,
        path: path.to_owned(),
        source,
    })?;
    let bad = |line, why| SecretFileError::BadLine {
        key: KEY,
        path: path.to_owned(),
        line,
        why,
    };
    let text = std::str::from_utf8(&text).map_err(|_| bad(0, "it is not UTF-8 text"))?;
    for (i, line) in text.lines().enumerate() {
        env_line(line).map_err(|why| bad(i + 1, why))?;
    }
    Ok(())
}

/// Why `line` is no line of an env file (the value is never looked at).
fn env_line(line: &str) -> Result<(), &'static str> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(());
    }
    let Some((name, _value)) = line.split_once('=') else {
        return Err("it has no '='");
    };
    match EnvName::parse(name) {
        Ok(_) => Ok(()),
        Err(_) => Err("the name before '=' is not a variable name"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str, mode: u32) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bgctl-secret-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    // The tests run as root (scripts/test), so the files they make are root's.
    #[test]
    fn an_env_file_is_private_and_all_key_value_lines() {
        let ok = file("ok.env", "# db\nDB_PASSWORD=s3cr=t with spaces\n\n_X=\n", 0o600);
        check_env_file(&ok).unwrap();
        let readable = file("readable.env", "A=1\n", 0o640);
        assert!(matches!(
            check_env_file(&readable),
            Err(SecretFileError::Readable { mode: 0o640, .. })
        ));
        let world = file("world.env", "A=1\n", 0o604);
        assert!(matches!(check_env_file(&world), Err(SecretFileError::Readable { .. })));
        for (text, line) in [("A=1\nB\n", 2), ("1A=x\n", 1), ("A B=x\n", 1)] {
            let bad = file("bad.env", text, 0o600);
            match check_env_file(&bad) {
                Err(e @ SecretFileError::BadLine { .. }) => {
                    assert!(
                        matches!(e, SecretFileError::BadLine { line: l, .. } if l == line),
                        "{text:?}: {e}"
                    );
                    assert!(!e.to_string().contains("=x"), "a value in the message: {e}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        assert!(matches!(
            check_env_file(Path::new("/nonexistent/x.env")),
            Err(SecretFileError::Unreadable { .. })
        ));
    }
}
