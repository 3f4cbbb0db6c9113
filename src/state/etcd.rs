//! [`StateStore`] in etcd (v3 API, etcd-client).

use std::collections::HashMap;
use std::time::Duration;

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, GetOptions, Identity, LockOptions, PutOptions, SortOrder,
    SortTarget, TlsOptions, Txn, TxnOp,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::Code;

use super::{HISTORY_KEPT, HistoryRecord, Keys, Snapshot, StateError, StateStore, Status, Wait};
use crate::config::Config;
use crate::domain::Color;

/// Connecting and each request (DESIGN §4: exit 5 in under 10 s).
const TIMEOUT: Duration = Duration::from_secs(5);
/// The lock's lease: a dead holder frees the lock within this (DESIGN §4).
const LEASE_TTL: i64 = 15;
/// Without --wait, how long a lock call may queue behind a holder that
/// appeared between the check and the call.
const NO_WAIT_LIMIT: Duration = Duration::from_secs(1);
/// One renewal attempt: several fit in a TTL.
const RENEW_TIMEOUT: Duration = Duration::from_secs(2);

pub struct EtcdStore {
    client: Client,
    /// Without a request timeout: only for the lock call, which waits.
    lock_client: Client,
    keys: Keys,
    endpoints: String,
    held: Option<Held>,
}

/// The lock while we hold it: its lease, kept alive by a task.
struct Held {
    lease: i64,
    key: Vec<u8>,
    keeper: JoinHandle<()>,
    lost: watch::Receiver<Option<String>>,
}

impl EtcdStore {
    pub async fn connect(config: &Config) -> Result<EtcdStore, StateError> {
        let state = &config.state;
        let endpoints: Vec<String> = state.endpoints.iter().map(|e| e.to_string()).collect();
        let joined = endpoints.join(",");
        let unreachable = |reason: String| StateError::Unreachable {
            endpoints: joined.clone(),
            reason,
        };
        let mut options = ConnectOptions::new().with_connect_timeout(TIMEOUT);
        if let Some(user) = &state.user {
            let password = state.password.as_ref().map(|p| p.to_string()).unwrap_or_default();
            options = options.with_user(user.to_string(), password);
        }
        if let Some(tls) = tls_options(config).map_err(unreachable)? {
            options = options.with_tls(tls);
        }
        let connect = |options: ConnectOptions| async {
            tokio::time::timeout(TIMEOUT, Client::connect(&endpoints, Some(options)))
                .await
                .map_err(|_| unreachable(format!("no answer within {}s", TIMEOUT.as_secs())))?
                .map_err(|e| classify(&joined, "connect", e))
        };
        // The lock call waits as long as the lock is held; every other
        // request times out. A cancelled lock call would have etcd delete
        // our waiting key, possibly after a later call acquired it.
        let lock_client = connect(options.clone()).await?;
        let client = connect(options.with_timeout(TIMEOUT)).await?;
        Ok(EtcdStore {
            client,
            lock_client,
            keys: Keys::new(&config.prefix(), &config.name),
            endpoints: joined,
            held: None,
        })
    }

    fn error(&self, operation: &'static str) -> impl FnOnce(etcd_client::Error) -> StateError + '_ {
        move |e| classify(&self.endpoints, operation, e)
    }

    /// Who holds the lock: the description the oldest lock key's owner wrote
    /// under `lock-holder/<lease>` before it queued.
    async fn holder(&self) -> Result<Option<String>, StateError> {
        let options = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Create, SortOrder::Ascend)
            .with_limit(1);
        let mut client = self.client.clone();
        let found = client.get(format!("{}/", self.keys.lock()), Some(options)).await;
        let found = found.map_err(self.error("read the lock"))?;
        let Some(oldest) = found.kvs().first() else {
            return Ok(None);
        };
        let key = String::from_utf8_lossy(oldest.key()).into_owned();
        let lease = key.rsplit('/').next().unwrap_or_default();
        let said = client.get(self.keys.lock_holder(lease), None).await;
        let said = said.map_err(self.error("read the lock holder"))?;
        Ok(Some(said.kvs().first().map_or_else(
            || format!("a deploy that did not say who it is (lock key {key})"),
            |kv| String::from_utf8_lossy(kv.value()).into_owned(),
        )))
    }

    /// The txn guard that fences writes to our lock: our lock key still
    /// exists, so no other deploy can have taken the lock.
    fn fence(&self) -> Result<Compare, StateError> {
        let held = self
            .held
            .as_ref()
            .ok_or_else(|| StateError::LockLost("the lock is not held".into()))?;
        if let Some(reason) = held.lost.borrow().clone() {
            return Err(StateError::LockLost(reason));
        }
        Ok(Compare::create_revision(held.key.clone(), CompareOp::Greater, 0))
    }

