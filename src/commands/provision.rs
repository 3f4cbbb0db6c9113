//! `bgctl provision FORMAT`: the first-boot file of a CoreOS, Flatcar or
//! Fedora CoreOS host for this service, on stdout. Touches nothing.

use std::path::Path;

use crate::config::{Config, ConfigError};
use crate::error::Error;
use crate::provision::{Format, Options, ProvisionError, provision};

pub fn run(format: Format, path: &Path, options: &Options) -> Result<(), Error> {
    // The host gets the very text validated here, comments and all: read
    // once, and the config taken from it.
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let config = Config::parse_file(path, &text)?;
    let mut options = options.clone();
    if let Some(file) = &config.state.password_file {
        let read = std::fs::read_to_string(file.as_path()).map_err(|e| ProvisionError::PasswordFile {
            path: file.to_string(),
            reason: e.to_string(),
        })?;
        options.password = Some(read);
    }
    crate::terminal::out(&provision(format, &config, &text, &options)?);
    Ok(())
}
