//! `bgctl switch [--to COLOR] [--image REF] [--wait]`: the real boundaries
//! wired to the switch state machine, progress on stderr.

use std::time::Duration;

use crate::config::{Backend, Config};
use crate::docker::EngineDocker;
use crate::domain::{Color, ImageRef};
use crate::error::Error;
use crate::health::HttpProbe;
use crate::proxy::Nginx;
use crate::state::{EtcdStore, FileStore, StateStore};
use crate::switch::{Outcome, Phase, Report, Request, World, now_rfc3339, switch};
use crate::systemd::DbusSystemd;

pub struct Args {
    pub to: Option<Color>,
    pub image: Option<ImageRef>,
    pub wait: bool,
    pub json: bool,
}

pub async fn run(config: &Config, args: Args) -> Result<(), Error> {
    match config.state.backend {
        Backend::Etcd => deploy(config, args, EtcdStore::connect(config).await?).await,
        Backend::File => deploy(config, args, FileStore::open(config)).await,
    }
}

async fn deploy(config: &Config, args: Args, mut state: impl StateStore) -> Result<(), Error> {
    let systemd = DbusSystemd::connect().await?;
    let docker = EngineDocker::connect(&config.docker.host).await?;
    let proxy = Nginx::new(config, &systemd);
    let probe = HttpProbe {
        ip: config.upstream_ip(),
    };

    let deploy_id = deploy_id();
    let request = Request {
        to: args.to,
        image: args.image,
        wait: args.wait,
        holder: format!(
            "deploy {deploy_id} (pid {}) since {}",
            std::process::id(),
            now_rfc3339()
        ),
        deploy_id: deploy_id.clone(),
    };
    eprintln!("switch {}: deploy {deploy_id}", config.name);
    let world = World {
        config,
        systemd: &systemd,
        docker: &docker,
        state: &mut state,
        proxy: &proxy,
        probe: &probe,
    };
    let outcome = switch(world, &request, &mut Stderr).await?;
    let total: Duration = outcome.phases.iter().map(|(_, d)| *d).sum();
    let from = outcome.from.map_or("nothing".into(), |c| c.to_string());
    eprintln!(
        "switch {}: {} is live with {} (was {from}), in {}",
        config.name,
        outcome.to,
        outcome.image,
        millis(total)
    );
    if args.json {
        println!("{}", outcome_json(&deploy_id, &outcome));
    }
    Ok(())
}

/// A deploy's id: time and pid, unique enough to find it in the journal.
fn deploy_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:x}-{:x}", now.as_millis(), std::process::id())
}

fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn outcome_json(deploy_id: &str, outcome: &Outcome) -> serde_json::Value {
    let phases: serde_json::Map<String, serde_json::Value> = outcome
        .phases
        .iter()
        .map(|(p, d)| (p.to_string(), serde_json::json!(d.as_millis() as u64)))
        .collect();
    serde_json::json!({
        "deploy_id": deploy_id,
        "from": outcome.from.map(|c| c.to_string()),
        "to": outcome.to.to_string(),
        "image": outcome.image.to_string(),
        "phases_ms": phases,
    })
}

/// Progress for people: a line per phase, on stderr.
struct Stderr;

impl Report for Stderr {
    fn phase(&mut self, phase: Phase, took: Duration) {
        eprintln!("  {phase:<8} {:>8}", millis(took));
    }

    fn note(&mut self, text: &str) {
        eprintln!("  note: {text}");
    }
}
