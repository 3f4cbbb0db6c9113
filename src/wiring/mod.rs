//! The one place the real boundaries are connected and handed to the
//! core: [`RealHost`], the journaled run of a switch-core command, the
//! request with its lock holder and its signal listener ([`signals`]), and
//! the lock for the commands that take it themselves.

mod signals;

use std::time::Instant;

use tracing::{Instrument, Span};

use crate::config::Config;
use crate::docker::EngineDocker;
use crate::domain::ImageRef;
use crate::error::Error;
use crate::health::HttpProbe;
use crate::journal;
use crate::proxy::Nginx;
use crate::state::{Holder, StateStore, Store, Wait};
use crate::switch::{Goal, Host, Request, SwitchError, World, now_rfc3339};
use crate::systemd::DbusSystemd;
use crate::terminal::{self, Progress};

/// The real boundaries, connected (the proxy is built on `systemd`).
pub struct Boundaries {
    pub state: Store,
    pub systemd: DbusSystemd,
    pub docker: EngineDocker,
    pub probe: HttpProbe,
}

impl Boundaries {
    /// Reaches the state store, systemd and dockerd, all at once; any that
    /// does not answer fails the command before anything is touched.
    pub async fn connect(config: &Config) -> Result<Boundaries, Error> {
        let (state, systemd, docker) = tokio::try_join!(
            async { Ok::<_, Error>(Store::open(config).await?) },
            async { Ok(DbusSystemd::connect().await?) },
            async { Ok(EngineDocker::connect(&config.docker.host).await?) },
        )?;
        Ok(Boundaries {
            state,
            systemd,
            docker,
            probe: HttpProbe {
                ip: config.upstream_ip(),
            },
        })
    }
}

/// This machine: D-Bus, the Engine API, the state store, nginx (driven
/// through that systemd connection) and HTTP probes.
pub struct RealHost<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> Host for RealHost<'a> {
    type Systemd = DbusSystemd;
    type Docker = EngineDocker;
    type State = Store;
    type Proxy = Nginx<'a, DbusSystemd>;
    type Probe = HttpProbe;
}

/// The world a switch or reconcile runs in, on the real boundaries.
pub type RealWorld<'a> = World<'a, RealHost<'a>>;

/// Runs `job` (a switch-core command: switch, stage, promote, discard,
/// reconcile) on the real world, journaled as [`journaled`] says.
pub async fn on_real_world<T>(
    verb: &str,
    config: &Config,
    request: &Request,
    job: impl AsyncFnOnce(RealWorld<'_>, &mut Progress) -> Result<T, SwitchError>,
) -> Result<T, Error> {
    journaled(verb, config, &request.deploy_id, async |b, progress| {
        // nginx is driven through this systemd connection.
        let proxy = Nginx::new(config, &b.systemd);
        let world: RealWorld<'_> = World {
            config,
            systemd: &b.systemd,
            docker: &b.docker,
            state: &mut b.state,
            proxy: &proxy,
            probe: &b.probe,
        };
        Ok(job(world, progress).await?)
    })
    .await
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
        interrupt: signals::listen(),
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
        crate::say!("{verb}: could not give the lock back ({e}); its lease frees it within 15 s");
    }
    result
}

/// `--wait`: queue behind another deploy's lock; else fail at once (exit 4).
pub fn lock_wait(wait: bool) -> Wait {
    if wait { Wait::Forever } else { Wait::No }
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

/// Runs a deploy-like `job` (switch, rollback, reconcile) on the connected
/// boundaries inside its journal span, with its progress, and records how
/// it ended: notice when it did what was asked, warning when it was refused
/// before trying (usage, the lock held), error for every deploy that went
/// wrong, rolled back or not, so `journalctl -p err` finds each one.
async fn journaled<T>(
    verb: &str,
    config: &Config,
    deploy_id: &str,
    job: impl AsyncFnOnce(&mut Boundaries, &mut Progress) -> Result<T, Error>,
) -> Result<T, Error> {
    let span = journal::deploy_span(deploy_id);
    let run = async {
        terminal::say(&format!("{verb} {}: deploy {deploy_id}", config.name));
        tracing::info!("{verb} of {} begins", config.name);
        let began = Instant::now();
        let mut progress = Progress::new(&config.name, Span::current());
        // Connected inside the span: a deploy that cannot reach a
        // dependency is in the journal too.
        let result = async {
            let mut b = Boundaries::connect(config).await?;
            job(&mut b, &mut progress).await
        }
        .await;
        drop(progress);
        let ms = began.elapsed().as_millis() as u64;
        let name = &config.name;
        match &result {
            Ok(_) => tracing::info!(
                bgctl_duration_ms = ms,
                bgctl_result = "ok",
                "{verb} of {name} succeeded in {ms} ms"
            ),
            Err(e) if e.refused() => {
                tracing::warn!(
                    bgctl_duration_ms = ms,
                    bgctl_result = "refused",
                    "{verb} of {name} refused: {e}"
                )
            }
            Err(e) => tracing::error!(
                bgctl_duration_ms = ms,
                bgctl_result = "failed",
                "{verb} of {name} failed: {e}"
            ),
        }
        result
    };
    run.instrument(span).await
}
