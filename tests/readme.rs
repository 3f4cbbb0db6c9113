//! The README's quick start, run as written against the real environment
//! (STYLE habit 12), so the manual cannot drift from the tool: its config
//! example must be valid, and every command in it must succeed, in order,
//! with the switches leaving state, nginx and the units agreeing.

mod support;

use support::{Service, TempDir, TestEnv, bgctl, stderr, stdout};

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
    let svc = Service::new(&env, "readme", (18551, 18552, 18585), "");
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