    /// One guarded transaction: `ops` if `key` is at revision `expected` and
    /// the lock is still ours; `Conflict` (or `LockLost`) otherwise.
    async fn guarded(&self, operation: &'static str, expected: i64, ops: Vec<TxnOp>) -> Result<i64, StateError> {
        let key = self.keys.revision_key();
        let txn = Txn::new()
            .when([
                Compare::mod_revision(key.clone(), CompareOp::Equal, expected),
                self.fence()?,
            ])
            .and_then(ops);
        let response = self.client.clone().txn(txn).await.map_err(self.error(operation))?;
        if response.succeeded() {
            return Ok(response.header().map(|h| h.revision()).unwrap_or_default());
        }
        // Which guard failed: a lost lock is worse news than a moved revision.
        self.check_lock().await?;
        Err(StateError::Conflict { key, expected })
    }
}

/// Sorts an etcd error: transport trouble is "unreachable" (exit 5); a
/// refused login or anything else is etcd's answer (exit 1).
fn classify(endpoints: &str, operation: &'static str, e: etcd_client::Error) -> StateError {
    let transport = match &e {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        etcd_client::Error::GRpcStatus(s) => {
            matches!(s.code(), Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled)
        }
        _ => false,
    };
    if transport {
        StateError::Unreachable {
            endpoints: endpoints.to_owned(),
            reason: e.to_string(),
        }
    } else {
        StateError::Etcd {
            operation,
            reason: e.to_string(),
        }
    }
}

