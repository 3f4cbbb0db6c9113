//! `bgctl tls renew [--force]`: the ACME certificate obtained or renewed
//! when it is due, put in place only once nginx accepts it.

use serde::Serialize;

use crate::config::Config;
use crate::error::Error;
use crate::proxy::{Installed, Nginx};
use crate::systemd::DbusSystemd;
use crate::tls::{self, CertFacts, RENEW_DAYS, acme, check_pems};

/// How long nginx may take to present the new certificate after its reload.
const SERVED_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Handshakes in a row that must present it.
const SERVED_IN_A_ROW: u32 = 5;

/// `tls renew --json`.
#[derive(Debug, Serialize)]
pub struct Renewal {
    pub renewed: bool,
    pub domains: Vec<String>,
    pub not_after: String,
    pub days_left: i64,
}

pub async fn run(config: &Config, force: bool, json: bool) -> Result<(), Error> {
    let name = &config.name;
    if !config.proxy.tls.acme {
        let cert = config.tls_cert().map(|c| c.to_string()).unwrap_or_default();
        return Err(Error::AcmeOff { cert });
    }
    let domains = config.acme_domain_names();
    let now = tls::unix_now();
    // One that fails its checks (or the stand-in, or none) is due.
    let current = tls::configured_pair(config).ok().flatten();
    if let Some(facts) = current.filter(|f| !force && f.days_left(now) >= RENEW_DAYS) {
        crate::say!(
            "tls renew: the certificate of {name} is valid until {} ({} days left): not due (renewed under {RENEW_DAYS} days; --force renews now)",
            facts.not_after_rfc3339(),
            facts.days_left(now)
        );
        return report(json, false, domains, facts, now);
    }
    tracing::info!("tls renew of {name}: ordering a certificate for {}", domains.join(", "));
    let issued = acme::obtain(config).await.inspect_err(|e| {
        tracing::error!("tls renew of {name} failed, the serving certificate stays: {e}");
    })?;
    let facts = check_pems(&issued.chain, &issued.key).map_err(Error::IssuedUnfit)?;
    let systemd = DbusSystemd::connect().await?;
    let installed = Nginx::new(config, &systemd)
        .install_tls(&issued.chain, &issued.key)
        .await?;
    let reloaded = match installed {
        Installed::Reloaded => {
            served(config, &issued.chain).await?;
            "nginx reloaded and serves it"
        }
        Installed::NotRunning => "nginx is not running: it loads it when it starts",
    };
    let line = format!(
        "tls renew of {name}: certificate for {} valid until {} installed, nginx -t passed, {reloaded}",
        domains.join(", "),
        facts.not_after_rfc3339()
    );
    crate::tell!("{line}");
    report(json, true, domains, facts, now)
}

/// Until nginx's TLS port presents the new certificate a few times in a
/// row: a reload is asynchronous (old workers accept a moment longer), and
/// one nginx could not apply keeps the old certificate.
async fn served(config: &Config, chain: &str) -> Result<(), Error> {
    let (Some(port), Some(leaf)) = (config.proxy.tls.listen, tls::leaf_der(chain)) else {
        return Ok(());
    };
    let addr = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port.get()));
    let deadline = std::time::Instant::now() + SERVED_WITHIN;
    let mut in_a_row = 0;
    while std::time::Instant::now() < deadline {
        let presented = crate::loopback_tls::served_certificate(addr).await;
        in_a_row = if presented.as_ref() == Some(&leaf) {
            in_a_row + 1
        } else {
            0
        };
        if in_a_row >= SERVED_IN_A_ROW {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(Error::NotServed {
        port: port.get(),
        within: SERVED_WITHIN,
    })
}

fn report(json: bool, renewed: bool, domains: Vec<String>, facts: CertFacts, now: i64) -> Result<(), Error> {
    if json {
        crate::terminal::print_json(&Renewal {
            renewed,
            domains,
            not_after: facts.not_after_rfc3339(),
            days_left: facts.days_left(now),
        });
    }
    Ok(())
}
