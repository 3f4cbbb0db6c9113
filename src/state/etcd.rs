//! [`StateStore`] in etcd (v3 API, etcd-client).

use std::collections::HashMap;
use std::time::Duration;

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, GetOptions, Identity, LockOptions, PutOptions, SortOrder,
    SortTarget, TlsOptions, Txn, TxnOp,
};
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::Code;

use super::{HISTORY_KEPT, HistoryRecord, Keys, Snapshot, StateError, StateStore, Status, Wait};
use crate::config::Config;
use crate::domain::Color;

/// Connecting, and each request (DESIGN §4: exit 5 in under 10 s).
const TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// The pause before a request goes to the next member.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// The lock's lease: a dead holder frees the lock within this (DESIGN §4).
const LEASE_TTL: i64 = 15;
/// Without --wait, how long a lock call may queue behind a holder that
/// appeared between the check and the call.
const NO_WAIT_LIMIT: Duration = Duration::from_secs(1);
/// One renewal attempt: several fit in a TTL.
const RENEW_TIMEOUT: Duration = Duration::from_secs(2);

pub struct EtcdStore {
    members: Members,
    keys: Keys,
    endpoints: String,
    held: Option<Held>,
}

/// A client per cluster member, and the one in use: etcd-client's balanced
/// channel keeps sending to a member that died, so bgctl moves on itself.
struct Members {
    /// (requests with a timeout, the lock call without one)
    clients: Vec<(Client, Client)>,
    current: AtomicUsize,
}

impl Members {
    fn client(&self) -> Client {
        self.clients[self.current.load(Ordering::Relaxed)].0.clone()
    }

    /// Without a request timeout: only for the lock call, which waits.
    fn lock_client(&self) -> Client {
        self.clients[self.current.load(Ordering::Relaxed)].1.clone()
    }

