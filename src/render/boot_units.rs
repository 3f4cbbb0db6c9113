//! bgctl's own units (DESIGN §9): `bgctl-install@` and `bgctl-reconcile@`,
//! one instance per service, so a host writes its units and brings its live
//! color back at boot. The .deb ships them (`/usr/bin/bgctl`); `provision`
//! embeds them with the binary's place on CoreOS and Flatcar. On a proxy
//! host, `bgctl-proxy@` keeps the site following the state store.

use askama::Template;

use super::escape::filters;
use super::{RenderError, file_text};
use crate::domain::AbsPath;

pub const INSTALL_UNIT: &str = "bgctl-install@.service";
pub const RECONCILE_UNIT: &str = "bgctl-reconcile@.service";
pub const PROXY_UNIT: &str = "bgctl-proxy@.service";
pub const RENEW_UNIT: &str = "bgctl-tls-renew@.service";
pub const RENEW_TIMER: &str = "bgctl-tls-renew@.timer";

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

#[derive(Template)]
#[template(path = "bgctl-proxy@.service", escape = "systemd")]
struct ProxySync<'a> {
    bgctl: &'a AbsPath,
}

#[derive(Template)]
#[template(path = "bgctl-tls-renew@.service", escape = "systemd")]
struct Renew<'a> {
    bgctl: &'a AbsPath,
}

#[derive(Template)]
#[template(path = "bgctl-tls-renew@.timer", escape = "systemd")]
struct RenewTimer;

/// `bgctl-tls-renew@.service` (running the binary at `bgctl`) and its daily timer.
pub fn renew_units(bgctl: &AbsPath) -> Result<[(&'static str, String); 2], RenderError> {
    Ok([
        (RENEW_UNIT, file_text(RENEW_UNIT, Renew { bgctl }.render())?),
        (RENEW_TIMER, file_text(RENEW_TIMER, RenewTimer.render())?),
    ])
}

/// `bgctl-proxy@.service`, running the binary at `bgctl`.
pub fn proxy_unit(bgctl: &AbsPath) -> Result<(&'static str, String), RenderError> {
    Ok((PROXY_UNIT, file_text(PROXY_UNIT, ProxySync { bgctl }.render())?))
}

/// Both template units, named, running the binary at `bgctl`; where they
/// go is the package's or the host's business.
pub fn boot_units(bgctl: &AbsPath) -> Result<[(&'static str, String); 2], RenderError> {
    Ok([
        (INSTALL_UNIT, file_text(INSTALL_UNIT, Install { bgctl }.render())?),
        (RECONCILE_UNIT, file_text(RECONCILE_UNIT, Reconcile { bgctl }.render())?),
    ])
}
