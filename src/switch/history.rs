//! Every deploy, good or bad, as a record under `history/` (DESIGN §6).

use super::run::Run;
use super::{Report, SwitchError, now_rfc3339};
use crate::docker::Docker;
use crate::domain::ImageRef;
use crate::health::Probe;
use crate::proxy::Proxy;
use crate::state::{HistoryRecord, StateStore};
use crate::systemd::Systemd;

impl<S, D, T, P, H, R> Run<'_, '_, S, D, T, P, H, R>
where
    S: Systemd,
    D: Docker,
    T: StateStore,
    P: Proxy,
    H: Probe,
    R: Report,
{
    /// Adds this deploy to the history; a failure to do so is only noted.
    /// A deploy that never chose a target (a refused lock) is not one.
    pub async fn record(&mut self, result: Result<(), &SwitchError>) {
        let Some(to) = self.to else { return };
        let record = HistoryRecord {
            id: self.request.deploy_id.clone(),
            from: self.from.map(|c| c.to_string()),
            to: to.to_string(),
            image: self.image.as_ref().map(ImageRef::to_string).unwrap_or_default(),
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
