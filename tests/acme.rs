//! `[proxy.tls] acme = true` against Debian's pebble (the ACME test
//! server) on the real nginx: the first issuance through nginx's HTTP-01
//! answers, a renewal under HTTPS load, one that is not due, a failed
//! challenge that leaves the serving certificate alone, and the timer.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use support::pebble::Pebble;
use support::{Load, Service, TestEnv, port, ports, stderr, stdout};

const DOMAIN: &str = "shop.bgctl.test";

/// The certificate nginx serves on `port`: its issuer and serial.
fn served_certificate(port: u16) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect 127.0.0.1:{port} -servername {DOMAIN} </dev/null 2>/dev/null | openssl x509 -noout -issuer -serial"
        ))
        .output()
        .unwrap();
    stdout(&out)
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn acme_issues_through_nginx_renews_under_load_and_keeps_the_old_certificate_when_a_challenge_fails() {
    let env = TestEnv::get();
    let (ports, tls) = (ports(), port());
    let acme_dir = env.dir().join("acme-shop");
    let _ = std::fs::remove_dir_all(&acme_dir);
    let pebble = Pebble::start(&env, 24210, ports.2);
    let proxy = format!("{}server_name = \"{DOMAIN}\"\n", env.sandbox_proxy("acme_shop"));
    let svc = Service::with_proxy(&env, "acme_shop", ports, &proxy, &pebble.tls_keys(tls, &acme_dir));
    svc.install();
    let home = acme_dir.join("acme_shop");
    let (cert, key) = (home.join("cert.pem"), home.join("key.pem"));
    assert_eq!(mode(&key), 0o600, "the stand-in's key");
    svc.run(&["switch"]).run();
    assert!(!served_certificate(tls).contains("Pebble"), "before any issuance");

    // The timer install enabled, as systemd reads it.
    let unit_dir = env.unit_dir();
    for unit in ["bgctl-tls-renew@.service", "bgctl-tls-renew@.timer"] {
        let o = env.in_sandbox(&[
            "systemd-analyze",
            "verify",
            "--man=no",
            unit_dir.join(unit).to_str().unwrap(),
        ]);
        assert!(o.status.success(), "systemd-analyze verify {unit}: {}", stderr(&o));
    }
    assert_eq!(
        env.systemctl(&["is-enabled", "bgctl-tls-renew@acme_shop.timer"]).trim(),
        "enabled"
    );
    let timer = env.show("bgctl-tls-renew@acme_shop.timer", "TimersCalendar");
    assert!(timer.contains("OnCalendar=*-*-* 00:00:00"), "daily: {timer}");
    assert_eq!(env.show("bgctl-tls-renew@acme_shop.timer", "RandomizedDelayUSec"), "1h");
    assert_eq!(env.show("bgctl-tls-renew@acme_shop.timer", "Persistent"), "yes");

    // The first issuance: the stand-in is due at once.
    let o = svc.run(&["--json", "tls", "renew"]).run();
    let renewal: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(renewal["renewed"], true, "{renewal}");
    let first = served_certificate(tls);
    assert!(first.contains("Pebble"), "nginx serves {first}");
    assert_eq!((mode(&key), mode(&home.join("account.json"))), (0o600, 0o600));
    assert_eq!(
        std::fs::read_dir(home.join("challenges")).unwrap().count(),
        0,
        "answers left behind"
    );

    // Not due: nothing changes.
    let before = std::fs::read(&cert).unwrap();
    let o = svc.run(&["tls", "renew"]).run();
    assert!(stderr(&o).contains("not due"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&cert).unwrap(), before);

    // A forced renewal under HTTPS load: a new certificate, no failed request.
    let load = Load::start_url(&format!("https://127.0.0.1:{tls}/"), 8, 50, Duration::from_secs(600));
    std::thread::sleep(Duration::from_secs(1));
    let o = svc.bgctl(&["tls", "renew", "--force"]);
    std::thread::sleep(Duration::from_secs(1));
    let result = load.stop();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let second = served_certificate(tls);
    assert!(
        second.contains("Pebble") && second != first,
        "still {first} after the renewal"
    );
    eprintln!(
        "renewal under https load: {} requests, {} failed",
        result.requests(),
        result.failed()
    );
    result.assert_no_failures();
    let renewed = std::fs::read(&cert).unwrap();

    // A challenge nginx cannot answer (this server validates on a port
    // nothing listens on): exit 1, and the serving certificate stays.
    drop(pebble);
    let failing = Pebble::start(&env, 24220, port());
    let text = env.config_text(
        "acme_shop",
        ports,
        &proxy,
        &format!("[container]\npull = false\n{}", failing.tls_keys(tls, &acme_dir)),
    );
    std::fs::write(&svc.config, text).unwrap();
    let o = svc.run(&["tls", "renew", "--force"]).status(1).run();
    assert!(
        stderr(&o).contains(&format!("could not validate {DOMAIN}")),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(&cert).unwrap(),
        renewed,
        "a failed renewal touched the certificate"
    );
    assert_eq!(served_certificate(tls), second);
}
