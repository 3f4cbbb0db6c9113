//! [`StateStore`] in one JSON file, for a single host without etcd (DESIGN
//! §6): the same keys, written by atomic rename, and the deploy lock an
//! `flock` on `<path>.lock` that the kernel frees if bgctl dies.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{HISTORY_KEPT, HistoryRecord, Holder, Keys, Snapshot, Staged, StateError, StateStore, Status, Wait};
use crate::config::Config;
use crate::domain::Color;
use crate::files::{read_if_exists, write_private};

pub struct FileStore {
    path: PathBuf,
    keys: Keys,
    lock: Option<File>,
}

/// The file's contents: etcd's keys and values, the `color` key's revision,
/// and the history.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    revision: i64,
    keys: HashMap<String, String>,
    history: Vec<HistoryRecord>,
}

impl FileStore {
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn open(config: &Config) -> FileStore {
        FileStore {
            path: config.state_path().as_path().to_owned(),
            keys: Keys::new(&config.prefix(), &config.name),
            lock: None,
        }
    }

    /// An flock cannot be taken from a living holder: held is ours.
    fn check_held(&self) -> Result<(), StateError> {
        match self.lock {
            Some(_) => Ok(()),
            None => Err(StateError::LockLost("the lock is not held".into())),
        }
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(".lock");
        name.into()
    }

    fn io(&self, operation: &'static str) -> impl FnOnce(std::io::Error) -> StateError + '_ {
        move |e| StateError::File {
            operation,
            reason: format!("{}: {e}", self.path.display()),
        }
    }

    fn load(&self) -> Result<Data, StateError> {
        let text = read_if_exists(&self.path).map_err(|e| StateError::File {
            operation: "read the state file",
            reason: e.to_string(),
        })?;
        match text {
            None => Ok(Data::default()),
            Some(text) => serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                key: self.path.display().to_string(),
                value: String::new(),
                reason: e.to_string(),
            }),
        }
    }

    fn save(&self, data: &Data) -> Result<(), StateError> {
        let text = serde_json::to_string_pretty(data).expect("state serialises");
        // The history names images, hosts and hooks: root's only.
        write_private(&self.path, text.as_bytes()).map_err(|e| StateError::File {
            operation: "write the state file",
            reason: e.to_string(),
        })
    }

    /// Read, change and write the file; only under the deploy lock, so
    /// every change is fenced by it.
    fn update(&self, change: impl FnOnce(&mut Data) -> Result<(), StateError>) -> Result<(), StateError> {
        self.check_held()?;
        let mut data = self.load()?;
        change(&mut data)?;
        self.save(&data)
    }
}

