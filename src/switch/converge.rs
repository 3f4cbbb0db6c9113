//! Phase `converge`: make units, proxy and enablement match the stored
//! state (what `reconcile` does, and what every switch does first, so an
//! interrupted deploy is healed before a new one starts). A staged color
//! is left alone while it is healthy, and stopped (and no longer staged)
//! when it is not.

use super::run::Run;
use super::{Phase, Report, SwitchError};
use crate::docker::Docker;
use crate::domain::Color;
use crate::health::Probe;
use crate::proxy::Proxy;
use crate::render;
use crate::state::{Snapshot, StateStore};
use crate::systemd::Systemd;

/// How long requests through the proxy may take to show a color.
pub(super) const VERIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl<S, D, T, P, H, R> Run<'_, '_, S, D, T, P, H, R>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
    R: Report,
{
    /// The live color runs and is healthy, nginx sends to it (as requests
    /// through it prove), only it is enabled, and the other color is stopped
    /// once nothing routes to it. Returns what it changed.
    pub async fn converge(&mut self, snapshot: &Snapshot) -> Result<Vec<String>, SwitchError> {
        let done = match &snapshot.active {
            None => self.converge_none().await,
            Some(active) => self.converge_live(active.color, active.image.as_ref()).await,
        };
        self.clock.lap(Phase::Converge);
        done
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
