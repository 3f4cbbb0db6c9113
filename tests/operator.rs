//! The operator surface against the real components: bgctl's records in
//! the sandbox's journald, `status` checked against what systemd, docker and
//! etcd say, `history`, `logs`, `doctor` with each dependency down, and the
//! terminal's `-q`, `-v`, colour and JSON errors.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::etcd::Cluster;
use support::{Service, TestEnv, deploy_id, journal, ports, stderr, stdout, wait_for};

const PHASES: [&str; 12] = [
    "lock", "read", "converge", "start", "healthy", "checks", "flip", "proxy", "verify", "guard", "drain", "stop",
];

/// One deploy's records, once its last one (how it ended) is in.
fn deploy_records(env: &TestEnv, id: &str) -> Vec<Value> {
    let matcher = format!("BGCTL_DEPLOY_ID={id}");
    wait_for(Duration::from_secs(10), || {
        let records = journal(env, &[&matcher]);
        records
            .iter()
            .any(|r| r.get("BGCTL_RESULT").is_some())
            .then_some(records)
    })
    .unwrap_or_else(|| {
        panic!(
            "deploy {id} never ended in the journal: {:?}",
            journal(env, &[&matcher])
        )
    })
}

fn field<'a>(record: &'a Value, name: &str) -> &'a str {
    record[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} missing in {record}"))
}

fn ok(o: &std::process::Output) {
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(o), stderr(o));
}

