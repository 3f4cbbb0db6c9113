//! Benchmark (not a test): runs `bgctl switch --json` ROUNDS times,
//! alternating two images, and prints the median of each phase, the split
//! between waiting for the app and bgctl's own work, and the time from the
//! app being healthy to the switch being done (drain excluded). Run by
//! `scripts/bench-switch`.
//!
//! usage: bench_switch BGCTL CONFIG [ROUNDS]

use std::process::Command;

const IMAGES: [&str; 2] = ["bgctl-demo:v2", "bgctl-demo:v1"];
const PHASES: [&str; 9] = [
    "lock", "read", "start", "healthy", "flip", "proxy", "verify", "drain", "stop",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_switch BGCTL CONFIG [ROUNDS]";
    let bgctl = args.next().expect(usage);
    let config = args.next().expect(usage);
    let rounds: usize = args.next().map_or(10, |r| r.parse().expect("ROUNDS is a number"));

    let mut runs: Vec<serde_json::Value> = Vec::new();
    for round in 0..rounds {
        let image = IMAGES[round % 2];
        let out = Command::new(&bgctl)
            .args(["--config", &config, "--json", "switch", "--image", image])
            .output()
            .expect("bgctl runs");
        assert!(
            out.status.success(),
            "switch failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        runs.push(serde_json::from_slice(&out.stdout).expect("switch --json prints JSON"));
    }

    let ms = |run: &serde_json::Value, phase: &str| run["phases_ms"][phase].as_u64().unwrap_or(0);
    let median_of = |f: &dyn Fn(&serde_json::Value) -> u64| {
        let mut v: Vec<u64> = runs.iter().map(f).collect();
        v.sort_unstable();
        v[v.len() / 2]
    };
    println!("{rounds} switches; median per phase (ms):");
    for phase in PHASES {
        println!("  {phase:<8} {:>6}", median_of(&|r| ms(r, phase)));
    }
    let total = |r: &serde_json::Value| PHASES.iter().map(|p| ms(r, p)).sum::<u64>();
    let own = |r: &serde_json::Value| total(r) - ms(r, "healthy") - ms(r, "drain");
    let after_healthy = |r: &serde_json::Value| ["flip", "proxy", "verify", "stop"].iter().map(|p| ms(r, p)).sum();
    println!("  {:<44} {:>6}", "total", median_of(&total));
    println!(
        "  {:<44} {:>6}",
        "waiting for the app (healthy)",
        median_of(&|r| ms(r, "healthy"))
    );
    println!("  {:<44} {:>6}", "configured drain", median_of(&|r| ms(r, "drain")));
    println!(
        "  {:<44} {:>6}",
        "bgctl's own work (total - healthy - drain)",
        median_of(&own)
    );
    println!(
        "  {:<44} {:>6}",
        "healthy -> done, drain excluded",
        median_of(&after_healthy)
    );
    println!(
        "  {:<44} {:>6}",
        "healthy -> done, drain excluded (max)",
        runs.iter().map(after_healthy).max().unwrap_or(0)
    );
}
