//! Shared by the integration tests: the real test environment that
//! `scripts/test-env up` started, and a runner for the real bgctl binary.
#![allow(dead_code)] // each test file uses its own part of this

pub mod etcd;
pub mod pebble;
pub mod ports;
pub mod proxy_hosts;
pub mod run;
pub mod websocket;

#[allow(unused_imports)] // not every test file asks for ports
pub use ports::{port, ports};
#[allow(unused_imports)]
pub use run::Bgctl;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bgctl::domain::UnitName;
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
#[derive(Clone)]
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

    /// The sandbox's PID 1, read now: `scripts/test-env reboot` boots another.
    pub fn systemd_pid(&self) -> String {
        let file = self.dir().join("systemd.pid");
        std::fs::read_to_string(&file).map_or_else(
            |_| self.var("BGCTL_TEST_SYSTEMD_PID").to_owned(),
            |p| p.trim().to_owned(),
        )
    }

    /// Runs a command inside the sandbox (its mount and pid namespaces).
    pub fn in_sandbox(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.systemd_pid(), "-m", "-p"])
            .args(args)
            .output()
            .expect("nsenter runs")
    }

    /// This build's bgctl, copied under the environment dir as
    /// `bin/<tag>-<pid>` (once), where the sandbox sees it: the overlay
    /// may not show a fresh build.
    pub fn binary(&self, tag: &str) -> PathBuf {
        let bin = self.dir().join(format!("bin/{tag}-{}", std::process::id()));
        if !bin.exists() {
            std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
            let tmp = bin.with_extension(format!("tmp{:?}", std::thread::current().id()).replace(['(', ')'], ""));
            std::fs::copy(env!("CARGO_BIN_EXE_bgctl"), &tmp).unwrap();
            std::fs::rename(&tmp, &bin).unwrap();
        }
        bin
    }

    /// `systemctl <args>` in the sandbox, which must succeed: its stdout.
    pub fn systemctl(&self, args: &[&str]) -> String {
        let mut all = vec!["systemctl"];
        all.extend_from_slice(args);
        let o = self.in_sandbox(&all);
        assert!(o.status.success(), "{all:?}: {}", stderr(&o));
        stdout(&o)
    }

    /// One property of a unit in the sandbox (`systemctl show -p`).
    pub fn show(&self, unit: &str, property: &str) -> String {
        self.systemctl(&["show", "-p", property, "--value", unit])
            .trim()
            .to_owned()
    }

    /// The shipped `bgctl-proxy@.service` in the sandbox's unit dir, and
    /// for its instance `unit` a drop-in that runs this build's bgctl with
    /// `args`, with `PrivateTmp=no` (the environment lives under /tmp) and
    /// the `extra` lines. The caller reloads systemd.
    pub fn install_watcher(&self, unit: &str, args: &str, extra: &str) {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/systemd/bgctl-proxy@.service");
        std::fs::copy(shipped, self.unit_dir().join("bgctl-proxy@.service")).unwrap();
        let dropin = self.unit_dir().join(format!("{unit}.d"));
        std::fs::create_dir_all(&dropin).unwrap();
        let bin = self.binary("bgctl-watch");
        let text = format!(
            "[Service]\nExecStart=\nExecStart={} {args}\nPrivateTmp=no\n{extra}",
            bin.display()
        );
        std::fs::write(dropin.join("90-test.conf"), text).unwrap();
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
        self.config_with_proxy(name, ports, &self.sandbox_proxy(name), extra)
    }

    /// The `[proxy]` keys (but `listen`) for the sandbox's own nginx unit.
    pub fn sandbox_proxy(&self, name: &str) -> String {
        format!(
            "site = \"{sites}/{name}.conf\"\nnginx_conf = \"{nginx_conf}\"\nunit = \"{nginx_unit}\"\n",
            sites = self.var("BGCTL_TEST_NGINX_SITES"),
            nginx_conf = self.var("BGCTL_TEST_NGINX_CONF"),
            nginx_unit = self.var("BGCTL_TEST_NGINX_UNIT"),
        )
    }

    /// As [`TestEnv::config`], with `proxy` as the `[proxy]` keys but `listen` and `drain`.
    pub fn config_with_proxy(&self, name: &str, ports: (u16, u16, u16), proxy: &str, extra: &str) -> PathBuf {
        let dir = self.dir().join("configs");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, self.config_text(name, ports, proxy, extra)).unwrap();
        path
    }

    /// The text [`TestEnv::config_with_proxy`] writes.
    pub fn config_text(&self, name: &str, ports: (u16, u16, u16), proxy: &str, extra: &str) -> String {
        let (blue, green, listen) = ports;
        format!(
            r#"name = "{name}"
image = "bgctl-demo:v1"

[colors]
blue = {blue}
green = {green}

[proxy]
listen = {listen}
drain = "1s"
{proxy}
[state]
endpoints = ["{etcd}"]

[systemd]
unit_dir = "{unit_dir}"
docker_unit = ""

[docker]
host = "{docker}"
{extra}"#,
            etcd = self.var("BGCTL_TEST_ETCD"),
            unit_dir = self.var("BGCTL_TEST_UNIT_DIR"),
            docker = self.var("BGCTL_TEST_DOCKER_HOST"),
        )
    }
}

