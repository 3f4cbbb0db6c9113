//! `bgctl render` and the command line, through the real binary. These need
//! no environment: render touches nothing but its output.

mod support;

use std::path::Path;

use support::{TempDir, bgctl, stderr, stdout};

const GOOD: &str = "name = \"web\"\nimage = \"bgctl-demo:v1\"\n";

fn render_into(tmp: &TempDir, config: &str) -> (std::process::Output, std::path::PathBuf) {
    let file = tmp.path().join("config.toml");
    std::fs::write(&file, config).unwrap();
    let out = tmp.path().join("out");
    let o = bgctl(&[
        "--config",
        file.to_str().unwrap(),
        "render",
        "--out",
        out.to_str().unwrap(),
    ]);
    (o, out)
}

#[test]
fn render_out_writes_exactly_the_install_files_under_the_destdir() {
    let tmp = TempDir::new("render-out");
    let (o, out) = render_into(&tmp, GOOD);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut written: Vec<String> = walk(&out)
        .iter()
        .map(|p| p.strip_prefix(&out).unwrap().display().to_string())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "etc/nginx/sites-enabled/web.conf",
            "etc/systemd/system/web_blue@.service",
            "etc/systemd/system/web_blue@.service.d/image.env",
            "etc/systemd/system/web_green@.service",
            "etc/systemd/system/web_green@.service.d/image.env",
        ]
    );
    // The files are what `render` prints.
    let printed = stdout(&bgctl(&[
        "--config",
        tmp.path().join("config.toml").to_str().unwrap(),
        "render",
    ]));
    let unit = std::fs::read_to_string(out.join("etc/systemd/system/web_blue@.service")).unwrap();
    assert!(printed.contains(&format!("# ==> /etc/systemd/system/web_blue@.service <==\n{unit}")));
}

