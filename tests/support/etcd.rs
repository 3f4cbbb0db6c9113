//! Private etcd members for tests that kill, stop or restart etcd (the
//! environment's own etcd is shared by every test and stays up).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{TestEnv, wait_for};

/// `n` etcd members from port `base` (client port base + 2i, peer
/// base + 2i + 1); killed and their data removed on drop.
pub struct Cluster {
    members: Vec<Option<Child>>,
    args: Vec<Vec<String>>,
    dirs: Vec<PathBuf>,
    pub clients: Vec<String>,
}

impl Cluster {
    /// On loopback.
    pub fn start(env: &TestEnv, tag: &str, n: usize, base: u16) -> Cluster {
        Cluster::start_on(env, tag, n, base, "127.0.0.1")
    }

    /// On the address `host` (another network namespace may reach it).
    pub fn start_on(env: &TestEnv, tag: &str, n: usize, base: u16, host: &str) -> Cluster {
        let client = |i: usize| base + 2 * i as u16;
        let peer = |i: usize| base + 2 * i as u16 + 1;
        let name = |i: usize| format!("{tag}{i}");
        let initial: Vec<String> = (0..n)
            .map(|i| format!("{}=http://{host}:{}", name(i), peer(i)))
            .collect();
        let mut cluster = Cluster {
            members: Vec::new(),
            args: Vec::new(),
            dirs: Vec::new(),
            clients: Vec::new(),
        };
        for i in 0..n {
            let dir = env.dir().join(format!("etcd-{tag}/{}", name(i)));
            let _ = std::fs::remove_dir_all(&dir);
            let (c, p) = (
                format!("http://{host}:{}", client(i)),
                format!("http://{host}:{}", peer(i)),
            );
            let args: Vec<String> = [
                "--name",
                &name(i),
                "--data-dir",
                dir.to_str().unwrap(),
                "--listen-client-urls",
                &c,
                "--advertise-client-urls",
                &c,
                "--listen-peer-urls",
                &p,
                "--initial-advertise-peer-urls",
                &p,
                "--initial-cluster",
                &initial.join(","),
                "--initial-cluster-state",
                "new",
                "--log-level",
                "error",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            cluster.members.push(Some(spawn(&args)));
            cluster.args.push(args);
            cluster.dirs.push(dir);
            cluster.clients.push(c);
        }
        cluster.wait_healthy();
        cluster
    }

    fn wait_healthy(&self) {
        let healthy = wait_for(Duration::from_secs(30), || {
            let o = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args(["--endpoints", &self.clients.join(","), "endpoint", "health"])
                .output()
                .ok()?;
            o.status.success().then_some(())
        });
        assert!(healthy.is_some(), "the private etcd did not come up");
    }

    pub fn pid(&self, i: usize) -> u32 {
        self.members[i].as_ref().expect("member runs").id()
    }

    /// SIGKILL: the member is gone, connections to it are refused.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut m) = self.members[i].take() {
            m.kill().unwrap();
            m.wait().unwrap();
        }
    }

    /// Starts a killed member again on its data.
    pub fn restart(&mut self, i: usize) {
        assert!(self.members[i].is_none(), "member {i} still runs");
        self.members[i] = Some(spawn(&self.args[i]));
        self.wait_healthy();
    }

    /// SIGSTOP (`true`) or SIGCONT: a stopped member accepts connections
    /// (the kernel does) and never answers.
    pub fn freeze(&self, i: usize, stopped: bool) {
        let signal = if stopped { "-STOP" } else { "-CONT" };
        let ok = Command::new("kill")
            .args([signal, &self.pid(i).to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// `[state] endpoints` for a config.
    pub fn endpoints_toml(&self) -> String {
        let quoted: Vec<String> = self.clients.iter().map(|c| format!("\"{c}\"")).collect();
        format!("[{}]", quoted.join(", "))
    }
}

fn spawn(args: &[String]) -> Child {
    Command::new("etcd")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcd runs")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in self.members.iter_mut().flatten() {
            let _ = Command::new("kill").args(["-CONT", &m.id().to_string()]).status();
            let _ = m.kill();
            let _ = m.wait();
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
