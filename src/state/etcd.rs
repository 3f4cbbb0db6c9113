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

use super::{HISTORY_KEPT, HistoryRecord, Keys, Snapshot, StateError, StateStore, Status};
use crate::config::Config;
use crate::domain::Color;

/// Connecting and each request (DESIGN §4: exit 5 in under 10 s).
const TIMEOUT: Duration = Duration::from_secs(5);
/// The lock's lease: a dead holder frees the lock within this (DESIGN §4).
const LEASE_TTL: i64 = 15;
/// Without --wait, how long a lock call may queue behind a holder that
/// appeared between the check and the call.
const NO_WAIT_LIMIT: Duration = Duration::from_secs(1);
/// With --wait, one round of queueing; shorter than the request timeout so
/// the wait is ours to renew, not a transport error.
const WAIT_ROUND: Duration = Duration::from_secs(4);

pub struct EtcdStore {
    client: Client,
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
        let mut options = ConnectOptions::new()
            .with_connect_timeout(TIMEOUT)
            .with_timeout(TIMEOUT);
        if let Some(user) = &state.user {
            let password = state.password.as_ref().map(|p| p.to_string()).unwrap_or_default();
            options = options.with_user(user.to_string(), password);
        }
        if let Some(tls) = tls_options(config).map_err(unreachable)? {
            options = options.with_tls(tls);
        }
        let client = tokio::time::timeout(TIMEOUT, Client::connect(&endpoints, Some(options)))
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(EtcdStore {
            client,
            keys: Keys::new(&config.prefix(), &config.name),
            endpoints: joined,
            held: None,
        })
    }

    /// Sorts an etcd error: transport trouble is "unreachable" (exit 5).
    fn error(&self, operation: &'static str) -> impl FnOnce(etcd_client::Error) -> StateError + '_ {
        move |e| {
            let transport = match &e {
                etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
                etcd_client::Error::GRpcStatus(s) => {
                    matches!(s.code(), Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled)
                }
                _ => false,
            };
            if transport {
                StateError::Unreachable {
                    endpoints: self.endpoints.clone(),
                    reason: e.to_string(),
                }
            } else {
                StateError::Etcd {
                    operation,
                    reason: e.to_string(),
                }
            }
        }
    }

    /// The value of the oldest key under the lock: who holds it.
    async fn holder(&self) -> Result<Option<String>, StateError> {
        let options = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Create, SortOrder::Ascend)
            .with_limit(1);
        let found = self
            .client
            .clone()
            .get(format!("{}/", self.keys.lock()), Some(options))
            .await;
        let found = found.map_err(self.error("read the lock"))?;
        Ok(found.kvs().first().map(|kv| {
            let v = String::from_utf8_lossy(kv.value()).into_owned();
            if v.is_empty() {
                "a deploy that has not said who it is yet".into()
            } else {
                v
            }
        }))
    }

    fn check_held(&self) -> Result<(), StateError> {
        match &self.held {
            Some(held) => match held.lost.borrow().clone() {
                Some(reason) => Err(StateError::LockLost(reason)),
                None => Ok(()),
            },
            None => Ok(()),
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
    async fn lock(&mut self, holder: &str, wait: bool) -> Result<(), StateError> {
        if !wait && let Some(holder) = self.holder().await? {
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
        let name = self.keys.lock();
        let locked = loop {
            let limit = if wait { WAIT_ROUND } else { NO_WAIT_LIMIT };
            let options = LockOptions::new().with_lease(lease);
            match tokio::time::timeout(limit, client.lock(name.clone(), Some(options))).await {
                Ok(result) => break result.map_err(self.error("lock")),
                // Queued behind a holder; with --wait keep queueing (the same
                // lease makes it one acquisition), without it give up.
                Err(_) if wait => continue,
                Err(_) => {
                    break Err(StateError::Locked {
                        key: name.clone(),
                        holder: self.holder().await?.unwrap_or_else(|| "another deploy".into()),
                    });
                }
            }
        };
        let key = match locked {
            Ok(response) => response.key().to_vec(),
            Err(e) => {
                keeper.abort();
                let _ = client.lease_revoke(lease).await;
                return Err(e);
            }
        };
        // Say who holds it, on the lock key itself (same lease).
        client
            .put(key.clone(), holder, Some(PutOptions::new().with_lease(lease)))
            .await
            .map_err(self.error("describe the lock holder"))?;
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
            if key == self.keys.color() {
                revision = item.mod_revision();
            }
            kv.insert(key, String::from_utf8_lossy(item.value()).into_owned());
        }
        Ok(Snapshot {
            active: self.keys.active(&kv)?,
            revision,
        })
    }

    async fn flip(&self, expected: i64, to: &super::Deployment) -> Result<i64, StateError> {
        self.check_held()?;
        let color = self.keys.color();
        let puts: Vec<TxnOp> = self
            .keys
            .flip(to)
            .into_iter()
            .map(|(k, v)| TxnOp::put(k, v, None))
            .collect();
        // A missing key compares as revision 0: the first deploy's case.
        let txn = Txn::new()
            .when([Compare::mod_revision(color.clone(), CompareOp::Equal, expected)])
            .and_then(puts);
        let response = self.client.clone().txn(txn).await.map_err(self.error("flip"))?;
        if !response.succeeded() {
            return Err(StateError::Conflict { key: color, expected });
        }
        Ok(response.header().map(|h| h.revision()).unwrap_or_default())
    }

    async fn retract(&self, expected: i64, color: Color) -> Result<(), StateError> {
        self.check_held()?;
        let key = self.keys.color();
        let mut ops: Vec<TxnOp> = self.keys.live().into_iter().map(|k| TxnOp::delete(k, None)).collect();
        ops.push(TxnOp::put(
            self.keys.color_key(color, "status"),
            Status::Stopped.as_str(),
            None,
        ));
        let txn = Txn::new()
            .when([Compare::mod_revision(key.clone(), CompareOp::Equal, expected)])
            .and_then(ops);
        let response = self.client.clone().txn(txn).await.map_err(self.error("retract"))?;
        if response.succeeded() {
            Ok(())
        } else {
            Err(StateError::Conflict { key, expected })
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

/// Keeps the lease alive at a third of its TTL; says why if it cannot.
async fn keep_alive(mut client: Client, lease: i64, lost: watch::Sender<Option<String>>) {
    let (mut keeper, mut stream) = match client.lease_keep_alive(lease).await {
        Ok(pair) => pair,
        Err(e) => {
            let _ = lost.send(Some(e.to_string()));
            return;
        }
    };
    let period = Duration::from_secs((LEASE_TTL / 3) as u64);
    loop {
        let alive = async {
            keeper.keep_alive().await?;
            stream.message().await
        };
        match tokio::time::timeout(TIMEOUT, alive).await {
            Ok(Ok(Some(response))) if response.ttl() > 0 => {}
            Ok(Ok(_)) => {
                let _ = lost.send(Some("the lease expired".into()));
                return;
            }
            Ok(Err(e)) => {
                let _ = lost.send(Some(e.to_string()));
                return;
            }
            Err(_) => {} // etcd slow: try again; the TTL leaves room for two misses
        }
        tokio::time::sleep(period).await;
    }
}
