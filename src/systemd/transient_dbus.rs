//! [`TransientCommand`] over D-Bus: `StartTransientUnit` with `AddRef=`, so
//! the ended unit stays readable until bgctl lets it go (`Unref`), then
//! systemd collects it, failed or not (`CollectMode=inactive-or-failed`).
//! If bgctl dies, its bus name goes and the reference with it: the unit
//! runs on to its `RuntimeMaxSec` or until the next run stops it.

use std::time::Duration;

use zbus::Variant;

use super::client::{CALL_TIMEOUT, DbusSystemd, MODE, call_error, within};
use super::dbus::UnitProxy;
use super::{JobResult, Systemd, SystemdError, TransientCommand, TransientEnd};
use crate::exec::TAIL_LINES;

/// How often a running command's unit is looked at.
const POLL: Duration = Duration::from_millis(25);
/// `TimeoutStopSec=`: SIGTERM, then SIGKILL this much later.
const STOP_AFTER: Duration = Duration::from_secs(3);
/// Beyond `RuntimeMaxSec` and the stop: systemd must have ended it by then.
const SLACK: Duration = Duration::from_secs(5);
/// How long the journal may take to hold all a command printed.
const JOURNAL_SETTLE: Duration = Duration::from_secs(1);

impl DbusSystemd {
    pub(super) async fn run_transient_unit(&self, command: &TransientCommand) -> Result<TransientEnd, SystemdError> {
        let name = command.unit.as_str();
        let properties = properties(command);
        let call = self.manager.start_transient_unit(name, MODE, &properties, &[]);
        let started = match self.await_job("run", name, CALL_TIMEOUT, call).await {
            Ok(job) => job == JobResult::Done,
            Err(e) => {
                // The call failed (nothing runs), or the wait for its job
                // did: then the unit may run, and must not go on alone.
                let existed = self.give_up(command).await;
                return if existed {
                    Ok(TransientEnd::lost(e.to_string()))
                } else {
                    Err(e)
                };
            }
        };
        match self.follow(command, started).await {
            Ok(end) => Ok(end),
            Err(e) => {
                self.give_up(command).await;
                Ok(TransientEnd::lost(e.to_string()))
            }
        }
    }

    /// Waits for the started unit to end (stopping it past its bound) and
    /// reads how; then lets it go.
    async fn follow(&self, command: &TransientCommand, started: bool) -> Result<TransientEnd, SystemdError> {
        let (op, name) = ("run", command.unit.as_str());
        let (unit, service) = self.unit_proxies(&command.unit).await?;
        let bound = command.limit + STOP_AFTER + SLACK;
        // systemd did not stop it at its limit: bgctl does, and it timed out.
        let overran = within(op, name, bound, ended(&unit)).await.is_err();
        if overran {
            self.stop(&command.unit, STOP_AFTER + SLACK).await?;
        }
        let read = async { tokio::try_join!(service.result(), service.exec_main_code(), service.exec_main_status()) };
        let (result, code, status) = within(op, name, CALL_TIMEOUT, read)
            .await?
            .map_err(call_error(op, name))?;
        let mut end = TransientEnd {
            started,
            result: if overran { "timeout".into() } else { result },
            code,
            status,
            tail: Vec::new(),
            lost: None,
        };
        if !end.succeeded() {
            end.tail = settled_tail(name).await;
        }
        // Collected from now on; a failed one too.
        let _ = unit.unref().await;
        Ok(end)
    }

    /// Stops the command's unit and lets it go, whatever state it is in;
    /// returns whether systemd had it at all.
    async fn give_up(&self, command: &TransientCommand) -> bool {
        let existed = self
            .state(&command.unit)
            .await
            .is_ok_and(|s| s.load_state != "not-found");
        let _ = self.stop(&command.unit, STOP_AFTER + SLACK).await;
        if let Ok((unit, _)) = self.unit_proxies(&command.unit).await {
            let _ = unit.unref().await;
        }
        existed
    }
}

/// Waits until the unit is inactive or failed.
async fn ended(unit: &UnitProxy<'_>) {
    loop {
        match unit.active_state().await.as_deref() {
            Ok("inactive" | "failed") => return,
            // Gone: collected, so ended.
            Err(_) => return,
            Ok(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// The unit's own lines (not systemd's about it), read again until two
/// reads agree: journald takes the last ones a moment after the exit.
async fn settled_tail(name: &str) -> Vec<String> {
    let select = format!("_SYSTEMD_UNIT={name}");
    let read = async || {
        DbusSystemd::read_journal(&[&select], TAIL_LINES)
            .await
            .unwrap_or_default()
    };
    let began = std::time::Instant::now();
    let mut tail = read().await;
    while began.elapsed() < JOURNAL_SETTLE {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let again = read().await;
        if again == tail && !tail.is_empty() {
            break;
        }
        tail = again;
    }
    tail
}

fn properties(command: &TransientCommand) -> Vec<(&'static str, Variant<'static>)> {
    vec![
        ("Description", Variant::from(command.description.clone())),
        // The job ends once the program is executed: a missing one fails it.
        ("Type", Variant::from("exec")),
        ("ExecStartEx", Variant::from(command.exec_start())),
        ("Environment", Variant::from(command.environment())),
        ("RuntimeMaxUSec", Variant::from(command.runtime_max_usec())),
        ("TimeoutStopUSec", Variant::from(STOP_AFTER.as_micros() as u64)),
        ("AddRef", Variant::from(true)),
        ("CollectMode", Variant::from("inactive-or-failed")),
        ("StandardInput", Variant::from("null")),
        ("StandardOutput", Variant::from("journal")),
        ("StandardError", Variant::from("journal")),
        ("LogExtraFields", Variant::from(command.log_extra_fields())),
    ]
}
