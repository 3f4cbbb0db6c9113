//! What the commands that change what is live share: the real boundaries,
//! the request with its lock holder, and progress on stderr.

use std::time::Duration;

use crate::config::Config;
use crate::docker::EngineDocker;
use crate::domain::ImageRef;
use crate::error::Error;
use crate::health::HttpProbe;
use crate::proxy::Nginx;
use crate::state::{Holder, StateStore, Store, Wait};
use crate::switch::{Goal, Phase, Report, Request, World, now_rfc3339};
use crate::systemd::DbusSystemd;

/// The real boundaries, connected (the proxy is built on `systemd`).
pub struct Boundaries {
    pub state: Store,
    pub systemd: DbusSystemd,
    pub docker: EngineDocker,
    pub probe: HttpProbe,
}

impl Boundaries {
    /// Reaches the state store, systemd and dockerd, in that order; any that
    /// does not answer fails the command before anything is touched.
    pub async fn connect(config: &Config) -> Result<Boundaries, Error> {
        Ok(Boundaries {
            state: Store::open(config).await?,
            systemd: DbusSystemd::connect().await?,
            docker: EngineDocker::connect(&config.docker.host).await?,
            probe: HttpProbe {
                ip: config.upstream_ip(),
            },
        })
    }
}

/// The world a switch or reconcile runs in, on the real boundaries.
pub type RealWorld<'a> = World<'a, DbusSystemd, EngineDocker, Store, Nginx<'a, DbusSystemd>, HttpProbe>;

impl Boundaries {
    /// Runs `job` in the world of these boundaries (nginx driven by this systemd).
    pub async fn with_world<T>(&mut self, config: &Config, job: impl AsyncFnOnce(RealWorld<'_>) -> T) -> T {
        let proxy = Nginx::new(config, &self.systemd);
        let world = World {
            config,
            systemd: &self.systemd,
            docker: &self.docker,
            state: &mut self.state,
            proxy: &proxy,
            probe: &self.probe,
        };
        job(world).await
    }
}

/// A request with a fresh deploy id; `verb` names it in the lock holder.
pub fn request(verb: &str, goal: Goal, image: Option<ImageRef>, wait: Wait) -> Request {
    let holder = holder(verb);
    Request {
        goal,
        image,
        wait,
        deploy_id: holder.deploy_id.clone(),
        holder,
    }
}

/// Runs `job` under the deploy lock, taken without waiting (held: exit 4,
/// nothing done), and gives the lock back.
pub async fn under_lock<T>(
    state: &mut Store,
    verb: &str,
    job: impl AsyncFnOnce(&Store) -> Result<T, Error>,
) -> Result<T, Error> {
    state.lock(&holder(verb), Wait::No).await?;
    let result = job(state).await;
    if let Err(e) = state.unlock().await {
        eprintln!("{verb}: could not give the lock back ({e}); its lease frees it within 15 s");
    }
    result
}

/// This process as the lock holder for `verb`, with a fresh deploy id.
pub fn holder(verb: &str) -> Holder {
    Holder::this_process(verb, &deploy_id(), &now_rfc3339())
}

/// A deploy's id: time and pid, unique enough to find it in the journal.
fn deploy_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:x}-{:x}", now.as_millis(), std::process::id())
}

pub fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// Progress for people: a line per phase, on stderr.
pub struct Progress;

impl Report for Progress {
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
/// waits to be killed; `<phase>:pause=<ms>` prints `fault: pausing after
/// <phase>` and goes on after that long (a window for a test to act in).
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
    match action.split_once('=') {
        None if action == "crash" => std::process::abort(),
        None if action == "hang" => {
            eprintln!("fault: hanging after {phase}");
            loop {
                std::thread::park();
            }
        }
        Some(("pause", ms)) => {
            eprintln!("fault: pausing after {phase}");
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(1000)));
        }
        _ => {}
    }
}

#[cfg(not(feature = "fault-injection"))]
fn fault_point(_: Phase) {}
