//! [`Systemd`] over the D-Bus system bus with zbus.

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use zbus::proxy::CacheProperties;
use zbus::{Connection, OwnedObjectPath};

use super::dbus::{ManagerProxy, ServiceProxy, UnitFileChange, UnitProxy};
use super::{FileChange, JobResult, Systemd, SystemdError, TransientCommand, TransientEnd, UnitState};
use crate::domain::UnitName;

/// Connecting and the first call: a dead bus fails fast (DESIGN §4: exit 5 in under 10 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A method call's reply; jobs have their own, longer, limits.
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a starting unit is looked at while it settles.
const SETTLE_POLL: Duration = Duration::from_millis(50);
/// Job mode: a queued conflicting job is replaced, as the classic recipe's units expect.
pub(super) const MODE: &str = "replace";
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";
/// The journal reader (systemd's own, where Debian puts it).
pub const JOURNALCTL: &str = "/usr/bin/journalctl";
const DEFAULT_BUS: &str = "unix:path=/run/dbus/system_bus_socket";

/// systemd's manager on the system bus (`DBUS_SYSTEM_BUS_ADDRESS` when set).
pub struct DbusSystemd {
    pub(super) conn: Connection,
    pub(super) manager: ManagerProxy<'static>,
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Start,
    Stop,
    Restart,
    Reload,
}

impl Job {
    fn operation(self) -> &'static str {
        match self {
            Job::Start => "start",
            Job::Stop => "stop",
            Job::Restart => "restart",
            Job::Reload => "reload",
        }
    }
}

impl DbusSystemd {
    /// Connects and subscribes; fails with `Unreachable` within 5 s when the
    /// bus or systemd does not answer.
    pub async fn connect() -> Result<DbusSystemd, SystemdError> {
        let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_else(|_| DEFAULT_BUS.into());
        let unreachable = |reason: String| SystemdError::Unreachable {
            address: address.clone(),
            reason,
        };
        let no_answer = || unreachable(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()));
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, Connection::system())
            .await
            .map_err(|_| no_answer())?
            .map_err(|e| unreachable(e.to_string()))?;
        let manager = ManagerProxy::builder(&conn)
            .cache_properties(CacheProperties::No)
            .build()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        // Job signals reach subscribers only. The call also proves systemd
        // itself answers, not just the bus.
        match tokio::time::timeout(CONNECT_TIMEOUT, manager.subscribe()).await {
            Err(_) => return Err(no_answer()),
            Ok(Err(e)) if !is_error(&e, "org.freedesktop.systemd1.AlreadySubscribed") => {
                return Err(unreachable(e.to_string()));
            }
            Ok(_) => {}
        }
        Ok(DbusSystemd { conn, manager })
    }

    /// Runs one job the race-free way (see [`Self::await_job`]).
    async fn run_job(
        &self,
        job: Job,
        unit: &UnitName,
        timeout: Duration,
    ) -> Result<(JobResult, UnitState), SystemdError> {
        let name = unit.as_str();
        let call = async {
            match job {
                Job::Start => self.manager.start_unit(name, MODE).await,
                Job::Stop => self.manager.stop_unit(name, MODE).await,
                Job::Restart => self.manager.restart_unit(name, MODE).await,
                Job::Reload => self.manager.reload_unit(name, MODE).await,
            }
        };
        let result = self.await_job(job.operation(), name, timeout, call).await?;
        Ok((result, self.state(unit).await?))
    }

    /// Listens for `JobRemoved` first, then makes the `call` that queues a
    /// job, then waits for the signal naming the job it returned.
    pub(super) async fn await_job(
        &self,
        op: &'static str,
        name: &str,
        timeout: Duration,
        call: impl Future<Output = zbus::Result<OwnedObjectPath>>,
    ) -> Result<JobResult, SystemdError> {
        let listen = self.manager.receive_job_removed();
        let mut removed = within(op, name, CALL_TIMEOUT, listen)
            .await?
            .map_err(call_error(op, name))?;
        let path: OwnedObjectPath = within(op, name, CALL_TIMEOUT, call)
            .await?
            .map_err(call_error(op, name))?;
        let wait = async {
            while let Some(signal) = removed.next().await {
                match signal.args() {
                    Ok(args) if args.job == path => {
                        return args.result.parse::<JobResult>().map_err(zbus::Error::Failure);
                    }
                    _ => continue,
                }
            }
            Err(zbus::Error::Failure(
                "the bus connection closed while waiting for the job".into(),
            ))
        };
        let result = within(op, name, timeout, wait).await?.map_err(call_error(op, name))?;
        tracing::debug!("systemd: {op} job {} for {name} ended {result}", path.as_str());
        Ok(result)
    }

    /// A job that must end `done`.
    async fn job_done(&self, job: Job, unit: &UnitName, timeout: Duration) -> Result<UnitState, SystemdError> {
        match self.run_job(job, unit, timeout).await? {
            (JobResult::Done, state) => Ok(state),
            (result, state) => Err(SystemdError::JobFailed {
                operation: job.operation(),
                unit: unit.clone(),
                result,
                state: Box::new(state),
            }),
        }
    }

    pub(super) async fn unit_proxies(
        &self,
        unit: &UnitName,
    ) -> Result<(UnitProxy<'static>, ServiceProxy<'static>), SystemdError> {
        let op = "read the state of";
        let name = unit.as_str();
        let path = within(op, name, CALL_TIMEOUT, self.manager.load_unit(name))
            .await?
            .map_err(call_error(op, name))?;
        let build = async {
            let unit = UnitProxy::builder(&self.conn)
                .path(path.clone())
                .cache_properties(CacheProperties::No)
                .build()
                .await?;
            let service = ServiceProxy::builder(&self.conn)
                .path(path)
                .cache_properties(CacheProperties::No)
                .build()
                .await?;
            Ok((unit, service))
        };
        build.await.map_err(call_error(op, name))
    }

    /// As after `enable` on the command line: systemd re-reads what changed.
    async fn file_changes(&self, unit_names: &[UnitName], enable: bool) -> Result<Vec<FileChange>, SystemdError> {
        let op = if enable { "enable" } else { "disable" };
        let names: Vec<&str> = unit_names.iter().map(UnitName::as_str).collect();
        let joined = names.join(" ");
        let call = async {
            if enable {
                self.manager
                    .enable_unit_files(&names, false, true)
                    .await
                    .map(|(_, changes)| changes)
            } else {
                self.manager.disable_unit_files(&names, false).await
            }
        };
        let changes: Vec<UnitFileChange> = within(op, &joined, CALL_TIMEOUT, call)
            .await?
            .map_err(call_error(op, &joined))?;
        Ok(changes
            .into_iter()
            .map(|(kind, path, target)| FileChange { kind, path, target })
            .collect())
    }
}

