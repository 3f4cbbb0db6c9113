//! doctor's port checks: each color's port against its unit, and nginx's.

use std::net::SocketAddr;
use std::time::Duration;

use super::Check;
use crate::config::Config;
use crate::domain::Color;
use crate::systemd::Systemd;

/// A port is looked at for no longer than this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A running color's port answers and a stopped one's is free (else the
/// next deploy to it fails); nginx's listen port answers.
pub(super) async fn ports_check(config: &Config, systemd: &impl Systemd) -> Vec<Check> {
    let mut checks = Vec::new();
    for color in Color::ALL {
        let port = config.port(color).get();
        let addr = SocketAddr::new(config.upstream_ip(), port);
        let up = systemd.state(&config.unit(color)).await.is_ok_and(|s| s.is_up());
        let answers = answers(addr).await;
        checks.push(match (up, answers) {
            (true, true) => Check::pass("port", format!("{port} ({color}) answers: its unit runs")),
            (false, false) => Check::pass("port", format!("{port} ({color}) is free for the next deploy")),
            (true, false) => Check::fail(
                "port",
                format!("{port} ({color}): its unit runs but nothing answers at {addr}"),
                format!("bgctl logs {color} shows why"),
            ),
            (false, true) => Check::fail(
                "port",
                format!("{port} ({color}) is taken, though {color}'s unit is stopped"),
                format!("free it (ss -ltnp 'sport = :{port}' names the process), or change [colors] {color}"),
            ),
        });
    }
    let listen = config.proxy.listen.get();
    let addr = SocketAddr::from(([127, 0, 0, 1], listen));
    checks.push(if answers(addr).await {
        Check::pass("port", format!("{listen} (nginx) answers"))
    } else {
        Check::fail(
            "port",
            format!("nothing answers on {listen} ([proxy] listen)"),
            format!(
                "start {}, and check that its config includes {}",
                config.proxy.unit,
                config.site()
            ),
        )
    });
    checks
}

async fn answers(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}
