//! The host lock: every bgctl on the host changes nginx's files one at a
//! time, since `nginx -t` and a reload see every site.

use std::time::Duration;

use super::ProxyError;
use super::config_test::NGINX_TIMEOUT;

/// Serialises site changes of every bgctl on the host.
const HOST_LOCK: &str = "/run/lock/bgctl-nginx.lock";
/// How often a held host lock is tried again.
const HOST_LOCK_POLL: Duration = Duration::from_millis(20);

/// Held while a site is swapped, tested and reloaded; freed when dropped
/// (or when the process dies).
pub(super) async fn host_lock() -> Result<std::fs::File, ProxyError> {
    let failed = |e: std::io::Error| ProxyError::HostLock {
        path: HOST_LOCK.into(),
        reason: e.to_string(),
    };
    if let Some(dir) = std::path::Path::new(HOST_LOCK).parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(HOST_LOCK)
        .map_err(failed)?;
    // Tried without blocking, every few ms: a blocking flock would need a
    // thread that stays blocked past the timeout and keeps bgctl from exiting.
    let wait = wait();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(HOST_LOCK_POLL).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(failed(std::io::Error::other(format!(
                    "held by another bgctl for over {}",
                    humantime::format_duration(wait)
                ))));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
        }
    }
}

/// How long a held host lock is waited for. A test build may shorten it
/// (`BGCTL_HOST_LOCK_WAIT_MS`), so the test of the timeout need not sit
/// through the real one.
fn wait() -> Duration {
    #[cfg(feature = "fault-injection")]
    if let Some(ms) = std::env::var("BGCTL_HOST_LOCK_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return Duration::from_millis(ms);
    }
    NGINX_TIMEOUT
}
