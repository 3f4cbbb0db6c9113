//! `bgctl status [--json]`: the live color from the state store, each
//! color's unit and container, and whether nginx's site matches. One typed
//! report: `--json` serialises it (DESIGN §5), people get its Display.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::config::Config;
use crate::docker::{Docker, EngineDocker};
use crate::domain::Color;
use crate::error::Error;
use crate::files::read_if_exists;
use crate::render;
use crate::state::{StateStore, Store};
use crate::systemd::{DbusSystemd, Systemd};

pub async fn run(config: &Config, json: bool) -> Result<(), Error> {
    let status = gather(config).await?;
    if json {
        super::print_json(&status);
    } else {
        print!("{status}");
    }
    Ok(())
}

/// The stable object of DESIGN §5.
#[derive(Debug, Serialize)]
pub struct Status {
    pub service: String,
    /// `None` before the first deploy.
    pub active: Option<ActiveStatus>,
    pub colors: BTreeMap<String, ColorStatus>,
    pub proxy: ProxyStatus,
    pub state: StateInfo,
}

#[derive(Debug, Serialize)]
pub struct ActiveStatus {
    pub color: String,
    pub port: u16,
    /// `None` in a store seeded by the classic recipe.
    pub image: Option<String>,
    pub unit: String,
    pub since: String,
}

#[derive(Debug, Serialize)]
pub struct ColorStatus {
    pub port: u16,
    pub unit: String,
    pub active_state: String,
    pub sub_state: String,
    /// Docker's status word; `None` when there is no container.
    pub container: Option<String>,
    /// Docker's health; `None` without a container or a HEALTHCHECK.
    pub health: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProxyStatus {
    pub site: String,
    pub port: u16,
    pub in_sync: bool,
}

#[derive(Debug, Serialize)]
pub struct StateInfo {
    pub backend: &'static str,
    pub revision: i64,
}

async fn gather(config: &Config) -> Result<Status, Error> {
    let state = Store::open(config).await?;
    let systemd = DbusSystemd::connect().await?;
    let docker = EngineDocker::connect(&config.docker.host).await?;
    let snapshot = state.read().await?;
    let live = snapshot.active.as_ref().map(|a| a.color);
    let mut colors = BTreeMap::new();
    for color in Color::ALL {
        let unit = config.unit(color);
        let unit_state = systemd.state(&unit).await?;
        let container = docker.inspect(&config.container(color)).await?;
        let status = ColorStatus {
            port: config.port(color).get(),
            unit: unit.to_string(),
            active_state: unit_state.active_state.to_string(),
            sub_state: unit_state.sub_state,
            container: container.as_ref().map(|c| c.status.clone()),
            health: container.and_then(|c| c.health).map(|h| h.status),
        };
        colors.insert(color.to_string(), status);
    }
    let site = config.site();
    let expected = render::site(config, live)?.contents;
    let in_sync = read_if_exists(site.as_path())?.is_some_and(|now| now == expected);
    Ok(Status {
        service: config.name.to_string(),
        active: snapshot.active.map(|a| ActiveStatus {
            color: a.color.to_string(),
            port: a.port.get(),
            image: a.image.map(|i| i.to_string()),
            unit: crate::naming::instance_unit(&config.name, a.color, a.port).to_string(),
            since: a.deployed_at,
        }),
        colors,
        proxy: ProxyStatus {
            site: site.to_string(),
            port: config.proxy.listen.get(),
            in_sync,
        },
        state: StateInfo {
            backend: state.backend(),
            revision: snapshot.revision,
        },
    })
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.active {
            None => writeln!(f, "{}: no color is live yet (run bgctl switch)", self.service)?,
            Some(a) => writeln!(
                f,
                "{}: {} is live on port {} with {} since {}",
                self.service,
                a.color,
                a.port,
                a.image.as_deref().unwrap_or("an image no deploy recorded"),
                a.since
            )?,
        }
        for color in Color::ALL {
            let Some(c) = self.colors.get(color.as_str()) else {
                continue;
            };
            let container = match (&c.container, &c.health) {
                (None, _) => "no container".to_owned(),
                (Some(status), None) => format!("container {status}"),
                (Some(status), Some(health)) => format!("container {status}, {health}"),
            };
            writeln!(
                f,
                "  {:<6} {:<5} {} ({}), {container}",
                color.as_str(),
                c.port,
                c.active_state,
                c.sub_state
            )?;
        }
        let sync = if self.proxy.in_sync {
            "in sync"
        } else {
            "NOT in sync with the state"
        };
        writeln!(f, "  proxy  {} on port {}: {sync}", self.proxy.site, self.proxy.port)?;
        writeln!(f, "  state  {} revision {}", self.state.backend, self.state.revision)
    }
}
