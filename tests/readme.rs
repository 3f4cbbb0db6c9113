//! The README's quick start, run as written against the real environment
//! (STYLE habit 12), so the manual cannot drift from the tool: its config
//! example must be valid, and every command in it must succeed, in order,
//! with the switches leaving state, nginx and the units agreeing.

mod support;

use support::{Service, TempDir, TestEnv, bgctl, ports, stderr, stdout};

/// The quick start's `sh` block: the config between `<<'TOML'` and `TOML`,
/// and the bgctl commands after it, `sudo` and comments dropped.
fn quick_start() -> (String, Vec<Vec<String>>) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("## Quick start").nth(1).expect("a Quick start section");
    let block = section.split("```sh\n").nth(1).unwrap().split("```").next().unwrap();
    let (head, rest) = block.split_once("<<'TOML'\n").expect("a config heredoc");
    assert!(head.starts_with("cat > /etc/bgctl/"), "{head}");
    let (config, commands) = rest.split_once("\nTOML\n").unwrap();
    let commands = commands
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let l = l.strip_prefix("sudo ").unwrap_or(l);
            let args = l
                .strip_prefix("bgctl ")
                .unwrap_or_else(|| panic!("not a bgctl command: {l}"));
            args.split_whitespace().map(str::to_owned).collect()
        })
        .collect();
    (format!("{config}\n"), commands)
}

