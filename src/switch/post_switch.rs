//! `[hooks] post_switch`, once the target is live and the old color
//! stopped: a failure is reported, and nothing is undone.

use super::run::Run;
use super::{Host, Report, Target};
use crate::exec::{self, Hook};

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    pub async fn post_switch(&mut self, target: &Target) {
        let Some(hook) = &self.world.config.hooks.post_switch else {
            return;
        };
        let env = self.deploy_env(target);
        let ran = exec::run(
            self.world.systemd,
            Hook::PostSwitch,
            hook,
            &env,
            self.world.config.checks.timeout.get(),
        )
        .await;
        self.ran(&ran);
        if !ran.succeeded() {
            let output: String = ran.tail.iter().map(|l| format!("\n    {l}")).collect();
            self.clock.note(&format!(
                "{} is live, but [hooks] post_switch `{}` failed ({}); nothing was undone{output}",
                target.to, ran.command, ran.ending
            ));
        }
    }
}
