//! The boundaries a switch works through, named once: a [`Host`] is the
//! set of types (the real ones, or the fakes of the unit tests), a
//! [`World`] the connected values of one run.

use crate::config::Config;
use crate::docker::Docker;
use crate::health::Probe;
use crate::proxy::Proxy;
use crate::state::StateStore;
use crate::systemd::Systemd;

/// The boundary types of one kind of host.
pub trait Host {
    type Systemd: Systemd;
    type Docker: Docker;
    type State: StateStore;
    type Proxy: Proxy;
    type Probe: Probe;
}

/// The boundaries of one run, connected.
pub struct World<'a, H: Host> {
    pub config: &'a Config,
    pub systemd: &'a H::Systemd,
    pub docker: &'a H::Docker,
    pub state: &'a mut H::State,
    pub proxy: &'a H::Proxy,
    pub probe: &'a H::Probe,
}
