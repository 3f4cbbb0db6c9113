//! [`Docker`] over the Engine API with bollard.

use std::collections::HashMap;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{EventsOptionsBuilder, InspectContainerOptionsBuilder};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Container, Docker, DockerError, Health, HealthTest, HealthWatch};
use crate::domain::DockerHost;

/// Connecting: a dead dockerd fails fast (exit 5 within this).
const CONNECT_SECS: u64 = 5;
/// Each request once connected: a dockerd starting many containers at once
/// can take seconds to answer an inspect, and that is no outage.
const REQUEST_SECS: u64 = 15;

pub struct EngineDocker {
    docker: bollard::Docker,
    host: String,
}

impl EngineDocker {
    /// Connects to `host` and agrees on an API version (Debian's dockerd
    /// speaks 1.41, older than bollard's default).
    pub async fn connect(host: &DockerHost) -> Result<EngineDocker, DockerError> {
        let unreachable = |reason: String| DockerError::Unreachable {
            host: host.to_string(),
            reason,
        };
        let docker = match host.unix_socket() {
            Some(path) => bollard::Docker::connect_with_unix(path, REQUEST_SECS, bollard::API_DEFAULT_VERSION),
            None => bollard::Docker::connect_with_http(host.as_str(), REQUEST_SECS, bollard::API_DEFAULT_VERSION),
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let negotiate = docker.negotiate_version();
        let docker = tokio::time::timeout(Duration::from_secs(CONNECT_SECS), negotiate)
            .await
            .map_err(|_| unreachable(format!("no answer within {CONNECT_SECS}s")))?
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(EngineDocker {
            docker,
            host: host.to_string(),
        })
    }

    fn unreachable(&self, e: bollard::errors::Error) -> DockerError {
        DockerError::Unreachable {
            host: self.host.clone(),
            reason: e.to_string(),
        }
    }
}

impl Docker for EngineDocker {
    async fn repo_digests(&self, image_id: &str) -> Result<Vec<String>, DockerError> {
        match self.docker.inspect_image(image_id).await {
            Ok(image) => Ok(image.repo_digests.unwrap_or_default()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(Vec::new()),
            Err(source @ bollard::errors::Error::DockerResponseServerError { .. }) => Err(DockerError::Api {
                operation: "inspect image",
                container: image_id.to_owned(),
                source: Box::new(source),
            }),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    type Watch = EngineWatch;

    async fn version(&self) -> Result<(String, String), DockerError> {
        let v = self.docker.version().await.map_err(|e| self.unreachable(e))?;
        Ok((v.version.unwrap_or_default(), v.api_version.unwrap_or_default()))
    }

    async fn inspect(&self, name: &str) -> Result<Option<Container>, DockerError> {
        let options = InspectContainerOptionsBuilder::default().build();
        let found = match self.docker.inspect_container(name, Some(options)).await {
            Ok(found) => found,
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => return Ok(None),
            // dockerd answered with an error: its word. No answer: unreachable (exit 5).
            Err(source @ bollard::errors::Error::DockerResponseServerError { .. }) => {
                return Err(DockerError::Api {
                    operation: "inspect",
                    container: name.to_owned(),
                    source: Box::new(source),
                });
            }
            Err(other) => return Err(self.unreachable(other)),
        };
        let health_test = found
            .config
            .and_then(|c| c.healthcheck)
            .and_then(|h| HealthTest::from_docker(&h.test?, h.timeout));
        let state = found.state.unwrap_or_default();
        let health = state.health.and_then(|h| {
            let status = h
                .status
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty() && s != "none")?;
            let log = h
                .log
                .unwrap_or_default()
                .into_iter()
                .map(|r| {
                    format!(
                        "exit {}: {}",
                        r.exit_code.unwrap_or(-1),
                        r.output.unwrap_or_default().trim()
                    )
                })
                .collect();
            Some(Health { status, log })
        });
        Ok(Some(Container {
            running: state.running.unwrap_or(false),
            status: state.status.map(|s| s.to_string()).unwrap_or_default(),
            exit_code: state.exit_code.unwrap_or(0),
            image_id: found.image.unwrap_or_default(),
            health,
            health_test,
        }))
    }

    async fn run_test(&self, name: &str, test: &HealthTest) -> bool {
        let options = CreateExecOptions {
            cmd: Some(test.argv.clone()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let run = async {
            let exec = self.docker.create_exec(name, options).await?;
            // Attached, so the run is over when its output ends.
            if let StartExecResults::Attached { mut output, .. } = self.docker.start_exec(&exec.id, None).await? {
                while output.next().await.transpose()?.is_some() {}
            }
            self.docker.inspect_exec(&exec.id).await
        };
        match tokio::time::timeout(test.timeout, run).await {
            // Too slow counts as a failed run, as it does for Docker.
            Err(_) => false,
            Ok(Ok(done)) => done.exit_code == Some(0),
            // The container gone or stopped, or a dockerd too busy to answer
            // in time: a failed run, tried again at the next interval. An
            // unreachable dockerd is the next inspect's to report.
            Ok(Err(e)) => {
                tracing::debug!("docker: health test in {name}: {e}");
                false
            }
        }
    }

    async fn watch_health(&self, name: &str) -> Result<EngineWatch, DockerError> {
        let filters = HashMap::from([
            ("type", vec!["container"]),
            ("event", vec!["health_status"]),
            ("container", vec![name]),
        ]);
        let options = EventsOptionsBuilder::default().filters(&filters).build();
        let mut events = self.docker.events(Some(options));
        // The request goes out when the stream is first polled: a task polls
        // it now, so no event between this call and the first wait is lost.
        let (tx, rx) = mpsc::channel(16);
        let task = tokio::spawn(async move {
            while let Some(event) = events.next().await {
                // "health_status: healthy" → "healthy"
                let Some(action) = event.ok().and_then(|e| e.action) else {
                    continue;
                };
                let status = action.rsplit(": ").next().unwrap_or(&action).to_owned();
                if tx.send(status).await.is_err() {
                    return;
                }
            }
        });
        Ok(EngineWatch {
            events: rx,
            task,
            ended: false,
        })
    }
}

/// Health events of one container, read by a task that ends with it.
pub struct EngineWatch {
    events: mpsc::Receiver<String>,
    task: JoinHandle<()>,
    ended: bool,
}

impl Drop for EngineWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HealthWatch for EngineWatch {
    async fn changed(&mut self, limit: Duration) -> Option<String> {
        if !self.ended {
            match tokio::time::timeout(limit, self.events.recv()).await {
                Ok(Some(status)) => {
                    tracing::debug!("docker: health event {status}");
                    return Some(status);
                }
                Ok(None) => self.ended = true,
                Err(_) => return None,
            }
        }
        // The stream broke (dockerd restarted): the caller's inspect fallback
        // carries on at its own pace.
        tokio::time::sleep(limit).await;
        None
    }
}
