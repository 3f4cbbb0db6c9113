//! What people see on stderr: a line per step, a spinner only on a TTY,
//! colour only on a TTY and never with `NO_COLOR`, `-q` and `-v`. Machines
//! read stdout (`--json`); nothing here ever writes there but a failure's
//! JSON object.

mod failure;
mod progress;
mod spinner;
mod verbose_layer;

use std::io::IsTerminal;
use std::sync::OnceLock;

pub use failure::{ErrorBody, ErrorJson, report_failure};
pub use progress::{Progress, millis};
pub use spinner::Spinner;
pub use verbose_layer::VerboseLayer;

/// How much goes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Errors only (`-q`).
    Quiet,
    /// A line per phase and what was noticed.
    Normal,
    /// Also each step at the boundaries (`-v`): D-Bus jobs, etcd
    /// transactions, reloads.
    Verbose,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    verbosity: Verbosity,
    /// Colour on stderr, and on stdout: each is judged on its own, so
    /// `bgctl status | less` gets plain text while progress stays coloured.
    colour: bool,
    colour_out: bool,
    tty: bool,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Decides once, from the flags and stderr, how output looks.
pub fn init(verbosity: Verbosity) {
    let stderr = std::io::stderr();
    let wants = |choice| choice != anstream::ColorChoice::Never;
    let _ = SETTINGS.set(Settings {
        verbosity,
        colour: wants(anstream::AutoStream::choice(&stderr)),
        colour_out: wants(anstream::AutoStream::choice(&std::io::stdout())),
        tty: stderr.is_terminal(),
    });
}

fn settings() -> Settings {
    *SETTINGS.get_or_init(|| Settings {
        verbosity: Verbosity::Normal,
        colour: false,
        colour_out: false,
        tty: false,
    })
}

pub fn verbosity() -> Verbosity {
    settings().verbosity
}

/// A progress line (not with `-q`).
pub fn say(text: &str) {
    if verbosity() >= Verbosity::Normal {
        spinner::println(text);
    }
}

/// A result on stdout. A closed pipe (`bgctl history | head -1`) ends
/// the output quietly: it is what the reader asked for, not a failure.
pub fn out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// [`say`] with `format!` arguments.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::terminal::say(&format!($($arg)*))
    };
}

/// [`say!`], and the same line as a record in the journal: for what a
/// command changed on the host (install's writes, uninstall's stops).
#[macro_export]
macro_rules! tell {
    ($($arg:tt)*) => {{
        let line = format!($($arg)*);
        $crate::terminal::say(&line);
        tracing::info!("{line}");
    }};
}

/// A `-v` line.
pub fn detail(text: &str) {
    if verbosity() >= Verbosity::Verbose {
        spinner::println(&paint(Paint::Dim, text));
    }
}

/// Kinds of emphasis; plain text without colour.
#[derive(Debug, Clone, Copy)]
pub enum Paint {
    Good,
    Bad,
    Warn,
    Bold,
    Dim,
}

/// `text` in `paint`'s colour when stderr takes colour.
pub fn paint(paint: Paint, text: &str) -> String {
    styled(settings().colour, paint, text)
}

/// `text` in `paint`'s colour when stdout takes colour (reports).
pub fn paint_out(paint: Paint, text: &str) -> String {
    styled(settings().colour_out, paint, text)
}

fn styled(colour: bool, paint: Paint, text: &str) -> String {
    if !colour {
        return text.to_owned();
    }
    use anstyle::{AnsiColor, Style};
    let style = match paint {
        Paint::Good => Style::new().fg_color(Some(AnsiColor::Green.into())),
        Paint::Bad => Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
        Paint::Warn => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        Paint::Bold => Style::new().bold(),
        Paint::Dim => Style::new().dimmed(),
    };
    format!("{style}{text}{style:#}")
}

/// One JSON object on stdout, for machines (`--json`).
pub fn print_json(value: &impl serde::Serialize) {
    let line = serde_json::to_string(value).expect("command output serialises");
    out(&format!("{line}\n"))
}
