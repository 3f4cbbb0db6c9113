//! What `install` writes, and what it would do to each file on disk: the
//! one list `install`, `render` and `doctor` all go by.

use crate::config::Config;
use crate::domain::{AbsPath, Color};
use crate::error::Error;
use crate::files::read_if_exists;
use crate::plan::{FileAction, plan_files};
use crate::render::{RenderedFile, acme_units, install_files};

/// Everything install writes: the units, image files and site (an older
/// install's image carried over), and with ACME
/// the renewal's units, which run this binary.
pub fn installed_files(config: &Config, live: Option<Color>) -> Result<Vec<RenderedFile>, Error> {
    let mut files = install_files(config, live)?;
    for color in Color::ALL {
        if let Some(carried) = super::legacy_dropin::carried_over(config, color)? {
            let file = files
                .iter_mut()
                .find(|f| f.path == carried.path)
                .expect("install writes it");
            *file = carried;
        }
    }
    files.extend(acme_units(config, &this_binary())?);
    Ok(files)
}

/// Where this bgctl is, for the units that run it; `/usr/bin/bgctl` (the
/// package's) when that cannot be told.
fn this_binary() -> AbsPath {
    std::env::current_exe()
        .ok()
        .and_then(|p| AbsPath::parse(p.to_str()?).ok())
        .unwrap_or_else(|| AbsPath::parse("/usr/bin/bgctl").expect("an absolute path"))
}

/// What install would do to each of `files`, against the disk.
pub fn plan_on_disk(files: &[RenderedFile]) -> Result<Vec<(&RenderedFile, FileAction)>, Error> {
    let current = files
        .iter()
        .map(|f| read_if_exists(f.path.as_path()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(plan_files(files, current))
}
