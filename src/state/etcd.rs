//! [`StateStore`] in etcd (v3 API, etcd-client).

use std::collections::HashMap;
use std::time::Duration;

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, GetOptions, Identity, LockOptions, PutOptions, SortOrder,
    SortTarget, TlsOptions, Txn, TxnOp, WatchOptions,
};
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::Code;

use super::{HISTORY_KEPT, HistoryRecord, Holder, Keys, Snapshot, Staged, StateError, StateStore, Status, Wait};
use crate::config::Config;
use crate::domain::Color;

/// Connecting, and each request (DESIGN §4: exit 5 in under 10 s).
const TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// All tries of one request together, whatever the number of members: with
/// every member hung, exit 5 still comes in under 10 s.
const CALL_BUDGET: Duration = Duration::from_secs(6);
/// HTTP/2 pings on the lock call's connection, which has no request
/// timeout. etcd closes connections that ping more often than every 5 s
/// (`--grpc-keepalive-min-time`), so they are slow; the queued call's own
/// look at etcd every second is what finds a hung member quickly.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Giving a lease back after a failed lock: short, etcd may be hung.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(1);
/// After a renewal that could not even be sent: the next try.
const RENEW_RETRY: Duration = Duration::from_millis(500);
/// How often a queued lock call looks for a holder that died on this host.
const DEAD_HOLDER_POLL: Duration = Duration::from_secs(1);
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

/// The tries of one request: one per member and one more, all within
/// [`CALL_BUDGET`] of the first.
struct Tries {
    left: usize,
    deadline: tokio::time::Instant,
}

impl Tries {
    fn new(members: &Members) -> Tries {
        Tries {
            left: members.attempts(),
            deadline: tokio::time::Instant::now() + CALL_BUDGET,
        }
    }

    /// Whether a failed try may be followed by another; pauses first.
    async fn again(&mut self) -> bool {
        self.left -= 1;
        if self.left == 0 || tokio::time::Instant::now() + RETRY_PAUSE >= self.deadline {
            return false;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
        true
    }

    /// `request`, cut off at the budget's end.
    async fn within<T>(
        &self,
        endpoints: &str,
        request: impl std::future::Future<Output = Result<T, StateError>>,
    ) -> Result<T, StateError> {
        tokio::time::timeout_at(self.deadline, request)
            .await
            .unwrap_or_else(|_| {
                Err(StateError::Unreachable {
                    endpoints: endpoints.to_owned(),
                    reason: format!("no answer within {}s", CALL_BUDGET.as_secs()),
                })
            })
    }
}

/// The lock while we hold it: its lease, kept alive by a task.
struct Held {
    lease: i64,
    key: Vec<u8>,
    keeper: JoinHandle<()>,
    lost: watch::Receiver<Option<String>>,
}

/// One key of the lock's queue.
struct Queued {
    lease: i64,
    /// What its owner said, if it is a description bgctl wrote.
    holder: Option<Holder>,
    said: String,
}

impl std::fmt::Display for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.holder {
            Some(holder) => write!(f, "{holder}"),
            None => f.write_str(&self.said),
        }
    }
}

