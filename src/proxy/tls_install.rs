//! A new certificate and key for nginx's TLS port, put in place the way a
//! site is: under the host lock, judged by `nginx -t`, reloaded, and put
//! back when either fails.

use super::config_test::{NGINX_TIMEOUT, test_config};
use super::host_lock::host_lock;
use super::{Installed, Nginx, Proxy, ProxyError};
use crate::files::{read_if_exists, remove_if_exists, write_atomic, write_private};
use crate::systemd::Systemd;

impl<S: Systemd> Nginx<'_, S> {
    /// Puts a new certificate chain and key where the site reads them,
    /// tests them with `nginx -t` and reloads nginx, under the host lock; a
    /// refusal or a failed reload puts the old pair back, which nginx keeps
    /// serving. The key is 0600 from its first byte.
    pub async fn install_tls(&self, chain: &str, key: &str) -> Result<Installed, ProxyError> {
        let (Some(cert_path), Some(key_path)) = (self.config.tls_cert(), self.config.tls_key()) else {
            return Ok(Installed::NotRunning);
        };
        let _host_lock = host_lock().await?;
        let old = TlsPair::read(cert_path.as_path(), key_path.as_path())?;
        write_private(key_path.as_path(), key.as_bytes())?;
        write_atomic(cert_path.as_path(), chain.as_bytes())?;
        if let Err(e) = test_config(self.config).await {
            old.put_back()?;
            return Err(match e {
                ProxyError::Invalid { message } => ProxyError::CertificateRefused { message },
                e => e,
            });
        }
        if self.ensure_running().await.is_err() {
            return Ok(Installed::NotRunning);
        }
        let unit = &self.config.proxy.unit;
        if let Err(source) = self.systemd.reload_unit(unit, NGINX_TIMEOUT).await {
            old.put_back()?;
            return Err(ProxyError::Reload {
                unit: unit.to_string(),
                source,
            });
        }
        Ok(Installed::Reloaded)
    }
}

/// The certificate and key on disk before a renewal, to put back.
struct TlsPair<'a> {
    cert: (&'a std::path::Path, Option<String>),
    key: (&'a std::path::Path, Option<String>),
}

impl<'a> TlsPair<'a> {
    fn read(cert: &'a std::path::Path, key: &'a std::path::Path) -> Result<Self, ProxyError> {
        Ok(TlsPair {
            cert: (cert, read_if_exists(cert)?),
            key: (key, read_if_exists(key)?),
        })
    }

    fn put_back(&self) -> Result<(), ProxyError> {
        match &self.key {
            (path, Some(text)) => write_private(path, text.as_bytes())?,
            (path, None) => drop(remove_if_exists(path)?),
        }
        match &self.cert {
            (path, Some(text)) => write_atomic(path, text.as_bytes())?,
            (path, None) => drop(remove_if_exists(path)?),
        }
        Ok(())
    }
}
