//! Phase `drain`: nginx stops falling back to the old color, and a color
//! leaving service is left alone until no request is on its way to it (at
//! most `[proxy] drain`).

use super::run::Run;
use super::{Host, Report, SwitchError, Target};
use crate::domain::Color;
use crate::proxy::Proxy;
use crate::render::{self, RenderedFile};
use crate::state::{StateError, StateStore};

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// The site without the fallback (and without the guard's log), then
    /// the old color drained. The switch has succeeded by now: what fails
    /// is noted.
    pub async fn settle(&mut self, target: &Target) {
        let Some(from) = target.from else { return };
        let to = target.to;
        let applied = match render::site(self.world.config, Some(to)) {
            Ok(site) => match self.apply_site(&site).await {
                Err(SwitchError::State(StateError::LockLost(_))) => self.settle_unlocked(to, &site).await,
                applied => applied,
            },
            Err(e) => Err(e.into()),
        };
        if let Err(e) = applied {
            self.clock
                .note(&format!("{to} is live; the site keeps {from} as fallback: {e}"));
        }
        self.drain(from).await;
    }

    /// With the lock lost, the settled site still goes in when the stored
    /// state names `to` live and proven: it is the site that state renders,
    /// as `proxy sync` writes without a lock. A guarded site left behind
    /// would keep logging every request.
    async fn settle_unlocked(&mut self, to: Color, site: &RenderedFile) -> Result<(), SwitchError> {
        let snapshot = self.world.state.read().await?;
        let live = snapshot.active.as_ref().map(|a| a.color);
        if live != Some(to) || snapshot.probation.is_some() {
            return Err(StateError::LockLost("and the state moved on: the site is its new holder's".into()).into());
        }
        self.clock.note(&format!(
            "the lock was lost; the site the state renders ({to} alone) went in all the same"
        ));
        Ok(self.world.proxy.apply(site).await?)
    }

    /// Stops `color` once no request is on its way to it.
    pub async fn retire_color(&mut self, color: Color) -> Result<(), SwitchError> {
        self.drain(color).await;
        self.stop_color(color).await
    }

    /// Waits until nothing is on its way to `color` (see [`Proxy::drain`]),
    /// at most `[proxy] drain`, and says what it waited for.
    pub async fn drain(&mut self, color: Color) {
        let proxy = &self.world.config.proxy;
        let drained = self.world.proxy.drain(color, proxy.drain.get(), proxy.drain_wait).await;
        self.clock.report.detail(&format!(
            "waited for {} connection(s) to {color} and {} old nginx worker(s)",
            drained.connections, drained.workers
        ));
        if drained.left > 0 {
            self.clock.note(&format!(
                "{} connection(s) to {color} still open after the drain of {}",
                drained.left,
                humantime::format_duration(proxy.drain.get())
            ));
        }
    }
}
