//! `bgctl switch` against the real systemd, dockerd, etcd and nginx, under
//! load through nginx: zero failed requests is the bar.

mod support;

use std::time::Duration;

use support::{Load, Service, TestEnv, ports, stderr};

/// Upper bound for a load run; the tests stop it long before.
const LOAD_LIMIT: Duration = Duration::from_secs(600);
const CLIENTS: u32 = 8;
const QPS_PER_CLIENT: u32 = 50;

fn switch(svc: &Service, args: &[&str]) -> String {
    let mut all = vec!["switch"];
    all.extend_from_slice(args);
    let o = svc.bgctl(&all);
    assert_eq!(o.status.code(), Some(0), "bgctl {all:?}: {}", stderr(&o));
    stderr(&o)
}

#[test]
fn twenty_switches_under_load_fail_no_request() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "zero_dt", ports(), "");
    svc.install();
    switch(&svc, &["--image", "bgctl-demo:v1"]);
    svc.assert_live("blue", "v1");

    let load = Load::start(svc.listen, CLIENTS, QPS_PER_CLIENT, LOAD_LIMIT);
    for round in 0..20 {
        let (color, image, version) = if round % 2 == 0 {
            ("green", "bgctl-demo:v2", "v2")
        } else {
            ("blue", "bgctl-demo:v1", "v1")
        };
        switch(&svc, &["--image", image]);
        svc.assert_live(color, version);
    }
    let result = load.stop();
    eprintln!(
        "load over 20 switches: {} requests, {} failed",
        result.requests(),
        result.failed()
    );
    result.assert_no_failures();
    assert!(result.requests() > 2000, "the load barely ran: {}", result.report);
}

#[test]
fn a_slow_starting_version_switches_with_no_failed_request() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "slow_start", ports(), "env = { DEMO_STARTUP_DELAY = \"5s\" }\n");
    svc.install();
    switch(&svc, &[]);
    svc.assert_live("blue", "v1");

    let load = Load::start(svc.listen, CLIENTS, QPS_PER_CLIENT, LOAD_LIMIT);
    let progress = switch(&svc, &["--image", "bgctl-demo:v2"]);
    let result = load.stop();
    svc.assert_live("green", "v2");
    // The gate waited for the app (5 s to listen), not a fixed time.
    let healthy_ms: u64 = progress
        .lines()
        .find_map(|l| l.trim().strip_prefix("healthy"))
        .and_then(|rest| rest.trim().strip_suffix(" ms"))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no healthy phase in {progress}"));
    assert!(
        healthy_ms >= 5000,
        "healthy after {healthy_ms} ms, before the app could listen"
    );
    eprintln!("slow start: {} requests, {} failed", result.requests(), result.failed());
    result.assert_no_failures();
}

#[test]
fn five_switches_at_once_one_deploys_four_exit_4_naming_the_holder() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "race", ports(), "");
    svc.install();
    switch(&svc, &[]);

    let load = Load::start(svc.listen, CLIENTS, QPS_PER_CLIENT, LOAD_LIMIT);
    let children: Vec<_> = (0..5)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_bgctl"))
                .args([
                    "--config",
                    svc.config.to_str().unwrap(),
                    "switch",
                    "--image",
                    "bgctl-demo:v2",
                ])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outcomes: Vec<(i32, String)> = children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            (o.status.code().unwrap_or(-1), stderr(&o))
        })
        .collect();
    outcomes.sort();
    let result = load.stop();
    let codes: Vec<i32> = outcomes.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, [0, 4, 4, 4, 4], "{outcomes:#?}");
    for (_, loser) in &outcomes[1..] {
        assert!(
            loser.contains("another deploy holds the lock") && loser.contains("(pid "),
            "must name the holder: {loser}"
        );
    }
    svc.assert_live("green", "v2");
    result.assert_no_failures();
}

#[test]
fn status_json_tells_the_live_color_each_unit_and_the_proxy() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "stat", ports(), "");
    svc.install();
    let before: serde_json::Value = serde_json::from_slice(&svc.bgctl(&["status", "--json"]).stdout).unwrap();
    assert_eq!(before["active"], serde_json::Value::Null);
    switch(&svc, &["--image", "bgctl-demo:v2"]);

    let o = svc.run(&["status", "--json"]).run();
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["service"], "stat");
    assert_eq!(s["active"]["color"], "blue");
    assert_eq!(s["active"]["port"], svc.ports.0);
    assert_eq!(s["active"]["image"], "bgctl-demo:v2");
    assert_eq!(s["active"]["unit"], format!("stat_blue@{}.service", svc.ports.0));
    assert_eq!(s["colors"]["blue"]["active_state"], "active");
    assert_eq!(s["colors"]["blue"]["container"], "running");
    assert_eq!(s["colors"]["blue"]["health"], "healthy");
    assert_eq!(s["colors"]["green"]["active_state"], "inactive");
    assert_eq!(s["colors"]["green"]["container"], serde_json::Value::Null);
    assert_eq!(s["proxy"]["in_sync"], true);
    assert_eq!(s["proxy"]["port"], svc.listen);
    assert_eq!(s["state"]["backend"], "etcd");
    assert!(s["state"]["revision"].as_i64().unwrap() > 0);
}

