//! Testing a release before users see it, against the real systemd,
//! dockerd, etcd and nginx, under load through nginx: `[checks]` and
//! `[hooks] pre_flip` that fail keep users on the old color (exit 3), a
//! slow check is cut at its timeout, `stage` puts the new color on the
//! preview only, `promote` moves users to it, `discard` stops it, and the
//! hooks get their words exactly, with their output in the journal.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Load, Service, TempDir, TestEnv, answer_on, deploy_id, journal, port, ports, stderr, stdout, wait_for};

const LOAD_LIMIT: Duration = Duration::from_secs(600);

/// Appends TOML (new sections) to `svc`'s config.
fn append(svc: &Service, toml: &str) {
    let text = std::fs::read_to_string(&svc.config).unwrap();
    std::fs::write(&svc.config, format!("{text}{toml}")).unwrap();
}

/// The config at `path` with its line starting with `prefix` replaced by `line`.
fn with_line(path: &std::path::Path, prefix: &str, line: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with(prefix)),
        "no {prefix:?} line in {text}"
    );
    let lines: Vec<&str> = text
        .lines()
        .map(|l| if l.starts_with(prefix) { line } else { l })
        .collect();
    lines.join("\n") + "\n"
}

/// A TOML array of `words`, each exactly as given.
fn toml_words(words: &[&str]) -> String {
    toml::Value::Array(words.iter().map(|w| toml::Value::String(w.to_string())).collect()).to_string()
}

fn ok(o: &std::process::Output, what: &str) {
    assert_eq!(o.status.code(), Some(0), "{what}: {}\n{}", stdout(o), stderr(o));
}

/// Blue live with v1; then `gate` appended to the config and a switch to v2
/// under load. Returns its exit code and stderr once blue is seen still
/// serving v1 with the state unchanged and no request failed.
fn deploy_gated(name: &str, ports: (u16, u16, u16), gate: &str) -> (Option<i32>, String) {
    let env = TestEnv::get();
    let svc = Service::new(&env, name, ports, "");
    svc.install();
    ok(&svc.bgctl(&["switch"]), "the first switch");
    append(&svc, gate);

    let refused = svc.refused_under_load(&["switch", "--image", "bgctl-demo:v2"]);
    assert!(!svc.is_active("green"), "the new color was left running");
    refused
}

#[test]
fn a_check_whose_body_does_not_match_keeps_users_on_the_old_color() {
    let gate = "[checks]\nhttp = [{ path = \"/\", contains = \"demo-app v3\" }]\n";
    let (code, err) = deploy_gated("chk_body", ports(), gate);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("failed its checks") && err.contains("GET /: the body does not contain \"demo-app v3\""),
        "{err}"
    );
    assert!(err.contains("demo-app v2"), "the body it got is shown: {err}");
}

#[test]
fn a_check_command_that_exits_1_keeps_users_on_the_old_color() {
    let suite = toml_words(&["/bin/sh", "-c", "echo \"suite against $BGCTL_URL: 3 failures\"; exit 1"]);
    let ports = ports();
    let (code, err) = deploy_gated("chk_cmd", ports, &format!("[checks]\ncommand = {suite}\n"));
    assert_eq!(code, Some(3), "{err}");
    // The program is named, never its arguments (DESIGN §10: they may carry a secret).
    assert!(err.contains("check `/bin/sh`: exit 1"), "{err}");
    assert!(!err.contains("`/bin/sh -c"), "arguments shown: {err}");
    assert!(
        err.contains(&format!("suite against http://127.0.0.1:{}: 3 failures", ports.1)),
        "its output: {err}"
    );
}

#[test]
fn a_pre_flip_hook_that_exits_1_keeps_users_on_the_old_color() {
    let hook = toml_words(&["/bin/sh", "-c", "echo 'migration 42 refused' >&2; exit 1"]);
    let (code, err) = deploy_gated("chk_hook", ports(), &format!("[hooks]\npre_flip = {hook}\n"));
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("pre_flip `/bin/sh`") && err.contains("migration 42 refused"),
        "{err}"
    );
}

