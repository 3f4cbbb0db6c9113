//! Reaching etcd: a client pair per member (requests with a timeout, the
//! lock call without one), credentials and TLS read and checked first, and
//! etcd's errors sorted into "unreachable" and "etcd said no".

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use tonic::Code;

use super::members::Members;
use super::{EtcdStore, TIMEOUT};
use crate::config::Config;
use crate::state::{Keys, StateError};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// HTTP/2 pings on the lock call's connection, which has no request
/// timeout. etcd closes connections that ping more often than every 5 s
/// (`--grpc-keepalive-min-time`), so they are slow; the queued call's own
/// look at etcd every second is what finds a hung member quickly.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

impl EtcdStore {
    pub async fn connect(config: &Config) -> Result<EtcdStore, StateError> {
        let state = &config.state;
        let endpoints: Vec<String> = state.endpoints.iter().map(|e| e.to_string()).collect();
        let joined = endpoints.join(",");
        let unreachable = |reason: String| StateError::Unreachable {
            endpoints: joined.clone(),
            reason,
        };
        let mut options = ConnectOptions::new().with_connect_timeout(TIMEOUT);
        if let Some(user) = &state.user {
            options = options.with_user(user.to_string(), password(config)?);
        }
        if let Some(tls) = tls_options(config)? {
            options = options.with_tls(tls);
        }
        // The lock call waits as long as the lock is held; every other
        // request times out. A cancelled lock call would have etcd delete
        // our waiting key, possibly after a later call acquired it.
        let lock_options = options
            .clone()
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            .with_keep_alive_while_idle(true);
        let mut clients = Vec::new();
        let mut failure = None;
        for endpoint in &endpoints {
            let pair = async {
                let requests = connect(endpoint, options.clone().with_timeout(REQUEST_TIMEOUT), &joined).await?;
                Ok::<_, StateError>((requests, connect(endpoint, lock_options.clone(), &joined).await?))
            };
            match pair.await {
                Ok(pair) => clients.push(pair),
                Err(e) => failure = Some(e),
            }
        }
        if clients.is_empty() {
            return Err(failure.unwrap_or_else(|| unreachable("no endpoints".into())));
        }
        Ok(EtcdStore {
            members: Members {
                clients,
                current: AtomicUsize::new(0),
            },
            keys: Keys::new(&config.prefix(), &config.name),
            endpoints: joined,
            held: None,
        })
    }

    /// Sorts an etcd error of `operation` (see [`classify`]).
    pub(super) fn error(&self, operation: &'static str) -> impl FnOnce(etcd_client::Error) -> StateError + '_ {
        move |e| classify(&self.endpoints, operation, e)
    }
}

/// A client for one member.
async fn connect(endpoint: &str, options: ConnectOptions, endpoints: &str) -> Result<Client, StateError> {
    tokio::time::timeout(TIMEOUT, Client::connect([endpoint], Some(options)))
        .await
        .map_err(|_| StateError::Unreachable {
            endpoints: endpoints.to_owned(),
            reason: format!("no answer within {}s", TIMEOUT.as_secs()),
        })?
        .map_err(|e| classify(endpoints, "connect", e))
}

/// Sorts an etcd error: transport trouble is "unreachable" (exit 5); a
/// refused login or anything else is etcd's answer (exit 1).
pub(super) fn classify(endpoints: &str, operation: &'static str, e: etcd_client::Error) -> StateError {
    let transport = match &e {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        // tonic reports a broken connection as status Unknown, "transport error".
        etcd_client::Error::GRpcStatus(s) => {
            matches!(s.code(), Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled)
                || (s.code() == Code::Unknown && s.message().contains("transport error"))
        }
        _ => false,
    };
    if transport {
        StateError::Unreachable {
            endpoints: endpoints.to_owned(),
            reason: e.to_string(),
        }
    } else {
        StateError::Etcd {
            operation,
            reason: e.to_string(),
        }
    }
}

/// etcd's password: `[state] password`, or the first line of
/// `password_file` (preflight checked that it is root's alone).
fn password(config: &Config) -> Result<String, StateError> {
    let state = &config.state;
    let Some(file) = &state.password_file else {
        return Ok(state.password.as_ref().map(|p| p.to_string()).unwrap_or_default());
    };
    let text = std::fs::read_to_string(file.as_path()).map_err(|e| StateError::Tls {
        key: "password_file",
        path: file.to_string(),
        reason: e.to_string(),
    })?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// The TLS files of `[state]`, read and checked before connecting: a file
/// that is missing, unreadable or not PEM is a config error (exit 2) naming
/// its key, not an etcd that cannot be reached.
fn tls_options(config: &Config) -> Result<Option<TlsOptions>, StateError> {
    let state = &config.state;
    if state.ca.is_none() && state.cert.is_none() {
        return Ok(None);
    }
    let mut tls = TlsOptions::new();
    if let Some(ca) = &state.ca {
        tls = tls.ca_certificate(Certificate::from_pem(pem_file("ca", ca, "CERTIFICATE")?));
    }
    if let (Some(cert), Some(key)) = (&state.cert, &state.key) {
        let cert = pem_file("cert", cert, "CERTIFICATE")?;
        tls = tls.identity(Identity::from_pem(cert, pem_file("key", key, "PRIVATE KEY")?));
    }
    Ok(Some(tls))
}

/// The file at `[state] <key>`, which must hold a PEM block whose label
/// ends with `label` ("CERTIFICATE", "PRIVATE KEY" for any key type).
fn pem_file(key: &'static str, path: &crate::domain::AbsPath, label: &str) -> Result<Vec<u8>, StateError> {
    let bad = |reason: String| StateError::Tls {
        key,
        path: path.to_string(),
        reason,
    };
    let bytes = std::fs::read(path.as_path()).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let has_block = text.lines().any(|l| {
        l.trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|found| found.ends_with(label))
    });
    if !has_block {
        return Err(bad(format!("no PEM \"{label}\" block in it")));
    }
    Ok(bytes)
}
