//! nginx failing, against the real nginx. Its own test binary, and its
//! tests one at a time: a broken file in nginx's include directory, or a
//! stopped nginx, affects every service on it.

mod support;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// These tests break nginx for everyone: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

use support::{Load, Service, TestEnv, ports, stderr};

/// A file in nginx's include directory that `nginx -t` refuses; removed on drop.
struct Broken(PathBuf);

impl Drop for Broken {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_site_nginx_refuses_is_never_loaded_and_the_switch_is_rolled_back() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = TestEnv::get();
    let svc = Service::new(&env, "nginx_t", ports(), "");
    svc.install();
    svc.run(&["switch"]).run();
    let site = PathBuf::from(env.var("BGCTL_TEST_NGINX_SITES")).join("nginx_t.conf");
    let site_before = std::fs::read_to_string(&site).unwrap();

    let load = Load::start(svc.listen, 8, 50, Duration::from_secs(600));
    let broken = Broken(PathBuf::from(env.var("BGCTL_TEST_NGINX_SITES")).join("zz-broken.conf"));
    let broken_path = broken.0.clone();
    std::fs::write(&broken.0, "this_is_not_a_directive;\n").unwrap();
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v2"]);
    drop(broken);
    let result = load.stop();

    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    // The neighbour is named: this service's site is not what is broken.
    assert!(
        err.contains(&format!(
            "nginx -t fails on {}, which is not this service's",
            broken_path.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("unknown directive \"this_is_not_a_directive\""),
        "nginx's own words: {err}"
    );
    assert!(err.contains("rolled back: blue is live again"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&site).unwrap(),
        site_before,
        "the old site was not kept"
    );
    assert_eq!(svc.etcd("color").as_deref(), Some("blue"), "the flip was not undone");
    assert_eq!(svc.etcd("nginx_t_green/status").as_deref(), Some("stopped"));
    let (answer, body) = svc.answer().unwrap();
    assert_eq!(answer, "HTTP/1.1 200 OK blue");
    assert!(body.contains("demo-app v1"), "{body}");
    assert!(svc.is_active("blue") && !svc.is_active("green"));
    result.assert_no_failures();
}

/// Starts nginx's unit again on drop, whatever the test did.
struct NginxBack<'a>(&'a TestEnv);

impl Drop for NginxBack<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .in_sandbox(&["systemctl", "start", self.0.var("BGCTL_TEST_NGINX_UNIT")]);
    }
}

#[test]
fn a_stopped_nginx_unit_fails_the_switch_before_anything_changes() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let env = TestEnv::get();
    let svc = Service::new(&env, "nginx_down", ports(), "");
    svc.install();
    svc.run(&["switch"]).run();

    let back = NginxBack(&env);
    let stopped = env.in_sandbox(&["systemctl", "stop", env.var("BGCTL_TEST_NGINX_UNIT")]);
    assert!(stopped.status.success());
    let o = svc.run(&["switch", "--image", "bgctl-demo:v2"]).status(1).run();
    assert!(
        stderr(&o).contains("is not running") && stderr(&o).contains("start it before deploying"),
        "{}",
        stderr(&o)
    );
    assert_eq!(svc.etcd("color").as_deref(), Some("blue"), "flipped with nginx down");
    assert!(!svc.is_active("green"), "started a color nginx cannot follow");
    drop(back);
    svc.run(&["reconcile"]).run();
    svc.assert_live("blue", "v1");
}
