//! A self-signed certificate: what an ACME site serves until its first
//! certificate is issued (nginx cannot load a TLS server without one), and
//! what the demo serves.

use rcgen::{CertificateParams, KeyPair};

/// `(certificate PEM, private key PEM)` for `names`, valid for `days` from now.
pub fn self_signed(names: &[String], days: u32) -> Result<(String, String), rcgen::Error> {
    let mut params = CertificateParams::new(names.to_vec())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let at = |secs| time::OffsetDateTime::from_unix_timestamp(secs).expect("a time of this era");
    params.not_before = at(now - 60);
    params.not_after = at(now + i64::from(days) * 86_400);
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}