#[test]
fn a_deploys_phase_records_are_found_by_its_id() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "op_journal", ports(), "");
    svc.install();
    let first = svc.bgctl_inside(&["switch"]);
    ok(&first);
    let second = svc.bgctl_inside(&["switch"]);
    ok(&second);
    let id = deploy_id(&stderr(&second));

    let records = deploy_records(&env, &id);
    for r in &records {
        assert_eq!(field(r, "SYSLOG_IDENTIFIER"), "bgctl", "{r}");
        assert_eq!(field(r, "BGCTL_SERVICE"), "op_journal", "{r}");
        assert_eq!(field(r, "BGCTL_DEPLOY_ID"), id, "{r}");
        assert_eq!(field(r, "BGCTL_COMMAND"), "switch", "{r}");
        assert_eq!(field(r, "_TRANSPORT"), "journal", "native protocol, not stderr: {r}");
    }
    let phases: Vec<&Value> = records.iter().filter(|r| r.get("BGCTL_PHASE").is_some()).collect();
    let names: Vec<&str> = phases.iter().map(|r| field(r, "BGCTL_PHASE")).collect();
    assert_eq!(names, PHASES, "one record per phase, in order");
    for r in &phases {
        field(r, "BGCTL_DURATION_MS").parse::<u64>().expect("a duration in ms");
        assert_eq!(field(r, "PRIORITY"), "5", "{r}");
    }
    // The colors are known once chosen: from `start` on, every record has them.
    for r in phases.iter().skip(3) {
        assert_eq!((field(r, "BGCTL_FROM"), field(r, "BGCTL_TO")), ("blue", "green"), "{r}");
    }
    let end = records.last().unwrap();
    assert_eq!(field(end, "BGCTL_RESULT"), "ok");
    assert_eq!(
        field(end, "PRIORITY"),
        "5",
        "a deploy that did what was asked is a notice"
    );

    // A service's records: both deploys (and earlier runs' in a kept journal).
    let all = journal(&env, &["SYSLOG_IDENTIFIER=bgctl", "BGCTL_SERVICE=op_journal"]);
    let ids: Vec<&str> = all.iter().map(|r| field(r, "BGCTL_DEPLOY_ID")).collect();
    assert!(
        ids.contains(&deploy_id(&stderr(&first)).as_str()) && ids.contains(&id.as_str()),
        "{ids:?}"
    );
    assert!(all.iter().all(|r| field(r, "BGCTL_SERVICE") == "op_journal"));

    // The same for people.
    let o = svc.bgctl_inside(&["logs", "--deploy", &id, "-n", "100"]);
    ok(&o);
    assert!(
        stdout(&o).contains("op_journal: phase verify done in"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_failed_deploy_is_a_warning_with_a_next_step_and_a_json_error() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "op_failed", ports(), "[health]\ntimeout = \"6s\"\n");
    svc.install();
    ok(&svc.bgctl(&["switch"]));
    let o = svc.bgctl_inside(&["--json", "switch", "--image", "bgctl-demo:crash"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    let first_error = err.lines().find(|l| l.starts_with("error: ")).expect("an error line");
    assert!(first_error.contains("never became healthy"), "{err}");
    assert!(
        err.contains(&format!(
            "  next: journalctl -u op_failed_green@{}.service",
            svc.ports.1
        )),
        "the next step names the unit's journal: {err}"
    );
    let json: Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object on stdout");
    assert_eq!(json["error"]["code"], 3);
    assert_eq!(json["error"]["kind"], "unhealthy");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("never became healthy")
    );

    let records = deploy_records(&env, &deploy_id(&err));
    let end = records.last().unwrap();
    assert_eq!(field(end, "BGCTL_RESULT"), "failed");
    assert_eq!(
        field(end, "PRIORITY"),
        "3",
        "a deploy that failed is an error, rolled back or not"
    );

    // The app's own output, from the unit's journal.
    let crashed = svc.bgctl_inside(&["logs", "green", "-n", "200"]);
    ok(&crashed);
    assert!(
        stdout(&crashed).contains("demo-app exiting with status 1"),
        "{}",
        stdout(&crashed)
    );
    let live = svc.bgctl_inside(&["logs", "-n", "200"]);
    ok(&live);
    assert!(
        stdout(&live).contains("demo-app v1 listening on port 9000"),
        "{}",
        stdout(&live)
    );

    let history: Value = serde_json::from_slice(&svc.bgctl(&["history", "--json"]).stdout).unwrap();
    assert_eq!(history[0]["to"], "green");
    assert!(
        history[0]["result"].as_str().unwrap().starts_with("failed:"),
        "{history}"
    );
    assert_eq!(history[1]["result"], "ok");
    // The failed phase and the stop after it count: more than the finished phases.
    let finished: u64 = history[0]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ms"].as_u64().unwrap())
        .sum();
    assert!(history[0]["duration_ms"].as_u64().unwrap() > finished, "{history}");
}

/// `systemctl show -p <prop> --value <unit>`, asked inside the sandbox.
fn unit_property(env: &TestEnv, unit: &str, prop: &str) -> String {
    let o = env.in_sandbox(&["systemctl", "show", "-p", prop, "--value", unit]);
    stdout(&o).trim().to_owned()
}

/// `docker inspect -f <format> <name>`, or None when there is no container.
fn docker_field(env: &TestEnv, name: &str, format: &str) -> Option<String> {
    let o = env.docker(&["inspect", "-f", format, name]);
    o.status.success().then(|| stdout(&o).trim().to_owned())
}

/// The `mod_revision` of `<prefix>/instance`, read with etcdctl.
fn instance_revision(svc: &Service) -> i64 {
    let o = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            &svc.etcd_endpoints,
            "get",
            "-w",
            "json",
            "/op-status/instance",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["kvs"][0]["mod_revision"].as_i64().unwrap()
}

#[test]
fn status_says_what_systemd_docker_and_etcd_say_and_names_drift() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "op_status", ports(), "");
    let (blue, green) = svc.ports;
    svc.install();
    let first = svc.bgctl(&["switch"]);
    ok(&first);
    let second = svc.bgctl(&["switch", "--image", "bgctl-demo:v2"]);
    ok(&second);

    let o = svc.bgctl(&["status", "--json"]);
    ok(&o);
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["active"]["color"].as_str(), svc.etcd("color").as_deref());
    assert_eq!(s["active"]["image"], "bgctl-demo:v2");
    assert_eq!(
        s["active"]["deploy_id"].as_str(),
        Some(deploy_id(&stderr(&second)).as_str())
    );
    assert_eq!(
        s["active"]["image_id"].as_str(),
        docker_field(&env, "op_status_green", "{{.Image}}").as_deref()
    );
    assert_eq!(s["state"]["revision"].as_i64(), Some(instance_revision(&svc)));
    assert_eq!(s["state"]["endpoint"], env.var("BGCTL_TEST_ETCD"));
    for color in ["blue", "green"] {
        let c = &s["colors"][color];
        let unit = svc.unit(color);
        assert_eq!(c["unit"], unit.as_str());
        assert_eq!(c["active_state"], unit_property(&env, unit.as_str(), "ActiveState"));
        assert_eq!(c["sub_state"], unit_property(&env, unit.as_str(), "SubState"));
        assert_eq!(
            c["restarts"].to_string(),
            unit_property(&env, unit.as_str(), "NRestarts")
        );
        let name = format!("op_status_{color}");
        assert_eq!(
            c["container"].as_str(),
            docker_field(&env, &name, "{{.State.Status}}").as_deref()
        );
        let health = docker_field(&env, &name, "{{if .State.Health}}{{.State.Health.Status}}{{end}}");
        assert_eq!(c["health"].as_str(), health.filter(|h| !h.is_empty()).as_deref());
    }
    assert_eq!(s["colors"]["green"]["active_state"], "active");
    assert_eq!(s["proxy"]["upstream_port"], green);
    assert_eq!(s["proxy"]["upstream_color"], "green");
    assert_eq!(s["proxy"]["in_sync"], true);
    assert_eq!(s["proxy"]["served_by"], "green");
    assert_eq!(s["proxy"]["drift"], serde_json::json!([]));

    // Someone points the site at blue's port by hand.
    let site = std::path::Path::new(env.var("BGCTL_TEST_NGINX_SITES")).join("op_status.conf");
    let text = std::fs::read_to_string(&site).unwrap();
    let edited = text.replace(
        &format!("127.0.0.1:{green} max_fails"),
        &format!("127.0.0.1:{blue} max_fails"),
    );
    assert_ne!(text, edited);
    std::fs::write(&site, edited).unwrap();
    let s: Value = serde_json::from_slice(&svc.bgctl(&["status", "--json"]).stdout).unwrap();
    assert_eq!(s["proxy"]["in_sync"], false);
    assert_eq!(
        s["proxy"]["served_by"], "green",
        "nginx was not reloaded: it still serves green"
    );
    assert_eq!(s["proxy"]["upstream_port"], blue);
    let drift: Vec<&str> = s["proxy"]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        drift.iter().any(|d| d.contains("not what the state renders")),
        "{drift:?}"
    );
    assert!(
        drift.iter().any(
            |d| d.contains(&format!("sends users to port {blue}")) && d.contains(&format!("green on port {green}"))
        ),
        "{drift:?}"
    );
    let people = stdout(&svc.bgctl(&["status"]));
    assert!(
        people.contains("DRIFT") && people.contains(&format!("drift: nginx's site sends users to port {blue}")),
        "{people}"
    );
    std::fs::write(&site, text).unwrap();

    // history: both switches, newest first, with their phases.
    let h: Value = serde_json::from_slice(&svc.bgctl(&["history", "--json"]).stdout).unwrap();
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (&h[0]["from"], &h[0]["to"], &h[0]["result"]),
        (&"blue".into(), &"green".into(), &"ok".into())
    );
    assert_eq!(
        (&h[1]["from"], &h[1]["to"], &h[1]["image"]),
        (&Value::Null, &"blue".into(), &"bgctl-demo:v1".into())
    );
    assert_eq!(h[0]["id"].as_str(), Some(deploy_id(&stderr(&second)).as_str()));
    let phases: Vec<&str> = h[0]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, PHASES);
    let people = stdout(&svc.bgctl(&["history", "-n", "1"]));
    assert!(
        people.contains("blue -> green  bgctl-demo:v2  ok") && !people.contains("none -> blue"),
        "{people}"
    );
}