/// The deploy id a deploy printed (`switch <name>: deploy <id>`).
pub fn deploy_id(err: &str) -> String {
    err.lines()
        .find_map(|l| l.split_once(": deploy ").map(|(_, id)| id.trim().to_owned()))
        .unwrap_or_else(|| panic!("no deploy id in {err}"))
}

/// The sandbox journal's records matching `matches`, as JSON objects.
pub fn journal(env: &TestEnv, matches: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["journalctl", "--no-pager", "-o", "json"];
    args.extend_from_slice(matches);
    let o = env.in_sandbox(&args);
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("journalctl -o json gives JSON lines"))
        .collect()
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
    http_get_at(&format!("127.0.0.1:{port}"), path)
}

/// As [`http_get`], on `addr` (`<ip>:<port>`), within a few seconds.
pub fn http_get_at(addr: &str, path: &str) -> Option<(String, String)> {
    use std::io::{Read, Write};
    let to = addr.parse().expect("an <ip>:<port>");
    let mut conn = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(conn, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    conn.read_to_string(&mut response).ok()?;
    let (status, rest) = response.split_once("\r\n")?;
    Some((status.to_owned(), rest.to_owned()))
}

/// One request through nginx on `port`: `<status line> <X-Bgctl-Color>`
/// (`none` without the header), and the body.
pub fn answer_on(port: u16) -> Option<(String, String)> {
    answer_at(&format!("127.0.0.1:{port}"))
}

/// As [`answer_on`], through the proxy at `addr` (`<ip>:<port>`).
pub fn answer_at(addr: &str) -> Option<(String, String)> {
    let (status, rest) = http_get_at(addr, "/")?;
    let color = rest
        .lines()
        .find_map(|l| l.strip_prefix("X-Bgctl-Color: "))
        .unwrap_or("none")
        .trim()
        .to_owned();
    Some((
        format!("{status} {color}"),
        rest.rsplit("\r\n\r\n").next().unwrap_or("").to_owned(),
    ))
}

/// A service installed in the sandbox for one test; uninstalled on drop so
/// a failing test leaves nothing running.
pub struct Service<'a> {
    pub env: &'a TestEnv,
    pub name: String,
    pub config: PathBuf,
    pub ports: (u16, u16),
    pub listen: u16,
    /// Where `etcd()` reads: the environment's etcd unless a test says otherwise.
    pub etcd_endpoints: String,
}

