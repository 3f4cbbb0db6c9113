//! `[guard]` with fakes: the proxy's log says what users got.

use super::*;

/// A window the fakes' looks (every 100 ms) fit into a few times.
const GUARD: &str = "[guard]\nwindow = \"400ms\"\nmin_requests = 20\n";

fn looks(responses: u64, errors: u64) -> Option<Tally> {
    Some(Tally {
        requests: responses,
        responses,
        errors,
    })
}

#[tokio::test]
async fn a_guard_that_sees_5xx_rolls_back_at_once_and_the_old_color_never_stops() {
    let fx = Fixture::with("guard-trip", GUARD);
    let started = std::time::Instant::now();
    let faults = Faults {
        traffic: looks(10, 10),
        ..NONE
    };
    let out = run(&fx, Some(Color::Blue), faults, None, None).await;
    let err = out.result.unwrap_err();
    let SwitchError::RolledBack { failure, .. } = &err else {
        panic!("{err}")
    };
    let SwitchError::GuardTripped { figures, .. } = failure.as_ref() else {
        panic!("{failure}")
    };
    // Two looks of 10 reach min_requests, long before the window is over.
    assert_eq!((figures.tally.responses, figures.tally.errors), (20, 20));
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("20 of them 5xx (100.0 %)"), "{err}");
    assert!(fx.log.position("guard log reset") < fx.log.position("site green"));
    assert!(!fx.log.has("stop t_blue@9001.service"), "the old color was stopped");
    assert_eq!(out.state.active.borrow().as_ref().map(|a| a.color), Some(Color::Blue));
    let history = out.state.history.borrow();
    let guard = history[0].guard.as_ref().expect("the figures are in the history");
    assert_eq!((guard.verdict.as_str(), guard.tally.errors), ("tripped", 20));
    assert_eq!(exit_code(err), ExitCode::Failed);
}

#[tokio::test]
async fn a_guard_that_sees_good_answers_lets_the_switch_finish_after_its_window() {
    let fx = Fixture::with("guard-pass", GUARD);
    let started = std::time::Instant::now();
    let faults = Faults {
        traffic: looks(10, 0),
        ..NONE
    };
    let out = run(&fx, Some(Color::Blue), faults, None, None).await;
    let outcome = out.result.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the window was cut short"
    );
    let figures = outcome.guard.expect("the guard watched");
    assert_eq!(figures.verdict, "passed");
    assert!(figures.tally.responses >= 40, "{figures}");
    assert!(fx.log.has("stop t_blue@9001.service"));
    assert_eq!(out.phases, Phase::ALL);
}

#[tokio::test]
async fn a_guard_that_sees_no_request_at_all_rolls_back_and_says_why() {
    let fx = Fixture::with("guard-blind", GUARD);
    let out = run(&fx, Some(Color::Blue), NONE, None, None).await;
    let err = out.result.unwrap_err();
    assert!(err.to_string().contains("access_log off;"), "{err}");
    assert!(err.to_string().contains("blue is live again"), "{err}");
    assert!(!fx.log.has("stop t_blue@9001.service"));
}

#[tokio::test]
async fn a_first_deploy_has_nothing_to_fall_back_to_and_is_not_watched() {
    let fx = Fixture::with("guard-first", GUARD);
    let out = run(&fx, None, NONE, None, None).await;
    let outcome = out.result.unwrap();
    assert_eq!((outcome.to, outcome.guard), (Color::Blue, None));
    assert!(!fx.log.has("guard log reset"));
}

#[tokio::test]
async fn a_sigint_in_the_guard_window_rolls_back_as_a_breach_does_and_exits_130() {
    let fx = Fixture::with("guard-sigint", GUARD);
    let faults = Faults {
        traffic: looks(10, 0),
        signal: Some((Duration::from_millis(150), Signal::Int)),
        ..NONE
    };
    let out = run(&fx, Some(Color::Blue), faults, None, None).await;
    let err = out.result.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("interrupted by SIGINT after the flip\nrolled back: blue is live again"),
        "{err}"
    );
    assert!(fx.log.position("flip blue") < fx.log.position("stop t_green@9002.service"));
    assert!(!fx.log.has("stop t_blue@9001.service"), "the old color was stopped");
    assert!(!fx.log.has("prove green"), "an interrupted flip was proven");
    assert_eq!(out.state.active.borrow().as_ref().map(|a| a.color), Some(Color::Blue));
    assert!(fx.log.has("unlock"), "the lock is given back");
    assert_eq!(exit_code(err), ExitCode::Interrupted);
}

#[tokio::test]
async fn a_lock_lost_after_the_guard_exits_non_zero_runs_no_post_switch_and_turns_the_guard_log_off() {
    let marker = std::env::temp_dir().join(format!("bgctl-post-switch-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let hook = format!(
        "[hooks]\npost_switch = [\"/bin/sh\", \"-c\", \"touch {}\"]\n",
        marker.display()
    );
    let fx = Fixture::with("guard-lock-lost", &format!("{GUARD}{hook}"));
    let faults = Faults {
        traffic: looks(10, 0),
        lose_lock: true,
        ..NONE
    };
    let out = run(&fx, Some(Color::Blue), faults, None, None).await;
    let err = out.result.unwrap_err();
    assert!(matches!(err, SwitchError::LockLostAfterFlip { .. }), "{err}");
    assert!(!marker.exists(), "post_switch ran without the lock");
    // The settled site went in all the same: no fallback, no guard log.
    let settled = render::site(&fx.config, Some(Color::Green)).unwrap().contents;
    assert_eq!(out.proxy.site.borrow().as_deref(), Some(settled.as_str()));
    assert!(!settled.contains("guard"), "{settled}");
    assert!(!fx.log.has("stop t_blue@9001.service"), "stopped without the lock");
    assert_eq!(exit_code(err), ExitCode::Failed);
}

#[tokio::test]
async fn a_guard_says_it_sees_only_this_hosts_traffic_when_other_proxies_serve_users() {
    let fx = Fixture::with("guard-others", &format!("verify = [\"http://10.0.0.2:8080\"]\n{GUARD}"));
    let faults = Faults {
        traffic: looks(10, 0),
        ..NONE
    };
    let out = run(&fx, Some(Color::Blue), faults, None, None).await;
    out.result.unwrap();
    assert!(
        out.notes
            .iter()
            .any(|n| n.starts_with("the guard counts this host's traffic only")
                && n.contains("requests through http://10.0.0.2:8080 are not counted")),
        "{:?}",
        out.notes
    );
    let alone = Fixture::with("guard-alone", GUARD);
    let out = run(&alone, Some(Color::Blue), faults, None, None).await;
    assert!(
        !out.notes.iter().any(|n| n.contains("the guard counts")),
        "{:?}",
        out.notes
    );
}
