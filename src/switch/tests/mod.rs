//! The switch state machine against fakes: which boundary calls happen, in
//! which order, and what a failure leaves behind. The real boundaries are
//! proven in tests/switch.rs.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::config::Config;
use crate::domain::UnitName;
use crate::error::{Error, ExitCode};
use crate::fakes::*;
use crate::guard::Tally;
use crate::naming;
use crate::render;
use crate::state::{Active, HistoryRecord, Holder, Staged, StateError};
use crate::systemd::{ActiveState, Systemd, SystemdError};

/// One test's world: a config whose unit_dir is a temp dir, and fakes.
struct Fixture {
    config: Config,
    _dir: tempdir::Dir,
    log: Log,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        Fixture::with(tag, "")
    }

    /// With `extra` TOML right after the `[proxy]` keys: more of them, or
    /// sections (`[checks]`, `[hooks]`).
    fn with(tag: &str, extra: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("bgctl-switch-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = format!(
            "name = \"t\"\nimage = \"app:v1\"\n[health]\ntimeout = \"300ms\"\ninterval = \"10ms\"\n\
             [proxy]\ndrain = \"0s\"\nsite = \"{d}/t.conf\"\n{extra}[systemd]\nunit_dir = \"{d}\"\n",
            d = dir.display()
        );
        Fixture {
            config: Config::parse(&text).unwrap(),
            _dir: tempdir::Dir(dir),
            log: Log::default(),
        }
    }

    fn live(&self, color: Color) -> Option<Active> {
        Some(Active {
            color,
            port: self.config.port(color),
            image: Some("app:v0".parse().unwrap()),
            url: self.config.url(color),
            deployed_at: "2026-11-27T00:00:00Z".into(),
            previous: None,
        })
    }
}

struct Outcomes<'a> {
    result: Result<Outcome, SwitchError>,
    state: FakeState<'a>,
    proxy: FakeProxy<'a>,
    systemd: FakeSystemd<'a>,
    phases: Vec<Phase>,
    notes: Vec<String>,
}

/// What goes wrong in a run.
#[derive(Clone, Copy)]
struct Faults {
    healthy: bool,
    verify_ok: bool,
    conflict: bool,
    /// Site applies that succeed before nginx -t refuses the rest.
    applies: usize,
    /// What the guard finds at each look.
    traffic: Option<Tally>,
    /// Another proxy does not follow a rollback.
    others_stay: bool,
    /// A signal this long into the run.
    signal: Option<(Duration, Signal)>,
    /// The lock's lease expires right after the guard passed.
    lose_lock: bool,
}

const NONE: Faults = Faults {
    healthy: true,
    verify_ok: true,
    conflict: false,
    applies: usize::MAX,
    traffic: None,
    others_stay: false,
    signal: None,
    lose_lock: false,
};

/// Runs a switch with `live` live, the fakes misbehaving as `faults` says.
async fn run<'a>(
    fx: &'a Fixture,
    live: Option<Color>,
    faults: Faults,
    holder: Option<&str>,
    to: Option<Color>,
) -> Outcomes<'a> {
    let systemd = FakeSystemd {
        log: &fx.log,
        running: RefCell::new(HashMap::new()),
        enabled: RefCell::default(),
    };
    if let Some(live) = live {
        let unit = naming::instance_unit(&fx.config.name, live, fx.config.port(live));
        systemd.running.borrow_mut().insert(unit.to_string(), true);
    }
    let mut state = FakeState {
        holder: holder.map(str::to_owned),
        conflict: Cell::new(faults.conflict),
        lose_lock_once_proven: faults.lose_lock,
        ..FakeState::with(&fx.log, live.and_then(|c| fx.live(c)))
    };
    let old_site = live.map(|c| render::site(&fx.config, Some(c)).unwrap().contents);
    let proxy = FakeProxy {
        log: &fx.log,
        loaded: Cell::new(live),
        site: RefCell::new(old_site),
        verify_fails: (!faults.verify_ok).then(|| to.unwrap_or(live.map_or(Color::Blue, Color::other))),
        applies_left: Cell::new(faults.applies),
        traffic: faults.traffic,
        others_stay: faults.others_stay,
    };
    let request = Request {
        goal: to.map_or(Goal::Other, Goal::To),
        image: Some("app:v2".parse().unwrap()),
        wait: Wait::No,
        deploy_id: "d1".into(),
        holder: Holder::this_process("switch", "d1", "t0"),
        interrupt: interrupt_after(faults.signal),
    };
    let mut report = Quiet::default();
    let world: World<Fakes> = World {
        config: &fx.config,
        systemd: &systemd,
        docker: &FakeDocker {
            sick: (!faults.healthy).then(|| {
                let target = to.unwrap_or(live.map_or(Color::Blue, Color::other));
                naming::instance(&fx.config.name, target)
            }),
        },
        state: &mut state,
        proxy: &proxy,
        probe: &FakeProbe,
    };
    let result = switch(world, &request, &mut report).await;
    Outcomes {
        result,
        state,
        proxy,
        systemd,
        phases: report.0,
        notes: report.1,
    }
}

