//! The old color stops only once no request is on its way to it: a slow
//! request in flight to it when the settled site is loaded still completes,
//! though the container's own stop timeout is shorter than the request.

mod support;

use std::time::{Duration, Instant};

use support::{Load, Service, TestEnv, http_get, stderr};

#[test]
fn a_request_in_flight_to_the_old_color_completes_before_it_stops() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "drain_inflight", (19081, 19082, 19083), "stop_timeout = \"1s\"\n");
    let text = std::fs::read_to_string(&svc.config).unwrap();
    std::fs::write(&svc.config, text.replace("drain = \"1s\"", "drain = \"8s\"")).unwrap();
    svc.install();
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let load = Load::start(svc.listen, 8, 40, Duration::from_secs(600));
    let running = svc.spawn_until(
        &["switch", "--image", "bgctl-demo:v2"],
        "drain:pause=300",
        "fault: pausing after drain",
    );
    // As nginx's old workers would: a request to blue, on its way when the
    // settled site goes in, longer than blue's stop timeout.
    let blue = svc.ports.0;
    let slow = std::thread::spawn(move || {
        let started = Instant::now();
        (http_get(blue, "/slow?ms=4000"), started.elapsed())
    });
    let (code, err) = running.finish();
    let (answer, took) = slow.join().unwrap();
    let result = load.stop();
    eprintln!(
        "slow request to the old color: {answer:?} after {took:?}; {} requests, {} failed\n{err}",
        result.requests(),
        result.failed()
    );
    assert_eq!(code, Some(0), "{err}");
    let (status, body) = answer.expect("the in-flight request got an answer");
    assert!(
        status.contains("200") && body.contains("slow 4000ms"),
        "{status} {body}"
    );
    svc.assert_live("green", "v2");
    result.assert_no_failures();
}
