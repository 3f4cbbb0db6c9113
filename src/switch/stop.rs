//! Phase `stop`: only the live color stays enabled (so a reboot starts it
//! alone), and the old one stops; and the helpers that stop a color.

use super::run::Run;
use super::{Host, Report, SwitchError, Target};
use crate::domain::Color;
use crate::state::{StateStore, Status};
use crate::systemd::{FileChange, Systemd, enable_only};

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// Enables only the target and stops the old color, both at once (a
    /// daemon-reload and a container's stop are each a few hundred ms, and
    /// neither needs the other). What fails is noted: the switch is done.
    pub async fn stop_old(&mut self, target: &Target) {
        let to = target.to;
        let Some(from) = target.from else {
            let enabled = self.enable_only(to).await;
            return self.note_enabled(to, enabled);
        };
        if let Err(e) = self.world.state.check_lock().await {
            return self
                .clock
                .note(&format!("{to} is live; {from} keeps running and stays enabled: {e}"));
        }
        let (enabled, stopped) = tokio::join!(self.enable_only(to), self.stop_unit(from));
        self.note_enabled(to, enabled);
        match stopped {
            Ok(()) => self.record_stopped(from).await,
            Err(e) => self
                .clock
                .note(&format!("{to} is live, but stopping {from} failed: {e}")),
        }
    }

    fn note_enabled(&mut self, to: Color, enabled: Result<Vec<FileChange>, SwitchError>) {
        if let Err(e) = enabled {
            self.clock
                .note(&format!("{to} is live, but enabling only it failed: {e}"));
        }
    }

    /// Makes `color` the only enabled one, so after a reboot it alone starts.
    pub async fn enable_only(&self, color: Color) -> Result<Vec<FileChange>, SwitchError> {
        self.world.state.check_lock().await?;
        let config = self.world.config;
        Ok(enable_only(self.world.systemd, &config.unit(color), &config.unit(color.other())).await?)
    }

    /// Stops `color` and records it stopped.
    pub async fn stop_color(&mut self, color: Color) -> Result<(), SwitchError> {
        self.world.state.check_lock().await?;
        self.stop_unit(color).await?;
        self.record_stopped(color).await;
        Ok(())
    }

    /// `StopUnit` for `color`, its job waited for; the caller checked the lock.
    pub async fn stop_unit(&self, color: Color) -> Result<(), SwitchError> {
        let unit = self.world.config.unit(color);
        self.world.systemd.stop(&unit, self.stop_timeout()).await?;
        Ok(())
    }

    pub async fn record_stopped(&mut self, color: Color) {
        if let Err(e) = self.world.state.set_status(color, Status::Stopped).await {
            self.clock
                .note(&format!("{color} stopped, but its status was not recorded: {e}"));
        }
    }
}
