//! Times the phases of a run and reports each as it ends, and keeps the
//! target once chosen, for the history (the phases get it as a value).

use std::time::{Duration, Instant};

use super::{Phase, Report, Target};

pub(super) struct Clock<'r, R> {
    pub report: &'r mut R,
    since: Instant,
    pub laps: Vec<(Phase, Duration)>,
    /// What this run went for; `None` until chosen (a refused lock never is).
    pub chosen: Option<Target>,
}

impl<'r, R: Report> Clock<'r, R> {
    pub fn new(report: &'r mut R) -> Self {
        Clock {
            report,
            since: Instant::now(),
            laps: Vec::new(),
            chosen: None,
        }
    }

    /// The target is chosen: reported, and kept for the history.
    pub fn chose(&mut self, target: &Target) {
        self.report.target(target.from, target.to, &target.image);
        self.chosen = Some(target.clone());
    }

    /// Ends `phase` now.
    pub fn lap(&mut self, phase: Phase) {
        let took = self.since.elapsed();
        self.since = Instant::now();
        self.laps.push((phase, took));
        self.report.phase(phase, took);
    }

    pub fn note(&mut self, text: &str) {
        self.report.note(text);
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
