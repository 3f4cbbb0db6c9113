//! The Docker boundary: a color's container and its health, read from the
//! Engine API (bollard). [`Docker`] is what the rest of bgctl uses;
//! [`EngineDocker`] is the real one.

mod engine;
mod healthcheck;

use std::time::Duration;

pub use engine::EngineDocker;
pub use healthcheck::HealthTest;

/// What Docker says about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub running: bool,
    /// Docker's status word: created, running, exited, ...
    pub status: String,
    pub exit_code: i64,
    /// The id (`sha256:…`) of the image it runs.
    pub image_id: String,
    /// `None` when the image defines no HEALTHCHECK.
    pub health: Option<Health>,
    /// The HEALTHCHECK's test, for bgctl to run itself (`None`: none).
    pub health_test: Option<HealthTest>,
}

/// Docker's health of a container with a HEALTHCHECK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// starting, healthy or unhealthy.
    pub status: String,
    /// The last probes Docker kept (it keeps 5), oldest first: "exit N: output".
    pub log: Vec<String>,
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        self.status == "healthy"
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach dockerd at {host}: {reason}. Is docker running? Is [docker] host right?")]
    Unreachable { host: String, reason: String },
    #[error("{operation} {container}: {source}")]
    Api {
        operation: &'static str,
        container: String,
        source: Box<bollard::errors::Error>,
    },
}

/// Docker as bgctl needs it.
#[allow(async_fn_in_trait)] // used through generics, never as `dyn`
pub trait Docker {
    type Watch: HealthWatch;

    /// dockerd's version and API version (`doctor`).
    async fn version(&self) -> Result<(String, String), DockerError>;

    /// The container named `name`, or `None` when there is none.
    async fn inspect(&self, name: &str) -> Result<Option<Container>, DockerError>;

    /// Starts following `name`'s health events; [`HealthWatch::changed`]
    /// then wakes as soon as Docker reports a new health status.
    async fn watch_health(&self, name: &str) -> Result<Self::Watch, DockerError>;

    /// Runs `test` in container `name` once: whether it exited 0 within its
    /// timeout. A container that is gone or stopped, or a dockerd that does
    /// not answer, fails the run (an inspect reports dockerd down).
    async fn run_test(&self, name: &str, test: &HealthTest) -> bool;

    /// The registry digests (`name@sha256:…`) of image `image_id`; none for
    /// an image built on the host, or one that is gone.
    async fn repo_digests(&self, image_id: &str) -> Result<Vec<String>, DockerError>;
}

/// A subscription to one container's health events.
#[allow(async_fn_in_trait)]
pub trait HealthWatch {
    /// Waits up to `limit` for the next health event; returns its status.
    async fn changed(&mut self, limit: Duration) -> Option<String>;
}
