//! Proxy hosts of their own, for the tests of more than one proxy: a LAN
//! (a bridge on this host, which plays the app host and etcd's hosts) and
//! on it, per proxy, a network namespace made inside the sandbox, with its
//! own address, its own nginx unit and its own `bgctl-proxy@` watcher (the
//! shipped unit), both joined to that namespace by systemd
//! (`NetworkNamespacePath=`). Remote means another address, not another
//! port: every proxy listens on the same port. All of it is removed on
//! drop (and by `scripts/test-env down` after a crash).

use std::path::PathBuf;
use std::process::Output;

use super::{TestEnv, stderr};

/// TEST-NET-2 (RFC 5737), for documentation only: no real network uses
/// it (this machine's own is TEST-NET-1).
pub const LAN: &str = "198.51.100";
/// The bridge; `scripts/test-env down` removes it too.
pub const BRIDGE: &str = "bgctl-lan";

/// The LAN's address on this host: where the apps are published and etcd listens.
pub fn app_host() -> String {
    format!("{LAN}.1")
}

/// The LAN and its proxy hosts.
pub struct Lan<'a> {
    env: &'a TestEnv,
    pub hosts: Vec<ProxyHost>,
}

/// One proxy host: `<address>:<listen>` is where users reach it.
pub struct ProxyHost {
    pub address: String,
    pub listen: u16,
    pub netns: String,
    pub dir: PathBuf,
    /// Its watcher's config, the same service as the deploy host's with
    /// this host's nginx as `[proxy]`.
    pub config: PathBuf,
    pub nginx_unit: String,
    pub watcher: String,
}

impl ProxyHost {
    /// `<address>:<listen>`, for a client.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.address, self.listen)
    }

    /// `http://<address>:<listen>`, for `[proxy] verify`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The site its watcher writes.
    pub fn site(&self, service: &str) -> PathBuf {
        self.dir.join(format!("sites/{service}.conf"))
    }
}

