//! `bgctl status [--json]`: the live color from the state store, each
//! color's unit and container, where nginx's site sends users, and any
//! drift between them. One typed report: `--json` serialises it (DESIGN §5
//! and the README), people get its Display. Every read is concurrent and
//! goes over D-Bus, the Engine API and etcd: nothing is shelled out.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

mod observe;

use observe::{Observed, Stored, observe, read_stored};

use super::drift::{Facts, drift};
use super::summary::StagedInfo;
use crate::config::Config;
use crate::docker::Container;
use crate::docker::EngineDocker;
use crate::domain::Color;
use crate::error::Error;
use crate::guard::Tally;
use crate::proxy::{Nginx, Proxy, site_target};
use crate::render;
use crate::state::{HistoryRecord, Store};
use crate::systemd::DbusSystemd;
use crate::systemd::UnitState;
use crate::terminal::{self, Paint, paint_out};
use crate::tls;

pub async fn run(config: &Config, json: bool) -> Result<(), Error> {
    let status = gather(config).await?;
    if json {
        crate::terminal::print_json(&status);
    } else {
        terminal::out(&status.to_string());
    }
    Ok(())
}

/// The stable object of DESIGN §5, with the fields the README adds.
#[derive(Debug, Serialize)]
pub struct Status {
    pub service: String,
    /// `None` before the first deploy.
    pub active: Option<ActiveStatus>,
    pub colors: BTreeMap<String, ColorStatus>,
    /// What `bgctl stage` left for `promote`; `None` when nothing is staged.
    pub staged: Option<StagedInfo>,
    pub proxy: ProxyStatus,
    pub state: StateInfo,
}

