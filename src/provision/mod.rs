//! `bgctl provision cloud-config|ignition|butane` (DESIGN §9): what a new
//! CoreOS, Flatcar or Fedora CoreOS host needs at first boot to run one
//! service, from its config. Pure: [`host`] plans the files and units, and
//! one module per format prints them; nothing here touches the world.

mod butane;
mod cloud_config;
mod data_url;
mod host;
mod ignition;
mod templates;

use clap::ValueEnum;

pub use host::{FileContents, Host, HostFile, HostUnit, host};

use crate::domain::{HttpUrl, ImageRef, Sha512};
use crate::render::RenderError;

/// The proxy image when `--nginx-image` is not given (Docker Hub's nginx).
pub const DEFAULT_NGINX_IMAGE: &str = "nginx:stable";
/// The etcd image of the Fedora CoreOS variant, which has no etcd-member.
pub const DEFAULT_ETCD_IMAGE: &str = "quay.io/coreos/etcd:v3.5.17";
/// The Ignition spec version printed: Flatcar since 3185 and FCOS read it.
pub const IGNITION_VERSION: &str = "3.3.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `#cloud-config` for coreos-cloudinit (CoreOS, Flatcar)
    CloudConfig,
    /// Ignition JSON, spec 3.3.0 (Flatcar, Fedora CoreOS)
    Ignition,
    /// A Butane config (`variant: flatcar` or `fcos`), for the butane tool
    Butane,
}

/// The operating system the host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Variant {
    /// Flatcar Container Linux (and CoreOS): etcd-member.service, /opt/bin
    Flatcar,
    /// Fedora CoreOS: etcd as a container, /usr/local/bin
    Fcos,
}

/// What the command line adds to the config.
#[derive(Debug, Clone)]
pub struct Options {
    pub variant: Variant,
    /// Where the host downloads bgctl; `None`: the image builder put it there.
    pub binary: Option<Download>,
    pub nginx_image: ImageRef,
    pub etcd_image: ImageRef,
    /// The contents of `[state] password_file`, read by the command.
    pub password: Option<String>,
}

/// A file the host downloads at first boot, and the digest it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub url: HttpUrl,
    pub sha512: Option<Sha512>,
}

impl Download {
    /// Ignition's spelling of the digest: `sha512-<hex>`.
    pub fn ignition_hash(&self) -> Option<String> {
        self.sha512.as_ref().map(|h| format!("sha512-{h}"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(
        "on CoreOS and Flatcar nginx runs as the container {container:?}, and the host has no nginx to test \
         the site with: add to [proxy] of the config\n  test = [\"{docker}\", \"exec\", \"{container}\", \"nginx\", \"-t\", \"-q\", \"-c\", \"{conf}\"]"
    )]
    NoProxyTest {
        container: String,
        docker: String,
        conf: String,
    },
    #[error(
        "[proxy] unit {unit:?}: its name (without .service) becomes the nginx container's name, which allows only \
         [A-Za-z0-9_.-], and the host's docker and etcd units keep theirs: pick a unit name like nginx.service"
    )]
    ProxyUnit { unit: String },
    #[error(
        "{key} {path:?}: the nginx container mounts its directory, which must be nginx's own (two levels deep at \
         least, like /etc/nginx, of [A-Za-z0-9_./-] only), and nginx.conf must end in .conf"
    )]
    IncludePath { key: &'static str, path: String },
    #[error(
        "[state] password would be embedded in the config's text: move it to a root-only file and name it in [state] password_file; provision writes that file to the host on its own, mode 0600"
    )]
    InlinePassword,
    #[error("[state] password_file {path}: {reason}: provision copies it to the host")]
    PasswordFile { path: String, reason: String },
    #[error("Fedora CoreOS has no coreos-cloudinit: print ignition or butane for --variant fcos")]
    NoCloudConfigOnFcos,
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// The provisioning file for `config` (whose file text is `config_text`) in `format`.
pub fn provision(
    format: Format,
    config: &crate::config::Config,
    config_text: &str,
    options: &Options,
) -> Result<String, ProvisionError> {
    if format == Format::CloudConfig && options.variant == Variant::Fcos {
        return Err(ProvisionError::NoCloudConfigOnFcos);
    }
    let host = host(config, config_text, options)?;
    Ok(match format {
        Format::CloudConfig => cloud_config::print(&host),
        Format::Ignition => ignition::print(&host),
        Format::Butane => butane::print(&host, options.variant),
    })
}

#[cfg(test)]
mod tests;