/// An interrupt that fires `signal` after its delay (never without one).
fn interrupt_after(signal: Option<(Duration, Signal)>) -> Interrupt {
    let Some((after, signal)) = signal else {
        return Interrupt::never();
    };
    let (interrupter, interrupt) = Interrupt::channel();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        interrupter.interrupt(signal);
        // Held until the test's runtime ends, so the flag stays readable.
        std::future::pending::<()>().await;
    });
    interrupt
}

fn exit_code(e: SwitchError) -> ExitCode {
    Error::Switch(e).exit_code()
}

#[tokio::test]
async fn the_first_switch_starts_blue_serves_it_and_enables_only_it() {
    let fx = Fixture::new("first");
    let out = run(&fx, None, NONE, None, None).await;
    let outcome = out.result.unwrap();
    assert_eq!((outcome.from, outcome.to), (None, Color::Blue));
    assert_eq!(out.phases, Phase::ALL);
    assert!(fx.log.position("lock") < fx.log.position("start t_blue@9001.service"));
    assert!(fx.log.position("flip blue") < fx.log.position("site blue"));
    assert!(fx.log.position("verify blue") < fx.log.position("enable t_blue@9001.service"));
    assert_eq!(*out.systemd.enabled.borrow(), ["t_blue@9001.service".to_owned()].into());
    assert!(fx.log.position("enable t_blue@9001.service") < fx.log.position("unlock"));
    // The image went into blue's env file before the start, and nothing
    // made systemd re-read its units.
    let env_file = fx.config.systemd.unit_dir.as_path().join("t_blue@.service.d/image.env");
    assert!(
        std::fs::read_to_string(env_file)
            .unwrap()
            .contains("\nBGCTL_IMAGE=app:v2\n")
    );
    assert!(
        !fx.log.0.borrow().iter().any(|e| e == "daemon-reload"),
        "{:?}",
        fx.log.0.borrow()
    );
    assert_eq!(out.state.history.borrow()[0].result, "ok");
}

#[tokio::test]
async fn the_old_color_stops_only_after_the_new_one_served_verified_traffic() {
    let fx = Fixture::new("order");
    let out = run(&fx, Some(Color::Blue), NONE, None, None).await;
    assert_eq!(out.result.unwrap().to, Color::Green);
    let stop_old = fx.log.position("stop t_blue@9001.service");
    assert!(fx.log.position("start t_green@9002.service") < fx.log.position("flip green"));
    assert!(fx.log.position("flip green") < fx.log.position("site green"));
    assert!(fx.log.position("verify green") < stop_old);
    assert!(stop_old < fx.log.position("status blue stopped"));
    assert_eq!(out.state.active.borrow().as_ref().map(|a| a.color), Some(Color::Green));
}

#[tokio::test]
async fn a_color_that_never_gets_healthy_is_stopped_and_nothing_else_changes() {
    let fx = Fixture::new("unhealthy");
    let out = run(&fx, Some(Color::Blue), Faults { healthy: false, ..NONE }, None, None).await;
    let err = out.result.unwrap_err();
    assert!(
        matches!(err, SwitchError::Unhealthy { ref log, .. } if !log.is_empty()),
        "{err}"
    );
    assert!(
        err.to_string().contains("exit 1: connection refused"),
        "the health log is shown: {err}"
    );
    assert_eq!(exit_code(err), ExitCode::Unhealthy);
    assert!(fx.log.has("stop t_green@9002.service"));
    assert!(!fx.log.has("flip green") && !fx.log.has("site green"));
    assert!(!fx.log.has("stop t_blue@9001.service"), "the live color was stopped");
    assert_eq!(out.state.active.borrow().as_ref().map(|a| a.color), Some(Color::Blue));
    assert_eq!(out.state.revision.get(), 7);
    assert!(fx.log.has("unlock"));
    assert!(out.state.history.borrow()[0].result.starts_with("failed"));
}

