//! `bgctl install [--dry-run]`: write what render shows, where it changed,
//! then one daemon-reload over D-Bus; the site is rendered from the stored
//! state, tested with `nginx -t` and loaded, under the deploy lock.

use std::io::Write;
use std::path::Path;

use similar::TextDiff;

use super::installed::{installed_files, plan_on_disk};

use crate::config::Config;
use crate::domain::Color;
use crate::domain::UnitName;
use crate::error::Error;
use crate::files::write_atomic;
use crate::files::write_private;
use crate::plan::FileAction;
use crate::proxy::{Installed, Nginx, Proxy};
use crate::render::{RENEW_TIMER, RenderedFile, redact_env};
use crate::state::{StateStore, Store};
use crate::systemd::{DbusSystemd, Systemd};
use crate::tls;
use crate::wiring::under_lock;

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
        let (_, plan_files) = planned(config, &state).await?;
        print_diff(config, &plan_files);
        return Ok(());
    }
    // The site is a deploy's too: never rewritten under a running switch.
    under_lock(&mut state, "install", async |state| {
        // Reach systemd before writing anything: unreachable means untouched.
        let systemd = DbusSystemd::connect().await?;
        install(config, state, &systemd, &Nginx::new(config, &systemd)).await
    })
    .await
}

/// What install would write for the state's live color, and to which files
/// it would do what; someone else's file where ours would go is an error
/// before anything is touched.
async fn planned(
    config: &Config,
    state: &impl StateStore,
) -> Result<(Option<Color>, Vec<(RenderedFile, FileAction)>), Error> {
    let live = state.read().await?.active.map(|a| a.color);
    let files = installed_files(config, live)?;
    let plan: Vec<(RenderedFile, FileAction)> =
        plan_on_disk(&files)?.into_iter().map(|(f, a)| (f.clone(), a)).collect();
    if let Some((file, _)) = plan.iter().find(|(_, a)| *a == FileAction::Foreign) {
        return Err(Error::ForeignFile(file.path.as_path().to_owned()));
    }
    Ok((live, plan))
}

