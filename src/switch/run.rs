//! One run under the deploy lock: the boundaries, the request, the clock,
//! and the helpers every path (switch, converge, undo) uses to change a
//! color. Each helper that changes the world checks the lock first, so no
//! path can start, stop or re-point anything once the lock is lost.

use std::time::Duration;

use super::clock::Clock;
use super::{Outcome, Report, Request, SwitchError, World};
use crate::docker::Docker;
use crate::domain::{Color, ImageRef};
use crate::exec::Ran;
use crate::files::{read_if_exists, write_atomic};
use crate::guard::Figures;
use crate::health::{HealthError, Probe, Target, check_once, wait_healthy};
use crate::proxy::Proxy;
use crate::render::{self, RenderedFile};
use crate::state::{CommandRecord, Snapshot, Staged, StateStore, Status};
use crate::systemd::{FileChange, Systemd, SystemdError, enable_only};

/// The start job itself (an `ExecStartPre` pull may take a while).
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// Beyond the unit's own stop timeout (`docker stop -t` + systemd's backstop).
const STOP_GRACE: Duration = Duration::from_secs(15);
/// Journal lines shown with a failed color.
pub(super) const JOURNAL_LINES: usize = 15;
/// Looks at a color before it counts as not healthy any more: one slow
/// probe is no reason to undo a verified deploy or drop a staged one.
const CONFIRM_LOOKS: usize = 3;

pub(super) struct Run<'w, 'r, S, D, T, P, H, R> {
    pub world: World<'w, S, D, T, P, H>,
    pub request: &'r Request,
    pub clock: Clock<'r, R>,
    /// When the run began (the history's `start`).
    pub began: String,
    pub from: Option<Color>,
    pub to: Option<Color>,
    pub image: Option<ImageRef>,
    /// What is staged, as read and then as converge left it.
    pub staged: Option<Staged>,
    /// Why converge dropped a staged color, if it did.
    pub staged_dropped: Option<String>,
    /// The configured commands run so far (check, hooks).
    pub commands: Vec<CommandRecord>,
    /// What the guard counted, once it is done.
    pub guard_figures: Option<Figures>,
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
    pub fn new(world: World<'w, S, D, T, P, H>, request: &'r Request, report: &'r mut R) -> Self {
        Run {
            world,
            request,
            clock: Clock::new(report),
            began: super::now_rfc3339(),
            from: None,
            to: None,
            image: request.image.clone(),
            staged: None,
            staged_dropped: None,
            commands: Vec::new(),
            guard_figures: None,
        }
    }

    /// What a finished switch or promote did.
    pub fn outcome(self) -> Outcome {
        Outcome {
            from: self.from,
            to: self.to.expect("a finished switch has a target"),
            image: self.image.expect("a finished switch has an image"),
            phases: self.clock.laps,
            commands: self.commands,
            guard: self.guard_figures,
        }
    }

    /// Keeps a configured command's run for the history and reports it.
    pub fn ran(&mut self, ran: &Ran) {
        self.commands.push(CommandRecord::from(ran));
        self.clock.report.ran(ran);
    }

    /// Phase `lock`.
    pub async fn lock(&mut self) -> Result<(), SwitchError> {
        self.world.state.lock(&self.request.holder, self.request.wait).await?;
        self.clock.lap(super::Phase::Lock);
        Ok(())
    }

    pub async fn unlock(&mut self) {
        if let Err(e) = self.world.state.unlock().await {
            let note = format!("could not give the lock back ({e}); its lease frees it within 15 s");
            self.clock.note(&note);
        }
    }

    /// Phase `read`: the stored state, and nginx able to follow before
    /// anything starts.
    pub async fn read(&mut self) -> Result<Snapshot, SwitchError> {
        let snapshot = self.world.state.read().await?;
        self.world.proxy.ensure_running().await?;
        self.staged = snapshot.staged.clone();
        self.clock.lap(super::Phase::Read);
        Ok(snapshot)
    }

    pub fn target(&self, color: Color) -> Target {
        Target::new(self.world.config, color)
    }

