//! The switch (DESIGN §4): lock, read, start, healthy, flip, proxy, verify,
//! drain, stop. Written against the boundary traits only, so it is tested
//! with fakes (`tests.rs`) and proven with the real ones (`tests/switch.rs`).
//!
//! The rule that keeps users from noticing: traffic moves only to a color
//! that is healthy, and the old color stops only after the new one has
//! served verified traffic. Before the flip a failure stops the target and
//! changes nothing else; after it, the flip and the site are rolled back.

mod phase;

use std::time::{Duration, Instant};

pub use phase::Phase;

use crate::config::Config;
use crate::docker::{Docker, DockerError};
use crate::domain::{Color, ImageRef, UnitName};
use crate::files::{FilesError, read_if_exists, write_atomic};
use crate::health::{HealthError, Probe, Target, check_once, wait_healthy};
use crate::naming;
use crate::proxy::{Proxy, ProxyError};
use crate::render::{self, RenderError};
use crate::state::{Active, Deployment, HistoryRecord, Snapshot, StateError, StateStore, Status, Wait};
use crate::systemd::{Systemd, SystemdError, enable_only};

/// The start job itself (an `ExecStartPre` pull may take a while).
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// Beyond the unit's own stop timeout (`docker stop -t` + systemd's backstop).
const STOP_GRACE: Duration = Duration::from_secs(15);
/// How long requests through the proxy may take to show the new color.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// What was asked.
#[derive(Debug, Clone)]
pub struct Request {
    pub to: Option<Color>,
    pub image: Option<ImageRef>,
    pub wait: Wait,
    pub deploy_id: String,
    /// Who holds the lock, as a second deploy will be told.
    pub holder: String,
}

/// What a successful switch did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub from: Option<Color>,
    pub to: Color,
    pub image: ImageRef,
    pub phases: Vec<(Phase, Duration)>,
}

/// The boundaries a switch works through.
pub struct World<'a, S, D, T, P, H> {
    pub config: &'a Config,
    pub systemd: &'a S,
    pub docker: &'a D,
    pub state: &'a mut T,
    pub proxy: &'a P,
    pub probe: &'a H,
}

/// Where progress goes: a line per phase, and notes worth a human's eye.
pub trait Report {
    fn phase(&mut self, phase: Phase, took: Duration);
    fn note(&mut self, text: &str);
}

