//! Releases that must not go live, against the real components and under
//! load through nginx: each switch exits non-zero saying why (the unit's
//! journal included: bgctl runs inside the sandbox, where the journal is),
//! blue keeps serving, the state is unchanged, and no request fails.

mod support;

use support::{Service, TestEnv, ports};

/// Blue live with v1, then a switch to `image` under load: its exit code
/// and stderr, after checking blue still serves and nothing failed.
fn deploy_bad(name: &str, ports: (u16, u16, u16), image: &str) -> (Option<i32>, String) {
    deploy_bad_with(name, ports, image, "")
}

/// As [`deploy_bad`], with `extra` sections in the config.
fn deploy_bad_with(name: &str, ports: (u16, u16, u16), image: &str, extra: &str) -> (Option<i32>, String) {
    let env = TestEnv::get();
    let svc = Service::new(&env, name, ports, "");
    let text = std::fs::read_to_string(&svc.config).unwrap();
    std::fs::write(&svc.config, format!("{text}[health]\ntimeout = \"6s\"\n{extra}")).unwrap();
    svc.install();
    svc.run(&["switch"]).run();
    svc.refused_under_load(&["switch", "--image", image])
}

#[test]
fn an_image_whose_health_check_always_fails() {
    let (code, err) = deploy_bad("bad_sick", ports(), "bgctl-demo:sick");
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("never became healthy") && err.contains("Docker's health log"),
        "{err}"
    );
    assert!(err.contains("container running and unhealthy"), "{err}");
}

#[test]
fn a_container_that_exits_at_once() {
    let (code, err) = deploy_bad("bad_crash", ports(), "bgctl-demo:crash");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("the unit failed"), "{err}");
    assert!(
        err.contains("its journal:") && err.contains("demo-app exiting with status 1"),
        "{err}"
    );
}

#[test]
fn an_app_that_never_listens() {
    let (code, err) = deploy_bad("bad_deaf", ports(), "bgctl-demo:deaf");
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("not healthy within") && err.contains("probe failed"),
        "{err}"
    );
    assert!(err.contains("demo-app not listening"), "{err}");
}

#[test]
fn an_app_that_is_healthy_then_dies() {
    // It dies 2 s after it started: only a switch that keeps the old color
    // that long can catch it. The guard does, for its window.
    let env = TestEnv::get();
    let guard = format!(
        "[guard]\nwindow = \"3s\"\nlog = \"{}/bad_dies.guard.json\"\n",
        env.dir().display()
    );
    let (code, err) = deploy_bad_with("bad_dies", ports(), "bgctl-demo:dies", &guard);
    // Caught before the flip (exit 3), in verify, by the guard or its last
    // health look (exit 1, rolled back).
    assert!(matches!(code, Some(1) | Some(3)), "{err}");
    assert!(
        err.contains("demo-app exiting with status 1"),
        "the journal says why: {err}"
    );
}

#[test]
fn a_host_port_taken_by_another_process() {
    let ports = ports();
    let squatter = std::net::TcpListener::bind(("127.0.0.1", ports.1)).unwrap();
    let (code, err) = deploy_bad("bad_port", ports, "bgctl-demo:v2");
    drop(squatter);
    // docker could not run the container (exit 125): the app never ran, so 1, not 3.
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("address already in use"), "the journal says why: {err}");
}
