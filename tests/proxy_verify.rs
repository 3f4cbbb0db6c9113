//! `[proxy] verify`: a switch is verified through every other proxy too,
//! and rolled back when one does not follow within the verify deadline,
//! under load through the local nginx, with no failed request.

mod support;

use std::time::Duration;

use support::{Load, Service, TestEnv, port, ports, stderr};

#[test]
fn a_proxy_that_does_not_follow_rolls_the_switch_back() {
    let env = TestEnv::get();
    // A proxy that will never follow B: A's own site, which answers blue.
    let other = Service::new(&env, "pver_a", ports(), "");
    let a = other.listen;
    other.install();
    other.run(&["switch", "--image", "bgctl-demo:v1"]).run();

    // B verifies through a proxy that follows it: the same nginx, by URL.
    let (blue, green, b) = ports();
    let follows = format!("{}verify = [\"http://127.0.0.1:{b}\"]\n", env.sandbox_proxy("pver_b"));
    let svc = Service::with_proxy(&env, "pver_b", (blue, green, b), &follows, "");
    svc.install();
    // The first deploy (nothing live yet: users get the 503 page), then two under load.
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    for image in ["bgctl-demo:v2", "bgctl-demo:v1"] {
        let load = Load::start(svc.listen, 4, 40, Duration::from_secs(600));
        let o = svc.bgctl(&["switch", "--image", image]);
        let result = load.stop();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        result.assert_no_failures();
    }
    svc.assert_live("blue", "v1");

    // Then through one that does not: B goes back to blue, no user notices.
    let text = std::fs::read_to_string(&svc.config).unwrap();
    let both = format!("verify = [\"http://127.0.0.1:{b}\", \"http://127.0.0.1:{a}\"]");
    std::fs::write(
        &svc.config,
        text.replace(&format!("verify = [\"http://127.0.0.1:{b}\"]"), &both),
    )
    .unwrap();
    let (err, result) = failed_switch_under_load(&svc);
    assert!(
        err.contains(&format!(
            "requests through the proxy http://127.0.0.1:{a} did not answer as green"
        )),
        "{err}"
    );
    assert!(err.contains("blue is live again"), "{err}");
    svc.assert_live("blue", "v1");
    result.assert_no_failures();
    other.assert_live("blue", "v1");
}

/// A proxy that cannot be reached (a partition) may still be sending its
/// users to the new color: the rollback must not take that color from
/// under them. It flips back and restores this host, and leaves the new
/// color running until the proxy is seen again.
#[test]
fn a_rollback_keeps_the_target_running_for_a_proxy_it_cannot_reach() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "pver_gone", ports(), "");
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    // Nothing listens there: the proxy host is cut off.
    let text = std::fs::read_to_string(&svc.config).unwrap();
    let nowhere = port();
    let gone = text.replace(
        "[proxy]\n",
        &format!("[proxy]\nverify = [\"http://127.0.0.1:{nowhere}\"]\n"),
    );
    std::fs::write(&svc.config, gone).unwrap();
    let (err, result) = failed_switch_under_load(&svc);
    assert!(err.contains("the rollback failed too"), "{err}");
    assert!(
        err.contains(&format!("the proxy http://127.0.0.1:{nowhere} did not answer")),
        "{err}"
    );
    assert!(
        svc.is_active("green"),
        "green was stopped while a proxy may still send users to it"
    );
    assert_eq!(svc.etcd("color").as_deref(), Some("blue"), "the state went back");
    result.assert_no_failures();
    // The proxy is gone for good (the config says so): reconcile finishes.
    std::fs::write(&svc.config, text).unwrap();
    svc.run(&["reconcile"]).run();
    svc.assert_live("blue", "v1");
}

/// A switch to v2 under load that must fail (exit 1): its stderr and the load.
fn failed_switch_under_load(svc: &Service) -> (String, support::LoadResult) {
    let load = Load::start(svc.listen, 4, 40, Duration::from_secs(600));
    let o = svc.run(&["switch", "--image", "bgctl-demo:v2"]).status(1).run();
    let result = load.stop();
    let err = stderr(&o);
    eprintln!("{err}");
    (err, result)
}
