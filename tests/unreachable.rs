//! Dependencies that cannot be used, against the real components: each
//! fails fast with its exit code and touches nothing.

mod support;

use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use support::{Service, TempDir, TestEnv, ports, stderr};

/// Points `[docker] host` of the service's config at `host`.
fn docker_host(svc: &Service, host: &str) {
    let text = std::fs::read_to_string(&svc.config).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(|l| match l.starts_with("host = \"unix://") {
            true => format!("host = \"{host}\""),
            false => l.to_owned(),
        })
        .collect();
    std::fs::write(&svc.config, lines.join("\n") + "\n").unwrap();
}

/// A switch against `host`: exit 5 in under 10 s, nothing started or stored.
fn switch_exits_5(svc: &Service, host: &str, what: &str) {
    docker_host(svc, host);
    let started = Instant::now();
    let o = svc.bgctl(&["switch"]);
    let took = started.elapsed();
    eprintln!("dockerd {what}: exit {:?} in {took:?}", o.status.code());
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot reach dockerd"), "{}", stderr(&o));
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        !svc.is_active("blue") && svc.etcd("color").is_none(),
        "it touched the world"
    );
}

#[test]
fn dockerd_gone_or_hung_exits_5_quickly_and_touches_nothing() {
    let env = TestEnv::get();
    let tmp = TempDir::new("dockerd");
    let svc = Service::new(&env, "no_dockerd", ports(), "");
    svc.install();
    // The socket is gone.
    switch_exits_5(
        &svc,
        &format!("unix://{}/gone.sock", tmp.path().display()),
        "socket gone",
    );
    // dockerd stopped: its socket file is left, nobody listens.
    let stale = tmp.path().join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    switch_exits_5(&svc, &format!("unix://{}", stale.display()), "stopped");
    // dockerd hung: it accepts and never answers.
    let hung = tmp.path().join("hung.sock");
    let _listener = UnixListener::bind(&hung).unwrap();
    switch_exits_5(&svc, &format!("unix://{}", hung.display()), "hung");
}

/// A start job that fails (the units' docker CLI is missing) is exit 1:
/// 3 is for a new color that ran and never became healthy.
#[test]
fn a_start_job_that_fails_exits_1() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "no_cli", ports(), "");
    let text = std::fs::read_to_string(&svc.config).unwrap();
    std::fs::write(
        &svc.config,
        text.replace("[docker]\n", "[docker]\ncli = \"/usr/bin/no-such-docker\"\n"),
    )
    .unwrap();
    svc.install();
    let o = svc.run(&["switch"]).status(1).run();
    assert!(stderr(&o).contains("did not start"), "{}", stderr(&o));
    assert!(svc.etcd("color").is_none(), "it flipped");
}

/// TLS files that cannot be used are the config's fault (exit 2, naming
/// the key), not an etcd that cannot be reached (5).
#[test]
fn an_unreadable_or_invalid_etcd_tls_file_is_a_config_error() {
    let env = TestEnv::get();
    let tmp = TempDir::new("tls");
    let garbage = tmp.path().join("ca.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let missing = tmp.path().join("missing.pem");
    for (file, why) in [(&missing, "cannot read it"), (&garbage, "no PEM \"CERTIFICATE\" block")] {
        let svc = Service::new(&env, "tls_bad", ports(), "");
        let text = std::fs::read_to_string(&svc.config).unwrap();
        let with_ca = text.replace("[state]\n", &format!("[state]\nca = \"{}\"\n", file.display()));
        std::fs::write(&svc.config, with_ca).unwrap();
        let o = svc.run(&["status"]).status(2).run();
        assert!(
            stderr(&o).contains(&format!("[state] ca = {}", file.display())) && stderr(&o).contains(why),
            "{}",
            stderr(&o)
        );
    }
}
