//! Which file configures the service (DESIGN §2).

use std::path::{Path, PathBuf};

use super::ConfigError;
use crate::domain::ServiceName;

pub const CONFIG_DIR: &str = "/etc/bgctl";

/// What the command line said about the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--config FILE` or `BGCTL_CONFIG`.
    File(PathBuf),
    /// `-s NAME`: `<dir>/NAME.toml`.
    Service(ServiceName),
    /// Neither: the only `*.toml` in `<dir>`.
    Only,
}

/// Resolves a source to a file path, looking in `dir` (normally `/etc/bgctl`).
pub fn locate(source: &ConfigSource, dir: &Path) -> Result<PathBuf, ConfigError> {
    match source {
        ConfigSource::File(path) => Ok(path.clone()),
        ConfigSource::Service(name) => Ok(dir.join(format!("{name}.toml"))),
        ConfigSource::Only => {
            let not_found = || ConfigError::NotFound { dir: dir.to_owned() };
            let entries = std::fs::read_dir(dir).map_err(|_| not_found())?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .collect();
            found.sort();
            match found.len() {
                0 => Err(not_found()),
                1 => Ok(found.remove(0)),
                _ => Err(ConfigError::Ambiguous {
                    dir: dir.to_owned(),
                    names: found
                        .iter()
                        .filter_map(|p| p.file_stem()?.to_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            }
        }
    }
}
