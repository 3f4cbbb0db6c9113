//! Several proxy hosts on an etcd cluster, all real: a 3-member etcd
//! cluster, three proxy hosts in network namespaces of their own (their
//! own addresses, the same port), each an nginx unit driven by its own
//! `bgctl-proxy@` watcher, and a deploy host whose switch verifies through
//! all three (`[proxy] verify`). The app is published on the LAN address
//! and the stored `url` is what the proxies route to.
//!
//! Under load through all three proxies: ten switches, with an etcd member
//! killed mid-run and a hand-edited site repaired by the re-check; then a
//! watcher stopped and caught up on its first loop, a proxy whose `nginx -t`
//! fails (it keeps serving the last good site and the switch rolls back),
//! and a watcher killed with kill -9 that systemd restarts in time for the
//! next switch to be verified through it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use support::etcd::Cluster;
use support::proxy_hosts::{Lan, ProxyHost, app_host};
use support::{Load, LoadResult, Service, TestEnv, answer_at, etcd_revision, port, ports, stderr, wait_for};

const NAME: &str = "fleet";
const SWITCHES: usize = 10;

#[test]
fn three_proxy_hosts_follow_ten_switches_under_load_through_an_etcd_member_death() {
    let env = TestEnv::get();
    let mut lan = Lan::up(&env);
    let lan_host = app_host();
    // blue, green, and the deploy host's own nginx; and where every proxy
    // host listens, each on its own address.
    let (ports, proxy_port) = (ports(), port());
    let mut cluster = Cluster::start_on(&env, "fleet", 3, 23831, &lan_host);
    let publish = format!("[container]\npull = false\npublish = \"{lan_host}\"\n");
    let on_cluster = |text: String| {
        text.replace(
            &format!("[\"{}\"]", env.var("BGCTL_TEST_ETCD")),
            &cluster.endpoints_toml(),
        )
    };
    for i in 1..=3 {
        lan.add_host(i, proxy_port, NAME, |proxy| {
            on_cluster(env.config_text(NAME, (ports.0, ports.1, proxy_port), proxy, &publish))
        });
    }
    let all: Vec<&ProxyHost> = lan.hosts.iter().collect();
    let mut svc = Service::with_proxy(
        &env,
        NAME,
        ports,
        &deploy_proxy(&env, &all),
        &format!("publish = \"{lan_host}\"\n"),
    );
    svc.use_etcd(&cluster);
    svc.install();
    lan.start();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    for host in &lan.hosts {
        assert_eq!(
            answer_at(&host.addr()).unwrap().0,
            "HTTP/1.1 200 OK blue",
            "{}",
            host.addr()
        );
    }
    let url = svc.etcd("url").unwrap();
    assert_eq!(
        url,
        format!("198.51.100.1:{}", ports.0),
        "the stored url is the LAN address"
    );

    // Ten switches under load through all three, an etcd member killed mid-run.
    let watching = Pollers::start(&lan.hosts);
    let loads = loads_on(&lan.hosts);
    let mut lags = Vec::new();
    for n in 1..=SWITCHES {
        let image = if n % 2 == 1 { "bgctl-demo:v2" } else { "bgctl-demo:v1" };
        if n == 5 {
            let running = svc.spawn_until(&["switch", "--image", image], "", "start");
            std::thread::sleep(Duration::from_millis(500));
            cluster.kill(0);
            svc.etcd_endpoints = cluster.clients[1..].join(",");
            let (code, err) = running.finish();
            assert_eq!(code, Some(0), "the switch while etcd member 0 died: {err}");
        } else {
            let o = svc.bgctl(&["switch", "--image", image]);
            assert_eq!(o.status.code(), Some(0), "switch {n}: {}", stderr(&o));
        }
        lags.push(watching.lags_since_flip(&svc));
        if n == 3 {
            hand_edit_is_repaired(&lan.hosts[1], &svc);
        }
    }
    let results = stop(loads);
    let colors = watching.stop();
    let max = lags.iter().flatten().max().unwrap();
    eprintln!("every proxy served the new color after each flip (ms per switch, per proxy): {lags:?}");
    eprintln!("max over {SWITCHES} switches and 3 proxies: {} ms", max.as_millis());
    report("10 switches", &results);
    results.iter().for_each(LoadResult::assert_no_failures);
    assert_eq!(colors.failed, 0, "the pollers' own requests failed: {colors:?}");
    // No bar here (scripts/bench-proxy-watch measures): a proxy that did
    // not follow within verify's 10 s would have failed its switch.
    svc.assert_live("blue", "v1");

    stopped_watcher_catches_up(&env, &lan, &svc, &all);
    failed_nginx_test_keeps_the_last_good_site(&lan, &svc);
    killed_watcher_is_restarted_and_followed(&lan, &svc);

    for host in &lan.hosts {
        let pid = lan.show(&host.watcher, "MainPID");
        let rss = env.in_sandbox(&["grep", "VmRSS", &format!("/proc/{pid}/status")]);
        eprintln!("{}'s watcher: {}", host.address, support::stdout(&rss).trim());
    }
}

