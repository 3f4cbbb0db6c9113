//! Follows the guard's JSON access log, which nginx appends to while a
//! guarded switch runs: from its start, across a truncation or a
//! replacement, and capped so it cannot fill the disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::guard::{Tally, count_line};

/// Past this the log is emptied once read: nginx appends (`O_APPEND`), so
/// it goes on at the start. A window rarely writes a tenth of it.
const CAP: u64 = 64 << 20;

pub struct Follower {
    path: PathBuf,
    /// Bytes read so far, and the file they were read from.
    offset: u64,
    inode: Option<u64>,
    /// The start of a line nginx had not finished writing.
    partial: Vec<u8>,
}

impl Follower {
    pub fn new(path: PathBuf) -> Self {
        Follower {
            path,
            offset: 0,
            inode: None,
            partial: Vec::new(),
        }
    }

    /// Empties the log for a new switch (nginx does not write to it yet)
    /// and follows it from its start.
    pub fn reset(&mut self) -> io::Result<()> {
        // nginx -t refuses a site whose log directory is missing.
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        match std::fs::symlink_metadata(&self.path) {
            Ok(_) => self.empty()?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        (self.offset, self.inode) = (0, None);
        self.partial.clear();
        Ok(())
    }

    /// What the lines added since the last read say about the color on
    /// `port`. A log that is gone, or another file now (renamed away, as
    /// logrotate does, while nginx writes the old one), is an error: what
    /// cannot be seen must not count as no traffic.
    pub fn read(&mut self, port: u16) -> io::Result<Tally> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(io::Error::new(
                    e.kind(),
                    "it is not there, so nginx is not writing it (or it was moved away)",
                ));
            }
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if self.inode.is_some_and(|i| i != meta.ino()) {
            return Err(io::Error::other(
                "it was replaced while the guard read it (renamed away?): nginx still writes the old file",
            ));
        }
        // Emptied under us (a copytruncate): what is there now is all new.
        if meta.len() < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        self.inode = Some(meta.ino());
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = std::mem::take(&mut self.partial);
        let read = file.read_to_end(&mut bytes)?;
        self.offset += read as u64;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.partial = bytes.split_off(complete);
        let tally = tally_lines(&bytes, port);
        if self.offset > CAP {
            // A line nginx writes between the read and this is lost: the
            // price of a bound, and a few lines in 64 MiB.
            self.empty()?;
            self.offset = 0;
            self.partial.clear();
        }
        Ok(tally)
    }

    /// Truncates the log, which must be a plain file: bgctl runs as root,
    /// and a link must not make it empty something else.
    fn empty(&self) -> io::Result<()> {
        if !std::fs::symlink_metadata(&self.path)?.file_type().is_file() {
            return Err(io::Error::other(
                "it is not a plain file (a link?), so bgctl will not empty it",
            ));
        }
        OpenOptions::new().write(true).open(&self.path)?.set_len(0)
    }
}

/// What the whole log says about the color on `port` now, read without
/// changing it (`status`, while a switch follows it).
pub fn count_all(path: &std::path::Path, port: u16) -> io::Result<Tally> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(tally_lines(&bytes, port)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Tally::default()),
        Err(e) => Err(e),
    }
}

/// What the guard's lines in `bytes` say about the color on `port`.
fn tally_lines(bytes: &[u8], port: u16) -> Tally {
    let mut tally = Tally::default();
    for more in String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| count_line(l, port))
    {
        tally.add(more);
    }
    tally
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::Follower;

    fn line(port: u16, status: u16) -> String {
        format!("{{\"status\":{status},\"upstream\":\"127.0.0.1:{port}\",\"upstream_status\":\"{status}\"}}\n")
    }

    #[test]
    fn it_reads_whole_lines_once_and_starts_over_when_the_log_is_emptied() {
        let path = std::env::temp_dir().join(format!("bgctl-guard-log-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut follower = Follower::new(path.clone());
        assert!(follower.read(9002).is_err(), "no log is no reading, not zero requests");
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let half = line(9002, 500);
        log.write_all(format!("{}{}", line(9002, 200), &half[..10]).as_bytes())
            .unwrap();
        let first = follower.read(9002).unwrap();
        assert_eq!((first.requests, first.errors), (1, 0));
        log.write_all(format!("{}{}", &half[10..], line(9001, 200)).as_bytes())
            .unwrap();
        let second = follower.read(9002).unwrap();
        assert_eq!((second.requests, second.responses, second.errors), (2, 1, 1));
        assert_eq!(follower.read(9002).unwrap().requests, 0, "nothing read twice");

        follower.reset().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        log.write_all(line(9002, 502).as_bytes()).unwrap();
        assert_eq!(follower.read(9002).unwrap().errors, 1, "read from the start again");
        // Emptied by someone else (a copytruncate) while followed; it is
        // seen at the next look, as long as the log is shorter then.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        assert_eq!(follower.read(9002).unwrap().requests, 0);
        log.write_all(line(9002, 200).as_bytes()).unwrap();
        assert_eq!(follower.read(9002).unwrap().responses, 1);
        assert_eq!(
            super::count_all(&path, 9002).unwrap().responses,
            1,
            "status counts it all"
        );
        // Renamed away (logrotate without copytruncate): nginx writes the
        // old file, so the new one must not pass for a quiet log.
        std::fs::rename(&path, path.with_extension("1")).unwrap();
        std::fs::write(&path, "").unwrap();
        assert!(follower.read(9002).is_err(), "a replaced log was followed");
        std::fs::remove_file(path.with_extension("1")).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(follower.read(9002).is_err(), "a removed log was followed");

        // A link is never followed to empty what it points at.
        let target = path.with_extension("target");
        std::fs::write(&target, "keep me\n").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(Follower::new(path.clone()).reset().is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&target).unwrap();
    }
}
