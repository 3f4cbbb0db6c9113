//! An image's own HEALTHCHECK test, as bgctl runs it while Docker still says
//! `starting` (DESIGN §4, `[health] docker = "exec"`): Debian 12's Engine
//! (20.10) has no start interval, so its first run comes one full
//! `interval` after the start, however soon the app is ready.

use std::time::Duration;

/// Docker's default HEALTHCHECK timeout, for an image that sets none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The test command of a HEALTHCHECK, ready to exec in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthTest {
    /// `CMD` as its argv; `CMD-SHELL` as `/bin/sh -c <line>`, as Docker runs it.
    pub argv: Vec<String>,
    /// How long one run may take: a slower one failed.
    pub timeout: Duration,
}

impl HealthTest {
    /// From `Config.Healthcheck` of a container: `test` as Docker keeps it
    /// (`["CMD", …]`, `["CMD-SHELL", line]`, `["NONE"]`), `timeout_ns` in
    /// nanoseconds (0 or none: Docker's default). `None` when there is no
    /// test to run.
    pub fn from_docker(test: &[String], timeout_ns: Option<i64>) -> Option<HealthTest> {
        let (kind, rest) = test.split_first()?;
        let argv = match kind.as_str() {
            "CMD" if !rest.is_empty() => rest.to_vec(),
            "CMD-SHELL" if rest.len() == 1 => vec!["/bin/sh".into(), "-c".into(), rest[0].clone()],
            _ => return None,
        };
        let timeout = timeout_ns
            .filter(|&ns| ns > 0)
            .map_or(DEFAULT_TIMEOUT, |ns| Duration::from_nanos(ns.unsigned_abs()));
        Some(HealthTest { argv, timeout })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cmd_runs_as_its_argv_and_cmd_shell_through_sh() {
        let cmd = HealthTest::from_docker(&words(&["CMD", "/app", "--check"]), Some(3_000_000_000)).unwrap();
        assert_eq!(cmd.argv, words(&["/app", "--check"]));
        assert_eq!(cmd.timeout, Duration::from_secs(3));
        let shell = HealthTest::from_docker(&words(&["CMD-SHELL", "curl -f localhost || exit 1"]), None).unwrap();
        assert_eq!(shell.argv, words(&["/bin/sh", "-c", "curl -f localhost || exit 1"]));
        assert_eq!(shell.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn none_an_empty_test_or_an_unknown_form_is_no_test() {
        for test in [
            vec![],
            words(&["NONE"]),
            words(&["CMD"]),
            words(&["CMD-SHELL"]),
            words(&["EXEC", "x"]),
        ] {
            assert_eq!(HealthTest::from_docker(&test, None), None, "{test:?}");
        }
    }
}
