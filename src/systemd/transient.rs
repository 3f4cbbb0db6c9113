//! A command run as a transient service (`StartTransientUnit`), the way
//! `systemd-run --wait` does it: systemd owns the process, bounds it with
//! `RuntimeMaxSec`, sends its output to the journal under its own unit and
//! kills all it started when it ends. Nothing of it depends on bgctl
//! staying alive, so a killed bgctl leaves a unit that can be found by
//! name and stopped, never a stray process.

use std::time::Duration;

use crate::domain::{Argv, UnitName};

/// What to run, as one transient `.service`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransientCommand {
    pub unit: UnitName,
    pub description: String,
    pub argv: Argv,
    /// `NAME=value` pairs: the whole environment the command gets.
    pub env: Vec<(String, String)>,
    /// Extra fields on every journal line of the unit (`LogExtraFields=`).
    pub journal_fields: Vec<(String, String)>,
    /// `RuntimeMaxSec=`: then systemd stops it.
    pub limit: Duration,
}

/// How the unit's main process ended, as systemd reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransientEnd {
    /// The start job ended `done`: the program was executed.
    pub started: bool,
    /// The service's `Result` (`success`, `exit-code`, `signal`, `timeout`...).
    pub result: String,
    /// `ExecMainCode`: `CLD_EXITED` (1), `CLD_KILLED` (2) or `CLD_DUMPED` (3).
    pub code: i32,
    /// `ExecMainStatus`: the exit status, or the signal.
    pub status: i32,
    /// Its last journal lines, read only when it did not succeed.
    pub tail: Vec<String>,
    /// bgctl lost track of it (systemd stopped answering about it): why.
    /// Its unit was stopped.
    pub lost: Option<String>,
}

/// `CLD_EXITED` from `<signal.h>`: the process called exit.
pub const CLD_EXITED: i32 = 1;

/// The exit statuses systemd's own child uses when it cannot set up or
/// execute the command (`EXIT_CHDIR` 200 … `EXIT_EXEC` 203 … 243).
pub const SETUP_FAILURES: std::ops::RangeInclusive<i32> = 200..=243;

impl TransientEnd {
    /// Started, then lost: how it ended is not known.
    pub fn lost(why: String) -> TransientEnd {
        TransientEnd {
            started: true,
            result: String::new(),
            code: 0,
            status: 0,
            tail: Vec::new(),
            lost: Some(why),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.lost.is_none() && self.result == "success" && self.code == CLD_EXITED && self.status == 0
    }

    /// systemd could not execute the program (a missing one, not
    /// executable). Its start job failing alone says nothing: a program
    /// that exits at once can fail the job before it is reported started.
    pub fn never_ran(&self) -> bool {
        !self.started && self.code == CLD_EXITED && SETUP_FAILURES.contains(&self.status)
    }
}

impl TransientCommand {
    /// `ExecStartEx=`: the program, its argv (with argv\[0]), and the flag
    /// `no-env-expand` (the `:` prefix): systemd would otherwise replace a
    /// `$WORD` in an argument, and every word must arrive as written.
    pub fn exec_start(&self) -> Vec<(String, Vec<String>, Vec<String>)> {
        let program = self.argv.program().to_string();
        let argv = std::iter::once(program.clone())
            .chain(self.argv.args().map(str::to_owned))
            .collect();
        vec![(program, argv, vec!["no-env-expand".to_owned()])]
    }

    /// `Environment=` as systemd takes it.
    pub fn environment(&self) -> Vec<String> {
        self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// `LogExtraFields=` as systemd takes it (an array of `NAME=value` bytes).
    pub fn log_extra_fields(&self) -> Vec<Vec<u8>> {
        self.journal_fields
            .iter()
            .map(|(k, v)| format!("{k}={v}").into_bytes())
            .collect()
    }

    /// `RuntimeMaxUSec=`, at least one microsecond (0 would mean "none").
    pub fn runtime_max_usec(&self) -> u64 {
        (self.limit.as_micros() as u64).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_reaches_systemd_word_for_word() {
        let argv = Argv::try_from(vec!["/bin/sh".into(), "-c".into(), "echo $HOME 'a b'; exit 3".into()]).unwrap();
        let command = TransientCommand {
            unit: UnitName::parse("bgctl-web-check-1-2.service").unwrap(),
            description: "check".into(),
            argv,
            env: vec![("BGCTL_COLOR".into(), "green".into())],
            journal_fields: vec![("BGCTL_DEPLOY_ID".into(), "1-2".into())],
            limit: Duration::from_millis(1500),
        };
        assert_eq!(
            command.exec_start(),
            [(
                "/bin/sh".to_owned(),
                vec!["/bin/sh".to_owned(), "-c".into(), "echo $HOME 'a b'; exit 3".into()],
                vec!["no-env-expand".to_owned()]
            )]
        );
        assert_eq!(command.environment(), ["BGCTL_COLOR=green"]);
        assert_eq!(command.log_extra_fields(), [b"BGCTL_DEPLOY_ID=1-2".to_vec()]);
        assert_eq!(command.runtime_max_usec(), 1_500_000);
        let zero = TransientCommand {
            limit: Duration::ZERO,
            ..command
        };
        assert_eq!(zero.runtime_max_usec(), 1);
    }
}
