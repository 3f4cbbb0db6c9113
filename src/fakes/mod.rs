//! The boundaries as fakes, for the unit tests of every command and of the
//! switch: each records its calls, in order, as "verb subject" in a shared
//! [`Log`], and fails where a test tells it to. Never the proof that a
//! boundary works: the integration tests run the real ones.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use crate::config::DrainWait;
use crate::docker::{Container, Docker, DockerError, Health, HealthTest, HealthWatch};
use crate::domain::{Color, HealthPath, Port, UnitName};
use crate::guard::Tally;
use crate::health::Probe;
use crate::proxy::{Drained, Installed, Proxy, ProxyError};
use crate::render;
use crate::state::{
    Active, Deployment, HistoryRecord, Holder, Probation, Snapshot, Staged, StateError, StateStore, Status, Wait,
};
use crate::switch::{Host, Phase, Report};
use crate::systemd::{
    ActiveState, CLD_EXITED, FileChange, Systemd, SystemdError, TransientCommand, TransientEnd, UnitState,
};

mod docker;
mod probe;
mod proxy;
mod state;
mod systemd;

pub(crate) use docker::{FakeDocker, running_container};
pub(crate) use probe::FakeProbe;
pub(crate) use proxy::FakeProxy;
pub(crate) use state::FakeState;
pub(crate) use systemd::FakeSystemd;

/// A service `web` whose unit dir and site live in a fresh temporary
/// directory of its own (`tag` tells the tests apart); removed by the caller.
pub(crate) fn service_in_temp_dir(tag: &str) -> (std::path::PathBuf, crate::config::Config) {
    let dir = std::env::temp_dir().join(format!("bgctl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "name = \"web\"\nimage = \"app:v1\"\n[proxy]\nsite = \"{d}/web.conf\"\n[systemd]\nunit_dir = \"{d}\"\n",
        d = dir.display()
    );
    (dir, crate::config::Config::parse(&text).unwrap())
}

/// The fakes as a [`Host`].
pub(crate) struct Fakes<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> Host for Fakes<'a> {
    type Systemd = FakeSystemd<'a>;
    type Docker = FakeDocker;
    type State = FakeState<'a>;
    type Proxy = FakeProxy<'a>;
    type Probe = FakeProbe;
}

/// Every boundary call, in order, as "verb subject".
#[derive(Default)]
pub(crate) struct Log(pub(crate) RefCell<Vec<String>>);

impl Log {
    pub(crate) fn push(&self, entry: String) {
        self.0.borrow_mut().push(entry);
    }

    pub(crate) fn has(&self, entry: &str) -> bool {
        self.0.borrow().iter().any(|e| e == entry)
    }

    pub(crate) fn position(&self, entry: &str) -> usize {
        self.0
            .borrow()
            .iter()
            .position(|e| e == entry)
            .unwrap_or_else(|| panic!("{entry:?} never happened: {:?}", self.0.borrow()))
    }
}

pub(crate) fn unit_state(active: ActiveState, sub: &str) -> UnitState {
    UnitState {
        load_state: "loaded".into(),
        active_state: active,
        sub_state: sub.into(),
        result: "success".into(),
        exec_main_status: 0,
        n_restarts: 0,
        invocation_id: String::new(),
        need_daemon_reload: false,
    }
}

/// The phases and the notes of a run.
#[derive(Default)]
pub(crate) struct Quiet(pub(crate) Vec<Phase>, pub(crate) Vec<String>);

impl Report for Quiet {
    fn phase(&mut self, phase: Phase, _: Duration) {
        self.0.push(phase);
    }
    fn note(&mut self, text: &str) {
        self.1.push(text.to_owned());
    }
}
