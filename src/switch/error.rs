//! What can go wrong in a switch, with what it left behind.

use super::Signal;
use crate::checks::CheckFailure;
use crate::docker::DockerError;
use crate::domain::{AbsPath, Color, UnitName};
use crate::files::FilesError;
use crate::guard::Figures;
use crate::health::HealthError;
use crate::proxy::ProxyError;
use crate::render::RenderError;
use crate::state::{Staged, StateError};
use crate::systemd::SystemdError;

#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error("{0} is already live: switch to {other}, or leave --to out", other = .0.other())]
    AlreadyLive(Color),
    #[error(
        "{unit} never became healthy, so it was stopped and nothing else changed: {source}{}{}",
        lines("its journal", journal),
        lines("Docker's health log (oldest first)", log)
    )]
    Unhealthy {
        unit: UnitName,
        source: Box<HealthError>,
        journal: Vec<String>,
        log: Vec<String>,
    },
    #[error(
        "{unit} did not start, so nothing else changed: {source}{}",
        lines("its journal", journal)
    )]
    StartFailed {
        unit: UnitName,
        source: SystemdError,
        journal: Vec<String>,
    },
    #[error("{unit}: {source}, before the old color stopped{}", lines("its journal", journal))]
    NewColorLost {
        unit: UnitName,
        source: Box<HealthError>,
        journal: Vec<String>,
    },
    #[error(
        "{unit} failed users' requests after the switch: [guard] tripped on {figures}{}",
        lines("its journal", journal)
    )]
    GuardTripped {
        unit: UnitName,
        figures: Box<Figures>,
        journal: Vec<String>,
    },
    #[error(
        "[guard] saw not one request in {log} ({figures}): nginx does not write it. An `access_log off;` at nginx's http level turns it off (use `access_log /dev/null;` there instead); or set [guard] log, or window = \"0s\""
    )]
    GuardBlind { log: AbsPath, figures: Box<Figures> },
    #[error(
        "{unit} failed its checks, so it was stopped and nothing else changed: {failure}{}",
        lines("its output (last lines)", &failure.output)
    )]
    ChecksFailed { unit: UnitName, failure: Box<CheckFailure> },
    #[error(
        "{} is staged with {} (deploy {}): `bgctl promote` makes it live, `bgctl discard` stops it; deploy again after either",
        .0.color, .0.image, .0.deploy_id
    )]
    AlreadyStaged(Box<Staged>),
    #[error("nothing is staged to promote{}: run `bgctl stage` first", dropped.as_ref().map(|d| format!(" ({d}, so it was stopped)")).unwrap_or_default())]
    NothingStaged { dropped: Option<String> },
    #[error(
        "staged {color} is not healthy any more, so nothing moved: {source}. `bgctl discard` stops it; `bgctl stage` starts again"
    )]
    StagedUnhealthy { color: Color, source: Box<HealthError> },
    #[error("refused, nothing was started: {0}")]
    ImageNotAllowed(crate::config::Problem),
    #[error("no earlier deploy to roll back to: the state names no previous color, or not its image")]
    NothingToRollBack,
    #[error("{color} is live by the state, but it is not healthy, so nothing else was touched: {source}")]
    LiveUnhealthy { color: Color, source: Box<HealthError> },
    #[error(
        "{to} is live (verify and the guard passed), but the deploy lock was lost before the switch finished: {source}. The old color may still run and [hooks] post_switch did not run; `bgctl reconcile` finishes it"
    )]
    LockLostAfterFlip { to: Color, source: StateError },
    #[error("interrupted by {signal} {undone}")]
    Interrupted { signal: Signal, undone: String },
    #[error("{failure}\nrolled back: {restored}")]
    RolledBack {
        failure: Box<SwitchError>,
        restored: String,
    },
    #[error("{failure}\nthe rollback failed too: {rollback}\nfix the cause, then run `bgctl switch` again")]
    RollbackFailed {
        failure: Box<SwitchError>,
        rollback: Box<SwitchError>,
    },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Systemd(#[from] SystemdError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl SwitchError {
    /// The signal that stopped the run, when one did and what it cut off
    /// was undone.
    pub fn signal(&self) -> Option<Signal> {
        match self {
            SwitchError::Interrupted { signal, .. } => Some(*signal),
            SwitchError::RolledBack { failure, .. } => failure.signal(),
            _ => None,
        }
    }

    /// The color's own failure, or the boundary that failed while looking at
    /// it (systemd or dockerd gone): that one is the switch's error as it is.
    pub(super) fn from_health(e: HealthError) -> Result<HealthError, SwitchError> {
        match e {
            HealthError::Systemd(e) => Err(e.into()),
            HealthError::Docker(e) => Err(e.into()),
            sick => Ok(sick),
        }
    }

    /// The new color failed because docker could not run its container at
    /// all (exit 125-127 of `docker run`), not because the app did.
    pub fn docker_refused(&self) -> bool {
        let state = match self {
            SwitchError::StartFailed {
                source: SystemdError::FailedAfterStart { state, .. },
                ..
            } => state,
            SwitchError::Unhealthy { source, .. } => match source.as_ref() {
                HealthError::UnitFailed { state, .. } => state,
                _ => return false,
            },
            _ => return false,
        };
        state.docker_refused()
    }
}

/// A titled, indented block of lines for an error message; nothing when empty.
fn lines(title: &str, lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let indented: Vec<String> = lines.iter().map(|l| format!("  {l}")).collect();
    format!("\n{title}:\n{}", indented.join("\n"))
}
