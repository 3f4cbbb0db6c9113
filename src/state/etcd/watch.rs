//! Following the state: one watch per call, from the revision the caller
//! last applied, so a broken connection misses nothing.

use std::time::Duration;

use etcd_client::WatchOptions;

use super::connect::classify;
use super::{EtcdStore, TIMEOUT};
use crate::state::StateError;

impl EtcdStore {
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
}