    /// The member in use did not answer: the next one.
    fn next(&self) {
        let n = self.clients.len();
        let _ = self
            .current
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| Some((c + 1) % n));
    }

    /// One try per member, and one more.
    fn attempts(&self) -> usize {
        self.clients.len() + 1
    }
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
        // The lock call waits as long as the lock is held; every other
        // request times out. A cancelled lock call would have etcd delete
        // our waiting key, possibly after a later call acquired it.
        let mut clients = Vec::new();
        let mut failure = None;
        for endpoint in &endpoints {
            let pair = async {
                let requests = connect(endpoint, options.clone().with_timeout(REQUEST_TIMEOUT), &joined).await?;
                Ok::<_, StateError>((requests, connect(endpoint, options.clone(), &joined).await?))
            };
            match pair.await {
                Ok(pair) => clients.push(pair),
                Err(e) => failure = Some(e),
            }
        }
        if clients.is_empty() {
            return Err(failure.unwrap_or_else(|| unreachable("no endpoints".into())));
        }
        Ok(EtcdStore {
            members: Members {
                clients,
                current: AtomicUsize::new(0),
            },
            keys: Keys::new(&config.prefix(), &config.name),
            endpoints: joined,
            held: None,
        })
    }

    fn error(&self, operation: &'static str) -> impl FnOnce(etcd_client::Error) -> StateError + '_ {
        move |e| classify(&self.endpoints, operation, e)
    }

    /// One idempotent request, tried again when the cluster did not answer
    /// (a member died and the next try goes to another): up to `ATTEMPTS`.
    async fn call<T, F, Fut>(&self, operation: &'static str, mut request: F) -> Result<T, StateError>
    where
        F: FnMut(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let mut attempt = 1;
        loop {
            match request(self.members.client()).await.map_err(self.error(operation)) {
                Err(StateError::Unreachable { .. }) if attempt < self.members.attempts() => {
                    attempt += 1;
                    self.members.next();
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                result => return result,
            }
        }
    }

    /// Who holds the lock: the description the oldest lock key's owner wrote
    /// under `lock-holder/<lease>` before it queued.
    async fn holder(&self) -> Result<Option<String>, StateError> {
        let options = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Create, SortOrder::Ascend)
            .with_limit(1);
        let prefix = format!("{}/", self.keys.lock());
        let found = self
            .call("read the lock", |mut c| {
                let (prefix, options) = (prefix.clone(), options.clone());
                async move { c.get(prefix, Some(options)).await }
            })
            .await?;
        let Some(oldest) = found.kvs().first() else {
            return Ok(None);
        };
        let key = String::from_utf8_lossy(oldest.key()).into_owned();
        let lease = key.rsplit('/').next().unwrap_or_default();
        let holder_key = self.keys.lock_holder(lease);
        let said = self
            .call("read the lock holder", |mut c| {
                let key = holder_key.clone();
                async move { c.get(key, None).await }
            })
            .await?;
        Ok(Some(said.kvs().first().map_or_else(
            || format!("a deploy that did not say who it is (lock key {key})"),
            |kv| String::from_utf8_lossy(kv.value()).into_owned(),
        )))
    }

    /// Every key under the prefix, and the revision of the revision key.
    async fn read_raw(&self) -> Result<(i64, HashMap<String, String>), StateError> {
        let all = self.keys.all();
        let found = self
            .call("read the state", |mut c| {
                let all = all.clone();
                async move { c.get(all, Some(GetOptions::new().with_prefix())).await }
            })
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
        let mut attempt = 1;
        let response = loop {
            match self
                .members
                .client()
                .txn(txn.clone())
                .await
                .map_err(self.error(operation))
            {
                Err(StateError::Unreachable { .. }) if attempt < self.members.attempts() => {
                    attempt += 1;
                    self.members.next();
                    tokio::time::sleep(RETRY_PAUSE).await;
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
            return Ok(response.header().map(|h| h.revision()).unwrap_or_default());
        }
        // Which guard failed: a lost lock is worse news than a moved revision.
        self.check_lock().await?;
        Err(StateError::Conflict { key, expected })
    }
}

/// A client for one member.
async fn connect(endpoint: &str, options: ConnectOptions, endpoints: &str) -> Result<Client, StateError> {
    tokio::time::timeout(TIMEOUT, Client::connect([endpoint], Some(options)))
        .await
        .map_err(|_| StateError::Unreachable {
            endpoints: endpoints.to_owned(),
            reason: format!("no answer within {}s", TIMEOUT.as_secs()),
        })?
        .map_err(|e| classify(endpoints, "connect", e))
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
        let mut client = self.members.client();
        let lease = self
            .call(
                "grant a lease",
                |mut c| async move { c.lease_grant(LEASE_TTL, None).await },
            )
            .await?
            .id();
        let (lost_tx, lost) = watch::channel(None);
        let all: Vec<Client> = self.members.clients.iter().map(|(c, _)| c.clone()).collect();
        let keeper = tokio::spawn(keep_alive(all, lease, lost_tx));
        // Say who we are before queueing, so a deploy that finds us holding
        // the lock can always name us (same lease: gone when we are).
        let holder_key = self.keys.lock_holder(&format!("{lease:x}"));
        let described = self
            .call("describe the lock holder", |mut c| {
                let (key, holder) = (holder_key.clone(), holder.to_owned());
                async move { c.put(key, holder, Some(PutOptions::new().with_lease(lease))).await }
            })
            .await;
        if let Err(e) = described {
            keeper.abort();
            let _ = client.lease_revoke(lease).await;
            return Err(e);
        }
        let name = self.keys.lock();
        // One call, queued until it holds the lock or the deadline passes (a
        // give-up revokes the lease, which removes the queued key with it).
        let queued = async {
            // A member that dies while we queue: queue on the next (same
            // lease, so the same place in the queue).
            let mut attempt = 1;
            loop {
                let mut lock_client = self.members.lock_client();
                let options = LockOptions::new().with_lease(lease);
                match lock_client
                    .lock(name.clone(), Some(options))
                    .await
                    .map_err(self.error("lock"))
                {
                    Err(StateError::Unreachable { .. }) if attempt < self.members.attempts() => {
                        attempt += 1;
                        self.members.next();
                        tokio::time::sleep(RETRY_PAUSE).await;
                    }
                    result => break result,
                }
            }
        };
        let locked = match deadline {
            None => queued.await,
            Some(deadline) => match tokio::time::timeout_at(deadline, queued).await {
                Ok(result) => result,
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
        let mut client = self.members.client();
        let _ = client.unlock(held.key).await;
        // Revoking the lease deletes every key bound to it, the lock's included.
        client
            .lease_revoke(held.lease)
            .await
            .map_err(self.error("revoke the lock's lease"))?;
        Ok(())
    }

    async fn read(&self) -> Result<Snapshot, StateError> {
        let (revision, kv) = self.read_raw().await?;
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

    async fn check_lock(&self) -> Result<(), StateError> {
        self.fence()?;
        // Ask etcd, not only the keep-alive task: the key must still exist.
        let held = self.held.as_ref().expect("fence checked it");
        let found = self
            .call("check the lock", |mut c| {
                let key = held.key.clone();
                async move { c.get(key, None).await }
            })
            .await?;
        match found.kvs().first() {
            Some(_) => Ok(()),
            None => Err(StateError::LockLost("its key is gone: the lease expired".into())),
        }
    }

    async fn set_status(&self, color: Color, status: Status) -> Result<(), StateError> {
        let key = self.keys.color_key(color, "status");
        self.call("set a status", |mut c| {
            let key = key.clone();
            async move { c.put(key, status.as_str(), None).await }
        })
        .await
        .map(drop)
    }

    async fn record(&self, record: &HistoryRecord) -> Result<(), StateError> {
        let mut client = self.members.client();
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
        let all = self.members.client().get(self.keys.history(), Some(options)).await;
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
async fn keep_alive(clients: Vec<Client>, lease: i64, lost: watch::Sender<Option<String>>) {
    let mut member = 0;
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
            // Each reopening goes to the next member: the last one may be dead.
            member = (member + 1) % clients.len();
            let mut client = clients[member].clone();
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