/// The checks `doctor --json` printed, by name (a name may repeat: ports).
fn checks(o: &std::process::Output) -> Vec<Value> {
    report(o)["checks"].as_array().unwrap().clone()
}

/// `doctor --json`: one JSON document.
fn report(o: &std::process::Output) -> Value {
    serde_json::from_str(stdout(o).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn check<'a>(all: &'a [Value], name: &str) -> &'a Value {
    all.iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {all:?}"))
}

#[test]
fn doctor_passes_when_all_is_up_quietly_and_verbosely() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "op_doctor_ok", ports(), "");
    let (blue, green) = svc.ports;
    svc.install();
    // -q: nothing on stderr; -v: the boundaries' steps too.
    let quiet = svc.bgctl(&["-q", "switch"]);
    ok(&quiet);
    assert_eq!(stderr(&quiet), "", "-q prints nothing but errors");
    let verbose = svc.bgctl(&["-v", "switch"]);
    ok(&verbose);
    let err = stderr(&verbose);
    assert!(
        err.contains("· systemd: start job") && err.contains("· etcd flip: transaction committed"),
        "{err}"
    );
    assert!(
        !err.contains('\x1b') && !err.contains('\r'),
        "no colour or spinner off a TTY: {err:?}"
    );
    // On a TTY (script(1) gives it one): colour, and a spinner while a phase runs.
    let cmd = format!(
        "{} --config {} switch",
        env!("CARGO_BIN_EXE_bgctl"),
        svc.config.display()
    );
    let tty = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert_eq!(tty.status.code(), Some(0), "{}", stdout(&tty));
    let screen = stdout(&tty);
    assert!(screen.contains("\x1b[1m"), "phase names in bold: {screen:?}");
    assert!(
        screen.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "indicatif's braille spinner: {screen:?}"
    );
    assert!(screen.contains("is live with"), "{screen:?}");

    let o = svc.bgctl_inside(&["doctor"]);
    ok(&o);
    let out = stdout(&o);
    for name in [
        "systemd", "dockerd", "state", "nginx", "proxy", "units", "port", "journal",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("✓ {name} "))),
            "{name}: {out}"
        );
    }
    assert!(!out.contains('✗'), "{out}");
    assert!(
        out.contains(&format!("{blue} (blue) answers")) && out.contains(&format!("{green} (green) is free")),
        "{out}"
    );
    let json = svc.bgctl_inside(&["doctor", "--json"]);
    ok(&json);
    assert!(checks(&json).iter().all(|c| c["ok"] == true));

    // Colour only when asked for it (CLICOLOR_FORCE), never with NO_COLOR.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bgctl"));
    cmd.arg("--config").arg(&svc.config).arg("status");
    let forced = cmd.env("CLICOLOR_FORCE", "1").output().unwrap();
    assert!(stdout(&forced).contains("\x1b["), "{}", stdout(&forced));
    let never = cmd.env("NO_COLOR", "1").output().unwrap();
    assert!(!stdout(&never).contains('\x1b'), "{}", stdout(&never));
}

