//! A 3-member etcd cluster on loopback, one member killed mid-run: switches
//! go on, with no failed request through nginx.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::etcd::Cluster;
use support::{Load, Service, TestEnv, ports, stderr};

#[test]
fn switches_go_on_when_one_of_three_etcd_members_dies() {
    let env = TestEnv::get();
    let mut cluster = Cluster::start(&env, "m", 3, 23811);
    let mut svc = Service::new(&env, "etcd3", ports(), "");
    svc.use_etcd(&cluster);
    svc.install();

    let switch = |svc: &Service, image: &str| {
        svc.run(&["switch", "--image", image]).run();
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
