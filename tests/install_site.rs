//! `install` and the nginx site, against the real nginx and etcd: the site
//! is rendered from the stored state, tested with `nginx -t` the way a
//! switch tests it, and loaded.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{Service, TestEnv, http_get, ports, stderr};

/// A foreign file in nginx's include directory, removed on drop.
struct Foreign(PathBuf);

impl Drop for Foreign {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn nginx_t(env: &TestEnv) -> std::process::Output {
    Command::new("/usr/sbin/nginx")
        .args(["-t", "-q", "-c", env.var("BGCTL_TEST_NGINX_CONF")])
        .output()
        .unwrap()
}

/// Without the reload, nginx would not listen on the new port at all.
#[test]
fn a_fresh_install_loads_the_503_site_into_nginx() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "site_fresh", ports(), "");
    svc.install();
    let (status, body) = http_get(svc.listen, "/").expect("nginx listens on the site's port");
    assert!(status.contains("503"), "{status}");
    assert!(body.contains("no color of site_fresh is live yet"), "{body}");
}

/// Debian's default site holds `default_server` on the port: a site that
/// claims it too would make every later `nginx -t` on the host fail.
#[test]
fn a_site_nginx_t_refuses_exits_1_and_leaves_the_host_as_it_was() {
    let env = TestEnv::get();
    let sites = PathBuf::from(env.var("BGCTL_TEST_NGINX_SITES"));
    let default = Foreign(sites.join("site_default_debian.conf"));
    let ports = ports();
    std::fs::write(
        &default.0,
        format!(
            "server {{ listen {} default_server; server_name _; return 204; }}\n",
            ports.2
        ),
    )
    .unwrap();
    let svc = Service::new(&env, "site_clash", ports, "");
    let text = std::fs::read_to_string(&svc.config).unwrap();
    std::fs::write(
        &svc.config,
        text.replace("[proxy]\n", "[proxy]\ndefault_server = true\n"),
    )
    .unwrap();

    let o = svc.run(&["install"]).status(1).run();
    assert!(
        stderr(&o).contains("nginx -t refused") && stderr(&o).contains("duplicate default server"),
        "{}",
        stderr(&o)
    );
    assert!(
        !sites.join("site_clash.conf").exists(),
        "the refused site was left in place"
    );
    let t = nginx_t(&env);
    assert!(t.status.success(), "nginx -t fails after install: {}", stderr(&t));
}

/// uninstall keeps the state; a new install serves the color it names.
#[test]
fn install_after_uninstall_renders_the_site_of_the_live_color() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "site_again", ports(), "");
    svc.install();
    svc.run(&["switch"]).run();
    svc.run(&["uninstall"]).run();
    assert_eq!(svc.etcd("color").as_deref(), Some("blue"), "uninstall keeps the state");

    svc.install();
    let site =
        std::fs::read_to_string(PathBuf::from(env.var("BGCTL_TEST_NGINX_SITES")).join("site_again.conf")).unwrap();
    assert!(site.contains("# bgctl-live: blue"), "{site}");
    let status: serde_json::Value = serde_json::from_slice(&svc.bgctl(&["status", "--json"]).stdout).unwrap();
    // The site is the state's; what drifts is only the units, down since the uninstall.
    let drift: Vec<&str> = status["proxy"]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(status["proxy"]["upstream_port"], svc.ports.0, "{status}");
    assert!(
        !drift
            .iter()
            .any(|d| d.contains("not what the state renders") || d.contains("sends users to")),
        "{drift:?}"
    );
    assert!(
        drift
            .iter()
            .any(|d| d.contains("blue is live by the state but its unit is inactive")),
        "{drift:?}"
    );
    // The units are down after the uninstall: reconcile starts blue, and
    // nginx, already pointing there, answers from it.
    let o = svc.run(&["reconcile"]).run();
    assert!(
        !stderr(&o).contains("pointed nginx"),
        "install had not loaded the site: {}",
        stderr(&o)
    );
    svc.assert_live("blue", "v1");
    let status: serde_json::Value = serde_json::from_slice(&svc.bgctl(&["status", "--json"]).stdout).unwrap();
    assert_eq!(status["proxy"]["in_sync"], true, "reconciled: {status}");
}
