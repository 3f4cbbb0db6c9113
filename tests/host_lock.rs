//! The host lock that serialises every bgctl's nginx changes, held by
//! someone else: bgctl gives up after its timeout and exits then, with no
//! blocked thread left to keep it alive. Alone in its binary: while the
//! lock is held, no other test could change a site.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Service, TestEnv, ports, stderr};

#[test]
fn a_held_host_lock_ends_in_a_clear_error_at_its_timeout_and_bgctl_exits() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "host_lock", ports(), "");
    svc.install();
    let mut holder = Command::new("flock")
        // --no-fork: the pid holding the lock is the one killed below.
        .args(["--no-fork", "/run/lock/bgctl-nginx.lock", "sleep", "120"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The site on disk differs from what the state renders: sync must change it.
    let site = std::path::Path::new(env.var("BGCTL_TEST_NGINX_SITES")).join("host_lock.conf");
    let edited = std::fs::read_to_string(&site).unwrap() + "# edited by hand\n";
    std::fs::write(&site, &edited).unwrap();
    let started = Instant::now();
    // The test build waits 2 s for the lock, not the real 30 s.
    let o = svc
        .run(&["proxy", "sync"])
        .env("BGCTL_HOST_LOCK_WAIT_MS", "2000")
        .status(1)
        .stderr_has("held by another bgctl for over 2s")
        .run();
    let took = started.elapsed();
    holder.kill().unwrap();
    holder.wait().unwrap();
    eprintln!(
        "proxy sync with the host lock held: exit after {took:?}\n{}",
        stderr(&o)
    );
    assert!(
        took < Duration::from_secs(10),
        "bgctl did not exit at its timeout: {took:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&site).unwrap(),
        edited,
        "changed without the lock"
    );
    // With the lock free again, the same sync repairs it.
    svc.run(&["proxy", "sync"]).run();
    assert_ne!(std::fs::read_to_string(&site).unwrap(), edited);
}
