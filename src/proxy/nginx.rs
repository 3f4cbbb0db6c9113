//! [`Proxy`] for nginx: a site judged by `nginx -t` ([`config_test`](super::config_test))
//! under the [host lock](super::host_lock), swapped atomically, `ReloadUnit`
//! over D-Bus, and requests through it to see who answers. New TLS files
//! go in the same way ([`tls_install`](super::tls_install)).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::access_log::{Follower, count_all};
use super::candidate;
use super::config_test::{NGINX_TIMEOUT, test_config};
use super::host_lock::host_lock;
use super::{Drained, Proxy, ProxyError, connections, workers};
use crate::config::{Config, DrainWait};
use crate::domain::{Color, ProxyUrl};
use crate::files::{read_if_exists, remove_if_exists, write_atomic};
use crate::guard::Tally;
use crate::http_probe;
use crate::render::RenderedFile;
use crate::systemd::Systemd;

/// How long nginx may take to start the workers of a reloaded config.
const APPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// One verification request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Answers in a row from the new color before verify trusts it.
const CONSECUTIVE: u32 = 3;
/// A request to a loopback nginx takes about a millisecond: polling finely
/// costs little and ends verify soon after nginx follows.
const VERIFY_POLL: Duration = Duration::from_millis(5);
/// How long another proxy must have sent nobody to a rolled-back color:
/// longer than a watcher takes to follow a write (its 100 ms debounce, a
/// read, `nginx -t` and a reload), so one that is about to move to it is seen.
const SETTLE: Duration = Duration::from_secs(1);
/// How often the connections to a draining color are counted.
const DRAIN_POLL: Duration = Duration::from_millis(5);

pub struct Nginx<'a, S> {
    pub(super) config: &'a Config,
    pub(super) systemd: &'a S,
    /// The workers nginx ran before the last reload: the drain waits for them.
    retiring: Mutex<Vec<u32>>,
    guard_log: Mutex<Follower>,
}

impl<'a, S: Systemd> Nginx<'a, S> {
    pub fn new(config: &'a Config, systemd: &'a S) -> Self {
        Nginx {
            config,
            systemd,
            retiring: Mutex::new(Vec::new()),
            guard_log: Mutex::new(Follower::new(config.guard_log().as_path().to_owned())),
        }
    }

    /// What the guard's log holds from its start, counted for `color` (the
    /// figures `status` shows while a guarded switch runs).
    fn all_guard_counts(&self, color: Color) -> Result<Tally, ProxyError> {
        count_all(self.config.guard_log().as_path(), self.config.port(color).get()).map_err(|e| self.guard_log_error(e))
    }

    fn guard_log_error(&self, e: std::io::Error) -> ProxyError {
        ProxyError::GuardLog {
            path: self.config.guard_log().to_string(),
            reason: e.to_string(),
        }
    }

    /// Puts back what was there before (nothing, or the old text).
    fn restore(&self, site: &RenderedFile, old: Option<&str>) -> Result<(), ProxyError> {
        match old {
            Some(text) => write_atomic(site.path.as_path(), text.as_bytes())?,
            None => {
                remove_if_exists(site.path.as_path())?;
            }
        }
        Ok(())
    }

    /// One request through nginx on `port`: Ok when `color` answered it,
    /// else what did.
    async fn ask(&self, port: u16, color: Color) -> Result<(), String> {
        self.ask_at(local(port), color).await
    }

    /// As [`Nginx::ask`], through the proxy at `addr`.
    async fn ask_at(&self, addr: SocketAddr, color: Color) -> Result<(), String> {
        match self.answer(addr).await? {
            (_, answered) if answered == color => Ok(()),
            (status, answered) => Err(format!("HTTP {status} from {answered}")),
        }
    }

    /// The color that answers a request through nginx now (its
    /// `X-Bgctl-Color`); `None` for the 503 page, an error or no answer.
    async fn users_served_by(&self) -> Option<Color> {
        self.served_on(self.users_port()).await
    }

