//! The systemd boundary against the real systemd of the test environment:
//! install/uninstall through the binary, tracked jobs and enablement through
//! the library's D-Bus client.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bgctl::systemd::{ActiveState, DbusSystemd, JobResult, Systemd, SystemdError, enable_only};
use support::{Service, TestEnv, bgctl, http_get, ports, stderr, stdout, wait_for};

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const SETTLE: Duration = Duration::from_secs(2);

#[test]
fn install_writes_once_then_nothing_and_systemd_loads_the_units() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "inst_twice", ports(), "");
    let o = svc.run(&["install"]).run();
    assert_eq!(stderr(&o).matches("install: wrote ").count(), 5, "{}", stderr(&o));
    for f in svc.installed_files() {
        let meta = std::fs::metadata(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(meta.permissions().mode() & 0o777, 0o644, "{}", f.display());
    }
    let o = env.in_sandbox(&[
        "systemctl",
        "show",
        "-p",
        "LoadState",
        "-p",
        "FragmentPath",
        svc.unit("blue").as_str(),
    ]);
    let shown = stdout(&o);
    assert!(
        shown.contains("LoadState=loaded") && shown.contains("inst_twice_blue@.service"),
        "{shown}"
    );

    let mtimes = |files: &[PathBuf]| {
        files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().modified().unwrap())
            .collect::<Vec<_>>()
    };
    let before = mtimes(&svc.installed_files());
    let o = svc.run(&["install"]).run();
    assert!(
        stderr(&o).contains("nothing to do: all 5 files are up to date"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        mtimes(&svc.installed_files()),
        before,
        "the second install rewrote files"
    );
}

