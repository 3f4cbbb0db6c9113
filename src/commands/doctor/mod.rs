//! `bgctl doctor`: can bgctl reach and use everything it needs? One line a
//! check, ✓ or ✗, each ✗ with its fix; exit 0 only when all pass.

use std::fmt;

use serde::Serialize;

mod guard_log;
mod leftovers;
mod ports;

use super::installed::plan_on_disk;
use crate::config::Config;
use crate::docker::{Docker, DockerError, EngineDocker};
use crate::domain::Color;
use crate::domain::UnitName;
use crate::error::Error;
use crate::journal;
use crate::plan::FileAction;
use crate::proxy::{ProxyError, test_config};
use crate::render::install_files;
use crate::state::{StateError, StateStore, Store};
use crate::systemd::{DbusSystemd, Systemd, SystemdError};
use crate::terminal::{self, ErrorBody, ErrorJson, Paint, paint_out};
use crate::tls;

pub async fn run(config: &Config, json: bool) -> Result<(), Error> {
    let checks = examine(config).await;
    let failed = checks.iter().filter(|c| !c.ok).count();
    let outcome = match failed {
        0 => Ok(()),
        failed => Err(Error::Doctor {
            failed,
            total: checks.len(),
        }),
    };
    if json {
        // One object, the failure's `error` in it (not a second document).
        let error = outcome
            .as_ref()
            .err()
            .map(|e| ErrorJson::new(e.exit_code(), e.to_string()).error);
        crate::terminal::print_json(&Report {
            ok: failed == 0,
            checks: &checks,
            error,
        });
    } else {
        for check in &checks {
            terminal::out(&format!("{check}\n"));
        }
    }
    outcome
}

/// `doctor --json`.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub ok: bool,
    pub checks: &'a [Check],
    /// `{"code", "kind", "message"}` when a check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// One check: what was looked at, what was found, and the fix when it failed.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.ok {
            paint_out(Paint::Good, "✓")
        } else {
            paint_out(Paint::Bad, "✗")
        };
        write!(f, "{mark} {:<8} {}", self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n    {} {fix}", paint_out(Paint::Bold, "fix:"))?;
        }
        Ok(())
    }
}

/// Every check, the boundaries reached concurrently.
async fn examine(config: &Config) -> Vec<Check> {
    let (systemd, docker, state) = tokio::join!(
        DbusSystemd::connect(),
        EngineDocker::connect(&config.docker.host),
        Store::open(config)
    );
    let (state_check, live, store) = state_check(state).await;
    let reached = Reached {
        systemd,
        docker,
        store,
        live,
    };
    examine_with(config, reached, state_check).await
}

/// What doctor reached: each boundary, or why not.
struct Reached<S, D, St> {
    systemd: Result<S, SystemdError>,
    docker: Result<D, DockerError>,
    store: Option<St>,
    /// The live color, once the store answered.
    live: Option<Option<Color>>,
}

/// The checks on what was reached; a check that needs a boundary that is
/// down is left out (that boundary's ✗ says it all).
async fn examine_with<S: Systemd, D: Docker, St: StateStore>(
    config: &Config,
    reached: Reached<S, D, St>,
    state_check: Check,
) -> Vec<Check> {
    let Reached {
        systemd,
        docker,
        mut store,
        live,
    } = reached;
    let mut checks = vec![
        systemd_check(&systemd).await,
        docker_check(config, docker).await,
        state_check,
    ];
    checks.push(match test_config(config).await {
        Ok(()) => Check::pass("nginx", format!("`{}` accepts the config", config.proxy_test())),
        Err(e @ ProxyError::NginxBinary { .. }) => Check::fail(
            "nginx",
            e.to_string(),
            "install nginx (apt-get install nginx-light), or fix [proxy] nginx_bin or [proxy] test",
        ),
        Err(e) => Check::fail(
            "nginx",
            e.to_string(),
            "fix what nginx -t says, then run bgctl doctor again",
        ),
    });
    if let (Some(store), Ok(systemd)) = (&store, &systemd) {
        checks.extend(role_check(config, store, systemd).await);
    }
    if let Ok(systemd) = &systemd {
        checks.push(nginx_running(config, systemd).await);
        checks.push(units_check(config, systemd, live).await);
        checks.extend(ports::ports_check(config, systemd).await);
        checks.push(leftovers::leftovers_check(config, systemd, store.as_mut()).await);
    }
    checks.extend(commands_check(config));
    checks.extend(tls_check(config));
    checks.extend(guard_log::guard_log_check(config));
    checks.push(match journal::reachable() {
        Ok(()) => Check::pass("journal", format!("journald takes records at {}", journal::SOCKET)),
        Err(e) => Check::fail(
            "journal",
            format!("{}: {e}; bgctl's records go to stderr only", journal::SOCKET),
            "start systemd-journald (systemctl start systemd-journald), so journalctl shows deploys",
        ),
    });
    checks
}

