//! `[health] docker` against real images whose HEALTHCHECK first runs 30 s
//! after the start (bgctl-demo:slowcheck, and slowsick whose test fails):
//! `exec` runs the test itself and is done while Docker still says
//! `starting`; `wait` waits for Docker; `ignore` leaves it to the probe.
//! Each switch under load through nginx, at zero failed requests.

mod support;

use std::time::Duration;

use support::{Load, Service, TestEnv, ports, stderr, stdout};

/// `[health]` with `docker` = `mode`; the probe on `/`, which even the sick
/// app answers 200, so only the HEALTHCHECK can tell it apart.
fn service<'a>(env: &'a TestEnv, name: &str, mode: &str) -> Service<'a> {
    let extra = format!("[health]\ndocker = \"{mode}\"\npath = \"/\"\ntimeout = \"12s\"\ninterval = \"200ms\"\n");
    let svc = Service::new(env, name, ports(), &extra);
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    svc
}

/// `switch --image <image>` under load; its exit code and stderr.
fn switch_under_load(svc: &Service, image: &str) -> (Option<i32>, String) {
    let load = Load::start(svc.listen, 4, 50, Duration::from_secs(120));
    let o = svc.bgctl(&["switch", "--image", image]);
    load.stop().assert_no_failures();
    (o.status.code(), stderr(&o))
}

/// Docker's own health word for a color's container.
fn docker_health(env: &TestEnv, container: &str) -> String {
    let o = env.docker(&["inspect", "--format", "{{.State.Health.Status}}", container]);
    stdout(&o).trim().to_owned()
}

#[test]
fn under_exec_a_switch_is_healthy_before_docker_ran_its_first_check() {
    let env = TestEnv::get();
    let svc = service(&env, "hx_exec", "exec");
    let (code, err) = switch_under_load(&svc, "bgctl-demo:slowcheck");
    assert_eq!(code, Some(0), "{err}");
    svc.assert_live("green", "v1");
    // Docker has not run the test yet: bgctl did not wait for it.
    assert_eq!(docker_health(&env, "hx_exec_green"), "starting");
}

/// A switch to `image` is refused as unhealthy (exit 3) with `said` in its
/// error: users stay on blue, and green is stopped.
fn assert_refused(svc: &Service, image: &str, said: &str) {
    let (code, err) = switch_under_load(svc, image);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains(said), "{err}");
    svc.assert_live("blue", "v1");
    assert!(!svc.is_active("green"), "the unhealthy color still runs");
}

#[test]
fn under_wait_the_same_image_is_not_healthy_before_docker_says_so() {
    let env = TestEnv::get();
    let svc = service(&env, "hx_wait", "wait");
    assert_refused(&svc, "bgctl-demo:slowcheck", "starting");
}

#[test]
fn under_exec_an_image_whose_test_fails_never_passes() {
    let env = TestEnv::get();
    let svc = service(&env, "hx_sick", "exec");
    assert_refused(
        &svc,
        "bgctl-demo:slowsick",
        "its HEALTHCHECK test failed when bgctl ran it",
    );
}

#[test]
fn under_ignore_the_healthcheck_is_not_looked_at() {
    let env = TestEnv::get();
    let svc = service(&env, "hx_ignore", "ignore");
    let (code, err) = switch_under_load(&svc, "bgctl-demo:slowsick");
    assert_eq!(code, Some(0), "{err}");
    svc.assert_live("green", "sick");
}
