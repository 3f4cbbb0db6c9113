//! The certificate and key of `[proxy.tls]`: the key is root's alone, the
//! first certificate of the chain is the key's, and its expiry is known.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::secret_files::{SecretFileError, check_private};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Key(#[from] SecretFileError),
    #[error("proxy.tls.cert {path}: {why}: give the PEM chain, the site's own certificate first")]
    Certificate { path: PathBuf, why: String },
    #[error("proxy.tls.key {path}: {why}: give the PEM private key (PKCS#8, PKCS#1 or SEC1) of the certificate")]
    PrivateKey { path: PathBuf, why: String },
    #[error(
        "proxy.tls.cert {cert} and proxy.tls.key {key} do not match: the key is not the certificate's; give the key the certificate was issued for"
    )]
    Mismatch { cert: PathBuf, key: PathBuf },
}

/// What `status` and `doctor` show of the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertFacts {
    /// Unix seconds.
    pub not_after: i64,
}

impl CertFacts {
    /// Whole days from `now` (unix seconds) to the expiry; negative once expired.
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }

    /// The expiry as RFC 3339, UTC.
    pub fn not_after_rfc3339(&self) -> String {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.not_after.max(0) as u64);
        humantime::format_rfc3339_seconds(t).to_string()
    }
}

/// Checks the pair nginx will load: the key is private (root's, 0600), the
/// chain's first certificate parses, and the key is that certificate's.
pub fn check_pair(cert: &Path, key: &Path) -> Result<CertFacts, TlsError> {
    check_private("proxy.tls.key", key)?;
    let read = |path: &Path| std::fs::read(path).map_err(|e| format!("cannot read it ({e})"));
    let chain = read(cert).map_err(|why| TlsError::Certificate {
        path: cert.to_owned(),
        why,
    })?;
    let private = read(key).map_err(|why| TlsError::PrivateKey {
        path: key.to_owned(),
        why,
    })?;
    pair_facts(&chain, &private).map_err(|e| e.at(cert, key))
}

/// Checks a PEM chain and key in memory (an ACME issuance, before it is
/// written), as [`check_pair`] does files.
pub fn check_pems(chain: &str, key: &str) -> Result<CertFacts, TlsError> {
    let named = Path::new("(issued)");
    pair_facts(chain.as_bytes(), key.as_bytes()).map_err(|e| e.at(named, named))
}

/// The DER of a PEM chain's first certificate.
pub fn leaf_der(chain: &str) -> Option<Vec<u8>> {
    first_certificate(chain.as_bytes()).ok().map(|c| c.as_ref().to_vec())
}

/// What is wrong with a pair, before it is said of which files.
enum Unfit {
    Certificate(String),
    PrivateKey(String),
    Mismatch,
}

impl Unfit {
    fn at(self, cert: &Path, key: &Path) -> TlsError {
        match self {
            Unfit::Certificate(why) => TlsError::Certificate {
                path: cert.to_owned(),
                why,
            },
            Unfit::PrivateKey(why) => TlsError::PrivateKey {
                path: key.to_owned(),
                why,
            },
            Unfit::Mismatch => TlsError::Mismatch {
                cert: cert.to_owned(),
                key: key.to_owned(),
            },
        }
    }
}

fn pair_facts(chain: &[u8], key: &[u8]) -> Result<CertFacts, Unfit> {
    let leaf = first_certificate(chain)?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&leaf)
        .map_err(|e| Unfit::Certificate(format!("not an X.509 certificate ({e})")))?;
    let private =
        PrivateKeyDer::from_pem_slice(key).map_err(|e| Unfit::PrivateKey(format!("no private key in it ({e})")))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&private)
        .map_err(|e| Unfit::PrivateKey(format!("not a key nginx and bgctl can use ({e})")))?;
    let matches = signer
        .public_key()
        .is_some_and(|spki| spki.as_ref() == parsed.public_key().raw);
    if !matches {
        return Err(Unfit::Mismatch);
    }
    Ok(CertFacts {
        not_after: parsed.validity().not_after.timestamp(),
    })
}

fn first_certificate(chain: &[u8]) -> Result<CertificateDer<'static>, Unfit> {
    match CertificateDer::pem_slice_iter(chain).next() {
        Some(Ok(leaf)) => Ok(leaf),
        Some(Err(e)) => Err(Unfit::Certificate(format!("not PEM ({e})"))),
        None => Err(Unfit::Certificate("no certificate in it".into())),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::tls::self_signed;

    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bgctl-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    // The tests run as root (scripts/test), so the files they make are root's.
    #[test]
    fn a_pair_is_checked_for_mode_match_and_expiry() {
        let d = dir();
        let (cert_a, key_a) = self_signed(&["a.example".into()], 90).unwrap();
        let (_, key_b) = self_signed(&["b.example".into()], 90).unwrap();
        let (cert, key, other) = (d.join("a.pem"), d.join("a.key"), d.join("b.key"));
        write(&cert, &cert_a, 0o644);
        write(&key, &key_a, 0o600);
        write(&other, &key_b, 0o600);

        let facts = check_pair(&cert, &key).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((89..=90).contains(&facts.days_left(now)), "{facts:?}");
        assert!(matches!(check_pair(&cert, &other), Err(TlsError::Mismatch { .. })));

        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            check_pair(&cert, &key),
            Err(TlsError::Key(SecretFileError::Readable { .. }))
        ));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

        write(&d.join("junk.pem"), "not a certificate\n", 0o644);
        assert!(matches!(
            check_pair(&d.join("junk.pem"), &key),
            Err(TlsError::Certificate { .. })
        ));
        write(&d.join("junk.key"), "not a key\n", 0o600);
        assert!(matches!(
            check_pair(&cert, &d.join("junk.key")),
            Err(TlsError::PrivateKey { .. })
        ));
    }
}
