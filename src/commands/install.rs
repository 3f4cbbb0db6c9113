//! `bgctl install [--dry-run]`: write what render shows, where it changed,
//! then one daemon-reload over D-Bus.

use std::io::Write;
use std::path::Path;

use similar::TextDiff;

use crate::config::Config;
use crate::domain::Color;
use crate::error::Error;
use crate::files::{read_if_exists, write_atomic};
use crate::naming;
use crate::plan::{FileAction, plan_files};
use crate::render::{RenderedFile, install_files};
use crate::systemd::{DbusSystemd, Systemd};

pub async fn run(config: &Config, dry_run: bool) -> Result<(), Error> {
    require_directory("systemd.unit_dir", config.systemd.unit_dir.as_path())?;
    let site = config.site();
    require_directory(
        "the directory of proxy.site",
        site.as_path().parent().unwrap_or(Path::new("/")),
    )?;

    let files = install_files(config, None)?;
    let current = files
        .iter()
        .map(|f| read_if_exists(f.path.as_path()))
        .collect::<Result<Vec<_>, _>>()?;
    let plan = plan_files(&files, current);
    // Someone else's file where ours would go: say so before touching anything.
    if let Some((file, _)) = plan.iter().find(|(_, a)| *a == FileAction::Foreign) {
        return Err(Error::ForeignFile(file.path.as_path().to_owned()));
    }
    if dry_run {
        print_diff(&plan);
        return Ok(());
    }

    // Reach systemd before writing anything: unreachable means untouched.
    let systemd = DbusSystemd::connect().await?;
    let mut written = 0;
    for (file, action) in &plan {
        if action.writes() {
            write_atomic(file.path.as_path(), file.contents.as_bytes())?;
            eprintln!("install: wrote {}", file.path);
            written += 1;
        } else if *action == FileAction::Keep {
            eprintln!("install: kept {} (a deploy owns it now)", file.path);
        }
    }
    // A reload an earlier run could not finish (systemd still has old files) is owed too.
    if written > 0 || stale_units(config, &systemd).await? {
        systemd.reload().await?;
        check_loaded(config, &systemd).await?;
        eprintln!("install: systemd reloaded; {written} of {} files written", plan.len());
    } else {
        eprintln!("install: nothing to do: all {} files are up to date", plan.len());
    }
    Ok(())
}

fn require_directory(key: &'static str, path: &Path) -> Result<(), Error> {
    if path.is_dir() {
        Ok(())
    } else {
        Err(Error::NotADirectory {
            key,
            path: path.to_owned(),
        })
    }
}

/// Whether systemd holds an older version of either color's unit than the disk.
async fn stale_units(config: &Config, systemd: &impl Systemd) -> Result<bool, Error> {
    for color in Color::ALL {
        let unit = naming::instance_unit(&config.name, color, config.port(color));
        if systemd.state(&unit).await?.need_daemon_reload {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Both colors' units load: the files are where systemd looks, and parse.
async fn check_loaded(config: &Config, systemd: &impl Systemd) -> Result<(), Error> {
    for color in Color::ALL {
        let unit = naming::instance_unit(&config.name, color, config.port(color));
        let state = systemd.state(&unit).await?;
        if state.load_state != "loaded" {
            return Err(Error::NotLoaded {
                unit,
                load_state: state.load_state,
                unit_dir: config.systemd.unit_dir.as_path().to_owned(),
            });
        }
    }
    Ok(())
}

/// The plan as a unified diff on stdout, and a summary on stderr.
fn print_diff(plan: &[(&RenderedFile, FileAction)]) {
    let mut stdout = std::io::stdout().lock();
    let mut changes = 0;
    for (file, action) in plan {
        let old = match action {
            FileAction::Create => "",
            FileAction::Update { old } => old.as_str(),
            FileAction::Keep => {
                eprintln!("install: would keep {} (a deploy owns it now)", file.path);
                continue;
            }
            FileAction::Unchanged | FileAction::Foreign => continue,
        };
        changes += 1;
        let path = file.path.as_str();
        let diff = TextDiff::from_lines(old, &file.contents);
        let from = if old.is_empty() { "/dev/null" } else { path };
        // A closed pipe (`| head`) ends the output, not the command.
        let _ = write!(stdout, "{}", diff.unified_diff().header(from, path));
    }
    match changes {
        0 => eprintln!("install: nothing to do: all {} files are up to date", plan.len()),
        n => eprintln!("install: would write {n} of {} files and reload systemd", plan.len()),
    }
}
