//! `proxy sync`: confd's job, for a proxy host. The site is rendered from
//! the state store (the live color at its stored `url`), and tested,
//! swapped and reloaded only when it differs from the file on disk, and
//! done only once requests through nginx answer from the live color. No
//! deploy lock: it only follows what a switch wrote. `--watch` does it
//! again on every change in etcd and every `--recheck`, as a `Type=notify`
//! service (`bgctl-proxy@.service`).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::domain::{Color, Upstream};
use crate::error::Error;
use crate::proxy::{Installed, Nginx, Proxy};
use crate::render::{self, RenderedFile};
use crate::state::{Snapshot, StateError, StateStore, Store};
use crate::systemd::{DbusSystemd, Notifier};
use crate::terminal;

/// A burst of writes (a flip, then the deploy's history record) is read once.
const DEBOUNCE: Duration = Duration::from_millis(100);
/// After a watch broke, the next member is tried this soon, then less
/// often while none answers (up to `RETRY_MAX`).
const RETRY: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// After a failed sync: the next try, one more of these per failure in a
/// row, up to the re-check. The change it missed may be the last for a
/// while, and a switch verifies within 10 s.
const RESYNC: Duration = Duration::from_secs(1);
/// How long nginx may take to serve a site it reloaded (the reload is
/// asynchronous: old workers answer a moment longer).
const SERVED_WITHIN: Duration = Duration::from_secs(10);

/// Once: the site as the state says, now.
pub async fn run(config: &Config, json: bool) -> Result<(), Error> {
    let (state, systemd) = connect(config).await?;
    let synced = sync(config, &state, &Nginx::new(config, &systemd)).await?;
    terminal::say(&synced.to_string());
    if json {
        crate::terminal::print_json(&synced);
    }
    Ok(())
}

/// For ever: a sync at start, on every change under the service's prefix
/// (the watch resumes from the last revision it saw, so a broken
/// connection or a compaction misses nothing) and every `recheck` (a site
/// edited by hand). A failed sync keeps the last good site and is said in
/// the journal and `STATUS=`.
pub async fn watch(config: &Config, recheck: Duration) -> Result<(), Error> {
    let (state, systemd) = connect(config).await?;
    let nginx = Nginx::new(config, &systemd);
    let notifier = Notifier::from_env();
    let (mut after, mut ready, mut failures) = (0, false, 0);
    loop {
        let status = match sync(config, &state, &nginx).await {
            Ok(synced) => {
                failures = 0;
                after = after.max(synced.revision);
                if synced.changed || !ready {
                    terminal::say(&synced.to_string());
                    tracing::info!("{synced}");
                }
                synced.to_string()
            }
            Err(e) => {
                failures += 1;
                let said = format!("proxy sync {}: {e}; the last good site stays", config.name);
                tracing::error!("{said}");
                terminal::say(&said);
                said
            }
        };
        if ready {
            notifier.status(&status);
        } else {
            notifier.ready(&status);
            ready = true;
        }
        let next = match failures {
            0 => recheck,
            n => (RESYNC * n).min(recheck),
        };
        after = wait(&state, &notifier, after, next).await;
    }
}

/// Until the state may have changed after `after`, or `recheck` passed;
/// the watchdog hears from us meanwhile. Returns the revision to resume from.
async fn wait(state: &Store, notifier: &Notifier, after: i64, recheck: Duration) -> i64 {
    let due = tokio::time::Instant::now() + recheck;
    let mut retry = RETRY;
    loop {
        notifier.alive();
        let left = due.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return after;
        }
        let look = notifier.alive_every().map_or(left, |every| every.min(left));
        match state.wait_change(after, look).await {
            Ok(Some(revision)) => {
                tokio::time::sleep(DEBOUNCE).await;
                return after.max(revision);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("proxy sync: {e}; watching again in {retry:?}");
                tokio::time::sleep(retry).await;
                retry = (retry * 4).min(RETRY_MAX);
            }
        }
    }
}

async fn connect(config: &Config) -> Result<(Store, DbusSystemd), Error> {
    tokio::try_join!(async { Ok::<_, Error>(Store::open(config).await?) }, async {
        Ok(DbusSystemd::connect().await?)
    },)
}