#[test]
fn install_dry_run_shows_a_diff_and_touches_nothing() {
    let env = TestEnv::get();
    let ports = ports();
    let svc = Service::new(&env, "inst_dry", ports, "");
    let o = svc.run(&["install", "--dry-run"]).run();
    assert!(
        stdout(&o).contains("+ExecStart=\"/usr/bin/docker\" run --rm --name inst_dry_blue"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("would write 5 of 5 files"), "{}", stderr(&o));
    assert!(svc.installed_files().iter().all(|f| !f.exists()), "dry run wrote files");

    // After an install, a config change shows as a diff of the unit only.
    svc.install();
    let changed = env.config("inst_dry", ports, "[container]\npull = false\nstop_timeout = \"30s\"\n");
    let o = bgctl(&["--config", changed.to_str().unwrap(), "install", "--dry-run"]);
    assert!(
        stdout(&o).contains("-ExecStop=\"/usr/bin/docker\" stop -t 10 inst_dry_blue"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("+ExecStop=\"/usr/bin/docker\" stop -t 30 inst_dry_blue"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("would write 2 of 5 files"), "{}", stderr(&o));
}

#[tokio::test]
async fn install_after_a_config_change_writes_only_the_units_and_reloads() {
    let env = TestEnv::get();
    let ports = ports();
    let svc = Service::new(&env, "inst_change", ports, "");
    svc.install();
    let changed = env.config(
        "inst_change",
        ports,
        "[container]\npull = false\nstop_timeout = \"30s\"\n",
    );
    assert_eq!(changed, svc.config);
    let o = svc.run(&["install"]).run();
    assert_eq!(stderr(&o).matches("install: wrote ").count(), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("wrote") && stderr(&o).contains("inst_change_blue@.service\n"),
        "{}",
        stderr(&o)
    );
    let systemd = DbusSystemd::connect().await.unwrap();
    for color in ["blue", "green"] {
        let state = systemd.state(&svc.unit(color)).await.unwrap();
        assert!(!state.need_daemon_reload, "{color}: systemd was not reloaded");
    }
    let o = env.in_sandbox(&["systemctl", "show", "-p", "ExecStop", svc.unit("blue").as_str()]);
    assert!(stdout(&o).contains("stop -t 30 inst_change_blue"), "{}", stdout(&o));
}

#[test]
fn install_refuses_to_overwrite_a_unit_it_did_not_write() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "inst_foreign", ports(), "");
    let theirs = env.unit_dir().join("inst_foreign_green@.service");
    std::fs::write(&theirs, "[Service]\nExecStart=/bin/true\n").unwrap();
    let o = svc.run(&["install"]).status(2).run();
    assert!(stderr(&o).contains("was not written by bgctl"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&theirs).unwrap(),
        "[Service]\nExecStart=/bin/true\n"
    );
    assert!(
        svc.installed_files().iter().all(|f| f == &theirs || !f.exists()),
        "install wrote files"
    );
    std::fs::remove_file(&theirs).unwrap();
}

#[test]
fn install_refuses_a_unit_dir_that_is_not_a_directory() {
    let env = TestEnv::get();
    let file = env.dir().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let config = env.config("inst_nodir", ports(), "");
    let text = std::fs::read_to_string(&config).unwrap();
    let unit_dir_line = format!("unit_dir = \"{}\"", env.unit_dir().display());
    std::fs::write(
        &config,
        text.replace(&unit_dir_line, &format!("unit_dir = \"{}\"", file.display())),
    )
    .unwrap();
    let o = bgctl(&["--config", config.to_str().unwrap(), "install"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("systemd.unit_dir") && stderr(&o).contains("is not a directory"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test]
async fn start_and_stop_run_the_container_and_report_their_jobs() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "jobs", ports(), "");
    svc.install();
    let systemd = DbusSystemd::connect().await.unwrap();
    let unit = svc.unit("blue");

    let state = systemd.start(&unit, SETTLE, START_TIMEOUT).await.unwrap();
    assert!(state.is_running(), "{state}");
    assert_eq!(state.invocation_id.len(), 32, "{state:?}");
    let answer = wait_for(Duration::from_secs(30), || {
        http_get(svc.ports.0, "/").filter(|(s, _)| s.contains("200"))
    });
    assert!(answer.is_some(), "the container never answered");
    // Reading the state again gives the same run.
    assert_eq!(systemd.state(&unit).await.unwrap().invocation_id, state.invocation_id);

    let stopped = systemd.stop(&unit, STOP_TIMEOUT).await.unwrap();
    assert_eq!(stopped.active_state, ActiveState::Inactive, "{stopped}");
    assert_eq!(stopped.result, "success", "{stopped}");
    assert!(!svc.container_exists("blue"), "ExecStop left the container");
    // Stopping what is stopped is fine.
    assert_eq!(
        systemd.stop(&unit, STOP_TIMEOUT).await.unwrap().active_state,
        ActiveState::Inactive
    );
}

#[tokio::test]
async fn a_container_that_exits_at_once_is_reported_failed_with_the_units_result() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "exits", ports(), "env = { DEMO_EXIT_AFTER = \"0\" }\n");
    svc.install();
    let systemd = DbusSystemd::connect().await.unwrap();
    let unit = svc.unit("blue");
    match systemd.start(&unit, Duration::from_secs(5), START_TIMEOUT).await {
        Err(SystemdError::FailedAfterStart { state, .. }) => {
            assert_eq!(state.result, "exit-code", "{state}");
            assert_eq!(state.exec_main_status, 1, "{state}");
            assert!(state.has_failed(), "{state}");
        }
        other => panic!("expected a failed start, got {other:?}"),
    }
    systemd.stop(&unit, STOP_TIMEOUT).await.unwrap();
}

#[tokio::test]
async fn a_start_job_that_fails_reports_its_job_result() {
    let env = TestEnv::get();
    // A docker CLI path that does not exist: the exec of ExecStartPre's `-`
    // is forgiven, ExecStart's is not, so the job itself fails.
    let svc = Service::new(&env, "badexec", ports(), "");
    let text = std::fs::read_to_string(&svc.config)
        .unwrap()
        .replace("[docker]\n", "[docker]\ncli = \"/nonexistent/docker\"\n");
    std::fs::write(&svc.config, text).unwrap();
    svc.install();
    let systemd = DbusSystemd::connect().await.unwrap();
    match systemd.start(&svc.unit("blue"), SETTLE, START_TIMEOUT).await {
        Err(SystemdError::JobFailed { result, state, .. }) => {
            assert_eq!(result, JobResult::Failed);
            // 203 is systemd's EXIT_EXEC; Restart=on-failure queues a retry.
            assert!(state.has_failed() && state.exec_main_status == 203, "{state}");
        }
        other => panic!("expected a failed job, got {other:?}"),
    }
    systemd.stop(&svc.unit("blue"), STOP_TIMEOUT).await.unwrap();
}