#[tokio::test]
async fn a_sigterm_before_the_flip_stops_the_new_color_and_exits_143() {
    let fx = Fixture::new("sigterm-healthy");
    // Never healthy: the run waits in phase healthy when the signal comes.
    let faults = Faults {
        healthy: false,
        signal: Some((Duration::from_millis(100), Signal::Term)),
        ..NONE
    };
    let out = run(&fx, Some(Color::Blue), faults, None, None).await;
    let err = out.result.unwrap_err();
    assert_eq!(
        err.to_string(),
        "interrupted by SIGTERM before the flip: t_green@9002.service was stopped and nothing else changed"
    );
    assert!(fx.log.has("stop t_green@9002.service"));
    assert!(
        !fx.log
            .0
            .borrow()
            .iter()
            .any(|e| e.starts_with("flip") || e.starts_with("site"))
    );
    assert!(fx.log.has("unlock"));
    assert_eq!(exit_code(err), ExitCode::Terminated);
}

#[tokio::test]
async fn a_held_lock_exits_4_and_touches_nothing() {
    let fx = Fixture::new("locked");
    let out = run(&fx, Some(Color::Blue), NONE, Some("deploy d0 (pid 1)"), None).await;
    let err = out.result.unwrap_err();
    assert!(err.to_string().contains("deploy d0 (pid 1)"), "names the holder: {err}");
    assert_eq!(exit_code(err), ExitCode::Locked);
    assert!(fx.log.0.borrow().is_empty(), "{:?}", fx.log.0.borrow());
}

#[tokio::test]
async fn a_failed_verify_rolls_back_and_the_old_color_never_stops() {
    let fx = Fixture::new("verify");
    let out = run(
        &fx,
        Some(Color::Blue),
        Faults {
            verify_ok: false,
            ..NONE
        },
        None,
        None,
    )
    .await;
    let err = out.result.unwrap_err();
    assert!(matches!(err, SwitchError::RolledBack { .. }), "{err}");
    assert!(err.to_string().contains("blue is live again"), "{err}");
    assert_eq!(exit_code(err), ExitCode::Failed);
    assert!(
        fx.log.position("flip green") < fx.log.position("flip blue"),
        "flipped back"
    );
    // The state first: a crash between the two must not leave it on green.
    assert!(
        fx.log.position("flip blue") < fx.log.position("site blue"),
        "{:?}",
        fx.log.0.borrow()
    );
    assert!(!fx.log.has("prove green"), "an unproven flip was proven");
    assert_eq!(*out.state.probation.borrow(), None, "the flip back ends the probation");
    assert_eq!(out.state.active.borrow().as_ref().map(|a| a.color), Some(Color::Blue));
    let site = out.proxy.site.borrow().clone().unwrap();
    assert_eq!(
        render::site_color(&site),
        Some(Color::Blue),
        "the old site is back: {site}"
    );
    assert!(fx.log.has("stop t_green@9002.service"));
    assert!(
        fx.log.position("flip blue") < fx.log.position("others left green")
            && fx.log.position("others left green") < fx.log.position("stop t_green@9002.service"),
        "green stopped before the other proxies left it"
    );
    assert!(!fx.log.has("stop t_blue@9001.service"), "the live color was stopped");
    let blue = naming::instance_unit(&fx.config.name, Color::Blue, fx.config.port(Color::Blue));
    assert!(out.systemd.state(&blue).await.unwrap().is_running());
}

#[tokio::test]
async fn a_rollback_that_another_proxy_does_not_follow_keeps_the_target_running() {
    let fx = Fixture::new("others-stay");
    let faults = Faults {
        verify_ok: false,
        others_stay: true,
        ..NONE
    };
    let out = run(&fx, Some(Color::Blue), faults, None, None).await;
    let err = out.result.unwrap_err();
    assert!(matches!(err, SwitchError::RollbackFailed { .. }), "{err}");
    assert!(
        err.to_string().contains("http://proxy-2 still answered as green"),
        "{err}"
    );
    assert_eq!(out.state.active.borrow().as_ref().map(|a| a.color), Some(Color::Blue));
    assert!(
        !fx.log.has("stop t_green@9002.service"),
        "green stopped under proxy-2's users"
    );
    assert!(!fx.log.has("stop t_blue@9001.service"), "the live color was stopped");
}