impl Systemd for DbusSystemd {
    async fn version(&self) -> Result<String, SystemdError> {
        let call = self.manager.version();
        within("read the version of", "systemd", CALL_TIMEOUT, call)
            .await?
            .map_err(call_error("read the version of", "systemd"))
    }

    async fn reload(&self) -> Result<(), SystemdError> {
        let op = "reload";
        within(op, "systemd", CALL_TIMEOUT, self.manager.reload())
            .await?
            .map_err(call_error(op, "systemd"))
    }

    async fn start(&self, unit: &UnitName, settle: Duration, timeout: Duration) -> Result<UnitState, SystemdError> {
        let mut state = self.job_done(Job::Start, unit, timeout).await?;
        // `done` means the process was started; a container that exits at
        // once fails a moment later. Watch for that until `settle` passes;
        // a new run (restart) in between counts as a failure too.
        let run = (state.n_restarts, state.invocation_id.clone());
        let deadline = Instant::now() + settle;
        loop {
            let restarted = (state.n_restarts, &state.invocation_id) != (run.0, &run.1);
            if state.has_failed() || !state.is_up() || restarted {
                return Err(SystemdError::FailedAfterStart {
                    unit: unit.clone(),
                    state: Box::new(state),
                });
            }
            if Instant::now() >= deadline {
                return Ok(state);
            }
            tokio::time::sleep(SETTLE_POLL).await;
            state = self.state(unit).await?;
        }
    }

    async fn stop(&self, unit: &UnitName, timeout: Duration) -> Result<UnitState, SystemdError> {
        match self.job_done(Job::Stop, unit, timeout).await {
            // Already gone is stopped.
            Err(SystemdError::Call { source, .. }) if is_error(&source, NO_SUCH_UNIT) => self.state(unit).await,
            other => other,
        }
    }

    async fn restart(&self, unit: &UnitName, timeout: Duration) -> Result<UnitState, SystemdError> {
        self.job_done(Job::Restart, unit, timeout).await
    }

    async fn reload_unit(&self, unit: &UnitName, timeout: Duration) -> Result<UnitState, SystemdError> {
        self.job_done(Job::Reload, unit, timeout).await
    }

