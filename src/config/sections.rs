//! The sections of a service's TOML file (DESIGN §2), with their defaults.
//! Defaults are named constants so the CLI, docs and tests share them.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Deserializer};

use crate::domain::{
    AbsPath, Argv, BodySize, DockerHost, EmailAddress, Endpoint, EnvName, ErrorRatio, HealthPath, HostName, HttpStatus,
    HttpUrl, HumanDuration, ImageRef, KeyPrefix, Port, PrintableText, ProxyUrl, ServerName, UnitName,
};

pub const DEFAULT_CONTAINER_PORT: Port = port(9000);
pub const DEFAULT_BLUE_PORT: Port = port(9001);
pub const DEFAULT_GREEN_PORT: Port = port(9002);
pub const DEFAULT_STOP_TIMEOUT: HumanDuration = HumanDuration::from_millis(10_000);
pub const DEFAULT_PUBLISH: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
pub const DEFAULT_LISTEN: Port = port(80);
pub const DEFAULT_SERVER_NAME: &str = "_";
pub const DEFAULT_SITE_DIR: &str = "/etc/nginx/sites-enabled";
pub const DEFAULT_NGINX_CONF: &str = "/etc/nginx/nginx.conf";
pub const DEFAULT_NGINX_BIN: &str = "/usr/sbin/nginx";
pub const DEFAULT_NGINX_UNIT: &str = "nginx.service";
pub const DEFAULT_DRAIN: HumanDuration = HumanDuration::from_millis(5_000);
pub const DEFAULT_ETCD_ENDPOINT: &str = "http://127.0.0.1:2379";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/bgctl";
pub const DEFAULT_UNIT_DIR: &str = "/etc/systemd/system";
pub const DEFAULT_DOCKER_UNIT: &str = "docker.service";
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";
pub const DEFAULT_DOCKER_CLI: &str = "/usr/bin/docker";
pub const DEFAULT_CHECKS_TIMEOUT: HumanDuration = HumanDuration::from_millis(60_000);
pub const DEFAULT_GUARD_WINDOW: HumanDuration = HumanDuration::from_millis(0);
pub const DEFAULT_GUARD_MAX_ERROR_RATIO: f64 = 0.02;
pub const DEFAULT_GUARD_MIN_REQUESTS: u32 = 20;
pub const DEFAULT_GUARD_LOG_DIR: &str = "/var/log/nginx";
pub const DEFAULT_KEEPALIVE: u16 = 16;
pub const DEFAULT_CLIENT_MAX_BODY_SIZE: &str = "1m";
pub const DEFAULT_READ_TIMEOUT: HumanDuration = HumanDuration::from_millis(60_000);
pub const DEFAULT_ACME_DIR: &str = "/var/lib/bgctl/acme";

const fn port(n: u16) -> Port {
    match Port::new(n) {
        Some(p) => p,
        None => panic!("a default port is 0"),
    }
}

pub(super) fn parsed<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().expect("a default value is valid")
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Colors {
    pub blue: Port,
    pub green: Port,
}

