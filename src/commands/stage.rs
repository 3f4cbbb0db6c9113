//! `stage` and `discard`: the first half of a switch, left on the preview
//! for people and test suites, and its undoing.

use std::fmt;

use serde::Serialize;

use super::summary::{StagedInfo, Summary, tell};
use crate::config::Config;
use crate::domain::ImageRef;
use crate::error::Error;
use crate::switch::{Goal, discard as discard_staged, stage as stage_color};
use crate::terminal::millis;
use crate::wiring::{lock_wait, on_real_world, request};

pub async fn stage(config: &Config, goal: Goal, image: Option<ImageRef>, wait: bool, json: bool) -> Result<(), Error> {
    let request = request("stage", goal, image, lock_wait(wait));
    let (staged, outcome) = on_real_world("stage", config, &request, async |world, progress| {
        stage_color(world, &request, progress).await
    })
    .await?;
    let summary = StageSummary {
        preview: config.proxy.preview_listen.map(|p| p.get()),
        url: config.local_url(staged.color),
        deploy: Summary::new(&request.deploy_id, &outcome),
    };
    tell("stage", config, &summary, json);
    Ok(())
}

/// A finished stage (`stage --json`): the switch's summary, and where the
/// staged color can be reached.
#[derive(Debug, Serialize)]
pub struct StageSummary {
    #[serde(flatten)]
    pub deploy: Summary,
    /// nginx's preview port; `None` without `[proxy] preview_listen`.
    pub preview: Option<u16>,
    /// The staged color's own port, as the checks reached it.
    pub url: String,
}

impl fmt::Display for StageSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.deploy;
        write!(
            f,
            "{} is staged with {} (live: {}), in {}; ",
            d.to,
            d.image,
            d.from.as_deref().unwrap_or("nothing"),
            millis(std::time::Duration::from_millis(d.total_ms))
        )?;
        match self.preview {
            Some(port) => write!(f, "try it through nginx on :{port}")?,
            None => write!(f, "try it on {} (no [proxy] preview_listen)", self.url)?,
        }
        write!(f, ", then `bgctl promote` or `bgctl discard`")
    }
}

pub async fn discard(config: &Config, wait: bool, json: bool) -> Result<(), Error> {
    let request = request("discard", Goal::Other, None, lock_wait(wait));
    let discarded = on_real_world("discard", config, &request, async |world, progress| {
        discard_staged(world, &request, progress).await
    })
    .await?;
    let summary = DiscardSummary {
        deploy_id: request.deploy_id,
        discarded: discarded.map(|s| StagedInfo::from(&s)),
    };
    tell("discard", config, &summary, json);
    Ok(())
}

/// What `discard` stopped (`discard --json`); `discarded` is null when
/// nothing was staged.
#[derive(Debug, Serialize)]
pub struct DiscardSummary {
    pub deploy_id: String,
    pub discarded: Option<StagedInfo>,
}

impl fmt::Display for DiscardSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.discarded {
            Some(s) => write!(f, "stopped staged {} ({}); users never saw it", s.color, s.image),
            None => write!(f, "nothing is staged: nothing to do"),
        }
    }
}
