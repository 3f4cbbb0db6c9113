//! Staged deploys (DESIGN §4): `stage` is the switch up to its checks, with
//! the new color left running and recorded under `staged`, reachable on
//! the preview and by no user; `promote` is the rest of the switch for that
//! color; `discard` stops it. A staged color is never enabled, so a reboot
//! does not start it, and converge keeps it only while it is healthy.

use super::run::{Run, VERIFY_TIMEOUT};
use super::{Host, Report, SwitchError, Target, now_rfc3339};
use crate::proxy::Proxy;
use crate::state::{Staged, StateStore};

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// Lock … checks, then the preview must answer from the new color
    /// before it is recorded as staged; a failure stops it.
    pub async fn stage(&mut self) -> Result<(Staged, Target), SwitchError> {
        let snapshot = self.prepare().await?;
        let old_site = self.world.proxy.current().await?;
        let target = self.choose_target(&snapshot, old_site.as_deref()).await?;
        self.bring_up(&target).await?;
        let to = target.to;
        let staged = Staged {
            color: to,
            image: target.image.clone(),
            deploy_id: self.request.deploy_id.clone(),
            since: now_rfc3339(),
        };
        let recorded = async {
            if self.world.config.proxy.preview_listen.is_some() {
                self.world.proxy.verify_preview(to, VERIFY_TIMEOUT).await?;
            }
            Ok::<_, SwitchError>(self.world.state.set_staged(Some(&staged)).await?)
        };
        if let Err(e) = recorded.await {
            return Err(self.abandon(to, e).await);
        }
        Ok((staged, target))
    }

    /// Flip … stop for the staged color, which must still be healthy;
    /// nothing moves otherwise.
    pub async fn promote(&mut self) -> Result<Target, SwitchError> {
        let snapshot = self.read_converged().await?;
        let Some(staged) = self.staged.clone() else {
            return Err(SwitchError::NothingStaged {
                dropped: self.staged_dropped.take(),
            });
        };
        if let Err(e) = self.still_healthy(staged.color).await {
            let source = Box::new(SwitchError::from_health(e)?);
            return Err(SwitchError::StagedUnhealthy {
                color: staged.color,
                source,
            });
        }
        let old_site = self.world.proxy.current().await?;
        let target = self.chose(Target::new(&snapshot, staged.color, staged.image));
        self.go_live(&target, &snapshot, old_site).await?;
        Ok(target)
    }

    /// Stops the staged color, once it is no longer recorded as staged (so
    /// nothing can promote it half-stopped). `None`: nothing was staged.
    pub async fn discard(&mut self) -> Result<Option<Staged>, SwitchError> {
        let snapshot = self.read_converged().await?;
        let Some(staged) = self.staged.take() else {
            return Ok(None);
        };
        self.chose(Target::new(&snapshot, staged.color, staged.image.clone()));
        self.world.state.set_staged(None).await?;
        self.retire_color(staged.color).await?;
        self.clock.lap(super::Phase::Stop);
        Ok(Some(staged))
    }
}
