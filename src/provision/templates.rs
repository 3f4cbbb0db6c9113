//! The units and files only a provisioned host gets: nginx (and, on Fedora
//! CoreOS, etcd) as containers, etcd-member's address, and the unit that
//! downloads bgctl for cloud-config.

use std::collections::BTreeSet;

use askama::Template;

use super::{Download, ProvisionError};
use crate::config::Config;
use crate::domain::{AbsPath, DockerHost, Endpoint, HttpUrl, ImageRef, ServiceName, UnitName};
use crate::render::escape::filters;
use crate::render::file_text;

#[derive(Template)]
#[template(path = "container.service", escape = "systemd")]
struct ContainerUnit<'a> {
    description: &'a str,
    container: &'a str,
    docker_cli: &'a AbsPath,
    docker_host: &'a DockerHost,
    docker_unit: Option<&'a UnitName>,
    /// The host directories the volumes mount, made before the first start.
    dirs: Vec<String>,
    /// `-v` words, `host:container[:options]`.
    volumes: Vec<String>,
    image: &'a ImageRef,
    command: Vec<String>,
    reload_on_hup: bool,
}

#[derive(Template)]
#[template(path = "proxy-nginx.conf", escape = "nginx")]
struct NginxConf<'a> {
    name: &'a ServiceName,
    sites: &'a str,
}

#[derive(Template)]
#[template(path = "etcd-member.conf", escape = "systemd")]
struct EtcdMember<'a> {
    url: &'a Endpoint,
}

#[derive(Template)]
#[template(path = "bgctl-order.conf", escape = "systemd")]
struct Order<'a> {
    name: &'a ServiceName,
    after: String,
}

#[derive(Template)]
#[template(path = "bgctl-fetch.service", escape = "systemd")]
struct Fetch<'a> {
    bgctl: &'a AbsPath,
    partial: String,
    url: &'a HttpUrl,
    /// The `sha512sum --check` file naming `partial`, when a digest is given.
    sums: Option<String>,
}

/// The containerised nginx: its unit (named `[proxy] unit`) and nginx.conf.
pub struct Proxy {
    pub unit: String,
    pub nginx_conf: String,
}

/// nginx as a container (DESIGN §9), with the config's directories mounted
/// at their own paths so `[proxy] site` and `nginx_conf` mean the same
/// inside; `[proxy] test` must test it there.
pub fn proxy(config: &Config, image: &ImageRef) -> Result<Proxy, ProvisionError> {
    let container = proxy_container(config)?;
    let conf = &config.proxy.nginx_conf;
    if config.proxy.test.is_none() {
        return Err(ProvisionError::NoProxyTest {
            container: container.to_owned(),
            docker: config.docker.cli.to_string(),
            conf: conf.to_string(),
        });
    }
    if !conf.as_str().ends_with(".conf") {
        return Err(ProvisionError::IncludePath {
            key: "[proxy] nginx_conf",
            path: conf.to_string(),
        });
    }
    let sites = include_dir("[proxy] site", &config.site())?;
    let mut dirs: BTreeSet<String> = [include_dir("[proxy] nginx_conf", conf)?, sites.clone()].into();
    // What the site reads besides: the user's include, the TLS pair, and
    // with ACME the challenges bgctl writes on the host.
    let read = [
        ("[proxy] include", config.proxy.include.clone()),
        ("[proxy.tls] cert", config.tls_cert()),
        ("[proxy.tls] key", config.tls_key()),
        (
            "[proxy.tls] acme_dir",
            config.proxy.tls.acme.then(|| config.acme_challenges()),
        ),
    ];
    for (key, path) in read {
        if let Some(path) = path {
            dirs.insert(include_dir(key, &path)?);
        }
    }
    // nginx writes the guard's log, which bgctl reads on the host.
    let guard_dir = match config.guard.enabled() {
        true => Some(include_dir("[guard] log", &config.guard_log())?).filter(|d| !dirs.contains(d)),
        false => None,
    };
    let unit = ContainerUnit {
        description: "nginx, the proxy bgctl switches",
        container,
        docker_cli: &config.docker.cli,
        docker_host: &config.docker.host,
        docker_unit: config.systemd.docker_unit.as_ref(),
        // Read-only; `z` lets it be read under SELinux (Fedora CoreOS).
        volumes: outermost(&dirs)
            .iter()
            .map(|d| format!("{d}:{d}:ro,z"))
            .chain(guard_dir.iter().map(|d| format!("{d}:{d}:z")))
            .collect(),
        dirs: dirs.into_iter().chain(guard_dir.clone()).collect(),
        image,
        command: ["nginx", "-c", conf.as_str(), "-g", "daemon off;"]
            .map(String::from)
            .into(),
        reload_on_hup: true,
    };
    let nginx_conf = NginxConf {
        name: &config.name,
        sites: &sites,
    };
    Ok(Proxy {
        unit: rendered("the nginx container unit", unit.render())?,
        nginx_conf: rendered("nginx.conf", nginx_conf.render())?,
    })
}