impl Default for Colors {
    fn default() -> Self {
        Self {
            blue: DEFAULT_BLUE_PORT,
            green: DEFAULT_GREEN_PORT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Container {
    pub env: BTreeMap<EnvName, PrintableText>,
    pub args: Vec<PrintableText>,
    pub pull: bool,
    pub stop_timeout: HumanDuration,
    pub publish: IpAddr,
    /// Host in the stored url; `None` ("" in the file) means derive it.
    #[serde(deserialize_with = "empty_is_none")]
    pub advertise: Option<HostName>,
    /// Secrets: a root-only `KEY=VALUE` file the docker CLI reads at each
    /// start (`--env-file`); bgctl never copies a value. `None` = none.
    #[serde(deserialize_with = "empty_is_none")]
    pub env_file: Option<AbsPath>,
    /// Repositories whose images may run; `[]` = the repository of `image`.
    pub allowed_images: Vec<ImageRef>,
}

impl Default for Container {
    fn default() -> Self {
        Self {
            env: BTreeMap::new(),
            args: Vec::new(),
            pull: true,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            publish: DEFAULT_PUBLISH,
            advertise: None,
            env_file: None,
            allowed_images: Vec::new(),
        }
    }
}

/// `""` → `None`; anything else must parse.
fn empty_is_none<'de, D: Deserializer<'de>, T: TryFrom<String>>(d: D) -> Result<Option<T>, D::Error>
where
    T::Error: std::fmt::Display,
{
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    T::try_from(s).map(Some).map_err(serde::de::Error::custom)
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Proxy {
    pub listen: Port,
    pub server_name: ServerName,
    pub default_server: bool,
    /// `None` means `/etc/nginx/sites-enabled/<name>.conf`.
    pub site: Option<AbsPath>,
    pub nginx_conf: AbsPath,
    pub nginx_bin: AbsPath,
    pub unit: UnitName,
    /// The longest phase drain waits for the old color to go idle.
    pub drain: HumanDuration,
    /// `idle`: the drain ends once no connection to the old color is left;
    /// `full`: it always lasts `drain` (an app that works on after it answered).
    pub drain_wait: DrainWait,
    /// How a site is tested before a reload; `None` means
    /// `[nginx_bin, "-t", "-q", "-c", nginx_conf]`. A containerised nginx
    /// (CoreOS, Flatcar) is tested with `docker exec`.
    pub test: Option<Argv>,
    /// Where the site also listens, sending to the color that is not live
    /// (the staged one); `None` (0 in the file) means no preview.
    #[serde(deserialize_with = "zero_is_none")]
    pub preview_listen: Option<Port>,
    /// Other proxies (hosts running `bgctl-proxy@`) that must answer with
    /// the new color too before the old one is left behind.
    pub verify: Vec<ProxyUrl>,
    /// Pass `Upgrade`/`Connection`, so websockets reach the app.
    pub websockets: bool,
    /// Idle upstream connections each nginx worker keeps to the color; 0 = off.
    pub keepalive: u16,
    pub client_max_body_size: BodySize,
    /// nginx's proxy_read_timeout and proxy_send_timeout.
    pub read_timeout: HumanDuration,
    /// The user's own file, included in the server blocks that serve the
    /// app (extra locations); bgctl never writes it. `None` ("") = none.
    #[serde(deserialize_with = "empty_is_none")]
    pub include: Option<AbsPath>,
    pub tls: Tls,
}

impl Default for Proxy {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            server_name: parsed(DEFAULT_SERVER_NAME),
            default_server: false,
            site: None,
            nginx_conf: parsed(DEFAULT_NGINX_CONF),
            nginx_bin: parsed(DEFAULT_NGINX_BIN),
            unit: parsed(DEFAULT_NGINX_UNIT),
            drain: DEFAULT_DRAIN,
            drain_wait: DrainWait::Idle,
            test: None,
            preview_listen: None,
            verify: Vec::new(),
            websockets: true,
            keepalive: DEFAULT_KEEPALIVE,
            client_max_body_size: parsed(DEFAULT_CLIENT_MAX_BODY_SIZE),
            read_timeout: DEFAULT_READ_TIMEOUT,
            include: None,
            tls: Tls::default(),
        }
    }
}

/// `[proxy.tls]` (DESIGN §10): HTTPS on a port of its own, with the
/// user's certificate or one bgctl obtains and renews over ACME.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// `None` (0 in the file): no TLS.
    #[serde(deserialize_with = "zero_is_none")]
    pub listen: Option<Port>,
    /// PEM chain; with `acme`, `None` means `<acme_dir>/<name>/cert.pem`.
    #[serde(deserialize_with = "empty_is_none")]
    pub cert: Option<AbsPath>,
    /// With `acme`, `None` means `<acme_dir>/<name>/key.pem`.
    #[serde(deserialize_with = "empty_is_none")]
    pub key: Option<AbsPath>,
    /// The plain port answers 301 to https (but ACME challenges).
    pub redirect_http: bool,
    /// Strict-Transport-Security max-age; 0s = none.
    pub hsts: HumanDuration,
    pub acme: bool,
    #[serde(deserialize_with = "empty_is_none")]
    pub acme_directory: Option<HttpUrl>,
    #[serde(deserialize_with = "empty_is_none")]
    pub acme_email: Option<EmailAddress>,
    /// An extra root to trust for the directory (a test CA).
    #[serde(deserialize_with = "empty_is_none")]
    pub acme_ca: Option<AbsPath>,
    /// `[]`: the server_name words.
    pub acme_domains: Vec<HostName>,
    pub acme_dir: AbsPath,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            listen: None,
            cert: None,
            key: None,
            redirect_http: true,
            hsts: HumanDuration::from_millis(0),
            acme: false,
            acme_directory: None,
            acme_email: None,
            acme_ca: None,
            acme_domains: Vec::new(),
            acme_dir: parsed(DEFAULT_ACME_DIR),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrainWait {
    #[default]
    Idle,
    Full,
}

/// `0` → `None`; any other number must be a port.
fn zero_is_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Port>, D::Error> {
    match i64::deserialize(d)? {
        0 => Ok(None),
        n => Port::try_from(n).map(Some).map_err(serde::de::Error::custom),
    }
}

/// `[]` → `None`; anything else must be a command.
fn empty_is_no_command<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Argv>, D::Error> {
    let words = Vec::<String>::deserialize(d)?;
    if words.is_empty() {
        return Ok(None);
    }
    Argv::try_from(words).map(Some).map_err(serde::de::Error::custom)
}

/// What must pass against the new color, on its own port, after it is
/// healthy and before any traffic moves to it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Checks {
    pub http: Vec<HttpCheck>,
    /// A test suite run without a shell; `None` (`[]`) means none.
    #[serde(deserialize_with = "empty_is_no_command")]
    pub command: Option<Argv>,
    /// For every check together.
    pub timeout: HumanDuration,
}

impl Default for Checks {
    fn default() -> Self {
        Self {
            http: Vec::new(),
            command: None,
            timeout: DEFAULT_CHECKS_TIMEOUT,
        }
    }
}

/// `GET <path>` on the new color must answer `status`, with `contains` in
/// its body (`""`: any body).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub path: HealthPath,
    #[serde(default = "ok_status")]
    pub status: HttpStatus,
    #[serde(default = "nothing")]
    pub contains: PrintableText,
}

