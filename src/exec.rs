//! The boundary to the commands a config names around a deploy (`[checks]
//! command`, `[hooks] pre_flip` and `post_switch`): run without a shell, each
//! word exact, with the deploy's `BGCTL_*` environment (DESIGN §2), within
//! a deadline. Every line they print goes to the journal as it comes (with
//! the deploy's fields and `BGCTL_HOOK`), and the last lines are kept for
//! the error. A command's leftover processes are killed when it ends, as
//! systemd does for a oneshot unit.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::config::Config;
use crate::domain::{Argv, Color, ImageRef};

/// Output lines kept for an error message.
pub const TAIL_LINES: usize = 20;
/// After a command exits, how long its output may still take to drain.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

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
    /// Still running at the deadline: its process group was killed.
    TimedOut(Duration),
    /// It never ran (no such program, not executable).
    CannotRun(String),
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Exited(code) => write!(f, "exit {code}"),
            Ending::Killed(signal) => write!(f, "killed by signal {signal}"),
            Ending::TimedOut(limit) => write!(f, "timed out after {}, killed", humantime::format_duration(*limit)),
            Ending::CannotRun(why) => write!(f, "cannot run: {why}"),
        }
    }
}

/// One command that was run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub hook: Hook,
    /// The argv, for people.
    pub command: String,
    pub ending: Ending,
    pub took: Duration,
    /// Its last [`TAIL_LINES`] lines of output (stdout and stderr).
    pub tail: Vec<String>,
}

impl Ran {
    pub fn succeeded(&self) -> bool {
        self.ending == Ending::Exited(0)
    }
}

/// Runs `argv` for `hook` with `env`'s variables, stdin closed, killing it
/// (and whatever it started) at `limit`.
pub async fn run(hook: Hook, argv: &Argv, env: &DeployEnv, limit: Duration) -> Ran {
    let began = Instant::now();
    let (ending, tail) = spawn_and_wait(hook, argv, env, limit).await;
    let ran = Ran {
        hook,
        command: argv.to_string(),
        ending,
        took: began.elapsed(),
        tail,
    };
    let ms = ran.took.as_millis() as u64;
    if ran.succeeded() {
        tracing::info!(
            bgctl_hook = hook.as_str(),
            "{hook} `{}`: exit 0 in {ms} ms",
            ran.command
        );
    } else {
        tracing::warn!(
            bgctl_hook = hook.as_str(),
            "{hook} `{}`: {} after {ms} ms",
            ran.command,
            ran.ending
        );
    }
    ran
}

async fn spawn_and_wait(hook: Hook, argv: &Argv, env: &DeployEnv, limit: Duration) -> (Ending, Vec<String>) {
    let mut command = tokio::process::Command::new(argv.program().as_path());
    command
        .args(argv.args())
        .envs(env.vars())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return (Ending::CannotRun(e.to_string()), Vec::new()),
    };
    let group = child.id().map(|pid| pid as i32);
    let tail = RefCell::new(VecDeque::with_capacity(TAIL_LINES));
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let output = async { tokio::join!(pump(stdout, hook, &tail), pump(stderr, hook, &tail)) };
    tokio::pin!(output);
    let deadline = tokio::time::Instant::now() + limit;
    let mut drained = false;
    // The output is read while waiting: a full pipe would stall the command.
    let ending = loop {
        tokio::select! {
            _ = &mut output, if !drained => drained = true,
            status = child.wait() => break match status {
                Ok(s) => s.code().map_or_else(|| Ending::Killed(s.signal().unwrap_or(0)), Ending::Exited),
                Err(e) => Ending::CannotRun(e.to_string()),
            },
            _ = tokio::time::sleep_until(deadline) => break Ending::TimedOut(limit),
        }
    };
    if let Some(group) = group {
        kill_group(group);
    }
    if matches!(ending, Ending::TimedOut(_)) {
        let _ = child.wait().await;
    }
    if !drained {
        let _ = tokio::time::timeout(OUTPUT_GRACE, &mut output).await;
    }
    let lines = std::mem::take(&mut *tail.borrow_mut());
    (ending, lines.into())
}