#[test]
fn render_prints_no_inline_env_value_but_writes_it() {
    let tmp = TempDir::new("render-env");
    let marker = "not-for-ci-logs-7f3a";
    let (o, out) = render_into(
        &tmp,
        &format!("{GOOD}[container]\nenv = {{ API_KEY = \"{marker}\" }}\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let unit = std::fs::read_to_string(out.join("etc/systemd/system/web_blue@.service")).unwrap();
    assert!(unit.contains(&format!("-e \"API_KEY={marker}\"")), "{unit}");
    let printed = stdout(&bgctl(&[
        "--config",
        tmp.path().join("config.toml").to_str().unwrap(),
        "render",
    ]));
    assert!(!printed.contains(marker), "{printed}");
    assert!(printed.contains("-e \"API_KEY=<hidden, sha256 "), "{printed}");
}

#[test]
fn bad_configs_exit_2_naming_the_problem_and_write_nothing() {
    let cases = [
        (
            "invalid name",
            "name = \"Web-1\"\nimage = \"x\"\n",
            "invalid service name \"Web-1\"",
        ),
        (
            "port clash",
            "[colors]\nblue = 9005\ngreen = 9005\n",
            "colors.blue and colors.green are both 9005",
        ),
        (
            "unknown key",
            "[proxy]\nlisten = 80\nlisen = 81\n",
            "unknown field `lisen`",
        ),
        (
            "newline in env",
            "[container]\nenv = { A = \"1\\nExecStartPre=/bin/sh\" }\n",
            "control character",
        ),
        (
            "newline in a hook",
            "[hooks]\npre_flip = [\"/usr/bin/migrate\", \"--to\\nExecStart=/bin/sh\"]\n",
            "control character",
        ),
        (
            "a check command found on PATH",
            "[checks]\ncommand = [\"smoke\", \"--fast\"]\n",
            "its program",
        ),
        (
            "a malformed body size",
            "[proxy]\nclient_max_body_size = \"10 MB\"\n",
            "invalid size",
        ),
        (
            "a malformed read timeout",
            "[proxy]\nread_timeout = \"a minute\"\n",
            "invalid duration",
        ),
        ("a relative include", "[proxy]\ninclude = \"extra.conf\"\n", "absolute"),
        (
            "an include with a space",
            "[proxy]\ninclude = \"/etc/nginx/my extra.conf\"\n",
            "proxy.include",
        ),
        (
            "TLS without a certificate",
            "[proxy.tls]\nlisten = 443\n",
            "proxy.tls.cert",
        ),
        (
            "ACME without a directory",
            "[proxy.tls]\nlisten = 443\nacme = true\n",
            "acme_directory",
        ),
        (
            "a relative env_file",
            "[container]\nenv_file = \"web.env\"\n",
            "absolute",
        ),
        (
            "the image outside allowed_images",
            "[container]\nallowed_images = [\"registry.example.com/web\"]\n",
            "outside container.allowed_images",
        ),
        (
            "the preview on the live port",
            "[proxy]\nlisten = 8080\npreview_listen = 8080\n",
            "proxy.preview_listen 8080",
        ),
    ];
    for (what, toml, needle) in cases {
        let tmp = TempDir::new("render-bad");
        let config = if toml.starts_with("name") {
            toml.to_owned()
        } else {
            format!("{GOOD}{toml}")
        };
        let (o, out) = render_into(&tmp, &config);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{what}: {}", stderr(&o));
        assert!(
            !stderr(&o).contains("panicked") && !stderr(&o).contains("backtrace"),
            "{what}"
        );
        assert!(!out.exists(), "{what}: render wrote {:?}", walk(&out));
        assert!(stdout(&o).is_empty(), "{what}: printed {}", stdout(&o));
    }
}

#[test]
fn unknown_key_errors_name_the_line() {
    let tmp = TempDir::new("render-line");
    let (o, _) = render_into(&tmp, &format!("{GOOD}\n[health]\ntimeout = \"5s\"\ntimout = \"6s\"\n"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 6"), "{}", stderr(&o));
}

#[test]
fn out_that_is_a_file_is_a_usage_error() {
    let tmp = TempDir::new("render-outfile");
    let file = tmp.path().join("config.toml");
    std::fs::write(&file, GOOD).unwrap();
    let not_dir = tmp.path().join("plain");
    std::fs::write(&not_dir, "keep").unwrap();
    let o = bgctl(&[
        "--config",
        file.to_str().unwrap(),
        "render",
        "--out",
        not_dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a directory"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&not_dir).unwrap(), "keep");
}

#[test]
fn a_missing_config_says_how_to_give_one() {
    let o = bgctl(&["--config", "/nonexistent/bgctl.toml", "render"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read config /nonexistent/bgctl.toml"),
        "{}",
        stderr(&o)
    );
    let o = bgctl(&["-s", "../etc/passwd", "render"]);
    assert_eq!(o.status.code(), Some(2), "a path in -s must be refused");
    assert!(stderr(&o).contains("invalid service name"), "{}", stderr(&o));
}

#[test]
fn help_lists_only_implemented_commands_and_the_exit_codes() {
    let o = bgctl(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = stdout(&o);
    assert!(
        help.contains("render") && help.contains("--config") && help.contains("-s, --service"),
        "{help}"
    );
    assert!(help.contains("2 usage or config error"), "{help}");
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        commands,
        [
            "install",
            "uninstall",
            "switch",
            "stage",
            "promote",
            "discard",
            "rollback",
            "reconcile",
            "proxy",
            "tls",
            "status",
            "render",
            "logs",
            "history",
            "doctor",
            "provision",
            "completions",
            "help"
        ]
    );
    let o = bgctl(&["render", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("--out <DIR>"), "{}", stdout(&o));
    assert_eq!(bgctl(&["nonsense"]).status.code(), Some(2));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}

#[test]
fn a_usage_error_with_json_is_also_a_json_error_on_stdout() {
    let o = bgctl(&["--json", "switch", "--to", "purple"]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("a JSON object");
    assert_eq!(v["error"]["code"], 2);
    assert_eq!(v["error"]["kind"], "usage");
    assert!(v["error"]["message"].as_str().unwrap().contains("purple"), "{v}");
    // A config error too, and stderr says it for people.
    let o = bgctl(&["--json", "--config", "/nonexistent/bgctl.toml", "status"]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["error"]["kind"], "usage");
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_definitions() {
    for (shell, marker) in [
        ("bash", "complete -F _bgctl"),
        ("zsh", "#compdef bgctl"),
        ("fish", "complete -c bgctl"),
    ] {
        let o = bgctl(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(
            text.contains(marker) && text.contains("doctor") && text.contains("history"),
            "{shell}"
        );
    }
    let tmp = TempDir::new("man");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bgctl-man"))
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(tmp.path().join("bgctl.1")).unwrap();
    assert!(page.contains(".TH bgctl 1 ") && page.contains("doctor"), "{page}");
    let logs = std::fs::read_to_string(tmp.path().join("bgctl-logs.1")).unwrap();
    assert!(logs.contains("BGCTL_DEPLOY_ID"), "{logs}");
}