impl<'a> Service<'a> {
    /// A fresh service: its config written, its etcd keys cleared.
    pub fn new(env: &'a TestEnv, name: &str, ports: (u16, u16, u16), extra: &str) -> Service<'a> {
        Service::with_proxy(env, name, ports, &env.sandbox_proxy(name), extra)
    }

    /// As [`Service::new`], with `proxy` as its `[proxy]` keys (another nginx).
    pub fn with_proxy(env: &'a TestEnv, name: &str, ports: (u16, u16, u16), proxy: &str, extra: &str) -> Service<'a> {
        let cleared = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", env.var("BGCTL_TEST_ETCD"), "del", "--prefix"])
            .arg(format!("/{}/", name.replace('_', "-")))
            .output()
            .expect("etcdctl runs");
        assert!(cleared.status.success(), "etcdctl del: {}", stderr(&cleared));
        let config = env.config_with_proxy(name, ports, proxy, &format!("[container]\npull = false\n{extra}"));
        Service {
            env,
            name: name.into(),
            config,
            ports: (ports.0, ports.1),
            listen: ports.2,
            etcd_endpoints: env.var("BGCTL_TEST_ETCD").to_owned(),
        }
    }

    /// `bgctl --config <this service's> <args>`, to be built on and run.
    pub fn run(&self, args: &[&str]) -> Bgctl {
        Bgctl::new(args).config(&self.config)
    }

    pub fn bgctl(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        bgctl(&all)
    }

    pub fn install(&self) {
        let o = self.bgctl(&["install"]);
        assert_eq!(o.status.code(), Some(0), "install: {}", stderr(&o));
    }

    pub fn unit(&self, color: &str) -> UnitName {
        let port = if color == "blue" { self.ports.0 } else { self.ports.1 };
        UnitName::parse(&format!("{}_{color}@{port}.service", self.name)).unwrap()
    }

    pub fn installed_files(&self) -> Vec<PathBuf> {
        let dir = self.env.unit_dir();
        let mut files: Vec<PathBuf> = ["blue", "green"]
            .iter()
            .flat_map(|c| {
                [
                    dir.join(format!("{}_{c}@.service", self.name)),
                    dir.join(format!("{}_{c}@.service.d/image.env", self.name)),
                ]
            })
            .collect();
        files.push(Path::new(self.env.var("BGCTL_TEST_NGINX_SITES")).join(format!("{}.conf", self.name)));
        files
    }

    pub fn wants_link(&self, color: &str) -> PathBuf {
        self.env
            .unit_dir()
            .join("multi-user.target.wants")
            .join(self.unit(color).as_str())
    }

    pub fn container_exists(&self, color: &str) -> bool {
        let o = self
            .env
            .docker(&["ps", "-aq", "--filter", &format!("name=^{}_{color}$", self.name)]);
        !o.stdout.is_empty()
    }
}

impl Service<'_> {
    /// Points the config, and `etcd()`, at other etcd members.
    pub fn use_etcd(&mut self, cluster: &etcd::Cluster) {
        let text = std::fs::read_to_string(&self.config).unwrap().replace(
            &format!("[\"{}\"]", self.env.var("BGCTL_TEST_ETCD")),
            &cluster.endpoints_toml(),
        );
        std::fs::write(&self.config, text).unwrap();
        self.etcd_endpoints = cluster.clients.join(",");
    }

    /// Starts `bgctl <args>` with `BGCTL_FAULT=<fault>` (the
    /// `fault-injection` feature) and returns once it printed `marker`.
    pub fn spawn_until(&self, args: &[&str], fault: &str, marker: &str) -> Running {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bgctl"));
        cmd.arg("--config").arg(&self.config).args(args);
        Running::until(cmd.env("BGCTL_FAULT", fault), marker)
    }
}

/// A bgctl run in the background, its stderr read as it goes; killed when
/// dropped, so a failing test leaves no holder behind.
pub struct Running {
    pub child: std::process::Child,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Spawns `cmd` and returns once a stderr line contains `marker`.
    pub fn until(cmd: &mut Command, marker: &str) -> Running {
        use std::io::{BufRead, BufReader};
        let mut child = cmd.stderr(std::process::Stdio::piped()).spawn().expect("bgctl runs");
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let (keep, wanted) = (seen.clone(), marker.to_owned());
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if line.contains(&wanted) {
                    let _ = tx.send(());
                }
                keep.lock().unwrap().push(line);
            }
        });
        if rx.recv_timeout(Duration::from_secs(120)).is_err() {
            let _ = child.kill();
            panic!("bgctl never said {marker:?}: {}", seen.lock().unwrap().join("\n"));
        }
        Running { child, seen }
    }

    /// Waits for the end: the exit code and all of stderr.
    pub fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        // The reader thread ends with the pipe.
        std::thread::sleep(Duration::from_millis(100));
        (status.code(), self.seen.lock().unwrap().join("\n"))
    }

    /// kill -9 (as dropping it does), said where a test means it.
    pub fn kill(self) {}

    /// utime + stime so far, in clock ticks (100 a second).
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15: the 12th and 13th after the name.
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

