//! bgctl: zero-downtime blue-green deployment of Docker containers on systemd
//! hosts. The binary's `main` only calls [`run`].

pub mod checks;
pub mod cli;
pub mod commands;
pub mod config;
pub mod docker;
pub mod domain;
pub mod error;
pub mod exec;
#[cfg(test)]
mod fakes;
mod fault_points;
pub mod files;
pub mod guard;
pub mod health;
pub mod http_probe;
pub mod journal;
pub mod loopback_tls;
pub mod naming;
pub mod plan;
pub mod provision;
pub mod proxy;
pub mod render;
pub mod secret_files;
pub mod state;
mod string_enum;
pub mod switch;
pub mod systemd;
pub mod terminal;
pub mod tls;
pub mod wiring;

use clap::Parser;

use terminal::{ErrorJson, VerboseLayer, Verbosity};

/// Parses the command line, runs the command, prints any error once, and
/// returns the exit code of DESIGN §5.
pub fn run() -> i32 {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let verbosity = cli.verbosity();
    terminal::init(verbosity);
    journal::init((verbosity == Verbosity::Verbose).then_some(VerboseLayer));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return error::ExitCode::Failed.code();
        }
    };
    let json = cli.json;
    match runtime.block_on(commands::execute(cli)) {
        Ok(()) => 0,
        Err(e) => terminal::report_failure(&e, json),
    }
}

/// clap's own message (help and --version are no error); with `--json`
/// anywhere on the line, the usage error as JSON too.
fn usage_error(e: &clap::Error) -> i32 {
    let _ = e.print();
    if !e.use_stderr() {
        return 0;
    }
    let code = error::ExitCode::Usage;
    if std::env::args_os().any(|a| a == "--json") {
        let rendered = e.render().to_string();
        let first = rendered.lines().next().unwrap_or("usage error");
        let message = first.strip_prefix("error: ").unwrap_or(first).to_owned();
        commands::print_json(&ErrorJson::new(code, message));
    }
    code.code()
}
