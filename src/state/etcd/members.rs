//! A client per cluster member, the one in use, and the tries of one
//! request: etcd-client's balanced channel keeps sending to a member that
//! died, so bgctl moves on itself, within a budget.

use std::time::Duration;

use etcd_client::{Client, GetOptions};

use super::EtcdStore;
use crate::state::StateError;

/// All tries of one request together, whatever the number of members: with
/// every member hung, exit 5 still comes in under 10 s.
const CALL_BUDGET: Duration = Duration::from_secs(6);
/// The pause before a request goes to the next member.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// A client per cluster member, and the one in use.
pub(super) struct Members {
    /// (requests with a timeout, the lock call without one)
    pub(super) clients: Vec<(Client, Client)>,
    pub(super) current: std::sync::atomic::AtomicUsize,
}

impl Members {
    pub(super) fn client(&self) -> Client {
        self.clients[self.current.load(std::sync::atomic::Ordering::Relaxed)]
            .0
            .clone()
    }

    /// Without a request timeout: only for the lock call, which waits.
    pub(super) fn lock_client(&self) -> Client {
        self.clients[self.current.load(std::sync::atomic::Ordering::Relaxed)]
            .1
            .clone()
    }

    /// The member in use did not answer: the next one.
    pub(super) fn next(&self) {
        let n = self.clients.len();
        let _ = self.current.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |c| Some((c + 1) % n),
        );
    }

    /// One try per member, and one more.
    fn attempts(&self) -> usize {
        self.clients.len() + 1
    }
}

/// The tries of one request: one per member and one more, all within
/// [`CALL_BUDGET`] of the first.
pub(super) struct Tries {
    left: usize,
    deadline: tokio::time::Instant,
}

impl Tries {
    pub(super) fn new(members: &Members) -> Tries {
        Tries {
            left: members.attempts(),
            deadline: tokio::time::Instant::now() + CALL_BUDGET,
        }
    }

    /// Whether a failed try may be followed by another; pauses first.
    pub(super) async fn again(&mut self) -> bool {
        self.left -= 1;
        if self.left == 0 || tokio::time::Instant::now() + RETRY_PAUSE >= self.deadline {
            return false;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
        true
    }

    /// `request`, cut off at the budget's end.
    pub(super) async fn within<T>(
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

impl EtcdStore {
    /// One idempotent request, tried again when the cluster did not answer
    /// (a member died and the next try goes to another): up to `ATTEMPTS`.
    pub(super) async fn call<T, F, Fut>(&self, operation: &'static str, mut request: F) -> Result<T, StateError>
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

    /// One range read of `key` (a prefix, with `options` saying so).
    pub(super) async fn get(
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
}
