//! [`StateStore`](super::StateStore) in etcd (v3 API, etcd-client), one
//! idea a file: [`connect`] (endpoints, credentials, TLS), [`members`]
//! (a client per member, and moving on when one does not answer), [`lock`]
//! (the lock's lease, its queue, dead holders), [`store`] (the data:
//! guarded and fenced transactions, the history) and [`watch`].

mod connect;
mod lock;
mod members;
mod store;
mod watch;

use std::time::Duration;

use lock::Held;
use members::Members;

use super::Keys;

/// Connecting, and each request (DESIGN §4: exit 5 in under 10 s).
const TIMEOUT: Duration = Duration::from_secs(5);

pub struct EtcdStore {
    members: Members,
    keys: Keys,
    endpoints: String,
    held: Option<Held>,
}

impl EtcdStore {
    /// The configured endpoints, comma-separated.
    pub fn endpoints(&self) -> &str {
        &self.endpoints
    }
}
