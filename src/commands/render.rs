//! `bgctl render [--out DIR]`: what `install` would write, printed (inline
//! env values as fingerprints: CI logs keep what is printed) or written
//! under a DESTDIR, touching nothing else.

use std::io::Write;
use std::path::Path;

use super::installed::installed_files;
use crate::config::Config;
use crate::error::Error;
use crate::files::write_atomic;
use crate::render::redact_env;

pub fn run(config: &Config, out: Option<&Path>) -> Result<(), Error> {
    // Until a state store is read, no color is live: the site answers 503.
    let files = installed_files(config, None)?;
    let Some(root) = out else {
        let mut stdout = std::io::stdout().lock();
        for file in &files {
            // A closed pipe (`| head`) is not an error worth reporting.
            let shown = redact_env(config, &file.contents);
            if writeln!(stdout, "# ==> {} <==\n{shown}", file.path).is_err() {
                break;
            }
        }
        return Ok(());
    };
    if root.exists() && !root.is_dir() {
        return Err(Error::OutNotADirectory(root.to_owned()));
    }
    for file in &files {
        write_atomic(&file.path.under(root), file.contents.as_bytes())?;
    }
    crate::say!("bgctl: wrote {} files under {}", files.len(), root.display());
    Ok(())
}
