//! The phases strung together (DESIGN §4): a switch is [`Run::bring_up`]
//! (start, healthy, checks) then [`Run::go_live`] (flip … stop, then
//! `[hooks] post_switch`); `stage` and `promote` run the two halves apart.
//! Before the flip a failure is [abandoned](super::abandon); after it, it is
//! [rolled back](super::rollback) while the old color, never stopped, keeps
//! serving.

use super::interrupt::{Raced, race};
use super::run::Run;
use super::{Host, Phase, Report, Signal, SwitchError, Target};
use crate::proxy::Proxy;
use crate::state::{Snapshot, StateStore};

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// Every phase after `lock`: `stage` and `promote` with no pause.
    pub async fn deploy(&mut self) -> Result<Target, SwitchError> {
        let snapshot = self.prepare().await?;
        let old_site = self.world.proxy.current().await?;
        let target = self.choose_target(&snapshot, old_site.as_deref()).await?;
        self.bring_up(&target).await?;
        self.go_live(&target, &snapshot, old_site).await?;
        Ok(target)
    }

    /// Phases read and converge; then a staged release is in the way of
    /// any new one until it is promoted or discarded.
    pub async fn prepare(&mut self) -> Result<Snapshot, SwitchError> {
        let snapshot = self.read_converged().await?;
        if let Some(staged) = &self.staged {
            return Err(SwitchError::AlreadyStaged(Box::new(staged.clone())));
        }
        Ok(snapshot)
    }

    /// Phases read and converge, given up for a signal (each step of
    /// converge leaves a consistent system, and nothing new was started).
    pub async fn read_converged(&mut self) -> Result<Snapshot, SwitchError> {
        let request = self.request;
        let converged = race(&request.interrupt, async {
            let mut snapshot = self.read().await?;
            self.converge_first(&mut snapshot).await?;
            Ok(snapshot)
        });
        match converged.await {
            Raced::Done(done) => done,
            Raced::Signalled(signal) => Err(SwitchError::Interrupted {
                signal,
                undone: "before it started anything: nothing was done".into(),
            }),
        }
    }

    /// Phase `converge`, its changes noted; a sick live color must not
    /// block the deploy meant to fix it.
    pub async fn converge_first(&mut self, snapshot: &mut Snapshot) -> Result<(), SwitchError> {
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

    /// Phases start, healthy and checks: the target runs its image, is
    /// healthy and passed its checks, and no user reaches it yet. A failure
    /// stops it and changes nothing else.
    pub async fn bring_up(&mut self, target: &Target) -> Result<(), SwitchError> {
        let request = self.request;
        match race(&request.interrupt, self.bring_up_phases(target)).await {
            Raced::Done(done) => done,
            Raced::Signalled(signal) => {
                // A check or hook first: a migration must not go on alone.
                self.stop_leftover_commands(super::leftovers::LEFT_BY_THIS).await;
                let unit = self.world.config.unit(target.to);
                let undone = format!("before the flip: {unit} was stopped and nothing else changed");
                Err(self
                    .abandon(target.to, SwitchError::Interrupted { signal, undone })
                    .await)
            }
        }
    }

    async fn bring_up_phases(&mut self, target: &Target) -> Result<(), SwitchError> {
        self.start(target).await?;
        self.clock.lap(Phase::Start);
        self.healthy(target.to).await?;
        self.clock.lap(Phase::Healthy);
        self.checks(target).await?;
        self.clock.lap(Phase::Checks);
        Ok(())
    }

    /// Phases flip … stop for the target, which is up, healthy and checked,
    /// then `[hooks] post_switch`.
    pub async fn go_live(
        &mut self,
        target: &Target,
        snapshot: &Snapshot,
        old_site: Option<String>,
    ) -> Result<(), SwitchError> {
        let flipped = self.flip(snapshot, target).await?;
        self.clock.lap(Phase::Flip);

        let request = self.request;
        let proven = match race(&request.interrupt, self.prove(target)).await {
            Raced::Done(Ok(())) => self.end_probation(&flipped).await,
            Raced::Done(Err(failure)) => Err(failure),
            Raced::Signalled(signal) => Err(after_the_flip(signal)),
        };
        let revision = match proven {
            Ok(revision) => revision,
            Err(failure) => {
                return Err(self
                    .roll_back(failure, target, snapshot, flipped.revision, old_site)
                    .await);
            }
        };
        self.clock.lap(Phase::Guard);
        // One that died during the drain is rolled back too: the old color
        // has not stopped yet.
        let settled = match race(&request.interrupt, self.settle_and_confirm(target)).await {
            Raced::Done(settled) => settled,
            Raced::Signalled(signal) => Err(after_the_flip(signal)),
        };
        if let Err(failure) = settled {
            return Err(self.roll_back(failure, target, snapshot, revision, old_site).await);
        }
        self.clock.lap(Phase::Drain);
        self.stop_old(target).await;
        self.clock.lap(Phase::Stop);
        // No hook runs for a deploy that lost its lock: another may own the host now.
        if let Err(e) = self.world.state.check_lock().await {
            return Err(SwitchError::LockLostAfterFlip {
                to: target.to,
                source: e,
            });
        }
        match race(&request.interrupt, self.post_switch(target)).await {
            Raced::Done(()) => Ok(()),
            Raced::Signalled(signal) => Err(SwitchError::Interrupted {
                signal,
                undone: format!(
                    "after the switch: {} is live and the old color stopped; [hooks] post_switch was stopped",
                    target.to
                ),
            }),
        }
    }

    /// Phase drain, then the last look at the new color's health.
    async fn settle_and_confirm(&mut self, target: &Target) -> Result<(), SwitchError> {
        self.settle(target).await;
        self.confirm(target.to).await
    }

    /// Phases proxy, verify and guard, with the old color as nginx's
    /// fallback. The guard phase ends with a last look at the new color's
    /// health: one that died meanwhile is rolled back (nginx fell back to
    /// the old one). Then, not cut off by a signal, the probation ends.
    async fn prove(&mut self, target: &Target) -> Result<(), SwitchError> {
        self.serve(target).await?;
        self.guard(target).await?;
        self.confirm(target.to).await
    }
}

/// A signal after the flip: undone as a failed verify is.
fn after_the_flip(signal: Signal) -> SwitchError {
    SwitchError::Interrupted {
        signal,
        undone: "after the flip".into(),
    }
}
