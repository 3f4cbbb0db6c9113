//! `switch`, `rollback` and `reconcile`: the commands that change what is
//! live. They share the real boundaries, the lock and the progress output.

use std::time::Duration;

use crate::config::{Backend, Config};
use crate::docker::EngineDocker;
use crate::domain::{Color, ImageRef};
use crate::error::Error;
use crate::health::HttpProbe;
use crate::proxy::Nginx;
use crate::state::{EtcdStore, FileStore, StateStore, Wait};
use crate::switch::{Outcome, Phase, Report, Request, SwitchError, World, now_rfc3339, reconcile, switch};
use crate::systemd::DbusSystemd;

/// reconcile waits this long for the lock: a dead holder's lease expires in ~15 s.
const RECONCILE_WAIT: Duration = Duration::from_secs(30);

pub enum Job {
    Switch {
        to: Option<Color>,
        image: Option<ImageRef>,
        wait: bool,
    },
    Rollback {
        wait: bool,
    },
    Reconcile,
}

pub async fn run(config: &Config, job: Job, json: bool) -> Result<(), Error> {
    match config.state.backend {
        Backend::Etcd => with_store(config, job, json, EtcdStore::connect(config).await?).await,
        Backend::File => with_store(config, job, json, FileStore::open(config)).await,
    }
}

async fn with_store(config: &Config, job: Job, json: bool, mut state: impl StateStore) -> Result<(), Error> {
    let systemd = DbusSystemd::connect().await?;
    let docker = EngineDocker::connect(&config.docker.host).await?;
    let proxy = Nginx::new(config, &systemd);
    let probe = HttpProbe {
        ip: config.upstream_ip(),
    };

    let wait = |wait: bool| if wait { Wait::Forever } else { Wait::No };
    let (verb, to, image, wait) = match job {
        Job::Switch { to, image, wait: w } => ("switch", to, image, wait(w)),
        Job::Rollback { wait: w } => {
            // The switch re-reads under the lock; a change in between makes it refuse.
            let snapshot = state.read().await?;
            let previous = snapshot
                .active
                .and_then(|a| a.previous)
                .ok_or(SwitchError::NothingToRollBack)?;
            // The image `previous` last served with: the newest good deploy to
            // it (its image key may name a release that was rolled back).
            let history = state.history().await?;
            let served = history
                .iter()
                .rev()
                .find(|r| r.result == "ok" && r.to == previous.as_str());
            let image = match served {
                Some(record) => record.image.parse().ok(),
                None => snapshot.images.get(&previous).cloned(),
            };
            let image = image.ok_or(SwitchError::NothingToRollBack)?;
            ("rollback", Some(previous), Some(image), wait(w))
        }
        Job::Reconcile => ("reconcile", None, None, Wait::Upto(RECONCILE_WAIT)),
    };
    let deploy_id = deploy_id();
    let request = Request {
        to,
        image,
        wait,
        holder: format!(
            "{verb} {deploy_id} (pid {}) since {}",
            std::process::id(),
            now_rfc3339()
        ),
        deploy_id: deploy_id.clone(),
    };
    eprintln!("{verb} {}: deploy {deploy_id}", config.name);
    let world = World {
        config,
        systemd: &systemd,
        docker: &docker,
        state: &mut state,
        proxy: &proxy,
        probe: &probe,
    };
    if verb == "reconcile" {
        let actions = reconcile(world, &request, &mut Stderr).await?;
        if actions.is_empty() {
            eprintln!("reconcile {}: in sync, nothing to do", config.name);
        }
        for action in &actions {
            eprintln!("reconcile {}: {action}", config.name);
        }
        if json {
            println!("{}", serde_json::json!({ "deploy_id": deploy_id, "actions": actions }));
        }
        return Ok(());
    }
    let outcome = switch(world, &request, &mut Stderr).await?;
    let total: Duration = outcome.phases.iter().map(|(_, d)| *d).sum();
    let from = outcome.from.map_or("nothing".into(), |c| c.to_string());
    eprintln!(
        "{verb} {}: {} is live with {} (was {from}), in {}",
        config.name,
        outcome.to,
        outcome.image,
        millis(total)
    );
    if json {
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
        fault_point(phase);
    }

    fn note(&mut self, text: &str) {
        eprintln!("  note: {text}");
    }
}

/// Test-only crash points (cargo feature `fault-injection`):
/// `BGCTL_FAULT=<phase>:crash` aborts right after that phase (no cleanup,
/// as kill -9); `<phase>:hang` prints `fault: hanging after <phase>` and
/// waits to be killed.
#[cfg(feature = "fault-injection")]
fn fault_point(phase: Phase) {
    let Ok(fault) = std::env::var("BGCTL_FAULT") else {
        return;
    };
    let Some((at, action)) = fault.split_once(':') else {
        return;
    };
    if at != phase.as_str() {
        return;
    }
    match action {
        "crash" => std::process::abort(),
        "hang" => {
            eprintln!("fault: hanging after {phase}");
            loop {
                std::thread::park();
            }
        }
        _ => {}
    }
}

#[cfg(not(feature = "fault-injection"))]
fn fault_point(_: Phase) {}