#[tokio::test]
async fn a_failed_first_deploy_leaves_no_color_live() {
    let fx = Fixture::new("first-fail");
    let out = run(
        &fx,
        None,
        Faults {
            verify_ok: false,
            ..NONE
        },
        None,
        None,
    )
    .await;
    assert!(matches!(out.result, Err(SwitchError::RolledBack { .. })));
    assert!(fx.log.has("retract blue"));
    assert_eq!(*out.state.active.borrow(), None);
    assert!(out.proxy.site.borrow().as_ref().unwrap().contains("return 503"));
}

#[tokio::test]
async fn switching_to_the_live_color_is_a_usage_error_that_starts_nothing() {
    let fx = Fixture::new("same");
    let out = run(&fx, Some(Color::Green), NONE, None, Some(Color::Green)).await;
    let err = out.result.unwrap_err();
    assert!(
        err.to_string().contains("green is already live: switch to blue"),
        "{err}"
    );
    assert_eq!(exit_code(err), ExitCode::Usage);
    assert!(!fx.log.0.borrow().iter().any(|e| e.starts_with("start")));
    assert!(fx.log.has("unlock"));
}

#[tokio::test]
async fn a_flip_conflict_stops_the_target_and_leaves_the_proxy_alone() {
    let fx = Fixture::new("conflict");
    let out = run(&fx, Some(Color::Blue), Faults { conflict: true, ..NONE }, None, None).await;
    let err = out.result.unwrap_err();
    assert!(matches!(err, SwitchError::State(StateError::Conflict { .. })), "{err}");
    assert_eq!(exit_code(err), ExitCode::Failed);
    assert!(fx.log.has("stop t_green@9002.service"));
    assert!(!fx.log.0.borrow().iter().any(|e| e.starts_with("site")));
    assert!(!fx.log.has("stop t_blue@9001.service"));
}

#[tokio::test]
async fn when_the_old_site_cannot_be_restored_the_target_keeps_running() {
    let fx = Fixture::new("no-restore");
    // The new site applies, verify fails, and nginx refuses the old site.
    let out = run(
        &fx,
        Some(Color::Blue),
        Faults {
            verify_ok: false,
            applies: 1,
            ..NONE
        },
        None,
        None,
    )
    .await;
    let err = out.result.unwrap_err();
    assert!(matches!(err, SwitchError::RollbackFailed { .. }), "{err}");
    assert!(fx.log.has("site blue refused"));
    // nginx may still send to green: stopping it would be an outage.
    assert!(!fx.log.has("stop t_green@9002.service"), "{:?}", fx.log.0.borrow());
    assert!(!fx.log.has("stop t_blue@9001.service"));
    assert_eq!(
        out.state.active.borrow().as_ref().map(|a| a.color),
        Some(Color::Blue),
        "state flipped back"
    );
}

static HEALTHY: FakeDocker = FakeDocker { sick: None };

/// The fakes as a world in which every container is healthy.
fn healthy_world<'a>(
    config: &'a Config,
    systemd: &'a FakeSystemd<'a>,
    state: &'a mut FakeState<'a>,
    proxy: &'a FakeProxy<'a>,
) -> World<'a, Fakes<'a>> {
    World {
        config,
        systemd,
        docker: &HEALTHY,
        state,
        proxy,
        probe: &FakeProbe,
    }
}

/// etcd says blue; nginx has green loaded and both run: a switch killed
/// right after its flip-back, or a hand-edited site.
fn interrupted<'a>(fx: &'a Fixture, running: &[Color]) -> (FakeSystemd<'a>, FakeState<'a>, FakeProxy<'a>) {
    let systemd = FakeSystemd {
        log: &fx.log,
        running: RefCell::new(HashMap::new()),
        enabled: RefCell::default(),
    };
    for c in running {
        let unit = naming::instance_unit(&fx.config.name, *c, fx.config.port(*c));
        systemd.running.borrow_mut().insert(unit.to_string(), true);
    }
    let state = FakeState::with(&fx.log, fx.live(Color::Blue));
    let proxy = FakeProxy {
        log: &fx.log,
        site: RefCell::new(Some(render::site(&fx.config, Some(Color::Green)).unwrap().contents)),
        loaded: Cell::new(Some(Color::Green)),
        verify_fails: None,
        applies_left: Cell::new(usize::MAX),
        traffic: None,
        others_stay: false,
    };
    (systemd, state, proxy)
}