    async fn state(&self, unit: &UnitName) -> Result<UnitState, SystemdError> {
        let (u, s) = self.unit_proxies(unit).await?;
        let read = async {
            let (load_state, active_state, sub_state, invocation_id, need_daemon_reload) = tokio::try_join!(
                u.load_state(),
                u.active_state(),
                u.sub_state(),
                u.invocation_id(),
                u.need_daemon_reload()
            )?;
            // Only a service has a main process (a timer has none).
            let (result, exec_main_status, n_restarts) = if unit.as_str().ends_with(".service") {
                tokio::try_join!(s.result(), s.exec_main_status(), s.n_restarts())?
            } else {
                ("success".to_owned(), 0, 0)
            };
            Ok(UnitState {
                load_state,
                active_state: active_state.parse().map_err(zbus::Error::Failure)?,
                sub_state,
                result,
                exec_main_status,
                n_restarts,
                invocation_id: invocation_id.iter().map(|b| format!("{b:02x}")).collect(),
                need_daemon_reload,
            })
        };
        let op = "read the state of";
        within(op, unit.as_str(), CALL_TIMEOUT, read)
            .await?
            .map_err(call_error(op, unit.as_str()))
    }

    async fn enable(&self, units: &[UnitName]) -> Result<Vec<FileChange>, SystemdError> {
        self.file_changes(units, true).await
    }

    async fn disable(&self, units: &[UnitName]) -> Result<Vec<FileChange>, SystemdError> {
        let changes = match self.file_changes(units, false).await {
            Err(SystemdError::Call { source, .. }) if is_error(&source, NO_SUCH_UNIT) => {
                // systemd refuses the whole call when one file is missing (a
                // missing file is already disabled): one at a time then.
                let mut changes = Vec::new();
                for unit in units {
                    match self.file_changes(std::slice::from_ref(unit), false).await {
                        Ok(some) => changes.extend(some),
                        Err(SystemdError::Call { source, .. }) if is_error(&source, NO_SUCH_UNIT) => {}
                        Err(e) => return Err(e),
                    }
                }
                changes
            }
            other => other?,
        };
        Ok(changes)
    }

    async fn run_transient(&self, command: &TransientCommand) -> Result<TransientEnd, SystemdError> {
        self.run_transient_unit(command).await
    }

    async fn journal_tail(&self, unit: &UnitName, lines: usize) -> Vec<String> {
        Self::read_journal(&["-u", unit.as_str()], lines)
            .await
            .unwrap_or_default()
    }

    async fn units_matching(&self, patterns: &[&str]) -> Result<Vec<UnitName>, SystemdError> {
        let op = "list units";
        let joined = patterns.join(" ");
        let call = self.manager.list_units_by_patterns(&[], patterns);
        let rows = within(op, &joined, CALL_TIMEOUT, call)
            .await?
            .map_err(call_error(op, &joined))?;
        Ok(rows
            .into_iter()
            .filter_map(|row| UnitName::parse(&row.0).ok())
            .collect())
    }
}

impl DbusSystemd {
    /// journald has no D-Bus API for reading: its own client does it.
    /// `select` is journalctl's (`-u NAME`, or a `FIELD=value` match).
    pub(super) async fn read_journal(select: &[&str], lines: usize) -> Option<Vec<String>> {
        let run = tokio::process::Command::new(JOURNALCTL)
            .args(["--no-pager", "-o", "cat", "-n", &lines.to_string()])
            .args(select)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(CALL_TIMEOUT, run).await.ok()?.ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        Some(
            text.lines()
                .filter(|l| !l.starts_with("-- "))
                .map(str::to_owned)
                .collect(),
        )
    }
}

fn is_error(e: &zbus::Error, name: &str) -> bool {
    matches!(e, zbus::Error::MethodError(n, _, _) if n.as_str() == name)
}

pub(super) fn call_error(operation: &'static str, unit: &str) -> impl FnOnce(zbus::Error) -> SystemdError {
    let unit = unit.to_owned();
    move |source| SystemdError::Call {
        operation,
        unit,
        source: Box::new(source),
    }
}

/// `fut`, or `Timeout` after `limit`: no wait on systemd is unbounded.
pub(super) async fn within<T>(
    operation: &'static str,
    unit: &str,
    limit: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, SystemdError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| SystemdError::Timeout {
            operation,
            unit: unit.to_owned(),
            timeout: limit,
        })
}
