//! The switch's phases after `converge` (DESIGN §4): start, healthy,
//! checks, flip, proxy, verify, guard, drain, stop, then `[hooks] post_switch`.
//! Before the flip a failure stops the target and changes nothing else;
//! after it, [`undo`](super::undo) puts the flip and the site back while the
//! old color, never stopped, keeps serving. [`Run::bring_up`] and
//! [`Run::go_live`] are the two halves that `stage` and `promote` run apart.

use super::converge::VERIFY_TIMEOUT;
use super::run::Run;
use super::{Goal, Phase, Report, SwitchError, now_rfc3339, rollback};
use crate::checks::{self, CheckFailure};
use crate::docker::Docker;
use crate::domain::{Color, ImageRef};
use crate::exec::{self, DeployEnv, Hook};
use crate::health::Probe;
use crate::proxy::Proxy;
use crate::render;
use crate::state::{Deployment, Snapshot, StateError, StateStore};
use crate::systemd::{FileChange, Systemd};

impl<S, D, T, P, H, R> Run<'_, '_, S, D, T, P, H, R>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
    R: Report,
{
    /// Every phase after `lock`: `stage` and `promote` with no pause.
    pub async fn deploy(&mut self) -> Result<(), SwitchError> {
        let snapshot = self.prepare().await?;
        let old_site = self.world.proxy.current().await?;
        let to = self.choose_target(&snapshot, old_site.as_deref()).await?;
        self.bring_up(to).await?;
        self.go_live(&snapshot, old_site).await
    }

    /// Phases read and converge; then a staged release is in the way of
    /// any new one until it is promoted or discarded.
    pub async fn prepare(&mut self) -> Result<Snapshot, SwitchError> {
        let snapshot = self.read().await?;
        self.converge_first(&snapshot).await?;
        if let Some(staged) = &self.staged {
            return Err(SwitchError::AlreadyStaged(Box::new(staged.clone())));
        }
        Ok(snapshot)
    }

    /// Phase `converge`, its changes noted; a sick live color must not
    /// block the deploy meant to fix it.
    pub async fn converge_first(&mut self, snapshot: &Snapshot) -> Result<(), SwitchError> {
        match self.converge(snapshot).await {
            Ok(actions) => {
                for action in actions {
                    self.clock.note(&format!("converged first: {action}"));
                }
                Ok(())
            }
            Err(e @ SwitchError::LiveUnhealthy { .. }) => {
                self.clock.note(&format!("{e}; deploying anyway"));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Chooses the color and image under the lock, and says so.
    pub async fn choose_target(&mut self, snapshot: &Snapshot, old_site: Option<&str>) -> Result<Color, SwitchError> {
        let (to, image) = self.choose(snapshot, old_site).await?;
        self.from = snapshot.active.as_ref().map(|a| a.color);
        self.set_target(to, image);
        Ok(to)
    }

    pub fn set_target(&mut self, to: Color, image: ImageRef) {
        self.clock.report.target(self.from, to, &image);
        (self.to, self.image) = (Some(to), Some(image));
    }

    /// The color and image this deploy goes to, decided under the lock
    /// from what was just read.
    async fn choose(&self, snapshot: &Snapshot, old_site: Option<&str>) -> Result<(Color, ImageRef), SwitchError> {
        let config = self.world.config;
        // With no state, a site that still serves a color (state lost) keeps
        // that color: the deploy goes to the other one.
        let live = snapshot
            .active
            .as_ref()
            .map(|a| a.color)
            .or_else(|| old_site.and_then(render::site_color));
        let to = match (self.request.goal, live) {
            (Goal::Previous, _) => {
                let history = self.world.state.history().await?;
                return rollback::previous_deploy(snapshot, &history);
            }
            (Goal::To(to), Some(live)) if to == live => return Err(SwitchError::AlreadyLive(to)),
            (Goal::To(to), _) => to,
            (Goal::Other, Some(live)) => live.other(),
            (Goal::Other, None) => Color::Blue,
        };
        Ok((to, self.image.clone().unwrap_or_else(|| config.image.clone())))
    }

    /// Phases start, healthy and checks: `to` runs the image, is healthy
    /// and passed its checks, and no user reaches it yet. A failure stops
    /// it and changes nothing else.
    pub async fn bring_up(&mut self, to: Color) -> Result<(), SwitchError> {
        let image = self.image.clone().expect("the target is chosen");
        match self.start_color(to, Some(&image), true).await {
            Ok(()) => {}
            Err(e @ SwitchError::State(_)) => return Err(e),
            Err(e) => return Err(self.abandon(to, e).await),
        }
        self.clock.lap(Phase::Start);

        self.healthy(to).await?;
        self.clock.lap(Phase::Healthy);

        if let Err(failure) = self.checks(to, &image).await {
            let unit = self.world.config.unit(to);
            let failed = SwitchError::ChecksFailed {
                unit,
                failure: Box::new(failure),
            };
            return Err(self.abandon(to, failed).await);
        }
        self.clock.lap(Phase::Checks);
        Ok(())
    }

    /// Phases flip … stop for `self.to`, which is up, healthy and checked,
    /// then `[hooks] post_switch`.
    pub async fn go_live(&mut self, snapshot: &Snapshot, old_site: Option<String>) -> Result<(), SwitchError> {
        let to = self.to.expect("the target is chosen");
        let image = self.image.clone().expect("the target is chosen");
        let flipped = self.flip(snapshot, to, image.clone()).await?;
        self.clock.lap(Phase::Flip);

        if let Err(failure) = self.prove(to).await {
            return Err(self.undo(failure, snapshot, flipped, old_site).await);
        }
        self.settle(to).await;
        // One that died during the drain is rolled back too: the old color
        // has not stopped yet.
        if let Err(failure) = self.confirm(to).await {
            return Err(self.undo(failure, snapshot, flipped, old_site).await);
        }
        self.clock.lap(Phase::Drain);
        self.stop_old(to).await;
        self.clock.lap(Phase::Stop);
        self.post_switch(to, &image).await;
        Ok(())
    }

    /// Phases proxy, verify and guard, with the old color as nginx's
    /// fallback. The guard phase ends with a last look at the new color's
    /// health: one that died meanwhile is rolled back (nginx fell back to
    /// the old one) before the old color goes.
    async fn prove(&mut self, to: Color) -> Result<(), SwitchError> {
        self.serve(to).await?;
        self.guard(to).await?;
        self.confirm(to).await?;
        self.clock.lap(Phase::Guard);
        Ok(())
    }
    /// Phase `healthy`: a new color that never gets there is stopped.
    async fn healthy(&mut self, to: Color) -> Result<(), SwitchError> {
        let Err(e) = self.wait_healthy(to).await else {
            return Ok(());
        };
        let failure = match SwitchError::from_health(e) {
            Ok(sick) => self.unhealthy(to, sick).await,
            Err(boundary) => boundary,
        };
        Err(self.abandon(to, failure).await)
    }

    /// The environment the configured commands get for a deploy to `to`.
    pub fn deploy_env(&self, to: Color, image: &ImageRef) -> DeployEnv {
        DeployEnv::new(self.world.config, to, image, &self.request.deploy_id, self.from)
    }

    /// Phase `checks`: `[checks]` against `to`'s own port, then `[hooks]
    /// pre_flip`; the first that fails is the answer.
    async fn checks(&mut self, to: Color, image: &ImageRef) -> Result<(), CheckFailure> {
        let config = self.world.config;
        let env = self.deploy_env(to, image);
        let (ran, verdict) = checks::run(self.world.probe, &config.checks, config.port(to), &env).await;
        if let Some(ran) = ran {
            self.ran(&ran);
        }
        verdict?;
        let Some(hook) = &config.hooks.pre_flip else {
            return Ok(());
        };
        // A migration must not run for a deploy that no longer holds the lock.
        if let Err(e) = self.world.state.check_lock().await {
            return Err(CheckFailure {
                check: format!("{} `{hook}`", Hook::PreFlip),
                reason: format!("not run: {e}"),
                output: Vec::new(),
                cannot_run: true,
            });
        }
        let ran = exec::run(Hook::PreFlip, hook, &env, config.checks.timeout.get()).await;
        self.ran(&ran);
        if ran.succeeded() {
            Ok(())
        } else {
            Err(CheckFailure::of_command(&ran))
        }
    }

    /// Phase `flip`: one compare-and-swap on the revision read.
    async fn flip(&mut self, snapshot: &Snapshot, to: Color, image: ImageRef) -> Result<i64, SwitchError> {
        let config = self.world.config;
        let deployment = Deployment {
            color: to,
            port: config.port(to),
            url: config.url(to),
            image,
            previous: self.from,
            deployed_at: now_rfc3339(),
        };
        match self.world.state.flip(snapshot.revision, &deployment).await {
            Ok(revision) => Ok(revision),
            // Certainly not flipped: the new color goes.
            Err(e @ (StateError::Conflict { .. } | StateError::LockLost(_))) => Err(self.abandon(to, e.into()).await),
            // Maybe flipped (etcd may have committed before the error): the
            // new color stays up, since the state may name it live.
            Err(e) => Err(e.into()),
        }
    }

    /// Phases `proxy` and `verify`: nginx points at `to` and requests prove it.
    async fn serve(&mut self, to: Color) -> Result<(), SwitchError> {
        let config = self.world.config;
        let site = match self.from {
            Some(from) => render::switching_site(config, to, from)?,
            None => render::site(config, Some(to))?,
        };
        if self.guarded() {
            self.world.proxy.reset_traffic().await?;
        }
        self.apply_site(&site).await?;
        self.clock.lap(Phase::Proxy);
        self.world.proxy.verify(to, VERIFY_TIMEOUT).await?;
        // Every other proxy must follow too, or the switch is undone.
        self.world.proxy.verify_others(to, VERIFY_TIMEOUT).await?;
        self.clock.lap(Phase::Verify);
        Ok(())
    }

    /// The new color is still healthy, after the drain.
    async fn confirm(&mut self, to: Color) -> Result<(), SwitchError> {
        let Err(e) = self.still_healthy(to).await else {
            return Ok(());
        };
        Err(match SwitchError::from_health(e) {
            Ok(sick) => self.lost(to, sick).await,
            Err(boundary) => boundary,
        })
    }

    /// Phase `drain`: nginx stops falling back to the old color, and the
    /// old color is left alone until no request is on its way to it. The
    /// switch has succeeded by now: what fails is noted.
    async fn settle(&mut self, to: Color) {
        let Some(from) = self.from else { return };
        let settled = render::site(self.world.config, Some(to));
        let applied = match settled {
            Ok(site) => self.apply_site(&site).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = applied {
            self.clock
                .note(&format!("{to} is live; the site keeps {from} as fallback: {e}"));
        }
        self.drain(from).await;
    }

    /// Phase `stop`: only the new color stays enabled, and the old one
    /// stops, both at once (a daemon-reload and a container's stop are
    /// each a few hundred ms, and neither needs the other). What fails is
    /// noted.
    async fn stop_old(&mut self, to: Color) {
        let Some(from) = self.from else {
            let enabled = self.enable_only(to).await;
            return self.note_enabled(to, enabled);
        };
        if let Err(e) = self.world.state.check_lock().await {
            return self
                .clock
                .note(&format!("{to} is live; {from} keeps running and stays enabled: {e}"));
        }
        let (enabled, stopped) = tokio::join!(self.enable_only(to), self.stop_unit(from));
        self.note_enabled(to, enabled);
        match stopped {
            Ok(()) => self.record_stopped(from).await,
            Err(e) => self
                .clock
                .note(&format!("{to} is live, but stopping {from} failed: {e}")),
        }
    }

    fn note_enabled(&mut self, to: Color, enabled: Result<Vec<FileChange>, SwitchError>) {
        if let Err(e) = enabled {
            self.clock
                .note(&format!("{to} is live, but enabling only it failed: {e}"));
        }
    }

    /// `[hooks] post_switch`, once `to` is live and the old color stopped:
    /// a failure is reported, and nothing is undone.
    async fn post_switch(&mut self, to: Color, image: &ImageRef) {
        let Some(hook) = &self.world.config.hooks.post_switch else {
            return;
        };
        let env = self.deploy_env(to, image);
        let ran = exec::run(Hook::PostSwitch, hook, &env, self.world.config.checks.timeout.get()).await;
        self.ran(&ran);
        if !ran.succeeded() {
            let output: String = ran.tail.iter().map(|l| format!("\n    {l}")).collect();
            self.clock.note(&format!(
                "{to} is live, but [hooks] post_switch `{}` failed ({}); nothing was undone{output}",
                ran.command, ran.ending
            ));
        }
    }
}
