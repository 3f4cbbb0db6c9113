//! Ignition JSON, spec 3.3.0: what Flatcar and Fedora CoreOS read in their
//! initramfs at first boot. Written directly (no butane binary here): file
//! bytes go into `data:` URLs, and Ignition itself downloads the binary.

use serde::Serialize;

use super::{FileContents, Host, IGNITION_VERSION, data_url};

#[derive(Serialize)]
struct Config<'a> {
    ignition: Ignition,
    storage: Storage<'a>,
    systemd: Systemd<'a>,
}

#[derive(Serialize)]
struct Ignition {
    version: &'static str,
}

#[derive(Serialize)]
struct Storage<'a> {
    files: Vec<File<'a>>,
}

#[derive(Serialize)]
struct File<'a> {
    path: &'a str,
    mode: u32,
    overwrite: bool,
    contents: Resource,
}

#[derive(Serialize)]
struct Resource {
    source: String,
}

#[derive(Serialize)]
struct Systemd<'a> {
    units: Vec<Unit<'a>>,
}

#[derive(Serialize)]
pub(super) struct Unit<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropins: Vec<Dropin<'a>>,
}

#[derive(Serialize)]
pub(super) struct Dropin<'a> {
    pub name: &'a str,
    pub contents: &'a str,
}

/// The host's units as Ignition and Butane both spell them.
pub(super) fn units(host: &Host) -> Vec<Unit<'_>> {
    host.units
        .iter()
        .map(|u| Unit {
            name: &u.name,
            enabled: u.enabled,
            contents: u.contents.as_deref(),
            dropins: u
                .dropins
                .iter()
                .map(|(name, contents)| Dropin { name, contents })
                .collect(),
        })
        .collect()
}

pub fn print(host: &Host) -> String {
    let files = host
        .files
        .iter()
        .map(|f| File {
            path: f.path.as_str(),
            mode: f.mode,
            overwrite: true,
            contents: Resource {
                source: match &f.contents {
                    FileContents::Inline(text) => data_url::encode(text.as_bytes()),
                    FileContents::Remote(url) => url.to_string(),
                },
            },
        })
        .collect();
    let config = Config {
        ignition: Ignition {
            version: IGNITION_VERSION,
        },
        storage: Storage { files },
        systemd: Systemd { units: units(host) },
    };
    let mut json = serde_json::to_string_pretty(&config).expect("plain structs serialise");
    json.push('\n');
    json
}