fn request(to: Option<Color>) -> Request {
    Request {
        goal: to.map_or(Goal::Other, Goal::To),
        image: None,
        wait: Wait::No,
        deploy_id: "d".into(),
        holder: Holder::this_process("switch", "d", "t0"),
        interrupt: Interrupt::never(),
    }
}

#[tokio::test]
async fn a_switch_first_heals_a_proxy_left_on_the_idle_color_then_deploys() {
    let fx = Fixture::new("interrupted");
    let (systemd, mut state, proxy) = interrupted(&fx, &[Color::Blue, Color::Green]);
    let world = healthy_world(&fx.config, &systemd, &mut state, &proxy);
    let outcome = switch(world, &request(None), &mut Quiet::default()).await.unwrap();
    assert_eq!((outcome.from, outcome.to), (Some(Color::Blue), Color::Green));
    // nginx goes back to blue before green (then idle) is stopped and redeployed.
    assert!(fx.log.position("site blue") < fx.log.position("stop t_green@9002.service"));
    assert!(fx.log.position("stop t_green@9002.service") < fx.log.position("start t_green@9002.service"));
    assert!(fx.log.position("flip green") < fx.log.position("stop t_blue@9001.service"));
}

#[tokio::test]
async fn a_flip_is_on_probation_until_verified_and_ends_it_before_the_old_color_stops() {
    let fx = Fixture::new("probation");
    let out = run(&fx, Some(Color::Blue), NONE, None, None).await;
    out.result.unwrap();
    let log = |e| fx.log.position(e);
    assert!(log("flip green") < log("site green") && log("site green") < log("prove green"));
    assert!(log("prove green") < log("stop t_blue@9001.service"));
    assert_eq!(*out.state.probation.borrow(), None);
}

#[tokio::test]
async fn reconcile_undoes_a_flip_still_on_probation_and_stops_the_rejected_color() {
    let fx = Fixture::new("cut-off");
    // A deploy to green was killed after its flip: both run, nginx and the
    // state name green, and the probation says blue was live before.
    let (systemd, mut state, proxy) = interrupted(&fx, &[Color::Blue, Color::Green]);
    let blue = fx.live(Color::Blue);
    *state.active.borrow_mut() = fx.live(Color::Green);
    *state.probation.borrow_mut() = Some(crate::state::Probation {
        deploy_id: "d0".into(),
        back_to: blue.clone(),
    });
    let world: World<Fakes> = World {
        config: &fx.config,
        systemd: &systemd,
        docker: &HEALTHY,
        state: &mut state,
        proxy: &proxy,
        probe: &FakeProbe,
    };
    let actions = reconcile(world, &request(None), &mut Quiet::default()).await.unwrap();
    assert_eq!(
        actions[0],
        "deploy d0 was cut off before its flip to green was proven: undone, blue is live again"
    );
    assert_eq!(state.active.borrow().as_ref().map(|a| a.color), Some(Color::Blue));
    assert_eq!(*state.probation.borrow(), None);
    assert!(fx.log.position("flip blue") < fx.log.position("site blue"));
    assert!(fx.log.position("site blue") < fx.log.position("stop t_green@9002.service"));
    assert!(!fx.log.has("stop t_blue@9001.service"), "the good color was stopped");
}

#[tokio::test]
async fn reconcile_starts_the_live_color_points_nginx_at_it_and_stops_the_other() {
    let fx = Fixture::new("reconcile");
    // Only green runs; etcd says blue; nginx has green.
    let (systemd, mut state, proxy) = interrupted(&fx, &[Color::Green]);
    let world = healthy_world(&fx.config, &systemd, &mut state, &proxy);
    let actions = reconcile(world, &request(None), &mut Quiet::default()).await.unwrap();
    assert_eq!(
        actions,
        [
            "started blue, which the state says is live",
            "pointed nginx at blue",
            "enabled only blue",
            "stopped green, which the state says is idle",
        ]
    );
    assert!(fx.log.position("start t_blue@9001.service") < fx.log.position("site blue"));
    assert!(fx.log.position("site blue") < fx.log.position("stop t_green@9002.service"));
    assert!(
        !fx.log.0.borrow().iter().any(|e| e.starts_with("flip")),
        "reconcile never flips"
    );
}

