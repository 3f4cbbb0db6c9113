//! The production front (DESIGN §10) on the real nginx: websockets across a
//! switch, upstream keepalive that never outlives the flip, and the app's
//! own settings (body size, timeouts, an include of its own).

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use support::websocket::WebSocket;
use support::{Load, Running, Service, TestEnv, http_get, ports, stderr, stdout, wait_for};

/// The pids of nginx's workers now.
fn nginx_workers() -> BTreeSet<u32> {
    let o = Command::new("pgrep")
        .args(["-f", "nginx: worker process"])
        .output()
        .unwrap();
    stdout(&o).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// The pids holding an established TCP connection to 127.0.0.1:`port`.
fn connected_to(port: u16) -> Vec<u32> {
    let o = Command::new("ss")
        .args(["-tnpH", "state", "established", "dst", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    stdout(&o)
        .split("pid=")
        .skip(1)
        .filter_map(|rest| rest.split(',').next()?.parse().ok())
        .collect()
}

fn bgctl_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bgctl"))
}

#[test]
fn a_websocket_lives_on_the_old_color_until_the_drain_cap_and_a_new_one_reaches_the_new_color() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "front_ws", ports(), "");
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    let addr = format!("127.0.0.1:{}", svc.listen);
    let (mut old, head) = WebSocket::connect(&addr, "/ws").unwrap();
    assert!(head.contains("X-Bgctl-Color: blue"), "{head}");
    old.send("before").unwrap();
    assert_eq!(old.recv(Duration::from_secs(5)).unwrap().as_deref(), Some("v1: before"));

    // Past the flip and verify, the old socket still answers.
    let mut cmd = bgctl_bin();
    cmd.args([
        "--config",
        svc.config.to_str().unwrap(),
        "switch",
        "--image",
        "bgctl-demo:v2",
    ]);
    let running = Running::until(&mut cmd, "verify");
    old.send("after the flip").unwrap();
    assert_eq!(
        old.recv(Duration::from_secs(5)).unwrap().as_deref(),
        Some("v1: after the flip")
    );
    let (fresh, head) = WebSocket::connect(&addr, "/ws").unwrap();
    assert!(
        head.contains("X-Bgctl-Color: green"),
        "a new websocket after the flip: {head}"
    );
    let (code, err) = running.finish();
    assert_eq!(code, Some(0), "{err}");
    // The drain waited its cap for the open socket, said so, and the old
    // color's stop closed it.
    assert!(
        err.contains("1 connection(s) to blue still open after the drain of 1s"),
        "{err}"
    );
    assert_eq!(
        old.recv(Duration::from_secs(5)).unwrap(),
        None,
        "the old color's socket is still open"
    );
    let mut fresh = fresh;
    fresh.send("hello").unwrap();
    assert_eq!(
        fresh.recv(Duration::from_secs(5)).unwrap().as_deref(),
        Some("v2: hello")
    );
}

