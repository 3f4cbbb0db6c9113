//! Benchmark (not a test): runs `bgctl switch --json` ROUNDS times in each
//! of two arms, interleaved under the same load, alternating two images:
//! the idle-aware drain (`drain = "5s"`, the cap) and a fixed one
//! (`drain = "1s"`, `drain_wait = "full"`). Prints, side by side, the
//! median of each phase, the seconds per deploy, and bgctl's overhead: every
//! phase but healthy, checks, guard (off here, so it is only the last
//! health look and counts) and drain. Run by `scripts/bench-switch`.
//!
//! usage: bench_switch BGCTL CONFIG [ROUNDS]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

const IMAGES: [&str; 2] = ["bgctl-demo:v2", "bgctl-demo:v1"];
const PHASES: [&str; 12] = [
    "lock", "read", "converge", "start", "healthy", "checks", "flip", "proxy", "verify", "guard", "drain", "stop",
];
/// Not bgctl's own: the app getting healthy, the checks, the drain.
const WAITS: [&str; 3] = ["healthy", "checks", "drain"];

/// One arm: its name and its config (the `[proxy]` drain keys differ).
struct Arm {
    name: &'static str,
    config: String,
    /// Each switch's JSON and its wall time (process start to exit), ms.
    runs: Vec<(Value, u64)>,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_switch BGCTL CONFIG [ROUNDS]";
    let bgctl = args.next().expect(usage);
    let config = args.next().expect(usage);
    let rounds: usize = args.next().map_or(10, |r| r.parse().expect("ROUNDS is a number"));

    let mut arms = [
        Arm::new(&config, "idle drain, cap 5s", "drain = \"5s\"\ndrain_wait = \"idle\""),
        Arm::new(&config, "fixed drain = 1s", "drain = \"1s\"\ndrain_wait = \"full\""),
    ];
    for round in 0..rounds * arms.len() {
        let arm = &mut arms[round % 2];
        arm.runs.push(switch(&bgctl, &arm.config, IMAGES[(round / 2) % 2]));
    }

    println!("{rounds} switches per arm, interleaved; medians in ms");
    println!("  {:<40} {:>20} {:>20}", "", arms[0].name, arms[1].name);
    for phase in PHASES {
        row(&arms, phase, |(r, _)| ms(r, phase));
    }
    row(&arms, "total of the phases", |(r, _)| {
        PHASES.iter().map(|p| ms(r, p)).sum()
    });
    row(&arms, "wall time of `bgctl switch`", |(_, wall)| *wall);
    row(&arms, "bgctl's overhead (all but healthy, checks, drain)", |(r, _)| {
        PHASES.iter().filter(|p| !WAITS.contains(p)).map(|p| ms(r, p)).sum()
    });
    row(
        &arms,
        "beyond the app's start-to-healthy (start + healthy)",
        |(r, wall)| wall.saturating_sub(ms(r, "start") + ms(r, "healthy")),
    );
    let per_deploy: Vec<String> = arms
        .iter()
        .map(|a| format!("{:.2}", a.median(|(_, wall)| *wall) as f64 / 1000.0))
        .collect();
    println!(
        "  {:<40} {:>20} {:>20}",
        "s/deploy (median wall time)", per_deploy[0], per_deploy[1]
    );
}

impl Arm {
    /// The arm's config: CONFIG with its `drain = ...` line replaced by `keys`.
    fn new(config: &str, name: &'static str, keys: &'static str) -> Arm {
        let text = std::fs::read_to_string(config).expect("CONFIG is readable");
        let replaced: Vec<&str> = text
            .lines()
            .map(|l| if l.starts_with("drain = ") { keys } else { l })
            .collect();
        assert!(replaced.contains(&keys), "CONFIG has no `drain = ` line");
        let slug = name.split(' ').next().unwrap_or("arm");
        let path = Path::new(config).with_extension(format!("{slug}.toml"));
        std::fs::write(&path, replaced.join("\n") + "\n").expect("the arm's config is written");
        Arm {
            name,
            config: path.display().to_string(),
            runs: Vec::new(),
        }
    }

    fn median(&self, f: impl Fn(&(Value, u64)) -> u64) -> u64 {
        let mut v: Vec<u64> = self.runs.iter().map(f).collect();
        v.sort_unstable();
        v[v.len() / 2]
    }
}

fn row(arms: &[Arm; 2], label: &str, f: impl Fn(&(Value, u64)) -> u64) {
    println!("  {label:<40} {:>20} {:>20}", arms[0].median(&f), arms[1].median(&f));
}

fn ms(run: &Value, phase: &str) -> u64 {
    run["phases_ms"][phase].as_u64().unwrap_or(0)
}

fn switch(bgctl: &str, config: &str, image: &str) -> (Value, u64) {
    let started = Instant::now();
    let out = Command::new(bgctl)
        .args(["--config", config, "--json", "switch", "--image", image])
        .output()
        .expect("bgctl runs");
    let wall = started.elapsed().as_millis() as u64;
    assert!(
        out.status.success(),
        "switch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        serde_json::from_slice(&out.stdout).expect("switch --json prints JSON"),
        wall,
    )
}
