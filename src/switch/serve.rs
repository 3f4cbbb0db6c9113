//! Phases `proxy` and `verify`: nginx points at the target, with the old
//! color as its fallback, and requests through it (and through every other
//! proxy host) prove it.

use super::run::{Run, VERIFY_TIMEOUT};
use super::{Host, Phase, Report, SwitchError, Target};
use crate::proxy::Proxy;
use crate::render::{self, RenderedFile};
use crate::state::StateStore;

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    pub async fn serve(&mut self, target: &Target) -> Result<(), SwitchError> {
        let config = self.world.config;
        let to = target.to;
        let site = match target.from {
            Some(from) => render::switching_site(config, to, from)?,
            None => render::site(config, Some(to))?,
        };
        if self.guarded(target) {
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

    /// Puts `site` in place and reloads nginx (see [`Proxy::apply`]).
    pub async fn apply_site(&self, site: &RenderedFile) -> Result<(), SwitchError> {
        self.world.state.check_lock().await?;
        Ok(self.world.proxy.apply(site).await?)
    }
}
