//! Shared by the integration tests: the real test environment that
//! `scripts/test-env up` started, and a runner for the real bgctl binary.
#![allow(dead_code)] // each test file uses its own part of this

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const DEFAULT_ENV_DIR: &str = "/tmp/bgctl-env";
/// Debian's docker CLI, matching the Debian dockerd (PATH may hold a newer one).
pub const DOCKER: &str = "/usr/bin/docker";

/// Runs the bgctl binary built for these tests.
pub fn bgctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bgctl"))
        .args(args)
        .env_remove("BGCTL_CONFIG")
        .output()
        .expect("bgctl runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A directory of its own for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("bgctl-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The environment `scripts/test-env up` started, read from its `env` file.
pub struct TestEnv {
    vars: HashMap<String, String>,
}

impl TestEnv {
    /// Fails the test, saying what to do, when the environment is not up:
    /// an integration test must never pass without the real components.
    pub fn get() -> TestEnv {
        let dir = std::env::var("BGCTL_TEST_ENV").unwrap_or_else(|_| DEFAULT_ENV_DIR.into());
        let file = Path::new(&dir).join("env");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!("no test environment at {dir} ({e}): run `sudo scripts/test-env up` first, or `sudo scripts/test`")
        });
        let vars: HashMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let env = TestEnv { vars };
        let pid = env.var("BGCTL_TEST_SYSTEMD_PID");
        assert!(
            Path::new("/proc").join(pid).exists(),
            "the sandbox's systemd (pid {pid}) is gone: run `sudo scripts/test-env up`"
        );
        env
    }

    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from the test env file"))
    }

    pub fn dir(&self) -> &Path {
        Path::new(self.var("BGCTL_TEST_ENV"))
    }

    pub fn unit_dir(&self) -> &Path {
        Path::new(self.var("BGCTL_TEST_UNIT_DIR"))
    }

    /// Runs a command inside the sandbox (its mount and pid namespaces).
    pub fn in_sandbox(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .args(["-t", self.var("BGCTL_TEST_SYSTEMD_PID"), "-m", "-p"])
            .args(args)
            .output()
            .expect("nsenter runs")
    }

    /// Runs the docker CLI against the environment's dockerd.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .args(["-H", self.var("BGCTL_TEST_DOCKER_HOST")])
            .args(args)
            .output()
            .expect("docker runs")
    }

    /// A config for service `name` wired to this environment: units in the
    /// sandbox's unit dir, the site in nginx's include dir, our dockerd.
    /// `extra` is appended (more sections or keys of them).
    pub fn config(&self, name: &str, ports: (u16, u16, u16), extra: &str) -> PathBuf {
        let (blue, green, listen) = ports;
        let text = format!(
            r#"name = "{name}"
image = "bgctl-demo:v1"

[colors]
blue = {blue}
green = {green}

[proxy]
listen = {listen}
site = "{sites}/{name}.conf"
nginx_conf = "{nginx_conf}"
unit = "{nginx_unit}"
drain = "1s"

[state]
endpoints = ["{etcd}"]

[systemd]
unit_dir = "{unit_dir}"
docker_unit = ""

[docker]
host = "{docker}"
{extra}"#,
            sites = self.var("BGCTL_TEST_NGINX_SITES"),
            nginx_conf = self.var("BGCTL_TEST_NGINX_CONF"),
            nginx_unit = self.var("BGCTL_TEST_NGINX_UNIT"),
            etcd = self.var("BGCTL_TEST_ETCD"),
            unit_dir = self.var("BGCTL_TEST_UNIT_DIR"),
            docker = self.var("BGCTL_TEST_DOCKER_HOST"),
        );
        let dir = self.dir().join("configs");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Polls `f` every 100 ms until it returns Some or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One plain HTTP/1.0 GET on 127.0.0.1: `(status line, headers+body)`.
pub fn http_get(port: u16, path: &str) -> Option<(String, String)> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    conn.read_to_string(&mut response).ok()?;
    let (status, rest) = response.split_once("\r\n")?;
    Some((status.to_owned(), rest.to_owned()))
}