impl EtcdStore {
    /// The configured endpoints, comma-separated.
    pub fn endpoints(&self) -> &str {
        &self.endpoints
    }

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
        if let Some(tls) = tls_options(config)? {
            options = options.with_tls(tls);
        }
        // The lock call waits as long as the lock is held; every other
        // request times out. A cancelled lock call would have etcd delete
        // our waiting key, possibly after a later call acquired it.
        let lock_options = options
            .clone()
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            .with_keep_alive_while_idle(true);
        let mut clients = Vec::new();
        let mut failure = None;
        for endpoint in &endpoints {
            let pair = async {
                let requests = connect(endpoint, options.clone().with_timeout(REQUEST_TIMEOUT), &joined).await?;
                Ok::<_, StateError>((requests, connect(endpoint, lock_options.clone(), &joined).await?))
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
        let mut tries = Tries::new(&self.members);
        loop {
            let sent = async { request(self.members.client()).await.map_err(self.error(operation)) };
            match tries.within(&self.endpoints, sent).await {
                Err(StateError::Unreachable { .. }) if tries.again().await => self.members.next(),
                result => return result,
            }
        }
    }

    /// The lock's keys, the holder first and its queue after it, each with
    /// its lease and the description its owner wrote under
    /// `lock-holder/<lease>` before it queued.
    async fn queue(&self) -> Result<Vec<Queued>, StateError> {
        let options = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Create, SortOrder::Ascend);
        let prefix = format!("{}/", self.keys.lock());
        let found = self.get("read the lock", &prefix, options).await?;
        let mut queue = Vec::new();
        for kv in found.kvs() {
            let key = String::from_utf8_lossy(kv.key()).into_owned();
            let lease_hex = key.rsplit('/').next().unwrap_or_default().to_owned();
            let holder_key = self.keys.lock_holder(&lease_hex);
            let said = self.get("read the lock holder", &holder_key, GetOptions::new()).await?;
            let said = said.kvs().first().map(|kv| kv.value().to_vec());
            queue.push(Queued {
                lease: kv.lease(),
                holder: said.as_deref().and_then(|v| serde_json::from_slice(v).ok()),
                said: said.map_or_else(
                    || format!("a deploy that did not say who it is (lock key {key})"),
                    |v| String::from_utf8_lossy(&v).into_owned(),
                ),
            });
        }
        Ok(queue)
    }

    /// Who holds the lock, in words.
    async fn holder(&self) -> Result<Option<String>, StateError> {
        Ok(self.queue().await?.into_iter().next().map(|q| q.to_string()))
    }

    /// Waits until a key under the prefix changes after revision `after`,
    /// at most `limit`: the store's revision then, or `None` when nothing
    /// changed. A watch that starts where etcd has compacted gives the
    /// compaction's revision: what is there now is read in full anyway.
    /// One watch per call, from the revision the caller last applied, so a
    /// broken connection misses nothing: the next call starts there again.
    pub async fn wait_change(&self, after: i64, limit: Duration) -> Result<Option<i64>, StateError> {
        let deadline = tokio::time::Instant::now() + limit;
        let options = WatchOptions::new().with_prefix().with_start_revision(after + 1);
        // A watch that broke, however it broke: the next call tries the
        // next member (a killed member's stream may end in any error).
        let failed = |e: etcd_client::Error| {
            self.members.next();
            classify(&self.endpoints, "watch the state", e)
        };
        // The lock client: a watch is one long call, past any request timeout.
        let mut client = self.members.lock_client();
        let started = tokio::time::timeout(TIMEOUT, client.watch(self.keys.all(), Some(options))).await;
        let mut stream = match started {
            Ok(watching) => watching.map_err(failed)?,
            Err(_) => {
                self.members.next();
                return Err(StateError::Unreachable {
                    endpoints: self.endpoints.clone(),
                    reason: format!("no watch within {}s", TIMEOUT.as_secs()),
                });
            }
        };
        loop {
            let message = match tokio::time::timeout_at(deadline, stream.message()).await {
                Err(_) => return Ok(None),
                Ok(message) => message.map_err(failed)?,
            };
            let Some(response) = message else {
                self.members.next();
                return Err(StateError::Etcd {
                    operation: "watch the state",
                    reason: "etcd ended the watch".into(),
                });
            };
            if response.compact_revision() > 0 {
                return Ok(Some(response.compact_revision()));
            }
            // The store's revision now, past every event in this answer: a
            // replay of a long history is one step, not one per answer.
            if !response.events().is_empty() {
                let newest = response
                    .events()
                    .iter()
                    .filter_map(|e| e.kv())
                    .map(|kv| kv.mod_revision());
                let now = response.header().map(|h| h.revision()).into_iter();
                return Ok(newest.chain(now).max());
            }
            // The watch's `created` answer, or a progress notice: wait on.
        }
    }