/// Flatcar's etcd-member.service, listening where the config looks.
pub fn etcd_member(url: &Endpoint) -> Result<String, ProvisionError> {
    rendered("the etcd-member drop-in", EtcdMember { url }.render())
}

/// A one-member etcd in a container, for Fedora CoreOS.
pub fn etcd_container(config: &Config, url: &Endpoint, image: &ImageRef) -> Result<String, ProvisionError> {
    let url = url.to_string();
    let unit = ContainerUnit {
        description: "etcd, bgctl's state store",
        container: "etcd",
        docker_cli: &config.docker.cli,
        docker_host: &config.docker.host,
        docker_unit: config.systemd.docker_unit.as_ref(),
        dirs: vec!["/var/lib/etcd".into()],
        volumes: vec!["/var/lib/etcd:/var/lib/etcd:Z".into()],
        image,
        command: [
            "/usr/local/bin/etcd",
            "--data-dir=/var/lib/etcd",
            &format!("--listen-client-urls={url}"),
            &format!("--advertise-client-urls={url}"),
        ]
        .map(String::from)
        .into(),
        reload_on_hup: false,
    };
    rendered("the etcd container unit", unit.render())
}

/// The drop-in that orders bgctl's units after the config's proxy and docker units.
pub fn order(config: &Config) -> Result<String, ProvisionError> {
    let units = std::iter::once(&config.proxy.unit).chain(config.systemd.docker_unit.as_ref());
    let after = units.map(UnitName::as_str).collect::<Vec<_>>().join(" ");
    rendered(
        "the order drop-in",
        Order {
            name: &config.name,
            after,
        }
        .render(),
    )
}

/// `bgctl-fetch.service`: cloud-config's way to download the binary once,
/// and the `sha512sum --check` file it checks the download with (its path
/// and text), when the digest is known.
pub fn fetch(bgctl: &AbsPath, download: &Download) -> Result<(String, Option<(AbsPath, String)>), ProvisionError> {
    let partial = format!("{bgctl}.part");
    let sums = download.sha512.as_ref().map(|hash| {
        let path = AbsPath::parse(&format!("{bgctl}.sha512")).expect("a plain file name beside bgctl");
        (path, format!("{hash}  {partial}\n"))
    });
    let unit = Fetch {
        bgctl,
        partial,
        url: &download.url,
        sums: sums.as_ref().map(|(path, _)| path.to_string()),
    };
    Ok((rendered("bgctl-fetch.service", unit.render())?, sums))
}

/// Units a provisioned host has for itself, which the proxy's must not be.
const SYSTEM_UNITS: [&str; 3] = ["docker.service", "etcd.service", "etcd-member.service"];

/// The container's name: `[proxy] unit` without `.service` (`nginx`).
fn proxy_container(config: &Config) -> Result<&str, ProvisionError> {
    let unit = &config.proxy.unit;
    let stem = unit.as_str().strip_suffix(".service");
    let docker_name = |s: &&str| {
        s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    };
    let taken = SYSTEM_UNITS.contains(&unit.as_str()) || config.systemd.docker_unit.as_ref() == Some(unit);
    stem.filter(docker_name)
        .filter(|_| !taken)
        .ok_or_else(|| ProvisionError::ProxyUnit { unit: unit.to_string() })
}

/// Each directory once, leaving out those inside another (one mount holds them).
fn outermost(dirs: &BTreeSet<String>) -> Vec<&String> {
    let inside = |d: &&String| dirs.iter().any(|o| o != *d && d.starts_with(&format!("{o}/")));
    dirs.iter().filter(|d| !inside(d)).collect()
}

/// The directory of `path`, when it is plain enough for nginx's `include`
/// and deep enough to be nginx's own: it is mounted into the container, and
/// `/` or `/etc` would hand it the host's.
fn include_dir(key: &'static str, path: &AbsPath) -> Result<String, ProvisionError> {
    let dir = path.as_path().parent().and_then(|d| d.to_str()).unwrap_or("/");
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    if dir.chars().all(plain) && dir.matches('/').count() >= 2 {
        Ok(dir.to_owned())
    } else {
        Err(ProvisionError::IncludePath {
            key,
            path: path.to_string(),
        })
    }
}

fn rendered(what: &str, result: askama::Result<String>) -> Result<String, ProvisionError> {
    Ok(file_text(what, result)?)
}
