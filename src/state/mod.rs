//! The state boundary: which color is live, its history, and the deploy
//! lock, in etcd (DESIGN §6). [`StateStore`] is what the rest of bgctl uses;
//! [`EtcdStore`] is the real one.

mod etcd;
mod file;
mod holder;
mod keys;
mod store;

use serde::{Deserialize, Serialize};

pub use etcd::EtcdStore;
pub use file::FileStore;
pub use holder::{Holder, Place};
pub use keys::Keys;
pub use store::Store;

use crate::domain::{Color, ImageRef, Port};

/// History records kept (DESIGN §6).
pub const HISTORY_KEPT: usize = 50;

/// How long to wait for a held lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Fail at once (switch without --wait).
    No,
    /// Up to this long (reconcile: a dead holder's lease expires in ~15 s).
    Upto(std::time::Duration),
    /// As long as it takes (switch --wait).
    Forever,
}

/// What is live, as the store says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Active {
    pub color: Color,
    pub port: Port,
    /// `None` in a store seeded by the classic recipe, which kept no image.
    pub image: Option<ImageRef>,
    pub url: String,
    pub deployed_at: String,
    pub previous: Option<Color>,
}

/// One read of the store: the live color (`None` before the first deploy)
/// and the revision a flip must still find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub active: Option<Active>,
    /// `mod_revision` of the `instance` key; 0 when it does not exist.
    pub revision: i64,
    /// The image each color last ran (what `rollback` goes back to).
    pub images: std::collections::HashMap<Color, ImageRef>,
    /// The color a `stage` left waiting for `promote`, if any.
    pub staged: Option<Staged>,
    /// Set while the live color's flip is not yet proven.
    pub probation: Option<Probation>,
}

/// A flip not yet proven (the `probation` key): written in the flip's own
/// transaction, cleared once verify and the guard passed. While it is set,
/// what was live before is what counts, so a deploy cut off between its
/// flip and its proof (kill -9, etcd gone during the rollback) is undone by
/// the next converge, never made live by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probation {
    /// The deploy that flipped.
    pub deploy_id: String,
    /// What was live before the flip (none on a first deploy).
    pub back_to: Option<Active>,
}

/// A color started, healthy and checked, reachable only on the preview,
/// waiting for `promote` or `discard` (the `staged` key of DESIGN §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub color: Color,
    pub image: ImageRef,
    /// The stage that started it.
    pub deploy_id: String,
    /// When it was staged (RFC 3339).
    pub since: String,
}

/// What a flip makes live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub color: Color,
    pub port: Port,
    pub url: String,
    pub image: ImageRef,
    pub previous: Option<Color>,
    pub deployed_at: String,
    /// Written with the flip (`Some`), or cleared by it (`None`).
    pub probation: Option<Probation>,
}

/// A color's `status` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Stopped => "stopped",
        }
    }
}

/// One deploy, as kept under `history/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub id: String,
    pub from: Option<String>,
    pub to: String,
    pub image: String,
    pub start: String,
    pub end: String,
    pub result: String,
    /// (phase, milliseconds) of the phases that finished, in order.
    pub phases: Vec<(String, u64)>,
    /// switch, rollback, stage, promote or discard (a record written before
    /// there was more than switch says none: it was one).
    #[serde(default = "switch_command")]
    pub command: String,
    /// The configured commands it ran (`[checks] command`, the hooks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandRecord>,
    /// What `[guard]` counted, when it watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<crate::guard::Figures>,
}

fn switch_command() -> String {
    "switch".into()
}

/// One configured command a deploy ran, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// check, pre_flip or post_switch.
    pub hook: String,
    pub command: String,
    /// `exit 0`, `exit 1`, `timed out after 60s, killed`, `cannot run: …`.
    pub result: String,
    pub ms: u64,
}

impl From<&crate::exec::Ran> for CommandRecord {
    fn from(ran: &crate::exec::Ran) -> CommandRecord {
        CommandRecord {
            hook: ran.hook.to_string(),
            command: ran.command.clone(),
            result: ran.ending.to_string(),
            ms: ran.took.as_millis() as u64,
        }
    }
}

