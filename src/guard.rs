//! `[guard]` (DESIGN §2, §4), the pure part: what the proxy's access log
//! says about the new color, and the verdict on it. The log itself is
//! followed by the proxy boundary ([`crate::proxy`]); the phase that
//! watches is in the switch.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Guard;

/// What the guard counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Users' requests logged, whoever answered them.
    pub requests: u64,
    /// The new color's answers among them (a refused connection included).
    pub responses: u64,
    /// The new color's 5xx (a refused connection is nginx's 502).
    pub errors: u64,
}

impl Tally {
    pub fn add(&mut self, more: Tally) {
        self.requests += more.requests;
        self.responses += more.responses;
        self.errors += more.errors;
    }

    /// The share of the new color's answers that were 5xx.
    pub fn error_ratio(&self) -> f64 {
        if self.responses == 0 {
            0.0
        } else {
            self.errors as f64 / self.responses as f64
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} responses from the new color, {} of them 5xx ({:.1} %)",
            self.responses,
            self.errors,
            self.error_ratio() * 100.0
        )
    }
}

/// One line of the guard's log, as the site's `log_format` writes it.
#[derive(Debug, Deserialize)]
struct LogLine {
    upstream: String,
    upstream_status: String,
}

/// What one log line adds for the color listening on `port`; `None` for a
/// line that is not the guard's JSON (nothing is counted from it).
pub fn count_line(line: &str, port: u16) -> Option<Tally> {
    let line: LogLine = serde_json::from_str(line).ok()?;
    // nginx lists each upstream it tried, ", " between tries and " : "
    // between internal redirects, with one status for each.
    let split = |s: &str| {
        s.split(", ")
            .flat_map(|p| p.split(" : "))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let suffix = format!(":{port}");
    let mut tally = Tally {
        requests: 1,
        ..Tally::default()
    };
    for (addr, status) in split(&line.upstream).iter().zip(split(&line.upstream_status)) {
        if addr.ends_with(&suffix) {
            tally.responses += 1;
            if status.parse::<u16>().is_ok_and(|s| s >= 500) {
                tally.errors += 1;
            }
        }
    }
    Some(tally)
}

/// Where the guard stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The window is not over and nothing is wrong yet.
    Watching,
    /// Too many 5xx: roll back now.
    Breached,
    /// The window is over and the new color stays.
    Passed,
    /// Not one request was logged, not even verify's: the guard cannot
    /// see (the log is off, or elsewhere).
    Blind,
}

/// Verify's own requests are in the log before the guard starts: still
/// none after this means nginx is not writing it, and waiting the window
/// out would not change that.
const BLIND_AFTER: Duration = Duration::from_secs(1);

/// The verdict on `tally` after `elapsed` of the window.
pub fn judge(guard: &Guard, tally: &Tally, elapsed: Duration) -> Verdict {
    let window = guard.window.get();
    let enough = tally.responses >= u64::from(guard.min_requests.max(1));
    if enough && tally.error_ratio() > guard.max_error_ratio.get() {
        Verdict::Breached
    } else if tally.requests == 0 && elapsed >= BLIND_AFTER.min(window) {
        Verdict::Blind
    } else if elapsed < window {
        Verdict::Watching
    } else {
        Verdict::Passed
    }
}

/// The guard's figures, for the error, the journal and the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    #[serde(flatten)]
    pub tally: Tally,
    /// How long it watched, in ms.
    pub watched_ms: u64,
    pub window_ms: u64,
    pub max_error_ratio: f64,
    pub min_requests: u32,
    /// passed, tripped or blind.
    pub verdict: String,
}

impl Figures {
    pub fn new(guard: &Guard, tally: Tally, watched: Duration, verdict: Verdict) -> Self {
        Figures {
            tally,
            watched_ms: watched.as_millis() as u64,
            window_ms: guard.window.get().as_millis() as u64,
            max_error_ratio: guard.max_error_ratio.get(),
            min_requests: guard.min_requests,
            verdict: match verdict {
                Verdict::Breached => "tripped",
                Verdict::Blind => "blind",
                Verdict::Watching | Verdict::Passed => "passed",
            }
            .into(),
        }
    }
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in {:.1} s of the {:.0} s window (limit {:.1} % once {} responses)",
            self.tally,
            self.watched_ms as f64 / 1000.0,
            self.window_ms as f64 / 1000.0,
            self.max_error_ratio * 100.0,
            self.min_requests
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::HumanDuration;

    fn guard() -> Guard {
        Guard {
            window: HumanDuration::from_millis(10_000),
            ..Guard::default()
        }
    }

    const NEW: u16 = 9002;

    #[test]
    fn only_the_new_colors_answers_count_and_a_refused_try_is_an_error() {
        let line = |up: &str, st: &str| format!(r#"{{"status":200,"upstream":"{up}","upstream_status":"{st}"}}"#);
        let count = |up, st| count_line(&line(up, st), NEW).unwrap();
        assert_eq!(
            count("127.0.0.1:9002", "200"),
            Tally {
                requests: 1,
                responses: 1,
                errors: 0
            }
        );
        assert_eq!(
            count("127.0.0.1:9002", "503"),
            Tally {
                requests: 1,
                responses: 1,
                errors: 1
            }
        );
        // Refused by the new color, answered by the old one.
        assert_eq!(
            count("127.0.0.1:9002, 127.0.0.1:9001", "502, 200"),
            Tally {
                requests: 1,
                responses: 1,
                errors: 1
            }
        );
        assert_eq!(
            count("127.0.0.1:9001", "500"),
            Tally {
                requests: 1,
                responses: 0,
                errors: 0
            }
        );
        // An internal redirect, then a client that went away (no status).
        assert_eq!(
            count("[::1]:9002 : 127.0.0.1:9002", "404 : -"),
            Tally {
                requests: 1,
                responses: 2,
                errors: 0
            }
        );
        // A port that merely ends in the same digits is another color.
        assert_eq!(count("127.0.0.1:19002", "500").responses, 0);
        assert_eq!(count_line("not json", NEW), None);
        assert_eq!(count_line("{\"status\":200}", NEW), None);
    }

    #[test]
    fn the_guard_trips_on_too_many_errors_once_it_has_enough_answers() {
        let g = guard();
        let at = Duration::from_secs(1);
        let tally = |responses, errors| Tally {
            requests: responses,
            responses,
            errors,
        };
        assert_eq!(judge(&g, &tally(19, 19), at), Verdict::Watching, "below min_requests");
        assert_eq!(judge(&g, &tally(20, 1), at), Verdict::Breached, "5 % > 2 %");
        assert_eq!(judge(&g, &tally(100, 2), at), Verdict::Watching, "2 % is allowed");
        assert_eq!(judge(&g, &tally(100, 3), at), Verdict::Breached);
        assert_eq!(judge(&g, &tally(100, 3), g.window.get() * 2), Verdict::Breached);
        assert_eq!(
            judge(&g, &tally(5, 5), g.window.get()),
            Verdict::Passed,
            "too few to judge"
        );
        assert_eq!(judge(&g, &tally(0, 0), Duration::from_millis(500)), Verdict::Watching);
        assert_eq!(
            judge(&g, &tally(0, 0), Duration::from_secs(1)),
            Verdict::Blind,
            "not the whole window"
        );
        assert_eq!(judge(&g, &tally(0, 0), g.window.get()), Verdict::Blind);
    }
}
