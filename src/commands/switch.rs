//! `switch`, `rollback` and `promote`: move users to a color, and say what
//! happened, for people on stderr and with `--json` for machines, from one
//! typed summary.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::deploy::{millis, on_real_world, request};
use crate::config::Config;
use crate::domain::ImageRef;
use crate::error::Error;
use crate::guard::Figures;
use crate::state::{CommandRecord, Wait};
use crate::switch::{Goal, Outcome, Phase, promote as promote_staged, switch};
use crate::terminal;

pub async fn run(config: &Config, goal: Goal, image: Option<ImageRef>, wait: bool, json: bool) -> Result<(), Error> {
    // Only a label: rollback's target is chosen under the lock.
    let verb = if goal == Goal::Previous { "rollback" } else { "switch" };
    let request = request(verb, goal, image, lock_wait(wait));
    let outcome = on_real_world(verb, config, &request, async |world, progress| {
        switch(world, &request, progress).await
    })
    .await?;
    tell(verb, config, &Summary::new(&request.deploy_id, &outcome), json);
    Ok(())
}

/// `promote`: the staged color goes live.
pub async fn promote(config: &Config, wait: bool, json: bool) -> Result<(), Error> {
    let request = request("promote", Goal::Other, None, lock_wait(wait));
    let outcome = on_real_world("promote", config, &request, async |world, progress| {
        promote_staged(world, &request, progress).await
    })
    .await?;
    tell("promote", config, &Summary::new(&request.deploy_id, &outcome), json);
    Ok(())
}

/// `--wait`: queue behind another deploy's lock; else fail at once (exit 4).
pub fn lock_wait(wait: bool) -> Wait {
    if wait { Wait::Forever } else { Wait::No }
}

/// The summary on stderr for people, and with `--json` on stdout.
pub fn tell(verb: &str, config: &Config, summary: &(impl fmt::Display + Serialize), json: bool) {
    terminal::say(&format!("{verb} {}: {summary}", config.name));
    if json {
        super::print_json(summary);
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