#[tokio::test]
async fn reconcile_of_a_system_in_sync_changes_nothing() {
    let fx = Fixture::new("in-sync");
    let out = run(&fx, Some(Color::Blue), NONE, None, None).await;
    assert!(out.result.is_ok());
    fx.log.0.borrow_mut().clear();
    let mut state = out.state;
    let world = healthy_world(&fx.config, &out.systemd, &mut state, &out.proxy);
    let actions = reconcile(world, &request(None), &mut Quiet::default()).await.unwrap();
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(*fx.log.0.borrow(), ["lock", "unlock"]);
}

fn record(to: Color, image: &str, result: &str) -> HistoryRecord {
    HistoryRecord {
        id: format!("to-{to}"),
        from: None,
        to: to.to_string(),
        image: image.into(),
        start: String::new(),
        end: String::new(),
        result: result.into(),
        phases: Vec::new(),
        command: "switch".into(),
        commands: Vec::new(),
        guard: None,
    }
}

#[tokio::test]
async fn rollback_goes_back_from_what_is_live_once_it_holds_the_lock() {
    let fx = Fixture::new("rollback-lock");
    // When typed: blue live, green before it. While it waits for the lock,
    // another deploy makes green live with v2, blue (v1) before it.
    let (systemd, mut state, proxy) = interrupted(&fx, &[Color::Blue]);
    *proxy.site.borrow_mut() = Some(render::site(&fx.config, Some(Color::Blue)).unwrap().contents);
    proxy.loaded.set(Some(Color::Blue));
    state.active.borrow_mut().as_mut().unwrap().previous = Some(Color::Green);
    let green = Active {
        previous: Some(Color::Blue),
        ..fx.live(Color::Green).unwrap()
    };
    state.history.borrow_mut().push(record(Color::Blue, "app:v1", "ok"));
    state.on_lock = Some((green, record(Color::Green, "app:v2", "ok")));
    let rollback = Request {
        goal: Goal::Previous,
        ..request(None)
    };
    let world = healthy_world(&fx.config, &systemd, &mut state, &proxy);
    let outcome = switch(world, &rollback, &mut Quiet::default()).await.unwrap();
    assert_eq!((outcome.from, outcome.to), (Some(Color::Green), Color::Blue));
    assert_eq!(outcome.image.to_string(), "app:v1", "the image blue last served");
}

#[tokio::test]
async fn a_rollback_with_no_previous_deploy_is_a_usage_error_that_starts_nothing() {
    let fx = Fixture::new("rollback-none");
    let (systemd, mut state, proxy) = interrupted(&fx, &[Color::Blue]);
    *proxy.site.borrow_mut() = Some(render::site(&fx.config, Some(Color::Blue)).unwrap().contents);
    proxy.loaded.set(Some(Color::Blue));
    let rollback = Request {
        goal: Goal::Previous,
        ..request(None)
    };
    let world = healthy_world(&fx.config, &systemd, &mut state, &proxy);
    let err = switch(world, &rollback, &mut Quiet::default()).await.unwrap_err();
    assert!(matches!(err, SwitchError::NothingToRollBack), "{err}");
    assert_eq!(exit_code(err), ExitCode::Usage);
    assert!(!fx.log.0.borrow().iter().any(|e| e.starts_with("start")));
}

#[test]
fn exit_3_is_for_an_app_that_ran_and_1_for_a_start_docker_refused() {
    let unit = UnitName::parse("t_blue@9001.service").unwrap();
    let exited = |status: i32| {
        let mut state = unit_state(ActiveState::Failed, "failed");
        (state.result, state.exec_main_status) = ("exit-code".into(), status);
        SwitchError::StartFailed {
            unit: unit.clone(),
            source: SystemdError::FailedAfterStart {
                unit: unit.clone(),
                state: Box::new(state),
            },
            journal: Vec::new(),
        }
    };
    assert_eq!(exit_code(exited(1)), ExitCode::Unhealthy, "the app exited");
    assert_eq!(
        exit_code(exited(125)),
        ExitCode::Failed,
        "docker run refused (a taken port)"
    );
    let job_failed = SwitchError::StartFailed {
        unit: unit.clone(),
        source: SystemdError::JobFailed {
            operation: "start",
            unit: unit.clone(),
            result: crate::systemd::JobResult::Failed,
            state: Box::new(unit_state(ActiveState::Failed, "failed")),
        },
        journal: Vec::new(),
    };
    assert_eq!(exit_code(job_failed), ExitCode::Failed, "the start job failed");
}

mod guard;
mod staged;
