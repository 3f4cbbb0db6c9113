//! `bgctl logs [COLOR] [-f] [-n N] [--deploy ID]`: the journal, read with
//! journalctl, the reading tool people know (its paging, `-f`, colours).

use std::process::Command;

use crate::cli::DEFAULT_LOG_LINES;
use crate::config::Config;
use crate::domain::{Color, DeployId};
use crate::error::Error;
use crate::journal::IDENTIFIER;
use crate::state::{StateStore, Store};
use crate::systemd::JOURNALCTL;

/// What to show.
pub enum Source {
    /// A color's unit; `None` is the live one.
    Color(Option<Color>),
    /// bgctl's own records of one deploy of this service.
    Deploy(DeployId),
}

pub async fn run(config: &Config, source: Source, follow: bool, lines: Option<usize>) -> Result<(), Error> {
    let (matches, lines) = match source {
        // All of a deploy's records unless asked: -v's steps are there too.
        Source::Deploy(id) => (
            vec![
                format!("SYSLOG_IDENTIFIER={IDENTIFIER}"),
                format!("BGCTL_SERVICE={}", config.name),
                format!("BGCTL_DEPLOY_ID={id}"),
            ],
            lines,
        ),
        Source::Color(color) => {
            let color = match color {
                Some(c) => c,
                None => live_color(config).await?,
            };
            let unit = vec!["-u".into(), config.unit(color).to_string()];
            (unit, Some(lines.unwrap_or(DEFAULT_LOG_LINES)))
        }
    };
    let mut cmd = Command::new(JOURNALCTL);
    cmd.args(&matches).arg("--no-pager");
    if let Some(n) = lines {
        cmd.args(["-n", &n.to_string()]);
    }
    if follow {
        cmd.arg("-f");
    }
    // journalctl writes straight to our stdout and stderr; its exit is ours.
    let status = cmd.status().map_err(|e| Error::Journalctl(e.to_string()))?;
    match status.code() {
        Some(0) => Ok(()),
        // Ended by ^C while following: what the user asked for.
        None if follow => Ok(()),
        Some(code) => Err(Error::Journalctl(format!("{JOURNALCTL} exited with status {code}"))),
        None => Err(Error::Journalctl(format!("{JOURNALCTL} was killed by a signal"))),
    }
}

async fn live_color(config: &Config) -> Result<Color, Error> {
    let state = Store::open(config).await?;
    state.read().await?.active.map(|a| a.color).ok_or(Error::NothingLive)
}