#[test]
fn a_slow_check_is_cut_at_the_checks_timeout() {
    let gate = "[checks]\nhttp = [{ path = \"/\" }, { path = \"/slow?ms=30000\" }]\ntimeout = \"2s\"\n";
    let began = Instant::now();
    let (code, err) = deploy_gated("chk_slow", ports(), gate);
    let took = began.elapsed();
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("GET /slow?ms=30000: the checks took longer than [checks] timeout (2s)"),
        "{err}"
    );
    // The whole test (first switch, install, the refused switch) ends long
    // before the 30 s the check would have waited.
    assert!(took < Duration::from_secs(25), "the slow check was not cut: {took:?}");
}

/// 20 requests to nginx's `port` all answer 200 from `color` with `body`.
fn assert_all(port: u16, (color, body): (&str, &str)) {
    for _ in 0..20 {
        let (answer, got) = answer_on(port).unwrap_or_else(|| panic!("no answer on :{port}"));
        assert_eq!(
            (answer, got.trim()),
            (format!("HTTP/1.1 200 OK {color}"), body),
            "on :{port}"
        );
    }
}

/// The preview's answer when nothing runs there.
fn assert_nothing_staged(port: u16, name: &str) {
    let (answer, body) = answer_on(port).unwrap_or_else(|| panic!("no answer on :{port}"));
    assert!(
        answer.starts_with("HTTP/1.1 503") && answer.ends_with(" none"),
        "{answer}"
    );
    assert!(body.contains(&format!("nothing of {name} is staged")), "{body}");
}

