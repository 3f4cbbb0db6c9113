//! Checks and hooks as transient systemd units on the real sandbox: systemd
//! bounds them and kills what they started, an interrupted deploy stops
//! them, and after a kill -9 the next run under the lock (or doctor) finds
//! and stops the one left over. No command outlives its deploy, and no
//! request through nginx fails meanwhile.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Load, Running, Service, TestEnv, ports, stderr, stdout, wait_for};

fn toml_words(words: &[&str]) -> String {
    toml::Value::Array(words.iter().map(|w| toml::Value::String(w.to_string())).collect()).to_string()
}

/// `[hooks] pre_flip` that sleeps `secs` (a number no other test sleeps, so
/// its process can be told apart).
fn sleeping_pre_flip(secs: u32) -> String {
    format!(
        "[hooks]\npre_flip = {}\n",
        toml_words(&["/bin/sleep", &secs.to_string()])
    )
}

/// The service's check and hook units systemd has loaded, any state.
fn command_units(env: &TestEnv, service: &str) -> Vec<String> {
    let pattern = format!("bgctl-{service}-*");
    let listed = env.systemctl(&["list-units", "--all", "--plain", "--no-legend", &pattern]);
    listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Processes whose command line is exactly `cmdline`, any namespace.
fn processes(cmdline: &str) -> Vec<String> {
    let o = Command::new("pgrep").args(["-x", "-f", cmdline]).output().unwrap();
    stdout(&o).lines().map(str::to_owned).collect()
}

/// Installed, blue serving v1; then `extra` goes into the config.
fn blue_live(svc: &Service, extra: &str) {
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    let text = std::fs::read_to_string(&svc.config).unwrap();
    std::fs::write(&svc.config, format!("{text}{extra}")).unwrap();
}

/// A switch to v2 in the background until its pre_flip hook (`sleep
/// secs`) runs as a unit: returns it and the unit.
fn switch_into_the_hook(svc: &Service, env: &TestEnv, secs: u32) -> (Running, String) {
    let running = svc.spawn_until(&["switch", "--image", "bgctl-demo:v2"], "", "healthy");
    let unit = wait_for(Duration::from_secs(20), || command_units(env, &svc.name).pop())
        .expect("the pre_flip hook runs as a unit");
    assert!(unit.contains("-pre_flip-"), "{unit}");
    assert_eq!(env.show(&unit, "ActiveState"), "active");
    assert_eq!(
        processes(&format!("/bin/sleep {secs}")).len(),
        1,
        "the hook's process runs"
    );
    (running, unit)
}

fn assert_nothing_left(env: &TestEnv, svc: &Service, secs: u32) {
    let left = wait_for(Duration::from_secs(10), || {
        let units = command_units(env, &svc.name);
        let procs = processes(&format!("/bin/sleep {secs}"));
        (units.is_empty() && procs.is_empty()).then_some(())
    });
    assert!(
        left.is_some(),
        "left behind: units {:?}, processes {:?}",
        command_units(env, &svc.name),
        processes(&format!("/bin/sleep {secs}"))
    );
}

#[test]
fn a_slow_check_is_stopped_at_the_timeout_with_what_it_started() {
    let env = TestEnv::get();
    let marker = env.dir().join("cu_slow.marker");
    let script = format!("(sleep 3; touch {}) & exec sleep 303", marker.display());
    let extra = format!(
        "[checks]\ncommand = {}\ntimeout = \"1s\"\n",
        toml_words(&["/bin/sh", "-c", &script])
    );
    let svc = Service::new(&env, "cu_slow", ports(), "");
    blue_live(&svc, &extra);
    let (code, err) = svc.refused_under_load(&["switch", "--image", "bgctl-demo:v2"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("check `/bin/sh`: timed out after 1s"), "{err}");
    std::thread::sleep(Duration::from_secs(4));
    assert!(!marker.exists(), "what the check started outlived its timeout");
    assert_nothing_left(&env, &svc, 303);
}

#[test]
fn sigint_while_a_pre_flip_hook_runs_stops_its_unit() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "cu_int", ports(), "");
    blue_live(&svc, &sleeping_pre_flip(301));
    let load = Load::start(svc.listen, 8, 40, Duration::from_secs(600));
    let (running, unit) = switch_into_the_hook(&svc, &env, 301);
    let pid = running.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let (code, err) = running.finish();
    eprintln!("SIGINT in pre_flip: exit {code:?}\n{err}");
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains(&format!("stopped {unit}")), "{err}");
    assert_nothing_left(&env, &svc, 301);
    svc.assert_live("blue", "v1");
    assert!(!svc.is_active("green"));
    load.stop().assert_no_failures();
}

#[test]
fn a_hook_left_by_kill_9_is_stopped_by_doctor_or_the_next_reconcile() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "cu_kill", ports(), "");
    blue_live(&svc, &sleeping_pre_flip(302));
    let load = Load::start(svc.listen, 8, 40, Duration::from_secs(600));
    for (round, repair) in ["doctor", "reconcile"].into_iter().enumerate() {
        let (running, unit) = switch_into_the_hook(&svc, &env, 302);
        running.kill();
        // Nothing stops it on its own: systemd runs it on without bgctl.
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(env.show(&unit, "ActiveState"), "active", "round {round}");
        // doctor stops it only once no deploy holds the lock: the killed
        // one's lease runs out first.
        let o = wait_for(Duration::from_secs(30), || {
            let o = svc.bgctl(&[repair]);
            (!stdout(&o).contains("while a deploy holds the lock")).then_some(o)
        })
        .unwrap();
        let said = format!("{}{}", stdout(&o), stderr(&o));
        eprintln!("{repair} after kill -9 in pre_flip: exit {:?}\n{said}", o.status.code());
        assert!(said.contains(&format!("stopped {unit}")), "{repair}: {said}");
        assert_nothing_left(&env, &svc, 302);
        svc.run(&["reconcile"]).run();
        svc.assert_live("blue", "v1");
    }
    load.stop().assert_no_failures();
}