#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error("{0} is already live: switch to {other}, or leave --to out", other = .0.other())]
    AlreadyLive(Color),
    #[error(
        "{unit} never became healthy, so it was stopped and nothing else changed: {source}{}{}",
        lines("its journal", journal),
        lines("Docker's health log (oldest first)", log)
    )]
    Unhealthy {
        unit: UnitName,
        source: Box<HealthError>,
        journal: Vec<String>,
        log: Vec<String>,
    },
    #[error(
        "{unit} did not start, so nothing else changed: {source}{}",
        lines("its journal", journal)
    )]
    StartFailed {
        unit: UnitName,
        source: SystemdError,
        journal: Vec<String>,
    },
    #[error("{unit}: {source}, before the old color stopped{}", lines("its journal", journal))]
    NewColorLost {
        unit: UnitName,
        source: Box<HealthError>,
        journal: Vec<String>,
    },
    #[error("no earlier deploy to roll back to: the state names no previous color, or not its image")]
    NothingToRollBack,
    #[error("{color} is live by the state, but it is not healthy, so nothing else was touched: {source}")]
    LiveUnhealthy { color: Color, source: Box<HealthError> },
    #[error("{failure}\nrolled back: {restored}")]
    RolledBack {
        failure: Box<SwitchError>,
        restored: String,
    },
    #[error("{failure}\nthe rollback failed too: {rollback}\nfix the cause, then run `bgctl switch` again")]
    RollbackFailed {
        failure: Box<SwitchError>,
        rollback: Box<SwitchError>,
    },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Systemd(#[from] SystemdError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// A titled, indented block of lines for an error message; nothing when empty.
fn lines(title: &str, lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let indented: Vec<String> = lines.iter().map(|l| format!("  {l}")).collect();
    format!("\n{title}:\n{}", indented.join("\n"))
}

/// Looks at the new color after the drain before it counts as lost.
const CONFIRM_LOOKS: usize = 3;

/// Journal lines shown with a failed color.
const JOURNAL_LINES: usize = 15;

/// Runs one switch under the deploy lock and records it in the history.
/// It first converges (see [`reconcile`]), so an interrupted switch is
/// healed before a new one starts.
pub async fn switch<S, D, T, P, H>(
    world: World<'_, S, D, T, P, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<Outcome, SwitchError>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
{
    let mut run = Run::new(world, request, report);
    run.lock().await?;
    let result = run.phases().await;
    run.record(&result).await;
    run.unlock().await;
    result.map(|()| Outcome {
        from: run.from,
        to: run.to.expect("a finished switch has a target"),
        image: run.image.expect("a finished switch has an image"),
        phases: run.clock.laps,
    })
}

/// Makes units, proxy and enablement match the stored state, under the
/// deploy lock: the live color runs and is healthy, nginx sends to it (as
/// requests through it prove), only it is enabled, and the other color is
/// stopped once nothing routes to it. Returns what it changed.
pub async fn reconcile<S, D, T, P, H>(
    world: World<'_, S, D, T, P, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<Vec<String>, SwitchError>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
{
    let mut run = Run::new(world, request, report);
    run.lock().await?;
    let result = async {
        let snapshot = run.world.state.read().await?;
        run.world.proxy.ensure_running().await?;
        run.converge(&snapshot).await
    }
    .await;
    run.unlock().await;
    result
}

struct Run<'w, 'r, S, D, T, P, H, R> {
    world: World<'w, S, D, T, P, H>,
    request: &'r Request,
    clock: Clock<'r, R>,
    start: String,
    from: Option<Color>,
    to: Option<Color>,
    image: Option<ImageRef>,
    /// nginx was reloaded with the new site (a rollback must undo that).
    site_applied: bool,
}

/// The target color's names.
struct Names {
    unit: UnitName,
    container: String,
}

impl<'w, 'r, S, D, T, P, H, R> Run<'w, 'r, S, D, T, P, H, R>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
    R: Report,
{
    fn new(world: World<'w, S, D, T, P, H>, request: &'r Request, report: &'r mut R) -> Self {
        Run {
            world,
            request,
            clock: Clock::new(report),
            start: now_rfc3339(),
            from: None,
            to: None,
            image: request.image.clone(),
            site_applied: false,
        }
    }

    async fn lock(&mut self) -> Result<(), SwitchError> {
        self.world.state.lock(&self.request.holder, self.request.wait).await?;
        self.clock.lap(Phase::Lock);
        Ok(())
    }

    async fn unlock(&mut self) {
        if let Err(e) = self.world.state.unlock().await {
            let note = format!("could not give the lock back ({e}); its lease frees it within 15 s");
            self.clock.report.note(&note);
        }
    }

    async fn phases(&mut self) -> Result<(), SwitchError> {
        let config = self.world.config;
        // read, then heal what an interrupted switch may have left
        let snapshot = self.world.state.read().await?;
        // nginx must be able to follow before anything starts.
        self.world.proxy.ensure_running().await?;
        match self.converge(&snapshot).await {
            Ok(actions) => {
                for action in actions {
                    self.clock.report.note(&format!("converged first: {action}"));
                }
            }
            // A sick live color must not block the deploy meant to fix it.
            Err(e @ SwitchError::LiveUnhealthy { .. }) => self.clock.report.note(&format!("{e}; deploying anyway")),
            Err(e) => return Err(e),
        }
        let from = snapshot.active.as_ref().map(|a| a.color);
        let old_site = self.world.proxy.current().await?;
        // With no state, a site that still serves a color (state lost) keeps
        // that color: the deploy goes to the other one.
        let serving = old_site.as_deref().and_then(render::site_color);
        let to = match (self.request.to, from.or(serving)) {
            (Some(to), Some(live)) if to == live => return Err(SwitchError::AlreadyLive(to)),
            (Some(to), _) => to,
            (None, Some(live)) => live.other(),
            (None, None) => Color::Blue,
        };
        let image = self.image.clone().unwrap_or_else(|| config.image.clone());
        (self.from, self.to, self.image) = (from, Some(to), Some(image.clone()));
        self.clock.lap(Phase::Read);

        let target = Names {
            unit: naming::instance_unit(&config.name, to, config.port(to)),
            container: naming::instance(&config.name, to),
        };
        self.start(&target, to, &image).await?;
        self.clock.lap(Phase::Start);

        self.healthy(&target, to).await?;
        self.clock.lap(Phase::Healthy);

        let deployment = Deployment {
            color: to,
            port: config.port(to),
            url: config.url(to),
            image,
            previous: from,
            deployed_at: now_rfc3339(),
        };
        let flipped = match self.world.state.flip(snapshot.revision, &deployment).await {
            Ok(revision) => revision,
            // Certainly not flipped: the new color goes.
            Err(e @ (StateError::Conflict { .. } | StateError::LockLost(_))) => {
                return Err(self.abandon(&target, e.into()).await);
            }
            // Maybe flipped (etcd may have committed before the error): the
            // new color stays up, since the state may name it live.
            Err(e) => return Err(e.into()),
        };
        self.clock.lap(Phase::Flip);

        if let Err(failure) = self.serve(to).await {
            return Err(self.roll_back(failure, &snapshot, flipped, &target, old_site).await);
        }

        tokio::time::sleep(config.proxy.drain.get()).await;
        self.clock.lap(Phase::Drain);

        // The old color stops only if the new one is still healthy: one that
        // died since verify is rolled back (nginx fell back to the old one).
        if let Err(failure) = self.confirm(&target, to).await {
            return Err(self.roll_back(failure, &snapshot, flipped, &target, old_site).await);
        }
        self.stop_old(to).await?;
        self.clock.lap(Phase::Stop);
        Ok(())
    }

    /// The convergence of [`reconcile`]; returns what it changed.
    async fn converge(&mut self, snapshot: &Snapshot) -> Result<Vec<String>, SwitchError> {
        let config = self.world.config;
        let systemd = self.world.systemd;
        let unit = |c: Color| naming::instance_unit(&config.name, c, config.port(c));
        let mut done = Vec::new();
        let Some(active) = &snapshot.active else {
            // No color is live: nothing that nginx does not send to may run.
            let serving = self
                .world
                .proxy
                .current()
                .await?
                .as_deref()
                .and_then(render::site_color);
            for color in Color::ALL.into_iter().filter(|c| Some(*c) != serving) {
                if systemd.state(&unit(color)).await?.is_up() {
                    self.world.state.check_lock().await?;
                    systemd.stop(&unit(color), self.stop_timeout()).await?;
                    done.push(format!("stopped {color}, though no color is live"));
                }
            }
            return Ok(done);
        };
        let live = active.color;

        // The live color runs, and is healthy.
        if !systemd.state(&unit(live)).await?.is_up() {
            self.world.state.check_lock().await?;
            if let Some(image) = &active.image {
                self.write_dropin(live, image).await?;
            }
            systemd.start(&unit(live), Duration::ZERO, START_TIMEOUT).await?;
            done.push(format!("started {live}, which the state says is live"));
        }
        let names = Names {
            unit: unit(live),
            container: naming::instance(&config.name, live),
        };
        let w = &self.world;
        let target = Target {
            unit: &names.unit,
            container: &names.container,
            port: config.port(live),
        };
        match wait_healthy(w.systemd, w.docker, w.probe, &target, &config.health).await {
            Ok(_) => {}
            Err(HealthError::Systemd(e)) => return Err(e.into()),
            Err(HealthError::Docker(e)) => return Err(e.into()),
            Err(e) => {
                return Err(SwitchError::LiveUnhealthy {
                    color: live,
                    source: Box::new(e),
                });
            }
        }

        // nginx sends to it: the file says so and a request proves nginx loaded it.
        let site = render::site(config, Some(live))?;
        let on_disk = self.world.proxy.current().await?;
        if on_disk.as_deref() != Some(site.contents.as_str()) || !self.world.proxy.serves(live).await {
            self.world.state.check_lock().await?;
            self.world.proxy.apply(&site).await?;
            self.world.proxy.verify(live, VERIFY_TIMEOUT).await?;
            done.push(format!("pointed nginx at {live}"));
        }

        // Only it is enabled.
        if !enable_only(systemd, &unit(live), &unit(live.other())).await?.is_empty() {
            done.push(format!("enabled only {live}"));
        }

        // The other color goes, once requests on their way to it are done.
        let idle = live.other();
        if systemd.state(&unit(idle)).await?.is_up() {
            tokio::time::sleep(config.proxy.drain.get()).await;
            self.world.state.check_lock().await?;
            systemd.stop(&unit(idle), self.stop_timeout()).await?;
            if let Err(e) = self.world.state.set_status(idle, Status::Stopped).await {
                self.clock
                    .report
                    .note(&format!("{idle} stopped, but its status was not recorded: {e}"));
            }
            done.push(format!("stopped {idle}, which the state says is idle"));
        }
        Ok(done)
    }

    /// Puts `image` into `color`'s drop-in (and reloads systemd) if it is not there yet.
    async fn write_dropin(&self, color: Color, image: &ImageRef) -> Result<(), SwitchError> {
        let dropin = render::image_dropin(self.world.config, color, image)?;
        if read_if_exists(dropin.path.as_path())?.as_deref() != Some(dropin.contents.as_str()) {
            write_atomic(dropin.path.as_path(), dropin.contents.as_bytes())?;
            self.world.systemd.reload().await?;
        }
        Ok(())
    }

    /// Writes the target's image drop-in and starts it fresh.
    async fn start(&mut self, target: &Names, to: Color, image: &ImageRef) -> Result<(), SwitchError> {
        let systemd = self.world.systemd;
        self.world.state.check_lock().await?;
        self.write_dropin(to, image).await?;
        // A target left running by an earlier attempt may run another image.
        if systemd.state(&target.unit).await?.is_up() {
            systemd.stop(&target.unit, self.stop_timeout()).await?;
        }
        let failure = match systemd.start(&target.unit, Duration::ZERO, START_TIMEOUT).await {
            Ok(_) => return Ok(()),
            // The unit would not even start (a failed pull, a bad command): say why.
            Err(e @ (SystemdError::JobFailed { .. } | SystemdError::FailedAfterStart { .. })) => {
                SwitchError::StartFailed {
                    unit: target.unit.clone(),
                    journal: systemd.journal_tail(&target.unit, JOURNAL_LINES).await,
                    source: e,
                }
            }
            Err(e) => e.into(),
        };
        Err(self.abandon(target, failure).await)
    }

    async fn healthy(&mut self, target: &Names, to: Color) -> Result<(), SwitchError> {
        let w = &self.world;
        let probe_target = Target {
            unit: &target.unit,
            container: &target.container,
            port: w.config.port(to),
        };
        let failure = match wait_healthy(w.systemd, w.docker, w.probe, &probe_target, &w.config.health).await {
            Ok(_) => return Ok(()),
            Err(HealthError::Systemd(e)) => e.into(),
            Err(HealthError::Docker(e)) => e.into(),
            Err(source) => SwitchError::Unhealthy {
                unit: target.unit.clone(),
                journal: w.systemd.journal_tail(&target.unit, JOURNAL_LINES).await,
                log: source.last().map(|o| o.health_log().to_vec()).unwrap_or_default(),
                source: Box::new(source),
            },
        };
        Err(self.abandon(target, failure).await)
    }

    /// The new color is still healthy, after the drain.
    async fn confirm(&mut self, target: &Names, to: Color) -> Result<(), SwitchError> {
        let w = &self.world;
        let probe_target = Target {
            unit: &target.unit,
            container: &target.container,
            port: w.config.port(to),
        };
        // A few looks: one slow probe is no reason to undo a verified deploy.
        let mut seen = check_once(w.systemd, w.docker, w.probe, &probe_target, &w.config.health).await;
        for _ in 1..CONFIRM_LOOKS {
            if !matches!(seen, Err(HealthError::Lost { .. })) {
                break;
            }
            tokio::time::sleep(w.config.health.interval.get()).await;
            seen = check_once(w.systemd, w.docker, w.probe, &probe_target, &w.config.health).await;
        }
        match seen {
            Ok(_) => Ok(()),
            Err(HealthError::Systemd(e)) => Err(e.into()),
            Err(HealthError::Docker(e)) => Err(e.into()),
            Err(source) => Err(SwitchError::NewColorLost {
                unit: target.unit.clone(),
                journal: w.systemd.journal_tail(&target.unit, JOURNAL_LINES).await,
                source: Box::new(source),
            }),
        }
    }

    /// proxy + verify: nginx points at `to` and requests prove it.
    async fn serve(&mut self, to: Color) -> Result<(), SwitchError> {
        self.world.state.check_lock().await?;
        let site = match self.from {
            Some(from) => render::switching_site(self.world.config, to, from)?,
            None => render::site(self.world.config, Some(to))?,
        };
        // A reload that errs may still have happened; only a site nginx -t
        // refused is certainly not loaded (and apply put the old file back).
        if let Err(e) = self.world.proxy.apply(&site).await {
            self.site_applied = !matches!(e, ProxyError::Invalid { .. });
            return Err(e.into());
        }
        self.site_applied = true;
        self.clock.lap(Phase::Proxy);
        self.world.proxy.verify(to, VERIFY_TIMEOUT).await?;
        self.clock.lap(Phase::Verify);
        Ok(())
    }

    /// stop: only the new color stays enabled, and the old one goes. The
    /// switch has succeeded by now: what fails here is noted, not undone.
    async fn stop_old(&mut self, to: Color) -> Result<(), SwitchError> {
        let config = self.world.config;
        let systemd = self.world.systemd;
        if let Err(e) = self.world.state.check_lock().await {
            self.clock
                .report
                .note(&format!("{to} is live; the old color keeps running: {e}"));
            return Ok(());
        }
        let unit = |c: Color| naming::instance_unit(&config.name, c, config.port(c));
        // Enablement first: a reboot after this starts the new color.
        if let Err(e) = enable_only(systemd, &unit(to), &unit(to.other())).await {
            self.clock
                .report
                .note(&format!("{to} is live, but enabling only it failed: {e}"));
        }
        let Some(from) = self.from else { return Ok(()) };
        // The new color is confirmed: nginx stops falling back to the old one.
        let settled = render::site(config, Some(to))?;
        if let Err(e) = self.world.proxy.apply(&settled).await {
            self.clock
                .report
                .note(&format!("{to} is live; the site keeps {from} as fallback: {e}"));
        }
        if let Err(e) = systemd.stop(&unit(from), self.stop_timeout()).await {
            self.clock
                .report
                .note(&format!("{to} is live, but stopping {from} failed: {e}"));
            return Ok(());
        }
        if let Err(e) = self.world.state.set_status(from, Status::Stopped).await {
            self.clock
                .report
                .note(&format!("{from} stopped, but its status was not recorded: {e}"));
        }
        Ok(())
    }

    /// Before the flip: stop the target, change nothing else.
    async fn abandon(&mut self, target: &Names, failure: SwitchError) -> SwitchError {
        if let Err(e) = self.world.systemd.stop(&target.unit, self.stop_timeout()).await {
            self.clock
                .report
                .note(&format!("could not stop {} after the failure: {e}", target.unit));
        }
        failure
    }

    /// After the flip: put the old site back, flip back, and stop the target
    /// only once nginx no longer sends to it. The old color never stopped,
    /// so it serves as before.
    async fn roll_back(
        &mut self,
        failure: SwitchError,
        before: &Snapshot,
        flipped: i64,
        target: &Names,
        old_site: Option<String>,
    ) -> SwitchError {
        // Another deploy holds the lock now: whatever we touched is its to fix.
        if matches!(failure, SwitchError::State(StateError::LockLost(_))) {
            return failure;
        }
        let config = self.world.config;
        let to = self.to.expect("the target is known by now");
        let site = match old_site {
            Some(contents) => Ok(render::RenderedFile {
                path: config.site(),
                contents,
                policy: render::WritePolicy::CreateOnly,
            }),
            None => render::site(config, None),
        };
        // A refused new site was never loaded, and apply put the old file back.
        let site_back = match site {
            Ok(_) if !self.site_applied => Ok(()),
            Ok(site) => self.world.proxy.apply(&site).await.map_err(SwitchError::from),
            Err(e) => Err(e.into()),
        };
        // The state goes back whatever the site did: both are tried.
        let state = &self.world.state;
        let state_back = match &before.active {
            Some(active) => state.flip(flipped, &as_deployment(active, config)).await.map(drop),
            None => state.retract(flipped, to).await,
        };
        let state_back = match state_back {
            Ok(()) => state.set_status(to, Status::Stopped).await.map_err(SwitchError::from),
            Err(e) => Err(e.into()),
        };
        // The target stops only when nginx and the state are back on the old
        // color and it answers: otherwise the target may be all that serves.
        let old_serves = match (&site_back, &state_back, self.from) {
            (Ok(()), Ok(()), Some(from)) => self
                .world
                .proxy
                .verify(from, VERIFY_TIMEOUT)
                .await
                .map_err(SwitchError::from),
            _ => Ok(()),
        };
        if let Some(rollback) = [site_back, state_back, old_serves].into_iter().find_map(Result::err) {
            return SwitchError::RollbackFailed {
                failure: Box::new(failure),
                rollback: Box::new(rollback),
            };
        }
        // Requests already on their way to the target finish first.
        tokio::time::sleep(config.proxy.drain.get()).await;
        let failure = self.abandon(target, failure).await;
        SwitchError::RolledBack {
            failure: Box::new(failure),
            restored: match self.from {
                Some(from) => format!("{from} is live again and never stopped serving"),
                None => "no color is live, as before".into(),
            },
        }
    }

    fn stop_timeout(&self) -> Duration {
        self.world.config.container.stop_timeout.get() + STOP_GRACE
    }

    /// Adds this deploy to the history; a failure to do so is only noted.
    async fn record(&mut self, result: &Result<(), SwitchError>) {
        let Some(to) = self.to else { return };
        let record = HistoryRecord {
            id: self.request.deploy_id.clone(),
            from: self.from.map(|c| c.to_string()),
            to: to.to_string(),
            image: self.image.as_ref().map(ImageRef::to_string).unwrap_or_default(),
            start: self.start.clone(),
            end: now_rfc3339(),
            result: match result {
                Ok(()) => "ok".into(),
                Err(e) => format!("failed: {}", e.to_string().lines().next().unwrap_or_default()),
            },
            phases: self
                .clock
                .laps
                .iter()
                .map(|(p, d)| (p.to_string(), d.as_millis() as u64))
                .collect(),
        };
        if let Err(e) = self.world.state.record(&record).await {
            self.clock
                .report
                .note(&format!("could not record the deploy in the history: {e}"));
        }
    }
}

/// The live color as the flip that made it live wrote it (a seeded store
/// kept no image: the config's stands in).
fn as_deployment(active: &Active, config: &Config) -> Deployment {
    Deployment {
        color: active.color,
        port: active.port,
        url: active.url.clone(),
        image: active.image.clone().unwrap_or_else(|| config.image.clone()),
        previous: active.previous,
        deployed_at: active.deployed_at.clone(),
    }
}

/// Times phases and reports each as it ends.
struct Clock<'r, R> {
    report: &'r mut R,
    since: Instant,
    laps: Vec<(Phase, Duration)>,
}

impl<'r, R: Report> Clock<'r, R> {
    fn new(report: &'r mut R) -> Self {
        Clock {
            report,
            since: Instant::now(),
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, phase: Phase) {
        let took = self.since.elapsed();
        self.since = Instant::now();
        self.laps.push((phase, took));
        self.report.phase(phase, took);
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests;
