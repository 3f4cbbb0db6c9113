//! `[proxy] verify`: a switch is verified through every other proxy too,
//! and rolled back when one does not follow within the verify deadline,
//! under load through the local nginx, with no failed request.

mod support;

use std::time::Duration;

use support::{Load, Service, TestEnv, stderr};

#[test]
fn a_proxy_that_does_not_follow_rolls_the_switch_back() {
    let env = TestEnv::get();
    // A proxy that will never follow B: A's own site, which answers blue.
    let other = Service::new(&env, "pver_a", (20421, 20422, 20482), "");
    other.install();
    let o = other.bgctl(&["switch", "--image", "bgctl-demo:v1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // B verifies through a proxy that follows it: the same nginx, by URL.
    let follows = format!("{}verify = [\"http://127.0.0.1:20483\"]\n", env.sandbox_proxy("pver_b"));
    let svc = Service::with_proxy(&env, "pver_b", (20423, 20424, 20483), &follows, "");
    svc.install();
    // The first deploy (nothing live yet: users get the 503 page), then two under load.
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
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
    let both = "verify = [\"http://127.0.0.1:20483\", \"http://127.0.0.1:20482\"]";
    std::fs::write(&svc.config, text.replace("verify = [\"http://127.0.0.1:20483\"]", both)).unwrap();
    let load = Load::start(svc.listen, 4, 40, Duration::from_secs(600));
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v2"]);
    let result = load.stop();
    let err = stderr(&o);
    eprintln!("{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("requests through the proxy http://127.0.0.1:20482 did not answer as green"),
        "{err}"
    );
    assert!(err.contains("blue is live again"), "{err}");
    svc.assert_live("blue", "v1");
    result.assert_no_failures();
    other.assert_live("blue", "v1");
}
