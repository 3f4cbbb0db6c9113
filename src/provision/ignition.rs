//! Ignition JSON, spec 3.3.0: what Flatcar and Fedora CoreOS read in their
//! initramfs at first boot. Written directly (no butane binary here): file
//! bytes go into `data:` URLs, and Ignition itself downloads the binary.
//! Butane spells the same document in YAML, so the shapes live here.

use serde::Serialize;

use super::{FileContents, Host, IGNITION_VERSION, data_url};

#[derive(Serialize)]
struct Config<'a> {
    ignition: Ignition,
    storage: Storage<'a, Resource>,
    systemd: Systemd<'a>,
}

#[derive(Serialize)]
struct Ignition {
    version: &'static str,
}

/// `storage`, whose files' `contents` differ: a resource here, inline text in Butane.
#[derive(Serialize)]
pub(super) struct Storage<'a, C> {
    files: Vec<File<'a, C>>,
}

#[derive(Serialize)]
struct File<'a, C> {
    path: &'a str,
    mode: u32,
    overwrite: bool,
    contents: C,
}

#[derive(Serialize)]
struct Resource {
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification: Option<Verification>,
}

/// Ignition refuses a download whose digest differs (`sha512-<hex>`).
#[derive(Serialize)]
pub(super) struct Verification {
    hash: String,
}

impl Verification {
    pub(super) fn of(download: &super::Download) -> Option<Verification> {
        download.ignition_hash().map(|hash| Verification { hash })
    }
}

#[derive(Serialize)]
pub(super) struct Systemd<'a> {
    units: Vec<Unit<'a>>,
}

#[derive(Serialize)]
struct Unit<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    contents: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dropins: Vec<Dropin<'a>>,
}

#[derive(Serialize)]
struct Dropin<'a> {
    name: &'a str,
    contents: &'a str,
}

/// The host's files, each file's contents as `contents` writes them.
pub(super) fn storage<'a, C>(host: &'a Host, contents: impl Fn(&'a FileContents) -> C) -> Storage<'a, C> {
    let files = host
        .files
        .iter()
        .map(|f| File {
            path: f.path.as_str(),
            mode: f.mode,
            overwrite: true,
            contents: contents(&f.contents),
        })
        .collect();
    Storage { files }
}

pub(super) fn systemd(host: &Host) -> Systemd<'_> {
    let units = host
        .units
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
        .collect();
    Systemd { units }
}

pub fn print(host: &Host) -> String {
    let config = Config {
        ignition: Ignition {
            version: IGNITION_VERSION,
        },
        storage: storage(host, |contents| match contents {
            FileContents::Inline(text) => Resource {
                source: data_url::encode(text.as_bytes()),
                verification: None,
            },
            FileContents::Remote(download) => Resource {
                source: download.url.to_string(),
                verification: Verification::of(download),
            },
        }),
        systemd: systemd(host),
    };
    let mut json = serde_json::to_string_pretty(&config).expect("plain structs serialise");
    json.push('\n');
    json
}
