//! `bgctl uninstall`: stop both colors, disable them, remove what install
//! wrote, reload. Already-gone is fine at every step, so it can be re-run.

use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::domain::{Color, UnitName};
use crate::error::Error;
use crate::files::{read_if_exists, remove_if_exists};
use crate::naming;
use crate::render::{install_files, is_generated};
use crate::systemd::{DbusSystemd, Systemd};

/// Beyond the unit's own stop timeout (`docker stop -t` + systemd's backstop).
const STOP_GRACE: Duration = Duration::from_secs(15);
/// nginx reloads in well under this.
const PROXY_RELOAD_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(config: &Config) -> Result<(), Error> {
    let systemd = DbusSystemd::connect().await?;
    let stop_timeout = config.container.stop_timeout.get() + STOP_GRACE;
    let mut instances = Vec::new();
    for color in Color::ALL {
        // Every loaded instance, not only the configured port's: ports may have changed.
        let pattern = format!("{}@*.service", naming::instance(&config.name, color));
        let mut units = systemd.units_matching(&pattern).await?;
        units.extend(enabled_instances(
            config.systemd.unit_dir.as_path(),
            &naming::instance(&config.name, color),
        ));
        units.push(naming::instance_unit(
            &config.name,
            color,
            config.port(color),
        ));
        units.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        units.dedup();
        for unit in &units {
            systemd.stop(unit, stop_timeout).await?;
            eprintln!("uninstall: stopped {unit}");
        }
        instances.extend(units);
    }
    for change in systemd.disable(&instances).await? {
        eprintln!("uninstall: removed {}", change.path);
    }

    let mut site_removed = false;
    for file in install_files(config, None)? {
        let path = file.path.as_path();
        // Only what bgctl generated: a file someone else put there stays.
        if read_if_exists(path)?.is_some_and(|text: String| is_generated(&text))
            && remove_if_exists(path)?
        {
            eprintln!("uninstall: removed {}", file.path);
            site_removed |= file.path == config.site();
            if let Some(dir) = path
                .parent()
                .filter(|d| d.extension().is_some_and(|x| x == "d"))
            {
                // A drop-in directory, once empty, was ours too.
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
    systemd.reload().await?;
    if site_removed && systemd.state(&config.proxy.unit).await?.is_running() {
        systemd
            .reload_unit(&config.proxy.unit, PROXY_RELOAD_TIMEOUT)
            .await?;
        eprintln!(
            "uninstall: reloaded {} so it forgets the site",
            config.proxy.unit
        );
    }
    eprintln!(
        "uninstall: done; the state store keeps {}'s history",
        config.name
    );
    Ok(())
}

/// Instances of `<instance>@*.service` enabled in `unit_dir/*.wants/`.
fn enabled_instances(unit_dir: &Path, instance: &str) -> Vec<UnitName> {
    let prefix = format!("{instance}@");
    let Ok(dirs) = std::fs::read_dir(unit_dir) else {
        return Vec::new();
    };
    dirs.filter_map(Result::ok)
        .filter(|d| d.file_name().to_string_lossy().ends_with(".wants"))
        .filter_map(|d| std::fs::read_dir(d.path()).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|link| {
            let name = link.file_name().to_string_lossy().into_owned();
            name.starts_with(&prefix)
                .then(|| UnitName::parse(&name).ok())
                .flatten()
        })
        .collect()
}
