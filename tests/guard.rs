//! `[guard]` against the real nginx, its real access log and real users
//! (hey): a release that is healthy but fails its users is rolled back by
//! itself, within the window; the same release unguarded goes live (so the
//! guard is what stops it); a good release passes.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Load, Service, TestEnv, http_get, ports, stderr};

const WINDOW: &str = "20s";

/// `[health] path` on /health (which the broken release still answers 200)
/// and the guard on, its log in the test's own directory.
fn guarded(env: &TestEnv, name: &str, window: &str) -> String {
    format!(
        "[health]\npath = \"/health\"\n[guard]\nwindow = \"{window}\"\nmax_error_ratio = 0.02\nmin_requests = 20\nlog = \"{}/{name}.guard.json\"\n",
        env.dir().display()
    )
}

fn last_deploy(svc: &Service) -> Value {
    let o = svc.bgctl(&["history", "--json"]);
    let history: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", stderr(&o)));
    history[0].clone()
}

#[test]
fn a_release_that_fails_its_users_is_rolled_back_by_the_guard_within_the_window() {
    let env = TestEnv::get();
    let name = "guard_trip";
    let svc = Service::new(&env, name, ports(), &guarded(&env, name, WINDOW));
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();

    let load = Load::start(svc.listen, 8, 40, Duration::from_secs(600));
    let started = Instant::now();
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:broken"]);
    let took = started.elapsed();
    let result = load.stop();
    let err = stderr(&o);
    let users_5xx: u64 = result.by_status.iter().filter(|(s, _)| *s >= 500).map(|(_, n)| n).sum();
    eprintln!(
        "guarded switch to the broken release: exit {:?} after {took:?}; users saw {users_5xx} 5xx of {} requests\n{err}",
        o.status.code(),
        result.requests()
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("[guard] tripped on"), "{err}");
    assert!(err.contains("blue is live again"), "{err}");
    assert!(took < Duration::from_secs(20), "it waited the window out: {took:?}");
    svc.assert_live("blue", "v1");
    assert!(!svc.is_active("green"), "the broken release still runs");
    // Users did meet the broken release (the guard watched real traffic),
    // but only for a moment: at 320 requests a second, 400 is over a
    // second of the whole load, where the guard looks every 100 ms.
    assert!(users_5xx > 0, "no user reached the broken release: {}", result.report);
    assert!(users_5xx <= 400, "{users_5xx} 5xx reached users: {}", result.report);
    assert_eq!(
        result.failed(),
        users_5xx,
        "only the release's own 500s: {}",
        result.report
    );

    let deploy = last_deploy(&svc);
    assert_eq!(deploy["guard"]["verdict"], "tripped", "{deploy}");
    // It trips on the share of 5xx once it has `min_requests` responses;
    // verify's own requests (on /health, which still answers 200) may be
    // among them, so not every counted response is an error.
    let (errors, responses) = (
        deploy["guard"]["errors"].as_u64().unwrap(),
        deploy["guard"]["responses"].as_u64().unwrap(),
    );
    assert!(responses >= 20 && errors * 50 > responses, "{deploy}");
    assert!(
        deploy["result"].as_str().unwrap().contains("[guard] tripped"),
        "{deploy}"
    );
}

#[test]
fn the_same_release_without_the_guard_goes_live() {
    let env = TestEnv::get();
    let name = "guard_off";
    let svc = Service::new(&env, name, ports(), &guarded(&env, name, "0s"));
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    svc.run(&["switch", "--image", "bgctl-demo:broken"]).run();
    let (status, body) = http_get(svc.listen, "/").expect("nginx answers");
    assert!(
        status.contains("500") && body.contains("broken release"),
        "{status} {body}"
    );
    assert!(last_deploy(&svc).get("guard").is_none());
}

