//! The boundary to the commands a config names around a deploy (`[checks]
//! command`, `[hooks] pre_flip` and `post_switch`): run without a shell, each
//! word exact, with the deploy's `BGCTL_*` environment (DESIGN §2), within
//! a deadline. Each runs as a transient systemd unit of its own
//! (`bgctl-<service>-<hook>-<deploy id>.service`): systemd bounds it, keeps
//! its output in the journal under that unit (with the deploy's fields and
//! `BGCTL_HOOK`) and kills all it started when it ends. A deploy that is
//! killed leaves the unit, never a stray process: the next run under the
//! lock stops it ([`stop_leftovers`]).

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::domain::{Argv, Color, ImageRef, UnitName};
use crate::systemd::{CLD_EXITED, Systemd, SystemdError, TransientCommand, TransientEnd};

/// Output lines kept for an error message.
pub const TAIL_LINES: usize = 20;

/// Which configured command this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// `[checks] command`
    Check,
    PreFlip,
    PostSwitch,
}

crate::string_enum!(Hook, "hook", { Check => "check", PreFlip => "pre_flip", PostSwitch => "post_switch" });

/// The environment every command gets (DESIGN §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployEnv {
    pub service: String,
    /// The color the deploy goes to.
    pub color: Color,
    pub port: u16,
    /// [`Config::local_url`].
    pub url: String,
    pub image: ImageRef,
    pub deploy_id: String,
    /// The live color when the deploy began.
    pub from: Option<Color>,
}

impl DeployEnv {
    pub fn new(config: &Config, color: Color, image: &ImageRef, deploy_id: &str, from: Option<Color>) -> DeployEnv {
        DeployEnv {
            service: config.name.to_string(),
            color,
            port: config.port(color).get(),
            url: config.local_url(color),
            image: image.clone(),
            deploy_id: deploy_id.to_owned(),
            from,
        }
    }

    pub fn vars(&self) -> [(&'static str, String); 7] {
        [
            ("BGCTL_SERVICE", self.service.clone()),
            ("BGCTL_COLOR", self.color.to_string()),
            ("BGCTL_PORT", self.port.to_string()),
            ("BGCTL_URL", self.url.clone()),
            ("BGCTL_IMAGE", self.image.to_string()),
            ("BGCTL_DEPLOY_ID", self.deploy_id.clone()),
            ("BGCTL_FROM", self.from.map(|c| c.to_string()).unwrap_or_default()),
        ]
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Killed(i32),
    /// Still running at the deadline: systemd stopped its unit.
    TimedOut(Duration),
    /// It never ran (no such program, not executable).
    CannotRun(String),
    /// bgctl lost track of it (systemd stopped answering): its unit was
    /// stopped, so it runs no more, but how it ended is not known.
    Lost(String),
}

/// `ExecMainCode` 0: no main process ever ran (`Result=resources`, …).
const NO_PROCESS: i32 = 0;

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Exited(code) => write!(f, "exit {code}"),
            Ending::Killed(signal) => write!(f, "killed by signal {signal}"),
            Ending::TimedOut(limit) => write!(f, "timed out after {}, killed", humantime::format_duration(*limit)),
            Ending::CannotRun(why) => write!(f, "cannot run: {why}"),
            Ending::Lost(why) => write!(f, "lost track of it ({why}); its unit was stopped"),
        }
    }
}

/// One command that was run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub hook: Hook,
    /// The program, for people and the history; never its arguments, which
    /// may carry a token.
    pub command: String,
    /// The transient unit it ran as (`journalctl -u` shows its output).
    pub unit: String,
    pub ending: Ending,
    pub took: Duration,
    /// Its last [`TAIL_LINES`] lines of output (stdout and stderr) when it
    /// failed; none when it succeeded.
    pub tail: Vec<String>,
}

impl Ran {
    pub fn succeeded(&self) -> bool {
        self.ending == Ending::Exited(0)
    }
}