#[tokio::test]
async fn enable_only_leaves_exactly_the_active_instance_enabled() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "enable", ports(), "");
    svc.install();
    let systemd = DbusSystemd::connect().await.unwrap();
    let (blue, green) = (svc.unit("blue"), svc.unit("green"));

    enable_only(&systemd, &blue, &green).await.unwrap();
    assert!(svc.wants_link("blue").is_symlink() && !svc.wants_link("green").exists());
    let target = std::fs::read_link(svc.wants_link("blue")).unwrap();
    assert!(target.ends_with("enable_blue@.service"), "{}", target.display());

    enable_only(&systemd, &green, &blue).await.unwrap();
    assert!(svc.wants_link("green").is_symlink() && !svc.wants_link("blue").exists());
    // Idempotent: asking again changes nothing.
    assert!(enable_only(&systemd, &green, &blue).await.unwrap().is_empty());
}

#[tokio::test]
async fn uninstall_stops_disables_and_removes_everything_install_wrote() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "uninst", ports(), "");
    svc.install();
    let systemd = DbusSystemd::connect().await.unwrap();
    systemd.start(&svc.unit("green"), SETTLE, START_TIMEOUT).await.unwrap();
    enable_only(&systemd, &svc.unit("green"), &svc.unit("blue"))
        .await
        .unwrap();
    assert!(svc.container_exists("green"));

    let o = svc.run(&["uninstall"]).run();
    assert!(
        stderr(&o).contains(&format!("uninstall: stopped uninst_green@{}.service", svc.ports.1)),
        "{}",
        stderr(&o)
    );
    // The site's directory is nginx's, not ours: it stays.
    assert!(Path::new(env.var("BGCTL_TEST_NGINX_SITES")).is_dir());
    for f in svc.installed_files() {
        assert!(!f.exists(), "{} is left", f.display());
    }
    for color in ["blue", "green"] {
        assert!(!env.unit_dir().join(format!("uninst_{color}@.service.d")).exists());
        assert!(!svc.wants_link(color).exists(), "{color} is still enabled");
        assert!(!svc.container_exists(color), "{color}'s container is left");
        let state = systemd.state(&svc.unit(color)).await.unwrap();
        assert_eq!(state.active_state, ActiveState::Inactive, "{color}: {state}");
        assert_eq!(state.load_state, "not-found", "{color}: {state}");
    }
    // Again: nothing left to do is still success.
    assert_eq!(svc.bgctl(&["uninstall"]).status.code(), Some(0));
}

/// A bus socket that accepts connections and never answers: the worst case
/// for a timeout.
#[test]
fn a_bus_that_never_answers_exits_5_within_10_seconds() {
    let env = TestEnv::get();
    let config = env.config("hungbus", ports(), "[container]\npull = false\n");
    let socket = env.dir().join("hung-bus");
    let _ = std::fs::remove_file(&socket);
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(held);
    });
    let started = Instant::now();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bgctl"))
        .args(["--config", config.to_str().unwrap(), "install"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", format!("unix:path={}", socket.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(stderr(&o).contains("no answer within 5s"), "{}", stderr(&o));
    assert!(!env.unit_dir().join("hungbus_blue@.service").exists());
}

#[test]
fn systemd_unreachable_exits_5_quickly_and_touches_nothing() {
    let env = TestEnv::get();
    let config = env.config("unreach", ports(), "[container]\npull = false\n");
    let started = Instant::now();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bgctl"))
        .args(["--config", config.to_str().unwrap(), "install"])
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}/no-such-bus", env.dir().display()),
        )
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(stderr(&o).contains("cannot reach systemd"), "{}", stderr(&o));
    assert!(
        !env.unit_dir().join("unreach_blue@.service").exists(),
        "wrote a unit without systemd"
    );
}
