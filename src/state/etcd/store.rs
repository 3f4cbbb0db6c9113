//! The state's data in etcd: one range read, the guarded transaction a
//! flip is (compare on the revision read, and on our lock), the fenced
//! writes of the lock's holder, and the history.

use std::collections::HashMap;

use etcd_client::{Compare, CompareOp, GetOptions, SortOrder, SortTarget, Txn, TxnOp};
use tonic::Code;

use super::EtcdStore;
use super::connect::classify;
use super::members::Tries;
use crate::domain::Color;
use crate::state::{
    Deployment, HISTORY_KEPT, HistoryRecord, Holder, Keys, Snapshot, Staged, StateError, StateStore, Status, Wait,
};

impl EtcdStore {
    /// Every key under the prefix, and the revision of the revision key.
    async fn read_raw(&self) -> Result<(i64, HashMap<String, String>), StateError> {
        let all = self.keys.all();
        let found = self
            .get("read the state", &all, GetOptions::new().with_prefix())
            .await?;
        let mut revision = 0;
        let mut kv = HashMap::new();
        for item in found.kvs() {
            let key = String::from_utf8_lossy(item.key()).into_owned();
            if key == self.keys.revision_key() {
                revision = item.mod_revision();
            }
            kv.insert(key, String::from_utf8_lossy(item.value()).into_owned());
        }
        Ok((revision, kv))
    }

    /// One guarded transaction: `ops` if `key` is at revision `expected` and
    /// the lock is still ours; `Conflict` (or `LockLost`) otherwise. When the
    /// cluster does not answer, the txn may or may not have committed: the
    /// key is read again, and `applied` tells ours from another's change.
    async fn guarded(
        &self,
        operation: &'static str,
        expected: i64,
        ops: Vec<TxnOp>,
        applied: impl Fn(&HashMap<String, String>) -> bool,
    ) -> Result<i64, StateError> {
        let key = self.keys.revision_key();
        let txn = Txn::new()
            .when([
                Compare::mod_revision(key.clone(), CompareOp::Equal, expected),
                self.fence()?,
            ])
            .and_then(ops);
        let mut tries = Tries::new(&self.members);
        let response = loop {
            let sent = async {
                let mut client = self.members.client();
                client.txn(txn.clone()).await.map_err(self.error(operation))
            };
            match tries.within(&self.endpoints, sent).await {
                Err(StateError::Unreachable { .. }) if tries.again().await => {
                    self.members.next();
                    let (now, kv) = self.read_raw().await?;
                    if now != expected {
                        return if applied(&kv) {
                            Ok(now)
                        } else {
                            Err(StateError::Conflict { key, expected })
                        };
                    }
                }
                other => break other?,
            }
        };
        if response.succeeded() {
            let revision = response.header().map(|h| h.revision()).unwrap_or_default();
            tracing::debug!("etcd {operation}: transaction committed at revision {revision}");
            return Ok(revision);
        }
        // Which guard failed: a lost lock is worse news than a moved revision.
        self.check_lock().await?;
        Err(StateError::Conflict { key, expected })
    }

    /// Whether these credentials may write under the prefix, found without
    /// writing: a transaction whose guard never holds (a version below 0)
    /// and whose branch is a put. etcd checks the branch's permission before
    /// it evaluates the guard, so a read-only role is refused and a writer's
    /// put never runs.
    async fn write_access(&self) -> Result<bool, StateError> {
        let key = self.keys.revision_key();
        let txn = Txn::new()
            .when([Compare::version(key.clone(), CompareOp::Less, 0)])
            .and_then([TxnOp::put(key, "", None)]);
        let sent = async {
            let mut client = self.members.client();
            client.txn(txn).await
        };
        let tries = Tries::new(&self.members);
        match tries.within(&self.endpoints, async { Ok(sent.await) }).await? {
            Ok(_) => Ok(true),
            Err(etcd_client::Error::GRpcStatus(s)) if s.code() == Code::PermissionDenied => Ok(false),
            Err(e) => Err(classify(&self.endpoints, "look at write access", e)),
        }
    }

