//! `switch` and `rollback`: deploy to a color, and say what happened, for
//! people on stderr and with `--json` for machines, from one typed summary.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::deploy::{journaled, millis, request};
use crate::config::Config;
use crate::domain::ImageRef;
use crate::error::Error;
use crate::state::Wait;
use crate::switch::{Goal, Outcome, Phase, switch};
use crate::terminal;

pub async fn run(config: &Config, goal: Goal, image: Option<ImageRef>, wait: bool, json: bool) -> Result<(), Error> {
    // Only a label: rollback's target is chosen under the lock.
    let verb = if goal == Goal::Previous { "rollback" } else { "switch" };
    let wait = if wait { Wait::Forever } else { Wait::No };
    let request = request(verb, goal, image, wait);
    let outcome = journaled(verb, config, &request.deploy_id, async |b, progress| {
        Ok(
            b.with_world(config, async |world| switch(world, &request, progress).await)
                .await?,
        )
    })
    .await?;
    let summary = Summary::new(&request.deploy_id, &outcome);
    terminal::say(&format!("{verb} {}: {summary}", config.name));
    if json {
        super::print_json(&summary);
    }
    Ok(())
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
    fn new(deploy_id: &str, outcome: &Outcome) -> Summary {
        let total: Duration = outcome.phases.iter().map(|(_, d)| *d).sum();
        Summary {
            deploy_id: deploy_id.to_owned(),
            from: outcome.from.map(|c| c.to_string()),
            to: outcome.to.to_string(),
            image: outcome.image.to_string(),
            total_ms: total.as_millis() as u64,
            phases_ms: PhaseTimes(outcome.phases.clone()),
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
