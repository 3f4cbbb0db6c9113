//! A service's configuration (DESIGN §2): one TOML file, unknown keys
//! refused with their line, every value validated while it is parsed, and
//! the checks that span fields done once after.

mod health;
mod locate;
mod sections;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use health::*;
pub use locate::{CONFIG_DIR, ConfigSource, locate};
pub use sections::*;

use crate::domain::{AbsPath, Argv, Color, HostName, ImageRef, KeyPrefix, Port, ServiceName, UnitName};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub name: ServiceName,
    pub image: ImageRef,
    #[serde(default = "default_container_port")]
    pub container_port: Port,
    #[serde(default)]
    pub colors: Colors,
    #[serde(default)]
    pub container: Container,
    #[serde(default)]
    pub health: Health,
    #[serde(default)]
    pub proxy: Proxy,
    #[serde(default)]
    pub state: State,
    #[serde(default)]
    pub systemd: Systemd,
    #[serde(default)]
    pub docker: Docker,
    #[serde(default)]
    pub checks: Checks,
    #[serde(default)]
    pub hooks: Hooks,
    #[serde(default)]
    pub guard: Guard,
}

fn default_container_port() -> Port {
    DEFAULT_CONTAINER_PORT
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config {path}: {problem}")]
    Invalid { path: PathBuf, problem: Problem },
    #[error("no config in {dir}: create {dir}/<name>.toml, or pass --config FILE or -s NAME")]
    NotFound { dir: PathBuf },
    #[error("{dir} holds several configs ({names}): pick one with -s NAME or --config FILE")]
    Ambiguous { dir: PathBuf, names: String },
    #[error("config {path} names service {found:?}, but -s asked for {asked:?}: fix `name` or the file name")]
    NameMismatch {
        path: PathBuf,
        asked: ServiceName,
        found: ServiceName,
    },
}

/// A config whose keys each parse but do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("colors.blue and colors.green are both {0}: give each color its own host port")]
    ColorPortClash(Port),
    #[error("proxy.listen {0} is also a color's port: nginx and the app cannot share it")]
    ListenClash(Port),
    #[error("proxy.preview_listen {0} is also proxy.listen or a color's port: give the preview a port of its own")]
    PreviewClash(Port),
    #[error("{key} is 0: it must be longer than that")]
    ZeroDuration { key: &'static str },
    #[error("state.cert and state.key go together: set both or neither")]
    TlsPairIncomplete,
    #[error("state.password is set without state.user")]
    PasswordWithoutUser,
    #[error("state.password and state.password_file are both set: keep the password in one place (the file)")]
    PasswordTwice,
    #[error("state.endpoints is empty: list at least one etcd URL")]
    NoEndpoints,
    #[error(
        "guard.log {0:?} goes into the nginx site and is emptied by bgctl: a path of letters, digits and . _ - / that ends in .json"
    )]
    GuardLogPath(String),
    #[error("{key} {path:?} goes into the nginx site: a path of letters, digits and . _ - / only")]
    SitePath { key: &'static str, path: String },
    #[error("proxy.tls.listen {0} is also proxy.listen, the preview's or a color's port: give TLS a port of its own")]
    TlsListenClash(Port),
    #[error(
        "proxy.tls.listen is set without proxy.tls.cert and proxy.tls.key: give both, or set proxy.tls.acme = true"
    )]
    TlsWithoutCert,
    #[error("proxy.tls.{0} is set but proxy.tls.listen is 0: set listen (e.g. 443) to serve HTTPS")]
    TlsWithoutListen(&'static str),
    #[error("proxy.tls.acme = true needs proxy.tls.acme_directory (the ACME server's directory URL)")]
    AcmeWithoutDirectory,
    #[error(
        "proxy.tls.acme = true needs domain names: set proxy.tls.acme_domains, or proxy.server_name to the site's names (not \"_\")"
    )]
    AcmeWithoutDomains,
    #[error(
        "systemd.unit_dir {0:?} holds a backslash: the units name files in it (EnvironmentFile=), where systemd reads one as an escape"
    )]
    UnitDirBackslash(String),
    #[error("container.allowed_images lists {0:?}: name a repository, without a tag or digest")]
    AllowedImageWithTag(String),
    #[error("image {image} is outside container.allowed_images ({allowed}): list its repository there")]
    ImageNotAllowed { image: ImageRef, allowed: String },
}

