//! The proxy boundary: nginx's site for the service, validated, swapped and
//! reloaded, then checked from the outside. [`Proxy`] is what the switch
//! uses; [`Nginx`] is the real one.

mod connections;
mod nginx;
mod site_target;

use std::time::Duration;

pub use nginx::{Installed, Nginx, test_config};
pub use site_target::{SiteTarget, site_target};

use crate::domain::Color;
use crate::files::FilesError;
use crate::render::RenderedFile;
use crate::systemd::SystemdError;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "nginx -t refused the new site ([proxy] test), so the old one stays and nginx was not reloaded:\n{message}"
    )]
    Invalid { message: String },
    #[error("cannot run {bin}: {reason}")]
    NginxBinary { bin: String, reason: String },
    #[error("reloading {unit}: {source}")]
    Reload { unit: String, source: SystemdError },
    #[error("{unit} is not running ({state}): start it before deploying")]
    NotRunning { unit: String, state: String },
    #[error("requests through nginx on port {port} did not answer as {expected} within {}: last answer {last}", humantime::format_duration(*limit))]
    Verify {
        port: u16,
        expected: Color,
        limit: Duration,
        last: String,
    },
    #[error("cannot take {path}, which keeps site changes on this host one at a time: {reason}")]
    HostLock { path: String, reason: String },
    #[error(transparent)]
    Files(#[from] FilesError),
}

/// nginx as the switch needs it.
#[allow(async_fn_in_trait)] // used through generics, never as `dyn`
pub trait Proxy {
    /// Fails unless the proxy is running: a deploy must not flip to a proxy
    /// that cannot follow.
    async fn ensure_running(&self) -> Result<(), ProxyError>;

    /// The site on disk now, if any.
    async fn current(&self) -> Result<Option<String>, ProxyError>;

    /// Puts `site` in place once `nginx -t` accepts it, and reloads. When the
    /// test fails the old site stays and nothing is reloaded.
    async fn apply(&self, site: &RenderedFile) -> Result<(), ProxyError>;

    /// Waits until requests through the proxy are answered by `color`.
    async fn verify(&self, color: Color, limit: Duration) -> Result<(), ProxyError>;

    /// As [`Proxy::verify`], through the preview (`[proxy] preview_listen`).
    async fn verify_preview(&self, color: Color, limit: Duration) -> Result<(), ProxyError>;

    /// Whether one request through the proxy is answered by `color` now.
    async fn serves(&self, color: Color) -> bool;

    /// Waits until no request is in flight to `color` (no TCP connection to
    /// its host port is left), at most `limit`; returns the connections
    /// still open then (0: drained).
    async fn drain(&self, color: Color, limit: Duration) -> usize;
}
