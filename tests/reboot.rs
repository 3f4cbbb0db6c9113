//! A reboot heals (DESIGN §9). The sandbox's systemd is powered off (the
//! units get their ExecStop) and booted again with the same unit dir,
//! dockerd and etcd (`scripts/test-env reboot`). bgctl-reconcile@ is the
//! unit the .deb ships, enabled for the service: after the boot the live
//! color and the site are back, and the idle color never started; a switch
//! killed with kill -9 right after its flip is undone after it.
//!
//! One test: the reboot takes the whole sandbox, so nothing else may run in
//! this binary meanwhile.

mod support;

use std::path::Path;
use std::time::Duration;

use bgctl::config::Config;
use bgctl::domain::Color;
use support::{Service, TestEnv, port, stderr, stdout, wait_for};

const NAME: &str = "reboot_heal";
const RECONCILE: &str = "bgctl-reconcile@reboot_heal.service";

/// The shipped unit, enabled, as it runs on a host: `/usr/bin/bgctl -s
/// NAME reconcile` (the environment mounts this build's binary there, and
/// DIR/etc-bgctl as /etc/bgctl, at boot). The drop-in is what a host whose
/// proxy unit is not nginx.service adds, and PrivateTmp=no, because the
/// test environment lives under /tmp.
fn enable_reconcile(env: &TestEnv, svc: &Service) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(root.join("packaging/systemd/bgctl-reconcile@.service")).unwrap();
    std::fs::write(env.unit_dir().join("bgctl-reconcile@.service"), shipped).unwrap();
    let bin = env.dir().join("bin/bgctl");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_bgctl"), bin.with_extension("tmp")).unwrap();
    std::fs::rename(bin.with_extension("tmp"), &bin).unwrap();
    std::fs::copy(&svc.config, env.dir().join(format!("etc-bgctl/{NAME}.toml"))).unwrap();
    let dropin = env.unit_dir().join(format!("{RECONCILE}.d"));
    std::fs::create_dir_all(&dropin).unwrap();
    let nginx = env.var("BGCTL_TEST_NGINX_UNIT");
    std::fs::write(
        dropin.join("90-test.conf"),
        format!("[Unit]\nAfter={nginx}\n\n[Service]\nPrivateTmp=no\n"),
    )
    .unwrap();
    for cmd in [&["systemctl", "daemon-reload"][..], &["systemctl", "enable", RECONCILE]] {
        let o = env.in_sandbox(cmd);
        assert!(o.status.success(), "{cmd:?}: {}", stderr(&o));
    }
}

fn reboot(env: &TestEnv) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-env");
    let o = std::process::Command::new(script)
        .arg("reboot")
        .env("BGCTL_TEST_ENV", env.dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "test-env reboot: {}", stderr(&o));
}

/// A property of a unit in the sandbox's systemd.
fn show(env: &TestEnv, unit: &str, property: &str) -> String {
    let o = env.in_sandbox(&["systemctl", "show", "-p", property, "--value", unit]);
    stdout(&o).trim().to_owned()
}

/// Waits until the reconcile unit ran to success in this boot, and returns its journal.
fn reconciled(env: &TestEnv, limit: Duration) -> String {
    let done = wait_for(limit, || {
        let ran = show(env, RECONCILE, "ExecMainExitTimestampMonotonic") != "0";
        let ok = show(env, RECONCILE, "ExecMainStatus") == "0" && show(env, RECONCILE, "ActiveState") == "inactive";
        (ran && ok).then_some(())
    });
    let journal = stdout(&env.in_sandbox(&["journalctl", "--no-pager", "-u", RECONCILE]));
    assert!(
        done.is_some(),
        "{RECONCILE} did not succeed within {limit:?}:\n{journal}"
    );
    journal
}

/// The site on disk is the one bgctl renders for `color`.
fn assert_site(svc: &Service, color: Color) {
    let config = Config::load(&svc.config).unwrap();
    let want = bgctl::render::site(&config, Some(color)).unwrap();
    let have = std::fs::read_to_string(want.path.as_path()).unwrap();
    assert_eq!(have, want.contents, "the site serves {color}");
}

#[test]
fn a_reboot_brings_back_the_live_color_and_heals_a_killed_switch() {
    let env = TestEnv::get();
    // nginx listens below 1024, as on port 80: nginx -t under the unit's
    // capability set must still bind it.
    let svc = Service::new(&env, NAME, (port(), port(), 881), "");
    svc.install();
    for image in ["bgctl-demo:v1", "bgctl-demo:v2"] {
        let o = svc.bgctl(&["switch", "--image", image]);
        assert_eq!(o.status.code(), Some(0), "switch: {}", stderr(&o));
    }
    svc.assert_live("green", "v2");
    enable_reconcile(&env, &svc);

    // 1. A clean reboot, with the site edited by hand to point at blue.
    let config = Config::load(&svc.config).unwrap();
    let stale = bgctl::render::site(&config, Some(Color::Blue)).unwrap();
    std::fs::write(stale.path.as_path(), &stale.contents).unwrap();
    reboot(&env);
    let journal = reconciled(&env, Duration::from_secs(90));
    eprintln!("after the reboot, {RECONCILE}:\n{journal}");
    svc.assert_live("green", "v2");
    assert_site(&svc, Color::Green);
    let blue = svc.unit("blue");
    assert_eq!(
        show(&env, blue.as_str(), "ActiveEnterTimestampMonotonic"),
        "0",
        "the idle color started during the boot"
    );

    // 2. kill -9 a switch right after its flip (etcd says blue on
    // probation, nginx still green, both running), then reboot: the
    // unproven flip is undone as a failed verify would be. Green, which
    // never stopped, is live; blue is gone.
    let running = svc.spawn_until(
        &["switch", "--image", "bgctl-demo:v1"],
        "flip:hang",
        "fault: hanging after flip",
    );
    running.kill();
    assert_eq!(svc.etcd("color").as_deref(), Some("blue"));
    reboot(&env);
    let journal = reconciled(&env, Duration::from_secs(120));
    eprintln!("after the kill -9 and the reboot, {RECONCILE}:\n{journal}");
    assert!(
        journal.contains("was cut off before its flip to blue was proven: undone"),
        "{journal}"
    );
    svc.assert_live("green", "v2");
    assert_site(&svc, Color::Green);
    assert_eq!(svc.etcd("probation"), None);
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v1"]);
    assert_eq!(o.status.code(), Some(0), "the lock is free again: {}", stderr(&o));
    svc.assert_live("blue", "v1");

    let _ = env.in_sandbox(&["systemctl", "disable", RECONCILE]);
    let _ = std::fs::remove_dir_all(env.unit_dir().join(format!("{RECONCILE}.d")));
    let _ = std::fs::remove_file(env.unit_dir().join("bgctl-reconcile@.service"));
    let _ = std::fs::remove_file(env.dir().join(format!("etc-bgctl/{NAME}.toml")));
}