/// Writes what changed, reloads systemd when a unit did (or is owed), and
/// loads the site the way a switch does.
async fn install(
    config: &Config,
    state: &impl StateStore,
    systemd: &impl Systemd,
    proxy: &impl Proxy,
) -> Result<(), Error> {
    let (live, plan) = planned(config, state).await?;
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
    // Only once the env files are written: their image came from it.
    let moved = super::legacy_dropin::remove(config)?;
    // A reload an earlier run could not finish (systemd still has old files) is owed too.
    if written > 0 || moved || stale_units(config, systemd).await? {
        systemd.reload().await?;
        check_loaded(config, systemd).await?;
        crate::tell!(
            "install: systemd reloaded; {written} of {} unit files written",
            units.len()
        );
    }
    if config.proxy.tls.acme {
        renew_daily(config, systemd).await?;
        stand_in_certificate(config)?;
    }
    let site_written = match site.first() {
        Some((file, action)) if action.writes() => install_site(config, proxy, file, live).await?,
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
    proxy: &impl Proxy,
    site: &RenderedFile,
    live: Option<Color>,
) -> Result<bool, Error> {
    let serving = live.map_or("the 503 page until a first deploy".into(), |c| format!("{c}"));
    match proxy.install(site).await? {
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

/// `bgctl-tls-renew@<name>.timer` enabled and started: the certificate is
/// looked at daily.
async fn renew_daily(config: &Config, systemd: &impl Systemd) -> Result<(), Error> {
    let timer = renew_timer(config);
    if !systemd.enable(std::slice::from_ref(&timer)).await?.is_empty() {
        systemd.reload().await?;
        crate::tell!("install: enabled {timer}");
    }
    if !systemd.state(&timer).await?.is_active() {
        systemd
            .start(&timer, std::time::Duration::ZERO, std::time::Duration::from_secs(30))
            .await?;
    }
    Ok(())
}

/// `bgctl-tls-renew@<name>.timer`.
pub(super) fn renew_timer(config: &Config) -> UnitName {
    RENEW_TIMER
        .replacen("@.", &format!("@{}.", config.name), 1)
        .parse()
        .expect("a service name makes a unit name")
}

/// An ACME site's first certificate is only issued once nginx serves its
/// challenges, and nginx loads no TLS server without one: until `tls
/// renew` obtains it, a self-signed stand-in (valid a day, so it is due).
fn stand_in_certificate(config: &Config) -> Result<(), Error> {
    let (Some(cert), Some(key)) = (config.tls_cert(), config.tls_key()) else {
        return Ok(());
    };
    if cert.as_path().exists() {
        return Ok(());
    }
    tls::acme::prepare_dirs(config)?;
    let domains = config.acme_domain_names();
    let (chain, private) = tls::self_signed(&domains, 1).map_err(|e| Error::StandIn(e.to_string()))?;
    write_private(key.as_path(), private.as_bytes())?;
    write_atomic(cert.as_path(), chain.as_bytes())?;
    crate::tell!("install: wrote a self-signed stand-in {cert} until `bgctl tls renew` obtains one");
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

/// The plan as a unified diff on stdout (inline env values as
/// fingerprints), and a summary on stderr.
fn print_diff(config: &Config, plan: &[(RenderedFile, FileAction)]) {
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
        let (old, new) = (redact_env(config, old), redact_env(config, &file.contents));
        let diff = TextDiff::from_lines(&old, &new);
        let from = if old.is_empty() { "/dev/null" } else { path };
        // A closed pipe (`| head`) ends the output, not the command.
        let _ = write!(stdout, "{}", diff.unified_diff().header(from, path));
    }
    match changes {
        0 => crate::say!("install: nothing to do: all {} files are up to date", plan.len()),
        n => crate::say!("install: would write {n} of {} files and reload systemd", plan.len()),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::fakes::{FakeProxy, FakeState, FakeSystemd, Log, service_in_temp_dir};

    fn systemd(log: &Log) -> FakeSystemd<'_> {
        FakeSystemd {
            log,
            running: RefCell::default(),
            enabled: RefCell::default(),
        }
    }

    #[tokio::test]
    async fn install_writes_the_units_reloads_once_and_loads_the_site_and_again_does_nothing() {
        let (dir, config) = service_in_temp_dir("install-twice");
        let log = Log::default();
        let (state, systemd, proxy) = (
            FakeState::with(&log, None),
            systemd(&log),
            FakeProxy::serving(&log, None),
        );
        install(&config, &state, &systemd, &proxy).await.unwrap();
        assert!(dir.join("web_blue@.service").exists() && dir.join("web_green@.service").exists());
        assert_eq!(log.0.borrow().iter().filter(|e| *e == "daemon-reload").count(), 1);
        // The site went through the proxy (tested, reloaded), not straight to disk.
        assert!(log.has("site none"), "{:?}", log.0.borrow());
        assert!(!dir.join("web.conf").exists());

        let before = log.0.borrow().len();
        *proxy.site.borrow_mut() = None;
        std::fs::write(
            dir.join("web.conf"),
            crate::render::site(&config, None).unwrap().contents,
        )
        .unwrap();
        install(&config, &state, &systemd, &proxy).await.unwrap();
        assert_eq!(log.0.borrow().len(), before, "a second install changed something");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_foreign_file_where_a_unit_goes_stops_install_before_it_writes_anything() {
        let (dir, config) = service_in_temp_dir("install-foreign");
        std::fs::write(dir.join("web_green@.service"), "[Unit]\nDescription=someone else's\n").unwrap();
        let log = Log::default();
        let (state, systemd, proxy) = (
            FakeState::with(&log, None),
            systemd(&log),
            FakeProxy::serving(&log, None),
        );
        let err = install(&config, &state, &systemd, &proxy).await.unwrap_err();
        assert!(matches!(err, Error::ForeignFile(_)), "{err}");
        assert!(!dir.join("web_blue@.service").exists(), "written before the refusal");
        assert!(log.0.borrow().is_empty(), "{:?}", log.0.borrow());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
