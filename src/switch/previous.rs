//! The `rollback` command's target: the previous color, with the image it last served.
//! Decided after the lock is taken, from the state read under it.

use super::SwitchError;
use crate::domain::{Color, ImageRef};
use crate::state::{HistoryRecord, Snapshot};

/// The state's `previous` color and the image of the newest good deploy to
/// it (its own image key may name a release that was rolled back).
pub(super) fn previous_deploy(
    snapshot: &Snapshot,
    history: &[HistoryRecord],
) -> Result<(Color, ImageRef), SwitchError> {
    let previous = snapshot
        .active
        .as_ref()
        .and_then(|a| a.previous)
        .ok_or(SwitchError::NothingToRollBack)?;
    let served = history
        .iter()
        .rev()
        .find(|r| r.made_live() && r.to == previous.as_str());
    let image = match served {
        Some(record) => record.image.parse().ok(),
        None => snapshot.images.get(&previous).cloned(),
    };
    Ok((previous, image.ok_or(SwitchError::NothingToRollBack)?))
}
