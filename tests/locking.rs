//! The deploy lock against the real etcd, under load through nginx: what
//! is decided is decided under it, what it guards stops when it is lost,
//! and a holder that died on this host does not keep others waiting.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{Load, Running, Service, TestEnv, ports, stderr};

const LOAD_LIMIT: Duration = Duration::from_secs(600);

fn ok(svc: &Service, args: &[&str]) {
    let o = svc.bgctl(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
}

/// rollback waits behind a switch: it must go back from what that switch
/// made live, not from what was live when it was typed.
#[test]
fn rollback_picks_its_target_under_the_lock() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "lock_rollback", ports(), "");
    svc.install();
    ok(&svc, &["switch", "--image", "bgctl-demo:v1"]); // blue v1
    ok(&svc, &["switch", "--image", "bgctl-demo:v2"]); // green v2, previous blue
    let load = Load::start(svc.listen, 8, 40, LOAD_LIMIT);
    // This switch holds the lock for 3 s after taking it, then makes blue
    // v1 live (previous green) ...
    let first = svc.spawn_until(
        &["switch", "--image", "bgctl-demo:v1"],
        "lock:pause=3000",
        "fault: pausing after lock",
    );
    // ... while a rollback queues behind it.
    let rollback = svc.spawn_until(&["rollback", "--wait"], "", "rollback lock_rollback: deploy");
    let (code, err) = first.finish();
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = rollback.finish();
    assert_eq!(code, Some(0), "the rollback: {err}");
    assert!(err.contains("green is live with bgctl-demo:v2 (was blue)"), "{err}");
    let result = load.stop();
    eprintln!(
        "rollback behind a switch: {} requests, {} failed",
        result.requests(),
        result.failed()
    );
    svc.assert_live("green", "v2");
    result.assert_no_failures();
}

#[test]
fn uninstall_takes_the_lock_and_leaves_a_running_switch_alone() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "lock_uninstall", ports(), "");
    svc.install();
    ok(&svc, &["switch"]);
    let holder = svc.spawn_until(&["switch"], "lock:hang", "fault: hanging after lock");
    let o = svc.run(&["uninstall"]).status(4).run();
    assert!(
        stderr(&o).contains("holds the lock /lock-uninstall/lock: switch "),
        "{}",
        stderr(&o)
    );
    assert!(
        svc.installed_files().iter().all(|f| f.exists()),
        "uninstall removed files"
    );
    assert!(svc.is_active("blue"), "uninstall stopped the live color");
    holder.kill();
}

/// The lock key vanishes between healthy and flip (an operator deleted it,
/// or etcd expired the lease): nothing flips, the new color goes, the old
/// one keeps serving.
#[test]
fn a_switch_whose_lock_vanishes_before_the_flip_changes_nothing() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "lock_lost", ports(), "");
    svc.install();
    ok(&svc, &["switch", "--image", "bgctl-demo:v1"]);
    let load = Load::start(svc.listen, 8, 40, LOAD_LIMIT);
    let running = svc.spawn_until(
        &["switch", "--image", "bgctl-demo:v2"],
        "healthy:pause=2000",
        "fault: pausing after healthy",
    );
    let deleted = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            env.var("BGCTL_TEST_ETCD"),
            "del",
            "--prefix",
            "/lock-lost/lock/",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&deleted.stdout).trim() == "1", "{deleted:?}");
    let (code, err) = running.finish();
    let result = load.stop();
    eprintln!(
        "lock lost before the flip: exit {code:?}; {} requests, {} failed\n{err}",
        result.requests(),
        result.failed()
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("lost the deploy lock"), "{err}");
    assert_eq!(svc.etcd("image").as_deref(), Some("bgctl-demo:v1"), "it flipped");
    svc.assert_live("blue", "v1");
    result.assert_no_failures();
}

/// kill -9 mid-switch: the holder is this host's and dead, so its lease is
/// revoked at once and reconcile does not wait out the 15 s TTL.
#[test]
fn a_holder_killed_on_this_host_frees_the_lock_at_once() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "lock_dead", ports(), "");
    svc.install();
    ok(&svc, &["switch", "--image", "bgctl-demo:v1"]);
    let load = Load::start(svc.listen, 8, 40, LOAD_LIMIT);
    svc.spawn_until(
        &["switch", "--image", "bgctl-demo:v2"],
        "healthy:hang",
        "fault: hanging after healthy",
    )
    .kill();
    let killed = Instant::now();
    ok(&svc, &["reconcile"]);
    let took = killed.elapsed();
    let result = load.stop();
    eprintln!(
        "reconcile after kill -9 mid-switch: done {took:?} after the kill; {} requests, {} failed",
        result.requests(),
        result.failed()
    );
    // The lease alone would hold it for 15 s from its last renewal.
    assert!(took < Duration::from_secs(10), "reconcile waited {took:?}");
    svc.assert_live("blue", "v1");
    result.assert_no_failures();
}

/// A holder that says it runs on another host is never judged from here:
/// its lease decides.
#[test]
fn a_holder_on_another_host_is_waited_for_until_its_lease_expires() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "lock_elsewhere", ports(), "");
    svc.install();
    ok(&svc, &["switch"]);
    let mut elsewhere = Command::new("unshare");
    elsewhere
        .args(["--uts", "sh", "-c", "hostname bgctl-elsewhere && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_bgctl"))
        .arg("--config")
        .arg(&svc.config)
        .args(["switch", "--image", "bgctl-demo:v2"])
        .env("BGCTL_FAULT", "lock:hang");
    Running::until(&mut elsewhere, "fault: hanging after lock").kill();
    let killed = Instant::now();
    let o = svc.run(&["switch", "--image", "bgctl-demo:v2"]).status(4).run();
    assert!(
        stderr(&o).contains("on bgctl-elsewhere)"),
        "names the holder's host: {}",
        stderr(&o)
    );
    ok(&svc, &["switch", "--wait", "--image", "bgctl-demo:v2"]);
    let freed = killed.elapsed();
    eprintln!("holder on another host: the lock was free {freed:?} after its kill");
    assert!(freed > Duration::from_secs(8), "its lease was revoked early: {freed:?}");
    svc.assert_live("green", "v2");
}
