//! The proxy boundary: nginx's site for the service, validated, swapped and
//! reloaded, then checked from the outside. [`Proxy`] is what the switch
//! uses; [`Nginx`] is the real one.

mod access_log;
mod candidate;
mod config_test;
mod connections;
mod host_lock;
mod nginx;
mod site_target;
mod tls_install;
mod workers;

use std::time::Duration;

pub use config_test::test_config;
pub use nginx::{Installed, Nginx};
pub use site_target::{SiteTarget, site_target};

use crate::config::DrainWait;
use crate::domain::Color;
use crate::files::FilesError;
use crate::guard::Tally;
use crate::render::RenderedFile;
use crate::systemd::SystemdError;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "nginx -t refused the new site ([proxy] test), so the old one stays and nginx was not reloaded:\n{message}"
    )]
    Invalid { message: String },
    #[error(
        "nginx -t fails on {file}, which is not this service's: a neighbour on this nginx is broken, so this site was left as it was and nginx was not reloaded. Fix {file}, then run this again:\n{message}"
    )]
    Neighbour { file: String, message: String },
    #[error("nginx -t refused the new certificate, so the old one stays and nginx was not reloaded:\n{message}")]
    CertificateRefused { message: String },
    #[error("cannot run {bin}: {reason}")]
    NginxBinary { bin: String, reason: String },
    #[error("reloading {unit}: {source}")]
    Reload { unit: String, source: SystemdError },
    #[error(
        "{unit} took the reload but did not apply it: no new worker started within {}, so nginx still runs its old config. Its error log says why (a `listen` port another process holds: \"still could not bind()\"); the site was put back and nginx reloaded again", humantime::format_duration(*waited)
    )]
    NotApplied { unit: String, waited: Duration },
    #[error("{unit} is not running ({state}): start it before deploying")]
    NotRunning { unit: String, state: String },
    #[error("requests through nginx on port {port} did not answer as {expected} within {}: last answer {last}", humantime::format_duration(*limit))]
    Verify {
        port: u16,
        expected: Color,
        limit: Duration,
        last: String,
    },
    #[error("requests through the proxy {url} did not answer as {expected} within {}: last answer {last}. Does it follow the state (bgctl-proxy@ there)?", humantime::format_duration(*limit))]
    VerifyOther {
        url: String,
        expected: Color,
        limit: Duration,
        last: String,
    },
    #[error("requests through the proxy {url} still answered as {color} after {}, so {color} keeps running for its users. Does it follow the state (bgctl-proxy@ there)?", humantime::format_duration(*limit))]
    OtherStillOn { url: String, color: Color, limit: Duration },
    #[error("the proxy {url} did not answer for {}: it may still send users to {color}, so {color} keeps running for them. Once it answers, `bgctl reconcile` finishes the rollback", humantime::format_duration(*limit))]
    OtherUnseen { url: String, color: Color, limit: Duration },
    #[error("cannot take {path}, which keeps site changes on this host one at a time: {reason}")]
    HostLock { path: String, reason: String },
    #[error(
        "the guard is blind, so the switch is not judged passed: its log {path}: {reason}. It must be the file the site's `access_log` writes ([guard] log), and nothing may move it during a switch (logrotate: copytruncate)"
    )]
    GuardLog { path: String, reason: String },
    #[error(transparent)]
    Files(#[from] FilesError),
}

impl ProxyError {
    /// A site change that failed this way put the old file back before
    /// any reload: nginx never loaded the new one, and there is nothing to
    /// undo. (Not [`ProxyError::NotApplied`]: nginx may yet apply that
    /// reload late, so a rollback loads the old site again.)
    pub fn left_the_site_as_it_was(&self) -> bool {
        matches!(self, ProxyError::Invalid { .. } | ProxyError::Neighbour { .. })
    }
}

/// What a drain waited for, and how it ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Connections to the color open when the drain began.
    pub connections: usize,
    /// nginx workers from before the last reload still running then.
    pub workers: usize,
    /// Connections still open when it ended (0: drained).
    pub left: usize,
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

    /// The color that answers a request through nginx now (its
    /// `X-Bgctl-Color`); `None` for the 503 page, an error or no answer.
    async fn served_by(&self) -> Option<Color>;

    /// As [`Proxy::served_by`], on the preview; `None` without one.
    async fn previewed_by(&self) -> Option<Color>;

    /// What the guard's log holds for `color`, all of it (`status`).
    fn guard_counts(&self, color: Color) -> Result<Tally, ProxyError>;

    /// As [`Proxy::apply`], but a stopped nginx is no failure: the tested
    /// site waits for its start (`install`, `proxy sync`).
    async fn install(&self, site: &RenderedFile) -> Result<Installed, ProxyError>;

    /// Waits until requests through the proxy are answered by `color`.
    async fn verify(&self, color: Color, limit: Duration) -> Result<(), ProxyError>;

    /// As [`Proxy::verify`], through each of the other proxies (`[proxy]
    /// verify`), which follow the state on their own hosts.
    async fn verify_others(&self, color: Color, limit: Duration) -> Result<(), ProxyError>;

    /// Waits until none of the other proxies (`[proxy] verify`) answers
    /// with `color` any more: after a rollback, before that color stops. A
    /// proxy that does not answer at all sends nobody to it either.
    async fn others_left(&self, color: Color, limit: Duration) -> Result<(), ProxyError>;

    /// As [`Proxy::verify`], through the preview (`[proxy] preview_listen`).
    async fn verify_preview(&self, color: Color, limit: Duration) -> Result<(), ProxyError>;

    /// Whether one request through the proxy is answered by `color` now.
    async fn serves(&self, color: Color) -> bool;

    /// Waits until no request is in flight to `color`: no TCP connection to
    /// its host port is left and the workers that nginx ran before the last
    /// [`Proxy::apply`] are gone; at most `limit`, or all of it with
    /// [`DrainWait::Full`].
    async fn drain(&self, color: Color, limit: Duration, wait: DrainWait) -> Drained;

    /// Empties the guard's log before a guarded switching site writes to it.
    async fn reset_traffic(&self) -> Result<(), ProxyError>;

    /// Users' requests logged since the last call (since the reset, first),
    /// counted for `color`.
    async fn traffic(&self, color: Color) -> Result<Tally, ProxyError>;
}
