//! The switch (DESIGN §4): lock, read, converge, start, healthy, checks,
//! flip, proxy, verify, guard, drain, stop, then `[hooks] post_switch`. Written
//! against the boundary traits only, so it is tested with fakes
//! (`tests.rs`) and proven with the real ones (`tests/switch.rs`).
//!
//! The rule that keeps users from noticing: traffic moves only to a color
//! that is healthy and passed its checks, and the old color stops only
//! after the new one has served verified traffic and nothing is on its way
//! to the old one.
//!
//! A staged deploy is the same switch cut in two: [`stage`] runs it up to
//! the checks and records the color as staged (users never reach it, the
//! preview does); [`promote`] runs the rest for that color; [`discard`]
//! stops it. [`switch`] is both halves with no pause.
//!
//! One file per phase or path, named for what it does, each on
//! [`Run`](run::Run): [`target`] (the color and image, chosen under the
//! lock), [`converge`], [`start`] (start and healthy), [`checks`], [`flip`],
//! [`serve`] (proxy and verify), [`guard`], [`drain`], [`stop`],
//! [`post_switch`]; [`deploy`] strings them together. A failure before the
//! flip is [`abandon`]ed, one after it is [`rollback`]ed; [`previous`] is the
//! `rollback` command's target; [`staged`] (stage, promote, discard),
//! [`history`].

mod abandon;
mod checks;
mod clock;
mod converge;
mod deploy;
mod drain;
mod error;
mod flip;
mod guard;
mod history;
mod host;
mod interrupt;
mod leftovers;
mod phase;
mod post_switch;
mod previous;
mod rollback;
mod run;
mod serve;
mod staged;
mod start;
mod stop;
mod target;

use std::time::Duration;

pub use clock::now_rfc3339;
pub use error::SwitchError;
pub use phase::Phase;

pub use host::{Host, World};
pub use interrupt::{Interrupt, Interrupter, Signal};
pub use target::Target;

use crate::domain::{Color, ImageRef};
use crate::exec::Ran;
use crate::guard::{Figures, Tally};
use crate::state::{CommandRecord, Holder, Staged, Wait};
use interrupt::{Raced, race};
use leftovers::{LEFT_BY_EARLIER, LEFT_BY_THIS};
use run::Run;

/// Which color a deploy goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// The color that is not live (blue on a first deploy).
    Other,
    /// This one (`--to`); the live color is refused.
    To(Color),
    /// The previous color with the image it last served (`rollback`).
    Previous,
}

/// What was asked.
#[derive(Debug, Clone)]
pub struct Request {
    pub goal: Goal,
    pub image: Option<ImageRef>,
    pub wait: Wait,
    pub deploy_id: String,
    /// Who holds the lock, as a second deploy will be told.
    pub holder: Holder,
    /// SIGINT or SIGTERM: stop in order, undoing what the phase did.
    pub interrupt: Interrupt,
}

/// What a successful switch, promote or stage did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub from: Option<Color>,
    pub to: Color,
    pub image: ImageRef,
    pub phases: Vec<(Phase, Duration)>,
    /// The configured commands it ran (check, hooks), in order.
    pub commands: Vec<CommandRecord>,
    /// What the guard counted, when it watched.
    pub guard: Option<Figures>,
}

/// Where progress goes: a line per phase, and notes worth a human's eye.
pub trait Report {
    fn phase(&mut self, phase: Phase, took: Duration);
    fn note(&mut self, text: &str);
    /// The deploy's colors and image, once chosen under the lock.
    fn target(&mut self, _from: Option<Color>, _to: Color, _image: &ImageRef) {}
    /// A configured command (check, hook) finished.
    fn ran(&mut self, _ran: &Ran) {}
    /// A fact about the phase that ends next (what the drain waited for).
    fn detail(&mut self, _text: &str) {}
    /// What the guard has counted so far, `watched` into its window.
    fn guarding(&mut self, _tally: &Tally, _watched: Duration) {}
    /// A named step inside a phase is done (the fault-injection tests
    /// crash there).
    fn checkpoint(&mut self, _point: &str) {}
}

/// Runs one switch under the deploy lock and records it in the history.
/// It first converges, so an interrupted switch is healed before a new one
/// starts.
pub async fn switch<H: Host>(
    world: World<'_, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<Outcome, SwitchError> {
    let (target, run) = recorded(world, request, report, async |run| run.deploy().await).await?;
    Ok(run.outcome(target))
}

/// `stage`: the switch up to its checks; the new color is left running,
/// reachable on the preview only, and recorded as staged.
pub async fn stage<H: Host>(
    world: World<'_, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<(Staged, Outcome), SwitchError> {
    let ((staged, target), run) = recorded(world, request, report, async |run| run.stage().await).await?;
    Ok((staged, run.outcome(target)))
}

/// `promote`: the rest of the switch (flip … stop) for the staged color.
pub async fn promote<H: Host>(
    world: World<'_, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<Outcome, SwitchError> {
    let (target, run) = recorded(world, request, report, async |run| run.promote().await).await?;
    Ok(run.outcome(target))
}

/// `discard`: stops the staged color; returns what was staged (`None`:
/// nothing was, and nothing was done).
pub async fn discard<H: Host>(
    world: World<'_, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<Option<Staged>, SwitchError> {
    let (staged, _) = recorded(world, request, report, async |run| run.discard().await).await?;
    Ok(staged)
}

/// Runs `job` under the deploy lock and records it in the history; gives
/// the run back for what it did.
async fn recorded<'w, 'r, H: Host, R: Report, O>(
    world: World<'w, H>,
    request: &'r Request,
    report: &'r mut R,
    job: impl AsyncFnOnce(&mut Run<'w, 'r, H, R>) -> Result<O, SwitchError>,
) -> Result<(O, Run<'w, 'r, H, R>), SwitchError> {
    let mut run = Run::new(world, request, report);
    run.lock_unless_signalled().await?;
    run.stop_leftover_commands(LEFT_BY_EARLIER).await;
    let result = job(&mut run).await;
    run.stop_leftover_commands(LEFT_BY_THIS).await;
    run.record(result.as_ref().map(drop)).await;
    run.unlock().await;
    result.map(|done| (done, run))
}

/// Makes units, proxy and enablement match the stored state, under the
/// deploy lock (phases lock, read, converge). Returns what it changed.
pub async fn reconcile<H: Host>(
    world: World<'_, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<Vec<String>, SwitchError> {
    let mut run = Run::new(world, request, report);
    run.lock_unless_signalled().await?;
    run.stop_leftover_commands(LEFT_BY_EARLIER).await;
    let converged = race(&request.interrupt, async {
        let mut snapshot = run.read().await?;
        run.converge(&mut snapshot).await
    });
    let result = match converged.await {
        Raced::Done(done) => done,
        Raced::Signalled(signal) => Err(SwitchError::Interrupted {
            signal,
            undone: "part-way: each step it took left things consistent; run `bgctl reconcile` again".into(),
        }),
    };
    run.unlock().await;
    result
}

#[cfg(test)]
mod tests;
