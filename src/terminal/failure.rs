//! A failed command, told once: what failed (the first line), why (the
//! rest), what to do next; with `--json` also as one object on stdout.

use serde::Serialize;

use super::{Paint, paint};
use crate::error::{Error, ExitCode};

/// `{"error": {"code", "kind", "message"}}` (DESIGN §5).
#[derive(Debug, Serialize)]
pub struct ErrorJson {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The exit code.
    pub code: i32,
    /// The exit code's name: failed, usage, unhealthy, locked, unreachable.
    pub kind: &'static str,
    pub message: String,
}

impl ErrorJson {
    pub fn new(code: ExitCode, message: String) -> ErrorJson {
        ErrorJson {
            error: ErrorBody {
                code: code.code(),
                kind: code.kind(),
                message,
            },
        }
    }
}

/// Prints `e` for people on stderr (even with `-q`), and as JSON on stdout
/// with `--json`; returns the exit code.
pub fn report_failure(e: &Error, json: bool) -> i32 {
    let message = e.to_string();
    let mut lines = message.lines();
    let first = lines.next().unwrap_or("failed");
    super::spinner::println(&format!("{} {first}", paint(Paint::Bad, "error:")));
    for line in lines {
        super::spinner::println(&format!("  {line}"));
    }
    if let Some(next) = e.next_step() {
        super::spinner::println(&format!("{} {next}", paint(Paint::Bold, "  next:")));
    }
    let code = e.exit_code();
    // doctor's report carries its error object itself.
    if json && !matches!(e, Error::Doctor { .. }) {
        super::print_json(&ErrorJson::new(code, message));
    }
    code.code()
}
