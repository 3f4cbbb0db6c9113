//! `bgctl status [--json]`: the live color from the state store, each
//! color's unit and container, and whether nginx's site matches.

use crate::config::{Backend, Config};
use crate::docker::{Docker, EngineDocker};
use crate::domain::Color;
use crate::error::Error;
use crate::files::read_if_exists;
use crate::naming;
use crate::render;
use crate::state::{EtcdStore, FileStore, StateStore};
use crate::systemd::{DbusSystemd, Systemd};

pub async fn run(config: &Config, json: bool) -> Result<(), Error> {
    let status = match config.state.backend {
        Backend::Etcd => gather(config, EtcdStore::connect(config).await?).await?,
        Backend::File => gather(config, FileStore::open(config)).await?,
    };
    if json {
        println!("{status}");
    } else {
        print!("{}", human(&status));
    }
    Ok(())
}

/// The stable JSON object of DESIGN §5.
async fn gather(config: &Config, state: impl StateStore) -> Result<serde_json::Value, Error> {
    let systemd = DbusSystemd::connect().await?;
    let docker = EngineDocker::connect(&config.docker.host).await?;
    let snapshot = state.read().await?;
    let live = snapshot.active.as_ref().map(|a| a.color);
    let mut colors = serde_json::Map::new();
    for color in Color::ALL {
        let unit = naming::instance_unit(&config.name, color, config.port(color));
        let unit_state = systemd.state(&unit).await?;
        let container = docker.inspect(&naming::instance(&config.name, color)).await?;
        colors.insert(
            color.to_string(),
            serde_json::json!({
                "port": config.port(color).get(),
                "unit": unit.as_str(),
                "active_state": unit_state.active_state.as_str(),
                "sub_state": unit_state.sub_state,
                "container": container.as_ref().map(|c| c.status.clone()),
                "health": container.and_then(|c| c.health).map(|h| h.status),
            }),
        );
    }
    let site = config.site();
    let expected = render::site(config, live)?.contents;
    let in_sync = read_if_exists(site.as_path())?.is_some_and(|now| now == expected);
    let active = snapshot.active.map(|a| {
        serde_json::json!({
            "color": a.color.as_str(),
            "port": a.port.get(),
            "image": a.image.as_ref().map(|i| i.as_str()),
            "unit": naming::instance_unit(&config.name, a.color, a.port).as_str(),
            "since": a.deployed_at,
        })
    });
    let backend = match config.state.backend {
        Backend::Etcd => "etcd",
        Backend::File => "file",
    };
    Ok(serde_json::json!({
        "service": config.name.as_str(),
        "active": active,
        "colors": colors,
        "proxy": { "site": site.as_str(), "port": config.proxy.listen.get(), "in_sync": in_sync },
        "state": { "backend": backend, "revision": snapshot.revision },
    }))
}

/// The same facts for people.
fn human(s: &serde_json::Value) -> String {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
    let mut out = match &s["active"] {
        serde_json::Value::Null => format!("{}: no color is live yet (run bgctl switch)\n", text(&s["service"])),
        a => format!(
            "{}: {} is live on port {} with {} since {}\n",
            text(&s["service"]),
            text(&a["color"]),
            a["port"],
            a["image"].as_str().unwrap_or("an image no deploy recorded"),
            text(&a["since"])
        ),
    };
    for color in Color::ALL {
        let c = &s["colors"][color.as_str()];
        let container = match (&c["container"], &c["health"]) {
            (serde_json::Value::Null, _) => "no container".to_owned(),
            (status, serde_json::Value::Null) => format!("container {}", text(status)),
            (status, health) => format!("container {}, {}", text(status), text(health)),
        };
        out += &format!(
            "  {:<6} {:<5} {} ({}), {container}\n",
            color.as_str(),
            c["port"],
            text(&c["active_state"]),
            text(&c["sub_state"])
        );
    }
    let sync = if s["proxy"]["in_sync"] == true {
        "in sync"
    } else {
        "NOT in sync with the state"
    };
    out += &format!(
        "  proxy  {} on port {}: {sync}\n",
        text(&s["proxy"]["site"]),
        s["proxy"]["port"]
    );
    out += &format!(
        "  state  {} revision {}\n",
        text(&s["state"]["backend"]),
        s["state"]["revision"]
    );
    out
}
