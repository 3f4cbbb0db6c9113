//! `[health]`: how long and how often the gate looks at a new color, and
//! what it makes of the image's HEALTHCHECK (DESIGN §4).

use serde::Deserialize;

use super::sections::parsed;
use crate::domain::{HealthPath, HumanDuration};

pub const DEFAULT_HEALTH_TIMEOUT: HumanDuration = HumanDuration::from_millis(60_000);
pub const DEFAULT_HEALTH_PATH: &str = "/";
pub const DEFAULT_HEALTH_INTERVAL: HumanDuration = HumanDuration::from_millis(250);

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    pub timeout: HumanDuration,
    pub path: HealthPath,
    pub interval: HumanDuration,
    pub docker: DockerHealth,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_HEALTH_TIMEOUT,
            path: parsed(DEFAULT_HEALTH_PATH),
            interval: DEFAULT_HEALTH_INTERVAL,
            docker: DockerHealth::default(),
        }
    }
}

/// `[health] docker`: what the gate makes of an image's HEALTHCHECK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DockerHealth {
    /// While Docker says `starting`, bgctl runs the test itself every
    /// `interval`; one pass counts.
    #[default]
    Exec,
    /// Only Docker's own verdict counts (its first run is one HEALTHCHECK
    /// interval after the start).
    Wait,
    /// The HEALTHCHECK is not looked at; the HTTP probe decides.
    Ignore,
}
