//! SIGINT and SIGTERM sent to the real binary mid-phase, under load
//! through the real nginx: an orderly stop, the undo of a failure at that
//! phase, the lock freed at once, exit 130 or 143, and no failed request.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{Load, Running, Service, TestEnv, ports, stderr};

fn send(running: &Running, signal: &str) {
    let pid = running.child.id().to_string();
    let o = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .output()
        .unwrap();
    assert!(o.status.success(), "kill -{signal} {pid}: {}", stderr(&o));
}

/// The lock is free: a deploy that does not wait for it gets it.
fn assert_lock_free(svc: &Service) {
    let o = svc.bgctl(&["reconcile"]);
    assert_eq!(o.status.code(), Some(0), "the lock was not given back: {}", stderr(&o));
}

#[test]
fn sigint_in_the_guard_window_rolls_back_frees_the_lock_and_exits_130() {
    let env = TestEnv::get();
    let guard = format!(
        "[guard]\nwindow = \"20s\"\nlog = \"{}/int_guard.guard.json\"\n",
        env.dir().display()
    );
    let svc = Service::new(&env, "int_guard", ports(), &guard);
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    let load = Load::start(svc.listen, 8, 40, Duration::from_secs(600));
    let running = svc.spawn_until(&["switch", "--image", "bgctl-demo:v2"], "", "verify");
    std::thread::sleep(Duration::from_secs(2));
    let sent = Instant::now();
    send(&running, "INT");
    let (code, err) = running.finish();
    let took = sent.elapsed();
    let result = load.stop();
    eprintln!("SIGINT 2 s into the guard: exit {code:?} {took:?} after it\n{err}");
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted by SIGINT after the flip"), "{err}");
    assert!(err.contains("rolled back: blue is live again"), "{err}");
    assert!(took < Duration::from_secs(15), "it waited the window out: {took:?}");
    svc.assert_live("blue", "v1");
    assert!(!svc.is_active("green"));
    assert_eq!(svc.etcd("probation"), None);
    assert_lock_free(&svc);
    result.assert_no_failures();
}

#[test]
fn sigterm_while_the_new_color_gets_healthy_stops_it_and_exits_143() {
    let env = TestEnv::get();
    let health = "[health]\ntimeout = \"60s\"\n";
    let svc = Service::new(&env, "term_healthy", ports(), health);
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    let load = Load::start(svc.listen, 8, 40, Duration::from_secs(600));
    // `sick` never gets healthy: the switch waits in phase healthy.
    let running = svc.spawn_until(&["switch", "--image", "bgctl-demo:sick"], "", "  start ");
    std::thread::sleep(Duration::from_secs(1));
    send(&running, "TERM");
    let (code, err) = running.finish();
    let result = load.stop();
    eprintln!("SIGTERM in phase healthy: exit {code:?}\n{err}");
    assert_eq!(code, Some(143), "{err}");
    assert!(
        err.contains("interrupted by SIGTERM before the flip") && err.contains("was stopped and nothing else changed"),
        "{err}"
    );
    svc.assert_live("blue", "v1");
    assert!(!svc.is_active("green"));
    assert_lock_free(&svc);
    result.assert_no_failures();
}

#[test]
fn sigint_while_waiting_for_the_lock_does_nothing_and_exits_130() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "int_lock", ports(), "");
    svc.install();
    let holder = svc.spawn_until(&["switch"], "lock:hang", "fault: hanging after lock");
    let waiter = svc.spawn_until(&["switch", "--wait"], "", "switch int_lock: deploy");
    std::thread::sleep(Duration::from_millis(500));
    send(&waiter, "INT");
    let (code, err) = waiter.finish();
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("while it waited for the lock: nothing was done"), "{err}");
    holder.kill();
}