fn ok_status() -> HttpStatus {
    HttpStatus::OK
}

fn nothing() -> PrintableText {
    parsed("")
}

/// Commands run around a switch, without a shell; `None` (`[]`) means none.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hooks {
    /// After the checks, before the flip (an expand-only migration);
    /// failing aborts the deploy as a failed check does.
    #[serde(deserialize_with = "empty_is_no_command")]
    pub pre_flip: Option<Argv>,
    /// After the old color stopped; a failure is reported, nothing undone.
    #[serde(deserialize_with = "empty_is_no_command")]
    pub post_switch: Option<Argv>,
}

/// After verify, the new color's real traffic is watched in the proxy's
/// access log while the old color still runs; too many 5xx roll back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Guard {
    /// `0s`: no guard.
    pub window: HumanDuration,
    pub max_error_ratio: ErrorRatio,
    /// Fewer responses than this in the window: the guard passes.
    pub min_requests: u32,
    /// The JSON access log the site writes while a guarded switch runs;
    /// `None` means `/var/log/nginx/bgctl_<name>.guard.json`.
    pub log: Option<AbsPath>,
}

impl Guard {
    pub fn enabled(&self) -> bool {
        !self.window.get().is_zero()
    }
}

impl Default for Guard {
    fn default() -> Self {
        Self {
            window: DEFAULT_GUARD_WINDOW,
            max_error_ratio: ErrorRatio::try_from(DEFAULT_GUARD_MAX_ERROR_RATIO).expect("a default ratio is valid"),
            min_requests: DEFAULT_GUARD_MIN_REQUESTS,
            log: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Etcd,
    File,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct State {
    pub backend: Backend,
    pub endpoints: Vec<Endpoint>,
    /// `None` means `/<name>` with `_` as `-` (the classic recipe's keys).
    pub prefix: Option<KeyPrefix>,
    pub user: Option<PrintableText>,
    pub password: Option<PrintableText>,
    /// The password in a root-only file of its own (what `provision`
    /// writes 0600), rather than in the config.
    #[serde(deserialize_with = "empty_is_none")]
    pub password_file: Option<AbsPath>,
    pub ca: Option<AbsPath>,
    pub cert: Option<AbsPath>,
    pub key: Option<AbsPath>,
    /// File backend; `None` means `/var/lib/bgctl/<name>.json`.
    pub path: Option<AbsPath>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            backend: Backend::Etcd,
            endpoints: vec![parsed(DEFAULT_ETCD_ENDPOINT)],
            prefix: None,
            user: None,
            password: None,
            password_file: None,
            ca: None,
            cert: None,
            key: None,
            path: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Systemd {
    pub unit_dir: AbsPath,
    /// `None` ("" in the file) leaves After=/Wants= out of the units.
    #[serde(deserialize_with = "empty_is_none")]
    pub docker_unit: Option<UnitName>,
}

impl Default for Systemd {
    fn default() -> Self {
        Self {
            unit_dir: parsed(DEFAULT_UNIT_DIR),
            docker_unit: Some(parsed(DEFAULT_DOCKER_UNIT)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Docker {
    pub host: DockerHost,
    pub cli: AbsPath,
}

impl Default for Docker {
    fn default() -> Self {
        Self {
            host: parsed(DEFAULT_DOCKER_HOST),
            cli: parsed(DEFAULT_DOCKER_CLI),
        }
    }
}
