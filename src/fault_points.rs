//! Crash points for the fault-injection tests; nothing in a release build.

use crate::switch::Phase;
#[cfg(feature = "fault-injection")]
use std::time::Duration;

/// Test-only crash points (cargo feature `fault-injection`):
/// `BGCTL_FAULT=<phase>:crash` aborts right after that phase (no cleanup,
/// as kill -9); `<phase>:hang` prints `fault: hanging after <phase>` and
/// waits to be killed; `<phase>:pause=<ms>` prints `fault: pausing after
/// <phase>` and goes on after that long (a window for a test to act in).
pub fn fault_point(phase: Phase) {
    fault_at(phase.as_str());
}

/// As [`fault_point`], at a named step inside a phase (`rollback-state`).
#[cfg(feature = "fault-injection")]
pub fn fault_at(point: &str) {
    let Ok(fault) = std::env::var("BGCTL_FAULT") else {
        return;
    };
    let Some((at, action)) = fault.split_once(':') else {
        return;
    };
    if at != point {
        return;
    }
    match action.split_once('=') {
        None if action == "crash" => std::process::abort(),
        None if action == "hang" => {
            eprintln!("fault: hanging after {point}");
            loop {
                std::thread::park();
            }
        }
        Some(("pause", ms)) => {
            eprintln!("fault: pausing after {point}");
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(1000)));
        }
        _ => {}
    }
}

#[cfg(not(feature = "fault-injection"))]
pub fn fault_at(_: &str) {}