    /// `ops` in one transaction, only while our lock key exists; `LockLost`
    /// otherwise. Idempotent puts, so a try whose answer was lost is sent again.
    async fn fenced(&self, operation: &'static str, ops: Vec<TxnOp>) -> Result<(), StateError> {
        let txn = Txn::new().when([self.fence()?]).and_then(ops);
        let response = self
            .call(operation, |mut c| {
                let txn = txn.clone();
                async move { c.txn(txn).await }
            })
            .await?;
        if response.succeeded() {
            Ok(())
        } else {
            Err(StateError::LockLost(
                "its key is gone: the lease expired or was revoked".into(),
            ))
        }
    }
}

impl StateStore for EtcdStore {
    async fn can_write(&self) -> Result<bool, StateError> {
        self.write_access().await
    }
    async fn lock(&mut self, holder: &Holder, wait: Wait) -> Result<(), StateError> {
        self.acquire(holder, wait).await
    }

    async fn unlock(&mut self) -> Result<(), StateError> {
        self.release().await
    }

    async fn check_lock(&self) -> Result<(), StateError> {
        self.still_held().await
    }

    async fn read(&self) -> Result<Snapshot, StateError> {
        let (revision, kv) = self.read_raw().await?;
        Ok(Snapshot {
            active: self.keys.active(&kv)?,
            images: self.keys.images(&kv),
            staged: self.keys.staged_of(&kv)?,
            probation: self.keys.probation_of(&kv)?,
            revision,
        })
    }

    async fn flip(&self, expected: i64, to: &Deployment) -> Result<i64, StateError> {
        let puts = (self.keys.flip(to).into_iter())
            .map(|(k, v)| TxnOp::put(k, v, None))
            .chain(
                self.keys
                    .cleared_by_flip(to)
                    .into_iter()
                    .map(|k| TxnOp::delete(k, None)),
            )
            .collect();
        let ours = self.keys.flip(to);
        self.guarded("flip", expected, puts, |kv| {
            ours.iter().all(|(k, v)| kv.get(k) == Some(v))
        })
        .await
    }

    async fn retract(&self, expected: i64, color: Color) -> Result<(), StateError> {
        let mut ops: Vec<TxnOp> = self.keys.live().into_iter().map(|k| TxnOp::delete(k, None)).collect();
        ops.push(TxnOp::put(
            self.keys.color_key(color, "status"),
            Status::Stopped.as_str(),
            None,
        ));
        let instance = self.keys.revision_key();
        self.guarded("retract", expected, ops, |kv| !kv.contains_key(&instance))
            .await
            .map(drop)
    }

    async fn set_status(&self, color: Color, status: Status) -> Result<(), StateError> {
        let put = TxnOp::put(self.keys.color_key(color, "status"), status.as_str(), None);
        self.fenced("set a status", vec![put]).await
    }

    async fn set_staged(&self, staged: Option<&Staged>) -> Result<(), StateError> {
        let key = self.keys.staged();
        let op = match staged {
            Some(staged) => TxnOp::put(key, Keys::staged_value(staged), None),
            None => TxnOp::delete(key, None),
        };
        self.fenced("record what is staged", vec![op]).await
    }

    async fn record(&self, record: &HistoryRecord) -> Result<(), StateError> {
        let key = format!("{}{}-{}", self.keys.history(), record.start, record.id);
        let value = serde_json::to_string(record).expect("a history record serialises");
        self.fenced("record history", vec![TxnOp::put(key, value, None)])
            .await?;
        let options = GetOptions::new()
            .with_prefix()
            .with_keys_only()
            .with_sort(SortTarget::Key, SortOrder::Ascend);
        let prefix = self.keys.history();
        let all = self.get("read history", &prefix, options).await?;
        let excess = all.kvs().len().saturating_sub(HISTORY_KEPT);
        for old in &all.kvs()[..excess] {
            self.call("trim history", |mut c| {
                let key = old.key().to_vec();
                async move { c.delete(key, None).await }
            })
            .await?;
        }
        Ok(())
    }

    async fn history(&self) -> Result<Vec<HistoryRecord>, StateError> {
        let options = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Key, SortOrder::Ascend);
        let prefix = self.keys.history();
        let all = self.get("read history", &prefix, options).await?;
        all.kvs()
            .iter()
            .map(|kv| {
                serde_json::from_slice(kv.value()).map_err(|e| StateError::Corrupt {
                    key: String::from_utf8_lossy(kv.key()).into_owned(),
                    value: String::from_utf8_lossy(kv.value()).into_owned(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}
