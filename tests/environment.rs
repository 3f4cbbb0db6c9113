//! The test environment is real, and what `bgctl render` writes works in it:
//! systemd answers over the D-Bus system bus, accepts the rendered units, and
//! runs the fixture container from them, which answers on loopback and logs
//! to the journal; hostile values reach the container unchanged.
//!
//! Needs `scripts/test-env up` (the test command runs it).

mod support;

use std::path::Path;
use std::time::Duration;

use support::{TestEnv, bgctl, http_get, ports, stderr, wait_for};
use zbus::OwnedObjectPath;

const MANAGER: (&str, &str, &str) = (
    "org.freedesktop.systemd1",
    "/org/freedesktop/systemd1",
    "org.freedesktop.systemd1.Manager",
);

async fn manager() -> zbus::Proxy<'static> {
    // Production's call: it honours DBUS_SYSTEM_BUS_ADDRESS, which the test
    // command sets from the environment's env file.
    let conn = zbus::Connection::system().await.expect("the sandbox's system bus");
    zbus::Proxy::new_owned(conn, MANAGER.0, MANAGER.1, MANAGER.2)
        .await
        .unwrap()
}

#[tokio::test]
async fn systemd_answers_over_the_system_bus() {
    let env = TestEnv::get();
    assert_eq!(
        std::env::var("DBUS_SYSTEM_BUS_ADDRESS").ok().as_deref(),
        Some(env.var("DBUS_SYSTEM_BUS_ADDRESS")),
        "export the variables of {}/env (the test command does)",
        env.dir().display()
    );
    let version: String = manager().await.get_property("Version").await.unwrap();
    let systemctl = env.in_sandbox(&["systemctl", "--version"]);
    let first_line = String::from_utf8_lossy(&systemctl.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    // systemctl prints "systemd 252 (252.38-1~deb12u1)"; D-Bus gives the part in parentheses.
    assert!(
        first_line.starts_with("systemd ") && first_line.contains(&format!("({version})")),
        "D-Bus says {version:?}, systemctl says {first_line:?}"
    );
}

/// Writes what render would install for `config` into the sandbox's unit
/// dir; returns the staging dir (under the env dir, so the sandbox sees it).
fn render_for(env: &TestEnv, config: &Path, stage: &str) -> std::path::PathBuf {
    let out = env.dir().join("stage").join(stage);
    let _ = std::fs::remove_dir_all(&out);
    let o = bgctl(&[
        "--config",
        config.to_str().unwrap(),
        "render",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    out
}

const HOSTILE_ENV: &str = r#"
[container]
pull = false
env = { DEMO_PORT = "9000", V_SPEC = "%n %i %%", V_VARS = "$HOME ${PATH} $$", V_QUOTES = "\"dq\" 'sq'", V_BACKSLASH = "a\\b\\", V_UNICODE = "é 日本 🙂", V_DIRECTIVE = "x ExecStartPre=/bin/false" }
args = ["%n", "$HOME", "a \"b\" c", "tail\\"]
"#;

#[test]
fn rendered_units_and_site_pass_systemd_analyze_verify_and_nginx_t() {
    let env = TestEnv::get();
    let config = env.config("verifyme", ports(), HOSTILE_ENV);
    let out = render_for(&env, &config, "verify");
    for color in ["blue", "green"] {
        let unit = env.unit_dir().join(format!("verifyme_{color}@.service"));
        let unit = unit.strip_prefix("/").unwrap();
        let path = out.join(unit);
        let o = env.in_sandbox(&["systemd-analyze", "verify", path.to_str().unwrap()]);
        let err = stderr(&o);
        assert!(o.status.success(), "verify {color}: {err}");
        let ours: Vec<&str> = err.lines().filter(|l| l.contains("verifyme")).collect();
        assert!(ours.is_empty(), "systemd complained about our unit: {ours:?}");
    }
    // The site, included by a minimal nginx.conf, passes `nginx -t`.
    let site = out
        .join(env.var("BGCTL_TEST_NGINX_SITES").trim_start_matches('/'))
        .join("verifyme.conf");
    let conf = out.join("nginx-t.conf");
    std::fs::write(
        &conf,
        format!(
            "pid {d}/nginx-t.pid;\nerror_log {d}/nginx-t.log;\nevents {{}}\nhttp {{ include {}; }}\n",
            site.display(),
            d = out.display()
        ),
    )
    .unwrap();
    let o = std::process::Command::new("/usr/sbin/nginx")
        .args(["-t", "-q", "-c", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "nginx -t: {}", stderr(&o));
}

/// Stops the unit and removes the installed files even when the test fails.
struct Installed<'a> {
    env: &'a TestEnv,
    unit: String,
    files: Vec<std::path::PathBuf>,
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        let _ = self.env.in_sandbox(&["systemctl", "stop", &self.unit]);
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        let _ = self.env.in_sandbox(&["systemctl", "daemon-reload"]);
    }
}

#[tokio::test]
async fn a_rendered_unit_runs_the_fixture_container_journals_it_and_stops_it() {
    let env = TestEnv::get();
    let ports = ports();
    let blue = ports.0;
    let config = env.config("envtest", ports, HOSTILE_ENV);
    let out = render_for(&env, &config, "envtest");
    let unit_dir = env.unit_dir();
    let mut installed = Installed {
        env: &env,
        unit: format!("envtest_blue@{blue}.service"),
        files: Vec::new(),
    };
    for name in ["envtest_blue@.service", "envtest_blue@.service.d/image.env"] {
        let target = unit_dir.join(name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(out.join(unit_dir.strip_prefix("/").unwrap()).join(name), &target).unwrap();
        installed.files.push(target);
    }
    let manager = manager().await;
    manager.call_method("Reload", &()).await.unwrap();
    let _job: OwnedObjectPath = manager
        .call("StartUnit", &(installed.unit.as_str(), "replace"))
        .await
        .unwrap();

    // The container answers on the host's loopback.
    let answer = wait_for(Duration::from_secs(30), || {
        http_get(blue, "/").filter(|(s, _)| s.contains("200"))
    });
    let (_, body) = answer.unwrap_or_else(|| panic!("the container never answered on 127.0.0.1:{blue}"));
    assert!(
        body.contains("X-Demo-Version: v1") && body.contains("demo-app v1"),
        "{body}"
    );

    // Hostile values reached the container as the config wrote them.
    let inspect = env.docker(&["inspect", "envtest_blue"]);
    let inspect: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("docker inspect JSON");
    let container = &inspect[0];
    let container_env: Vec<&str> = container["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for expected in [
        "V_SPEC=%n %i %%",
        "V_VARS=$HOME ${PATH} $$",
        "V_QUOTES=\"dq\" 'sq'",
        "V_BACKSLASH=a\\b\\",
        "V_UNICODE=é 日本 🙂",
        "V_DIRECTIVE=x ExecStartPre=/bin/false",
    ] {
        assert!(
            container_env.contains(&expected),
            "{expected:?} not in {container_env:?}"
        );
    }
    assert_eq!(
        container["Args"],
        serde_json::json!(["%n", "$HOME", "a \"b\" c", "tail\\"])
    );
    assert_eq!(container["Config"]["Labels"]["bgctl.color"], "blue");
    assert_eq!(container["Config"]["Labels"]["bgctl.service"], "envtest");

    // Its output is in the unit's journal.
    let logged = wait_for(Duration::from_secs(10), || {
        let o = env.in_sandbox(&["journalctl", "--no-pager", "-u", &installed.unit]);
        String::from_utf8_lossy(&o.stdout)
            .contains("demo-app v1 listening on port 9000")
            .then_some(())
    });
    assert!(
        logged.is_some(),
        "the app's output is not in journalctl -u {}",
        installed.unit
    );

    // Stopping runs ExecStop: the container is gone.
    let _job: OwnedObjectPath = manager
        .call("StopUnit", &(installed.unit.as_str(), "replace"))
        .await
        .unwrap();
    let gone = wait_for(Duration::from_secs(30), || {
        let o = env.docker(&["ps", "-aq", "--filter", "name=^envtest_blue$"]);
        o.stdout.is_empty().then_some(())
    });
    assert!(gone.is_some(), "the container outlived its unit");
    drop(installed);
}