#[test]
fn after_a_flip_no_new_nginx_worker_holds_a_connection_to_the_old_color() {
    let env = TestEnv::get();
    // The guard keeps the old color up for 3 s after the flip: long enough
    // to look at who still talks to it.
    let guard = format!(
        "[guard]\nwindow = \"3s\"\nlog = \"{}/front_ka.guard.json\"\n",
        env.dir().display()
    );
    let svc = Service::new(&env, "front_ka", ports(), &guard);
    let (blue, green) = svc.ports;
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    let load = Load::start(svc.listen, 8, 50, Duration::from_secs(600));
    for (round, (from_port, to_port, image)) in [(blue, green, "bgctl-demo:v2"), (green, blue, "bgctl-demo:v1")]
        .into_iter()
        .enumerate()
    {
        // Upstream keepalive is on: the workers hold connections to the live
        // color (the last switch's reload may have just started new ones,
        // which connect with their first requests).
        let held = wait_for(Duration::from_secs(5), || {
            Some(connected_to(from_port)).filter(|c| !c.is_empty())
        });
        assert!(held.is_some(), "round {round}: no connection kept to the live color");
        let before = nginx_workers();
        let mut cmd = bgctl_bin();
        cmd.args(["--config", svc.config.to_str().unwrap(), "switch", "--image", image]);
        let running = Running::until(&mut cmd, "verify");
        // Look for 2 s at least, and on until the new workers reach the new
        // color: a loaded 2-core CI host can take longer to start them.
        let started = Instant::now();
        let (mut looked, mut reached_new) = (0, false);
        while started.elapsed() < Duration::from_secs(2)
            || (!reached_new && started.elapsed() < Duration::from_secs(20))
        {
            let new_workers: BTreeSet<u32> = nginx_workers().difference(&before).copied().collect();
            let to_old: Vec<u32> = connected_to(from_port);
            let strays: Vec<&u32> = to_old.iter().filter(|pid| new_workers.contains(pid)).collect();
            if !strays.is_empty() {
                let ss = Command::new("ss")
                    .args(["-tnp", "dst", &format!("127.0.0.1:{from_port}")])
                    .output()
                    .unwrap();
                let ps = Command::new("ps").args(["-eo", "pid,lstart,cmd"]).output().unwrap();
                panic!(
                    "round {round}: new workers {strays:?} hold connections to the old color\n{}\nbefore {before:?}\n{}",
                    stdout(&ss),
                    stdout(&ps)
                        .lines()
                        .filter(|l| l.contains("nginx"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
            reached_new |= !connected_to(to_port).is_empty();
            looked += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(reached_new, "round {round}: nothing kept to the new color in 20 s");
        let (code, err) = running.finish();
        assert_eq!(code, Some(0), "{err}");
        assert!(looked > 5, "looked only {looked} times");
        // Idle once the old workers left: the drain did not wait for its cap.
        assert!(!err.contains("still open after the drain"), "{err}");
    }
    load.stop().assert_no_failures();
}

#[test]
fn the_apps_body_size_timeout_and_include_reach_nginx_and_nginx_t_guards_the_include() {
    let env = TestEnv::get();
    let include = env.dir().join("front_app.include");
    std::fs::write(
        &include,
        "location = /from-include {\n    return 200 \"the include\\n\";\n}\n",
    )
    .unwrap();
    let proxy = format!(
        "{}client_max_body_size = \"1m\"\nread_timeout = \"2s\"\ninclude = \"{}\"\n",
        env.sandbox_proxy("front_app"),
        include.display()
    );
    let svc = Service::with_proxy(&env, "front_app", ports(), &proxy, "");
    svc.install();
    svc.run(&["switch"]).run();
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", svc.listen);
    let code = |args: &[&str]| {
        let o = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(args)
            .output()
            .unwrap();
        stdout(&o)
    };
    let big = env.dir().join("front_app.body");
    std::fs::write(&big, vec![b'x'; 2 << 20]).unwrap();
    let body = format!("@{}", big.display());
    assert_eq!(
        code(&["--data-binary", &body, &url("/")]),
        "413",
        "2 MiB over a 1m limit"
    );
    assert_eq!(code(&["--data-binary", "small", &url("/")]), "200");
    assert_eq!(
        code(&[&url("/slow?ms=3000")]),
        "504",
        "a 3 s answer over a 2 s read_timeout"
    );
    assert_eq!(code(&[&url("/slow?ms=500")]), "200");
    let (status, body) = http_get(svc.listen, "/from-include").unwrap();
    assert!(
        status.contains("200") && body.ends_with("the include\n"),
        "{status} {body}"
    );

    // A plain request reaches the app with no Connection header (kept
    // alive), and the real scheme.
    let (_, response) = http_get(svc.listen, "/headers").unwrap();
    let headers = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    assert!(!headers.to_lowercase().contains("\nconnection:"), "{headers}");
    assert!(headers.contains("X-Forwarded-Proto: http\n"), "{headers}");

    // The include is the user's: nginx -t judges it, bgctl never writes it.
    let site = std::path::PathBuf::from(env.var("BGCTL_TEST_NGINX_SITES")).join("front_app.conf");
    let served_site = std::fs::read_to_string(&site).unwrap();
    // A broken one named by the new config (the live site's stays good, so
    // the neighbours running beside this test are not broken with it).
    let broken = env.dir().join("front_app.broken.include");
    std::fs::write(&broken, "no_such_directive on;\n").unwrap();
    let good = std::fs::read_to_string(&svc.config).unwrap();
    std::fs::write(
        &svc.config,
        good.replace(&include.display().to_string(), &broken.display().to_string()),
    )
    .unwrap();
    let o = svc.run(&["switch"]).status(1).run();
    assert!(
        stderr(&o).contains("nginx -t refused the new site") && stderr(&o).contains("no_such_directive"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), "no_such_directive on;\n");
    assert_eq!(
        std::fs::read_to_string(&site).unwrap(),
        served_site,
        "the old site stays"
    );
    svc.assert_live("blue", "v1");
    std::fs::write(&svc.config, good).unwrap();
}
