//! `proxy sync`: confd's job, for a proxy host. The site is rendered from
//! the state store (the live color at its stored `url`), and tested,
//! swapped and reloaded only when it differs from the file on disk. No
//! deploy lock: it only follows what a switch wrote.

use std::fmt;

use serde::Serialize;

use crate::config::Config;
use crate::domain::{Color, Upstream};
use crate::error::Error;
use crate::proxy::{Installed, Nginx, Proxy};
use crate::render::{self, RenderedFile};
use crate::state::{Snapshot, StateError, StateStore, Store};
use crate::systemd::DbusSystemd;
use crate::terminal;

pub async fn run(config: &Config, json: bool) -> Result<(), Error> {
    let (state, systemd) = tokio::try_join!(async { Ok::<_, Error>(Store::open(config).await?) }, async {
        Ok(DbusSystemd::connect().await?)
    },)?;
    let snapshot = state.read().await?;
    let (site, live) = wanted(config, &snapshot)?;
    let nginx = Nginx::new(config, &systemd);
    let changed = nginx.current().await?.as_deref() != Some(site.contents.as_str());
    let reloaded = match changed {
        true => nginx.install_site(&site).await? == Installed::Reloaded,
        false => false,
    };
    let synced = Synced {
        service: config.name.to_string(),
        revision: snapshot.revision,
        color: live.as_ref().map(|(c, _)| c.to_string()),
        upstream: live.map(|(_, at)| at.to_string()),
        site: config.site().to_string(),
        changed,
        reloaded,
    };
    terminal::say(&synced.to_string());
    if json {
        super::print_json(&synced);
    }
    Ok(())
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
