//! Check and hook units a killed deploy left running (DESIGN §2): doctor
//! stops them when no deploy holds the lock, since one that does may be
//! running them right now.

use super::Check;
use crate::config::Config;
use crate::exec;
use crate::state::{StateError, StateStore, Wait};
use crate::systemd::Systemd;

const NAME: &str = "leftover";

pub(super) async fn leftovers_check(
    config: &Config,
    systemd: &impl Systemd,
    store: Option<&mut impl StateStore>,
) -> Check {
    let service = config.name.as_str();
    let units = match exec::leftovers(systemd, service).await {
        Ok(units) if units.is_empty() => return Check::pass(NAME, "no check or hook unit is left running"),
        Ok(units) => units,
        Err(e) => return Check::fail(NAME, e.to_string(), "see the systemd line above"),
    };
    let list = units.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", ");
    let Some(store) = store else {
        let detail = format!("{list} still loaded, and without the state bgctl cannot tell whose they are");
        return Check::fail(
            NAME,
            detail,
            "run bgctl reconcile once the state is reachable: it stops them",
        );
    };
    let holder = crate::wiring::holder("doctor");
    match store.lock(&holder, Wait::No).await {
        Err(StateError::Locked { holder, .. }) => {
            Check::pass(NAME, format!("{list} belong to the deploy running now ({holder})"))
        }
        Err(e) => Check::fail(
            NAME,
            format!("{list} still loaded; {e}"),
            "run bgctl reconcile: it stops them",
        ),
        Ok(()) => {
            let stopped = exec::stop_leftovers(systemd, service, None, config.checks.timeout.get()).await;
            let _ = store.unlock().await;
            match stopped {
                Ok(_) => Check::pass(
                    NAME,
                    format!("stopped {list}, left running by a deploy that was killed"),
                ),
                Err(e) => Check::fail(NAME, format!("could not stop {list}: {e}"), "run bgctl reconcile"),
            }
        }
    }
}