/// One sync: the site the state asks for, put in place if it differs.
async fn sync(config: &Config, state: &impl StateStore, proxy: &impl Proxy) -> Result<Synced, Error> {
    let snapshot = state.read().await?;
    let (site, live) = wanted(config, &snapshot)?;
    let changed = proxy.current().await?.as_deref() != Some(site.contents.as_str());
    let reloaded = changed && proxy.install(&site).await? == Installed::Reloaded;
    // Applied means served: requests through nginx answer from the live color.
    if let (true, Some((color, _))) = (reloaded, &live) {
        proxy.verify(*color, SERVED_WITHIN).await?;
    }
    Ok(Synced {
        service: config.name.to_string(),
        revision: snapshot.revision,
        color: live.as_ref().map(|(c, _)| c.to_string()),
        upstream: live.map(|(_, at)| at.to_string()),
        site: config.site().to_string(),
        changed,
        reloaded,
    })
}

/// The site the stored state asks for, and where it sends users.
fn wanted(config: &Config, snapshot: &Snapshot) -> Result<(RenderedFile, Option<(Color, Upstream)>), Error> {
    let Some(active) = &snapshot.active else {
        return Ok((render::site(config, None)?, None));
    };
    // Another host wrote it: checked before it goes into nginx's config.
    let at = Upstream::parse(&active.url).map_err(|e| StateError::Corrupt {
        key: format!("{}/url", config.prefix()),
        value: active.url.clone(),
        reason: e.reason,
    })?;
    Ok((render::site_at(config, active.color, &at)?, Some((active.color, at))))
}

/// What one sync did (`proxy sync --json`).
#[derive(Debug, Serialize)]
pub struct Synced {
    pub service: String,
    /// The state's revision the site was rendered from.
    pub revision: i64,
    /// The live color, and where the site sends users; `None` before the
    /// first deploy (the 503 site).
    pub color: Option<String>,
    pub upstream: Option<String>,
    pub site: String,
    /// The site on disk differed and was replaced.
    pub changed: bool,
    /// nginx was reloaded (a stopped nginx reads the new site when it starts).
    pub reloaded: bool,
}

impl fmt::Display for Synced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let to = match (&self.color, &self.upstream) {
            (Some(color), Some(at)) => format!("{color} at {at}"),
            _ => "the 503 page (no color is live)".into(),
        };
        let what = match (self.changed, self.reloaded) {
            (false, _) => "in sync, nothing to do",
            (true, true) => "site rewritten, nginx reloaded",
            (true, false) => "site rewritten; nginx is not running and reads it when it starts",
        };
        write!(
            f,
            "proxy sync {}: {what}: {} sends users to {to} (state revision {})",
            self.service, self.site, self.revision
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeProxy, FakeState, Log};
    use crate::state::Active;

    fn config() -> Config {
        Config::parse("name = \"web\"\nimage = \"app:v1\"\n[proxy]\nsite = \"/nonexistent/web.conf\"\n").unwrap()
    }

    fn live_at(config: &Config, url: &str) -> Active {
        Active {
            color: Color::Green,
            port: config.port(Color::Green),
            image: Some("app:v2".parse().unwrap()),
            url: url.into(),
            deployed_at: "2026-12-07T00:00:00Z".into(),
            previous: Some(Color::Blue),
        }
    }

    #[tokio::test]
    async fn a_sync_writes_the_site_the_state_asks_for_once_and_confirms_it() {
        let config = config();
        let log = Log::default();
        let state = FakeState::with(&log, Some(live_at(&config, "10.0.0.5:9002")));
        let proxy = FakeProxy::serving(&log, Some(render::site(&config, Some(Color::Blue)).unwrap().contents));
        let synced = sync(&config, &state, &proxy).await.unwrap();
        assert!(synced.changed && synced.reloaded, "{synced}");
        assert_eq!(synced.upstream.as_deref(), Some("10.0.0.5:9002"));
        assert!(proxy.site.borrow().as_deref().unwrap().contains("server 10.0.0.5:9002"));
        // Confirmed through the proxy before it says applied.
        assert!(
            log.position("site green") < log.position("verify green"),
            "{:?}",
            log.0.borrow()
        );
        let again = sync(&config, &state, &proxy).await.unwrap();
        assert!(!again.changed && !again.reloaded, "{again}");
        assert_eq!(log.0.borrow().iter().filter(|e| e.starts_with("site ")).count(), 1);
    }

    #[tokio::test]
    async fn a_url_that_would_inject_into_the_site_is_refused_and_nothing_changes() {
        let config = config();
        let log = Log::default();
        let hostile = live_at(&config, "10.0.0.5:9002; include /etc/shadow");
        let state = FakeState::with(&log, Some(hostile));
        let proxy = FakeProxy::serving(&log, None);
        let err = sync(&config, &state, &proxy).await.unwrap_err();
        assert!(err.to_string().contains("/web/url"), "{err}");
        assert!(proxy.site.borrow().is_none());
        assert!(!log.0.borrow().iter().any(|e| e.starts_with("site ")));
    }
}