#[test]
fn the_quick_start_config_is_valid() {
    let (config, _) = quick_start();
    let tmp = TempDir::new("readme-config");
    let file = tmp.path().join("bdd_assistant.toml");
    std::fs::write(&file, config).unwrap();
    let o = bgctl(&["--config", file.to_str().unwrap(), "render"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("bdd_assistant_blue@.service"));
}

#[test]
fn the_quick_start_commands_run_in_order() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "readme", ports(), "");
    let (_, commands) = quick_start();
    let verbs: Vec<&str> = commands.iter().map(|c| c[0].as_str()).collect();
    for needed in [
        "doctor",
        "install",
        "switch",
        "status",
        "history",
        "logs",
        "rollback",
        "uninstall",
    ] {
        assert!(
            verbs.contains(&needed),
            "the quick start lost `bgctl {needed}`: {verbs:?}"
        );
    }
    // The README's example image and scratch directory, as this environment has them.
    let out = env.dir().join(format!("readme-render-{}", std::process::id()));
    for args in &commands {
        let args: Vec<String> = args
            .iter()
            .map(|a| match a.as_str() {
                "vfarcic/technologyconversationsbdd:1.2" => "bgctl-demo:v2".to_owned(),
                "/tmp/bgctl-render" => out.to_str().unwrap().to_owned(),
                _ => a.clone(),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Inside the sandbox: where the journal is, for logs and doctor.
        let o = svc.bgctl_inside(&args);
        eprintln!("bgctl {}: exit {:?}", args.join(" "), o.status.code());
        assert_eq!(
            o.status.code(),
            Some(0),
            "bgctl {}:\n{}\n{}",
            args.join(" "),
            stdout(&o),
            stderr(&o)
        );
        if matches!(args[0], "switch" | "rollback" | "reconcile") {
            svc.assert_agree();
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    assert!(
        svc.installed_files().iter().all(|f| !f.exists()),
        "uninstall left files"
    );
}

/// Every fenced block of `lang` in the README, in order.
fn blocks(lang: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let fence = format!("```{lang}\n");
    readme
        .split(&fence)
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_owned())
        .collect()
}

/// Keys of every object in `v`, by their path, recursively.
fn key_paths(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    if let serde_json::Value::Object(map) = v {
        for (k, child) in map {
            let path = format!("{at}.{k}");
            key_paths(child, &path, out);
            out.push(path);
        }
    }
}

/// The README's blocks that can run, beyond the quick start (checked
/// above): each `toml` block is a config bgctl accepts (as it stands, or
/// appended to a minimal one); the CI pipeline runs as written, its suite
/// passing and then failing; the `status --json` example has the keys the
/// real one prints; the journal queries find the deploy. What is left is
/// output shown as text, `scripts/demo`/`scripts/test` themselves, the
/// etcd role setup (it would turn on auth for every test) and an nginx
/// include (proven by the front tests).
#[test]
fn every_toml_block_is_a_config_bgctl_accepts() {
    let tomls = blocks("toml");
    assert!(tomls.len() >= 3, "{tomls:?}");
    for block in tomls {
        let text = if block.contains("\nname = ") || block.starts_with("name = ") {
            block.clone()
        } else {
            format!("name = \"readme\"\nimage = \"app:v1\"\n{block}")
        };
        if let Err(e) = bgctl::config::Config::parse(&text) {
            panic!("the README's config is refused: {e:?}\n{block}");
        }
    }
}

#[test]
fn the_ci_pipeline_the_json_example_and_the_journal_queries_run_as_written() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "readme_ci", support::ports(), "");
    svc.install();
    svc.run(&["switch", "--image", "bgctl-demo:v1"]).run();
    let pipeline = blocks("sh")
        .into_iter()
        .find(|b| b.contains(" stage ") && b.contains(" promote"))
        .expect("the CI pipeline block");
    // `-s shop` names this service's config; its image is the demo's; the
    // suite is `true`, then `false`.
    let bin = env.binary("bgctl");
    let script = pipeline
        .replace("./run-e2e", "\"$E2E\"")
        .replace("registry.example.com/shop:", "bgctl-demo:");
    let prelude = format!(
        "bgctl() {{ shift 2; {} --config {} \"$@\"; }}\n",
        bin.display(),
        svc.config.display()
    );
    for (suite, code, live, version) in [("true", 0, "green", "v2"), ("false", 1, "green", "v2")] {
        let run = format!("export E2E={suite} CI_COMMIT_SHA={version}\n{prelude}{script}");
        let o = env.in_sandbox(&["sh", "-c", &run]);
        eprintln!(
            "the CI pipeline, suite {suite}: exit {:?}\n{}",
            o.status.code(),
            stderr(&o)
        );
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        svc.assert_live(live, version);
    }
    // The failed suite discarded its stage: blue stays stopped.
    assert!(!svc.is_active("blue"));

    // `status --json` prints every key the README shows.
    let example = blocks("json").into_iter().find(|b| b.contains("\"service\"")).unwrap();
    let example: serde_json::Value = serde_json::from_str(&example).unwrap();
    let o = svc.run(&["--json", "status"]).run();
    let real: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (mut shown, mut printed) = (Vec::new(), Vec::new());
    key_paths(&example, "", &mut shown);
    key_paths(&real, "", &mut printed);
    let missing: Vec<&String> = shown.iter().filter(|k| !printed.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "the README shows keys status --json lacks: {missing:?}"
    );

    // The journal queries, with this deploy's id, service and unit.
    let id = real["active"]["deploy_id"].as_str().unwrap().to_owned();
    let unit = real["active"]["unit"].as_str().unwrap().to_owned();
    let queries = blocks("sh")
        .into_iter()
        .find(|b| b.starts_with("journalctl BGCTL_DEPLOY_ID="))
        .expect("the journal block");
    for line in queries.lines() {
        let query = line.split(" #").next().unwrap().trim();
        let words: Vec<String> = query
            .split_whitespace()
            .map(|w| {
                w.replace("1a236412557-51", &id)
                    .replace("BGCTL_SERVICE=demo", "BGCTL_SERVICE=readme_ci")
                    .replace("demo_green@18502.service", &unit)
            })
            .collect();
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        args.insert(1, "--no-pager");
        let o = env.in_sandbox(&args);
        assert!(
            o.status.success() && !stdout(&o).trim().is_empty(),
            "{args:?} found nothing: {}",
            stderr(&o)
        );
    }
}
