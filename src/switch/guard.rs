//! Phase `guard` (DESIGN §4): after verify, the new color's real traffic
//! is counted in the proxy's access log for `[guard] window`, while the old
//! color still runs as nginx's fallback. Too many 5xx and the switch is
//! undone at once, as a failed verify is.

use std::time::{Duration, Instant};

use super::run::{JOURNAL_LINES, Run};
use super::{Report, SwitchError};
use crate::docker::Docker;
use crate::domain::Color;
use crate::guard::{Figures, Tally, Verdict, judge};
use crate::health::Probe;
use crate::proxy::Proxy;
use crate::state::StateStore;
use crate::systemd::Systemd;

/// How often the log is read: a breach is seen within this.
const GUARD_POLL: Duration = Duration::from_millis(100);

impl<S, D, T, P, H, R> Run<'_, '_, S, D, T, P, H, R>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
    R: Report,
{
    /// Whether this switch is watched: `[guard]` is on and there is an old
    /// color to go back to.
    pub fn guarded(&self) -> bool {
        self.world.config.guard.enabled() && self.from.is_some()
    }

    /// Watches `to`'s traffic until the window is over or it breaches.
    pub async fn guard(&mut self, to: Color) -> Result<(), SwitchError> {
        let config = self.world.config;
        if !self.guarded() {
            if config.guard.enabled() {
                self.clock
                    .note("no color was live before, so the guard has nothing to roll back to: not watched");
            }
            return Ok(());
        }
        let began = Instant::now();
        let mut tally = Tally::default();
        let verdict = loop {
            tally.add(self.world.proxy.traffic(to).await?);
            let watched = began.elapsed();
            match judge(&config.guard, &tally, watched) {
                Verdict::Watching => {}
                verdict => break verdict,
            }
            self.clock.report.guarding(&tally, watched);
            let left = config.guard.window.get().saturating_sub(watched);
            tokio::time::sleep(GUARD_POLL.min(left)).await;
        };
        let figures = Figures::new(&config.guard, tally, began.elapsed(), verdict);
        self.guard_figures = Some(figures.clone());
        match verdict {
            Verdict::Breached => {
                let unit = config.unit(to);
                Err(SwitchError::GuardTripped {
                    journal: self.world.systemd.journal_tail(&unit, JOURNAL_LINES).await,
                    unit,
                    figures: Box::new(figures),
                })
            }
            Verdict::Blind => Err(SwitchError::GuardBlind {
                log: config.guard_log(),
                figures: Box::new(figures),
            }),
            Verdict::Passed | Verdict::Watching => {
                self.clock.report.detail(&format!("guard passed: {figures}"));
                Ok(())
            }
        }
    }
}