/// Runs `argv` for `hook` with `env`'s variables, stdin closed, as its own
/// transient unit that systemd stops (with whatever it started) at `limit`.
pub async fn run(systemd: &impl Systemd, hook: Hook, argv: &Argv, env: &DeployEnv, limit: Duration) -> Ran {
    let began = Instant::now();
    let command = transient(hook, argv, env, limit);
    let end = systemd.run_transient(&command).await;
    let (ending, tail) = match end {
        Ok(end) => (ending(&end, limit), end.tail),
        Err(e) => (Ending::CannotRun(e.to_string()), Vec::new()),
    };
    let ran = Ran {
        hook,
        command: argv.program().to_string(),
        unit: command.unit.to_string(),
        ending,
        took: began.elapsed(),
        tail,
    };
    let ms = ran.took.as_millis() as u64;
    if ran.succeeded() {
        tracing::info!(
            bgctl_hook = hook.as_str(),
            "{hook} `{}` ({}): exit 0 in {ms} ms",
            ran.command,
            ran.unit
        );
    } else {
        tracing::warn!(
            bgctl_hook = hook.as_str(),
            "{hook} `{}` ({}): {} after {ms} ms",
            ran.command,
            ran.unit,
            ran.ending
        );
    }
    ran
}

/// The unit that runs `hook` for a deploy: its name says whose it is, so a
/// later run finds the ones a killed deploy left.
pub fn unit_name(hook: Hook, env: &DeployEnv) -> UnitName {
    let name = format!("{}{}.service", unit_prefix(&env.service, hook), env.deploy_id);
    UnitName::parse(&name).expect("service names and deploy ids are unit-name safe")
}

/// `bgctl-<service>-<hook>-`: no service name holds a `-`, so no other
/// service's units start the same.
fn unit_prefix(service: &str, hook: Hook) -> String {
    format!("bgctl-{service}-{hook}-")
}

