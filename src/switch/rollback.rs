//! The automatic rollback, after a failure past the flip: put the old site
//! back, flip the state back, and stop the target only once nginx no longer
//! sends to it. The old color never stopped, so it serves as before and
//! users see nothing.

use super::run::{Run, VERIFY_TIMEOUT};
use super::{Host, Report, SwitchError, Target};
use crate::config::Config;
use crate::proxy::Proxy;
use crate::render::{self, RenderedFile, WritePolicy};
use crate::state::{Active, Deployment, Snapshot, StateError, StateStore, Status};

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// Undoes the flip to `target` at revision `flipped`; `before` is what
    /// was live, `old_site` the site nginx had.
    pub async fn roll_back(
        &mut self,
        failure: SwitchError,
        target: &Target,
        before: &Snapshot,
        flipped: i64,
        old_site: Option<String>,
    ) -> SwitchError {
        // Another deploy holds the lock now: whatever we touched is its to fix.
        if matches!(failure, SwitchError::State(StateError::LockLost(_))) {
            return failure;
        }
        self.clock.report.checkpoint("rollback");
        let config = self.world.config;
        let to = target.to;
        // The state goes back first: cut off after it, the next converge
        // finds the old color live; cut off before, the flip's probation
        // tells it the same. Never the other way round, which would make
        // the rejected release live again at the next boot.
        let state = &self.world.state;
        let state_back = match &before.active {
            Some(active) => state.flip(flipped, &as_deployment(active, config)).await.map(drop),
            None => state.retract(flipped, to).await,
        };
        let state_back = match state_back {
            Ok(()) => state.set_status(to, Status::Stopped).await.map_err(SwitchError::from),
            Err(e) => Err(e.into()),
        };
        self.clock.report.checkpoint("rollback-state");
        // The site goes back whatever the state did: both are tried. One
        // that nginx refused or could not apply was never loaded (apply put
        // the old file back).
        let site_loaded = !matches!(&failure, SwitchError::Proxy(e) if e.left_the_site_as_it_was());
        let site_back = match (site_loaded, previous_site(config, old_site)) {
            (false, _) => Ok(()),
            (true, Ok(site)) => self.apply_site(&site).await,
            (true, Err(e)) => Err(e),
        };
        self.clock.report.checkpoint("rollback-site");
        // The target stops only when nginx and the state are back on the old
        // color and it answers, and the other proxies have followed the
        // state back: otherwise the target may be all that serves someone.
        let old_serves = match (&site_back, &state_back) {
            (Ok(()), Ok(())) => self.traffic_left(target).await,
            _ => Ok(()),
        };
        if let Some(rollback) = [site_back, state_back, old_serves].into_iter().find_map(Result::err) {
            return SwitchError::RollbackFailed {
                failure: Box::new(failure),
                rollback: Box::new(rollback),
            };
        }
        // Requests already on their way to the target finish first.
        self.drain(to).await;
        let failure = self.abandon(to, failure).await;
        SwitchError::RolledBack {
            failure: Box::new(failure),
            restored: match target.from {
                Some(from) => format!("{from} is live again and never stopped serving"),
                None => "no color is live, as before".into(),
            },
        }
    }

    /// The old color answers through nginx again (when there is one) and
    /// no other proxy sends anyone to the target any more.
    async fn traffic_left(&self, target: &Target) -> Result<(), SwitchError> {
        let proxy = &self.world.proxy;
        if let Some(from) = target.from {
            proxy.verify(from, VERIFY_TIMEOUT).await?;
        }
        proxy.others_left(target.to, VERIFY_TIMEOUT).await?;
        Ok(())
    }
}

/// The site nginx had before the switch (the 503 site when there was none).
fn previous_site(config: &Config, old_site: Option<String>) -> Result<RenderedFile, SwitchError> {
    match old_site {
        Some(contents) => Ok(RenderedFile {
            path: config.site(),
            contents,
            policy: WritePolicy::CreateOnly,
        }),
        None => Ok(render::site(config, None)?),
    }
}

/// The live color as the flip that made it live wrote it (a seeded store
/// kept no image: the config's stands in), with no probation: going back
/// ends it.
pub(super) fn as_deployment(active: &Active, config: &Config) -> Deployment {
    Deployment {
        color: active.color,
        port: active.port,
        url: active.url.clone(),
        image: active.image.clone().unwrap_or_else(|| config.image.clone()),
        previous: active.previous,
        deployed_at: active.deployed_at.clone(),
        probation: None,
    }
}
