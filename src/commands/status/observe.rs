//! What `status` reads: the state store's snapshot and history, and what
//! the host shows (units, containers, the site, nginx's answers), each in
//! one concurrent pass.

use super::{GuardNow, guard_now};
use crate::config::Config;
use crate::docker::{Container, Docker};
use crate::domain::Color;
use crate::error::Error;
use crate::files::read_if_exists;
use crate::proxy::Proxy;
use crate::state::{HistoryRecord, Snapshot, StateStore};
use crate::systemd::{Systemd, UnitState};

/// What the state store holds: the snapshot and the history.
pub(super) type Stored = (Snapshot, Vec<HistoryRecord>);

pub(super) async fn read_stored(state: &impl StateStore) -> Result<Stored, Error> {
    Ok(tokio::try_join!(state.read(), state.history())?)
}

/// What the host shows, read at once: each color's unit, container and
/// image digest, the site on disk, who answers through nginx, the guard.
pub(super) struct Observed {
    pub(super) blue: Seen,
    pub(super) green: Seen,
    pub(super) site_text: Option<String>,
    pub(super) served_by: Option<Color>,
    pub(super) previewed_by: Option<Color>,
    pub(super) guard: Option<GuardNow>,
}

/// One color: its unit, its container, and the registry digest of its image.
pub(super) type Seen = (UnitState, Option<Container>, Option<String>);

pub(super) async fn observe(
    config: &Config,
    systemd: &impl Systemd,
    docker: &impl Docker,
    nginx: &impl Proxy,
) -> Result<Observed, Error> {
    let ((blue, green), site_text, (served_by, previewed_by)) = tokio::try_join!(
        async {
            tokio::try_join!(
                color(config, systemd, docker, Color::Blue),
                color(config, systemd, docker, Color::Green)
            )
        },
        async { Ok(read_if_exists(config.site().as_path())?) },
        async { Ok(tokio::join!(nginx.served_by(), nginx.previewed_by())) },
    )?;
    let guard = guard_now(config, nginx, site_text.as_deref());
    Ok(Observed {
        blue,
        green,
        site_text,
        served_by,
        previewed_by,
        guard,
    })
}

/// One color's unit (over D-Bus) and container (Engine API), read together,
/// then its image's registry digest (for the live one's report).
async fn color(config: &Config, systemd: &impl Systemd, docker: &impl Docker, color: Color) -> Result<Seen, Error> {
    let unit = config.unit(color);
    let name = config.container(color);
    let (unit, container) = tokio::try_join!(async { Ok::<_, Error>(systemd.state(&unit).await?) }, async {
        Ok(docker.inspect(&name).await?)
    },)?;
    let digest = match &container {
        Some(c) if !c.image_id.is_empty() => docker.repo_digests(&c.image_id).await?.into_iter().next(),
        _ => None,
    };
    Ok((unit, container, digest))
}
