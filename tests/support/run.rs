//! One run of the real bgctl binary, built up as just's `Test` is: the
//! config, the arguments, where it runs, and what must come out (exit
//! status, text on stdout and stderr). Nothing runs until [`Bgctl::run`],
//! which checks it all and shows the whole output when something is off;
//! a builder left unrun is a warning (`#[must_use]`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{TestEnv, stderr, stdout};

#[must_use = "nothing runs until .run()"]
pub struct Bgctl {
    config: Option<PathBuf>,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    status: Option<i32>,
    stdout_has: Vec<String>,
    stderr_has: Vec<String>,
    /// Run inside the sandbox (where the units' journal is).
    inside: Option<TestEnv>,
}

impl Bgctl {
    /// `bgctl <args>`, expected to exit 0.
    pub fn new(args: &[&str]) -> Bgctl {
        Bgctl {
            config: None,
            args: args.iter().map(|a| a.to_string()).collect(),
            envs: Vec::new(),
            status: Some(0),
            stdout_has: Vec::new(),
            stderr_has: Vec::new(),
            inside: None,
        }
    }

    pub fn config(mut self, path: &Path) -> Bgctl {
        self.config = Some(path.to_owned());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Bgctl {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// The exit status it must end with.
    pub fn status(mut self, code: i32) -> Bgctl {
        self.status = Some(code);
        self
    }

    /// Any status: the caller looks at the output itself.
    pub fn any_status(mut self) -> Bgctl {
        self.status = None;
        self
    }

    pub fn stdout_has(mut self, text: &str) -> Bgctl {
        self.stdout_has.push(text.into());
        self
    }

    pub fn stderr_has(mut self, text: &str) -> Bgctl {
        self.stderr_has.push(text.into());
        self
    }

    pub fn inside(mut self, env: &TestEnv) -> Bgctl {
        self.inside = Some(env.clone());
        self
    }

    /// Runs it and checks what was asked; the output for more checks.
    pub fn run(self) -> Output {
        let mut words: Vec<String> = Vec::new();
        if let Some(config) = &self.config {
            words.extend(["--config".to_owned(), config.display().to_string()]);
        }
        words.extend(self.args.iter().cloned());
        let mut command = match &self.inside {
            Some(env) => {
                let mut c = Command::new("nsenter");
                c.args(["-t", &env.systemd_pid(), "-m", "-p"]).arg(env.binary("bgctl"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_bgctl")),
        };
        let o = command
            .args(&words)
            .env_remove("BGCTL_CONFIG")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("bgctl runs");
        let (out, err) = (stdout(&o), stderr(&o));
        let shown = || format!("bgctl {}\n--- stdout\n{out}\n--- stderr\n{err}", words.join(" "));
        if let Some(code) = self.status {
            assert_eq!(o.status.code(), Some(code), "{}", shown());
        }
        for text in &self.stdout_has {
            assert!(out.contains(text.as_str()), "stdout lacks {text:?}: {}", shown());
        }
        for text in &self.stderr_has {
            assert!(err.contains(text.as_str()), "stderr lacks {text:?}: {}", shown());
        }
        o
    }
}
