//! `proxy sync` against the real etcd and nginx: it follows the stored
//! url, repairs a hand-edited site, does nothing when in sync, and keeps
//! the last good site when the state holds a url that is no address.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Load, Service, TestEnv, port, ports, stderr, stdout};

fn sync(svc: &Service) -> Value {
    let o = svc.run(&["--json", "proxy", "sync"]).run();
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

#[test]
fn proxy_sync_follows_the_stored_url_and_repairs_the_site() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "psync", ports(), "");
    let blue = svc.ports.0;
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    let site_path = std::path::Path::new(env.var("BGCTL_TEST_NGINX_SITES")).join("psync.conf");
    let settled = std::fs::read_to_string(&site_path).unwrap();

    // Just after a switch: the site is what the state asks for.
    let first = sync(&svc);
    assert_eq!(
        (first["changed"].as_bool(), first["color"].as_str()),
        (Some(false), Some("blue"))
    );
    assert_eq!(first["upstream"], format!("127.0.0.1:{blue}"));

    // A hand edit that sends users nowhere is undone.
    let nowhere = port();
    std::fs::write(
        &site_path,
        settled.replace(&format!("127.0.0.1:{blue}"), &format!("127.0.0.1:{nowhere}")),
    )
    .unwrap();
    let repaired = sync(&svc);
    assert_eq!(
        (repaired["changed"].as_bool(), repaired["reloaded"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(std::fs::read_to_string(&site_path).unwrap(), settled);
    svc.assert_live("blue", "v1");

    // Another host's url (a name here), followed under load without a failed request.
    let load = Load::start(svc.listen, 4, 40, Duration::from_secs(600));
    svc.etcd_put("url", &format!("localhost:{blue}"));
    let moved = sync(&svc);
    std::thread::sleep(Duration::from_millis(500));
    let result = load.stop();
    assert_eq!(moved["upstream"], format!("localhost:{blue}"), "{moved}");
    let site = std::fs::read_to_string(&site_path).unwrap();
    assert!(
        site.contains(&format!("server localhost:{blue} max_fails=0;")),
        "{site}"
    );
    svc.assert_live("blue", "v1");
    result.assert_no_failures();

    // A url that is no address never reaches nginx: exit 1, the site stays.
    svc.etcd_put("url", "x; return 200 owned:1");
    let o = svc.run(&["proxy", "sync"]).status(1).run();
    assert!(stderr(&o).contains("/psync/url holds"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&site_path).unwrap(), site);
    svc.assert_live("blue", "v1");
}

/// A sync that moves users to another backend exits only once nginx
/// serves it: the very next request answers from there. (A sync that never
/// reloaded would leave the old backend answering.)
#[test]
fn proxy_sync_exits_only_once_nginx_serves_the_new_backend() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "psync_backend", ports(), "");
    svc.install();
    for image in ["bgctl-demo:v1", "bgctl-demo:v2"] {
        svc.run(&["switch", "--image", image]).run();
    }
    svc.assert_live("green", "v2");
    // Blue (v1) runs again beside green; the state is pointed at it, as
    // another host's switch would leave it.
    env.systemctl(&["start", svc.unit("blue").as_str()]);
    for round in 0..5 {
        let (color, port) = if round % 2 == 0 {
            ("blue", svc.ports.0)
        } else {
            ("green", svc.ports.1)
        };
        svc.etcd_put("color", color);
        svc.etcd_put("url", &format!("127.0.0.1:{port}"));
        let synced = sync(&svc);
        assert_eq!(synced["reloaded"].as_bool(), Some(true), "{synced}");
        let (answer, body) = svc.answer().expect("nginx answers");
        let version = if color == "blue" { "v1" } else { "v2" };
        assert_eq!(answer, format!("HTTP/1.1 200 OK {color}"), "round {round}");
        assert!(body.contains(&format!("demo-app {version}")), "round {round}: {body}");
    }
}
