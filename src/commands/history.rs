//! `bgctl history [-n N] [--json]`: past deploys from the state store,
//! newest first, with each phase's time.

use std::fmt;

use serde::Serialize;

use crate::config::Config;
use crate::error::Error;
use crate::guard::Figures;
use crate::state::{CommandRecord, HistoryRecord, StateStore, Store};
use crate::terminal::{self, Paint, paint_out};

pub async fn run(config: &Config, count: usize, json: bool) -> Result<(), Error> {
    let state = Store::open(config).await?;
    let records = state.history().await?;
    let entries: Vec<Entry> = records.iter().rev().take(count).map(Entry::from).collect();
    if json {
        crate::terminal::print_json(&entries);
    } else if entries.is_empty() {
        terminal::out(&format!("{}: no deploys yet\n", config.name));
    } else {
        for entry in &entries {
            terminal::out(&entry.to_string());
        }
    }
    Ok(())
}

/// One deploy (`history --json` is an array of these, newest first).
#[derive(Debug, Serialize)]
pub struct Entry {
    pub id: String,
    /// switch, rollback, stage, promote or discard.
    pub command: String,
    pub start: String,
    pub end: String,
    pub from: Option<String>,
    pub to: String,
    pub image: String,
    /// `ok`, or `failed: <why>`.
    pub result: String,
    /// From start to end, a failed phase and its undo included.
    pub duration_ms: u64,
    /// Each finished phase's milliseconds, in the order they ran (a failed
    /// deploy's last phase is the one before it failed).
    pub phases: Vec<PhaseTime>,
    /// The configured commands it ran (check, pre_flip, post_switch).
    pub commands: Vec<CommandRecord>,
    /// What `[guard]` counted, when it watched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<Figures>,
}

#[derive(Debug, Serialize)]
pub struct PhaseTime {
    pub phase: String,
    pub ms: u64,
}

impl From<&HistoryRecord> for Entry {
    fn from(r: &HistoryRecord) -> Entry {
        Entry {
            id: r.id.clone(),
            command: r.command.clone(),
            start: r.start.clone(),
            end: r.end.clone(),
            from: r.from.clone(),
            to: r.to.clone(),
            image: r.image.clone(),
            result: r.result.clone(),
            duration_ms: r.duration_ms(),
            phases: r
                .phases
                .iter()
                .map(|(phase, ms)| PhaseTime {
                    phase: phase.clone(),
                    ms: *ms,
                })
                .collect(),
            commands: r.commands.clone(),
            guard: r.guard.clone(),
        }
    }
}

/// Two lines a deploy: what and how it ended, then its phases.
impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let result = if self.result == HistoryRecord::OK {
            paint_out(Paint::Good, "ok")
        } else {
            paint_out(Paint::Bad, &self.result)
        };
        writeln!(
            f,
            "{}  {}  {:<8} {} -> {}  {}  {}  {} ms",
            paint_out(Paint::Bold, &self.id),
            self.start,
            self.command,
            self.from.as_deref().unwrap_or("none"),
            self.to,
            self.image,
            result,
            self.duration_ms
        )?;
        let phases: Vec<String> = self.phases.iter().map(|p| format!("{} {}", p.phase, p.ms)).collect();
        writeln!(f, "    {}", paint_out(Paint::Dim, &phases.join(" · ")))?;
        for c in &self.commands {
            writeln!(f, "    {} `{}`: {} in {} ms", c.hook, c.command, c.result, c.ms)?;
        }
        if let Some(g) = &self.guard {
            writeln!(f, "    guard {}: {g}", g.verdict)?;
        }
        Ok(())
    }
}
