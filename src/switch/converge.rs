//! Phase `converge`: make units, proxy and enablement match the stored
//! state (what `reconcile` does, and what every switch does first, so an
//! interrupted deploy is healed before a new one starts). A staged color
//! is left alone while it is healthy, and stopped (and no longer staged)
//! when it is not.

use super::rollback::as_deployment;
use super::run::{Run, VERIFY_TIMEOUT};
use super::{Host, Phase, Report, SwitchError};
use crate::domain::Color;
use crate::proxy::Proxy;
use crate::render;
use crate::state::{Probation, Snapshot, StateStore};
use crate::systemd::Systemd;

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// The live color runs and is healthy, nginx sends to it (as requests
    /// through it prove), only it is enabled, and the other color is stopped
    /// once nothing routes to it. Returns what it changed.
    /// A flip still on probation (its deploy was cut off before it was
    /// proven) is undone first, and `snapshot` is read again.
    pub async fn converge(&mut self, snapshot: &mut Snapshot) -> Result<Vec<String>, SwitchError> {
        let done = async {
            let mut done = Vec::new();
            if let Some(probation) = snapshot.probation.clone() {
                done.push(self.end_cut_off_deploy(snapshot, probation).await?);
            }
            done.extend(match &snapshot.active {
                None => self.converge_none().await?,
                Some(active) => self.converge_live(active.color, active.image.as_ref()).await?,
            });
            Ok(done)
        }
        .await;
        self.clock.lap(Phase::Converge);
        done
    }

    /// Flips the state back to what was live before the unproven flip (or
    /// to no color, after a first deploy): the rest of converge then points
    /// nginx there and stops the rejected color.
    async fn end_cut_off_deploy(
        &mut self,
        snapshot: &mut Snapshot,
        probation: Probation,
    ) -> Result<String, SwitchError> {
        let state = &self.world.state;
        let rejected = snapshot.active.as_ref().map(|a| a.color);
        match (&probation.back_to, rejected) {
            (Some(back), _) => {
                let deployment = as_deployment(back, self.world.config);
                state.flip(snapshot.revision, &deployment).await?;
            }
            (None, Some(rejected)) => state.retract(snapshot.revision, rejected).await?,
            // A probation with nothing live: retracted already.
            (None, None) => {}
        }
        *snapshot = state.read().await?;
        let back = match &probation.back_to {
            Some(back) => format!("{} is live again", back.color),
            None => "no color is live, as before it".into(),
        };
        let from = rejected.map_or("nothing".into(), |c| c.to_string());
        Ok(format!(
            "deploy {} was cut off before its flip to {from} was proven: undone, {back}",
            probation.deploy_id
        ))
    }

    /// No color is live: nothing that nginx does not send to may run, but
    /// a healthy staged color.
    async fn converge_none(&mut self) -> Result<Vec<String>, SwitchError> {
        let on_disk = self.world.proxy.current().await?;
        let serving = on_disk.as_deref().and_then(render::site_color);
        let mut done = Vec::new();
        // Our 503 site, but not as the config renders it now (a preview added).
        let idle_site = render::site(self.world.config, None)?;
        if serving.is_none()
            && on_disk.as_deref().is_some_and(render::is_generated)
            && on_disk.as_deref() != Some(idle_site.contents.as_str())
        {
            self.apply_site(&idle_site).await?;
            done.push("rewrote the site, which no color is live in, as the config renders it".into());
        }
        for color in Color::ALL.into_iter().filter(|c| Some(*c) != serving) {
            self.settle_idle(color, "though no color is live", &mut done).await?;
        }
        Ok(done)
    }

    /// A color no user is sent to: kept when it is staged and healthy,
    /// otherwise stopped (and no longer staged).
    async fn settle_idle(&mut self, color: Color, why: &str, done: &mut Vec<String>) -> Result<(), SwitchError> {
        if self.staged.as_ref().is_some_and(|s| s.color == color) {
            let Err(e) = self.still_healthy(color).await else {
                return Ok(());
            };
            let sick = SwitchError::from_health(e)?;
            self.world.state.set_staged(None).await?;
            let dropped = format!("{color} was staged, but it is not healthy any more ({sick})");
            if self.world.systemd.state(&self.world.config.unit(color)).await?.is_up() {
                self.retire_color(color).await?;
            }
            done.push(format!("stopped {color} and cleared it as staged: {sick}"));
            (self.staged, self.staged_dropped) = (None, Some(dropped));
            return Ok(());
        }
        if self.world.systemd.state(&self.world.config.unit(color)).await?.is_up() {
            self.retire_color(color).await?;
            done.push(format!("stopped {color}, {why}"));
        }
        Ok(())
    }

    async fn converge_live(
        &mut self,
        live: Color,
        image: Option<&crate::domain::ImageRef>,
    ) -> Result<Vec<String>, SwitchError> {
        let config = self.world.config;
        let systemd = self.world.systemd;
        let mut done = Vec::new();

        if !systemd.state(&config.unit(live)).await?.is_up() {
            self.start_color(live, image, false).await?;
            done.push(format!("started {live}, which the state says is live"));
        }
        if let Err(e) = self.wait_healthy(live).await {
            let source = Box::new(SwitchError::from_health(e)?);
            return Err(SwitchError::LiveUnhealthy { color: live, source });
        }

        // The file says so, and a request proves nginx loaded it.
        let site = render::site(config, Some(live))?;
        let on_disk = self.world.proxy.current().await?;
        if on_disk.as_deref() != Some(site.contents.as_str()) || !self.world.proxy.serves(live).await {
            self.apply_site(&site).await?;
            self.world.proxy.verify(live, VERIFY_TIMEOUT).await?;
            done.push(format!("pointed nginx at {live}"));
        }

        if !self.enable_only(live).await?.is_empty() {
            done.push(format!("enabled only {live}"));
        }

        // A live color is never staged (a store edited by hand).
        if self.staged.as_ref().is_some_and(|s| s.color == live) {
            self.world.state.set_staged(None).await?;
            self.staged = None;
            done.push(format!("cleared {live} as staged: it is live"));
        }
        self.settle_idle(live.other(), "which the state says is idle", &mut done)
            .await?;
        Ok(done)
    }
}