/// The certificate of `[proxy.tls]`: readable, the key's, and good for
/// [`tls::DOCTOR_DAYS`] more days. No TLS: no line.
fn tls_check(config: &Config) -> Option<Check> {
    let listen = config.proxy.tls.listen?;
    let renew = if config.proxy.tls.acme {
        "run bgctl tls renew (and check bgctl-tls-renew@ timer's journal)"
    } else {
        "renew the certificate and put it at proxy.tls.cert"
    };
    Some(match tls::configured_pair(config) {
        Err(e) => Check::fail("tls", e.to_string(), "fix proxy.tls.cert and proxy.tls.key"),
        Ok(None) => Check::fail("tls", format!(":{listen} has no certificate yet"), renew),
        Ok(Some(facts)) => {
            let days = facts.days_left(tls::unix_now());
            let detail = format!(
                ":{listen} certificate valid until {} ({days} days left)",
                facts.not_after_rfc3339()
            );
            if days < tls::DOCTOR_DAYS {
                Check::fail("tls", detail, renew)
            } else {
                Check::pass("tls", detail)
            }
        }
    })
}

/// The configured commands (`[checks] command`, the hooks): each program
/// is there and executable. None configured: no line.
fn commands_check(config: &Config) -> Option<Check> {
    use std::os::unix::fs::PermissionsExt;
    let configured = [
        ("[checks] command", &config.checks.command),
        ("[hooks] pre_flip", &config.hooks.pre_flip),
        ("[hooks] post_switch", &config.hooks.post_switch),
    ];
    let configured: Vec<_> = configured
        .into_iter()
        .filter_map(|(key, argv)| Some((key, argv.as_ref()?)))
        .collect();
    if configured.is_empty() {
        return None;
    }
    for (key, argv) in &configured {
        let program = argv.program();
        let problem = match std::fs::metadata(program.as_path()) {
            Err(e) => Some(e.to_string()),
            Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => Some("not an executable file".into()),
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            return Some(Check::fail(
                "commands",
                format!("{key} {program}: {problem}"),
                format!("install {program}, or fix {key} in the config"),
            ));
        }
    }
    let keys: Vec<&str> = configured.iter().map(|(key, _)| *key).collect();
    Some(Check::pass(
        "commands",
        format!("{}: each program is there and executable", keys.join(", ")),
    ))
}

async fn systemd_check(systemd: &Result<impl Systemd, SystemdError>) -> Check {
    let fix = "start dbus and systemd (is this a systemd host? bgctl needs the system bus, as root)";
    match systemd {
        Ok(s) => match s.version().await {
            Ok(v) => Check::pass("systemd", format!("systemd {v} on the system bus")),
            Err(e) => Check::fail("systemd", e.to_string(), fix),
        },
        Err(e) => Check::fail("systemd", e.to_string(), fix),
    }
}

async fn docker_check(config: &Config, docker: Result<impl Docker, DockerError>) -> Check {
    let fix = format!(
        "start dockerd (systemctl start docker), or fix [docker] host = \"{}\"",
        config.docker.host
    );
    match docker {
        Ok(d) => match d.version().await {
            Ok((version, api)) => Check::pass(
                "dockerd",
                format!("docker {version}, API {api} at {}", config.docker.host),
            ),
            Err(e) => Check::fail("dockerd", e.to_string(), fix),
        },
        Err(e) => Check::fail("dockerd", e.to_string(), fix),
    }
}

/// The store answers a read (etcd: a linearizable one, so a quorum is
/// there; auth and TLS pass); gives the live color too, for the site.
async fn state_check(state: Result<Store, StateError>) -> (Check, Option<Option<Color>>, Option<Store>) {
    let read = match state {
        Ok(store) => store.read().await.map(|s| (store, s)),
        Err(e) => Err(e),
    };
    match read {
        Ok((store, snapshot)) => {
            let live = snapshot.active.map(|a| a.color);
            let detail = format!(
                "{} at {}, revision {}",
                store.backend(),
                store.location(),
                snapshot.revision
            );
            (Check::pass("state", detail), Some(live), Some(store))
        }
        Err(e) => {
            let fix = match &e {
                StateError::Unreachable { .. } => "start etcd (systemctl start etcd), or fix [state] endpoints",
                StateError::Tls { .. } => "fix [state] ca, cert and key (PEM files etcd's certificates match)",
                _ => "fix [state] in the config (user and password for an etcd with auth)",
            };
            (Check::fail("state", e.to_string(), fix), None, None)
        }
    }
}

