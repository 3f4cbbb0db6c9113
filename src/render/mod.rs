//! What `install` writes (DESIGN §3), rendered from `unit-templates/` in
//! memory. Pure: no file is read or written here.

pub mod escape;
#[cfg(test)]
pub(crate) mod systemd_syntax;

use std::net::IpAddr;

use askama::Template;

use crate::config::Config;
use crate::domain::{AbsPath, Color, DockerHost, ImageRef, PrintableText, ServiceName, UnitName};
use crate::naming;
use escape::filters;

/// A file bgctl writes: where, and exactly what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: AbsPath,
    pub contents: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Every value is validated before it gets here, so this is a bug: the
    /// escaper refused a value rather than write it unsafely.
    #[error(
        "refused to write {file}: a value could not be written safely ({source}); please report this"
    )]
    Unsafe { file: String, source: askama::Error },
}

#[derive(Template)]
#[template(path = "color@.service", escape = "systemd")]
struct ColorUnit<'a> {
    name: &'a ServiceName,
    color: Color,
    instance: String,
    dropin: &'static str,
    docker_cli: &'a AbsPath,
    docker_host: &'a DockerHost,
    docker_unit: Option<&'a UnitName>,
    image: &'a ImageRef,
    pull: bool,
    publish: String,
    container_port: u16,
    env: Vec<String>,
    args: &'a [PrintableText],
    stop_timeout: u64,
}

#[derive(Template)]
#[template(path = "image-dropin.conf", escape = "systemd")]
struct ImageDropin<'a> {
    name: &'a ServiceName,
    color: Color,
    image: &'a ImageRef,
}

#[derive(Template)]
#[template(path = "site.conf", escape = "nginx")]
struct Site<'a> {
    name: &'a ServiceName,
    listen: u16,
    default_server: bool,
    server_name: &'a str,
    live: Option<Live>,
}

struct Live {
    color: Color,
    upstream: String,
}

/// Everything `install` writes, given the live color (None before the first
/// deploy: the site then answers 503). Both drop-ins carry the config's image.
pub fn install_files(
    config: &Config,
    live: Option<Color>,
) -> Result<Vec<RenderedFile>, RenderError> {
    let mut files = Vec::with_capacity(5);
    for color in Color::ALL {
        files.push(color_unit(config, color)?);
    }
    for color in Color::ALL {
        files.push(image_dropin(config, color, &config.image)?);
    }
    files.push(site(config, live)?);
    Ok(files)
}

/// `<unit_dir>/<name>_<color>@.service`.
pub fn color_unit(config: &Config, color: Color) -> Result<RenderedFile, RenderError> {
    let file = naming::template_unit(&config.name, color);
    let unit = ColorUnit {
        name: &config.name,
        color,
        instance: naming::instance(&config.name, color),
        dropin: naming::IMAGE_DROPIN,
        docker_cli: &config.docker.cli,
        docker_host: &config.docker.host,
        docker_unit: config.systemd.docker_unit.as_ref(),
        image: &config.image,
        pull: config.container.pull,
        publish: publish_address(config.container.publish),
        container_port: config.container_port.get(),
        env: config
            .container
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        args: &config.container.args,
        stop_timeout: config.container.stop_timeout.ceil_secs(),
    };
    let path = config
        .systemd
        .unit_dir
        .join(&file)
        .expect("a unit name is one file name");
    finish(path, &file, unit.render())
}

/// `<unit_dir>/<name>_<color>@.service.d/50-bgctl-image.conf`.
pub fn image_dropin(
    config: &Config,
    color: Color,
    image: &ImageRef,
) -> Result<RenderedFile, RenderError> {
    let dir = naming::dropin_dir(&config.name, color);
    let path = (config.systemd.unit_dir.join(&dir))
        .and_then(|d| d.join(naming::IMAGE_DROPIN))
        .expect("drop-in names are single file names");
    let dropin = ImageDropin {
        name: &config.name,
        color,
        image,
    };
    finish(path, naming::IMAGE_DROPIN, dropin.render())
}

/// The nginx site: proxying to `live`'s port, or answering 503 when no color is live.
pub fn site(config: &Config, live: Option<Color>) -> Result<RenderedFile, RenderError> {
    let site = Site {
        name: &config.name,
        listen: config.proxy.listen.get(),
        default_server: config.proxy.default_server,
        server_name: config.proxy.server_name.as_str(),
        live: live.map(|color| Live {
            color,
            upstream: format!(
                "{}:{}",
                upstream_address(config.container.publish),
                config.port(color)
            ),
        }),
    };
    finish(config.site(), "the nginx site", site.render())
}

fn finish(
    path: AbsPath,
    what: &str,
    rendered: askama::Result<String>,
) -> Result<RenderedFile, RenderError> {
    let mut contents = rendered.map_err(|source| RenderError::Unsafe {
        file: what.to_owned(),
        source,
    })?;
    // askama drops the template's final newline; a text file ends with one.
    contents.push('\n');
    Ok(RenderedFile { path, contents })
}

/// `-p` wants IPv6 addresses in brackets.
fn publish_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Where nginx reaches the published port: the publish address, or loopback
/// when the port is published on every address.
fn upstream_address(publish: IpAddr) -> String {
    match publish {
        IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".into(),
        IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".into(),
        ip => publish_address(ip),
    }
}

#[cfg(test)]
mod tests;