/// The deploy host: its own nginx, and every proxy host to verify through.
fn deploy_proxy(env: &TestEnv, hosts: &[&ProxyHost]) -> String {
    let urls: Vec<String> = hosts.iter().map(|h| format!("\"{}\"", h.url())).collect();
    format!("{}verify = [{}]\n", env.sandbox_proxy(NAME), urls.join(", "))
}

/// Load through each of `hosts`, as users of each proxy.
fn loads_on(hosts: &[ProxyHost]) -> Vec<Load> {
    hosts
        .iter()
        .map(|h| Load::start_at(&h.addr(), 3, 30, Duration::from_secs(900)))
        .collect()
}

fn stop(loads: Vec<Load>) -> Vec<LoadResult> {
    loads.into_iter().map(Load::stop).collect()
}

fn report(what: &str, results: &[LoadResult]) {
    for (i, r) in results.iter().enumerate() {
        eprintln!(
            "{what}: proxy {}: {} requests, {} failed",
            i + 1,
            r.requests(),
            r.failed()
        );
    }
}

/// A hand edit (not reloaded, so no user sees it) is put back by the
/// watcher's re-check (2 s) with nothing changed in etcd meanwhile.
fn hand_edit_is_repaired(host: &ProxyHost, svc: &Service) {
    // The switch's last writes are followed first: they would repair it too.
    std::thread::sleep(Duration::from_secs(1));
    let revision = etcd_revision(&svc.etcd_endpoints);
    let site = host.site(NAME);
    let good = std::fs::read_to_string(&site).unwrap();
    std::fs::write(&site, format!("{good}# edited by hand\n")).unwrap();
    let edited = Instant::now();
    let repaired = wait_for(Duration::from_secs(6), || {
        (std::fs::read_to_string(&site).unwrap() == good).then(|| edited.elapsed())
    });
    eprintln!("{}: a hand-edited site was repaired in {repaired:?}", host.address);
    assert!(repaired.is_some(), "{}", std::fs::read_to_string(&site).unwrap());
    assert_eq!(
        etcd_revision(&svc.etcd_endpoints),
        revision,
        "etcd changed: the repair may have been the watch's"
    );
}

/// Proxy 3's watcher is stopped and proxy 3 is out of rotation (no load,
/// not verified: what an operator does to a proxy under maintenance)
/// while a switch goes through the other two; started again, it is
/// ready only once its first loop caught up.
fn stopped_watcher_catches_up(env: &TestEnv, lan: &Lan, svc: &Service, all: &[&ProxyHost]) {
    let (two, third) = (&lan.hosts[..2], &lan.hosts[2]);
    lan.systemctl(&["stop", &third.watcher]);
    let config = std::fs::read_to_string(&svc.config).unwrap();
    let others: Vec<&ProxyHost> = two.iter().collect();
    std::fs::write(
        &svc.config,
        config.replace(&deploy_proxy(env, all), &deploy_proxy(env, &others)),
    )
    .unwrap();
    let loads = loads_on(two);
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v2"]);
    std::fs::write(&svc.config, &config).unwrap();
    let results = stop(loads);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    report("with proxy 3's watcher stopped", &results);
    results.iter().for_each(LoadResult::assert_no_failures);
    assert_eq!(answer_at(&third.addr()).unwrap().0, "HTTP/1.1 502 Bad Gateway blue");

    // Type=notify: started means its first loop is done, site and reload.
    let started = Instant::now();
    lan.systemctl(&["start", &third.watcher]);
    eprintln!("proxy 3's watcher caught up and was ready in {:?}", started.elapsed());
    let site = std::fs::read_to_string(third.site(NAME)).unwrap();
    let green = svc.ports.1;
    assert!(
        site.contains(&format!("server 198.51.100.1:{green} max_fails=0;")),
        "{site}"
    );
    let status = lan.show(&third.watcher, "StatusText");
    assert!(status.contains(&format!("green at 198.51.100.1:{green}")), "{status}");
    // nginx's reload is a signal: its new workers take over a moment later.
    let serving = wait_for(Duration::from_secs(5), || {
        let answer = answer_at(&third.addr())?.0;
        (answer == "HTTP/1.1 200 OK green").then(|| started.elapsed())
    });
    eprintln!("proxy 3 served green {serving:?} after its watcher was started");
    assert!(serving.is_some(), "{:?}", answer_at(&third.addr()));
}

/// Proxy 3's nginx refuses any new config: its watcher keeps the last
/// good site (users there keep the old color), says so, and the switch,
/// which proxy 3 never follows, is rolled back. No request fails anywhere.
fn failed_nginx_test_keeps_the_last_good_site(lan: &Lan, svc: &Service) {
    let third = &lan.hosts[2];
    let broken = third.dir.join("sites/zz-broken.conf");
    std::fs::write(&broken, "this is not nginx;\n").unwrap();
    let site = std::fs::read_to_string(third.site(NAME)).unwrap();
    let said_before = support::stdout(&lan.journal(&third.watcher)).len();
    let loads = loads_on(&lan.hosts);
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v1"]);
    let results = stop(loads);
    let err = stderr(&o);
    eprintln!("{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "requests through the proxy {} did not answer as blue",
            third.url()
        )),
        "{err}"
    );
    assert!(err.contains("green is live again"), "{err}");
    // Its watcher tried, and said why it kept the site (the state is back
    // on green by now, so its STATUS= says "in sync" again).
    let said = support::stdout(&lan.journal(&third.watcher))[said_before..].to_owned();
    assert!(
        said.contains("zz-broken.conf") && said.contains("the last good site stays"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(third.site(NAME)).unwrap(), site);
    report("proxy 3's nginx -t failing", &results);
    results.iter().for_each(LoadResult::assert_no_failures);
    std::fs::remove_file(&broken).unwrap();
    svc.assert_live("green", "v2");
    for host in &lan.hosts {
        assert_eq!(answer_at(&host.addr()).unwrap().0, "HTTP/1.1 200 OK green");
    }
}

