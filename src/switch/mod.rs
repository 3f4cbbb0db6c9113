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
//! One file per idea: [`run`] (the run under the lock, and the helpers that
//! change a color), [`converge`], [`phases`] (start … stop), [`guard`]
//! (the new color's real traffic, watched), [`staged`]
//! (stage, promote, discard), [`undo`] (a failure after the flip),
//! [`rollback`] (its target), [`history`].

mod clock;
mod converge;
mod error;
mod guard;
mod history;
mod phase;
mod phases;
mod rollback;
mod run;
mod staged;
mod undo;

use std::time::Duration;

pub use clock::now_rfc3339;
pub use error::SwitchError;
pub use phase::Phase;

use crate::config::Config;
use crate::docker::Docker;
use crate::domain::{Color, ImageRef};
use crate::exec::Ran;
use crate::guard::{Figures, Tally};
use crate::health::Probe;
use crate::proxy::Proxy;
use crate::state::{CommandRecord, Holder, Staged, StateStore, Wait};
use crate::systemd::Systemd;
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

/// The boundaries a switch works through.
pub struct World<'a, S, D, T, P, H> {
    pub config: &'a Config,
    pub systemd: &'a S,
    pub docker: &'a D,
    pub state: &'a mut T,
    pub proxy: &'a P,
    pub probe: &'a H,
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
}

/// Runs one switch under the deploy lock and records it in the history.
/// It first converges, so an interrupted switch is healed before a new one
/// starts.
pub async fn switch<S, D, T, P, H>(
    world: World<'_, S, D, T, P, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<Outcome, SwitchError>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
{
    let ((), run) = recorded(world, request, report, async |run| run.deploy().await).await?;
    Ok(run.outcome())
}

/// `stage`: the switch up to its checks; the new color is left running,
/// reachable on the preview only, and recorded as staged.
pub async fn stage<S, D, T, P, H>(
    world: World<'_, S, D, T, P, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<(Staged, Outcome), SwitchError>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
{
    let (staged, run) = recorded(world, request, report, async |run| run.stage().await).await?;
    Ok((staged, run.outcome()))
}

/// `promote`: the rest of the switch (flip … stop) for the staged color.
pub async fn promote<S, D, T, P, H>(
    world: World<'_, S, D, T, P, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<Outcome, SwitchError>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
{
    let ((), run) = recorded(world, request, report, async |run| run.promote().await).await?;
    Ok(run.outcome())
}

/// `discard`: stops the staged color; returns what was staged (`None`:
/// nothing was, and nothing was done).
pub async fn discard<S, D, T, P, H>(
    world: World<'_, S, D, T, P, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<Option<Staged>, SwitchError>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
{
    let (staged, _) = recorded(world, request, report, async |run| run.discard().await).await?;
    Ok(staged)
}

/// Runs `job` under the deploy lock and records it in the history; gives
/// the run back for what it did.
async fn recorded<'w, 'r, S, D, T, P, H, R, O>(
    world: World<'w, S, D, T, P, H>,
    request: &'r Request,
    report: &'r mut R,
    job: impl AsyncFnOnce(&mut Run<'w, 'r, S, D, T, P, H, R>) -> Result<O, SwitchError>,
) -> Result<(O, Run<'w, 'r, S, D, T, P, H, R>), SwitchError>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
    R: Report,
{
    let mut run = Run::new(world, request, report);
    run.lock().await?;
    let result = job(&mut run).await;
    run.record(result.as_ref().map(drop)).await;
    run.unlock().await;
    result.map(|done| (done, run))
}

/// Makes units, proxy and enablement match the stored state, under the
/// deploy lock (phases lock, read, converge). Returns what it changed.
pub async fn reconcile<S, D, T, P, H>(
    world: World<'_, S, D, T, P, H>,
    request: &Request,
    report: &mut impl Report,
) -> Result<Vec<String>, SwitchError>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
{
    let mut run = Run::new(world, request, report);
    run.lock().await?;
    let result = async {
        let snapshot = run.read().await?;
        run.converge(&snapshot).await
    }
    .await;
    run.unlock().await;
    result
}

#[cfg(test)]
mod tests;