    /// Revokes the leases of lock holders (and waiters) that died on this
    /// host, so nobody waits out their TTL; returns how many.
    async fn clear_dead(&self) -> Result<usize, StateError> {
        let mut cleared = 0;
        for queued in self.queue().await? {
            if queued.holder.as_ref().is_some_and(Holder::is_dead_here) {
                let lease = queued.lease;
                self.call("revoke a dead holder's lease", |mut c| async move {
                    match c.lease_revoke(lease).await {
                        // Gone already: as good.
                        Err(etcd_client::Error::GRpcStatus(s)) if s.code() == Code::NotFound => Ok(()),
                        other => other.map(drop),
                    }
                })
                .await?;
                cleared += 1;
            }
        }
        Ok(cleared)
    }

    /// Says who we are before queueing, so a deploy that finds us holding
    /// the lock can always name us (same lease: gone when we are).
    async fn describe(&self, lease: i64, holder: &Holder) -> Result<(), StateError> {
        let key = self.keys.lock_holder(&format!("{lease:x}"));
        let value = serde_json::to_string(holder).expect("a holder serialises");
        self.call("describe the lock holder", |mut c| {
            let (key, value) = (key.clone(), value.clone());
            async move { c.put(key, value, Some(PutOptions::new().with_lease(lease))).await }
        })
        .await
        .map(drop)
    }

    /// One lock call, queued until it holds the lock; returns our lock key.
    /// Meanwhile a holder that dies on this host is cleared at once. A member
    /// that dies while we queue: queue on the next (same lease, so the same
    /// place in the queue), all within one [`CALL_BUDGET`] after the first
    /// failure. One that hangs ends the wait with `Unreachable`.
    async fn queue_for_lock(&self, lease: i64) -> Result<Vec<u8>, StateError> {
        let name = self.keys.lock();
        let queued = async {
            let mut tries: Option<Tries> = None;
            loop {
                let mut client = self.members.lock_client();
                let options = LockOptions::new().with_lease(lease);
                let sent = async {
                    client
                        .lock(name.clone(), Some(options))
                        .await
                        .map_err(self.error("lock"))
                };
                let result = match &tries {
                    None => sent.await,
                    Some(tries) => tries.within(&self.endpoints, sent).await,
                };
                match result {
                    Err(StateError::Unreachable { .. }) => {
                        let tries = tries.get_or_insert_with(|| Tries::new(&self.members));
                        if !tries.again().await {
                            return result.map(|r| r.key().to_vec());
                        }
                        self.members.next();
                    }
                    result => return result.map(|r| r.key().to_vec()),
                }
            }
        };
        // Every second: a holder that died here is cleared, and an etcd that
        // stopped answering ends the wait (the call itself would not know).
        let watch = async {
            loop {
                tokio::time::sleep(DEAD_HOLDER_POLL).await;
                if let Err(e @ StateError::Unreachable { .. }) = self.clear_dead().await {
                    return Err(e);
                }
            }
        };
        tokio::select! {
            locked = queued => locked,
            unreachable = watch => unreachable,
        }
    }

    /// One range read of `key` (a prefix, with `options` saying so).
    async fn get(
        &self,
        operation: &'static str,
        key: impl AsRef<[u8]>,
        options: GetOptions,
    ) -> Result<etcd_client::GetResponse, StateError> {
        let key = key.as_ref();
        self.call(operation, |mut c| {
            let options = options.clone();
            async move { c.get(key, Some(options)).await }
        })
        .await
    }

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
}

