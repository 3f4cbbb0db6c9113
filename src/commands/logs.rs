//! `bgctl logs [COLOR] [-f] [-n N] [--deploy ID]`: the journal, read with
//! journalctl, the reading tool people know (its paging, `-f`, colours).

use std::process::Command;

use crate::config::Config;
use crate::domain::{Color, DeployId};
use crate::error::Error;
use crate::journal::IDENTIFIER;
use crate::state::{StateStore, Store};

/// What to show.
pub enum Source {
    /// A color's unit; `None` is the live one.
    Color(Option<Color>),
    /// bgctl's own records of one deploy.
    Deploy(DeployId),
}

pub async fn run(config: &Config, source: Source, follow: bool, lines: usize) -> Result<(), Error> {
    let matches = match source {
        Source::Deploy(id) => vec![
            format!("SYSLOG_IDENTIFIER={IDENTIFIER}"),
            format!("BGCTL_DEPLOY_ID={id}"),
        ],
        Source::Color(color) => {
            let color = match color {
                Some(c) => c,
                None => live_color(config).await?,
            };
            vec!["-u".into(), config.unit(color).to_string()]
        }
    };
    let mut cmd = Command::new(JOURNALCTL);
    cmd.args(&matches).args(["--no-pager", "-n", &lines.to_string()]);
    if follow {
        cmd.arg("-f");
    }
    // journalctl writes straight to our stdout and stderr; its exit is ours.
    let status = cmd.status().map_err(|e| Error::Journalctl(e.to_string()))?;
    match status.code() {
        Some(0) => Ok(()),
        // Killed by ^C while following: what the user asked for.
        None if follow => Ok(()),
        code => Err(Error::Journalctl(format!("journalctl exited with {code:?}"))),
    }
}

const JOURNALCTL: &str = "journalctl";

async fn live_color(config: &Config) -> Result<Color, Error> {
    let state = Store::open(config).await?;
    state.read().await?.active.map(|a| a.color).ok_or(Error::NothingLive)
}
