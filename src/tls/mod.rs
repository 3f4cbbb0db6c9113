//! HTTPS material (DESIGN §10): the certificate and key the site serves,
//! checked before any command puts them in front of nginx, and the ACME
//! client that obtains and renews them.

pub mod acme;
mod certificate;
mod self_signed;

pub use certificate::{CertFacts, TlsError, check_pair, check_pems, leaf_der};
pub use self_signed::self_signed;

use crate::config::Config;

/// Fewer days left than this: `tls renew` renews.
pub const RENEW_DAYS: i64 = 30;
/// Fewer days left than this: `doctor` fails.
pub const DOCTOR_DAYS: i64 = 14;

/// The configured pair's facts, when TLS is on; `None` when it is off, or
/// when an ACME site has none yet (install makes a stand-in).
pub fn configured_pair(config: &Config) -> Result<Option<CertFacts>, TlsError> {
    let (Some(cert), Some(key)) = (config.tls_cert(), config.tls_key()) else {
        return Ok(None);
    };
    if config.proxy.tls.acme && !cert.as_path().exists() {
        return Ok(None);
    }
    check_pair(cert.as_path(), key.as_path()).map(Some)
}

/// Now, in unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