    /// Where users reach the site: the TLS port when there is one (the
    /// plain port may only redirect), else the plain one.
    fn users_port(&self) -> u16 {
        self.config.proxy.tls.listen.unwrap_or(self.config.proxy.listen).get()
    }

    /// As `users_served_by`, on the preview; `None` without one.
    async fn preview_served_by(&self) -> Option<Color> {
        self.served_on(self.config.proxy.preview_listen?.get()).await
    }

    async fn served_on(&self, port: u16) -> Option<Color> {
        self.answer(local(port)).await.ok().map(|(_, color)| color)
    }

    /// One request through the proxy at `addr`: its status and the color
    /// that answered, or what came instead.
    async fn answer(&self, addr: SocketAddr) -> Result<(u16, Color), String> {
        let r = self.request(addr).await.map_err(|e| e.to_string())?;
        let answered_by = r.header("X-Bgctl-Color").unwrap_or("nobody");
        // A 502/503/504 is nginx answering for a color that is not there.
        match answered_by.parse::<Color>() {
            Ok(color) if !(502..=504).contains(&r.status) => Ok((r.status, color)),
            _ => Err(format!("HTTP {} from {answered_by}", r.status)),
        }
    }

    /// Where the proxy at `url` sends a request now, whatever the status
    /// (nginx's own 502 for a color that is gone still names it): `None`
    /// when it could not be asked (no address, no answer), `Some(None)` for
    /// an answer from no color (the 503 page).
    async fn seen_routing(&self, url: &ProxyUrl, limit: Duration) -> Option<Option<Color>> {
        let addr = self.resolve(url, limit).await.ok()?;
        let answer = self.request(addr).await.ok()?;
        Some(answer.header("X-Bgctl-Color").and_then(|c| c.parse().ok()))
    }

    /// One GET of the health path through the proxy at `addr`.
    /// Our own TLS port is spoken to over TLS.
    async fn request(&self, addr: SocketAddr) -> std::io::Result<http_probe::Response> {
        let host = self.host_header();
        let path = self.config.health.path.as_str();
        match self.config.proxy.tls.listen {
            Some(tls) if addr == local(tls.get()) => http_probe::get_tls(addr, &host, path, REQUEST_TIMEOUT).await,
            _ => http_probe::get(addr, &host, path, REQUEST_TIMEOUT).await,
        }
    }

    /// The Host that verification requests carry: the site's first name.
    fn host_header(&self) -> String {
        let first = self.config.proxy.server_name.as_str().split(' ').next().unwrap_or("_");
        let host = if first == "_" || first.contains('*') {
            "localhost"
        } else {
            first
        };
        host.to_owned()
    }
}

/// nginx's `port` on this host.
fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// What [`Nginx::install_site`] did after the test passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    Reloaded,
    /// nginx is not running: it reads the site when it starts.
    NotRunning,
}

