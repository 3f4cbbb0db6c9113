//! `reconcile`: make units, proxy and enablement match the stored state.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::error::Error;
use crate::state::Wait;
use crate::switch::{Goal, reconcile};
use crate::terminal;
use crate::wiring::{on_real_world, request};

/// reconcile waits this long for the lock: a dead holder's lease expires in ~15 s.
const LOCK_WAIT: Duration = Duration::from_secs(30);

pub async fn run(config: &Config, json: bool) -> Result<(), Error> {
    let request = request("reconcile", Goal::Other, None, Wait::Upto(LOCK_WAIT));
    let actions = on_real_world("reconcile", config, &request, async |world, progress| {
        reconcile(world, &request, progress).await
    })
    .await?;
    let summary = Summary {
        deploy_id: request.deploy_id,
        actions,
    };
    terminal::say(Lines(config.name.as_str(), &summary).to_string().trim_end());
    if json {
        crate::terminal::print_json(&summary);
    }
    Ok(())
}

/// What a reconcile changed (`reconcile --json`).
#[derive(Debug, Serialize)]
pub struct Summary {
    pub deploy_id: String,
    pub actions: Vec<String>,
}

/// The summary for people: a line per change, or one saying there was none.
struct Lines<'a>(&'a str, &'a Summary);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Lines(name, summary) = self;
        if summary.actions.is_empty() {
            return writeln!(f, "reconcile {name}: in sync, nothing to do");
        }
        for action in &summary.actions {
            writeln!(f, "reconcile {name}: {action}")?;
        }
        Ok(())
    }
}
