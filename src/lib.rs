//! bgctl: zero-downtime blue-green deployment of Docker containers on systemd
//! hosts. The binary's `main` only calls [`run`].

pub mod cli;
pub mod commands;
pub mod config;
pub mod docker;
pub mod domain;
pub mod error;
pub mod files;
pub mod health;
pub mod http_probe;
pub mod naming;
pub mod plan;
pub mod proxy;
pub mod render;
pub mod state;
mod string_enum;
pub mod switch;
pub mod systemd;

use clap::Parser;

/// Parses the command line, runs the command, prints any error once, and
/// returns the exit code of DESIGN §5.
pub fn run() -> i32 {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                error::ExitCode::Usage.code()
            } else {
                0
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bgctl: cannot start the async runtime: {e}");
            return error::ExitCode::Failed.code();
        }
    };
    match runtime.block_on(commands::execute(cli)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("bgctl: {e}");
            e.exit_code().code()
        }
    }
}
