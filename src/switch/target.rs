//! Where a deploy goes: the live color it leaves, the color it goes to and
//! the image, decided once under the lock from what was just read, and
//! handed to every phase after as a value.

use super::run::Run;
use super::{Goal, Host, Report, SwitchError, previous};
use crate::domain::{Color, ImageRef};
use crate::render;
use crate::state::{Snapshot, StateStore};

/// A deploy's colors and image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The color live before it (none on a first deploy).
    pub from: Option<Color>,
    pub to: Color,
    pub image: ImageRef,
}

impl Target {
    /// Going to `to` with `image` from what `snapshot` says is live.
    pub fn new(snapshot: &Snapshot, to: Color, image: ImageRef) -> Target {
        Target {
            from: snapshot.active.as_ref().map(|a| a.color),
            to,
            image,
        }
    }
}

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// Chooses the target under the lock, and says so.
    pub async fn choose_target(&mut self, snapshot: &Snapshot, old_site: Option<&str>) -> Result<Target, SwitchError> {
        let (to, image) = self.choose(snapshot, old_site).await?;
        Ok(self.chose(Target::new(snapshot, to, image)))
    }

    /// Reports `target` as this run's, and gives it back.
    pub fn chose(&mut self, target: Target) -> Target {
        self.clock.chose(&target);
        target
    }

    /// The color and image this deploy goes to.
    async fn choose(&self, snapshot: &Snapshot, old_site: Option<&str>) -> Result<(Color, ImageRef), SwitchError> {
        let config = self.world.config;
        // With no state, a site that still serves a color (state lost) keeps
        // that color: the deploy goes to the other one.
        let live = snapshot
            .active
            .as_ref()
            .map(|a| a.color)
            .or_else(|| old_site.and_then(render::site_color));
        let to = match (self.request.goal, live) {
            (Goal::Previous, _) => {
                let history = self.world.state.history().await?;
                let (to, image) = previous::previous_deploy(snapshot, &history)?;
                config.check_image(&image).map_err(SwitchError::ImageNotAllowed)?;
                return Ok((to, image));
            }
            (Goal::To(to), Some(live)) if to == live => return Err(SwitchError::AlreadyLive(to)),
            (Goal::To(to), _) => to,
            (Goal::Other, Some(live)) => live.other(),
            (Goal::Other, None) => Color::Blue,
        };
        let image = self.request.image.clone().unwrap_or_else(|| config.image.clone());
        config.check_image(&image).map_err(SwitchError::ImageNotAllowed)?;
        Ok((to, image))
    }
}