/// A copy of `svc`'s config with `from` replaced by `to`.
fn variant(svc: &Service, tag: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(&svc.config).unwrap();
    assert!(text.contains(from), "{from} not in {text}");
    let path = svc.config.with_file_name(format!("{}-{tag}.toml", svc.name));
    std::fs::write(&path, text.replace(from, to)).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn doctor_names_what_is_down_with_its_fix() {
    let env = TestEnv::get();
    let mut etcd = Cluster::start(&env, "doctor", 1, 23871);
    let mut svc = Service::new(&env, "op_doctor", ports(), "");
    svc.use_etcd(&etcd);
    svc.install();

    let no_docker = variant(
        &svc,
        "docker",
        env.var("BGCTL_TEST_DOCKER_HOST"),
        "unix:///tmp/bgctl-env/no-dockerd.sock",
    );
    let o = support::bgctl(&["--config", &no_docker, "doctor", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let all = checks(&o);
    assert_eq!(check(&all, "dockerd")["ok"], false);
    assert!(
        check(&all, "dockerd")["fix"]
            .as_str()
            .unwrap()
            .contains("start dockerd"),
        "{all:?}"
    );
    assert_eq!(check(&all, "state")["ok"], true, "{all:?}");
    assert_eq!(check(&all, "systemd")["ok"], true, "{all:?}");
    let whole = report(&o);
    assert_eq!(
        (&whole["ok"], &whole["error"]["kind"]),
        (&Value::Bool(false), &"failed".into())
    );

    // nginx: its binary gone, and its unit stopped.
    let no_nginx = variant(
        &svc,
        "nginx",
        "[proxy]\n",
        "[proxy]\nnginx_bin = \"/nonexistent/nginx\"\n",
    );
    let no_nginx_unit = std::fs::read_to_string(&no_nginx)
        .unwrap()
        .replace(env.var("BGCTL_TEST_NGINX_UNIT"), "op-doctor-stopped-nginx.service");
    std::fs::write(&no_nginx, no_nginx_unit).unwrap();
    let o = support::bgctl(&["--config", &no_nginx, "doctor"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("✗ nginx    cannot run /nonexistent/nginx"), "{out}");
    assert!(out.contains("fix: install nginx"), "{out}");
    assert!(
        out.contains("✗ proxy    op-doctor-stopped-nginx.service is inactive"),
        "{out}"
    );
    assert!(
        out.contains("fix: systemctl start op-doctor-stopped-nginx.service"),
        "{out}"
    );
    assert!(out.contains("✓ dockerd"), "{out}");

    etcd.kill(0);
    let o = svc.bgctl(&["doctor"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("✗ state    cannot reach etcd"), "{out}");
    assert!(out.contains("fix: start etcd"), "{out}");
    assert!(out.contains("✓ dockerd") && out.contains("✓ nginx"), "{out}");
    // Up again for the uninstall on drop.
    etcd.restart(0);
}
