//! Micro-benchmark (not a test): bgctl's D-Bus client against running the
//! systemd command-line client as a process, on a trivial unit. Run by
//! `scripts/bench-systemd` inside the test sandbox, so both talk to the same
//! systemd from the same namespaces.
//!
//! usage: bench_systemd UNIT [ROUNDS]

use std::process::Command;
use std::time::{Duration, Instant};

use bgctl::domain::UnitName;
use bgctl::systemd::{DbusSystemd, Systemd};

const TIMEOUT: Duration = Duration::from_secs(30);
/// The command-line client, resolved from PATH inside the sandbox.
const CLI: &str = "systemctl";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let unit = UnitName::parse(&args.next().expect("usage: bench_systemd UNIT [ROUNDS]")).expect("a unit name");
    let rounds: usize = args.next().map_or(30, |r| r.parse().expect("ROUNDS is a number"));
    let systemd = DbusSystemd::connect().await.expect("systemd over D-Bus");
    let cli = |verb: &str, extra: &[&str]| {
        let ok = Command::new(CLI)
            .arg(verb)
            .args(extra)
            .arg(unit.as_str())
            .output()
            .expect("the CLI runs")
            .status
            .success();
        assert!(ok, "{CLI} {verb} failed");
    };

    let mut dbus_start = Vec::new();
    let mut cli_start = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        systemd.start(&unit, Duration::ZERO, TIMEOUT).await.expect("start");
        dbus_start.push(t.elapsed());
        systemd.stop(&unit, TIMEOUT).await.expect("stop");

        let t = Instant::now();
        cli("start", &[]);
        cli_start.push(t.elapsed());
        cli("stop", &[]);
    }

    systemd.start(&unit, Duration::ZERO, TIMEOUT).await.expect("start");
    let mut dbus_state = Vec::new();
    let mut cli_state = Vec::new();
    let props = "ActiveState,SubState,LoadState,Result,ExecMainStatus,NRestarts,InvocationID,NeedDaemonReload";
    for _ in 0..rounds * 5 {
        let t = Instant::now();
        systemd.state(&unit).await.expect("state");
        dbus_state.push(t.elapsed());
        let t = Instant::now();
        cli("show", &["-p", props]);
        cli_state.push(t.elapsed());
    }
    systemd.stop(&unit, TIMEOUT).await.expect("stop");

    println!("{:<44} {:>9} {:>9} {:>6}", "operation", "median", "p95", "runs");
    report("tracked StartUnit over D-Bus (bgctl)", dbus_start);
    report(&format!("`{CLI} start` as a process"), cli_start);
    report("unit state over D-Bus (bgctl, 8 values)", dbus_state);
    report(&format!("`{CLI} show -p <same 8>` as a process"), cli_state);
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!("{what:<44} {:>9} {:>9} {:>6}", ms(at(0.5)), ms(at(0.95)), samples.len());
}
