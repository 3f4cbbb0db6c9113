//! Writing files the way a crash cannot half-do: temp file in the same
//! directory, fsync, rename over the target, fsync the directory.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Mode of everything bgctl writes: units and sites are world-readable config.
pub const FILE_MODE: u32 = 0o644;
/// Mode of what holds a secret (keys, the file state store): root only.
pub const PRIVATE_MODE: u32 = 0o600;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("cannot create directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot remove {path}: {source}")]
    Remove { path: PathBuf, source: std::io::Error },
}

/// The file's contents, or `None` when it does not exist.
pub fn read_if_exists(path: &Path) -> Result<Option<String>, FilesError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FilesError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Removes a file; one already gone is fine. Says whether it was there.
pub fn remove_if_exists(path: &Path) -> Result<bool, FilesError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(FilesError::Remove {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Atomically replaces `path` with `contents` (mode 0644), creating parent
/// directories as needed. Readers see the old file or the new one, never a mix.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), FilesError> {
    write_atomic_mode(path, contents, FILE_MODE)
}

/// As [`write_atomic`], mode 0600 from its first byte: for keys and secrets.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), FilesError> {
    write_atomic_mode(path, contents, PRIVATE_MODE)
}

fn write_atomic_mode(path: &Path, contents: &[u8], mode: u32) -> Result<(), FilesError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir).map_err(|source| FilesError::CreateDir {
        path: dir.to_owned(),
        source,
    })?;
    let err = |source| FilesError::Write {
        path: path.to_owned(),
        source,
    };
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    // A fresh name, created exclusively: O_EXCL refuses an existing file or a
    // planted symlink, so the write lands nowhere but in our own temp file.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{name}.bgctl-{}-{nanos:x}.tmp", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        // The umask may have narrowed the mode given at creation.
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn write_atomic_replaces_the_file_with_mode_0644_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("bgctl-files-{}", std::process::id()));
        let path = dir.join("sub/x.conf");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        assert_eq!(fs::read_dir(dir.join("sub")).unwrap().count(), 1);
        write_private(&path, b"key").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }
}
