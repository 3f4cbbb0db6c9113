//! The check and hook units a run did not see end: a deploy killed with -9
//! left them running (systemd keeps a transient unit going without its
//! client), and an interrupted one dropped its wait on them. Each run under
//! the lock stops them first and last, so no command outlives its deploy
//! past the next run.

use super::run::Run;
use super::{Host, Report};
use crate::exec;

pub(super) const LEFT_BY_EARLIER: &str = "left running by an earlier deploy that did not finish";
pub(super) const LEFT_BY_THIS: &str = "whose wait this deploy gave up when it was interrupted";

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// Stops this service's check and hook units that have not ended:
    /// every deploy's right after the lock is taken ([`LEFT_BY_EARLIER`]),
    /// only this deploy's own later ([`LEFT_BY_THIS`]: by then the lock may
    /// be lost, and another deploy's commands are not ours to stop).
    pub async fn stop_leftover_commands(&mut self, why: &str) {
        let service = self.world.config.name.as_str();
        let stop_timeout = self.world.config.checks.timeout.get();
        let only = (why == LEFT_BY_THIS).then_some(self.request.deploy_id.as_str());
        match exec::stop_leftovers(self.world.systemd, service, only, stop_timeout).await {
            Ok(units) => {
                for unit in units {
                    self.clock.note(&format!("stopped {unit}, {why}"));
                }
            }
            Err(e) => self.clock.note(&format!("could not stop the commands {why}: {e}")),
        }
    }
}
