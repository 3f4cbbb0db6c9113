//! etcd going away under bgctl, with private etcd members (the shared one
//! stays up): a held lock's keep-alive does not spin while etcd is down,
//! and a lock wait on an etcd that accepts and never answers (SIGSTOP)
//! ends with exit 5 instead of hanging.

mod support;

use std::time::{Duration, Instant};

use support::etcd::Cluster;
use support::{Service, TestEnv, ports, stderr};

/// A switch holds the lock while its slow app starts; etcd is killed for
/// 10 s and comes back. The keep-alive must retry at a pace, not at once.
#[test]
fn a_held_lock_costs_little_cpu_while_etcd_is_down_for_10_seconds() {
    let env = TestEnv::get();
    let mut etcd = Cluster::start(&env, "ka", 1, 23831);
    let mut svc = Service::new(
        &env,
        "etcd_keepalive",
        ports(),
        "env = { DEMO_STARTUP_DELAY = \"40s\" }\n[health]\ntimeout = \"90s\"\n",
    );
    svc.use_etcd(&etcd);
    svc.install();
    let running = svc.spawn_until(&["switch"], "", "  start ");
    let before = running.cpu_ticks();
    etcd.kill(0);
    std::thread::sleep(Duration::from_secs(10));
    let used = running.cpu_ticks() - before;
    etcd.restart(0);
    eprintln!("bgctl's CPU time while etcd was down for 10 s: {} ms", used * 10);
    // Spinning is about 10 s of it; a paced retry a few ms.
    assert!(used < 100, "{} ms of CPU in 10 s", used * 10);
    running.kill();
}

/// `switch --wait` and `reconcile` queue behind a holder; then etcd stops
/// answering (SIGSTOP: it still accepts connections). Both exit 5 soon.
#[test]
fn a_lock_wait_on_a_hung_etcd_exits_5() {
    let env = TestEnv::get();
    let etcd = Cluster::start(&env, "hung", 1, 23841);
    let mut svc = Service::new(&env, "etcd_hung", ports(), "");
    svc.use_etcd(&etcd);
    svc.install();
    let holder = svc.spawn_until(&["switch"], "lock:hang", "fault: hanging after lock");
    let waiters = [
        svc.spawn_until(&["switch", "--wait"], "", "switch etcd_hung: deploy"),
        svc.spawn_until(&["reconcile"], "", "reconcile etcd_hung: deploy"),
    ];
    std::thread::sleep(Duration::from_secs(1)); // both queued on the lock
    etcd.freeze(0, true);
    let stopped = Instant::now();
    for (what, waiter) in ["switch --wait", "reconcile"].iter().zip(waiters) {
        let (code, err) = waiter.finish();
        let took = stopped.elapsed();
        eprintln!("{what} on a hung etcd: exit {code:?} {took:?} after SIGSTOP");
        assert_eq!(code, Some(5), "{what}: {err}");
        assert!(err.contains("cannot reach etcd"), "{what}: {err}");
        assert!(took < Duration::from_secs(10), "{what} took {took:?}");
    }
    etcd.freeze(0, false);
    holder.kill();
}

/// Every member of a 3-member cluster hung: exit 5 within 10 s.
#[test]
fn with_every_member_hung_a_switch_exits_5_within_10_seconds() {
    let env = TestEnv::get();
    let etcd = Cluster::start(&env, "hung3-", 3, 23851);
    let mut svc = Service::new(&env, "etcd_hung3", ports(), "");
    svc.use_etcd(&etcd);
    svc.install();
    for i in 0..3 {
        etcd.freeze(i, true);
    }
    let started = Instant::now();
    let o = svc.bgctl(&["switch", "--wait"]);
    let took = started.elapsed();
    for i in 0..3 {
        etcd.freeze(i, false);
    }
    eprintln!(
        "switch --wait with 3 hung members: exit {:?} in {took:?}",
        o.status.code()
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(!svc.is_active("blue"), "it started something");
}