/// kill -9 of proxy 1's watcher: systemd starts it again (RestartSec=2s)
/// and the next switch, verified through proxy 1 too, goes through.
fn killed_watcher_is_restarted_and_followed(lan: &Lan, svc: &Service) {
    let first = &lan.hosts[0];
    let restarts = lan.show(&first.watcher, "NRestarts");
    lan.systemctl(&["kill", "-s", "KILL", &first.watcher]);
    let loads = loads_on(&lan.hosts);
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v1"]);
    let results = stop(loads);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ne!(lan.show(&first.watcher, "NRestarts"), restarts, "not restarted");
    report("after kill -9 of proxy 1's watcher", &results);
    results.iter().for_each(LoadResult::assert_no_failures);
    svc.assert_live("blue", "v1");
    for host in &lan.hosts {
        assert_eq!(answer_at(&host.addr()).unwrap().0, "HTTP/1.1 200 OK blue");
    }
}

/// When the last switch's flip transaction returned, from its history record.
fn flip_done(svc: &Service) -> SystemTime {
    let o = svc.bgctl(&["history", "--json"]);
    let history: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", stderr(&o)));
    let last = &history[0];
    let start = humantime::parse_rfc3339(last["start"].as_str().unwrap()).unwrap();
    let phases = last["phases"].as_array().unwrap();
    let upto = phases.iter().position(|p| p["phase"] == "flip").expect("a flip phase");
    let ms: u64 = phases[..=upto].iter().map(|p| p["ms"].as_u64().unwrap()).sum();
    eprintln!("flip of {}: {} ms", last["id"], phases[upto]["ms"]);
    start + Duration::from_millis(ms)
}

/// One poller per proxy: who answers, every 20 ms, and when that changed.
struct Pollers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Seen>>,
    seen: Vec<Changes>,
}

/// When a proxy's answers changed color, and to which.
type Changes = Arc<std::sync::Mutex<Vec<(SystemTime, String)>>>;

/// What the pollers saw, all proxies together.
#[derive(Debug, Default)]
struct Seen {
    requests: u64,
    failed: u64,
}

impl Pollers {
    fn start(hosts: &[ProxyHost]) -> Pollers {
        let stop = Arc::new(AtomicBool::new(false));
        let mut pollers = Pollers {
            stop: stop.clone(),
            threads: Vec::new(),
            seen: Vec::new(),
        };
        for host in hosts {
            let (addr, stop) = (host.addr(), stop.clone());
            let changes = Changes::default();
            pollers.seen.push(changes.clone());
            pollers.threads.push(std::thread::spawn(move || {
                let mut seen = Seen::default();
                let mut last = String::new();
                while !stop.load(Ordering::Relaxed) {
                    let answer = answer_at(&addr).map(|(a, _)| a);
                    seen.requests += 1;
                    match answer.as_deref().and_then(|a| a.strip_prefix("HTTP/1.1 200 OK ")) {
                        Some(color) if color != last => {
                            last = color.to_owned();
                            changes.lock().unwrap().push((SystemTime::now(), last.clone()));
                        }
                        Some(_) => {}
                        None => seen.failed += 1,
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                seen
            }));
        }
        pollers
    }

    /// Per proxy: from the flip to its first answer from the new color.
    /// The flip is when its transaction returned (the history's start plus
    /// the phases up to flip): no proxy can see it before it commits, and
    /// a flip slowed by a dead member is not counted against the proxies.
    fn lags_since_flip(&self, svc: &Service) -> Vec<Duration> {
        let flip = flip_done(svc);
        let color = svc.etcd("color").unwrap();
        // Who answered before the flip committed answered from the old color.
        let since = flip - Duration::from_millis(1000);
        self.seen
            .iter()
            .map(|changes| {
                let first = wait_for(Duration::from_secs(10), || {
                    let changes = changes.lock().unwrap();
                    changes
                        .iter()
                        .find(|(t, c)| *t >= since && *c == color)
                        .map(|(t, _)| *t)
                });
                let at = first.unwrap_or_else(|| panic!("a proxy never answered from {color}"));
                at.duration_since(flip).unwrap_or_default()
            })
            .collect()
    }

    fn stop(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Seen::default();
        for t in self.threads {
            let seen = t.join().unwrap();
            all.requests += seen.requests;
            all.failed += seen.failed;
        }
        all
    }
}