impl Drop for Service<'_> {
    fn drop(&mut self) {
        let _ = self.bgctl(&["uninstall"]);
    }
}

impl Service<'_> {
    /// The value of `<prefix>/<key>` in etcd, read with etcdctl (not bgctl).
    pub fn etcd(&self, key: &str) -> Option<String> {
        let prefix = format!("/{}", self.name.replace('_', "-"));
        let o = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.etcd_endpoints, "get", "--print-value-only"])
            .arg(format!("{prefix}/{key}"))
            .output()
            .expect("etcdctl runs");
        let value = String::from_utf8_lossy(&o.stdout).trim_end().to_owned();
        (!value.is_empty()).then_some(value)
    }

    /// Writes `<prefix>/<key>` in etcd with etcdctl, as another host would.
    pub fn etcd_put(&self, key: &str, value: &str) {
        let key = format!("/{}/{key}", self.name.replace('_', "-"));
        etcdctl(&self.etcd_endpoints, &["put", &key, value]);
    }

    /// Who answers through nginx: the X-Bgctl-Color header and the body.
    pub fn answer(&self) -> Option<(String, String)> {
        answer_on(self.listen)
    }

    /// Under load through nginx, `bgctl <args>` (run inside the sandbox, so
    /// errors carry the unit's journal) must leave blue serving v1, the
    /// state's image unchanged and no request failed: its exit code and stderr.
    pub fn refused_under_load(&self, args: &[&str]) -> (Option<i32>, String) {
        let load = Load::start(self.listen, 8, 40, Duration::from_secs(600));
        let o = self.bgctl_inside(args);
        let result = load.stop();
        let err = stderr(&o);
        eprintln!(
            "{} {args:?}: exit {:?}; {} requests, {} failed\n{err}",
            self.name,
            o.status.code(),
            result.requests(),
            result.failed()
        );
        self.assert_live("blue", "v1");
        assert_eq!(
            self.etcd("image").as_deref(),
            Some("bgctl-demo:v1"),
            "the state changed"
        );
        result.assert_no_failures();
        (o.status.code(), err)
    }

    /// Runs bgctl inside the sandbox, where the units' journal is (a copy of
    /// the binary under the environment dir, as the overlay may not show a
    /// fresh build).
    pub fn bgctl_inside(&self, args: &[&str]) -> Output {
        let bin = self.env.binary("bgctl");
        let mut all = vec![bin.to_str().unwrap(), "--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        self.env.in_sandbox(&all)
    }

    /// After a switch to `color`: etcd says it, nginx answers from it with
    /// `version`, it is the only active unit and the only enabled one, and
    /// the other color's container is gone.
    pub fn assert_live(&self, color: &str, version: &str) {
        assert_eq!(self.assert_agree(), color, "the live color");
        let (_, body) = self.answer().expect("nginx answers");
        assert!(body.contains(&format!("demo-app {version}")), "{body}");
    }

    /// State, proxy, units and enablement agree on one live color: returns it.
    pub fn assert_agree(&self) -> String {
        let color = self.etcd("color").expect("etcd names a live color");
        let other = if color == "blue" { "green" } else { "blue" };
        assert_eq!(self.etcd("instance"), Some(format!("{}_{color}", self.name)));
        let (answer, _) = self.answer().expect("nginx answers");
        assert_eq!(answer, format!("HTTP/1.1 200 OK {color}"), "who answers through nginx");
        assert!(
            self.is_active(&color) && !self.is_active(other),
            "{color} must be the only active unit"
        );
        assert!(
            self.wants_link(&color).is_symlink() && !self.wants_link(other).exists(),
            "only {color} may be enabled"
        );
        assert!(!self.container_exists(other), "{other}'s container is left");
        color
    }

    /// `systemctl is-active` of a color's unit, asked inside the sandbox.
    pub fn is_active(&self, color: &str) -> bool {
        let o = self
            .env
            .in_sandbox(&["systemctl", "is-active", "-q", self.unit(color).as_str()]);
        o.status.success()
    }
}

