//! A service's configuration (DESIGN §2): one TOML file, unknown keys
//! refused with their line, every value validated while it is parsed, and
//! the checks that span fields done once after.

mod locate;
mod sections;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use locate::{CONFIG_DIR, ConfigSource, locate};
pub use sections::*;

use crate::domain::{AbsPath, Argv, Color, ImageRef, KeyPrefix, Port, ServiceName, UnitName};

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
    #[error("state.endpoints is empty: list at least one etcd URL")]
    NoEndpoints,
    #[error(
        "guard.log {0:?} goes into the nginx site and is emptied by bgctl: a path of letters, digits and . _ - / that ends in .json"
    )]
    GuardLogPath(String),
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
        let durations = [
            ("health.timeout", self.health.timeout),
            ("health.interval", self.health.interval),
            ("checks.timeout", self.checks.timeout),
        ];
        if let Some((key, _)) = durations.iter().find(|(_, d)| d.get().is_zero()) {
            return Err(Problem::ZeroDuration { key });
        }
        let state = &self.state;
        if state.cert.is_some() != state.key.is_some() {
            return Err(Problem::TlsPairIncomplete);
        }
        if state.password.is_some() && state.user.is_none() {
            return Err(Problem::PasswordWithoutUser);
        }
        if state.backend == Backend::Etcd && state.endpoints.is_empty() {
            return Err(Problem::NoEndpoints);
        }
        let log = self.guard_log();
        let plain = log
            .as_str()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
        if !plain || !log.as_str().ends_with(".json") {
            return Err(Problem::GuardLogPath(log.to_string()));
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
