//! The guard and other proxy hosts (issue 23 §3.3): their sites have no
//! guard log this host reads, so the guard cannot count their users'
//! answers. With load through another proxy host only and a release that
//! answers 500, the switch must say plainly that the guard saw this host's
//! traffic only, naming the proxy it did not count, and those users' 5xx
//! show what that means. The proxy host is real: its own network
//! namespace, nginx unit and `bgctl-proxy@` watcher.

mod support;

use std::time::Duration;

use support::etcd::Cluster;
use support::proxy_hosts::{Lan, app_host};
use support::{Load, Service, TestEnv, ports};

const NAME: &str = "ghost";

#[test]
fn the_guard_says_it_counts_this_host_only_while_another_proxys_users_get_a_broken_release() {
    let env = TestEnv::get();
    let mut lan = Lan::up(&env);
    let lan_host = app_host();
    let (blue, green, listen) = ports();
    let proxy_port = ports().0;
    // etcd where the proxy host's namespace reaches it (a client port and,
    // next to it, the peer port: the allocator handed out both).
    let cluster = Cluster::start_on(&env, NAME, 1, ports().0, &lan_host);
    let on_cluster = |text: String| {
        text.replace(
            &format!("[\"{}\"]", env.var("BGCTL_TEST_ETCD")),
            &cluster.endpoints_toml(),
        )
    };
    let publish = format!("[container]\npull = false\npublish = \"{lan_host}\"\n");
    lan.add_host(1, proxy_port, NAME, |proxy| {
        on_cluster(env.config_text(NAME, (blue, green, proxy_port), proxy, &publish))
    });
    let host = &lan.hosts[0];
    let guard = format!(
        "[health]\npath = \"/health\"\n[guard]\nwindow = \"4s\"\nmax_error_ratio = 0.02\nmin_requests = 20\nlog = \"{}/{NAME}.guard.json\"\n",
        env.dir().display()
    );
    let proxy = format!("{}verify = [\"{}\"]\n", env.sandbox_proxy(NAME), host.url());
    let mut svc = Service::with_proxy(
        &env,
        NAME,
        (blue, green, listen),
        &proxy,
        &format!("publish = \"{lan_host}\"\n{guard}"),
    );
    svc.use_etcd(&cluster);
    svc.install();
    lan.start();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();

    // Users reach the app through the other proxy only.
    let load = Load::start_at(&host.addr(), 4, 30, Duration::from_secs(600));
    std::thread::sleep(Duration::from_secs(1));
    let o = svc
        .run(&["switch", "--image", "bgctl-demo:broken"])
        .stderr_has("the guard counts this host's traffic only")
        .stderr_has(&format!("requests through {} are not counted", host.url()))
        .run();
    std::thread::sleep(Duration::from_secs(1));
    let result = load.stop();
    eprintln!(
        "through {} only: {} requests, {} failed\n{}",
        host.addr(),
        result.requests(),
        result.failed(),
        support::stderr(&o)
    );
    assert!(
        result.failed() > 0,
        "the other proxy's users never got the broken release, so this test shows nothing: {}",
        result.report
    );
}