/// SIGKILL to every process left in `group` (none left is fine).
fn kill_group(group: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// Sends each line of `stream` to the journal and keeps the newest few.
async fn pump(stream: Option<impl AsyncRead + Unpin>, hook: Hook, tail: &RefCell<VecDeque<String>>) {
    let Some(stream) = stream else { return };
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_owned();
        tracing::info!(bgctl_hook = hook.as_str(), "{hook}: {line}");
        let mut tail = tail.borrow_mut();
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> DeployEnv {
        let config = Config::parse("name = \"web\"\nimage = \"app:v1\"\n").unwrap();
        DeployEnv::new(
            &config,
            Color::Green,
            &"app:v2".parse().unwrap(),
            "d1",
            Some(Color::Blue),
        )
    }

    fn sh(script: &str, args: &[&str]) -> Argv {
        let words = [&["/bin/sh", "-c", script, "sh"], args].concat();
        Argv::try_from(words.iter().map(|w| w.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[tokio::test]
    async fn a_command_gets_exact_words_and_the_deploy_environment() {
        let hostile = ["it's", "\"q\"", "$HOME", "a b", "; rm -rf /", "%n"];
        let ran = run(
            Hook::Check,
            // Only the deploy's variables: the test run may set others named BGCTL_*.
            &sh(
                "printf '%s\\n' \"$@\"; env | grep -E '^BGCTL_(SERVICE|COLOR|PORT|URL|IMAGE|DEPLOY_ID|FROM)=' | sort",
                &hostile,
            ),
            &env(),
            Duration::from_secs(5),
        )
        .await;
        assert!(ran.succeeded(), "{ran:?}");
        let expected: Vec<String> = hostile
            .iter()
            .map(|w| w.to_string())
            .chain(
                [
                    "BGCTL_COLOR=green",
                    "BGCTL_DEPLOY_ID=d1",
                    "BGCTL_FROM=blue",
                    "BGCTL_IMAGE=app:v2",
                    "BGCTL_PORT=9002",
                    "BGCTL_SERVICE=web",
                    "BGCTL_URL=http://127.0.0.1:9002",
                ]
                .map(String::from),
            )
            .collect();
        assert_eq!(ran.tail, expected);
    }

    #[tokio::test]
    async fn a_failing_command_says_how_and_keeps_its_last_lines() {
        let ran = run(
            Hook::PreFlip,
            &sh("seq 1 30; sleep 0.2; echo oops >&2; exit 3", &[]),
            &env(),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(ran.ending, Ending::Exited(3));
        assert_eq!(ran.tail.len(), TAIL_LINES);
        assert!(
            ran.tail.contains(&"oops".to_owned()) && ran.tail.contains(&"30".to_owned()),
            "{:?}",
            ran.tail
        );
        assert!(!ran.tail.contains(&"10".to_owned()));
    }

    #[tokio::test]
    async fn a_slow_command_is_killed_with_what_it_started_at_the_deadline() {
        let marker = std::env::temp_dir().join(format!("bgctl-exec-{}", std::process::id()));
        let script = format!("(sleep 3; touch {}) & sleep 30", marker.display());
        let began = Instant::now();
        let ran = run(Hook::Check, &sh(&script, &[]), &env(), Duration::from_millis(300)).await;
        assert_eq!(ran.ending, Ending::TimedOut(Duration::from_millis(300)));
        assert!(began.elapsed() < Duration::from_secs(3), "{:?}", began.elapsed());
        std::thread::sleep(Duration::from_millis(3500));
        assert!(!marker.exists(), "the command's child outlived the timeout");
    }

    #[tokio::test]
    async fn a_missing_program_cannot_run() {
        let argv = Argv::try_from(vec!["/nonexistent/smoke".to_owned()]).unwrap();
        let ran = run(Hook::PostSwitch, &argv, &env(), Duration::from_secs(1)).await;
        assert!(matches!(ran.ending, Ending::CannotRun(_)), "{ran:?}");
        assert!(!ran.succeeded());
    }
}
