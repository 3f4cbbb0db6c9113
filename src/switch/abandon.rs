//! A failure before the flip: the target stops and nothing else changes
//! (no user ever reached it).

use super::run::Run;
use super::{Host, Report, SwitchError};
use crate::domain::Color;
use crate::systemd::Systemd;

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// Stops `color` and gives `failure` back. Not fenced by the lock: it
    /// undoes this run's own start, even when the lock is lost.
    pub async fn abandon(&mut self, color: Color, failure: SwitchError) -> SwitchError {
        let unit = self.world.config.unit(color);
        if let Err(e) = self.world.systemd.stop(&unit, self.stop_timeout()).await {
            self.clock
                .note(&format!("could not stop {unit} after the failure: {e}"));
        }
        failure
    }
}
