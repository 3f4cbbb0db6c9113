//! `bgctl install [--dry-run]`: write what render shows, where it changed,
//! then one daemon-reload over D-Bus; the site is rendered from the stored
//! state, tested with `nginx -t` and loaded, under the deploy lock.

use std::io::Write;
use std::path::Path;

use similar::TextDiff;

use super::deploy::under_lock;
use crate::config::Config;
use crate::domain::Color;
use crate::error::Error;
use crate::files::{read_if_exists, write_atomic};
use crate::plan::{FileAction, plan_files};
use crate::proxy::{Installed, Nginx};
use crate::render::{RenderedFile, install_files};
use crate::state::{StateStore, Store};
use crate::systemd::{DbusSystemd, Systemd};

pub async fn run(config: &Config, dry_run: bool) -> Result<(), Error> {
    require_directory("systemd.unit_dir", config.systemd.unit_dir.as_path())?;
    let site = config.site();
    require_directory(
        "the directory of proxy.site",
        site.as_path().parent().unwrap_or(Path::new("/")),
    )?;
    // The site follows the stored state: reach it before touching anything.
    let mut state = Store::open(config).await?;
    if dry_run {
        return install(config, &state, true).await;
    }
    // The site is a deploy's too: never rewritten under a running switch.
    under_lock(&mut state, "install", async |state| install(config, state, false).await).await
}

async fn install(config: &Config, state: &Store, dry_run: bool) -> Result<(), Error> {
    let live = state.read().await?.active.map(|a| a.color);
    let files = install_files(config, live)?;
    let plan = plan_on_disk(&files)?;
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
    let site_path = config.site();
    let (site, units): (Vec<_>, Vec<_>) = plan.iter().partition(|(f, _)| f.path == site_path);
    let mut written = 0;
    for (file, action) in &units {
        if action.writes() {
            write_atomic(file.path.as_path(), file.contents.as_bytes())?;
            crate::tell!("install: wrote {}", file.path);
            written += 1;
        } else if *action == FileAction::Keep {
            crate::say!("install: kept {} (a deploy owns it now)", file.path);
        }
    }
    // A reload an earlier run could not finish (systemd still has old files) is owed too.
    if written > 0 || stale_units(config, &systemd).await? {
        systemd.reload().await?;
        check_loaded(config, &systemd).await?;
        crate::tell!(
            "install: systemd reloaded; {written} of {} unit files written",
            units.len()
        );
    }
    let site_written = match site.first() {
        Some((file, action)) if action.writes() => install_site(config, &systemd, file, live).await?,
        _ => false,
    };
    if written == 0 && !site_written {
        crate::say!("install: nothing to do: all {} files are up to date", plan.len());
    }
    Ok(())
}

/// The site for `live`, loaded the way a switch loads one: tested with
/// `nginx -t` in place (a refused one leaves the old file, exit 1), then
/// nginx reloaded.
async fn install_site(
    config: &Config,
    systemd: &DbusSystemd,
    site: &RenderedFile,
    live: Option<Color>,
) -> Result<bool, Error> {
    let proxy = Nginx::new(config, systemd);
    let serving = live.map_or("the 503 page until a first deploy".into(), |c| format!("{c}"));
    match proxy.install_site(site).await? {
        Installed::Reloaded => crate::tell!(
            "install: wrote {} ({serving}), nginx -t passed, nginx reloaded",
            site.path
        ),
        Installed::NotRunning => crate::tell!(
            "install: wrote {} ({serving}), nginx -t passed; {} is not running: it loads the site when it starts",
            site.path,
            config.proxy.unit
        ),
    }
    Ok(true)
}

/// What install would do to each of `files`, against the disk.
pub(super) fn plan_on_disk(files: &[RenderedFile]) -> Result<Vec<(&RenderedFile, FileAction)>, Error> {
    let current = files
        .iter()
        .map(|f| read_if_exists(f.path.as_path()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(plan_files(files, current))
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
        if systemd.state(&config.unit(color)).await?.need_daemon_reload {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Both colors' units load: the files are where systemd looks, and parse.
async fn check_loaded(config: &Config, systemd: &impl Systemd) -> Result<(), Error> {
    for color in Color::ALL {
        let unit = config.unit(color);
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
                crate::say!("install: would keep {} (a deploy owns it now)", file.path);
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
        0 => crate::say!("install: nothing to do: all {} files are up to date", plan.len()),
        n => crate::say!("install: would write {n} of {} files and reload systemd", plan.len()),
    }
}
