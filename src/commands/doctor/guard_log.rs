//! `[guard] log`: the file the site's `access_log` writes during a guard
//! window, and the guard reads. A guard that cannot read it fails the
//! switch closed, so doctor says so before a deploy finds out.

use std::path::Path;

use super::Check;
use crate::config::Config;

const NAME: &str = "guard";

/// No `[guard]`: no line.
pub(super) fn guard_log_check(config: &Config) -> Option<Check> {
    if !config.guard.enabled() {
        return None;
    }
    let log = config.guard_log();
    Some(match judge(log.as_path()) {
        Ok(found) => Check::pass(NAME, format!("[guard] log {log}: {found}")),
        Err(problem) => Check::fail(
            NAME,
            format!("[guard] log {log}: {problem}, so every guarded switch would fail closed"),
            "point [guard] log at a plain file in a directory nginx can write, and keep logrotate off it during deploys (or use copytruncate)",
        ),
    })
}

fn judge(log: &Path) -> Result<&'static str, String> {
    let dir = log.parent().unwrap_or(Path::new("/"));
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a directory", dir.display())),
        Err(e) => return Err(format!("its directory {}: {e}", dir.display())),
    }
    match std::fs::symlink_metadata(log) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok("nginx creates it in the next guard window"),
        Err(e) => Err(e.to_string()),
        Ok(meta) if meta.is_file() => std::fs::File::open(log)
            .map(|_| "a readable file")
            .map_err(|e| format!("cannot be read: {e}")),
        Ok(_) => Err("is not a plain file (a symlink or a directory)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::judge;

    #[test]
    fn the_guard_log_must_be_a_plain_file_in_a_directory() {
        let dir = std::env::temp_dir().join(format!("bgctl-guard-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("web.guard.json");
        assert!(judge(&log).is_ok(), "not there yet: nginx makes it");
        std::fs::write(&log, "").unwrap();
        assert_eq!(judge(&log), Ok("a readable file"));
        std::fs::remove_file(&log).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &log).unwrap();
        assert!(judge(&log).unwrap_err().contains("not a plain file"));
        assert!(
            judge(&dir.join("no-such-dir/web.guard.json"))
                .unwrap_err()
                .contains("its directory")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
