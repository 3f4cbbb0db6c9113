//! bgctl's own units (DESIGN §9): `bgctl-install@` and `bgctl-reconcile@`,
//! one instance per service, so a host writes its units and brings its live
//! color back at boot. The .deb ships them (`/usr/bin/bgctl`); `provision`
//! embeds them with the binary's place on CoreOS and Flatcar.

use askama::Template;

use super::escape::filters;
use super::{RenderError, RenderedFile, WritePolicy, finish};
use crate::domain::AbsPath;

pub const INSTALL_UNIT: &str = "bgctl-install@.service";
pub const RECONCILE_UNIT: &str = "bgctl-reconcile@.service";

#[derive(Template)]
#[template(path = "bgctl-install@.service", escape = "systemd")]
struct Install<'a> {
    bgctl: &'a AbsPath,
}

#[derive(Template)]
#[template(path = "bgctl-reconcile@.service", escape = "systemd")]
struct Reconcile<'a> {
    bgctl: &'a AbsPath,
}

/// Both template units in `unit_dir`, running the binary at `bgctl`.
pub fn boot_units(bgctl: &AbsPath, unit_dir: &AbsPath) -> Result<[RenderedFile; 2], RenderError> {
    let at = |name: &str| unit_dir.join(name).expect("a unit name is one file name");
    Ok([
        finish(
            at(INSTALL_UNIT),
            INSTALL_UNIT,
            WritePolicy::Converge,
            Install { bgctl }.render(),
        )?,
        finish(
            at(RECONCILE_UNIT),
            RECONCILE_UNIT,
            WritePolicy::Converge,
            Reconcile { bgctl }.render(),
        )?,
    ])
}
