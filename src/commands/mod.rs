//! One file per subcommand (switch and rollback share one: a rollback is a
//! switch to the previous color); `execute` loads the config and dispatches.

mod doctor;
mod drift;
mod history;
mod install;
mod installed;
mod legacy_dropin;
mod logs;
mod preflight;
mod provision;
mod proxy_sync;
mod reconcile;
mod render;
mod stage;
mod status;
mod summary;
mod switch;
mod tls_renew;
mod uninstall;

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use tracing::Instrument;

use crate::cli::{Cli, Command, ProxyCommand, TlsCommand};
use crate::config::{CONFIG_DIR, Config, ConfigError, ConfigSource, locate};
use crate::error::Error;
use crate::journal;
use crate::switch::Goal;

pub async fn execute(cli: Cli) -> Result<(), Error> {
    // The one command that needs no service.
    if let Command::Completions { shell } = cli.command {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "bgctl", &mut script);
        crate::terminal::out(&String::from_utf8_lossy(&script));
        return Ok(());
    }
    let env = std::env::var_os("BGCTL_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let source = cli.config_source(env);
    let (path, config) = load_config(&source, Path::new(CONFIG_DIR))?;
    let span = journal::command_span(cli.command.name(), &config.name);
    dispatch(cli, &path, config).instrument(span).await
}

async fn dispatch(cli: Cli, path: &Path, config: Config) -> Result<(), Error> {
    if let Some(uses) = uses(&cli.command) {
        preflight::check(&config, path, uses)?;
    }
    match cli.command {
        Command::Install { dry_run } => install::run(&config, dry_run).await,
        Command::Uninstall => uninstall::run(&config).await,
        Command::Status => status::run(&config, cli.json).await,
        Command::Render { out } => render::run(&config, out.as_deref()),
        Command::Switch(d) => switch::run(&config, d.goal(), d.image, d.wait, cli.json).await,
        Command::Rollback { wait } => switch::run(&config, Goal::Previous, None, wait, cli.json).await,
        Command::Stage(d) => stage::stage(&config, d.goal(), d.image, d.wait, cli.json).await,
        Command::Promote { wait } => switch::promote(&config, wait, cli.json).await,
        Command::Discard { wait } => stage::discard(&config, wait, cli.json).await,
        Command::Reconcile => reconcile::run(&config, cli.json).await,
        Command::Proxy(ProxyCommand::Sync { watch: false, .. }) => proxy_sync::run(&config, cli.json).await,
        Command::Proxy(ProxyCommand::Sync { watch: true, recheck }) => proxy_sync::watch(&config, recheck.get()).await,
        Command::Logs {
            color,
            follow,
            lines,
            deploy,
        } => {
            let source = deploy.map_or(logs::Source::Color(color), logs::Source::Deploy);
            logs::run(&config, source, follow, lines).await
        }
        Command::Tls(TlsCommand::Renew { force }) => tls_renew::run(&config, force, cli.json).await,
        Command::History { lines } => history::run(&config, lines, cli.json).await,
        Command::Doctor => doctor::run(&config, cli.json).await,
        Command::Provision {
            format,
            variant,
            binary_url,
            binary_sha512,
            nginx_image,
            etcd_image,
        } => {
            let options = crate::provision::Options {
                variant,
                binary: binary_url.map(|url| crate::provision::Download {
                    url,
                    sha512: binary_sha512,
                }),
                nginx_image,
                etcd_image,
                password: None,
            };
            provision::run(format, path, &options)
        }
        Command::Completions { .. } => unreachable!("handled before the config is read"),
    }
}

/// What a command puts to use of the user's files: those that write units
/// or start colors use all of them; `proxy sync` only the site's.
fn uses(command: &Command) -> Option<preflight::Uses> {
    match command {
        Command::Install { .. }
        | Command::Switch(_)
        | Command::Rollback { .. }
        | Command::Stage(_)
        | Command::Promote { .. }
        | Command::Reconcile => Some(preflight::Uses::Containers),
        // `tls renew` replaces a pair that fails the checks: it reads it itself.
        Command::Proxy(_) => Some(preflight::Uses::Site),
        _ => None,
    }
}

pub use crate::terminal::print_json;

/// Finds and loads the config; with `-s NAME` the file must name that service.
fn load_config(source: &ConfigSource, dir: &Path) -> Result<(PathBuf, Config), ConfigError> {
    let path = locate(source, dir)?;
    let config = Config::load(&path)?;
    if let ConfigSource::Service(asked) = source
        && *asked != config.name
    {
        return Err(ConfigError::NameMismatch {
            path,
            asked: asked.clone(),
            found: config.name,
        });
    }
    Ok((path, config))
}
