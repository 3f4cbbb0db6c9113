//! A deploy as it goes: a line per phase on stderr (a spinner between them
//! on a TTY) and the same as records in the journal, inside the deploy's
//! span so each carries its service, id and colors.

use std::time::{Duration, Instant};

use tracing::Span;

use crate::domain::{Color, ImageRef, ServiceName};
use crate::exec::Ran;
use crate::fault_points::{fault_at, fault_point};
use crate::guard::Tally;
use crate::journal;
use crate::switch::{Phase, Report};
use crate::terminal::{self, Paint, Spinner, paint};

/// Off a terminal (no spinner), how often the guard says where it is.
const GUARD_LINE_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    service: ServiceName,
    span: Span,
    spinner: Spinner,
    /// Said under the next phase line: what that phase found.
    details: Vec<String>,
    /// When the guard last printed its counts.
    guard_said: Option<Instant>,
}

impl Progress {
    /// Progress of the deploy whose records go in `span`.
    pub fn new(service: &ServiceName, span: Span) -> Progress {
        Progress {
            service: service.clone(),
            span,
            spinner: Spinner::start(Phase::Lock.as_str()),
            details: Vec::new(),
            guard_said: None,
        }
    }
}

impl Report for Progress {
    fn phase(&mut self, phase: Phase, took: Duration) {
        terminal::say(&format!(
            "  {} {:>8}",
            paint(Paint::Bold, &format!("{phase:<8}")),
            millis(took)
        ));
        journal::phase_ended(&self.service, phase.as_str(), took.as_millis() as u64);
        for detail in std::mem::take(&mut self.details) {
            terminal::say(&format!("    {}", paint(Paint::Dim, &detail)));
            tracing::info!("{}: {detail}", self.service);
        }
        if let Some(next) = Phase::ALL.iter().skip_while(|p| **p != phase).nth(1) {
            self.spinner.set(next.as_str());
        }
        fault_point(phase);
    }

    fn checkpoint(&mut self, point: &str) {
        fault_at(point);
    }

    fn note(&mut self, text: &str) {
        terminal::say(&format!("  {} {text}", paint(Paint::Warn, "note:")));
        tracing::warn!("{}: {text}", self.service);
    }

    fn detail(&mut self, text: &str) {
        self.details.push(text.to_owned());
    }

    fn guarding(&mut self, tally: &Tally, watched: Duration) {
        let line = format!("guard {:.1} s: {tally}", watched.as_secs_f64());
        self.spinner.set(&line);
        let started = *self.guard_said.get_or_insert_with(Instant::now);
        if started.elapsed() >= GUARD_LINE_EVERY {
            terminal::say(&format!("    {}", paint(Paint::Dim, &line)));
            tracing::info!("{}: {line}", self.service);
            self.guard_said = Some(Instant::now());
        }
    }

    fn ran(&mut self, ran: &Ran) {
        let line = format!("{} `{}`: {} in {}", ran.hook, ran.command, ran.ending, millis(ran.took));
        let paint_as = if ran.succeeded() { Paint::Dim } else { Paint::Warn };
        terminal::say(&format!("    {}", paint(paint_as, &line)));
    }

    fn target(&mut self, from: Option<Color>, to: Color, image: &ImageRef) {
        journal::record_target(&self.span, from, to);
        let from = from.map_or("nothing".into(), |c| c.to_string());
        tracing::info!("{}: deploying {image} to {to} (live now: {from})", self.service);
    }
}

/// A duration as progress shows it.
pub fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}