impl<S: Systemd> Nginx<'_, S> {
    /// As [`Proxy::apply`], but a stopped nginx is no failure: the tested
    /// site waits for its start (`install` on a host whose nginx is down).
    pub async fn install_site(&self, site: &RenderedFile) -> Result<Installed, ProxyError> {
        let _host_lock = host_lock().await?;
        let old = self.swap_tested(site).await?;
        if self.ensure_running().await.is_err() {
            return Ok(Installed::NotRunning);
        }
        self.reload(site, old.as_deref()).await?;
        Ok(Installed::Reloaded)
    }

    /// Puts `site` in place once `nginx -t` accepts it, and returns what was
    /// there; when the test fails the old file is put back. The caller holds
    /// the host lock: `nginx -t` and a reload see every site, so another
    /// service's untested site must not be there.
    async fn swap_tested(&self, site: &RenderedFile) -> Result<Option<String>, ProxyError> {
        let old = read_if_exists(site.path.as_path())?;
        match candidate::test_apart(self.config, site).await {
            Ok(Some(())) => {
                write_atomic(site.path.as_path(), site.contents.as_bytes())?;
                return Ok(old);
            }
            Err(e) => return Err(candidate::blame(self.config, site, e).await),
            Ok(None) => {}
        }
        // Tested in place: running nginx only reads it on reload, which
        // happens only after the test passed.
        write_atomic(site.path.as_path(), site.contents.as_bytes())?;
        if let Err(e) = test_config(self.config).await {
            self.restore(site, old.as_deref())?;
            return Err(candidate::blame(self.config, site, e).await);
        }
        Ok(old)
    }

    /// `ReloadUnit`; when it fails, the disk goes back to `old`, which
    /// nginx keeps serving.
    async fn reload(&self, site: &RenderedFile, old: Option<&str>) -> Result<(), ProxyError> {
        let unit = &self.config.proxy.unit;
        // Taken before the HUP: any worker that runs after it is a new one.
        let before = workers::nginx_workers(unit.as_str());
        if let Err(source) = self.systemd.reload_unit(unit, NGINX_TIMEOUT).await {
            self.restore(site, old)?;
            return Err(ProxyError::Reload {
                unit: unit.to_string(),
                source,
            });
        }
        if !workers::renewed(unit.as_str(), &before, APPLY_TIMEOUT).await {
            self.restore(site, old)?;
            // A reload nginx applies late would load the new site after
            // all: one more makes it read the old one again.
            let _ = self.systemd.reload_unit(unit, NGINX_TIMEOUT).await;
            return Err(ProxyError::NotApplied {
                unit: unit.to_string(),
                waited: APPLY_TIMEOUT,
            });
        }
        *self.retiring.lock().expect("never poisoned") = before;
        Ok(())
    }
}

impl<S: Systemd> Proxy for Nginx<'_, S> {
    async fn served_by(&self) -> Option<Color> {
        self.users_served_by().await
    }
    async fn previewed_by(&self) -> Option<Color> {
        self.preview_served_by().await
    }
    fn guard_counts(&self, color: Color) -> Result<Tally, ProxyError> {
        self.all_guard_counts(color)
    }
    async fn install(&self, site: &RenderedFile) -> Result<Installed, ProxyError> {
        self.install_site(site).await
    }

    async fn ensure_running(&self) -> Result<(), ProxyError> {
        let unit = &self.config.proxy.unit;
        let state = self.systemd.state(unit).await.map_err(|source| ProxyError::Reload {
            unit: unit.to_string(),
            source,
        })?;
        // Reloading (another service's switch) is running too.
        if state.is_active() {
            Ok(())
        } else {
            Err(ProxyError::NotRunning {
                unit: unit.to_string(),
                state: state.to_string(),
            })
        }
    }

    async fn current(&self) -> Result<Option<String>, ProxyError> {
        Ok(read_if_exists(self.config.site().as_path())?)
    }

    async fn apply(&self, site: &RenderedFile) -> Result<(), ProxyError> {
        let _host_lock = host_lock().await?;
        let old = self.swap_tested(site).await?;
        self.reload(site, old.as_deref()).await?;
        tracing::debug!(
            "nginx: {} passed nginx -t; {} reloaded",
            site.path,
            self.config.proxy.unit
        );
        Ok(())
    }

    async fn serves(&self, color: Color) -> bool {
        self.ask(self.users_port(), color).await.is_ok()
    }

    async fn drain(&self, color: Color, limit: Duration, wait: DrainWait) -> Drained {
        let port = self.config.port(color).get();
        let deadline = Instant::now() + limit;
        let retiring = std::mem::take(&mut *self.retiring.lock().expect("never poisoned"));
        let old_workers = || retiring.iter().filter(|pid| workers::is_worker(**pid)).count();
        let mut drained = Drained {
            connections: connections::in_flight(port),
            workers: old_workers(),
            left: 0,
        };
        loop {
            drained.left = connections::in_flight(port);
            let idle = drained.left == 0 && old_workers() == 0 && wait == DrainWait::Idle;
            if idle || Instant::now() >= deadline {
                tracing::debug!("proxy: {drained:?} after the drain of port {port}");
                return drained;
            }
            tokio::time::sleep(DRAIN_POLL).await;
        }
    }

    async fn reset_traffic(&self) -> Result<(), ProxyError> {
        let mut log = self.guard_log.lock().expect("never poisoned");
        log.reset().map_err(|e| self.guard_log_error(e))
    }

    async fn traffic(&self, color: Color) -> Result<Tally, ProxyError> {
        let mut log = self.guard_log.lock().expect("never poisoned");
        log.read(self.config.port(color).get())
            .map_err(|e| self.guard_log_error(e))
    }

    async fn verify(&self, color: Color, limit: Duration) -> Result<(), ProxyError> {
        self.verify_on(self.users_port(), color, limit).await
    }

    async fn verify_others(&self, color: Color, limit: Duration) -> Result<(), ProxyError> {
        let each = self
            .config
            .proxy
            .verify
            .iter()
            .map(|url| self.verify_other(url, color, limit));
        futures_util::future::try_join_all(each).await.map(drop)
    }

    async fn others_left(&self, color: Color, limit: Duration) -> Result<(), ProxyError> {
        let each = self.config.proxy.verify.iter().map(|url| async move {
            // Left only once seen answering from elsewhere: one that cannot
            // be reached from here (a partition) may still serve users.
            let deadline = Instant::now() + limit;
            let mut clear_since = None;
            loop {
                let routed = self.seen_routing(url, limit).await;
                match routed {
                    Some(seen) if seen != Some(color) => {
                        let since = *clear_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= SETTLE {
                            return Ok(());
                        }
                    }
                    _ => clear_since = None,
                }
                if Instant::now() >= deadline {
                    let (url, limit) = (url.to_string(), limit);
                    return Err(match routed {
                        None => ProxyError::OtherUnseen { url, color, limit },
                        Some(_) => ProxyError::OtherStillOn { url, color, limit },
                    });
                }
                tokio::time::sleep(VERIFY_POLL).await;
            }
        });
        futures_util::future::try_join_all(each).await.map(drop)
    }

    async fn verify_preview(&self, color: Color, limit: Duration) -> Result<(), ProxyError> {
        let Some(port) = self.config.proxy.preview_listen else {
            return Ok(());
        };
        self.verify_on(port.get(), color, limit).await
    }
}