fn status(svc: &Service) -> Value {
    let o = svc.bgctl(&["--json", "status"]);
    ok(&o, "status");
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn stage_shows_the_release_on_the_preview_only_then_promote_and_discard() {
    let env = TestEnv::get();
    let (preview, (blue, green, main)) = (port(), ports());
    let proxy = format!("{}preview_listen = {preview}\n", env.sandbox_proxy("stg_flow"));
    let svc = Service::with_proxy(&env, "stg_flow", (blue, green, main), &proxy, "");
    svc.install();
    ok(&svc.bgctl(&["switch"]), "the first switch");
    assert_nothing_staged(preview, "stg_flow");

    let users = Load::start(main, 8, 40, LOAD_LIMIT);
    let o = svc.bgctl(&["stage", "--image", "bgctl-demo:v2"]);
    ok(&o, "stage");
    assert!(
        stderr(&o).contains(&format!("try it through nginx on :{preview}")),
        "{}",
        stderr(&o)
    );

    // Staged: testers on the preview get v2 from green, users v1 from blue.
    let testers = Load::start(preview, 4, 40, LOAD_LIMIT);
    assert_all(preview, ("green", "demo-app v2"));
    assert_all(main, ("blue", "demo-app v1"));
    std::thread::sleep(Duration::from_secs(2));
    let tested = testers.stop();
    assert!(
        tested.requests() > 200,
        "the preview's load barely ran: {}",
        tested.report
    );
    eprintln!(
        "preview while staged: {} requests, {} failed",
        tested.requests(),
        tested.failed()
    );
    tested.assert_no_failures();
    let s = status(&svc);
    assert_eq!(s["staged"]["color"], "green", "{s}");
    assert_eq!(s["staged"]["image"], "bgctl-demo:v2", "{s}");
    assert_eq!(s["proxy"]["preview_served_by"], "green", "{s}");
    assert_eq!(s["proxy"]["in_sync"], true, "a staged color is no drift: {s}");
    assert_eq!(svc.etcd("color").as_deref(), Some("blue"));
    let staged: Value = serde_json::from_str(&svc.etcd("staged").expect("the staged key")).unwrap();
    assert_eq!(
        (staged["color"].as_str(), staged["image"].as_str()),
        (Some("green"), Some("bgctl-demo:v2"))
    );
    assert!(!svc.wants_link("green").exists(), "a staged color is enabled");

    // Nothing else deploys while something is staged.
    let o = svc.run(&["switch", "--image", "bgctl-demo:v1"]).status(1).run();
    assert!(
        stderr(&o).contains("green is staged with bgctl-demo:v2"),
        "{}",
        stderr(&o)
    );
    assert_all(preview, ("green", "demo-app v2"));

    ok(&svc.bgctl(&["promote"]), "promote");
    svc.assert_live("green", "v2");
    assert_eq!(svc.etcd("staged"), None, "promote left the staged key");
    // The old color is gone from the preview too.
    assert_nothing_staged(preview, "stg_flow");

    // Stage the old release and throw it away: users never notice.
    ok(&svc.bgctl(&["stage", "--image", "bgctl-demo:v1"]), "the second stage");
    assert_all(preview, ("blue", "demo-app v1"));
    assert_all(main, ("green", "demo-app v2"));
    let o = svc.bgctl(&["discard"]);
    ok(&o, "discard");
    assert!(stderr(&o).contains("stopped staged blue"), "{}", stderr(&o));
    svc.assert_live("green", "v2");
    assert_eq!(svc.etcd("staged"), None);
    let o = svc.bgctl(&["discard"]);
    ok(&o, "a second discard");
    assert!(stderr(&o).contains("nothing is staged"), "{}", stderr(&o));

    let result = users.stop();
    eprintln!(
        "users over stage, promote, stage, discard: {} requests, {} failed",
        result.requests(),
        result.failed()
    );
    result.assert_no_failures();
    let o = svc.bgctl(&["--json", "history"]);
    let history: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    let commands: Vec<&str> = history.iter().map(|h| h["command"].as_str().unwrap()).collect();
    assert_eq!(commands[..4], ["discard", "stage", "promote", "stage"], "{commands:?}");
}

#[test]
fn promote_after_the_staged_container_was_killed_moves_nothing() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "stg_killed", ports(), "");
    svc.install();
    ok(&svc.bgctl(&["switch"]), "the first switch");
    ok(&svc.bgctl(&["stage", "--image", "bgctl-demo:v2"]), "stage");

    let load = Load::start(svc.listen, 8, 40, LOAD_LIMIT);
    let killed = env.docker(&["kill", "stg_killed_green"]);
    assert!(killed.status.success(), "{}", stderr(&killed));
    // Promote before systemd's restart (RestartSec=5s) could bring it back.
    wait_for(Duration::from_secs(4), || {
        (!svc.container_exists("green")).then_some(())
    })
    .expect("the killed container is gone");
    let o = svc.bgctl(&["promote"]);
    let result = load.stop();
    eprintln!(
        "promote of a killed stage: exit {:?}; {} requests, {} failed\n{}",
        o.status.code(),
        result.requests(),
        result.failed(),
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nothing is staged to promote (green was staged, but it is not healthy any more"),
        "{}",
        stderr(&o)
    );
    svc.assert_live("blue", "v1");
    assert_eq!(svc.etcd("staged"), None, "the dead stage is still recorded");
    result.assert_no_failures();
}

