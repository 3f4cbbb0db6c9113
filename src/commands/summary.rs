//! What the deploy-like commands tell (`switch`, `rollback`, `promote`,
//! `stage`, `discard`, and `status` for a staged color): one typed summary
//! each, for people on stderr and with `--json` for machines.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::guard::Figures;
use crate::state::{CommandRecord, Staged};
use crate::switch::{Outcome, Phase};
use crate::terminal;
use crate::terminal::millis;

/// The summary on stderr for people, and with `--json` on stdout.
pub fn tell(verb: &str, config: &Config, summary: &(impl fmt::Display + Serialize), json: bool) {
    terminal::say(&format!("{verb} {}: {summary}", config.name));
    if json {
        crate::terminal::print_json(summary);
    }
}

/// A finished deploy (`switch --json`).
#[derive(Debug, Serialize)]
pub struct Summary {
    pub deploy_id: String,
    pub from: Option<String>,
    pub to: String,
    pub image: String,
    pub total_ms: u64,
    pub phases_ms: PhaseTimes,
    /// The configured commands it ran ([checks] command, hooks).
    pub commands: Vec<CommandRecord>,
    /// What `[guard]` counted, when it watched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<Figures>,
}

/// Each phase's milliseconds, in the order they ran (a JSON object).
#[derive(Debug)]
pub struct PhaseTimes(Vec<(Phase, Duration)>);

impl Serialize for PhaseTimes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(p, d)| (p.as_str(), d.as_millis() as u64)))
    }
}

impl Summary {
    pub fn new(deploy_id: &str, outcome: &Outcome) -> Summary {
        let total: Duration = outcome.phases.iter().map(|(_, d)| *d).sum();
        Summary {
            deploy_id: deploy_id.to_owned(),
            from: outcome.from.map(|c| c.to_string()),
            to: outcome.to.to_string(),
            image: outcome.image.to_string(),
            total_ms: total.as_millis() as u64,
            phases_ms: PhaseTimes(outcome.phases.clone()),
            commands: outcome.commands.clone(),
            guard: outcome.guard.clone(),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is live with {} (was {}), in {}",
            self.to,
            self.image,
            self.from.as_deref().unwrap_or("nothing"),
            millis(Duration::from_millis(self.total_ms))
        )
    }
}

/// A staged color, as `status` and `discard` show it.
#[derive(Debug, Serialize)]
pub struct StagedInfo {
    pub color: String,
    pub image: String,
    /// The stage that started it.
    pub deploy_id: String,
    pub since: String,
}

impl From<&Staged> for StagedInfo {
    fn from(s: &Staged) -> StagedInfo {
        StagedInfo {
            color: s.color.to_string(),
            image: s.image.to_string(),
            deploy_id: s.deploy_id.clone(),
            since: s.since.clone(),
        }
    }
}
