//! Phase `converge`: make units, proxy and enablement match the stored
//! state (what `reconcile` does, and what every switch does first, so an
//! interrupted deploy is healed before a new one starts).

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

    /// No color is live: nothing that nginx does not send to may run.
    async fn converge_none(&mut self) -> Result<Vec<String>, SwitchError> {
        let serving = self
            .world
            .proxy
            .current()
            .await?
            .as_deref()
            .and_then(render::site_color);
        let mut done = Vec::new();
        for color in Color::ALL.into_iter().filter(|c| Some(*c) != serving) {
            if self.world.systemd.state(&self.world.config.unit(color)).await?.is_up() {
                self.retire_color(color).await?;
                done.push(format!("stopped {color}, though no color is live"));
            }
        }
        Ok(done)
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

        let idle = live.other();
        if systemd.state(&config.unit(idle)).await?.is_up() {
            self.retire_color(idle).await?;
            done.push(format!("stopped {idle}, which the state says is idle"));
        }
        Ok(done)
    }
}
