//! dockerd restarted between two switches. Its own test binary: the restart
//! takes every container of the environment down with it.
//!
//! The live color's container goes down with dockerd (its unit runs
//! `docker run` in the foreground); systemd restarts the unit once dockerd
//! is back. The switch after that must succeed with no failed request.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Load, Service, TestEnv, ports, stderr, wait_for};

fn restart_dockerd(env: &TestEnv) {
    let pid = std::fs::read_to_string(env.dir().join("docker.pid")).unwrap();
    let pid = pid.trim();
    assert!(Command::new("kill").args(["-TERM", pid]).status().unwrap().success());
    let stopped = wait_for(Duration::from_secs(30), || {
        (!std::path::Path::new("/proc").join(pid).exists()).then_some(())
    });
    assert!(stopped.is_some(), "dockerd did not stop");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-env");
    let up = Command::new(script)
        .arg("up")
        .env("BGCTL_TEST_ENV", env.dir())
        .output()
        .unwrap();
    assert!(up.status.success(), "test-env up: {}", stderr(&up));
}

#[test]
fn a_switch_after_a_dockerd_restart_succeeds_with_no_failed_request() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "dockerd_restart", ports(), "");
    svc.install();
    svc.run(&["switch"]).run();

    restart_dockerd(&env);
    // systemd brings blue back (Restart=on-failure) once dockerd is up.
    let back = wait_for(Duration::from_secs(90), || {
        svc.answer().filter(|(a, _)| a == "HTTP/1.1 200 OK blue").map(drop)
    });
    assert!(back.is_some(), "blue did not come back after dockerd restarted");

    let load = Load::start(svc.listen, 8, 40, Duration::from_secs(600));
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v2"]);
    let result = load.stop();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    eprintln!(
        "after a dockerd restart: {} requests, {} failed",
        result.requests(),
        result.failed()
    );
    svc.assert_live("green", "v2");
    result.assert_no_failures();
}