#[test]
fn hook_words_arrive_exactly_and_their_output_is_in_the_journal() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "stg_hooks", ports(), "");
    // Under the environment's dir, which the sandbox sees at the same path.
    let out = TempDir(env.dir().join(format!("stg-hooks-{}", std::process::id())));
    std::fs::create_dir_all(out.path()).unwrap();
    let argv_file = out.path().join("argv");
    let hostile = [
        "it's",
        "\"q\"",
        "$HOME",
        "a b",
        "%n %%",
        "; rm -rf /",
        "`id`",
        "\\",
        "é 日本",
    ];
    // The check records its argv; pre_flip speaks; post_switch looks at the old color.
    let record = format!(
        "printf '%s\\n' \"$@\" > {}; echo $BGCTL_COLOR $BGCTL_FROM >> {0}",
        argv_file.display()
    );
    let check = toml_words(&[&["/bin/sh", "-c", &record, "sh"], &hostile[..]].concat());
    let pre_flip = toml_words(&["/bin/sh", "-c", "echo expanding schema 42; echo done >&2"]);
    let after = out.path().join("post_switch");
    let post = format!(
        "/usr/bin/curl -s -o /dev/null http://127.0.0.1:{1}/ && echo blue up > {0} || echo blue down > {0}; exit 7",
        after.display(),
        svc.ports.0
    );
    let post_switch = toml_words(&["/bin/sh", "-c", &post]);
    append(
        &svc,
        &format!("[checks]\ncommand = {check}\n[hooks]\npre_flip = {pre_flip}\npost_switch = {post_switch}\n"),
    );
    svc.install();
    ok(&svc.bgctl(&["switch"]), "the first switch");
    let argv = std::fs::read_to_string(&argv_file).unwrap();
    let mut expected: Vec<String> = hostile.iter().map(|w| w.to_string()).collect();
    expected.push("blue".into());
    assert_eq!(argv.lines().collect::<Vec<_>>(), expected, "the words the check got");

    // A stage inside the sandbox, where the journal is.
    let o = svc.bgctl_inside(&["stage"]);
    ok(&o, "stage");
    let id = deploy_id(&stderr(&o));
    let said = wait_for(Duration::from_secs(10), || {
        let records = journal(&env, &[&format!("BGCTL_DEPLOY_ID={id}"), "BGCTL_HOOK=pre_flip"]);
        let lines: Vec<String> = records
            .iter()
            .filter_map(|r| r["MESSAGE"].as_str().map(str::to_owned))
            .collect();
        lines.iter().any(|l| l.contains("done")).then_some(lines)
    })
    .expect("pre_flip's output in the journal under the deploy id");
    // Word for word, from the hook's own unit.
    assert!(said.contains(&"expanding schema 42".to_owned()), "{said:?}");
    assert!(said.contains(&"done".to_owned()), "{said:?}");
    let records = journal(&env, &[&format!("BGCTL_DEPLOY_ID={id}"), "MESSAGE=done"]);
    assert_eq!(
        records[0]["_SYSTEMD_UNIT"].as_str(),
        Some(format!("bgctl-stg_hooks-pre_flip-{id}.service").as_str()),
        "{records:?}"
    );

    // post_switch runs once the old color stopped; its failure undoes nothing.
    let o = svc.bgctl(&["promote"]);
    ok(&o, "promote");
    assert!(
        stderr(&o).contains("[hooks] post_switch") && stderr(&o).contains("exit 7"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&after).unwrap().trim(), "blue down");
    svc.assert_live("green", "v1");
    let o = svc.bgctl(&["--json", "history", "-n", "1"]);
    let history: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    let ran = &history[0]["commands"][0];
    assert_eq!(
        (ran["hook"].as_str(), ran["result"].as_str()),
        (Some("post_switch"), Some("exit 7")),
        "{history:?}"
    );
    assert_eq!(history[0]["result"], "ok");

    // doctor checks the programs are there.
    let o = svc.bgctl(&["doctor"]);
    assert!(
        stdout(&o).contains("✓ commands [checks] command, [hooks] pre_flip, [hooks] post_switch"),
        "{}",
        stdout(&o)
    );
    let missing = svc.config.with_file_name("stg_hooks-missing.toml");
    let text = with_line(&svc.config, "post_switch = ", "post_switch = [\"/nonexistent/notify\"]");
    std::fs::write(&missing, text).unwrap();
    let o = support::bgctl(&["--config", missing.to_str().unwrap(), "doctor"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("✗ commands [hooks] post_switch /nonexistent/notify: No such file"),
        "{}",
        stdout(&o)
    );

    // A newline in a hook's word is refused before anything happens.
    let hostile = with_line(
        &svc.config,
        "pre_flip = ",
        "pre_flip = [\"/bin/sh\", \"-c\", \"echo a\\nExecStart=/bin/sh\"]",
    );
    std::fs::write(&svc.config, hostile).unwrap();
    let o = svc.run(&["stage"]).status(2).run();
    assert!(stderr(&o).contains("control character"), "{}", stderr(&o));
    assert!(!svc.is_active("blue"), "a refused config started something");
    assert_eq!(svc.etcd("staged"), None);
}