impl HistoryRecord {
    /// The `result` of a deploy that did what was asked.
    pub const OK: &'static str = "ok";

    pub fn succeeded(&self) -> bool {
        self.result == Self::OK
    }

    /// A deploy that made `to` live: a good switch, rollback or promote
    /// (a stage or a discard never does).
    pub fn made_live(&self) -> bool {
        self.succeeded() && !matches!(self.command.as_str(), "stage" | "discard")
    }

    /// From start to end, the failed phase and any undo included (the
    /// finished phases' sum when the times do not parse).
    pub fn duration_ms(&self) -> u64 {
        let at = |t: &str| humantime::parse_rfc3339(t).ok();
        match (at(&self.start), at(&self.end)) {
            (Some(start), Some(end)) => end.duration_since(start).map_or(0, |d| d.as_millis() as u64),
            _ => self.phases.iter().map(|(_, ms)| ms).sum(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot reach etcd at {endpoints}: {reason}. Is etcd running? Are [state] endpoints right?")]
    Unreachable { endpoints: String, reason: String },
    #[error("another deploy holds the lock {key}: {holder}. Wait for it, or pass --wait")]
    Locked { key: String, holder: String },
    #[error(
        "the state changed while this deploy ran (expected revision {expected} of {key}): another writer; nothing was flipped"
    )]
    Conflict { key: String, expected: i64 },
    #[error("etcd {operation}: {reason}")]
    Etcd { operation: &'static str, reason: String },
    #[error("state file: {operation}: {reason}")]
    File { operation: &'static str, reason: String },
    #[error("state key {key} holds {value:?}: {reason}")]
    Corrupt { key: String, value: String, reason: String },
    #[error("lost the deploy lock: its lease could not be kept alive ({0})")]
    LockLost(String),
    #[error("[state] {key} = {path}: {reason}. Fix {key} in the config")]
    Tls {
        key: &'static str,
        path: String,
        reason: String,
    },
}

/// The state store as bgctl needs it.
#[allow(async_fn_in_trait)] // used through generics, never as `dyn`
pub trait StateStore {
    /// Takes the deploy lock, bound to a lease kept alive until `unlock` (or
    /// until this process dies: then the lease expires and frees it). A held
    /// lock fails with `Locked` at once, or once `wait` has passed.
    async fn lock(&mut self, holder: &Holder, wait: Wait) -> Result<(), StateError>;

    /// Gives the lock back.
    async fn unlock(&mut self) -> Result<(), StateError>;

    /// Fails with `LockLost` unless the lock is still ours: checked before
    /// every step that changes the world.
    async fn check_lock(&self) -> Result<(), StateError>;

    async fn read(&self) -> Result<Snapshot, StateError>;

    /// Makes `to` live in one transaction, if the `instance` key still has
    /// revision `expected` and the lock is still ours; `Conflict` (or
    /// `LockLost`) otherwise, with nothing written.
    async fn flip(&self, expected: i64, to: &Deployment) -> Result<i64, StateError>;

    /// Undoes a first deploy's flip: no color is live again, if the
    /// `instance` key still has revision `expected`.
    async fn retract(&self, expected: i64, color: Color) -> Result<(), StateError>;

    async fn set_status(&self, color: Color, status: Status) -> Result<(), StateError>;

    /// Records what is staged (`None`: nothing), fenced on the lock. A flip
    /// clears it in its own transaction.
    async fn set_staged(&self, staged: Option<&Staged>) -> Result<(), StateError>;

    /// Adds a history record and trims to the newest [`HISTORY_KEPT`].
    async fn record(&self, record: &HistoryRecord) -> Result<(), StateError>;

    /// History, oldest first.
    async fn history(&self) -> Result<Vec<HistoryRecord>, StateError>;

    /// Whether these credentials may write the state (`doctor`'s role
    /// check); a store without users always may.
    async fn can_write(&self) -> Result<bool, StateError> {
        Ok(true)
    }
}
