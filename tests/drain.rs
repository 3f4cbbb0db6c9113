//! Phase drain ends when the old color is idle: no connection from nginx
//! to it is left and nginx's old workers are gone, never later than
//! `[proxy] drain`. A request through nginx still on its way to the old
//! color when the settled site is loaded completes, though the container's
//! own stop timeout is shorter than the request; at idle the drain ends
//! long before its cap.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Load, Service, TestEnv, http_get, ports, stderr};

/// The cap: far longer than any drain here should take.
const CAP: &str = "8s";

fn service<'a>(env: &'a TestEnv, name: &str, ports: (u16, u16, u16)) -> Service<'a> {
    let svc = Service::new(env, name, ports, "stop_timeout = \"1s\"\n");
    let text = std::fs::read_to_string(&svc.config).unwrap();
    std::fs::write(
        &svc.config,
        text.replace("drain = \"1s\"", &format!("drain = \"{CAP}\"")),
    )
    .unwrap();
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    svc
}

fn drain_ms(svc: &Service) -> u64 {
    let history: Value = serde_json::from_slice(&svc.bgctl(&["history", "--json"]).stdout).unwrap();
    let phases = history[0]["phases"].as_array().unwrap();
    let drain = phases.iter().find(|p| p["phase"] == "drain").expect("a drain phase");
    drain["ms"].as_u64().unwrap()
}

/// The connections and old nginx workers the drain said it waited for
/// (`waited for 1 connection(s) to blue and 1 old nginx worker(s)`).
fn waited_for(err: &str) -> (usize, usize) {
    let (_, rest) = err
        .split_once("waited for ")
        .unwrap_or_else(|| panic!("no drain detail: {err}"));
    let words: Vec<&str> = rest.split(' ').collect();
    (words[0].parse().unwrap(), words[5].parse().unwrap())
}

#[test]
fn a_slow_request_through_nginx_across_a_switch_gets_200_and_the_drain_waits_for_it() {
    let env = TestEnv::get();
    let svc = service(&env, "drain_inflight", ports());
    let load = Load::start(svc.listen, 8, 40, Duration::from_secs(600));
    // Paused after the flip: nginx still sends to blue, where the slow
    // request goes; the switch goes on while it is in flight.
    let running = svc.spawn_until(
        &["switch", "--image", "bgctl-demo:v2"],
        "flip:pause=300",
        "fault: pausing after flip",
    );
    let listen = svc.listen;
    let slow = std::thread::spawn(move || {
        let started = Instant::now();
        (http_get(listen, "/slow?ms=3000"), started.elapsed())
    });
    let (code, err) = running.finish();
    let (answer, took) = slow.join().unwrap();
    let result = load.stop();
    assert_eq!(code, Some(0), "{err}");
    let drained = drain_ms(&svc);
    eprintln!(
        "slow request through nginx: {answer:?} after {took:?}; drain {drained} ms; {} requests, {} failed\n{err}",
        result.requests(),
        result.failed()
    );
    let (status, body) = answer.expect("the in-flight request got an answer");
    assert!(
        status.contains("200") && body.contains("v1 (slow 3000ms)"),
        "{status} {body}"
    );
    // The slow request: its connection to blue, and the old worker it is in.
    let (connections, workers) = waited_for(&err);
    assert!(connections >= 1 && workers >= 1, "{err}");
    // It waited for the slow request (begun about when the drain did) ...
    assert!(drained >= 1500, "{drained} ms");
    // ... and not for its cap.
    assert!(drained < 8000, "the drain ran to its cap: {drained} ms");
    svc.assert_live("green", "v2");
    result.assert_no_failures();
}

#[test]
fn at_idle_the_drain_ends_long_before_its_cap() {
    let env = TestEnv::get();
    let svc = service(&env, "drain_idle", ports());
    let o = svc.run(&["switch", "--image", "bgctl-demo:v2"]).run();
    let drained = drain_ms(&svc);
    eprintln!("drain at idle: {drained} ms (cap {CAP})\n{}", stderr(&o));
    assert_eq!(waited_for(&stderr(&o)).0, 0, "{}", stderr(&o));
    // Functional, not a benchmark: idle-aware means nowhere near the cap.
    assert!(drained < 4000, "{drained} ms");
    svc.assert_live("green", "v2");
}
