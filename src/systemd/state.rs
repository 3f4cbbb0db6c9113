//! What systemd reports about jobs and units, as types.

use std::fmt;

/// How a job ended (the `result` of `JobRemoved`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobResult {
    Done,
    Canceled,
    Timeout,
    Failed,
    Dependency,
    Skipped,
    /// The job made no sense for the unit (e.g. reloading a stopped unit).
    Invalid,
    Assert,
    Unsupported,
    Collected,
    Once,
}

/// A unit's `ActiveState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveState {
    Active,
    Reloading,
    Inactive,
    Failed,
    Activating,
    Deactivating,
    Maintenance,
    Refreshing,
}

crate::string_enum!(JobResult, "job result", {
    Done => "done", Canceled => "canceled", Timeout => "timeout",
    Failed => "failed", Dependency => "dependency", Skipped => "skipped",
    Invalid => "invalid", Assert => "assert", Unsupported => "unsupported",
    Collected => "collected", Once => "once",
});

crate::string_enum!(ActiveState, "active state", {
    Active => "active", Reloading => "reloading", Inactive => "inactive", Failed => "failed",
    Activating => "activating", Deactivating => "deactivating", Maintenance => "maintenance",
    Refreshing => "refreshing",
});

/// A unit's state as systemd reports it, read in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitState {
    pub load_state: String,
    pub active_state: ActiveState,
    pub sub_state: String,
    /// The service's `Result` (`success`, `exit-code`, `signal`, ...).
    pub result: String,
    pub exec_main_status: i32,
    pub n_restarts: u32,
    /// Hex of `InvocationID`; empty when the unit never ran.
    pub invocation_id: String,
    /// Its unit file changed on disk since systemd read it.
    pub need_daemon_reload: bool,
}

impl UnitState {
    pub fn is_running(&self) -> bool {
        self.active_state == ActiveState::Active && self.sub_state == "running"
    }

    /// Active, or reloading (which a running service does now and then).
    pub fn is_active(&self) -> bool {
        matches!(self.active_state, ActiveState::Active | ActiveState::Reloading)
    }

    /// Inactive or failed: its processes are gone.
    pub fn has_ended(&self) -> bool {
        matches!(self.active_state, ActiveState::Inactive | ActiveState::Failed)
    }

    /// Running or on its way there (not stopping, not stopped).
    pub fn is_up(&self) -> bool {
        matches!(
            self.active_state,
            ActiveState::Active | ActiveState::Activating | ActiveState::Reloading
        )
    }

    /// The main process is `docker run` and it exited 125-127: docker itself
    /// could not run the container (a taken port, a missing image, a bad
    /// argument), so the app never ran. Any other status is the app's own.
    pub fn docker_refused(&self) -> bool {
        self.has_failed() && (125..=127).contains(&self.exec_main_status)
    }

    /// Failed, dead with a bad result, or waiting to be restarted after a failure.
    pub fn has_failed(&self) -> bool {
        match self.active_state {
            ActiveState::Failed => true,
            ActiveState::Inactive => self.result != "success",
            _ => self.sub_state == "auto-restart",
        }
    }
}

impl fmt::Display for UnitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.active_state, self.sub_state)?;
        if self.result != "success" {
            write!(f, ", result {}, exit status {}", self.result, self.exec_main_status)?;
        }
        if self.n_restarts > 0 {
            write!(f, ", restarted {} times", self.n_restarts)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(active: ActiveState, sub: &str, result: &str) -> UnitState {
        UnitState {
            load_state: "loaded".into(),
            active_state: active,
            sub_state: sub.into(),
            result: result.into(),
            exec_main_status: 0,
            n_restarts: 0,
            invocation_id: String::new(),
            need_daemon_reload: false,
        }
    }

    #[test]
    fn job_results_and_active_states_round_trip() {
        use JobResult::*;
        for r in [
            Done,
            Canceled,
            Timeout,
            Failed,
            Dependency,
            Skipped,
            Invalid,
            Assert,
            Unsupported,
            Collected,
            Once,
        ] {
            assert_eq!(r.as_str().parse::<JobResult>(), Ok(r));
        }
        use ActiveState as A;
        for a in [
            A::Active,
            A::Reloading,
            A::Inactive,
            A::Failed,
            A::Activating,
            A::Deactivating,
            A::Maintenance,
            A::Refreshing,
        ] {
            assert_eq!(a.to_string().parse::<ActiveState>(), Ok(a));
        }
        assert!("bogus".parse::<JobResult>().is_err());
    }

    #[test]
    fn a_unit_waiting_to_restart_or_dead_with_a_bad_result_has_failed() {
        assert!(state(ActiveState::Active, "running", "success").is_running());
        assert!(!state(ActiveState::Active, "running", "success").has_failed());
        assert!(state(ActiveState::Failed, "failed", "exit-code").has_failed());
        assert!(state(ActiveState::Activating, "auto-restart", "exit-code").has_failed());
        assert!(state(ActiveState::Inactive, "dead", "exit-code").has_failed());
        assert!(!state(ActiveState::Inactive, "dead", "success").has_failed());
        assert!(!state(ActiveState::Activating, "start-pre", "success").has_failed());
    }
}
