//! One real nginx, many services: a candidate site is judged by `nginx -t`
//! before it is where nginx reads it, a broken neighbour is named as such
//! and leaves this site alone, a reload nginx could not apply is no
//! success, and ten services switched at once under load with one broken
//! `include` fail only that one, at zero failed requests.
//!
//! The tests here share the sites directory with a broken file at times:
//! they run one at a time.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use support::{Load, Service, TestEnv, ports, stderr};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A file that is removed when the test ends, passed or not.
struct Placed(PathBuf);

impl Drop for Placed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

fn site_of(env: &TestEnv, name: &str) -> PathBuf {
    Path::new(env.var("BGCTL_TEST_NGINX_SITES")).join(format!("{name}.conf"))
}

fn leftover_candidates(env: &TestEnv) -> Vec<String> {
    let conf_dir = Path::new(env.var("BGCTL_TEST_NGINX_CONF")).parent().unwrap();
    std::fs::read_dir(conf_dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".bgctl-candidate-"))
        .collect()
}

#[test]
fn a_site_is_tested_before_nginx_can_read_it_and_a_broken_neighbour_is_named() {
    let _serial = one_at_a_time();
    let env = TestEnv::get();
    let name = "sn_apart";
    let live = site_of(&env, name);
    // An nginx_bin that notes what the live site held each time it tested.
    let seen = env.dir().join("sn_apart.seen");
    let _ = std::fs::remove_file(&seen);
    let wrapper = env.dir().join("sn_apart-nginx");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n{{ echo ---; cat {} 2>/dev/null; }} >> {}\nexec /usr/sbin/nginx \"$@\"\n",
            live.display(),
            seen.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["755"])
        .arg(&wrapper)
        .status()
        .unwrap();
    let proxy = format!(
        "{}nginx_bin = \"{}\"\nread_timeout = \"61s\"\n",
        env.sandbox_proxy(name),
        wrapper.display()
    );
    let svc = Service::with_proxy(&env, name, ports(), &proxy, "");
    svc.install();
    svc.run(&["switch"]).run();

    // A change: tested apart, then in place.
    let _ = std::fs::remove_file(&seen);
    replace_in(&svc.config, "read_timeout = \"61s\"", "read_timeout = \"62s\"");
    svc.install();
    let tested = std::fs::read_to_string(&seen).expect("nginx -t ran");
    assert!(
        tested.contains("proxy_read_timeout 61s") && !tested.contains("proxy_read_timeout 62s"),
        "the live site held the untested change while nginx -t ran:\n{tested}"
    );
    assert!(
        std::fs::read_to_string(&live)
            .unwrap()
            .contains("proxy_read_timeout 62s")
    );
    assert_eq!(leftover_candidates(&env), Vec::<String>::new());

    // A neighbour nginx already cannot read: named, and this site is left as it was.
    let broken = Placed(site_of(&env, "sn_zz_neighbour"));
    std::fs::write(&broken.0, "bogus_directive on;\n").unwrap();
    replace_in(&svc.config, "read_timeout = \"62s\"", "read_timeout = \"63s\"");
    let o = svc.bgctl(&["install"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "nginx -t fails on {}, which is not this service's",
            broken.0.display()
        )),
        "{err}"
    );
    assert!(
        std::fs::read_to_string(&live)
            .unwrap()
            .contains("proxy_read_timeout 62s")
    );
    assert_eq!(leftover_candidates(&env), Vec::<String>::new());
    drop(broken);
    svc.assert_live("blue", "v1");
}

#[test]
fn a_reload_nginx_could_not_apply_is_no_success() {
    let _serial = one_at_a_time();
    let env = TestEnv::get();
    let name = "sn_bind";
    // nginx -t does not bind: it passes. The reload cannot bind, and nginx
    // keeps its old config.
    let ports = ports();
    let held = std::net::TcpListener::bind(("0.0.0.0", ports.2)).unwrap();
    let svc = Service::new(&env, name, ports, "");
    let o = svc.bgctl(&["install"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("took the reload but did not apply it") && err.contains("the site was put back"),
        "{err}"
    );
    assert!(
        !site_of(&env, name).exists(),
        "the site nginx could not apply stays on disk"
    );
    drop(held);
    svc.install();
    assert!(site_of(&env, name).exists());
}

#[test]
fn ten_services_switch_at_once_on_one_nginx_and_only_the_broken_include_fails() {
    let _serial = one_at_a_time();
    let env = TestEnv::get();
    let broken_include = Placed(env.dir().join("sn_c3.include"));
    std::fs::write(&broken_include.0, "bogus_directive on;\n").unwrap();
    let services: Vec<Service> = (0..10u16)
        .map(|i| {
            let name = format!("sn_c{i}");
            let proxy = format!("{}include = \"\"\n", env.sandbox_proxy(&name));
            Service::with_proxy(&env, &name, ports(), &proxy, "")
        })
        .collect();
    std::thread::scope(|s| {
        for svc in &services {
            s.spawn(|| {
                svc.install();
                let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v1"]);
                assert_eq!(o.status.code(), Some(0), "{}: {}", svc.name, stderr(&o));
            });
        }
    });
    let include_line = format!("include = \"{}\"", broken_include.0.display());
    replace_in(&services[3].config, "include = \"\"", &include_line);
    let loads: Vec<Load> = services
        .iter()
        .map(|svc| Load::start(svc.listen, 2, 20, Duration::from_secs(600)))
        .collect();
    let ended: Vec<(Option<i32>, String)> = std::thread::scope(|s| {
        let runs: Vec<_> = services
            .iter()
            .map(|svc| {
                s.spawn(|| {
                    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v2", "--wait"]);
                    (o.status.code(), stderr(&o))
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (i, (svc, (code, err))) in services.iter().zip(&ended).enumerate() {
        eprintln!("{}: exit {code:?}\n{err}", svc.name);
        if i == 3 {
            assert_eq!(*code, Some(1), "{err}");
            assert!(err.contains("nginx -t refused the new site"), "{err}");
            assert!(err.contains(&broken_include.0.display().to_string()), "{err}");
            svc.assert_live("blue", "v1");
        } else {
            assert_eq!(*code, Some(0), "{}: {err}", svc.name);
            svc.assert_live("green", "v2");
        }
    }
    for (svc, load) in services.iter().zip(loads) {
        let result = load.stop();
        eprintln!("{}: {} requests", svc.name, result.requests());
        result.assert_no_failures();
    }
}
