//! The journald boundary: bgctl's own records, sent with the journal's
//! native protocol (tracing-journald) so each carries fields to select it
//! by (DESIGN §7): `journalctl BGCTL_DEPLOY_ID=<id>` replays one deploy.
//!
//! The fields live on spans ([`command_span`], and [`deploy_span`] inside
//! it) and are copied into every record made inside them; a phase's record adds `BGCTL_PHASE`
//! and `BGCTL_DURATION_MS`. The level becomes `PRIORITY`: info is notice
//! (5), warn 4, error 3, debug 6.

use std::path::Path;

use tracing::Span;
use tracing::field::Empty;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

use crate::domain::{Color, ServiceName};

/// Where journald listens for native records.
pub const SOCKET: &str = "/run/systemd/journal/socket";
/// Every record is `SYSLOG_IDENTIFIER=bgctl`, whatever the binary is called.
pub const IDENTIFIER: &str = "bgctl";

/// Sends bgctl's records (never its dependencies': zbus and h2 trace every
/// frame) to the journal when there is one, and to `stderr_layer` (the
/// terminal's `-v` lines) when given. With no journal socket (a container,
/// a CI host) nothing is sent there and nothing fails.
pub fn init<L>(stderr_layer: Option<L>) -> bool
where
    L: Layer<tracing_subscriber::Registry> + Send + Sync,
{
    let ours = || Targets::new().with_target("bgctl", tracing::Level::DEBUG);
    let journal = Path::new(SOCKET)
        .exists()
        .then(tracing_journald::layer)
        .and_then(Result::ok)
        .map(|layer| {
            layer
                .with_syslog_identifier(IDENTIFIER.into())
                .with_field_prefix(None)
                .with_filter(ours())
        });
    let connected = journal.is_some();
    let subscriber = tracing_subscriber::registry()
        .with(stderr_layer.map(|l| l.with_filter(ours())))
        .with(journal);
    // Only fails when a subscriber is already set (a second init in tests).
    let _ = tracing::subscriber::set_global_default(subscriber);
    connected
}

/// Whether journald takes records now (`doctor`): the same empty datagram
/// tracing-journald sends to find out.
pub fn reachable() -> std::io::Result<()> {
    let socket = std::os::unix::net::UnixDatagram::unbound()?;
    socket.send_to(&[], SOCKET).map(|_| ())
}

/// The span every record of one command is made in: `BGCTL_SERVICE` and
/// `BGCTL_COMMAND` (install, switch, uninstall, ...).
pub fn command_span(command: &str, service: &ServiceName) -> Span {
    tracing::info_span!("command", bgctl_command = command, bgctl_service = service.as_str())
}

/// Inside the command's span, a deploy's: its id now, its colors once
/// chosen ([`record_target`]).
pub fn deploy_span(deploy_id: &str) -> Span {
    tracing::info_span!(
        "deploy",
        bgctl_deploy_id = deploy_id,
        bgctl_from = Empty,
        bgctl_to = Empty
    )
}

/// Adds the colors to `span`'s records from now on; `from` is left out on
/// a first deploy.
pub fn record_target(span: &Span, from: Option<Color>, to: Color) {
    if let Some(from) = from {
        span.record("bgctl_from", from.as_str());
    }
    span.record("bgctl_to", to.as_str());
}

/// A phase ended (`BGCTL_PHASE`, `BGCTL_DURATION_MS`).
pub fn phase_ended(service: &ServiceName, phase: &str, millis: u64) {
    tracing::info!(
        bgctl_phase = phase,
        bgctl_duration_ms = millis,
        "{service}: phase {phase} done in {millis} ms"
    );
}
