//! The deploy lock (etcd's lock API on a lease): taken with the holder's
//! description written first, queued behind the holder, its lease kept
//! alive while held, holders that died on this host cleared at once, and
//! the fence every write of the holder carries.

use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, GetOptions, LockOptions, PutOptions, SortOrder, SortTarget};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::Code;

use super::EtcdStore;
use super::members::Tries;
use crate::state::{Holder, StateError, Wait};

/// Giving a lease back after a failed lock: short, etcd may be hung.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(1);
/// After a renewal that could not even be sent: the next try.
const RENEW_RETRY: Duration = Duration::from_millis(500);
/// How often a queued lock call looks for a holder that died on this host.
const DEAD_HOLDER_POLL: Duration = Duration::from_secs(1);
/// The lock's lease: a dead holder frees the lock within this (DESIGN §4).
const LEASE_TTL: i64 = 15;
/// Without --wait, how long a lock call may queue behind a holder that
/// appeared between the check and the call.
const NO_WAIT_LIMIT: Duration = Duration::from_secs(1);
/// One renewal attempt: several fit in a TTL.
const RENEW_TIMEOUT: Duration = Duration::from_secs(2);

/// The lock while we hold it: its lease, kept alive by a task.
pub(super) struct Held {
    pub(super) lease: i64,
    pub(super) key: Vec<u8>,
    pub(super) keeper: JoinHandle<()>,
    pub(super) lost: watch::Receiver<Option<String>>,
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
    /// Takes the lock (see [`StateStore::lock`]).
    pub(super) async fn acquire(&mut self, holder: &Holder, wait: Wait) -> Result<(), StateError> {
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

    /// Gives it back: the lock key and every key on its lease.
    pub(super) async fn release(&mut self) -> Result<(), StateError> {
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

    /// Whether the lock is still ours, as etcd says.
    pub(super) async fn still_held(&self) -> Result<(), StateError> {
        self.fence()?;
        // Ask etcd, not only the keep-alive task: the key must still exist.
        let held = self.held.as_ref().expect("fence checked it");
        let found = self.get("check the lock", &held.key, GetOptions::new()).await?;
        match found.kvs().first() {
            Some(_) => Ok(()),
            None => Err(StateError::LockLost("its key is gone: the lease expired".into())),
        }
    }

    /// The txn guard that fences writes to our lock: our lock key still
    /// exists, so no other deploy can have taken the lock.
    pub(super) fn fence(&self) -> Result<Compare, StateError> {
        let held = self
            .held
            .as_ref()
            .ok_or_else(|| StateError::LockLost("the lock is not held".into()))?;
        if let Some(reason) = held.lost.borrow().clone() {
            return Err(StateError::LockLost(reason));
        }
        Ok(Compare::create_revision(held.key.clone(), CompareOp::Greater, 0))
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
