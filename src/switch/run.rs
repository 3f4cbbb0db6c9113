//! One run under the deploy lock: the boundaries, the request, the clock,
//! and what the run has seen and done (staged color, commands, guard
//! figures). The phases are methods on it, one file each; every one that
//! changes the world checks the lock first, so no path can start, stop or
//! re-point anything once the lock is lost.

use std::time::Duration;

use super::clock::Clock;
use super::interrupt::{Raced, race};
use super::{Host, Outcome, Report, Request, SwitchError, Target, World};
use crate::domain::Color;
use crate::exec::Ran;
use crate::guard::Figures;
use crate::health;
use crate::proxy::Proxy;
use crate::state::{CommandRecord, Snapshot, Staged, StateStore};

/// Beyond the unit's own stop timeout (`docker stop -t` + systemd's backstop).
const STOP_GRACE: Duration = Duration::from_secs(15);
/// Journal lines shown with a failed color.
pub(super) const JOURNAL_LINES: usize = 15;
/// How long requests through the proxy may take to show a color.
pub(super) const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct Run<'w, 'r, H: Host, R> {
    pub world: World<'w, H>,
    pub request: &'r Request,
    pub clock: Clock<'r, R>,
    /// When the run began (the history's `start`).
    pub began: String,
    /// What is staged, as read and then as converge left it.
    pub staged: Option<Staged>,
    /// Why converge dropped a staged color, if it did.
    pub staged_dropped: Option<String>,
    /// The configured commands run so far (check, hooks).
    pub commands: Vec<CommandRecord>,
    /// What the guard counted, once it is done.
    pub guard_figures: Option<Figures>,
}

impl<'w, 'r, H: Host, R: Report> Run<'w, 'r, H, R> {
    pub fn new(world: World<'w, H>, request: &'r Request, report: &'r mut R) -> Self {
        Run {
            world,
            request,
            clock: Clock::new(report),
            began: super::now_rfc3339(),
            staged: None,
            staged_dropped: None,
            commands: Vec::new(),
            guard_figures: None,
        }
    }

    /// What a finished switch or promote to `target` did.
    pub fn outcome(self, target: Target) -> Outcome {
        Outcome {
            from: target.from,
            to: target.to,
            image: target.image,
            phases: self.clock.laps,
            commands: self.commands,
            guard: self.guard_figures,
        }
    }

    /// Keeps a configured command's run for the history and reports it.
    pub fn ran(&mut self, ran: &Ran) {
        self.commands.push(CommandRecord::from(ran));
        self.clock.report.ran(ran);
    }

    /// Phase `lock`.
    pub async fn lock(&mut self) -> Result<(), SwitchError> {
        self.world.state.lock(&self.request.holder, self.request.wait).await?;
        self.clock.lap(super::Phase::Lock);
        Ok(())
    }

    /// Phase `lock`, given up for a signal that comes while it waits.
    pub async fn lock_unless_signalled(&mut self) -> Result<(), SwitchError> {
        let request = self.request;
        match race(&request.interrupt, self.lock()).await {
            Raced::Done(locked) => locked,
            Raced::Signalled(signal) => {
                // One granted as the signal came is given back.
                self.unlock().await;
                Err(SwitchError::Interrupted {
                    signal,
                    undone: "while it waited for the lock: nothing was done".into(),
                })
            }
        }
    }

    pub async fn unlock(&mut self) {
        if let Err(e) = self.world.state.unlock().await {
            let note = format!("could not give the lock back ({e}); its lease frees it within 15 s");
            self.clock.note(&note);
        }
    }

    /// Phase `read`: the stored state, and nginx able to follow before
    /// anything starts.
    pub async fn read(&mut self) -> Result<Snapshot, SwitchError> {
        let snapshot = self.world.state.read().await?;
        self.world.proxy.ensure_running().await?;
        self.staged = snapshot.staged.clone();
        self.clock.lap(super::Phase::Read);
        Ok(snapshot)
    }

    /// What the health checks look at for `color`.
    pub fn health_target(&self, color: Color) -> health::Target {
        health::Target::new(self.world.config, color)
    }

    /// How long a stop job may take.
    pub fn stop_timeout(&self) -> Duration {
        self.world.config.container.stop_timeout.get() + STOP_GRACE
    }
}
