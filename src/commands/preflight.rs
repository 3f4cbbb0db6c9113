//! The user's files a command is about to put to use, checked before it
//! changes anything (exit 2): the env_file, the TLS pair, and a config that
//! holds etcd's password.

use std::path::Path;

use crate::config::Config;
use crate::error::Error;
use crate::secret_files::{check_env_file, check_private};
use crate::tls::{CertFacts, configured_pair};

/// What the command will use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uses {
    /// It may start a color: the env_file too.
    Containers,
    /// It only writes the site (a proxy host).
    Site,
}

/// Checks each file; the TLS certificate's facts when TLS is on and its
/// pair exists (an ACME site before its first issuance has none yet).
pub fn check(config: &Config, config_path: &Path, uses: Uses) -> Result<Option<CertFacts>, Error> {
    if config.state.password.is_some() {
        check_private("the config (it holds [state] password)", config_path)?;
    }
    if let Some(file) = &config.state.password_file {
        check_private("state.password_file", file.as_path())?;
    }
    if uses == Uses::Containers
        && let Some(env_file) = &config.container.env_file
    {
        check_env_file(env_file.as_path())?;
    }
    Ok(configured_pair(config)?)
}