impl<'a> Lan<'a> {
    /// The bridge at `<LAN>.1/24`; nothing else yet.
    pub fn up(env: &'a TestEnv) -> Lan<'a> {
        let lan = Lan { env, hosts: Vec::new() };
        lan.clear();
        let taken = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
        assert!(
            !taken.contains(&format!("{LAN}.")),
            "{LAN}.0/24 is in use on this machine: the proxy-host tests need it free"
        );
        for cmd in [
            vec!["ip", "link", "add", BRIDGE, "type", "bridge"],
            vec!["ip", "addr", "add", &format!("{}/24", app_host()), "dev", BRIDGE],
            vec!["ip", "link", "set", BRIDGE, "up"],
        ] {
            lan.sure(&cmd);
        }
        lan
    }

    /// Proxy host `i` (from 1) at `<LAN>.(10 + i)`: its namespace, a veth
    /// into the bridge, an nginx unit, and a watcher of `service` whose
    /// config is `config_text(<this host's [proxy] keys but listen>)`.
    pub fn add_host(&mut self, i: usize, listen: u16, service: &str, config_text: impl Fn(&str) -> String) {
        let (netns, address) = (format!("bgctl-px{i}"), format!("{LAN}.{}", 10 + i));
        let dir = self.env.dir().join(format!("proxy-hosts/px{i}"));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["sites", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let _ = std::process::Command::new("chown")
            .args(["www-data:", dir.join("tmp").to_str().unwrap()])
            .status();
        let host = ProxyHost {
            address: address.clone(),
            listen,
            netns: netns.clone(),
            config: dir.join("bgctl.toml"),
            nginx_unit: format!("bgctl-test-px{i}.service"),
            watcher: format!("bgctl-proxy@px{i}.service"),
            dir,
        };
        for cmd in [
            vec!["ip", "netns", "add", &netns],
            vec![
                "ip", "link", "add", &netns, "type", "veth", "peer", "name", "eth0", "netns", &netns,
            ],
            vec!["ip", "link", "set", &netns, "master", BRIDGE, "up"],
            vec![
                "ip",
                "-n",
                &netns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                "eth0",
            ],
            vec!["ip", "-n", &netns, "link", "set", "eth0", "up"],
            vec!["ip", "-n", &netns, "link", "set", "lo", "up"],
        ] {
            self.sure(&cmd);
        }
        let conf = host.dir.join("nginx.conf");
        std::fs::write(&conf, nginx_conf(&host)).unwrap();
        std::fs::write(&host.config, config_text(&proxy_keys(&host, service, &conf))).unwrap();
        std::fs::write(self.env.unit_dir().join(&host.nginx_unit), nginx_unit(&host, &conf)).unwrap();
        self.install_watcher(&host);
        self.hosts.push(host);
    }

    /// The shipped `bgctl-proxy@.service`, with the host's config, a
    /// re-check of 2 s, and the host's network namespace.
    fn install_watcher(&self, host: &ProxyHost) {
        let args = format!("--config {} proxy sync --watch --recheck 2s", host.config.display());
        let extra = format!(
            "NetworkNamespacePath=/run/netns/{}\n\n[Unit]\nAfter={}\n",
            host.netns, host.nginx_unit
        );
        self.env.install_watcher(&host.watcher, &args, &extra);
    }

    /// Starts every host's nginx, then its watcher (`Type=notify`: started
    /// once its first sync is done).
    pub fn start(&self) {
        self.systemctl(&["daemon-reload"]);
        for host in &self.hosts {
            self.systemctl(&["start", &host.nginx_unit]);
            self.systemctl(&["start", &host.watcher]);
        }
    }

    /// `systemctl <args>` in the sandbox, which must succeed: its stdout.
    pub fn systemctl(&self, args: &[&str]) -> String {
        self.env.systemctl(args)
    }

    /// One property of a unit (`systemctl show -p`).
    pub fn show(&self, unit: &str, property: &str) -> String {
        self.env.show(unit, property)
    }

    /// What a unit wrote to the sandbox's journal.
    pub fn journal(&self, unit: &str) -> Output {
        self.sure(&["journalctl", "-u", unit, "-o", "cat", "--no-pager"])
    }

    fn sure(&self, cmd: &[&str]) -> Output {
        let o = self.env.in_sandbox(cmd);
        assert!(o.status.success(), "{cmd:?}: {}", stderr(&o));
        o
    }

    /// Units, namespaces, links and files: gone, whatever was made.
    fn clear(&self) {
        for i in 1..=9 {
            let (nginx, watcher) = (
                format!("bgctl-test-px{i}.service"),
                format!("bgctl-proxy@px{i}.service"),
            );
            if self.env.unit_dir().join(&nginx).exists() {
                let _ = self.env.in_sandbox(&["systemctl", "stop", &watcher, &nginx]);
                let _ = std::fs::remove_file(self.env.unit_dir().join(&nginx));
                let _ = std::fs::remove_dir_all(self.env.unit_dir().join(format!("{watcher}.d")));
            }
            let netns = format!("bgctl-px{i}");
            let _ = self.env.in_sandbox(&["ip", "link", "del", &netns]);
            let _ = self.env.in_sandbox(&["ip", "netns", "del", &netns]);
        }
        let _ = self.env.in_sandbox(&["ip", "link", "del", BRIDGE]);
        let _ = std::fs::remove_file(self.env.unit_dir().join("bgctl-proxy@.service"));
        let _ = self.env.in_sandbox(&["systemctl", "daemon-reload"]);
    }
}

impl Drop for Lan<'_> {
    fn drop(&mut self) {
        self.clear();
        let _ = std::fs::remove_dir_all(self.env.dir().join("proxy-hosts"));
    }
}

/// The `[proxy]` keys of a proxy host's own nginx.
fn proxy_keys(host: &ProxyHost, service: &str, conf: &std::path::Path) -> String {
    format!(
        "site = \"{}\"\nnginx_conf = \"{}\"\nunit = \"{}\"\n",
        host.site(service).display(),
        conf.display(),
        host.nginx_unit
    )
}

fn nginx_conf(host: &ProxyHost) -> String {
    let d = host.dir.display();
    format!(
        "# nginx of proxy host {addr}: sites its watcher writes live in {d}/sites.
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log /dev/null;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    include {d}/sites/*.conf;
}}
",
        addr = host.address
    )
}

fn nginx_unit(host: &ProxyHost, conf: &std::path::Path) -> String {
    let c = conf.display();
    format!(
        "[Unit]
Description=nginx of proxy host {addr} (network namespace {netns})
DefaultDependencies=no

[Service]
Type=exec
NetworkNamespacePath=/run/netns/{netns}
ExecStartPre=/usr/sbin/nginx -t -q -c {c}
ExecStart=/usr/sbin/nginx -c {c} -g 'daemon off;'
ExecReload=/usr/sbin/nginx -t -q -c {c}
ExecReload=/bin/kill -HUP $MAINPID
KillMode=mixed
KillSignal=SIGQUIT
",
        addr = host.address,
        netns = host.netns
    )
}
