//! A candidate site judged by `nginx -t` before it is where nginx reads it.
//! Next to nginx.conf goes a copy of it whose include of the sites
//! directory reads a directory of bgctl's instead: a snapshot of the
//! neighbours and the candidate. Copies, not symlinks: a neighbour removed
//! while the test runs (another service's uninstall) must not fail it. Only a site that passed is then renamed
//! into place, so anything else that reloads nginx meanwhile (a certbot
//! hook, a person, a crash leaving the file) never loads an untested one.
//!
//! A custom `[proxy] test` (a containerised nginx, paths inside it), or an
//! nginx.conf that does not name the sites directory by its path, is tested
//! in place as before, under the host lock.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::ProxyError;
use super::config_test::{run_test, test_config};
use crate::config::Config;
use crate::domain::Argv;
use crate::files::{FilesError, write_atomic};
use crate::render::RenderedFile;

/// The copy of nginx.conf and the directory it reads instead of the sites
/// directory; both removed when dropped.
pub struct Candidate {
    conf: PathBuf,
    dir: PathBuf,
    /// The sites directory, as nginx.conf names it (with its `/`).
    sites: String,
    /// nginx.conf itself.
    real_conf: String,
}

impl Drop for Candidate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.conf);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `nginx -t` on the candidate next to its neighbours; nothing nginx reads
/// is touched. `None`: it cannot be tested apart (see the module doc), or
/// the copy could not be staged (a read-only conf directory): then it is
/// tested in place.
pub async fn test_apart(config: &Config, site: &RenderedFile) -> Result<Option<()>, ProxyError> {
    let candidate = match Candidate::stage(config, site) {
        Ok(Some(candidate)) => candidate,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::warn!(
                "nginx: cannot stage a copy to test {} apart ({e}): testing it in place",
                site.path
            );
            return Ok(None);
        }
    };
    let dump = run_test(&candidate.test_argv(config))
        .await
        .map_err(|e| candidate.named_as_nginx_reads(e))?;
    // The copy must have read the candidate: a sites path that appears in
    // nginx.conf, but not where it includes the sites, would test the live files.
    let read = format!(
        "# configuration file {}:",
        candidate.dir.join(site_file(site)).display()
    );
    Ok(dump.contains(&read).then_some(()))
}

fn site_file(site: &RenderedFile) -> &std::ffi::OsStr {
    site.path.as_path().file_name().unwrap_or_default()
}

impl Candidate {
    fn stage(config: &Config, site: &RenderedFile) -> Result<Option<Candidate>, ProxyError> {
        if config.proxy.test.is_some() {
            return Ok(None);
        }
        let site_path = site.path.as_path();
        let (Some(sites), Some(file_name)) = (site_path.parent(), site_path.file_name()) else {
            return Ok(None);
        };
        let conf_path = config.proxy.nginx_conf.as_path();
        let text = std::fs::read_to_string(conf_path).map_err(|e| read_error(conf_path, e))?;
        let sites = format!("{}/", sites.display());
        if !text.contains(&sites) {
            return Ok(None);
        }
        let conf_dir = conf_path.parent().unwrap_or(Path::new("/"));
        // Hidden, so no include glob (`conf.d/*.conf`, `sites-enabled/*`) reads them.
        let tag = format!(".bgctl-candidate-{}", config.name);
        let candidate = Candidate {
            conf: conf_dir.join(format!("{tag}.conf")),
            dir: conf_dir.join(&tag),
            sites,
            real_conf: conf_path.display().to_string(),
        };
        let _ = std::fs::remove_dir_all(&candidate.dir);
        // Root's only: a neighbour's copy is no more readable than the site.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&candidate.dir)
            .map_err(|source| FilesError::CreateDir {
                path: candidate.dir.clone(),
                source,
            })?;
        let sites_dir = Path::new(&candidate.sites);
        for neighbour in std::fs::read_dir(sites_dir).map_err(|e| read_error(sites_dir, e))? {
            let neighbour = neighbour.map_err(|e| read_error(sites_dir, e))?;
            if neighbour.file_name() != file_name {
                copy_neighbour(&neighbour.path(), &candidate.dir.join(neighbour.file_name()))?;
            }
        }
        write_atomic(&candidate.dir.join(file_name), site.contents.as_bytes())?;
        let dir = format!("{}/", candidate.dir.display());
        let copy = replace_paths(&text, &candidate.sites, &dir);
        write_atomic(&candidate.conf, copy.as_bytes())?;
        Ok(Some(candidate))
    }

    /// `<nginx_bin> -T -q -c <the copy>`: the test, and the files it read.
    fn test_argv(&self, config: &Config) -> Argv {
        let conf = self.conf.display().to_string();
        let args = ["-T", "-q", "-c", &conf]
            .iter()
            .map(|w| w.parse().expect("printable"))
            .collect();
        Argv::new(config.proxy.nginx_bin.clone(), args)
    }

    /// nginx's words about the copy, put as they would be about the files
    /// nginx reads: the sites directory and nginx.conf by their own names.
    fn named_as_nginx_reads(&self, e: ProxyError) -> ProxyError {
        match e {
            ProxyError::Invalid { message } => ProxyError::Invalid {
                message: message
                    .replace(&format!("{}/", self.dir.display()), &self.sites)
                    .replace(&self.conf.display().to_string(), &self.real_conf),
            },
            other => other,
        }
    }
}

