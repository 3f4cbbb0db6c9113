//! The configured store, whichever backend: one type, so every command
//! opens its state the same way.

use super::{
    Deployment, EtcdStore, FileStore, HistoryRecord, Holder, Snapshot, Staged, StateError, StateStore, Status, Wait,
};
use crate::config::{Backend, Config};
use crate::domain::Color;

/// How often `proxy sync --watch` reads a state file again.
const FILE_LOOK: std::time::Duration = std::time::Duration::from_secs(1);

pub enum Store {
    Etcd(EtcdStore),
    File(FileStore),
}

impl Store {
    /// Connects to etcd, or opens the state file, as `[state] backend` says.
    pub async fn open(config: &Config) -> Result<Store, StateError> {
        Ok(match config.state.backend {
            Backend::Etcd => Store::Etcd(EtcdStore::connect(config).await?),
            Backend::File => Store::File(FileStore::open(config)),
        })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Etcd(_) => "etcd",
            Store::File(_) => "file",
        }
    }

    /// Waits until the state may have changed after `after`, at most
    /// `limit` (see [`EtcdStore::wait_change`]). A state file is looked at
    /// again every second, so its "change" is only that.
    pub async fn wait_change(&self, after: i64, limit: std::time::Duration) -> Result<Option<i64>, StateError> {
        match self {
            Store::Etcd(s) => s.wait_change(after, limit).await,
            Store::File(_) => {
                tokio::time::sleep(limit.min(FILE_LOOK)).await;
                Ok(Some(after))
            }
        }
    }

    /// Where the state lives: etcd's endpoints, or the file's path.
    pub fn location(&self) -> String {
        match self {
            Store::Etcd(s) => s.endpoints().to_owned(),
            Store::File(s) => s.path().display().to_string(),
        }
    }
}

/// Calls `$call` on whichever store this is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Etcd($s) => $call,
            Store::File($s) => $call,
        }
    };
}

impl StateStore for Store {
    async fn can_write(&self) -> Result<bool, StateError> {
        each!(self, s => s.can_write().await)
    }
    async fn lock(&mut self, holder: &Holder, wait: Wait) -> Result<(), StateError> {
        each!(self, s => s.lock(holder, wait).await)
    }
    async fn unlock(&mut self) -> Result<(), StateError> {
        each!(self, s => s.unlock().await)
    }
    async fn check_lock(&self) -> Result<(), StateError> {
        each!(self, s => s.check_lock().await)
    }
    async fn read(&self) -> Result<Snapshot, StateError> {
        each!(self, s => s.read().await)
    }
    async fn flip(&self, expected: i64, to: &Deployment) -> Result<i64, StateError> {
        each!(self, s => s.flip(expected, to).await)
    }
    async fn retract(&self, expected: i64, color: Color) -> Result<(), StateError> {
        each!(self, s => s.retract(expected, color).await)
    }
    async fn set_status(&self, color: Color, status: Status) -> Result<(), StateError> {
        each!(self, s => s.set_status(color, status).await)
    }
    async fn set_staged(&self, staged: Option<&Staged>) -> Result<(), StateError> {
        each!(self, s => s.set_staged(staged).await)
    }
    async fn record(&self, record: &HistoryRecord) -> Result<(), StateError> {
        each!(self, s => s.record(record).await)
    }
    async fn history(&self) -> Result<Vec<HistoryRecord>, StateError> {
        each!(self, s => s.history().await)
    }
}