impl EtcdStore {
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
        // tonic reports a broken connection as status Unknown, "transport error".
        etcd_client::Error::GRpcStatus(s) => {
            matches!(s.code(), Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled)
                || (s.code() == Code::Unknown && s.message().contains("transport error"))
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

/// The TLS files of `[state]`, read and checked before connecting: a file
/// that is missing, unreadable or not PEM is a config error (exit 2) naming
/// its key, not an etcd that cannot be reached.
fn tls_options(config: &Config) -> Result<Option<TlsOptions>, StateError> {
    let state = &config.state;
    if state.ca.is_none() && state.cert.is_none() {
        return Ok(None);
    }
    let mut tls = TlsOptions::new();
    if let Some(ca) = &state.ca {
        tls = tls.ca_certificate(Certificate::from_pem(pem_file("ca", ca, "CERTIFICATE")?));
    }
    if let (Some(cert), Some(key)) = (&state.cert, &state.key) {
        let cert = pem_file("cert", cert, "CERTIFICATE")?;
        tls = tls.identity(Identity::from_pem(cert, pem_file("key", key, "PRIVATE KEY")?));
    }
    Ok(Some(tls))
}

/// The file at `[state] <key>`, which must hold a PEM block whose label
/// ends with `label` ("CERTIFICATE", "PRIVATE KEY" for any key type).
fn pem_file(key: &'static str, path: &crate::domain::AbsPath, label: &str) -> Result<Vec<u8>, StateError> {
    let bad = |reason: String| StateError::Tls {
        key,
        path: path.to_string(),
        reason,
    };
    let bytes = std::fs::read(path.as_path()).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let has_block = text.lines().any(|l| {
        l.trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|found| found.ends_with(label))
    });
    if !has_block {
        return Err(bad(format!("no PEM \"{label}\" block in it")));
    }
    Ok(bytes)
}

impl StateStore for EtcdStore {
    async fn lock(&mut self, holder: &Holder, wait: Wait) -> Result<(), StateError> {
        let deadline = match wait {
            Wait::No => Some(tokio::time::Instant::now() + NO_WAIT_LIMIT),
            Wait::Upto(limit) => Some(tokio::time::Instant::now() + limit),
            Wait::Forever => None,
        };
        // A holder that died on this host frees the lock now, not in 15 s.
        self.clear_dead().await?;
        if wait == Wait::No
            && let Some(holder) = self.holder().await?
        {
            return Err(StateError::Locked {
                key: self.keys.lock(),
                holder,
            });
        }
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
        let locked = async {
            self.describe(lease, holder).await?;
            let queued = self.queue_for_lock(lease);
            match deadline {
                None => queued.await,
                Some(deadline) => match tokio::time::timeout_at(deadline, queued).await {
                    Ok(result) => result,
                    Err(_) => Err(StateError::Locked {
                        key: self.keys.lock(),
                        holder: self.holder().await?.unwrap_or_else(|| "another deploy".into()),
                    }),
                },
            }
        };
        match locked.await {
            Ok(key) => {
                tracing::debug!(
                    "etcd: holding the lock {} on lease {lease:x}",
                    String::from_utf8_lossy(&key)
                );
                self.held = Some(Held {
                    lease,
                    key,
                    keeper,
                    lost,
                });
                Ok(())
            }
            Err(e) => {
                // Revoking the lease removes our description and queued key too.
                keeper.abort();
                let mut client = self.members.client();
                let _ = tokio::time::timeout(REVOKE_TIMEOUT, client.lease_revoke(lease)).await;
                Err(e)
            }
        }
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
            staged: self.keys.staged_of(&kv)?,
            revision,
        })
    }

    async fn flip(&self, expected: i64, to: &super::Deployment) -> Result<i64, StateError> {
        // Whatever was staged is live now, or was replaced: nothing is staged.
        let puts = (self.keys.flip(to).into_iter())
            .map(|(k, v)| TxnOp::put(k, v, None))
            .chain([TxnOp::delete(self.keys.staged(), None)])
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
        let found = self.get("check the lock", &held.key, GetOptions::new()).await?;
        match found.kvs().first() {
            Some(_) => Ok(()),
            None => Err(StateError::LockLost("its key is gone: the lease expired".into())),
        }
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
            // Refused at once (etcd down): the next renewal time has passed
            // already, so without a pause this would spin until the TTL.
            tokio::time::sleep(RENEW_RETRY).await;
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
