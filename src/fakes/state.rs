//! The state store, in memory, with the faults a test asks for.

use super::*;

pub(crate) struct FakeState<'a> {
    pub(crate) log: &'a Log,
    pub(crate) active: RefCell<Option<Active>>,
    pub(crate) revision: Cell<i64>,
    pub(crate) holder: Option<String>,
    pub(crate) history: RefCell<Vec<HistoryRecord>>,
    /// Another writer moved the revision: every flip conflicts.
    pub(crate) conflict: Cell<bool>,
    /// What another deploy made live while this one waited for the lock.
    pub(crate) on_lock: Option<(Active, HistoryRecord)>,
    pub(crate) staged: RefCell<Option<Staged>>,
    pub(crate) probation: RefCell<Option<Probation>>,
    /// The lock's lease expires as soon as a flip is proven (after the guard).
    pub(crate) lose_lock_once_proven: bool,
    pub(crate) lock_lost: Cell<bool>,
    /// Credentials that may only read (a proxy host's role).
    pub(crate) read_only: bool,
}

impl<'a> FakeState<'a> {
    /// A store where `active` is live (nothing: no deploy yet), unlocked.
    pub(crate) fn with(log: &'a Log, active: Option<Active>) -> Self {
        FakeState {
            log,
            revision: Cell::new(if active.is_some() { 7 } else { 0 }),
            active: RefCell::new(active),
            holder: None,
            history: RefCell::new(Vec::new()),
            conflict: Cell::new(false),
            on_lock: None,
            staged: RefCell::new(None),
            probation: RefCell::new(None),
            lose_lock_once_proven: false,
            lock_lost: Cell::new(false),
            read_only: false,
        }
    }
}

impl StateStore for FakeState<'_> {
    async fn can_write(&self) -> Result<bool, StateError> {
        Ok(!self.read_only)
    }
    async fn lock(&mut self, _: &Holder, _: Wait) -> Result<(), StateError> {
        match &self.holder {
            Some(holder) => Err(StateError::Locked {
                key: "/t/lock".into(),
                holder: holder.clone(),
            }),
            None => {
                self.log.push("lock".into());
                if let Some((active, record)) = self.on_lock.take() {
                    *self.active.borrow_mut() = Some(active);
                    self.revision.set(self.revision.get() + 1);
                    self.history.borrow_mut().push(record);
                }
                Ok(())
            }
        }
    }
    async fn unlock(&mut self) -> Result<(), StateError> {
        self.log.push("unlock".into());
        Ok(())
    }
    async fn check_lock(&self) -> Result<(), StateError> {
        match self.lock_lost.get() {
            true => Err(StateError::LockLost("its key is gone: the lease expired".into())),
            false => Ok(()),
        }
    }
    async fn read(&self) -> Result<Snapshot, StateError> {
        Ok(Snapshot {
            active: self.active.borrow().clone(),
            revision: self.revision.get(),
            images: HashMap::new(),
            staged: self.staged.borrow().clone(),
            probation: self.probation.borrow().clone(),
        })
    }
    async fn flip(&self, expected: i64, to: &Deployment) -> Result<i64, StateError> {
        if self.conflict.get() || expected != self.revision.get() {
            return Err(StateError::Conflict {
                key: "/t/color".into(),
                expected,
            });
        }
        let live = self.active.borrow().as_ref().map(|a| a.color);
        let proven = to.probation.is_none() && self.probation.borrow().is_some() && live == Some(to.color);
        self.check_lock().await?;
        self.log
            .push(format!("{} {}", if proven { "prove" } else { "flip" }, to.color));
        self.lock_lost.set(proven && self.lose_lock_once_proven);
        *self.staged.borrow_mut() = None;
        *self.probation.borrow_mut() = to.probation.clone();
        *self.active.borrow_mut() = Some(Active {
            color: to.color,
            port: to.port,
            image: Some(to.image.clone()),
            url: to.url.clone(),
            deployed_at: to.deployed_at.clone(),
            previous: to.previous,
        });
        self.revision.set(expected + 1);
        Ok(expected + 1)
    }
    async fn retract(&self, _: i64, color: Color) -> Result<(), StateError> {
        self.log.push(format!("retract {color}"));
        *self.active.borrow_mut() = None;
        *self.probation.borrow_mut() = None;
        Ok(())
    }
    async fn set_status(&self, color: Color, status: Status) -> Result<(), StateError> {
        self.log.push(format!("status {color} {}", status.as_str()));
        Ok(())
    }
    async fn set_staged(&self, staged: Option<&Staged>) -> Result<(), StateError> {
        self.log
            .push(staged.map_or("unstage".into(), |s| format!("stage {}", s.color)));
        *self.staged.borrow_mut() = staged.cloned();
        Ok(())
    }
    async fn record(&self, record: &HistoryRecord) -> Result<(), StateError> {
        self.history.borrow_mut().push(record.clone());
        Ok(())
    }
    async fn history(&self) -> Result<Vec<HistoryRecord>, StateError> {
        Ok(self.history.borrow().clone())
    }
}
