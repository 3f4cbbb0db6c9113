//! systemd: units start, stop and run their commands in this process.

use super::*;

pub(crate) struct FakeSystemd<'a> {
    pub(crate) log: &'a Log,
    pub(crate) running: RefCell<HashMap<String, bool>>,
    pub(crate) enabled: RefCell<std::collections::BTreeSet<String>>,
}

impl FakeSystemd<'_> {
    /// Enables or disables `units`, logging and returning only real changes.
    pub(crate) fn set_enabled(&self, units: &[UnitName], on: bool) -> Vec<FileChange> {
        let mut changes = Vec::new();
        for u in units {
            let changed = if on {
                self.enabled.borrow_mut().insert(u.to_string())
            } else {
                self.enabled.borrow_mut().remove(u.as_str())
            };
            if changed {
                self.log.push(format!("{} {u}", if on { "enable" } else { "disable" }));
                changes.push(FileChange {
                    kind: if on { "symlink" } else { "unlink" }.into(),
                    path: u.to_string(),
                    target: String::new(),
                });
            }
        }
        changes
    }
}

impl Systemd for FakeSystemd<'_> {
    async fn version(&self) -> Result<String, SystemdError> {
        Ok("252 (fake)".into())
    }
    async fn reload(&self) -> Result<(), SystemdError> {
        self.log.push("daemon-reload".into());
        Ok(())
    }
    async fn start(&self, unit: &UnitName, _: Duration, _: Duration) -> Result<UnitState, SystemdError> {
        self.log.push(format!("start {unit}"));
        self.running.borrow_mut().insert(unit.to_string(), true);
        self.state(unit).await
    }
    async fn stop(&self, unit: &UnitName, _: Duration) -> Result<UnitState, SystemdError> {
        self.log.push(format!("stop {unit}"));
        self.running.borrow_mut().insert(unit.to_string(), false);
        self.state(unit).await
    }
    async fn restart(&self, unit: &UnitName, _: Duration) -> Result<UnitState, SystemdError> {
        self.start(unit, Duration::ZERO, Duration::ZERO).await
    }
    async fn reload_unit(&self, unit: &UnitName, _: Duration) -> Result<UnitState, SystemdError> {
        self.state(unit).await
    }
    async fn state(&self, unit: &UnitName) -> Result<UnitState, SystemdError> {
        Ok(match self.running.borrow().get(unit.as_str()) {
            Some(true) => unit_state(ActiveState::Active, "running"),
            _ => unit_state(ActiveState::Inactive, "dead"),
        })
    }
    async fn enable(&self, units: &[UnitName]) -> Result<Vec<FileChange>, SystemdError> {
        Ok(self.set_enabled(units, true))
    }
    async fn disable(&self, units: &[UnitName]) -> Result<Vec<FileChange>, SystemdError> {
        Ok(self.set_enabled(units, false))
    }
    async fn units_matching(&self, _: &[&str]) -> Result<Vec<UnitName>, SystemdError> {
        Ok(Vec::new())
    }
    /// Runs the command here and now, with just its environment: what the
    /// switch does with how it ended is the point, not systemd's bounds.
    async fn run_transient(&self, command: &TransientCommand) -> Result<TransientEnd, SystemdError> {
        self.log.push(format!("run {}", command.unit));
        let output = std::process::Command::new(command.argv.program().as_path())
            .args(command.argv.args())
            .env_clear()
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .output();
        let Ok(output) = output else {
            return Ok(TransientEnd {
                started: false,
                result: "exit-code".into(),
                code: CLD_EXITED,
                status: 203,
                tail: Vec::new(),
                lost: None,
            });
        };
        let printed = [output.stdout, output.stderr].concat();
        let lines: Vec<String> = String::from_utf8_lossy(&printed).lines().map(str::to_owned).collect();
        let status = output.status.code().unwrap_or(-1);
        let tail = lines[lines.len().saturating_sub(crate::exec::TAIL_LINES)..].to_vec();
        Ok(TransientEnd {
            started: true,
            result: if status == 0 { "success" } else { "exit-code" }.into(),
            code: CLD_EXITED,
            status,
            tail: if status == 0 { Vec::new() } else { tail },
            lost: None,
        })
    }
    async fn journal_tail(&self, unit: &UnitName, _: usize) -> Vec<String> {
        vec![format!("{unit}: the app said goodbye")]
    }
}