impl Config {
    /// Reads and validates `path`. Nothing else is touched.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse_file(path, &text)
    }

    /// Validates `text`, read from `path` (which errors name).
    pub fn parse_file(path: &Path, text: &str) -> Result<Config, ConfigError> {
        Config::parse(text).map_err(|e| match e {
            ParseError::Toml(message) => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            ParseError::Invalid(problem) => ConfigError::Invalid {
                path: path.to_owned(),
                problem,
            },
        })
    }

    /// Parses TOML text: syntax, keys and values, then the cross-field rules.
    pub fn parse(text: &str) -> Result<Config, ParseError> {
        let config: Config = toml::from_str(text).map_err(|e| ParseError::Toml(e.to_string().trim_end().to_owned()))?;
        config.check().map_err(ParseError::Invalid)?;
        Ok(config)
    }

    fn check(&self) -> Result<(), Problem> {
        let Colors { blue, green } = self.colors;
        if blue == green {
            return Err(Problem::ColorPortClash(blue));
        }
        if self.proxy.listen == blue || self.proxy.listen == green {
            return Err(Problem::ListenClash(self.proxy.listen));
        }
        if let Some(preview) = self.proxy.preview_listen
            && [blue, green, self.proxy.listen].contains(&preview)
        {
            return Err(Problem::PreviewClash(preview));
        }
        let unit_dir = self.systemd.unit_dir.as_str();
        if unit_dir.contains('\\') {
            return Err(Problem::UnitDirBackslash(unit_dir.to_owned()));
        }
        let durations = [
            ("health.timeout", self.health.timeout),
            ("health.interval", self.health.interval),
            ("checks.timeout", self.checks.timeout),
            ("proxy.read_timeout", self.proxy.read_timeout),
        ];
        if let Some((key, _)) = durations.iter().find(|(_, d)| d.get().is_zero()) {
            return Err(Problem::ZeroDuration { key });
        }
        let state = &self.state;
        if state.cert.is_some() != state.key.is_some() {
            return Err(Problem::TlsPairIncomplete);
        }
        if (state.password.is_some() || state.password_file.is_some()) && state.user.is_none() {
            return Err(Problem::PasswordWithoutUser);
        }
        if state.password.is_some() && state.password_file.is_some() {
            return Err(Problem::PasswordTwice);
        }
        if state.backend == Backend::Etcd && state.endpoints.is_empty() {
            return Err(Problem::NoEndpoints);
        }
        let log = self.guard_log();
        if !site_safe(&log) || !log.as_str().ends_with(".json") {
            return Err(Problem::GuardLogPath(log.to_string()));
        }
        self.check_site_paths()?;
        self.check_tls()?;
        if let Some(entry) = (self.container.allowed_images.iter()).find(|e| e.repository() != e.as_str()) {
            return Err(Problem::AllowedImageWithTag(entry.to_string()));
        }
        self.check_image(&self.image)
    }

    /// Refuses an image outside `[container] allowed_images` (default: the
    /// repository of `image`), wherever it came from: `--image`, the state
    /// store or history. Whoever can write etcd cannot choose what runs.
    pub fn check_image(&self, image: &ImageRef) -> Result<(), Problem> {
        let allowed = self.allowed_repositories();
        if allowed.contains(&image.repository()) {
            return Ok(());
        }
        Err(Problem::ImageNotAllowed {
            image: image.clone(),
            allowed: allowed.join(", "),
        })
    }

    fn allowed_repositories(&self) -> Vec<&str> {
        match &self.container.allowed_images[..] {
            [] => vec![self.image.repository()],
            listed => listed.iter().map(ImageRef::repository).collect(),
        }
    }

    /// Every path the site names is plain text for nginx.
    fn check_site_paths(&self) -> Result<(), Problem> {
        let tls = &self.proxy.tls;
        let paths = [
            ("proxy.include", self.proxy.include.clone()),
            ("proxy.tls.cert", self.tls_cert()),
            ("proxy.tls.key", self.tls_key()),
            ("proxy.tls.acme_dir", tls.acme.then(|| tls.acme_dir.clone())),
        ];
        match paths
            .into_iter()
            .find(|(_, p)| p.as_ref().is_some_and(|p| !site_safe(p)))
        {
            Some((key, path)) => Err(Problem::SitePath {
                key,
                path: path.map(|p| p.to_string()).unwrap_or_default(),
            }),
            None => Ok(()),
        }
    }

    fn check_tls(&self) -> Result<(), Problem> {
        let tls = &self.proxy.tls;
        let Some(listen) = tls.listen else {
            let set = [
                ("cert", tls.cert.is_some()),
                ("key", tls.key.is_some()),
                ("acme", tls.acme),
            ];
            return match set.iter().find(|(_, on)| *on) {
                Some((key, _)) => Err(Problem::TlsWithoutListen(key)),
                None => Ok(()),
            };
        };
        let Colors { blue, green } = self.colors;
        if [blue, green, self.proxy.listen].contains(&listen) || self.proxy.preview_listen == Some(listen) {
            return Err(Problem::TlsListenClash(listen));
        }
        if !tls.acme {
            return match (&tls.cert, &tls.key) {
                (Some(_), Some(_)) => Ok(()),
                _ => Err(Problem::TlsWithoutCert),
            };
        }
        if tls.acme_directory.is_none() {
            return Err(Problem::AcmeWithoutDirectory);
        }
        if self.acme_domains().is_empty() {
            return Err(Problem::AcmeWithoutDomains);
        }
        Ok(())
    }

    pub fn port(&self, color: Color) -> Port {
        match color {
            Color::Blue => self.colors.blue,
            Color::Green => self.colors.green,
        }
    }

    /// `<name>_<color>@<port>.service`: the color's running unit.
    pub fn unit(&self, color: Color) -> UnitName {
        crate::naming::instance_unit(&self.name, color, self.port(color))
    }

    /// `<name>_<color>`: the color's container.
    pub fn container(&self, color: Color) -> String {
        crate::naming::instance(&self.name, color)
    }

    /// Where the proxy and the probe reach a color's published port: the
    /// publish address, or loopback when it is published on every address.
    pub fn upstream_ip(&self) -> IpAddr {
        match self.container.publish {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        }
    }

    /// `http://<upstream_ip>:<port>`: where bgctl itself reaches a color
    /// (`BGCTL_URL` for checks and hooks).
    pub fn local_url(&self, color: Color) -> String {
        let host = match self.upstream_ip() {
            IpAddr::V6(v6) => format!("[{v6}]"),
            ip => ip.to_string(),
        };
        format!("http://{host}:{}", self.port(color))
    }

    /// The stored `url` of a color: `<advertise>:<port>`, where advertise
    /// defaults to the publish address, or the host name when that is 0.0.0.0.
    pub fn url(&self, color: Color) -> String {
        let host = match (&self.container.advertise, self.container.publish) {
            (Some(host), _) => host.to_string(),
            (None, ip) if ip.is_unspecified() => host_name(),
            (None, IpAddr::V6(v6)) => format!("[{v6}]"),
            (None, ip) => ip.to_string(),
        };
        format!("{host}:{}", self.port(color))
    }

    /// `[proxy] site`, or `/etc/nginx/sites-enabled/<name>.conf`.
    pub fn site(&self) -> AbsPath {
        self.proxy.site.clone().unwrap_or_else(|| {
            AbsPath::parse(DEFAULT_SITE_DIR)
                .and_then(|dir| dir.join(&format!("{}.conf", self.name)))
                .expect("a service name is a valid file name")
        })
    }

    /// `[proxy] test`, or `<nginx_bin> -t -q -c <nginx_conf>`.
    pub fn proxy_test(&self) -> Argv {
        self.proxy.test.clone().unwrap_or_else(|| {
            let words = ["-t", "-q", "-c", self.proxy.nginx_conf.as_str()];
            let args = words.iter().map(|w| w.parse().expect("printable")).collect();
            Argv::new(self.proxy.nginx_bin.clone(), args)
        })
    }

    /// `[guard] log`, or `/var/log/nginx/bgctl_<name>.guard.json`.
    pub fn guard_log(&self) -> AbsPath {
        self.guard.log.clone().unwrap_or_else(|| {
            AbsPath::parse(DEFAULT_GUARD_LOG_DIR)
                .and_then(|dir| dir.join(&format!("bgctl_{}.guard.json", self.name)))
                .expect("a service name is a valid file name")
        })
    }

    /// The certificate the TLS server serves: `[proxy.tls] cert`, or with
    /// ACME `<acme_dir>/<name>/cert.pem`. `None`: no TLS.
    pub fn tls_cert(&self) -> Option<AbsPath> {
        self.tls_file(&self.proxy.tls.cert, "cert.pem")
    }

    /// Its key: `[proxy.tls] key`, or with ACME `<acme_dir>/<name>/key.pem`.
    pub fn tls_key(&self) -> Option<AbsPath> {
        self.tls_file(&self.proxy.tls.key, "key.pem")
    }

    fn tls_file(&self, set: &Option<AbsPath>, acme_name: &str) -> Option<AbsPath> {
        self.proxy.tls.listen?;
        set.clone().or_else(|| {
            self.proxy
                .tls
                .acme
                .then(|| self.acme_home().join(acme_name).expect("a file name is one component"))
        })
    }

    /// `<acme_dir>/<name>`: the ACME account, the certificate bgctl
    /// obtained, and `challenges/`.
    pub fn acme_home(&self) -> AbsPath {
        (self.proxy.tls.acme_dir.join(self.name.as_str())).expect("a service name is a valid file name")
    }

    /// Where nginx serves `/.well-known/acme-challenge/` from.
    pub fn acme_challenges(&self) -> AbsPath {
        self.acme_home().join("challenges").expect("one component")
    }

    /// The names the certificate is for: `[proxy.tls] acme_domains`, or
    /// the words of `server_name` that are host names.
    pub fn acme_domains(&self) -> Vec<HostName> {
        if !self.proxy.tls.acme_domains.is_empty() {
            return self.proxy.tls.acme_domains.clone();
        }
        (self.proxy.server_name.as_str().split(' '))
            .filter_map(|word| HostName::parse(word).ok())
            .collect()
    }

    /// [`Config::acme_domains`] as strings.
    pub fn acme_domain_names(&self) -> Vec<String> {
        self.acme_domains().iter().map(|d| d.to_string()).collect()
    }

    /// [`Config::acme_domains`] comma-separated: for messages.
    pub fn acme_domain_list(&self) -> String {
        self.acme_domain_names().join(", ")
    }

    /// `[state] prefix`, or `/<name>` with `_` as `-` (`/bdd-assistant`).
    pub fn prefix(&self) -> KeyPrefix {
        self.state.prefix.clone().unwrap_or_else(|| {
            KeyPrefix::parse(&format!("/{}", self.name.as_str().replace('_', "-")))
                .expect("a service name is a valid key")
        })
    }

    /// `[state] path`, or `/var/lib/bgctl/<name>.json`.
    pub fn state_path(&self) -> AbsPath {
        self.state.path.clone().unwrap_or_else(|| {
            AbsPath::parse(DEFAULT_STATE_DIR)
                .and_then(|dir| dir.join(&format!("{}.json", self.name)))
                .expect("a service name is a valid file name")
        })
    }
}

/// A path nginx reads as one plain word: letters, digits and `._-/`.
fn site_safe(path: &AbsPath) -> bool {
    path.as_str()
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
}

/// This machine's name, as the kernel has it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Syntax, an unknown key or a bad value: toml's message names the line.
    Toml(String),
    Invalid(Problem),
}

#[cfg(test)]
mod tests;
