//! `switch`, `rollback` and `promote`: move users to a color, and say what
//! happened, for people on stderr and with `--json` for machines, from one
//! typed summary.

use super::summary::{Summary, tell};
use crate::config::Config;
use crate::domain::ImageRef;
use crate::error::Error;
use crate::switch::{Goal, promote as promote_staged, switch};
use crate::wiring::{lock_wait, on_real_world, request};

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
