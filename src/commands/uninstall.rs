//! `bgctl uninstall`: under the deploy lock, take the site out of nginx, stop both colors, disable
//! them, remove what install wrote, reload. Already-gone is fine at every
//! step, so it can be re-run.

use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::domain::{Color, UnitName};
use crate::error::Error;
use crate::files::{read_if_exists, remove_if_exists};
use crate::naming;
use crate::render::{install_files, is_generated};
use crate::state::Store;
use crate::systemd::{DbusSystemd, Systemd};
use crate::wiring::under_lock;

/// Beyond the unit's own stop timeout (`docker stop -t` + systemd's backstop).
const STOP_GRACE: Duration = Duration::from_secs(15);
/// nginx reloads in well under this.
const PROXY_RELOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Where systemd puts enablement symlinks, whatever unit_dir is.
const SYSTEMD_CONFIG_DIR: &str = "/etc/systemd/system";

pub async fn run(config: &Config) -> Result<(), Error> {
    // A running switch must not see its units and site vanish: the deploy
    // lock first (held: exit 4, nothing touched).
    let mut state = Store::open(config).await?;
    let systemd = DbusSystemd::connect().await?;
    under_lock(&mut state, "uninstall", async |_| uninstall(config, &systemd).await).await
}

async fn uninstall(config: &Config, systemd: &impl Systemd) -> Result<(), Error> {
    // The site first, so nginx stops sending traffic before the colors stop.
    let site = config.site();
    if remove_ours(site.as_path())? && systemd.state(&config.proxy.unit).await?.is_active() {
        systemd.reload_unit(&config.proxy.unit, PROXY_RELOAD_TIMEOUT).await?;
        crate::tell!("uninstall: reloaded {} so it forgets the site", config.proxy.unit);
    }

    let stop_timeout = config.container.stop_timeout.get() + STOP_GRACE;
    let mut instances = Vec::new();
    for color in Color::ALL {
        instances.extend(instances_of(config, systemd, color).await?);
    }
    for unit in &instances {
        systemd.stop(unit, stop_timeout).await?;
        crate::tell!("uninstall: stopped {unit}");
    }
    for change in systemd.disable(&instances).await? {
        crate::tell!("uninstall: removed {}", change.path);
    }

    // The renewal's template units are every ACME service's: they stay;
    // this service's timer goes.
    if config.proxy.tls.acme {
        let timer = super::install::renew_timer(config);
        systemd.stop(&timer, stop_timeout).await?;
        for change in systemd.disable(std::slice::from_ref(&timer)).await? {
            crate::tell!("uninstall: removed {}", change.path);
        }
    }
    for file in install_files(config, None)? {
        remove_ours(file.path.as_path())?;
    }
    for color in Color::ALL {
        remove_ours(crate::render::legacy_dropin_path(config, color).as_path())?;
    }
    for color in Color::ALL {
        // Install made the drop-in directory; gone once empty.
        let dir = config
            .systemd
            .unit_dir
            .as_path()
            .join(naming::dropin_dir(&config.name, color));
        let _ = std::fs::remove_dir(dir);
    }
    systemd.reload().await?;
    crate::tell!("uninstall: done; the state store keeps {}'s history", config.name);
    Ok(())
}

/// Removes `path` if bgctl generated it: a file someone else put there stays.
fn remove_ours(path: &Path) -> Result<bool, Error> {
    if read_if_exists(path)?.is_some_and(|text| is_generated(&text)) && remove_if_exists(path)? {
        crate::tell!("uninstall: removed {}", path.display());
        return Ok(true);
    }
    Ok(false)
}

/// Every instance of a color: the configured one, loaded ones and enabled
/// ones on any port (the ports may have changed since).
async fn instances_of(config: &Config, systemd: &impl Systemd, color: Color) -> Result<Vec<UnitName>, Error> {
    let instance = naming::instance(&config.name, color);
    let mut units = systemd.units_matching(&[&format!("{instance}@*.service")]).await?;
    for dir in [config.systemd.unit_dir.as_path(), Path::new(SYSTEMD_CONFIG_DIR)] {
        units.extend(enabled_instances(dir, &instance));
    }
    units.push(naming::instance_unit(&config.name, color, config.port(color)));
    units.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    units.dedup();
    Ok(units)
}

/// Instances of `<instance>@*.service` enabled in `dir/*.wants/`.
fn enabled_instances(dir: &Path, instance: &str) -> Vec<UnitName> {
    let prefix = format!("{instance}@");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|d| d.file_name().to_string_lossy().ends_with(".wants"))
        .filter_map(|d| std::fs::read_dir(d.path()).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|link| {
            let name = link.file_name().to_string_lossy().into_owned();
            name.starts_with(&prefix).then(|| UnitName::parse(&name).ok()).flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::fakes::{FakeSystemd, Log, service_in_temp_dir};
    use crate::render::install_files;

    #[tokio::test]
    async fn uninstall_stops_and_disables_every_instance_and_removes_only_what_bgctl_wrote() {
        let (dir, config) = service_in_temp_dir("uninstall");
        for file in install_files(&config, None).unwrap() {
            std::fs::create_dir_all(file.path.as_path().parent().unwrap()).unwrap();
            std::fs::write(file.path.as_path(), &file.contents).unwrap();
        }
        // An instance enabled on a port the config no longer names, and a
        // file someone else wrote where bgctl's would be.
        let wants = dir.join("multi-user.target.wants");
        std::fs::create_dir_all(&wants).unwrap();
        std::os::unix::fs::symlink("/dev/null", wants.join("web_blue@7001.service")).unwrap();
        let foreign = dir.join("web_green@.service");
        std::fs::write(&foreign, "[Unit]\nDescription=not bgctl's\n").unwrap();

        let log = Log::default();
        let systemd = FakeSystemd {
            log: &log,
            running: RefCell::new([("web_blue@9001.service".to_owned(), true)].into()),
            enabled: RefCell::new(["web_blue@9001.service".to_owned(), "web_blue@7001.service".to_owned()].into()),
        };
        uninstall(&config, &systemd).await.unwrap();

        for unit in [
            "web_blue@7001.service",
            "web_blue@9001.service",
            "web_green@9002.service",
        ] {
            assert!(log.has(&format!("stop {unit}")), "{unit}: {:?}", log.0.borrow());
        }
        assert!(log.has("disable web_blue@9001.service") && log.has("disable web_blue@7001.service"));
        assert!(log.position("stop web_blue@9001.service") < log.position("daemon-reload"));
        assert!(!dir.join("web.conf").exists(), "the site bgctl wrote stays");
        assert!(!dir.join("web_blue@.service").exists(), "a unit bgctl wrote stays");
        assert!(foreign.exists(), "a file bgctl did not write was removed");
        // Again: already gone is fine.
        uninstall(&config, &systemd).await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
