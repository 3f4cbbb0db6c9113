//! Fault injection against the real components, under load through nginx:
//! bgctl killed with SIGKILL right after each phase, and at random moments.
//! nginx must keep answering 2xx throughout, and the next `reconcile` must
//! exit 0 with state, units, proxy and enablement agreeing.
//!
//! Needs the `fault-injection` feature (scripts/test enables it): the switch
//! then stops at `BGCTL_FAULT=<phase>:hang` until this test kills it.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Load, Service, TestEnv, ports, stderr};

const LOAD_LIMIT: Duration = Duration::from_secs(600);

fn bgctl_switch(svc: &Service, image: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bgctl"));
    cmd.args(["--config", svc.config.to_str().unwrap(), "switch", "--image", image]);
    cmd
}

/// Starts a switch that stops after `phase`, and kills it with SIGKILL there.
fn kill_after(svc: &Service, phase: &str, image: &str) {
    let mut child = bgctl_switch(svc, image)
        .env("BGCTL_FAULT", format!("{phase}:hang"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let marker = format!("fault: hanging after {phase}");
    let mut seen = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains(&marker) {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return;
        }
        seen.push(line);
    }
    panic!(
        "the switch ended before {phase}: {}\n{}",
        child.wait().unwrap(),
        seen.join("\n")
    );
}

/// `bgctl reconcile` must heal whatever the kill left, and exit 0.
fn reconcile(svc: &Service) -> String {
    let o = svc.bgctl(&["reconcile"]);
    assert_eq!(o.status.code(), Some(0), "reconcile: {}", stderr(&o));
    stderr(&o)
}

/// Deploys v1 to blue, then kills a switch to v2 after `phase` under load,
/// reconciles, and checks nothing failed and everything agrees.
fn killed_after_phase_heals(name: &str, ports: (u16, u16, u16), phase: &str) {
    let env = TestEnv::get();
    let svc = Service::new(&env, name, ports, "");
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();

    let load = Load::start(svc.listen, 8, 40, LOAD_LIMIT);
    kill_after(&svc, phase, "bgctl-demo:v2");
    let healed = reconcile(&svc);
    let live = svc.assert_agree();
    // And the next deploy works.
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    let result = load.stop();
    eprintln!(
        "kill -9 after {phase}: live {live} after reconcile; {} requests, {} failed; reconcile said: {}",
        result.requests(),
        result.failed(),
        healed
            .lines()
            .filter(|l| l.starts_with("reconcile"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    result.assert_no_failures();
    svc.assert_agree();
}

macro_rules! killed_after {
    ($($test:ident: $phase:literal on $ports:expr;)*) => {$(
        #[test]
        fn $test() {
            killed_after_phase_heals(stringify!($test), $ports, $phase);
        }
    )*};
}

killed_after! {
    kill_after_lock: "lock" on ports();
    kill_after_read: "read" on ports();
    kill_after_converge: "converge" on ports();
    kill_after_start: "start" on ports();
    kill_after_healthy: "healthy" on ports();
    kill_after_checks: "checks" on ports();
    kill_after_flip: "flip" on ports();
    kill_after_proxy: "proxy" on ports();
    kill_after_verify: "verify" on ports();
    kill_after_guard: "guard" on ports();
    kill_after_drain: "drain" on ports();
    kill_after_stop: "stop" on ports();
}

/// SIGKILL at moments no phase boundary chooses.
#[test]
fn kill_at_random_moments() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "kill_random", ports(), "");
    svc.install();
    svc.run(&["switch"]).run();
    let load = Load::start(svc.listen, 8, 40, LOAD_LIMIT);
    // A small LCG seeded from the clock: different moments every run, printed
    // so a failure can be replayed.
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let mut seed = clock.as_nanos() as u64 ^ std::process::id() as u64;
    eprintln!("random kills: seed {seed}");
    for round in 0..3 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(200 + (seed >> 33) % 3300);
        let image = if round % 2 == 0 {
            "bgctl-demo:v2"
        } else {
            "bgctl-demo:v1"
        };
        let mut child = bgctl_switch(&svc, image).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        eprintln!("round {round}: killed after {delay:?} ({status})");
        reconcile(&svc);
        svc.assert_agree();
    }
    let result = load.stop();
    eprintln!(
        "random kills: {} requests, {} failed",
        result.requests(),
        result.failed()
    );
    result.assert_no_failures();
}
