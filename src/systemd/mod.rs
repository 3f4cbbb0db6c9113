//! The systemd boundary: units driven over D-Bus, the way systemd's own
//! client does it, never by running a program.
//!
//! [`Systemd`] is the small interface the rest of bgctl uses; [`DbusSystemd`]
//! is the real one (proven against a real systemd in `tests/systemd.rs`).

mod client;
pub mod dbus;
mod notify;
mod state;
mod transient;
mod transient_dbus;

use std::time::Duration;

pub use client::{DbusSystemd, JOURNALCTL};
pub use notify::Notifier;
pub use state::{ActiveState, JobResult, UnitState};
pub use transient::{CLD_EXITED, TransientCommand, TransientEnd};

use crate::domain::UnitName;

/// What systemd did with one enable/disable: `symlink`/`unlink`, the path, and
/// where a symlink points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub kind: String,
    pub path: String,
    pub target: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error(
        "cannot reach systemd on the D-Bus system bus ({address}): {reason}. \
         Is systemd running here? Run bgctl on the host, as root; in a sandbox set DBUS_SYSTEM_BUS_ADDRESS"
    )]
    Unreachable { address: String, reason: String },
    #[error("{operation} {unit}: systemd did not finish within {}", humantime::format_duration(*timeout))]
    Timeout {
        operation: &'static str,
        unit: String,
        timeout: Duration,
    },
    #[error("{operation} {unit}: {source}")]
    Call {
        operation: &'static str,
        unit: String,
        source: Box<zbus::Error>,
    },
    #[error("{operation} {unit}: the job ended {result}; the unit is {state}")]
    JobFailed {
        operation: &'static str,
        unit: UnitName,
        result: JobResult,
        state: Box<UnitState>,
    },
    #[error("start {unit}: started, then failed at once: {state}")]
    FailedAfterStart { unit: UnitName, state: Box<UnitState> },
}

/// systemd as bgctl needs it. Jobs are tracked to their end: a call returns
/// when systemd says the job finished, with the unit's state then.
#[allow(async_fn_in_trait)] // used through generics, never as `dyn`
pub trait Systemd {
    /// systemd's version string (`doctor`).
    async fn version(&self) -> Result<String, SystemdError>;

    /// `daemon-reload`: re-read unit files.
    async fn reload(&self) -> Result<(), SystemdError>;

    /// Starts `unit` and waits for its job; then watches it for `settle` and
    /// reports a unit that fails or restarts in that time as failed.
    async fn start(&self, unit: &UnitName, settle: Duration, timeout: Duration) -> Result<UnitState, SystemdError>;

    /// Stops `unit` and waits for its job. A unit that is not loaded is
    /// already stopped.
    async fn stop(&self, unit: &UnitName, timeout: Duration) -> Result<UnitState, SystemdError>;

    /// Restarts `unit` and waits for its job.
    async fn restart(&self, unit: &UnitName, timeout: Duration) -> Result<UnitState, SystemdError>;

    /// Reloads `unit` (its `ExecReload=`) and waits for its job.
    async fn reload_unit(&self, unit: &UnitName, timeout: Duration) -> Result<UnitState, SystemdError>;

    /// The unit's current state, read fresh.
    async fn state(&self, unit: &UnitName) -> Result<UnitState, SystemdError>;

    /// Enables the units' `[Install]` sections (`WantedBy=` symlinks). No
    /// daemon-reload: the caller does one for all its changes.
    async fn enable(&self, units: &[UnitName]) -> Result<Vec<FileChange>, SystemdError>;

    /// Removes the units' enablement symlinks (no daemon-reload either).
    async fn disable(&self, units: &[UnitName]) -> Result<Vec<FileChange>, SystemdError>;

    /// Loaded units whose names match one of the glob `patterns`.
    async fn units_matching(&self, patterns: &[&str]) -> Result<Vec<UnitName>, SystemdError>;

    /// Runs `command` as a transient service and waits for it to end:
    /// systemd stops it at its limit. Its output is in the journal.
    async fn run_transient(&self, command: &TransientCommand) -> Result<TransientEnd, SystemdError>;

    /// The unit's last `lines` journal lines (what `journalctl -u` shows);
    /// empty when the journal cannot be read. Only for error reports.
    async fn journal_tail(&self, unit: &UnitName, lines: usize) -> Vec<String>;
}

/// Makes `active` the only enabled one of the pair, so after a reboot exactly
/// the live color starts. Enables first: a crash in between leaves both
/// enabled (both start, the proxy picks one), never neither.
///
/// No daemon-reload, unlike `systemctl enable`: the links are what the next
/// boot reads, and `is-enabled` reads them from disk too. Only the running
/// manager's view of multi-user.target's wants stays as it was until the
/// next reload, which no deploy needs, and a switch stays free of one.
pub async fn enable_only(
    systemd: &impl Systemd,
    active: &UnitName,
    other: &UnitName,
) -> Result<Vec<FileChange>, SystemdError> {
    let mut changes = systemd.enable(std::slice::from_ref(active)).await?;
    changes.extend(systemd.disable(std::slice::from_ref(other)).await?);
    Ok(changes)
}