impl StateStore for FileStore {
    async fn lock(&mut self, holder: &Holder, wait: Wait) -> Result<(), StateError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(self.io("create the state directory"))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.lock_path())
            .map_err(self.io("open the lock file"))?;
        let deadline = match wait {
            Wait::No => Some(std::time::Instant::now()),
            Wait::Upto(limit) => Some(std::time::Instant::now() + limit),
            Wait::Forever => None,
        };
        // try_lock in a loop: a blocking flock would stall the runtime.
        let locked = loop {
            match file.try_lock() {
                Err(TryLockError::WouldBlock) if deadline.is_none_or(|d| std::time::Instant::now() < d) => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                other => break other,
            }
        };
        match locked {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(StateError::Locked {
                    key: self.lock_path().display().to_string(),
                    holder: holder.trim().to_owned(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(self.io("lock")(e)),
        }
        file.set_len(0).map_err(self.io("describe the lock holder"))?;
        file.rewind().map_err(self.io("describe the lock holder"))?;
        file.write_all(holder.to_string().as_bytes())
            .map_err(self.io("describe the lock holder"))?;
        self.lock = Some(file);
        Ok(())
    }

    async fn check_lock(&self) -> Result<(), StateError> {
        self.check_held()
    }

    async fn unlock(&mut self) -> Result<(), StateError> {
        if let Some(file) = self.lock.take() {
            let _ = file.set_len(0);
            file.unlock().map_err(self.io("unlock"))?;
        }
        Ok(())
    }

    async fn read(&self) -> Result<Snapshot, StateError> {
        let data = self.load()?;
        Ok(Snapshot {
            active: self.keys.active(&data.keys)?,
            images: self.keys.images(&data.keys),
            staged: self.keys.staged_of(&data.keys)?,
            probation: self.keys.probation_of(&data.keys)?,
            revision: data.revision,
        })
    }

    async fn flip(&self, expected: i64, to: &super::Deployment) -> Result<i64, StateError> {
        let mut revision = 0;
        self.update(|data| {
            if data.revision != expected {
                return Err(StateError::Conflict {
                    key: self.keys.color(),
                    expected,
                });
            }
            data.keys.extend(self.keys.flip(to));
            for key in self.keys.cleared_by_flip(to) {
                data.keys.remove(&key);
            }
            data.revision += 1;
            revision = data.revision;
            Ok(())
        })?;
        Ok(revision)
    }

    async fn retract(&self, expected: i64, color: Color) -> Result<(), StateError> {
        self.update(|data| {
            if data.revision != expected {
                return Err(StateError::Conflict {
                    key: self.keys.color(),
                    expected,
                });
            }
            for key in self.keys.live() {
                data.keys.remove(&key);
            }
            data.keys
                .insert(self.keys.color_key(color, "status"), Status::Stopped.as_str().into());
            data.revision += 1;
            Ok(())
        })
    }

    async fn set_status(&self, color: Color, status: Status) -> Result<(), StateError> {
        self.update(|data| {
            data.keys
                .insert(self.keys.color_key(color, "status"), status.as_str().into());
            Ok(())
        })
    }

    async fn set_staged(&self, staged: Option<&Staged>) -> Result<(), StateError> {
        self.update(|data| {
            let key = self.keys.staged();
            match staged {
                Some(staged) => data.keys.insert(key, Keys::staged_value(staged)),
                None => data.keys.remove(&key),
            };
            Ok(())
        })
    }

    async fn record(&self, record: &HistoryRecord) -> Result<(), StateError> {
        self.update(|data| {
            data.history.push(record.clone());
            let excess = data.history.len().saturating_sub(HISTORY_KEPT);
            data.history.drain(..excess);
            Ok(())
        })
    }

    async fn history(&self) -> Result<Vec<HistoryRecord>, StateError> {
        Ok(self.load()?.history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Deployment;

    fn store(tag: &str) -> (FileStore, PathBuf) {
        let dir = std::env::temp_dir().join(format!("bgctl-filestore-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let text = format!(
            "name = \"web\"\nimage = \"app:v1\"\n[state]\nbackend = \"file\"\npath = \"{}/web.json\"\n",
            dir.display()
        );
        (FileStore::open(&Config::parse(&text).unwrap()), dir)
    }

    fn deployment(color: Color) -> Deployment {
        Deployment {
            color,
            port: crate::domain::Port::new(9001).unwrap(),
            url: "127.0.0.1:9001".into(),
            image: "app:v2".parse().unwrap(),
            previous: None,
            deployed_at: "2026-11-27T00:00:00Z".into(),
            probation: None,
        }
    }

    #[tokio::test]
    async fn the_file_store_flips_with_compare_and_swap_and_locks_with_flock() {
        let (mut a, dir) = store("cas");
        assert_eq!(a.read().await.unwrap().active, None);
        let (deploy_a, deploy_b) = (
            Holder::this_process("switch", "a", "t0"),
            Holder::this_process("switch", "b", "t1"),
        );
        a.lock(&deploy_a, Wait::No).await.unwrap();
        let mut b = FileStore {
            lock: None,
            path: a.path.clone(),
            keys: a.keys.clone(),
        };
        match b.lock(&deploy_b, Wait::No).await {
            Err(StateError::Locked { holder, .. }) => assert_eq!(holder, deploy_a.to_string()),
            other => panic!("a second lock was taken: {other:?}"),
        }
        let revision = a.flip(0, &deployment(Color::Blue)).await.unwrap();
        assert!(matches!(
            a.flip(0, &deployment(Color::Green)).await,
            Err(StateError::Conflict { .. })
        ));
        let snapshot = a.read().await.unwrap();
        assert_eq!(
            (snapshot.active.unwrap().color, snapshot.revision),
            (Color::Blue, revision)
        );
        a.retract(revision, Color::Blue).await.unwrap();
        assert_eq!(a.read().await.unwrap().active, None);
        a.unlock().await.unwrap();
        b.lock(&deploy_b, Wait::No).await.unwrap();
        b.unlock().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn the_file_store_keeps_the_newest_50_history_records() {
        let (mut s, dir) = store("history");
        s.lock(&Holder::this_process("switch", "h", "t0"), Wait::No)
            .await
            .unwrap();
        for i in 0..55 {
            let record = HistoryRecord {
                id: format!("d{i}"),
                from: None,
                to: "blue".into(),
                image: "app:v1".into(),
                start: String::new(),
                end: String::new(),
                result: "ok".into(),
                phases: Vec::new(),
                command: "switch".into(),
                commands: Vec::new(),
                guard: None,
            };
            s.record(&record).await.unwrap();
        }
        let history = s.history().await.unwrap();
        assert_eq!(
            (history.len(), history[0].id.as_str(), history[49].id.as_str()),
            (50, "d5", "d54")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
