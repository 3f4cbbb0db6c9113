//! `status` against the fakes: what agrees is in sync, what does not is drift.

use std::cell::RefCell;

use super::*;
use crate::docker::Docker;
use crate::fakes::{FakeDocker, FakeProxy, FakeState, FakeSystemd, Log, service_in_temp_dir};
use crate::state::{Active, StateStore};
use crate::systemd::Systemd;

/// The report from the fakes, as `gather` makes it from the real boundaries;
/// `at` is the state store's kind and location.
async fn report(
    config: &Config,
    state: &impl StateStore,
    at: (&'static str, String),
    systemd: &impl Systemd,
    docker: &impl Docker,
    nginx: &impl Proxy,
) -> Result<Status, Error> {
    let (stored, observed) = tokio::try_join!(read_stored(state), observe(config, systemd, docker, nginx))?;
    assemble(config, at, stored, observed)
}

fn green_live(config: &Config) -> Active {
    Active {
        color: Color::Green,
        port: config.port(Color::Green),
        image: Some("app:v2".parse().unwrap()),
        url: config.url(Color::Green),
        deployed_at: "2026-12-07T00:00:00Z".into(),
        previous: Some(Color::Blue),
    }
}

async fn status_with(config: &Config, site_color: Color, running: &str) -> Status {
    std::fs::write(
        config.site().as_path(),
        render::site(config, Some(site_color)).unwrap().contents,
    )
    .unwrap();
    let log = Log::default();
    let state = FakeState::with(&log, Some(green_live(config)));
    let systemd = FakeSystemd {
        log: &log,
        running: RefCell::new([(running.to_owned(), true)].into()),
        enabled: RefCell::default(),
    };
    let proxy = FakeProxy::serving(&log, Some(render::site(config, Some(site_color)).unwrap().contents));
    let docker = FakeDocker { sick: None };
    report(config, &state, ("fake", "memory".into()), &systemd, &docker, &proxy)
        .await
        .unwrap()
}

#[tokio::test]
async fn state_site_units_and_nginx_agreeing_are_in_sync() {
    let (dir, config) = service_in_temp_dir("status-sync");
    let status = status_with(&config, Color::Green, "web_green@9002.service").await;
    assert!(status.proxy.in_sync, "{:?}", status.proxy.drift);
    assert_eq!(status.active.as_ref().map(|a| a.color.as_str()), Some("green"));
    assert_eq!(status.proxy.upstream_port, Some(9002));
    assert_eq!(status.colors["green"].active_state, "active");
    assert_eq!(status.state.backend, "fake");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_site_and_a_unit_that_disagree_with_the_state_are_drift() {
    let (dir, config) = service_in_temp_dir("status-drift");
    let status = status_with(&config, Color::Blue, "web_blue@9001.service").await;
    assert!(!status.proxy.in_sync);
    let drift = status.proxy.drift.join("\n");
    assert!(drift.contains("9001"), "{drift}");
    assert!(drift.contains("green"), "{drift}");
    std::fs::remove_dir_all(&dir).unwrap();
}