/// With etcd auth (`[state] user`): may this host write the state? The app
/// host must; a proxy host (one running `bgctl-proxy@NAME`) should not, or a
/// compromised proxy rewrites what users are sent to.
async fn role_check(config: &Config, store: &impl StateStore, systemd: &impl Systemd) -> Option<Check> {
    let user = config.state.user.as_ref()?;
    let writes = match store.can_write().await {
        Ok(writes) => writes,
        Err(e) => return Some(Check::fail("role", e.to_string(), "see the state check")),
    };
    let watcher: UnitName = format!("bgctl-proxy@{}.service", config.name)
        .parse()
        .expect("a service name makes a unit name");
    let proxy_host = systemd.state(&watcher).await.is_ok_and(|s| s.is_up());
    let prefix = config.prefix();
    Some(match (writes, proxy_host) {
        (true, true) => Check::fail(
            "role",
            format!("{watcher} runs here, and etcd user {user} can write {prefix}: a proxy host needs only read"),
            "give this host's user a read-only role on the prefix (README: Trust boundaries)",
        ),
        (true, false) => Check::pass(
            "role",
            format!("etcd user {user} can write {prefix} (an app host's role)"),
        ),
        (false, _) => Check::pass(
            "role",
            format!("etcd user {user} only reads {prefix} (a proxy host's role)"),
        ),
    })
}

async fn nginx_running(config: &Config, systemd: &impl Systemd) -> Check {
    let unit = &config.proxy.unit;
    match systemd.state(unit).await {
        Ok(s) if s.is_active() => Check::pass("proxy", format!("{unit} is {}", s.active_state)),
        Ok(s) => Check::fail(
            "proxy",
            format!("{unit} is {} ({})", s.active_state, s.sub_state),
            format!("systemctl start {unit}; no deploy can switch traffic while it is down"),
        ),
        Err(e) => Check::fail("proxy", e.to_string(), "see the systemd check"),
    }
}

/// Would `install` change anything? (The site only when the state said
/// what is live: it is rendered from it.)
async fn units_check(config: &Config, systemd: &impl Systemd, live: Option<Option<Color>>) -> Check {
    let files = match install_files(config, live.flatten()) {
        Ok(files) => files,
        Err(e) => return Check::fail("units", e.to_string(), "fix the config"),
    };
    let site = config.site();
    let considered: Vec<_> = files.into_iter().filter(|f| live.is_some() || f.path != site).collect();
    let plan = match plan_on_disk(&considered) {
        Ok(plan) => plan,
        Err(e) => return Check::fail("units", e.to_string(), "fix the file's permissions"),
    };
    if let Some((foreign, _)) = plan.iter().find(|(_, a)| *a == FileAction::Foreign) {
        return Check::fail(
            "units",
            format!(
                "{} is not bgctl's (no \"# Generated by bgctl\" first line)",
                foreign.path
            ),
            "move it away, or point the config elsewhere: install never overwrites it",
        );
    }
    let mut stale: Vec<String> = plan
        .iter()
        .filter(|(_, a)| a.writes())
        .map(|(f, _)| f.path.to_string())
        .collect();
    if super::legacy_dropin::present(config) {
        stale.push("image.env in place of the older 50-bgctl-image.conf".into());
    }
    if !stale.is_empty() {
        return Check::fail(
            "units",
            format!("install would write {}", stale.join(", ")),
            "run bgctl install",
        );
    }
    for color in Color::ALL {
        match systemd.state(&config.unit(color)).await {
            Ok(s) if s.need_daemon_reload => {
                return Check::fail(
                    "units",
                    format!("systemd has not re-read {}", config.unit(color)),
                    "run bgctl install (it reloads systemd)",
                );
            }
            Ok(_) => {}
            Err(e) => return Check::fail("units", e.to_string(), "see the systemd check"),
        }
    }
    Check::pass("units", format!("{} files current, loaded by systemd", plan.len()))
}

#[cfg(test)]
mod tests;
