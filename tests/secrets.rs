//! `[container] env_file` (DESIGN §10): a secret reaches the app and no
//! other place: no unit, site or printed render, no process's command
//! line during install, switch and stage, not the journal, etcd, history
//! or status. Files that would expose it are refused with exit 2.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use support::{Service, TestEnv, etcdctl, http_get, port, ports, stderr, stdout};

fn env_file(env: &TestEnv, name: &str, text: &str, mode: u32) -> PathBuf {
    let dir = env.dir().join("secrets");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.env"));
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Reads every process's command line until stopped; counts those that
/// hold `marker`, and the samples taken.
struct CmdlineWatch {
    stop: Arc<AtomicBool>,
    hits: Arc<std::sync::Mutex<Vec<String>>>,
    samples: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CmdlineWatch {
    fn start(marker: &str) -> CmdlineWatch {
        let stop: Arc<AtomicBool> = Arc::default();
        let hits: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let samples: Arc<AtomicUsize> = Arc::default();
        let (s, h, n, m) = (
            Arc::clone(&stop),
            Arc::clone(&hits),
            Arc::clone(&samples),
            marker.to_owned(),
        );
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    let line = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    if line.contains(&m) {
                        h.lock().unwrap().push(line);
                    }
                }
                n.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        CmdlineWatch {
            stop,
            hits,
            samples,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> (Vec<String>, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        (self.hits.lock().unwrap().clone(), self.samples.load(Ordering::SeqCst))
    }
}

/// Every file under `dir` whose contents hold `marker`.
fn files_holding(dir: &Path, marker: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !path.is_symlink() {
            found.extend(files_holding(&path, marker));
        } else if std::fs::read(&path).is_ok_and(|b| String::from_utf8_lossy(&b).contains(marker)) {
            found.push(path);
        }
    }
    found
}

#[test]
fn an_env_file_secret_reaches_the_app_and_nothing_else() {
    let env = TestEnv::get();
    let marker = format!("bgctl-secret-{}-{}", std::process::id(), 0x5eed);
    let file = env_file(
        &env,
        "secret_app",
        &format!("# the database\nDB_PASSWORD={marker}\n"),
        0o600,
    );
    let preview = port();
    let proxy = format!("{}preview_listen = {preview}\n", env.sandbox_proxy("secret_app"));
    let svc = Service::with_proxy(
        &env,
        "secret_app",
        ports(),
        &proxy,
        &format!("env_file = \"{}\"\n", file.display()),
    );
    let watch = CmdlineWatch::start(&marker);
    svc.install();
    let mut printed = String::new();
    for args in [
        &["switch"][..],
        &["stage", "--image", "bgctl-demo:v2"],
        &["render"],
        &["install", "--dry-run"],
    ] {
        let o = svc.bgctl(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        printed.push_str(&stdout(&o));
        printed.push_str(&stderr(&o));
    }
    let (hits, samples) = watch.stop();
    assert!(
        samples > 20,
        "the command lines were barely looked at: {samples} samples"
    );
    assert!(hits.is_empty(), "the secret was on a command line: {hits:?}");

    // The app on the live color and the staged one sees it.
    for port in [svc.listen, preview] {
        let (status, body) = http_get(port, "/env?name=DB_PASSWORD").unwrap();
        assert!(status.contains("200"), "{status} {body}");
        assert!(body.ends_with(&format!("{marker}\n")), "{body}");
    }

    for o in [svc.bgctl(&["--json", "status"]), svc.bgctl(&["--json", "history"])] {
        printed.push_str(&stdout(&o));
    }
    assert!(!printed.contains(&marker), "printed: {printed}");
    let sites = PathBuf::from(env.var("BGCTL_TEST_NGINX_SITES"));
    for dir in [env.unit_dir(), sites.as_path()] {
        assert_eq!(
            files_holding(dir, &marker),
            Vec::<PathBuf>::new(),
            "under {}",
            dir.display()
        );
    }
    let journal = env.in_sandbox(&["journalctl", "--no-pager", "-o", "export"]);
    assert!(journal.status.success(), "{}", stderr(&journal));
    assert!(!stdout(&journal).contains(&marker), "the journal holds the secret");
    let etcd = etcdctl(env.var("BGCTL_TEST_ETCD"), &["get", "--prefix", ""]);
    assert!(etcd.contains("secret-app"), "etcd was read: {etcd}");
    assert!(!etcd.contains(&marker), "etcd holds the secret");
}

#[test]
fn an_env_file_that_others_can_read_or_that_is_no_env_file_is_refused() {
    let env = TestEnv::get();
    let ports = ports();
    for (text, mode, needle) in [
        ("DB_PASSWORD=x\n", 0o644, "chmod 600"),
        ("DB_PASSWORD=x\n", 0o640, "chmod 600"),
        ("DB_PASSWORD=x\nexport OTHER=y\n", 0o600, "line 2"),
        ("DB_PASSWORD\n", 0o600, "line 1: it has no '='"),
    ] {
        let file = env_file(&env, "secret_bad", text, mode);
        let svc = Service::new(
            &env,
            "secret_bad",
            ports,
            &format!("env_file = \"{}\"\n", file.display()),
        );
        for args in [&["install"][..], &["switch"]] {
            let o = svc.bgctl(args);
            assert_eq!(o.status.code(), Some(2), "{text:?} {mode:o} {args:?}: {}", stderr(&o));
            let err = stderr(&o);
            assert!(err.contains(file.to_str().unwrap()) && err.contains(needle), "{err}");
            assert!(
                !err.contains("=x") && !err.contains("=y"),
                "a value in the message: {err}"
            );
        }
        assert!(
            svc.installed_files().iter().all(|f| !f.exists()),
            "a refused install wrote files"
        );
    }
}

#[test]
fn a_config_holding_etcds_password_that_others_can_read_is_refused() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "secret_cfg", ports(), "");
    let text = std::fs::read_to_string(&svc.config).unwrap().replace(
        "[state]\n",
        "[state]\nuser = \"deployer\"\npassword = \"hunter2-not-shown\"\n",
    );
    std::fs::write(&svc.config, text).unwrap();
    std::fs::set_permissions(&svc.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    for args in [&["install"][..], &["switch"], &["reconcile"], &["proxy", "sync"]] {
        let o = svc.bgctl(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(svc.config.to_str().unwrap()) && err.contains("chmod 600"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
    assert!(
        svc.installed_files().iter().all(|f| !f.exists()),
        "a refused install wrote files"
    );
}