/// Stops the check and hook units of `service` that have not ended: what
/// a deploy killed or interrupted mid-command left. `only` limits it to
/// one deploy's (its own, at its end, whether or not it still holds the
/// lock); without it, every deploy's, which only the lock's holder may do,
/// before it runs any. A queued start is cancelled too. Every unit is
/// tried; the first error is returned after. Returns the ones that ran.
pub async fn stop_leftovers(
    systemd: &impl Systemd,
    service: &str,
    only: Option<&str>,
    limit: Duration,
) -> Result<Vec<UnitName>, SystemdError> {
    let (mut stopped, mut failed) = (Vec::new(), None);
    for unit in loaded(systemd, service, only).await? {
        let was_running = systemd.state(&unit).await.is_ok_and(|s| !s.has_ended());
        match systemd.stop(&unit, limit).await {
            Ok(_) if was_running => stopped.push(unit),
            Ok(_) => {}
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    failed.map_or(Ok(stopped), Err)
}

/// The check and hook units of `service` that have not ended (a stopped
/// one stays loaded while this process holds its reference).
pub async fn leftovers(systemd: &impl Systemd, service: &str) -> Result<Vec<UnitName>, SystemdError> {
    let mut running = Vec::new();
    for unit in loaded(systemd, service, None).await? {
        if !systemd.state(&unit).await?.has_ended() {
            running.push(unit);
        }
    }
    Ok(running)
}

/// The check and hook units systemd has loaded for `service` (for one
/// deploy, with `only`).
async fn loaded(systemd: &impl Systemd, service: &str, only: Option<&str>) -> Result<Vec<UnitName>, SystemdError> {
    let patterns = [Hook::Check, Hook::PreFlip, Hook::PostSwitch]
        .map(|hook| format!("{}{}.service", unit_prefix(service, hook), only.unwrap_or("*")));
    let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
    systemd.units_matching(&patterns).await
}

fn transient(hook: Hook, argv: &Argv, env: &DeployEnv, limit: Duration) -> TransientCommand {
    // A clean environment: bgctl's own (an etcd password, a token in sudo's)
    // is none of the command's business.
    let vars = env.vars().map(|(k, v)| (k.to_owned(), v));
    TransientCommand {
        unit: unit_name(hook, env),
        description: format!("bgctl {hook} of {} for deploy {}", env.service, env.deploy_id),
        argv: argv.clone(),
        env: std::iter::once(("PATH".to_owned(), search_path()))
            .chain(vars)
            .collect(),
        journal_fields: vec![
            ("BGCTL_SERVICE".into(), env.service.clone()),
            ("BGCTL_DEPLOY_ID".into(), env.deploy_id.clone()),
            ("BGCTL_HOOK".into(), hook.as_str().into()),
        ],
        limit,
    }
}

/// How the command ended, from what systemd says of its unit.
fn ending(end: &TransientEnd, limit: Duration) -> Ending {
    if let Some(why) = &end.lost {
        return Ending::Lost(why.clone());
    }
    if end.never_ran() || end.code == NO_PROCESS {
        // 203 is systemd's EXIT_EXEC: no such program, or not executable.
        return Ending::CannotRun(format!(
            "systemd could not execute it (result {}, status {})",
            end.result, end.status
        ));
    }
    if end.result == "timeout" {
        return Ending::TimedOut(limit);
    }
    if end.code == CLD_EXITED {
        Ending::Exited(end.status)
    } else {
        Ending::Killed(end.status)
    }
}

/// bgctl's own PATH, or the usual one when it has none.
fn search_path() -> String {
    std::env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.into())
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> DeployEnv {
        let config = Config::parse("name = \"web\"\nimage = \"app:v1\"\n").unwrap();
        DeployEnv::new(
            &config,
            Color::Green,
            &"app:v2".parse().unwrap(),
            "19a3f0c2b1e-4d2",
            Some(Color::Blue),
        )
    }

    fn end(started: bool, result: &str, code: i32, status: i32) -> TransientEnd {
        TransientEnd {
            started,
            result: result.into(),
            code,
            status,
            tail: Vec::new(),
            lost: None,
        }
    }

    #[test]
    fn a_command_gets_only_path_and_the_deploy_environment() {
        let argv = Argv::try_from(vec!["/bin/sh".to_owned(), "-c".into(), "it's \"q\" $HOME".into()]).unwrap();
        let command = transient(Hook::PreFlip, &argv, &env(), Duration::from_secs(5));
        let names: Vec<&str> = command.env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "PATH",
                "BGCTL_SERVICE",
                "BGCTL_COLOR",
                "BGCTL_PORT",
                "BGCTL_URL",
                "BGCTL_IMAGE",
                "BGCTL_DEPLOY_ID",
                "BGCTL_FROM"
            ]
        );
        assert!(
            command
                .environment()
                .contains(&"BGCTL_URL=http://127.0.0.1:9002".to_owned())
        );
        assert_eq!(command.argv, argv);
        assert_eq!(command.unit.as_str(), "bgctl-web-pre_flip-19a3f0c2b1e-4d2.service");
        assert!(
            command
                .log_extra_fields()
                .contains(&b"BGCTL_DEPLOY_ID=19a3f0c2b1e-4d2".to_vec())
        );
    }

    #[test]
    fn one_services_leftovers_are_never_anothers() {
        // `web` and `web_check` are both valid service names.
        let other = unit_prefix("web_check", Hook::Check);
        for hook in [Hook::Check, Hook::PreFlip, Hook::PostSwitch] {
            assert!(!other.starts_with(&unit_prefix("web", hook)), "{other}");
        }
    }

    #[test]
    fn how_a_command_ended_comes_from_its_unit() {
        let limit = Duration::from_secs(2);
        assert_eq!(ending(&end(true, "success", CLD_EXITED, 0), limit), Ending::Exited(0));
        assert_eq!(ending(&end(true, "exit-code", CLD_EXITED, 3), limit), Ending::Exited(3));
        assert_eq!(ending(&end(true, "signal", 2, 9), limit), Ending::Killed(9));
        assert_eq!(ending(&end(true, "timeout", 2, 15), limit), Ending::TimedOut(limit));
        assert!(matches!(
            ending(&end(false, "exit-code", CLD_EXITED, 203), limit),
            Ending::CannotRun(why) if why.contains("203")
        ));
        assert!(matches!(
            ending(&end(true, "resources", 0, 0), limit),
            Ending::CannotRun(_)
        ));
        assert!(matches!(
            ending(&TransientEnd::lost("no answer".into()), limit),
            Ending::Lost(why) if why == "no answer"
        ));
        // A command that exits at once may fail its start job: still its exit.
        assert_eq!(
            ending(&end(false, "exit-code", CLD_EXITED, 1), limit),
            Ending::Exited(1)
        );
        assert_eq!(ending(&end(false, "success", CLD_EXITED, 0), limit), Ending::Exited(0));
        assert!(end(true, "success", CLD_EXITED, 0).succeeded());
        assert!(!end(true, "exit-code", CLD_EXITED, 1).succeeded());
    }
}
