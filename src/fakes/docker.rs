//! Docker: every container runs and is healthy, but the one named `sick`.

use super::*;

/// Docker: every container runs and is healthy, but the one named `sick`.
pub(crate) struct FakeDocker {
    pub(crate) sick: Option<String>,
}

/// A running container whose HEALTHCHECK says `health`, without a test.
pub(crate) fn running_container(health: &str) -> Container {
    Container {
        running: true,
        status: "running".into(),
        exit_code: 0,
        image_id: String::new(),
        health: Some(Health {
            status: health.into(),
            log: vec!["exit 1: connection refused".into()],
        }),
        health_test: None,
    }
}

pub(crate) struct NoEvents;

impl HealthWatch for NoEvents {
    async fn changed(&mut self, limit: Duration) -> Option<String> {
        tokio::time::sleep(limit).await;
        None
    }
}

impl Docker for FakeDocker {
    type Watch = NoEvents;
    async fn version(&self) -> Result<(String, String), DockerError> {
        Ok(("20.10 (fake)".into(), "1.41".into()))
    }
    async fn inspect(&self, name: &str) -> Result<Option<Container>, DockerError> {
        let status = if self.sick.as_deref() == Some(name) {
            "unhealthy"
        } else {
            "healthy"
        };
        Ok(Some(running_container(status)))
    }
    async fn run_test(&self, _: &str, _: &HealthTest) -> bool {
        false
    }
    async fn watch_health(&self, _: &str) -> Result<NoEvents, DockerError> {
        Ok(NoEvents)
    }
    async fn repo_digests(&self, _: &str) -> Result<Vec<String>, DockerError> {
        Ok(Vec::new())
    }
}