/// The revision of the etcd at `endpoints` now.
pub fn etcd_revision(endpoints: &str) -> i64 {
    let got: serde_json::Value = serde_json::from_str(&etcdctl(endpoints, &["get", "/", "-w", "json"])).unwrap();
    got["header"]["revision"].as_i64().unwrap()
}

/// `etcdctl <args>` against `endpoints`, which must succeed: its stdout.
pub fn etcdctl(endpoints: &str, args: &[&str]) -> String {
    let o = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", endpoints])
        .args(args)
        .output()
        .expect("etcdctl runs");
    assert!(o.status.success(), "etcdctl {args:?}: {}", stderr(&o));
    stdout(&o)
}

/// Load through nginx with `hey` (an independent HTTP client, keep-alive on),
/// for as long as it runs; `stop` ends it and counts.
pub struct Load {
    child: Option<std::process::Child>,
}

impl Drop for Load {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What the load saw: responses by status, and errors (connection failures,
/// timeouts), as hey reports them.
#[derive(Debug)]
pub struct LoadResult {
    pub by_status: Vec<(u16, u64)>,
    pub errors: u64,
    pub report: String,
}

impl LoadResult {
    pub fn requests(&self) -> u64 {
        self.by_status.iter().map(|(_, n)| n).sum::<u64>() + self.errors
    }

    /// The bar of every load test: the load ran, and nothing failed.
    pub fn assert_no_failures(&self) {
        assert!(
            self.requests() > 0,
            "no request was counted; hey said:\n{}",
            self.report
        );
        assert_eq!(self.failed(), 0, "{}", self.report);
    }

    /// Non-2xx answers plus errors.
    pub fn failed(&self) -> u64 {
        self.by_status
            .iter()
            .filter(|(s, _)| !(200..300).contains(s))
            .map(|(_, n)| n)
            .sum::<u64>()
            + self.errors
    }
}

impl Load {
    /// `clients` concurrent keep-alive clients at up to `qps` requests a
    /// second each; bounded by `limit` in case the test dies.
    pub fn start(port: u16, clients: u32, qps: u32, limit: Duration) -> Load {
        Load::start_at(&format!("127.0.0.1:{port}"), clients, qps, limit)
    }

    /// As [`Load::start`], through the proxy at `addr` (`<ip>:<port>`).
    pub fn start_at(addr: &str, clients: u32, qps: u32, limit: Duration) -> Load {
        Load::start_url(&format!("http://{addr}/"), clients, qps, limit)
    }

    /// As [`Load::start`], on `url` (https too: hey does not verify the certificate).
    pub fn start_url(url: &str, clients: u32, qps: u32, limit: Duration) -> Load {
        let child = Command::new("hey")
            .args([
                "-z",
                &format!("{}s", limit.as_secs()),
                "-c",
                &clients.to_string(),
                "-q",
                &qps.to_string(),
                "-t",
                "10",
            ])
            .arg(url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("hey runs (apt-get install hey)");
        // Let every client connect before the test changes anything.
        std::thread::sleep(Duration::from_millis(500));
        Load { child: Some(child) }
    }

    pub fn stop(mut self) -> LoadResult {
        let child = self.child.take().expect("a running load");
        let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        let out = child.wait_with_output().expect("hey ends");
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        parse_hey(report)
    }
}

fn parse_hey(report: String) -> LoadResult {
    let section = |title: &str| -> Vec<String> {
        report
            .split(title)
            .nth(1)
            .map(|rest| {
                rest.lines()
                    .skip(1)
                    .take_while(|l| !l.trim().is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    // "  [200]\t12345 responses"
    let by_status = section("Status code distribution:")
        .iter()
        .filter_map(|l| {
            let (code, rest) = l.trim().strip_prefix('[')?.split_once(']')?;
            Some((code.parse().ok()?, rest.split_whitespace().next()?.parse().ok()?))
        })
        .collect();
    // "  [3]\tGet ...: EOF"
    let errors = section("Error distribution:")
        .iter()
        .filter_map(|l| l.trim().strip_prefix('[')?.split_once(']')?.0.parse::<u64>().ok())
        .sum();
    LoadResult {
        by_status,
        errors,
        report,
    }
}
