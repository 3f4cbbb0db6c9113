//! The plan of a provisioned host: which files and units it gets at first
//! boot, the same for every output format.

use std::net::IpAddr;

use super::templates;
use super::{Download, Options, ProvisionError, Variant};
use crate::config::{Backend, Config};
use crate::domain::AbsPath;
use crate::render::{INSTALL_UNIT, RECONCILE_UNIT, RENEW_TIMER, RENEW_UNIT, boot_units, renew_units};

/// The drop-in on bgctl's instances naming the config's own proxy and docker units.
const ORDER_DROPIN: &str = "20-bgctl-order.conf";

/// The config may hold etcd's password: root reads it, nobody else.
const CONFIG_MODE: u32 = 0o600;

/// Everything the host's first boot writes and enables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub files: Vec<HostFile>,
    pub units: Vec<HostUnit>,
    /// The place of the bgctl binary, which the units run.
    pub bgctl: AbsPath,
    /// cloud-config has no way to fetch a file but a unit: what the
    /// `bgctl-fetch.service` it adds downloads.
    pub fetch: Option<Download>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFile {
    pub path: AbsPath,
    pub mode: u32,
    pub contents: FileContents,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileContents {
    Inline(String),
    /// Downloaded at first boot (Ignition does it itself), and checked.
    Remote(Download),
}

/// A unit: its file when we write one, its drop-ins, whether it is enabled
/// (and so started at first boot), and whether it runs the bgctl binary
/// (which a download may have to come first for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUnit {
    pub name: String,
    pub enabled: bool,
    pub contents: Option<String>,
    pub dropins: Vec<(String, String)>,
    pub runs_bgctl: bool,
}

impl HostUnit {
    fn file(name: &str, contents: String, enabled: bool) -> HostUnit {
        HostUnit {
            name: name.to_owned(),
            enabled,
            contents: Some(contents),
            dropins: Vec::new(),
            runs_bgctl: false,
        }
    }

    fn enable(name: String) -> HostUnit {
        HostUnit {
            name,
            enabled: true,
            contents: None,
            dropins: Vec::new(),
            runs_bgctl: false,
        }
    }

    /// An enabled instance of one of bgctl's templates, after `order`.
    fn bgctl_instance(template: &str, name: &str, order: &str) -> HostUnit {
        HostUnit {
            dropins: vec![(ORDER_DROPIN.into(), order.to_owned())],
            runs_bgctl: true,
            ..HostUnit::enable(template.replacen("@.", &format!("@{name}."), 1))
        }
    }
}

/// Plans the host for `config`, whose file holds `config_text` (embedded
/// as it is, so the host reads exactly what was reviewed).
pub fn host(config: &Config, config_text: &str, options: &Options) -> Result<Host, ProvisionError> {
    let proxy = templates::proxy(config, &options.nginx_image)?;
    let bgctl = bgctl_path(options.variant);
    let [(_, install), (_, reconcile)] = boot_units(&bgctl)?;
    let name = &config.name;

    let mut files = vec![
        HostFile {
            path: config_path(config),
            mode: CONFIG_MODE,
            contents: FileContents::Inline(config_text.to_owned()),
        },
        HostFile {
            path: config.proxy.nginx_conf.clone(),
            mode: 0o644,
            contents: FileContents::Inline(proxy.nginx_conf),
        },
    ];
    // etcd's password in a file of its own, root's alone (never in the config).
    if config.state.password.is_some() {
        return Err(ProvisionError::InlinePassword);
    }
    if let (Some(path), Some(password)) = (&config.state.password_file, &options.password) {
        files.push(HostFile {
            path: path.clone(),
            mode: CONFIG_MODE,
            contents: FileContents::Inline(password.clone()),
        });
    }
    if let Some(download) = &options.binary {
        files.push(HostFile {
            path: bgctl.clone(),
            mode: 0o755,
            contents: FileContents::Remote(download.clone()),
        });
    }

    let mut units = Vec::new();
    if let Some(docker) = &config.systemd.docker_unit {
        units.push(HostUnit::enable(docker.to_string()));
    }
    units.extend(local_etcd(config, options)?);
    units.push(HostUnit::file(config.proxy.unit.as_str(), proxy.unit, true));
    units.push(HostUnit::file(INSTALL_UNIT, install, false));
    units.push(HostUnit::file(RECONCILE_UNIT, reconcile, false));
    let order = templates::order(config)?;
    units.push(HostUnit::bgctl_instance(INSTALL_UNIT, name.as_str(), &order));
    units.push(HostUnit::bgctl_instance(RECONCILE_UNIT, name.as_str(), &order));
    if config.proxy.tls.acme {
        let [(_, renew), (_, timer)] = renew_units(&bgctl)?;
        units.push(HostUnit::file(RENEW_UNIT, renew, false));
        units.push(HostUnit::file(RENEW_TIMER, timer, false));
        units.push(HostUnit::enable(RENEW_TIMER.replacen("@.", &format!("@{name}."), 1)));
    }
    Ok(Host {
        files,
        units,
        bgctl,
        fetch: options.binary.clone(),
    })
}

/// `/etc/bgctl/<name>.toml`, where `-s <name>` looks.
pub fn config_path(config: &Config) -> AbsPath {
    AbsPath::parse(crate::config::CONFIG_DIR)
        .and_then(|dir| dir.join(&format!("{}.toml", config.name)))
        .expect("a service name is a valid file name")
}

/// Where a system keeps binaries of its own: `/usr` is read-only on both.
fn bgctl_path(variant: Variant) -> AbsPath {
    let path = match variant {
        Variant::Flatcar => "/opt/bin/bgctl",
        Variant::Fcos => "/usr/local/bin/bgctl",
    };
    AbsPath::parse(path).expect("a valid path")
}

/// The etcd this host runs when the config's state lives on this host's
/// loopback: Flatcar's etcd-member with its address, or a container on
/// Fedora CoreOS. A remote cluster or the file backend needs none.
fn local_etcd(config: &Config, options: &Options) -> Result<Option<HostUnit>, ProvisionError> {
    if config.state.backend != Backend::Etcd {
        return Ok(None);
    }
    let Some(url) = config.state.endpoints.iter().find(|e| is_loopback(e.as_str())) else {
        return Ok(None);
    };
    Ok(Some(match options.variant {
        Variant::Flatcar => HostUnit {
            dropins: vec![("20-bgctl.conf".into(), templates::etcd_member(url)?)],
            ..HostUnit::enable("etcd-member.service".into())
        },
        Variant::Fcos => HostUnit::file(
            "etcd.service",
            templates::etcd_container(config, url, &options.etcd_image)?,
            true,
        ),
    }))
}

/// `http(s)://127.x.y.z:port`, `http://localhost:port` or `http://[::1]:port`.
fn is_loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).and_then(|a| a.rsplit_once(':')).map(|(h, _)| h);
    match host {
        Some("localhost") => true,
        Some(h) => h
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}
