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

use support::{Load, Service, TestEnv, stderr};

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
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let load = Load::start(svc.listen, 8, 40, LOAD_LIMIT);
    kill_after(&svc, phase, "bgctl-demo:v2");
    let healed = reconcile(&svc);
    let live = svc.assert_agree();
    // And the next deploy works.
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
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
    kill_after_lock: "lock" on (19701, 19702, 19780);
    kill_after_read: "read" on (19703, 19704, 19781);
    kill_after_converge: "converge" on (19725, 19726, 19791);
    kill_after_start: "start" on (19705, 19706, 19782);
    kill_after_healthy: "healthy" on (19707, 19708, 19783);
    kill_after_checks: "checks" on (19727, 19728, 19792);
    kill_after_flip: "flip" on (19709, 19710, 19784);
    kill_after_proxy: "proxy" on (19711, 19712, 19785);
    kill_after_verify: "verify" on (19713, 19714, 19786);
    kill_after_guard: "guard" on (19729, 19730, 19793);
    kill_after_drain: "drain" on (19715, 19716, 19787);
    kill_after_stop: "stop" on (19717, 19718, 19788);
}

/// SIGKILL at moments no phase boundary chooses.
#[test]
fn kill_at_random_moments() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "kill_random", (19721, 19722, 19789), "");
    svc.install();
    let o = svc.bgctl(&["switch"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
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
