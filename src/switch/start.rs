//! Phases `start` and `healthy`: the target's image in its env file, its
//! unit started, and health waited for; and the later looks that tell a
//! color still healthy from one that was lost.

use std::time::Duration;

use super::run::{JOURNAL_LINES, Run};
use super::{Host, Report, SwitchError, Target};
use crate::domain::{Color, ImageRef};
use crate::files::{read_if_exists, write_atomic};
use crate::health::{HealthError, check_once, wait_healthy};
use crate::render;
use crate::state::StateStore;
use crate::systemd::{Systemd, SystemdError};

/// The start job itself (an `ExecStartPre` pull may take a while).
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// Looks at a color before it counts as not healthy any more: one slow
/// probe is no reason to undo a verified deploy or drop a staged one.
const CONFIRM_LOOKS: usize = 3;

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// Phase `start`: the target runs its image, started afresh. A failure
    /// stops it (but a lost lock leaves it to the lock's new holder).
    pub async fn start(&mut self, target: &Target) -> Result<(), SwitchError> {
        match self.start_color(target.to, Some(&target.image), true).await {
            Ok(()) => Ok(()),
            Err(e @ SwitchError::State(_)) => Err(e),
            Err(e) => Err(self.abandon(target.to, e).await),
        }
    }

    /// Starts `color`, with `image` in its env file when given. `fresh`: a
    /// color already up is stopped first (it may run another image). A unit
    /// that would not start says why, with its journal.
    pub async fn start_color(
        &mut self,
        color: Color,
        image: Option<&ImageRef>,
        fresh: bool,
    ) -> Result<(), SwitchError> {
        self.world.state.check_lock().await?;
        if let Some(image) = image {
            self.write_image(color, image)?;
        }
        let systemd = self.world.systemd;
        let unit = self.world.config.unit(color);
        if fresh && systemd.state(&unit).await?.is_up() {
            systemd.stop(&unit, self.stop_timeout()).await?;
        }
        match systemd.start(&unit, Duration::ZERO, START_TIMEOUT).await {
            Ok(_) => Ok(()),
            Err(e @ (SystemdError::JobFailed { .. } | SystemdError::FailedAfterStart { .. })) => {
                Err(SwitchError::StartFailed {
                    journal: systemd.journal_tail(&unit, JOURNAL_LINES).await,
                    unit,
                    source: e,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Puts `image` into `color`'s env file if it is not there yet. The unit
    /// reads the file at its start: no daemon-reload.
    fn write_image(&self, color: Color, image: &ImageRef) -> Result<(), SwitchError> {
        // The one way an image reaches a unit: whatever chose it (--image,
        // the state store, history), it is in the allowlist.
        self.world
            .config
            .check_image(image)
            .map_err(SwitchError::ImageNotAllowed)?;
        let file = render::image_env(self.world.config, color, image)?;
        if read_if_exists(file.path.as_path())?.as_deref() != Some(file.contents.as_str()) {
            write_atomic(file.path.as_path(), file.contents.as_bytes())?;
        }
        Ok(())
    }

    /// Phase `healthy`: a new color that never gets there is stopped.
    pub async fn healthy(&mut self, to: Color) -> Result<(), SwitchError> {
        let Err(e) = self.wait_healthy(to).await else {
            return Ok(());
        };
        let failure = match SwitchError::from_health(e) {
            Ok(sick) => self.unhealthy(to, sick).await,
            Err(boundary) => boundary,
        };
        Err(self.abandon(to, failure).await)
    }

    /// Waits until `color` is healthy, up to `[health] timeout`.
    pub async fn wait_healthy(&self, color: Color) -> Result<(), HealthError> {
        let w = &self.world;
        let target = self.health_target(color);
        wait_healthy(w.systemd, w.docker, w.probe, &target, &w.config.health)
            .await
            .map(drop)
    }

    /// Whether `color` is still healthy: a few looks, `[health] interval`
    /// apart, while it only seems lost (a failed unit ends them at once).
    pub async fn still_healthy(&self, color: Color) -> Result<(), HealthError> {
        let w = &self.world;
        let target = self.health_target(color);
        let look = || check_once(w.systemd, w.docker, w.probe, &target, &w.config.health);
        let mut seen = look().await;
        for _ in 1..CONFIRM_LOOKS {
            if !matches!(seen, Err(HealthError::Lost { .. })) {
                break;
            }
            tokio::time::sleep(w.config.health.interval.get()).await;
            seen = look().await;
        }
        seen.map(drop)
    }

    /// The new color is still healthy (after verify, the guard, the drain).
    pub async fn confirm(&mut self, to: Color) -> Result<(), SwitchError> {
        let Err(e) = self.still_healthy(to).await else {
            return Ok(());
        };
        Err(match SwitchError::from_health(e) {
            Ok(sick) => self.lost(to, sick).await,
            Err(boundary) => boundary,
        })
    }

    /// The error for a new color that never became healthy, with its journal
    /// and Docker's health log.
    async fn unhealthy(&self, color: Color, source: HealthError) -> SwitchError {
        let unit = self.world.config.unit(color);
        SwitchError::Unhealthy {
            journal: self.world.systemd.journal_tail(&unit, JOURNAL_LINES).await,
            log: source.last().map(|o| o.health_log().to_vec()).unwrap_or_default(),
            source: Box::new(source),
            unit,
        }
    }

    /// The error for a new color that was healthy and is not any more.
    async fn lost(&self, color: Color, source: HealthError) -> SwitchError {
        let unit = self.world.config.unit(color);
        SwitchError::NewColorLost {
            journal: self.world.systemd.journal_tail(&unit, JOURNAL_LINES).await,
            source: Box::new(source),
            unit,
        }
    }
}