/// A neighbour as it is now, or left out when it is gone since the
/// listing. One that cannot be read (a dangling link, a directory) stays a
/// link, so nginx judges it as it judges the live one.
fn copy_neighbour(from: &Path, to: &Path) -> Result<(), FilesError> {
    match std::fs::read(from) {
        Ok(contents) => write_atomic(to, &contents),
        Err(_) if std::fs::symlink_metadata(from).is_err() => Ok(()),
        Err(_) => std::os::unix::fs::symlink(from, to).map_err(|source| FilesError::Write {
            path: to.to_owned(),
            source,
        }),
    }
}

fn read_error(path: &Path, source: std::io::Error) -> FilesError {
    FilesError::Read {
        path: path.to_owned(),
        source,
    }
}

/// `text` with each path that begins with `from` made to begin with `to`;
/// a longer path that merely contains `from` is left alone.
fn replace_paths(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let starts_a_path = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == '"' || c == '\'');
        out.push_str(&rest[..at]);
        out.push_str(if starts_a_path { to } else { from });
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

/// The file `nginx -t` complained about, when it names one: the first
/// `[emerg]` line ends `in <file>:<line>`.
pub fn complained_about(message: &str) -> Option<&str> {
    let line = message.lines().find(|l| l.contains("[emerg]"))?;
    let named = &line[line.rfind(" in /")? + " in ".len()..];
    let (file, number) = named.rsplit_once(':')?;
    number.trim().bytes().all(|b| b.is_ascii_digit()).then_some(file)
}

/// A refused test blamed on whom it names. A file that is neither this
/// service's site nor its include is a broken neighbour only if nginx
/// refuses the config without the candidate too (the live files, as they
/// are): a clash of the two (a second `default_server`) is named in
/// whichever file nginx read last, and is the candidate's to fix.
pub async fn blame(config: &Config, site: &RenderedFile, e: ProxyError) -> ProxyError {
    let ProxyError::Invalid { message } = e else {
        return e;
    };
    let ours =
        |file: &str| file == site.path.as_str() || config.proxy.include.as_ref().is_some_and(|i| i.as_str() == file);
    match complained_about(&message) {
        Some(file) if !ours(file) && test_config(config).await.is_err() => ProxyError::Neighbour {
            file: file.to_owned(),
            message,
        },
        _ => ProxyError::Invalid { message },
    }
}

#[cfg(test)]
mod tests {
    use super::{complained_about, copy_neighbour, replace_paths};

    #[test]
    fn only_paths_that_begin_with_the_sites_directory_are_moved() {
        let conf = "include /etc/nginx/sites-enabled/*;\ninclude \"/etc/nginx/sites-enabled/x\";\n\
                    include /usr/local/etc/nginx/sites-enabled/*;\n";
        assert_eq!(
            replace_paths(conf, "/etc/nginx/sites-enabled/", "/etc/nginx/.c/"),
            "include /etc/nginx/.c/*;\ninclude \"/etc/nginx/.c/x\";\ninclude /usr/local/etc/nginx/sites-enabled/*;\n"
        );
    }

    #[test]
    fn the_file_nginx_complains_about_is_found() {
        let said = "nginx: [emerg] unknown directive \"bogus\" in /etc/nginx/sites-enabled/other.conf:3\n\
                    nginx: configuration file /etc/nginx/nginx.conf test failed";
        assert_eq!(complained_about(said), Some("/etc/nginx/sites-enabled/other.conf"));
        let open = "nginx: [emerg] open() \"/srv/app.inc\" failed (2: No such file or directory) in /etc/nginx/sites-enabled/web.conf:40";
        assert_eq!(complained_about(open), Some("/etc/nginx/sites-enabled/web.conf"));
        assert_eq!(complained_about("nginx: [emerg] cannot load certificate \"/x\""), None);
        assert_eq!(complained_about("nginx: [warn] x in /a:1"), None);
    }

    #[test]
    fn a_neighbour_is_copied_a_gone_one_left_out_and_a_dangling_link_kept() {
        let dir = std::env::temp_dir().join(format!("bgctl-candidate-{}", std::process::id()));
        let (sites, copy) = (dir.join("sites"), dir.join("copy"));
        std::fs::create_dir_all(&sites).unwrap();
        std::fs::create_dir_all(&copy).unwrap();
        std::fs::write(sites.join("a.conf"), "server {}\n").unwrap();
        std::os::unix::fs::symlink(dir.join("nowhere"), sites.join("b.conf")).unwrap();
        for name in ["a.conf", "b.conf", "gone.conf"] {
            copy_neighbour(&sites.join(name), &copy.join(name)).unwrap();
        }
        std::fs::remove_file(sites.join("a.conf")).unwrap();
        assert_eq!(std::fs::read_to_string(copy.join("a.conf")).unwrap(), "server {}\n");
        assert_eq!(std::fs::read_link(copy.join("b.conf")).unwrap(), sites.join("b.conf"));
        assert!(std::fs::symlink_metadata(copy.join("gone.conf")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
