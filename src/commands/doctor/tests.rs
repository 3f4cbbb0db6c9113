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

fn with_user(config: &mut Config) {
    config.state.user = Some("proxy".parse().unwrap());
}

fn proxy_host<'a>(log: &'a Log) -> FakeSystemd<'a> {
    systemd(log, &["bgctl-proxy@web.service"])
}

#[tokio::test]
async fn the_role_check_tells_a_read_only_proxy_host_from_one_that_can_write() {
    let (dir, mut config) = service_in_temp_dir("doctor-role");
    let log = Log::default();
    let reader = FakeState {
        read_only: true,
        ..FakeState::with(&log, None)
    };
    let writer = FakeState::with(&log, None);
    assert!(
        role_check(&config, &writer, &proxy_host(&log)).await.is_none(),
        "no etcd user, no role to check"
    );
    with_user(&mut config);
    let read_only = role_check(&config, &reader, &proxy_host(&log)).await.unwrap();
    assert!(read_only.ok && read_only.detail.contains("only reads"), "{read_only}");
    let too_much = role_check(&config, &writer, &proxy_host(&log)).await.unwrap();
    assert!(
        !too_much.ok && too_much.detail.contains("bgctl-proxy@web.service runs here"),
        "{too_much}"
    );
    let app_host = role_check(&config, &writer, &systemd(&log, &[])).await.unwrap();
    assert!(
        app_host.ok && app_host.detail.contains("an app host's role"),
        "{app_host}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn without_systemd_its_check_fails_and_the_checks_that_need_it_are_left_out() {
    let (dir, config) = service_in_temp_dir("doctor-down");
    let log = Log::default();
    let down = Reached::<FakeSystemd<'_>, _, FakeState<'_>> {
        systemd: Err(SystemdError::Unreachable {
            address: "unix:path=/nowhere".into(),
            reason: "no such file".into(),
        }),
        docker: Ok(crate::fakes::FakeDocker { sick: None }),
        store: Some(FakeState::with(&log, None)),
        live: Some(None),
    };
    let checks = examine_with(&config, down, Check::pass("state", "fake")).await;
    let names: Vec<&str> = checks.iter().map(|c| c.name).collect();
    assert!(!checks[0].ok && checks[0].name == "systemd", "{}", checks[0]);
    assert!(
        checks[0].fix.as_deref().unwrap().starts_with("start dbus"),
        "{}",
        checks[0]
    );
    assert!(
        checks[1].ok && checks[1].detail.starts_with("docker 20.10 (fake), API 1.41"),
        "{}",
        checks[1]
    );
    for needs_systemd in ["proxy", "units", "port", "leftover"] {
        assert!(!names.contains(&needs_systemd), "{names:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