    fn stop_timeout(&self) -> Duration {
        self.world.config.container.stop_timeout.get() + STOP_GRACE
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

    /// Starts `color`, with `image` in its drop-in when given. `fresh`: a
    /// color already up is stopped first (it may run another image). A unit
    /// that would not start says why, with its journal.
    pub async fn start_color(
        &mut self,
        color: Color,
        image: Option<&ImageRef>,
        fresh: bool,
    ) -> Result<(), SwitchError> {
        self.world.state.check_lock().await?;
        if let Some(image) = image {
            self.write_dropin(color, image).await?;
        }
        let systemd = self.world.systemd;
        let unit = self.world.config.unit(color);
        if fresh && systemd.state(&unit).await?.is_up() {
            systemd.stop(&unit, self.stop_timeout()).await?;
        }
        match systemd.start(&unit, Duration::ZERO, START_TIMEOUT).await {
            Ok(_) => Ok(()),
            Err(e @ (SystemdError::JobFailed { .. } | SystemdError::FailedAfterStart { .. })) => {
                Err(SwitchError::StartFailed {
                    journal: systemd.journal_tail(&unit, JOURNAL_LINES).await,
                    unit,
                    source: e,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Waits until `color` is healthy, up to `[health] timeout`.
    pub async fn wait_healthy(&self, color: Color) -> Result<(), HealthError> {
        let w = &self.world;
        let target = self.target(color);
        wait_healthy(w.systemd, w.docker, w.probe, &target, &w.config.health)
            .await
            .map(drop)
    }

    /// Whether `color` is still healthy: a few looks, `[health] interval`
    /// apart, while it only seems lost (a failed unit ends them at once).
    pub async fn still_healthy(&self, color: Color) -> Result<(), HealthError> {
        let w = &self.world;
        let target = self.target(color);
        let look = || check_once(w.systemd, w.docker, w.probe, &target, &w.config.health);
        let mut seen = look().await;
        for _ in 1..CONFIRM_LOOKS {
            if !matches!(seen, Err(HealthError::Lost { .. })) {
                break;
            }
            tokio::time::sleep(w.config.health.interval.get()).await;
            seen = look().await;
        }
        seen.map(drop)
    }

    /// The error for a new color that never became healthy, with its journal
    /// and Docker's health log.
    pub async fn unhealthy(&self, color: Color, source: HealthError) -> SwitchError {
        let unit = self.world.config.unit(color);
        SwitchError::Unhealthy {
            journal: self.world.systemd.journal_tail(&unit, JOURNAL_LINES).await,
            log: source.last().map(|o| o.health_log().to_vec()).unwrap_or_default(),
            source: Box::new(source),
            unit,
        }
    }

    /// The error for a new color that was healthy and is not any more.
    pub async fn lost(&self, color: Color, source: HealthError) -> SwitchError {
        let unit = self.world.config.unit(color);
        SwitchError::NewColorLost {
            journal: self.world.systemd.journal_tail(&unit, JOURNAL_LINES).await,
            source: Box::new(source),
            unit,
        }
    }

    /// Puts `site` in place and reloads nginx (see [`Proxy::apply`]).
    pub async fn apply_site(&self, site: &RenderedFile) -> Result<(), SwitchError> {
        self.world.state.check_lock().await?;
        Ok(self.world.proxy.apply(site).await?)
    }

    /// Makes `color` the only enabled one, so after a reboot it alone starts.
    pub async fn enable_only(&self, color: Color) -> Result<Vec<FileChange>, SwitchError> {
        self.world.state.check_lock().await?;
        let config = self.world.config;
        Ok(enable_only(self.world.systemd, &config.unit(color), &config.unit(color.other())).await?)
    }

    /// Stops `color` once no request is on its way to it.
    pub async fn retire_color(&mut self, color: Color) -> Result<(), SwitchError> {
        self.drain(color).await;
        self.stop_color(color).await
    }

    /// Stops `color` and records it stopped.
    pub async fn stop_color(&mut self, color: Color) -> Result<(), SwitchError> {
        self.world.state.check_lock().await?;
        self.stop_unit(color).await?;
        self.record_stopped(color).await;
        Ok(())
    }

    /// `StopUnit` for `color`, its job waited for; the caller checked the lock.
    pub async fn stop_unit(&self, color: Color) -> Result<(), SwitchError> {
        let unit = self.world.config.unit(color);
        self.world.systemd.stop(&unit, self.stop_timeout()).await?;
        Ok(())
    }

    pub async fn record_stopped(&mut self, color: Color) {
        if let Err(e) = self.world.state.set_status(color, Status::Stopped).await {
            self.clock
                .note(&format!("{color} stopped, but its status was not recorded: {e}"));
        }
    }

    /// Waits until nothing is on its way to `color` (see [`Proxy::drain`]),
    /// at most `[proxy] drain`, and says what it waited for.
    pub async fn drain(&mut self, color: Color) {
        let proxy = &self.world.config.proxy;
        let drained = self.world.proxy.drain(color, proxy.drain.get(), proxy.drain_wait).await;
        self.clock.report.detail(&format!(
            "waited for {} connection(s) to {color} and {} old nginx worker(s)",
            drained.connections, drained.workers
        ));
        if drained.left > 0 {
            self.clock.note(&format!(
                "{} connection(s) to {color} still open after the drain of {}",
                drained.left,
                humantime::format_duration(proxy.drain.get())
            ));
        }
    }

    /// Before the flip: stops the target and changes nothing else. Not
    /// fenced: it undoes this run's own start, even when the lock is lost.
    pub async fn abandon(&mut self, color: Color, failure: SwitchError) -> SwitchError {
        let unit = self.world.config.unit(color);
        if let Err(e) = self.world.systemd.stop(&unit, self.stop_timeout()).await {
            self.clock
                .note(&format!("could not stop {unit} after the failure: {e}"));
        }
        failure
    }
}
