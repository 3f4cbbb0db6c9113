//! `[checks]` (DESIGN §2, §4): what must pass against the new color, on its
//! own port, once it is healthy and before any user reaches it. The HTTP
//! checks in order, then the command, all within one `[checks] timeout`;
//! the first failure ends them. The judging is pure; the requests go
//! through the [`Probe`] and the command through [`exec`].

use std::time::Duration;

use crate::config::{Checks, HttpCheck};
use crate::domain::Port;
use crate::exec::{self, DeployEnv, Ending, Hook, Ran};
use crate::health::Probe;
use crate::systemd::Systemd;

/// How much of a body a failure message shows.
const BODY_SHOWN: usize = 200;

/// A check that did not pass: which, why, and what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    /// `GET /path`, or the command and its hook.
    pub check: String,
    pub reason: String,
    /// The command's last lines of output (none for an HTTP check).
    pub output: Vec<String>,
    /// The command never ran (a missing program): the host's or the
    /// config's fault, not the release's.
    pub cannot_run: bool,
}

impl std::fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.check, self.reason)
    }
}

impl CheckFailure {
    /// A command that did not exit 0.
    pub fn of_command(ran: &Ran) -> CheckFailure {
        CheckFailure {
            check: format!("{} `{}`", ran.hook, ran.command),
            reason: ran.ending.to_string(),
            output: ran.tail.clone(),
            cannot_run: matches!(ran.ending, Ending::CannotRun(_)),
        }
    }
}

/// Runs every check against `port` within `checks.timeout`; returns the
/// command it ran (if it got that far) and the verdict.
pub async fn run(
    probe: &impl Probe,
    systemd: &impl Systemd,
    checks: &Checks,
    port: Port,
    env: &DeployEnv,
) -> (Option<Ran>, Result<(), CheckFailure>) {
    let limit = checks.timeout.get();
    let deadline = tokio::time::Instant::now() + limit;
    for check in &checks.http {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        // The request's own limit is later: the deadline is what speaks.
        let request = probe.fetch(port, &check.path, left + Duration::from_secs(1));
        let verdict = match tokio::time::timeout(left, request).await {
            Ok(answer) => judge(check, answer),
            Err(_) => Err(timed_out(limit)),
        };
        if let Err(reason) = verdict {
            let failure = CheckFailure {
                check: format!("GET {}", check.path),
                reason,
                output: Vec::new(),
                cannot_run: false,
            };
            return (None, Err(failure));
        }
    }
    let Some(command) = &checks.command else {
        return (None, Ok(()));
    };
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    if left.is_zero() {
        let failure = CheckFailure {
            check: format!("{} `{command}`", Hook::Check),
            reason: timed_out(limit),
            output: Vec::new(),
            cannot_run: false,
        };
        return (None, Err(failure));
    }
    let mut ran = exec::run(systemd, Hook::Check, command, env, left).await;
    if let Ending::TimedOut(_) = ran.ending {
        // What the config says, not the rest of it the command had.
        ran.ending = Ending::TimedOut(limit);
    }
    let verdict = if ran.succeeded() {
        Ok(())
    } else {
        Err(CheckFailure::of_command(&ran))
    };
    (Some(ran), verdict)
}

fn timed_out(limit: Duration) -> String {
    format!(
        "the checks took longer than [checks] timeout ({})",
        humantime::format_duration(limit)
    )
}

/// Whether one answer passes `check`: its status, then its body.
pub fn judge(check: &HttpCheck, answer: Result<(u16, Vec<u8>), String>) -> Result<(), String> {
    let (status, body) = answer.map_err(|e| format!("no answer: {e}"))?;
    if status != check.status.get() {
        return Err(format!("HTTP {status}, expected {}", check.status));
    }
    let wanted = check.contains.as_str();
    if !wanted.is_empty() && !contains(&body, wanted.as_bytes()) {
        let text = String::from_utf8_lossy(&body);
        let shown: String = text.chars().take(BODY_SHOWN).collect();
        let more = if text.chars().count() > BODY_SHOWN { "…" } else { "" };
        return Err(format!("the body does not contain {wanted:?}; it was {shown:?}{more}"));
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml: &str) -> HttpCheck {
        #[derive(serde::Deserialize)]
        struct One {
            check: HttpCheck,
        }
        toml::from_str::<One>(&format!("check = {toml}")).unwrap().check
    }

    #[test]
    fn a_check_wants_its_status_then_its_text() {
        let c = check(r#"{ path = "/version", contains = "v2" }"#);
        assert_eq!(judge(&c, Ok((200, b"demo-app v2\n".to_vec()))), Ok(()));
        let wrong = judge(&c, Ok((200, b"demo-app v1\n".to_vec()))).unwrap_err();
        assert!(
            wrong.contains("does not contain \"v2\"") && wrong.contains("demo-app v1"),
            "{wrong}"
        );
        assert_eq!(
            judge(&c, Ok((500, b"v2".to_vec()))),
            Err("HTTP 500, expected 200".into())
        );
        assert!(
            judge(&c, Err("connection refused".into()))
                .unwrap_err()
                .contains("connection refused")
        );
        let any_body = check(r#"{ path = "/", status = 204 }"#);
        assert_eq!(judge(&any_body, Ok((204, Vec::new()))), Ok(()));
    }

    #[test]
    fn a_check_refuses_unknown_keys_and_bad_values() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct One {
            check: HttpCheck,
        }
        for bad in [
            r#"{ path = "/", expect = 200 }"#,
            r#"{ path = "no-slash" }"#,
            r#"{ path = "/", status = 99 }"#,
            "{ path = \"/\", contains = \"a\\nb\" }",
            r#"{ status = 200 }"#,
        ] {
            assert!(toml::from_str::<One>(&format!("check = {bad}")).is_err(), "{bad}");
        }
    }
}