#[derive(Debug, Serialize)]
pub struct ActiveStatus {
    pub color: String,
    pub port: u16,
    /// `None` in a store seeded by the classic recipe.
    pub image: Option<String>,
    /// The id of the image the live container runs; `None` without one.
    pub image_id: Option<String>,
    /// The image's registry digest (`name@sha256:…`); `None` for an image
    /// built on this host and never pushed or pulled.
    pub digest: Option<String>,
    pub unit: String,
    pub since: String,
    /// The deploy that made it live; `None` when the history has none.
    pub deploy_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ColorStatus {
    pub port: u16,
    pub unit: String,
    pub active_state: String,
    pub sub_state: String,
    /// How often systemd restarted the unit since it was started.
    pub restarts: u32,
    /// Docker's status word; `None` when there is no container.
    pub container: Option<String>,
    /// Docker's health; `None` without a container or a HEALTHCHECK.
    pub health: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProxyStatus {
    pub site: String,
    /// The port nginx listens on for the service.
    pub port: u16,
    /// The port the site on disk sends users to; `None` for the 503 page.
    pub upstream_port: Option<u16>,
    /// The color the site on disk names.
    pub upstream_color: Option<String>,
    /// The color that answered a request through nginx just now; `None`
    /// for the 503 page or no answer.
    pub served_by: Option<String>,
    /// No drift: the site is what the state renders, nginx serves the live
    /// color, and only its unit runs.
    pub in_sync: bool,
    /// Each way the site, the state and the units disagree; empty when
    /// they agree.
    pub drift: Vec<String>,
    /// `[proxy] preview_listen`; `None` without a preview.
    pub preview_port: Option<u16>,
    /// The color that answered a request to the preview just now.
    pub preview_served_by: Option<String>,
    /// What `[guard]` has counted so far; `None` unless a guarded switch
    /// is watching now.
    pub guard: Option<GuardNow>,
    /// `[proxy.tls]`; `None` without TLS.
    pub tls: Option<TlsStatus>,
}

/// The HTTPS port and its certificate's expiry.
#[derive(Debug, Serialize)]
pub struct TlsStatus {
    pub listen: u16,
    /// RFC 3339; `None` when the certificate cannot be read (see `error`)
    /// or an ACME site has none yet.
    pub not_after: Option<String>,
    pub days_left: Option<i64>,
    pub error: Option<String>,
}

impl TlsStatus {
    pub fn of(config: &Config) -> Option<TlsStatus> {
        let listen = config.proxy.tls.listen?.get();
        let (facts, error) = match tls::configured_pair(config) {
            Ok(facts) => (facts, None),
            Err(e) => (None, Some(e.to_string())),
        };
        Some(TlsStatus {
            listen,
            not_after: facts.map(|f| f.not_after_rfc3339()),
            days_left: facts.map(|f| f.days_left(tls::unix_now())),
            error,
        })
    }
}

/// A guarded switch's counts so far, from its log.
#[derive(Debug, Serialize)]
pub struct GuardNow {
    /// The color it watches.
    pub color: String,
    pub log: String,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Serialize)]
pub struct StateInfo {
    pub backend: &'static str,
    /// etcd's endpoints, or the state file's path.
    pub endpoint: String,
    pub revision: i64,
}

async fn gather(config: &Config) -> Result<Status, Error> {
    // Two chains at once, each connecting and reading: the state store's,
    // and systemd's with dockerd's (and nginx through that D-Bus). Neither
    // waits for the other's handshakes.
    let (stored, observed) = tokio::try_join!(
        async {
            let state = Store::open(config).await?;
            let at = (state.backend(), state.location());
            Ok::<_, Error>((at, read_stored(&state).await?))
        },
        async {
            let (systemd, docker) = tokio::try_join!(async { Ok::<_, Error>(DbusSystemd::connect().await?) }, async {
                Ok(EngineDocker::connect(&config.docker.host).await?)
            },)?;
            observe(config, &systemd, &docker, &Nginx::new(config, &systemd)).await
        },
    )?;
    let (at, stored) = stored;
    assemble(config, at, stored, observed)
}

/// The report from what the store holds and what the host shows.
fn assemble(
    config: &Config,
    at: (&'static str, String),
    (snapshot, history): Stored,
    observed: Observed,
) -> Result<Status, Error> {
    let Observed {
        blue,
        green,
        site_text,
        served_by,
        previewed_by,
        guard,
    } = observed;
    let live = snapshot.active.as_ref().map(|a| a.color);
    let (live_container, digest) = match live {
        Some(Color::Blue) => (blue.1.clone(), blue.2.clone()),
        Some(Color::Green) => (green.1.clone(), green.2.clone()),
        None => (None, None),
    };
    let (blue, green) = ((blue.0, blue.1), (green.0, green.1));
    let expected = render::site(config, live)?.contents;
    let target = site_target(site_text.as_deref().unwrap_or(""));
    let units = [(Color::Blue, &blue.0), (Color::Green, &green.0)];
    let facts = Facts {
        site: config.site().to_string(),
        site_exists: site_text.is_some(),
        site_matches: site_text.as_deref() == Some(expected.as_str()),
        site_port: target.port,
        live: snapshot.active.as_ref().map(|a| (a.color, a.port.get())),
        staged: snapshot.staged.as_ref().map(|s| s.color),
        served_by,
        listen: config.proxy.listen.get(),
        units: units.map(|(c, u)| (c, u.is_up(), u.active_state.to_string())),
    };
    let drift = drift(&facts);
    let colors = [(Color::Blue, blue), (Color::Green, green)]
        .into_iter()
        .map(|(c, (unit, container))| (c.to_string(), color_status(config, c, &unit, container.as_ref())))
        .collect();
    Ok(Status {
        service: config.name.to_string(),
        active: snapshot.active.map(|a| ActiveStatus {
            deploy_id: made_live(&history, a.color),
            color: a.color.to_string(),
            port: a.port.get(),
            image: a.image.map(|i| i.to_string()),
            image_id: live_container.map(|c| c.image_id).filter(|id| !id.is_empty()),
            digest,
            unit: crate::naming::instance_unit(&config.name, a.color, a.port).to_string(),
            since: a.deployed_at,
        }),
        colors,
        staged: snapshot.staged.as_ref().map(StagedInfo::from),
        proxy: ProxyStatus {
            site: config.site().to_string(),
            port: config.proxy.listen.get(),
            upstream_port: target.port,
            upstream_color: target.color.map(|c| c.to_string()),
            served_by: served_by.map(|c| c.to_string()),
            in_sync: drift.is_empty(),
            drift,
            preview_port: config.proxy.preview_listen.map(|p| p.get()),
            preview_served_by: previewed_by.map(|c| c.to_string()),
            guard,
            tls: TlsStatus::of(config),
        },
        state: StateInfo {
            backend: at.0,
            endpoint: at.1,
            revision: snapshot.revision,
        },
    })
}

/// The guard's counts, while the site on disk is a guarded switch's.
fn guard_now(config: &Config, nginx: &impl Proxy, site: Option<&str>) -> Option<GuardNow> {
    let site = site.filter(|s| render::site_is_guarded(s))?;
    let color = render::site_color(site)?;
    let tally = nginx.guard_counts(color).ok()?;
    Some(GuardNow {
        color: color.to_string(),
        log: config.guard_log().to_string(),
        tally,
    })
}

fn color_status(config: &Config, color: Color, unit: &UnitState, container: Option<&Container>) -> ColorStatus {
    ColorStatus {
        port: config.port(color).get(),
        unit: config.unit(color).to_string(),
        active_state: unit.active_state.to_string(),
        sub_state: unit.sub_state.clone(),
        restarts: unit.n_restarts,
        container: container.map(|c| c.status.clone()),
        health: container.and_then(|c| c.health.as_ref()).map(|h| h.status.clone()),
    }
}

/// The newest good deploy to `color`: the one that made it live.
fn made_live(history: &[HistoryRecord], color: Color) -> Option<String> {
    history
        .iter()
        .rev()
        .find(|r| r.made_live() && r.to == color.as_str())
        .map(|r| r.id.clone())
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = paint_out(Paint::Bold, &self.service);
        match &self.active {
            None => writeln!(f, "{name}: no color is live yet (run bgctl switch)")?,
            Some(a) => {
                writeln!(f, "{name}: {} is live on port {} since {}", a.color, a.port, a.since)?;
                let image = a.image.as_deref().unwrap_or("an image no deploy recorded");
                let id = a.image_id.as_deref().map_or("no container".to_owned(), short_id);
                let digest = a.digest.as_deref().unwrap_or("no registry digest");
                writeln!(f, "  image   {image} ({id}, {digest})")?;
                writeln!(
                    f,
                    "  deploy  {}",
                    a.deploy_id.as_deref().unwrap_or("not in the history")
                )?;
            }
        }
        for color in Color::ALL {
            if let Some(c) = self.colors.get(color.as_str()) {
                writeln!(f, "  {}", ColorLine(color, c))?;
            }
        }
        if let Some(s) = &self.staged {
            writeln!(
                f,
                "  staged  {} with {} since {} (deploy {}): bgctl promote, or bgctl discard",
                s.color, s.image, s.since, s.deploy_id
            )?;
        }
        let p = &self.proxy;
        let routes = match (p.upstream_port, &p.upstream_color) {
            (Some(port), Some(color)) => format!("{port} ({color})"),
            (Some(port), None) => port.to_string(),
            (None, _) => "the 503 page".to_owned(),
        };
        let sync = if p.drift.is_empty() {
            paint_out(Paint::Good, "in sync")
        } else {
            paint_out(Paint::Bad, "DRIFT")
        };
        let served = p.served_by.as_deref().unwrap_or("no color");
        writeln!(
            f,
            "  proxy   :{} -> {routes}, answered by {served}  {}  {sync}",
            p.port, p.site
        )?;
        if let Some(port) = p.preview_port {
            let by = p.preview_served_by.as_deref().unwrap_or("no color");
            writeln!(f, "  preview :{port}, answered by {by}")?;
        }
        if let Some(t) = &p.tls {
            let cert = match (&t.not_after, t.days_left, &t.error) {
                (_, _, Some(e)) => paint_out(Paint::Bad, e),
                (Some(at), Some(days), None) => format!("certificate valid until {at} ({days} days left)"),
                _ => "no certificate yet: bgctl tls renew obtains one".to_owned(),
            };
            writeln!(f, "  tls     :{} {cert}", t.listen)?;
        }
        if let Some(g) = &p.guard {
            writeln!(f, "  guard   watching {}: {} ({})", g.color, g.tally, g.log)?;
        }
        for line in &p.drift {
            writeln!(f, "  {} {line}", paint_out(Paint::Bad, "drift:"))?;
        }
        let s = &self.state;
        writeln!(f, "  state   {} {} revision {}", s.backend, s.endpoint, s.revision)
    }
}

/// `blue    9001  active (running)  container running, healthy, 0 restarts`.
struct ColorLine<'a>(Color, &'a ColorStatus);

impl fmt::Display for ColorLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ColorLine(color, c) = self;
        let unit = format!("{} ({})", c.active_state, c.sub_state);
        let container = match (&c.container, &c.health) {
            (None, _) => "no container".to_owned(),
            (Some(status), None) => format!("container {status}"),
            (Some(status), Some(health)) => format!("container {status}, {health}"),
        };
        write!(
            f,
            "{:<7} {:<5}  {unit:<20} {container}, {} restarts",
            color.as_str(),
            c.port,
            c.restarts
        )
    }
}

/// `sha256:0123456789ab`: as much of an image id as people compare.
fn short_id(id: &str) -> String {
    id.chars().take(19).collect()
}

#[cfg(test)]
mod tests;
