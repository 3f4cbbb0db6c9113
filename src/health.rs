//! The health gate: a new color is healthy when its HTTP probe answers 2xx/3xx
//! and, if its image has a HEALTHCHECK, Docker says `healthy` (or, while
//! Docker still says `starting`, the test passed when bgctl ran it: `[health]
//! docker = "exec"`). Waits on Docker's health events, polls every `[health]
//! interval`, and gives up at `[health] timeout` or as soon as the unit has
//! failed.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::config::{Config, DockerHealth, Health as Settings};
use crate::docker::{Container, Docker, DockerError, HealthWatch};
use crate::domain::{Color, HealthPath, Port, UnitName};
use crate::http_probe;
use crate::systemd::{Systemd, SystemdError, UnitState};

/// One probe request; a slow answer is no answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The HTTP probe, as the gate needs it.
#[allow(async_fn_in_trait)]
pub trait Probe {
    /// GET `path` on the color's host port: the status, or why there was none.
    async fn get(&self, port: Port, path: &HealthPath) -> Result<u16, String>;

    /// GET `path` on the color's host port within `limit`: the status and
    /// the body (`[checks] http`).
    async fn fetch(&self, port: Port, path: &HealthPath, limit: Duration) -> Result<(u16, Vec<u8>), String>;
}

/// The real probe: plain HTTP to the address the port is published on.
pub struct HttpProbe {
    pub ip: IpAddr,
}

impl Probe for HttpProbe {
    async fn get(&self, port: Port, path: &HealthPath) -> Result<u16, String> {
        let addr = SocketAddr::new(self.ip, port.get());
        http_probe::get(addr, &self.ip.to_string(), path.as_str(), PROBE_TIMEOUT)
            .await
            .map(|r| r.status)
            .map_err(|e| e.to_string())
    }

    async fn fetch(&self, port: Port, path: &HealthPath, limit: Duration) -> Result<(u16, Vec<u8>), String> {
        let addr = SocketAddr::new(self.ip, port.get());
        http_probe::get_with_body(addr, &self.ip.to_string(), path.as_str(), limit)
            .await
            .map(|r| (r.status, r.body))
            .map_err(|e| e.to_string())
    }
}

/// What the gate saw last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub probe: Result<u16, String>,
    /// `None`: no container (yet, or any more).
    pub container: Option<Container>,
    /// What the gate makes of the HEALTHCHECK.
    pub docker: DockerHealth,
    /// Whether the HEALTHCHECK test passed when bgctl ran it (`None`: not run).
    pub exec: Option<bool>,
}

impl Observation {
    pub fn is_healthy(&self) -> bool {
        let docker_ok = self
            .container
            .as_ref()
            .is_some_and(|c| c.running && self.docker_says_healthy(c));
        self.probe_ok() && docker_ok
    }

    /// The HTTP probe answered 2xx or 3xx.
    fn probe_ok(&self) -> bool {
        matches!(self.probe, Ok(status) if (200..400).contains(&status))
    }

    /// Docker's verdict as `[health] docker` reads it: one passing run of
    /// the test counts while Docker is still `starting`, as it does for Docker.
    fn docker_says_healthy(&self, container: &Container) -> bool {
        match (&container.health, self.docker) {
            (None, _) | (_, DockerHealth::Ignore) => true,
            (Some(h), _) if h.is_healthy() => true,
            (Some(h), DockerHealth::Exec) => h.status == "starting" && self.exec == Some(true),
            (Some(_), DockerHealth::Wait) => false,
        }
    }

    /// Whether bgctl should run the test itself: Docker has not judged yet.
    fn wants_exec(&self) -> bool {
        self.docker == DockerHealth::Exec
            && self.probe_ok()
            && self.container.as_ref().is_some_and(|c| {
                c.running && c.health_test.is_some() && c.health.as_ref().is_some_and(|h| h.status == "starting")
            })
    }