#[test]
fn the_file_backend_switches_without_etcd() {
    let env = TestEnv::get();
    let path = env.dir().join("state/filestate.json");
    let _ = std::fs::remove_file(&path);
    let svc = Service::new(&env, "filestate", ports(), "");
    // Point the state at a file, and etcd at nothing, to prove it is not used.
    let text = std::fs::read_to_string(&svc.config).unwrap().replace(
        "[state]\n",
        &format!("[state]\nbackend = \"file\"\npath = \"{}\"\n", path.display()),
    );
    let text = text.replace(env.var("BGCTL_TEST_ETCD"), "http://127.0.0.1:1");
    std::fs::write(&svc.config, text).unwrap();
    svc.install();
    switch(&svc, &[]);
    let load = Load::start(svc.listen, CLIENTS, QPS_PER_CLIENT, LOAD_LIMIT);
    switch(&svc, &["--image", "bgctl-demo:v2"]);
    let result = load.stop();
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(stored["keys"]["/filestate/color"], "green");
    assert_eq!(stored["keys"]["/filestate/filestate_blue/status"], "stopped");
    assert_eq!(stored["history"].as_array().unwrap().len(), 2);
    let (answer, _) = svc.answer().unwrap();
    assert_eq!(answer, "HTTP/1.1 200 OK green");
    result.assert_no_failures();
}

#[test]
fn a_version_that_never_gets_healthy_exits_3_and_the_old_color_keeps_serving() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "never_ok", ports(), "");
    let text = std::fs::read_to_string(&svc.config).unwrap();
    std::fs::write(&svc.config, format!("{text}[health]\ntimeout = \"4s\"\n")).unwrap();
    svc.install();
    switch(&svc, &[]);

    let load = Load::start(svc.listen, CLIENTS, QPS_PER_CLIENT, LOAD_LIMIT);
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:sick"]);
    let result = load.stop();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("never became healthy") && err.contains("Docker's health log"),
        "{err}"
    );
    svc.assert_live("blue", "v1");
    assert_eq!(svc.etcd("image").as_deref(), Some("bgctl-demo:v1"), "the state changed");
    result.assert_no_failures();
}

#[test]
fn etcd_unreachable_exits_5_within_10_seconds_and_touches_nothing() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "no_etcd", ports(), "");
    svc.install();
    let text = std::fs::read_to_string(&svc.config)
        .unwrap()
        .replace(env.var("BGCTL_TEST_ETCD"), "http://127.0.0.1:1");
    std::fs::write(&svc.config, text).unwrap();
    let started = std::time::Instant::now();
    let o = svc.run(&["switch"]).status(5).run();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(stderr(&o).contains("cannot reach etcd"), "{}", stderr(&o));
    assert!(!svc.is_active("blue") && !svc.is_active("green"));
}

#[test]
fn rollback_goes_back_to_the_previous_color_and_its_image() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "roll", ports(), "");
    svc.install();
    switch(&svc, &["--image", "bgctl-demo:v1"]);
    let o = svc.bgctl(&["rollback"]);
    assert_eq!(o.status.code(), Some(2), "nothing to roll back to yet: {}", stderr(&o));
    assert!(
        stderr(&o).contains("no earlier deploy to roll back to"),
        "{}",
        stderr(&o)
    );
    switch(&svc, &["--image", "bgctl-demo:v2"]);
    svc.assert_live("green", "v2");

    let load = Load::start(svc.listen, CLIENTS, QPS_PER_CLIENT, LOAD_LIMIT);
    svc.run(&["rollback"]).run();
    svc.assert_live("blue", "v1");
    assert_eq!(svc.etcd("image").as_deref(), Some("bgctl-demo:v1"));
    // Rolling back again goes forward again.
    svc.run(&["rollback"]).run();
    let result = load.stop();
    svc.assert_live("green", "v2");
    result.assert_no_failures();
}
