//! `bgctl-proxy@.service` (the shipped unit, `Type=notify`) running `proxy
//! sync --watch` in the sandbox's systemd, against the real etcd and nginx:
//! it follows what another host writes to etcd, repairs a hand-edited site
//! within its re-check, catches up after it was stopped, comes back after
//! kill -9, and keeps the last good site when the state holds a bad url.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{Service, TestEnv, etcd_revision, etcdctl, port, ports, stdout, wait_for};

const NAME: &str = "pwatch";
const UNIT: &str = "bgctl-proxy@pwatch.service";

/// The shipped unit, with this build's binary and a short re-check.
fn install_unit(env: &TestEnv, svc: &Service) {
    std::fs::copy(&svc.config, env.dir().join(format!("etc-bgctl/{NAME}.toml"))).unwrap();
    env.install_watcher(UNIT, "-s %i proxy sync --watch --recheck 2s", "");
    env.systemctl(&["daemon-reload"]);
}

/// How long until the site holds `text` (at most `limit`).
fn site_holds(site: &Path, text: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    wait_for(limit, || {
        let now = std::fs::read_to_string(site).unwrap_or_default();
        now.contains(text).then(|| started.elapsed())
    })
}

/// etcd forgets its history up to now: a watch from before is refused.
fn compact(env: &TestEnv) {
    let endpoints = env.var("BGCTL_TEST_ETCD");
    etcdctl(endpoints, &["compact", &etcd_revision(endpoints).to_string()]);
}

struct Cleanup<'a>(&'a TestEnv);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.in_sandbox(&["systemctl", "stop", UNIT]);
        let _ = std::fs::remove_dir_all(self.0.unit_dir().join(format!("{UNIT}.d")));
        let _ = std::fs::remove_file(self.0.unit_dir().join("bgctl-proxy@.service"));
    }
}

#[test]
fn the_watcher_follows_etcd_repairs_the_site_catches_up_and_survives_kill_9() {
    let env = TestEnv::get();
    let svc = Service::new(&env, NAME, ports(), "");
    let blue = svc.ports.0;
    let (by_name, by_ip) = (format!("localhost:{blue}"), format!("127.0.0.1:{blue}"));
    let server = |url: &str| format!("server {url} max_fails=0;");
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    let site: PathBuf = Path::new(env.var("BGCTL_TEST_NGINX_SITES")).join(format!("{NAME}.conf"));
    install_unit(&env, &svc);
    let _cleanup = Cleanup(&env);

    // Type=notify: start returns once the first sync said READY=1.
    env.systemctl(&["start", UNIT]);
    let status = env.show(UNIT, "StatusText");
    assert!(status.contains(&format!("sends users to blue at {by_ip}")), "{status}");

    // Another host's deploy, as etcd shows it: followed within a second.
    svc.etcd_put("url", &by_name);
    let followed = site_holds(&site, &server(&by_name), Duration::from_secs(5));
    // How fast is scripts/bench-proxy-watch's to say; here, that it did.
    eprintln!("the watcher followed etcd in {followed:?}");
    assert!(followed.is_some(), "the watcher did not follow etcd");
    svc.assert_live("blue", "v1");

    // A hand edit is put back by the re-check (2 s).
    let good = std::fs::read_to_string(&site).unwrap();
    std::fs::write(&site, good.replace(&by_name, &format!("127.0.0.1:{}", port()))).unwrap();
    let repaired = site_holds(&site, &server(&by_name), Duration::from_secs(6));
    eprintln!("a hand-edited site was repaired in {repaired:?}");
    assert!(repaired.is_some(), "{}", std::fs::read_to_string(&site).unwrap());

    // Stopped while etcd changes and compacts its history: it catches up
    // on its first loop, and its watch goes on past the compaction.
    env.systemctl(&["stop", UNIT]);
    svc.etcd_put("url", &by_ip);
    compact(&env);
    env.systemctl(&["start", UNIT]);
    assert!(std::fs::read_to_string(&site).unwrap().contains(&server(&by_ip)));
    svc.etcd_put("url", &by_name);
    assert!(site_holds(&site, &server(&by_name), Duration::from_secs(5)).is_some());
    svc.etcd_put("url", &by_ip);
    assert!(site_holds(&site, &server(&by_ip), Duration::from_secs(5)).is_some());
    // By the watch, not by the re-check: no watch failed on the way.
    let journal = env.in_sandbox(&["journalctl", "-u", UNIT, "-o", "cat", "--no-pager"]);
    assert!(!stdout(&journal).contains("watching again"), "{}", stdout(&journal));
    assert!(
        stdout(&journal).contains(&format!("sends users to {by_name}"))
            || stdout(&journal).contains(&format!("blue at {by_name}")),
        "{}",
        stdout(&journal)
    );

    // kill -9: systemd starts it again, and it follows what changed meanwhile.
    let pid = env.show(UNIT, "MainPID");
    let rss = env.in_sandbox(&["grep", "VmRSS", &format!("/proc/{pid}/status")]);
    eprintln!("the watcher's {}", stdout(&rss).trim());
    env.systemctl(&["kill", "-s", "KILL", UNIT]);
    svc.etcd_put("url", &by_name);
    let back = wait_for(Duration::from_secs(15), || {
        (env.show(UNIT, "ActiveState") == "active" && env.show(UNIT, "NRestarts") != "0").then_some(())
    });
    assert!(back.is_some(), "not restarted: {}", env.show(UNIT, "ActiveState"));
    assert!(site_holds(&site, &server(&by_name), Duration::from_secs(5)).is_some());

    // A url that is no address: the last good site stays, the unit says so.
    let before = std::fs::read_to_string(&site).unwrap();
    svc.etcd_put("url", "x; return 200 owned:1");
    let said = wait_for(Duration::from_secs(5), || {
        let status = env.show(UNIT, "StatusText");
        status.contains("the last good site stays").then_some(status)
    });
    assert!(said.is_some(), "{}", env.show(UNIT, "StatusText"));
    assert_eq!(std::fs::read_to_string(&site).unwrap(), before);
    assert_eq!(env.show(UNIT, "ActiveState"), "active");
    svc.etcd_put("url", &by_ip);
    assert!(site_holds(&site, &server(&by_ip), Duration::from_secs(5)).is_some());
    svc.assert_live("blue", "v1");
}
