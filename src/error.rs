//! The one place errors become exit codes (DESIGN §5).

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::files::FilesError;
use crate::render::RenderError;
use crate::systemd::SystemdError;

/// bgctl's exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The command did what was asked.
    Ok,
    /// It failed; nothing changed, or what changed was rolled back.
    Failed,
    /// Bad usage or config; nothing was touched.
    Usage,
    /// The new color never became healthy (rolled back).
    Unhealthy,
    /// Another deploy holds the lock.
    Locked,
    /// systemd, dockerd or etcd could not be reached.
    Unreachable,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::Failed => 1,
            ExitCode::Usage => 2,
            ExitCode::Unhealthy => 3,
            ExitCode::Locked => 4,
            ExitCode::Unreachable => 5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    Systemd(#[from] SystemdError),
    #[error("--out {0}: not a directory; pass a directory (created when missing)")]
    OutNotADirectory(PathBuf),
    #[error("{key} {path} is not a directory: create it, or fix {key} in the config")]
    NotADirectory { key: &'static str, path: PathBuf },
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config(_) | Error::OutNotADirectory(_) | Error::NotADirectory { .. } => {
                ExitCode::Usage
            }
            Error::Systemd(SystemdError::Unreachable { .. }) => ExitCode::Unreachable,
            Error::Render(_) | Error::Files(_) | Error::Systemd(_) => ExitCode::Failed,
        }
    }
}