#[test]
fn a_good_release_passes_the_guard_and_status_shows_its_counts_meanwhile() {
    let env = TestEnv::get();
    let name = "guard_pass";
    let svc = Service::new(&env, name, ports(), &guarded(&env, name, "4s"));
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();

    let load = Load::start(svc.listen, 4, 40, Duration::from_secs(600));
    let running = svc.spawn_until(&["switch", "--image", "bgctl-demo:v2"], "", "verify");
    std::thread::sleep(Duration::from_secs(1));
    let o = svc.bgctl(&["status", "--json"]);
    let status: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", stderr(&o)));
    let watching = status["proxy"]["guard"].clone();
    let (code, err) = running.finish();
    let result = load.stop();
    eprintln!("status while the guard watched: {watching}\n{err}");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(watching["color"], "green", "{status}");
    assert!(watching["responses"].as_u64().unwrap() > 0, "{watching}");
    assert!(err.contains("guard passed:"), "{err}");
    svc.assert_live("green", "v2");
    result.assert_no_failures();
    let deploy = last_deploy(&svc);
    assert_eq!(deploy["guard"]["verdict"], "passed", "{deploy}");
    assert!(deploy["guard"]["responses"].as_u64().unwrap() >= 20, "{deploy}");
    assert_eq!(deploy["guard"]["errors"], 0, "{deploy}");
    // The settled site logs nothing more: the log was only the switch's.
    let status: Value = serde_json::from_slice(&svc.bgctl(&["status", "--json"]).stdout).unwrap();
    assert!(status["proxy"]["guard"].is_null(), "{status}");
}

/// A rollback cut off anywhere (kill -9 as it begins, after the state went
/// back, after the site did) never makes the rejected release live: the
/// next reconcile, as at boot, finds the old color live and stops the
/// rejected one.
#[test]
fn a_rollback_killed_at_any_step_leaves_reconcile_the_old_color_live() {
    let env = TestEnv::get();
    let name = "guard_cut";
    let svc = Service::new(&env, name, ports(), &guarded(&env, name, WINDOW));
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    let load = Load::start(svc.listen, 8, 40, Duration::from_secs(600));
    for step in ["rollback", "rollback-state", "rollback-site"] {
        let running = svc.spawn_until(
            &["switch", "--image", "bgctl-demo:broken"],
            &format!("{step}:hang"),
            &format!("fault: hanging after {step}"),
        );
        running.kill();
        let o = svc.bgctl(&["reconcile"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "after a kill at {step}: {err}");
        svc.assert_live("blue", "v1");
        assert!(
            !svc.is_active("green"),
            "after a kill at {step}, the rejected release runs"
        );
        assert_eq!(svc.etcd("probation"), None, "after a kill at {step}");
        eprintln!("killed at {step}; reconcile said:\n{err}");
    }
    let result = load.stop();
    let users_5xx: u64 = result.by_status.iter().filter(|(s, _)| *s >= 500).map(|(_, n)| n).sum();
    // What users met was the release's own 500s while the guard watched, never a refused connection.
    assert_eq!(result.failed(), users_5xx, "{}", result.report);
    assert_eq!(result.errors, 0, "{}", result.report);
}

/// A guard log renamed away mid-window (logrotate without copytruncate:
/// nginx goes on writing the old file) is a blind guard: the switch fails
/// closed and rolls back, never passes on a silent log.
#[test]
fn a_guard_log_renamed_mid_window_fails_the_switch_closed() {
    let env = TestEnv::get();
    let name = "guard_rotated";
    let svc = Service::new(&env, name, ports(), &guarded(&env, name, WINDOW));
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    let load = Load::start(svc.listen, 8, 40, Duration::from_secs(600));
    let running = svc.spawn_until(&["switch", "--image", "bgctl-demo:v2"], "", "verify");
    std::thread::sleep(Duration::from_secs(1));
    let log = env.dir().join(format!("{name}.guard.json"));
    std::fs::rename(&log, log.with_extension("json.1")).unwrap();
    std::fs::write(&log, "").unwrap();
    let (code, err) = running.finish();
    let result = load.stop();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("the guard is blind") && err.contains("replaced"), "{err}");
    assert!(err.contains("blue is live again"), "{err}");
    svc.assert_live("blue", "v1");
    result.assert_no_failures();
}

#[test]
fn doctor_checks_the_guard_log_path() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "guard_doc", ports(), &guarded(&env, "guard_doc", "2s"));
    let o = svc.bgctl(&["doctor"]);
    let out = support::stdout(&o);
    assert!(out.contains("✓ guard    [guard] log "), "{out}");
    // A log where nginx cannot write it: every guarded switch would fail closed.
    let nowhere = format!("{}/no-such-dir/guard_doc.guard.json", env.dir().display());
    let text = std::fs::read_to_string(&svc.config).unwrap();
    let at = text.lines().find(|l| l.starts_with("log = ")).unwrap().to_owned();
    std::fs::write(&svc.config, text.replace(&at, &format!("log = \"{nowhere}\""))).unwrap();
    let o = svc.bgctl(&["doctor"]);
    let out = support::stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("✗ guard    [guard] log {nowhere}: its directory")),
        "{out}"
    );
    assert!(out.contains("would fail closed"), "{out}");
}
