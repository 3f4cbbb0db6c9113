//! A 3-member etcd cluster on loopback, one member killed mid-run: switches
//! go on, with no failed request through nginx.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{Load, Service, TestEnv, stderr, wait_for};

/// Three etcd members; all killed and their data removed on drop.
struct Cluster {
    members: Vec<Child>,
    dirs: Vec<std::path::PathBuf>,
    clients: Vec<String>,
}

impl Cluster {
    fn start(env: &TestEnv) -> Cluster {
        let client = |i: u16| 23811 + 2 * i;
        let peer = |i: u16| 23812 + 2 * i;
        let names = ["m0", "m1", "m2"];
        let initial: Vec<String> = (0..3)
            .map(|i| format!("{}=http://127.0.0.1:{}", names[i], peer(i as u16)))
            .collect();
        let mut cluster = Cluster {
            members: Vec::new(),
            dirs: Vec::new(),
            clients: Vec::new(),
        };
        for (i, name) in names.iter().enumerate() {
            let (c, p) = (client(i as u16), peer(i as u16));
            let dir = env.dir().join(format!("etcd-cluster/{name}"));
            let _ = std::fs::remove_dir_all(&dir);
            let member = Command::new("etcd")
                .args(["--name", name, "--data-dir", dir.to_str().unwrap()])
                .args(["--listen-client-urls", &format!("http://127.0.0.1:{c}")])
                .args(["--advertise-client-urls", &format!("http://127.0.0.1:{c}")])
                .args(["--listen-peer-urls", &format!("http://127.0.0.1:{p}")])
                .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{p}")])
                .args([
                    "--initial-cluster",
                    &initial.join(","),
                    "--initial-cluster-state",
                    "new",
                ])
                .args(["--log-level", "error"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("etcd runs");
            cluster.members.push(member);
            cluster.dirs.push(dir);
            cluster.clients.push(format!("http://127.0.0.1:{c}"));
        }
        let healthy = wait_for(Duration::from_secs(30), || {
            let o = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args(["--endpoints", &cluster.clients.join(","), "endpoint", "health"])
                .output()
                .ok()?;
            o.status.success().then_some(())
        });
        assert!(healthy.is_some(), "the etcd cluster did not come up");
        cluster
    }

    fn kill(&mut self, i: usize) {
        self.members[i].kill().unwrap();
        self.members[i].wait().unwrap();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            let _ = m.kill();
            let _ = m.wait();
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[test]
fn switches_go_on_when_one_of_three_etcd_members_dies() {
    let env = TestEnv::get();
    let mut cluster = Cluster::start(&env);
    let mut svc = Service::new(&env, "etcd3", (19901, 19902, 19980), "");
    svc.etcd_endpoints = cluster.clients.join(",");
    let endpoints = cluster
        .clients
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = std::fs::read_to_string(&svc.config).unwrap().replace(
        &format!("[\"{}\"]", env.var("BGCTL_TEST_ETCD")),
        &format!("[{endpoints}]"),
    );
    std::fs::write(&svc.config, text).unwrap();
    svc.install();

    let switch = |svc: &Service, image: &str| {
        let o = svc.bgctl(&["switch", "--image", image]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    };
    switch(&svc, "bgctl-demo:v1");
    let load = Load::start(svc.listen, 8, 40, Duration::from_secs(600));
    // Mid-run: the member listed first dies while a switch runs.
    let running = Command::new(env!("CARGO_BIN_EXE_bgctl"))
        .args([
            "--config",
            svc.config.to_str().unwrap(),
            "switch",
            "--image",
            "bgctl-demo:v2",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    cluster.kill(0);
    svc.etcd_endpoints = cluster.clients[1..].join(",");
    let o = running.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "the switch during the kill: {}", stderr(&o));
    switch(&svc, "bgctl-demo:v1");
    switch(&svc, "bgctl-demo:v2");
    let result = load.stop();
    eprintln!(
        "etcd member killed: {} requests, {} failed",
        result.requests(),
        result.failed()
    );
    svc.assert_live("green", "v2");
    result.assert_no_failures();
}