    /// Docker's health log, for the error report.
    pub fn health_log(&self) -> &[String] {
        self.container
            .as_ref()
            .and_then(|c| c.health.as_ref())
            .map_or(&[], |h| &h.log)
    }
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.probe {
            Ok(status) => write!(f, "probe HTTP {status}")?,
            Err(e) => write!(f, "probe failed ({e})")?,
        }
        match &self.container {
            None => write!(f, ", no container")?,
            Some(c) => match &c.health {
                Some(h) => write!(f, ", container {} and {}", c.status, h.status)?,
                None => write!(f, ", container {} (no HEALTHCHECK)", c.status)?,
            },
        }
        match self.exec {
            Some(true) => write!(f, "; its HEALTHCHECK test passed when bgctl ran it"),
            Some(false) => write!(f, "; its HEALTHCHECK test failed when bgctl ran it"),
            None => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("not healthy within {}: {last}", humantime::format_duration(Duration::from_millis(waited.as_millis() as u64)))]
    Timeout { waited: Duration, last: Box<Observation> },
    #[error("the unit failed: {state}; {last}")]
    UnitFailed {
        state: Box<UnitState>,
        last: Box<Observation>,
    },
    #[error("it stopped being healthy: {last}")]
    Lost { last: Box<Observation> },
    #[error(transparent)]
    Systemd(#[from] SystemdError),
    #[error(transparent)]
    Docker(#[from] DockerError),
}

impl HealthError {
    pub fn last(&self) -> Option<&Observation> {
        match self {
            HealthError::Timeout { last, .. } | HealthError::UnitFailed { last, .. } | HealthError::Lost { last } => {
                Some(last)
            }
            _ => None,
        }
    }
}

/// The color being checked: its unit, its container and its host port.
pub struct Target {
    pub unit: UnitName,
    pub container: String,
    pub port: Port,
}

impl Target {
    pub fn new(config: &Config, color: Color) -> Target {
        Target {
            unit: config.unit(color),
            container: config.container(color),
            port: config.port(color),
        }
    }
}

/// Waits until `target` is healthy. A slow app may be `unhealthy` before it
/// is `healthy` (DESIGN §4): only a failed unit or the timeout end the wait.
pub async fn wait_healthy(
    systemd: &impl Systemd,
    docker: &impl Docker,
    probe: &impl Probe,
    target: &Target,
    settings: &Settings,
) -> Result<Observation, HealthError> {
    let started = Instant::now();
    let deadline = started + settings.timeout.get();
    let mut events = docker.watch_health(&target.container).await?;
    loop {
        let last = match check_once(systemd, docker, probe, target, settings).await {
            Err(HealthError::Lost { last }) => last,
            done => return done,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(HealthError::Timeout {
                waited: now - started,
                last,
            });
        }
        // Docker's next health event, or the next probe, whichever is first.
        events.changed(settings.interval.get().min(deadline - now)).await;
    }
}

/// One look at `target`: healthy now, or why not (`UnitFailed` ends any
/// wait; `Lost` may still come right).
pub async fn check_once(
    systemd: &impl Systemd,
    docker: &impl Docker,
    probe: &impl Probe,
    target: &Target,
    settings: &Settings,
) -> Result<Observation, HealthError> {
    let (probe, container) = tokio::join!(
        probe.get(target.port, &settings.path),
        docker.inspect(&target.container)
    );
    let mut seen = Observation {
        probe,
        container: container?,
        docker: settings.docker,
        exec: None,
    };
    if seen.wants_exec() {
        let test = seen
            .container
            .as_ref()
            .and_then(|c| c.health_test.as_ref())
            .expect("wants_exec saw it");
        seen.exec = Some(docker.run_test(&target.container, test).await);
    }
    if seen.is_healthy() {
        return Ok(seen);
    }
    let unit = systemd.state(&target.unit).await?;
    if unit.has_failed() || !unit.is_up() {
        return Err(HealthError::UnitFailed {
            state: Box::new(unit),
            last: Box::new(seen),
        });
    }
    Err(HealthError::Lost { last: Box::new(seen) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::HealthTest;
    use crate::fakes::running_container;

    fn seen(docker: DockerHealth, status: &str, exec: Option<bool>) -> Observation {
        Observation {
            probe: Ok(200),
            container: Some(Container {
                health_test: HealthTest::from_docker(&["CMD".into(), "/check".into()], None),
                ..running_container(status)
            }),
            docker,
            exec,
        }
    }

    #[test]
    fn one_passing_run_counts_while_docker_says_starting_only_under_exec() {
        assert!(seen(DockerHealth::Exec, "starting", Some(true)).is_healthy());
        assert!(!seen(DockerHealth::Exec, "starting", Some(false)).is_healthy());
        assert!(!seen(DockerHealth::Exec, "starting", None).is_healthy());
        assert!(!seen(DockerHealth::Wait, "starting", Some(true)).is_healthy());
        assert!(seen(DockerHealth::Wait, "healthy", None).is_healthy());
    }

    #[test]
    fn docker_s_own_unhealthy_fails_and_ignore_leaves_it_to_the_probe() {
        assert!(!seen(DockerHealth::Exec, "unhealthy", Some(true)).is_healthy());
        assert!(seen(DockerHealth::Ignore, "unhealthy", None).is_healthy());
        let mut failing_probe = seen(DockerHealth::Ignore, "healthy", None);
        failing_probe.probe = Ok(503);
        assert!(!failing_probe.is_healthy());
    }

    #[test]
    fn the_test_is_run_only_while_docker_has_not_judged_and_the_probe_passes() {
        assert!(seen(DockerHealth::Exec, "starting", None).wants_exec());
        assert!(!seen(DockerHealth::Exec, "healthy", None).wants_exec());
        assert!(!seen(DockerHealth::Exec, "unhealthy", None).wants_exec());
        assert!(!seen(DockerHealth::Wait, "starting", None).wants_exec());
        let mut not_ready = seen(DockerHealth::Exec, "starting", None);
        not_ready.probe = Err("connection refused".into());
        assert!(!not_ready.wants_exec());
    }
}
