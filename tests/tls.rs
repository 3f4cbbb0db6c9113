//! HTTPS in front of the app (DESIGN §10) on the real nginx: switches over
//! TLS under load, the redirect, the headers the app sees, and the pairs
//! bgctl refuses before it changes anything.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Load, Service, TestEnv, port, ports, stderr, stdout};

const LOAD_LIMIT: Duration = Duration::from_secs(600);

/// A self-signed pair made by openssl under the test env: `(cert, key)`,
/// the key 0600, valid for `days`.
fn openssl_pair(env: &TestEnv, name: &str, days: u32) -> (PathBuf, PathBuf) {
    let dir = env.dir().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    let o = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .args(["-days", &days.to_string(), "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (apt-get install openssl)");
    assert!(o.status.success(), "openssl: {}", stderr(&o));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    (cert, key)
}

fn tls_section(listen: u16, cert: &Path, key: &Path, more: &str) -> String {
    format!(
        "[proxy.tls]\nlisten = {listen}\ncert = \"{}\"\nkey = \"{}\"\n{more}",
        cert.display(),
        key.display()
    )
}

/// `curl -k` on `url`: (status code, headers and body).
fn curl(url: &str) -> (u16, String) {
    let o = Command::new("curl")
        .args(["-sk", "-i", "--max-time", "5", url])
        .output()
        .expect("curl runs");
    let text = stdout(&o);
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text)
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn ten_switches_over_https_under_load_fail_no_request() {
    let env = TestEnv::get();
    let (cert, key) = openssl_pair(&env, "tls_switch", 90);
    let tls = port();
    let svc = Service::new(
        &env,
        "tls_switch",
        ports(),
        &tls_section(tls, &cert, &key, "hsts = \"1d\"\n"),
    );
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();

    // The plain port sends people to https, on the TLS port.
    let (code, plain) = curl(&format!("http://127.0.0.1:{}/some/path?q=1", svc.listen));
    assert_eq!(code, 301, "{plain}");
    assert_eq!(
        header(&plain, "Location"),
        Some(format!("https://127.0.0.1:{tls}/some/path?q=1").as_str())
    );
    let url = format!("https://127.0.0.1:{tls}/");
    let (code, answer) = curl(&url);
    assert_eq!(code, 200, "{answer}");
    assert_eq!(header(&answer, "X-Bgctl-Color"), Some("blue"), "{answer}");
    assert_eq!(header(&answer, "Strict-Transport-Security"), Some("max-age=86400"));

    let load = Load::start_url(&url, 8, 50, LOAD_LIMIT);
    for round in 0..10 {
        let (color, image) = if round % 2 == 0 {
            ("green", "bgctl-demo:v2")
        } else {
            ("blue", "bgctl-demo:v1")
        };
        let o = svc.bgctl(&["switch", "--image", image]);
        assert_eq!(o.status.code(), Some(0), "round {round}: {}", stderr(&o));
        assert_eq!(header(&curl(&url).1, "X-Bgctl-Color"), Some(color));
    }
    let result = load.stop();
    eprintln!(
        "https load over 10 switches: {} requests, {} failed",
        result.requests(),
        result.failed()
    );
    result.assert_no_failures();
    assert!(result.requests() > 1000, "the load barely ran: {}", result.report);

    let status: serde_json::Value = serde_json::from_str(&stdout(&svc.bgctl(&["--json", "status"]))).unwrap();
    let shown = &status["proxy"]["tls"];
    assert_eq!(shown["listen"], tls, "{status}");
    assert!((88..=90).contains(&shown["days_left"].as_i64().unwrap()), "{shown}");
    assert!(shown["not_after"].as_str().unwrap().ends_with('Z'), "{shown}");
}

#[test]
fn the_app_behind_https_learns_the_real_scheme() {
    let env = TestEnv::get();
    let (cert, key) = openssl_pair(&env, "tls_headers", 90);
    let tls = port();
    let svc = Service::new(
        &env,
        "tls_headers",
        ports(),
        &tls_section(tls, &cert, &key, "redirect_http = false\n"),
    );
    svc.install();
    svc.run(&["switch"]).run();
    let (_, over_tls) = curl(&format!("https://127.0.0.1:{tls}/headers"));
    assert!(over_tls.contains("X-Forwarded-Proto: https"), "{over_tls}");
    // Without the redirect the plain port serves too, and says so.
    let (code, plain) = curl(&format!("http://127.0.0.1:{}/headers", svc.listen));
    assert_eq!(code, 200, "{plain}");
    assert!(plain.contains("X-Forwarded-Proto: http\n"), "{plain}");
}

#[test]
fn a_readable_key_a_foreign_key_or_an_expiring_certificate_is_refused_or_reported() {
    let env = TestEnv::get();
    let (cert, key) = openssl_pair(&env, "tls_bad", 90);
    let (_, other_key) = openssl_pair(&env, "tls_bad_other", 90);
    let ports = ports();
    let tls = port();
    let svc = Service::new(&env, "tls_bad", ports, &tls_section(tls, &cert, &key, ""));
    let site = PathBuf::from(env.var("BGCTL_TEST_NGINX_SITES")).join("tls_bad.conf");
    let _ = std::fs::remove_file(&site);

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    for args in [&["install"][..], &["switch"]] {
        let o = svc.bgctl(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(key.to_str().unwrap()) && err.contains("chmod 600"),
            "{err}"
        );
    }
    assert!(!site.exists(), "a refused install wrote the site");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mismatched = Service::new(&env, "tls_bad", ports, &tls_section(tls, &cert, &other_key, ""));
    let o = mismatched.run(&["install"]).status(2).run();
    assert!(stderr(&o).contains("do not match"), "{}", stderr(&o));
    assert!(!site.exists(), "a refused install wrote the site");

    // A certificate with a week left installs, and doctor says it must be renewed.
    let (soon, soon_key) = openssl_pair(&env, "tls_bad_soon", 7);
    let expiring = Service::new(&env, "tls_bad", ports, &tls_section(tls, &soon, &soon_key, ""));
    expiring.install();
    let o = expiring.bgctl(&["--json", "doctor"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "tls")
        .unwrap_or_else(|| panic!("no tls check: {report}"));
    assert_eq!(check["ok"], false, "{check}");
    assert!(check["detail"].as_str().unwrap().contains("days left"), "{check}");
}
