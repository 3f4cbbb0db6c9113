//! Every deploy, good or bad, as a record under `history/` (DESIGN §6).

use super::run::Run;
use super::{Host, Report, SwitchError, now_rfc3339};
use crate::state::{HistoryRecord, StateStore};

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    /// Adds this deploy to the history; a failure to do so is only noted.
    /// A deploy that never chose a target (a refused lock) is not one.
    pub async fn record(&mut self, result: Result<(), &SwitchError>) {
        let Some(target) = &self.clock.chosen else { return };
        let record = HistoryRecord {
            id: self.request.deploy_id.clone(),
            from: target.from.map(|c| c.to_string()),
            to: target.to.to_string(),
            image: target.image.to_string(),
            start: self.began.clone(),
            end: now_rfc3339(),
            result: match result {
                Ok(()) => HistoryRecord::OK.into(),
                Err(e) => format!("failed: {}", e.to_string().lines().next().unwrap_or_default()),
            },
            phases: self
                .clock
                .laps
                .iter()
                .map(|(p, d)| (p.to_string(), d.as_millis() as u64))
                .collect(),
            command: self.request.holder.verb.clone(),
            commands: self.commands.clone(),
            guard: self.guard_figures.clone(),
        };
        if let Err(e) = self.world.state.record(&record).await {
            self.clock
                .note(&format!("could not record the deploy in the history: {e}"));
        }
    }
}