fn tls_options(config: &Config) -> Result<Option<TlsOptions>, String> {
    let state = &config.state;
    if state.ca.is_none() && state.cert.is_none() {
        return Ok(None);
    }
    let read = |p: &crate::domain::AbsPath| std::fs::read(p.as_path()).map_err(|e| format!("cannot read {p}: {e}"));
    let mut tls = TlsOptions::new();
    if let Some(ca) = &state.ca {
        tls = tls.ca_certificate(Certificate::from_pem(read(ca)?));
    }
    if let (Some(cert), Some(key)) = (&state.cert, &state.key) {
        tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    Ok(Some(tls))
}

impl StateStore for EtcdStore {
    async fn lock(&mut self, holder: &str, wait: Wait) -> Result<(), StateError> {
        let deadline = match wait {
            Wait::No => Some(tokio::time::Instant::now() + NO_WAIT_LIMIT),
            Wait::Upto(limit) => Some(tokio::time::Instant::now() + limit),
            Wait::Forever => None,
        };
        if wait == Wait::No
            && let Some(holder) = self.holder().await?
        {
            return Err(StateError::Locked {
                key: self.keys.lock(),
                holder,
            });
        }
        let mut client = self.client.clone();
        let lease = client
            .lease_grant(LEASE_TTL, None)
            .await
            .map_err(self.error("grant a lease"))?
            .id();
        let (lost_tx, lost) = watch::channel(None);
        let keeper = tokio::spawn(keep_alive(client.clone(), lease, lost_tx));
        // Say who we are before queueing, so a deploy that finds us holding
        // the lock can always name us (same lease: gone when we are).
        let described = client
            .put(
                self.keys.lock_holder(&format!("{lease:x}")),
                holder,
                Some(PutOptions::new().with_lease(lease)),
            )
            .await;
        if let Err(e) = described {
            keeper.abort();
            let _ = client.lease_revoke(lease).await;
            return Err(self.error("describe the lock holder")(e));
        }
        let name = self.keys.lock();
        // One call, queued until it holds the lock or the deadline passes (a
        // give-up revokes the lease, which removes the queued key with it).
        let mut lock_client = self.lock_client.clone();
        let queued = lock_client.lock(name.clone(), Some(LockOptions::new().with_lease(lease)));
        let locked = match deadline {
            None => queued.await.map_err(self.error("lock")),
            Some(deadline) => match tokio::time::timeout_at(deadline, queued).await {
                Ok(result) => result.map_err(self.error("lock")),
                Err(_) => {
                    let holder = self.holder().await?.unwrap_or_else(|| "another deploy".into());
                    Err(StateError::Locked {
                        key: name.clone(),
                        holder,
                    })
                }
            },
        };
        let key = match locked {
            Ok(response) => response.key().to_vec(),
            Err(e) => {
                keeper.abort();
                let _ = client.lease_revoke(lease).await;
                return Err(e);
            }
        };
        self.held = Some(Held {
            lease,
            key,
            keeper,
            lost,
        });
        Ok(())
    }

    async fn unlock(&mut self) -> Result<(), StateError> {
        let Some(held) = self.held.take() else {
            return Ok(());
        };
        held.keeper.abort();
        let mut client = self.client.clone();
        let _ = client.unlock(held.key).await;
        // Revoking the lease deletes every key bound to it, the lock's included.
        client
            .lease_revoke(held.lease)
            .await
            .map_err(self.error("revoke the lock's lease"))?;
        Ok(())
    }

    async fn read(&self) -> Result<Snapshot, StateError> {
        let found = self
            .client
            .clone()
            .get(self.keys.all(), Some(GetOptions::new().with_prefix()))
            .await;
        let found = found.map_err(self.error("read the state"))?;
        let mut revision = 0;
        let mut kv = HashMap::new();
        for item in found.kvs() {
            let key = String::from_utf8_lossy(item.key()).into_owned();
            if key == self.keys.revision_key() {
                revision = item.mod_revision();
            }
            kv.insert(key, String::from_utf8_lossy(item.value()).into_owned());
        }
        Ok(Snapshot {
            active: self.keys.active(&kv)?,
            images: self.keys.images(&kv),
            revision,
        })
    }

    async fn flip(&self, expected: i64, to: &super::Deployment) -> Result<i64, StateError> {
        let puts = self
            .keys
            .flip(to)
            .into_iter()
            .map(|(k, v)| TxnOp::put(k, v, None))
            .collect();
        self.guarded("flip", expected, puts).await
    }

    async fn retract(&self, expected: i64, color: Color) -> Result<(), StateError> {
        let mut ops: Vec<TxnOp> = self.keys.live().into_iter().map(|k| TxnOp::delete(k, None)).collect();
        ops.push(TxnOp::put(
            self.keys.color_key(color, "status"),
            Status::Stopped.as_str(),
            None,
        ));
        self.guarded("retract", expected, ops).await.map(drop)
    }

    async fn check_lock(&self) -> Result<(), StateError> {
        self.fence()?;
        // Ask etcd, not only the keep-alive task: the key must still exist.
        let held = self.held.as_ref().expect("fence checked it");
        let found = self.client.clone().get(held.key.clone(), None).await;
        match found.map_err(self.error("check the lock"))?.kvs().first() {
            Some(_) => Ok(()),
            None => Err(StateError::LockLost("its key is gone: the lease expired".into())),
        }
    }

    async fn set_status(&self, color: Color, status: Status) -> Result<(), StateError> {
        let key = self.keys.color_key(color, "status");
        self.client
            .clone()
            .put(key, status.as_str(), None)
            .await
            .map_err(self.error("set a status"))?;
        Ok(())
    }

    async fn record(&self, record: &HistoryRecord) -> Result<(), StateError> {
        let mut client = self.client.clone();
        let key = format!("{}{}-{}", self.keys.history(), record.start, record.id);
        let value = serde_json::to_string(record).expect("a history record serialises");
        client
            .put(key, value, None)
            .await
            .map_err(self.error("record history"))?;
        let options = GetOptions::new()
            .with_prefix()
            .with_keys_only()
            .with_sort(SortTarget::Key, SortOrder::Ascend);
        let all = client
            .get(self.keys.history(), Some(options))
            .await
            .map_err(self.error("read history"))?;
        let excess = all.kvs().len().saturating_sub(HISTORY_KEPT);
        for old in &all.kvs()[..excess] {
            client
                .delete(old.key().to_vec(), None)
                .await
                .map_err(self.error("trim history"))?;
        }
        Ok(())
    }

    async fn history(&self) -> Result<Vec<HistoryRecord>, StateError> {
        let options = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Key, SortOrder::Ascend);
        let all = self.client.clone().get(self.keys.history(), Some(options)).await;
        let all = all.map_err(self.error("read history"))?;
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

/// Keeps the lease alive, renewing a third of the TTL after the last
/// success and reopening the stream when it breaks; says why once the
/// lease can no longer be alive.
async fn keep_alive(mut client: Client, lease: i64, lost: watch::Sender<Option<String>>) {
    let ttl = Duration::from_secs(LEASE_TTL as u64);
    let period = ttl / 3;
    let mut last_renewed = tokio::time::Instant::now();
    let mut stream = None;
    loop {
        let next = last_renewed + period;
        tokio::time::sleep_until(next).await;
        if last_renewed.elapsed() >= ttl {
            let _ = lost.send(Some(format!("not renewed for {}s", ttl.as_secs())));
            return;
        }
        if stream.is_none() {
            stream = tokio::time::timeout(RENEW_TIMEOUT, client.lease_keep_alive(lease))
                .await
                .ok()
                .and_then(Result::ok);
        }
        let Some((keeper, responses)) = stream.as_mut() else {
            continue;
        };
        let renewed = async {
            keeper.keep_alive().await?;
            responses.message().await
        };
        match tokio::time::timeout(RENEW_TIMEOUT, renewed).await {
            Ok(Ok(Some(response))) if response.ttl() > 0 => last_renewed = tokio::time::Instant::now(),
            Ok(Ok(Some(_))) => {
                let _ = lost.send(Some("etcd says the lease expired".into()));
                return;
            }
            // A broken stream or a slow etcd: reopen and retry at once.
            _ => stream = None,
        }
    }
}
