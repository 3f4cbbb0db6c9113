//! doctor's checks against the fakes: each ✓ and ✗ from what the
//! boundaries say.

use std::cell::RefCell;

use super::*;
use crate::fakes::{FakeState, FakeSystemd, Log, service_in_temp_dir};

fn systemd<'a>(log: &'a Log, running: &[&str]) -> FakeSystemd<'a> {
    FakeSystemd {
        log,
        running: RefCell::new(running.iter().map(|u| (u.to_string(), true)).collect()),
        enabled: RefCell::default(),
    }
}

#[tokio::test]
async fn units_are_current_once_install_wrote_them_and_stale_before() {
    let (dir, config) = service_in_temp_dir("doctor-units");
    let log = Log::default();
    let systemd = systemd(&log, &[]);
    let before = units_check(&config, &systemd, Some(None)).await;
    assert!(
        !before.ok && before.detail.starts_with("install would write"),
        "{before}"
    );
    for file in install_files(&config, None).unwrap() {
        std::fs::create_dir_all(file.path.as_path().parent().unwrap()).unwrap();
        std::fs::write(file.path.as_path(), &file.contents).unwrap();
    }
    let after = units_check(&config, &systemd, Some(None)).await;
    assert!(after.ok, "{after}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_stopped_nginx_unit_fails_with_its_start_command() {
    let (dir, config) = service_in_temp_dir("doctor-nginx");
    let log = Log::default();
    let down = nginx_running(&config, &systemd(&log, &[])).await;
    assert!(!down.ok, "{down}");
    assert!(
        down.fix
            .as_deref()
            .unwrap()
            .starts_with("systemctl start nginx.service"),
        "{down:?}"
    );
    let up = nginx_running(&config, &systemd(&log, &["nginx.service"])).await;
    assert!(up.ok, "{up}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn no_leftover_command_unit_is_a_pass_and_touches_nothing() {
    let (dir, config) = service_in_temp_dir("doctor-leftovers");
    let log = Log::default();
    let mut state = FakeState::with(&log, None);
    let check = leftovers::leftovers_check(&config, &systemd(&log, &[]), Some(&mut state)).await;
    assert!(
        check.ok && check.detail == "no check or hook unit is left running",
        "{check}"
    );
    assert!(log.0.borrow().is_empty(), "{:?}", log.0.borrow());
    std::fs::remove_dir_all(&dir).unwrap();
}
