//! Phase `guard` (DESIGN §4): after verify, the new color's real traffic
//! is counted in the proxy's access log for `[guard] window`, while the old
//! color still runs as nginx's fallback. Too many 5xx and the switch is
//! undone at once, as a failed verify is.

use std::time::{Duration, Instant};

use super::run::{JOURNAL_LINES, Run};
use super::{Host, Report, SwitchError, Target};
use crate::guard::{Figures, Tally, Verdict, judge};
use crate::proxy::Proxy;
use crate::systemd::Systemd;

/// How often the log is read: a breach is seen within this.
const GUARD_POLL: Duration = Duration::from_millis(100);

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// Whether this switch is watched: `[guard]` is on and there is an old
    /// color to go back to.
    pub fn guarded(&self, target: &Target) -> bool {
        self.world.config.guard.enabled() && target.from.is_some()
    }

    /// Watches the target's traffic until the window is over or it breaches.
    pub async fn guard(&mut self, target: &Target) -> Result<(), SwitchError> {
        let config = self.world.config;
        let to = target.to;
        if !self.guarded(target) {
            if config.guard.enabled() {
                self.clock
                    .note("no color was live before, so the guard has nothing to roll back to: not watched");
            }
            return Ok(());
        }
        self.say_what_the_guard_cannot_see();
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

    /// Other proxy hosts write no log this host reads: their users' answers
    /// are not counted, and that is said, not implied.
    fn say_what_the_guard_cannot_see(&mut self) {
        let others = &self.world.config.proxy.verify;
        if others.is_empty() {
            return;
        }
        let urls: Vec<String> = others.iter().map(ToString::to_string).collect();
        self.clock.note(&format!(
            "the guard counts this host's traffic only (its log {}): requests through {} are not counted, so a release that fails only their users passes it",
            self.world.config.guard_log(),
            urls.join(", ")
        ));
    }
}