impl<S: Systemd> Nginx<'_, S> {
    /// Waits until requests to nginx's `port` are answered by `color`, a few in a row.
    async fn verify_on(&self, port: u16, color: Color, limit: Duration) -> Result<(), ProxyError> {
        self.verify_at(local(port), color, limit)
            .await
            .map_err(|last| ProxyError::Verify {
                port,
                expected: color,
                limit,
                last,
            })
    }

    /// As [`Nginx::verify_on`], through another proxy.
    async fn verify_other(&self, url: &ProxyUrl, color: Color, limit: Duration) -> Result<(), ProxyError> {
        let failed = |last: String| ProxyError::VerifyOther {
            url: url.to_string(),
            expected: color,
            limit,
            last,
        };
        let addr = self.resolve(url, limit).await.map_err(failed)?;
        self.verify_at(addr, color, limit).await.map_err(failed)
    }

    /// The address of another proxy, looked up within `limit`.
    async fn resolve(&self, url: &ProxyUrl, limit: Duration) -> Result<SocketAddr, String> {
        let at = url.upstream().as_str();
        tokio::time::timeout(limit, tokio::net::lookup_host(at))
            .await
            .map_err(|_| format!("{at} did not resolve"))?
            .map_err(|e| format!("cannot resolve {at}: {e}"))?
            .next()
            .ok_or_else(|| format!("{at} has no address"))
    }

    /// Until `color` answers through the proxy at `addr` a few times in a
    /// row, at most `limit`; else the last answer.
    async fn verify_at(&self, addr: SocketAddr, color: Color, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let mut in_a_row = 0;
        loop {
            let answer = self.ask_at(addr, color).await;
            in_a_row = if answer.is_ok() { in_a_row + 1 } else { 0 };
            if in_a_row >= CONSECUTIVE {
                return Ok(());
            }
            if let Err(last) = answer
                && Instant::now() >= deadline
            {
                return Err(last);
            }
            tokio::time::sleep(VERIFY_POLL).await;
        }
    }
}
