//! Phase `checks`: `[checks]` against the target's own port, then `[hooks]
//! pre_flip`; the first that fails stops the target and nothing else
//! changes.

use super::run::Run;
use super::{Host, Report, SwitchError, Target};
use crate::checks::{self, CheckFailure};
use crate::exec::{self, DeployEnv, Hook};
use crate::state::StateStore;

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// Phase `checks`; a failure abandons the target.
    pub async fn checks(&mut self, target: &Target) -> Result<(), SwitchError> {
        let Err(failure) = self.run_checks(target).await else {
            return Ok(());
        };
        let failed = SwitchError::ChecksFailed {
            unit: self.world.config.unit(target.to),
            failure: Box::new(failure),
        };
        Err(self.abandon(target.to, failed).await)
    }

    /// The environment the configured commands get for a deploy to `target`.
    pub fn deploy_env(&self, target: &Target) -> DeployEnv {
        let config = self.world.config;
        DeployEnv::new(config, target.to, &target.image, &self.request.deploy_id, target.from)
    }

    async fn run_checks(&mut self, target: &Target) -> Result<(), CheckFailure> {
        let config = self.world.config;
        let env = self.deploy_env(target);
        let port = config.port(target.to);
        let (ran, verdict) = checks::run(self.world.probe, self.world.systemd, &config.checks, port, &env).await;
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
        let ran = exec::run(
            self.world.systemd,
            Hook::PreFlip,
            hook,
            &env,
            config.checks.timeout.get(),
        )
        .await;
        self.ran(&ran);
        if ran.succeeded() {
            Ok(())
        } else {
            Err(CheckFailure::of_command(&ran))
        }
    }
}
