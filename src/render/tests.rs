use std::path::{Path, PathBuf};

use super::systemd_syntax::{directives, words};
use super::*;
use crate::domain::PrintableText;

fn fixture(name: &str) -> Config {
    Config::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/configs")
            .join(name),
    )
    .unwrap()
}

fn golden_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden").join(case)
}

/// Compares each file with `fixtures/golden/<case>/<install path>`;
/// `BGCTL_BLESS=1 cargo test` rewrites them after a deliberate change.
fn assert_golden(case: &str, files: &[RenderedFile]) {
    let root = golden_dir(case);
    for file in files {
        let path = file.path.under(&root);
        if std::env::var_os("BGCTL_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &file.contents).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(file.contents, golden, "{} differs from its golden file", file.path);
    }
}

#[test]
fn install_files_match_their_golden_files_for_the_design_example() {
    assert_golden(
        "bdd_assistant",
        &install_files(&fixture("bdd_assistant.toml"), None).unwrap(),
    );
}

#[test]
fn install_files_match_their_golden_files_with_every_option_set() {
    assert_golden(
        "full",
        &install_files(&fixture("full.toml"), Some(Color::Green)).unwrap(),
    );
}

#[test]
fn install_writes_both_units_both_image_files_and_the_site_at_their_paths() {
    let files = install_files(&fixture("bdd_assistant.toml"), None).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/etc/systemd/system/bdd_assistant_blue@.service",
            "/etc/systemd/system/bdd_assistant_green@.service",
            "/etc/systemd/system/bdd_assistant_blue@.service.d/image.env",
            "/etc/systemd/system/bdd_assistant_green@.service.d/image.env",
            "/etc/nginx/sites-enabled/bdd_assistant.conf",
        ]
    );
}

#[test]
fn only_a_guarded_switching_site_logs_users_requests_for_the_guard() {
    let mut config = fixture("bdd_assistant.toml");
    let unguarded = switching_site(&config, Color::Blue, Color::Green).unwrap().contents;
    assert!(!unguarded.contains("access_log"), "{unguarded}");
    config.guard.window = crate::domain::HumanDuration::from_millis(30_000);
    let guarded = switching_site(&config, Color::Blue, Color::Green).unwrap().contents;
    assert!(
        guarded.contains(
            "access_log /var/log/nginx/bgctl_bdd_assistant.guard.json bgctl_bdd_assistant_guard if=$bgctl_bdd_assistant_guarded;"
        ),
        "{guarded}"
    );
    // Only the users' upstream is logged, never the preview's.
    assert!(
        guarded.contains("    bgctl_bdd_assistant 1;\n    default 0;"),
        "{guarded}"
    );
    let settled = site(&config, Some(Color::Blue)).unwrap().contents;
    assert!(
        !settled.contains("access_log"),
        "the log stops with the switch: {settled}"
    );
    assert!(site_is_guarded(&guarded) && !site_is_guarded(&unguarded) && !site_is_guarded(&settled));
}

#[test]
fn the_site_proxies_to_the_live_colors_port_and_names_it() {
    let config = fixture("bdd_assistant.toml");
    let blue = site(&config, Some(Color::Blue)).unwrap().contents;
    assert!(blue.contains("server 127.0.0.1:9001 max_fails=0;"), "{blue}");
    assert!(!blue.contains("backup"), "a settled site has no fallback: {blue}");
    let switching = switching_site(&config, Color::Blue, Color::Green).unwrap().contents;
    assert!(
        switching.contains("server 127.0.0.1:9002 backup max_fails=0;"),
        "{switching}"
    );
    assert_eq!(site_color(&switching), Some(Color::Blue));
    assert!(blue.contains("proxy_pass http://bgctl_bdd_assistant;"), "{blue}");
    assert!(
        blue.contains("add_header X-Bgctl-Color $bgctl_bdd_assistant_color always;"),
        "{blue}"
    );
    assert!(
        blue.contains("\"~:9001$\" blue;") && blue.contains("\"~:9002$\" green;"),
        "{blue}"
    );
    assert!(blue.contains("proxy_next_upstream error;"), "{blue}");
    let green = site(&config, Some(Color::Green)).unwrap().contents;
    assert!(green.contains("server 127.0.0.1:9002 max_fails=0;"), "{green}");
    let none = site(&config, None).unwrap().contents;
    assert!(none.contains("return 503") && !none.contains("proxy_pass"), "{none}");
}

#[test]
fn the_unit_runs_the_container_in_the_foreground_as_designed() {
    let unit = color_unit(&fixture("bdd_assistant.toml"), Color::Blue)
        .unwrap()
        .contents;
    let d = directives(&unit);
    let get = |key: &str| {
        d.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    let start = words(get("ExecStart")[0], true);
    assert_eq!(
        start[..10],
        [
            "/usr/bin/docker",
            "run",
            "--rm",
            "--name",
            "bdd_assistant_blue",
            "-p",
            "127.0.0.1:%i:9000",
            "--label",
            "bgctl.service=bdd_assistant",
            "--label"
        ]
    );
    assert_eq!(start.last().unwrap(), "${BGCTL_IMAGE}");
    assert_eq!(get("ExecStartPre").len(), 2, "pull and rm");
    assert_eq!(
        words(get("ExecStartPre")[1], true),
        ["-/usr/bin/docker", "rm", "-f", "bdd_assistant_blue"]
    );
    assert_eq!(
        words(get("ExecStop")[0], true),
        ["/usr/bin/docker", "stop", "-t", "10", "bdd_assistant_blue"]
    );
    assert_eq!(get("SyslogIdentifier"), ["bdd_assistant_blue"]);
    assert_eq!(get("WantedBy"), ["multi-user.target"]);
    assert_eq!(get("After"), ["docker.service"]);
}

/// Printable hostile text (control characters never get past the config).
const HOSTILE: &[&str] = &[
    "x ExecStartPre=/bin/rm -rf /",
    "%n %i %% %",
    "$VAR ${VAR} $$ $",
    "\"quoted\" 'single' \"",
    "back\\slash \\n \\",
    "é 日本 🙂",
    "a ; b \\; c",
    "[Service]",
];

#[test]
fn hostile_env_values_and_args_come_out_as_single_unchanged_words() {
    let mut config = fixture("bdd_assistant.toml");
    config.container.env = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("V{i}").parse().unwrap(), PrintableText::parse(v).unwrap()))
        .collect();
    config.container.args = HOSTILE.iter().map(|v| PrintableText::parse(v).unwrap()).collect();
    let plain = color_unit(&fixture("bdd_assistant.toml"), Color::Blue)
        .unwrap()
        .contents;
    let hostile = color_unit(&config, Color::Blue).unwrap().contents;

    // Same directives, in the same order: nothing added, nothing lost.
    let keys = |text: &str| directives(text).into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(keys(&hostile), keys(&plain));

    let start = directives(&hostile)
        .into_iter()
        .find(|(k, _)| k == "ExecStart")
        .unwrap()
        .1;
    let words = words(&start, true);
    let image_at = words.iter().position(|w| w == "${BGCTL_IMAGE}").unwrap();
    let expected_env: Vec<String> = HOSTILE
        .iter()
        .enumerate()
        .flat_map(|(i, v)| ["-e".to_owned(), format!("V{i}={v}")])
        .collect();
    assert_eq!(words[image_at - expected_env.len()..image_at], expected_env[..]);
    assert_eq!(words[image_at + 1..], HOSTILE[..]);
}

#[test]
fn every_generated_file_carries_the_mark_uninstall_looks_for() {
    for config in ["bdd_assistant.toml", "full.toml"] {
        for file in install_files(&fixture(config), Some(Color::Blue)).unwrap() {
            assert!(is_generated(&file.contents), "{}", file.path);
        }
    }
    assert!(!is_generated("server { listen 80; }\n"));
}

#[test]
fn site_color_reads_back_the_color_a_site_serves() {
    let config = fixture("bdd_assistant.toml");
    for color in Color::ALL {
        assert_eq!(site_color(&site(&config, Some(color)).unwrap().contents), Some(color));
    }
    assert_eq!(site_color(&site(&config, None).unwrap().contents), None);
}

#[test]
fn the_preview_sends_to_the_color_that_is_not_live_and_never_changes_the_live_route() {
    let mut config = fixture("bdd_assistant.toml");
    let without = site(&config, Some(Color::Blue)).unwrap().contents;
    config.proxy.preview_listen = crate::domain::Port::new(8081);
    let with = site(&config, Some(Color::Blue)).unwrap().contents;
    assert!(with.starts_with(&without), "the live route changed:\n{with}");
    let preview = &with[without.len()..];
    assert!(
        preview.contains("listen 8081;") && preview.contains("server 127.0.0.1:9002 max_fails=0;"),
        "{preview}"
    );
    assert!(
        !preview.contains(":9001"),
        "the preview sends to the live color: {preview}"
    );
    // During a drain, to the color being replaced, still up.
    let draining = switching_site(&config, Color::Green, Color::Blue).unwrap().contents;
    assert!(draining.contains("upstream bgctl_bdd_assistant_preview {\n    server 127.0.0.1:9001 max_fails=0;\n}"));
    // Before a first deploy, to whichever color runs; the map is there once.
    let first = site(&config, None).unwrap().contents;
    assert!(
        first.contains("return 503 \"no color of bdd_assistant is live yet"),
        "{first}"
    );
    assert!(first.contains("    server 127.0.0.1:9001 max_fails=0;\n    server 127.0.0.1:9002 max_fails=0;"));
    assert_eq!(first.matches("map $upstream_addr").count(), 1, "{first}");
    assert!(first.contains("sends to blue or green, which is not running"));
}

/// Strings that stress the escapers: systemd and shell syntax, unicode,
/// control characters, and arbitrary printable text.
pub(crate) fn nasty() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let pieces = prop::sample::select(vec![
        "\n",
        "\r",
        "\t",
        "\\",
        "\\\n",
        "\"",
        "'",
        "%",
        "%n",
        "%%",
        "$",
        "$$",
        "${X}",
        ";",
        " ; ",
        "#",
        "[Service]",
        "ExecStartPre=/bin/sh",
        "\u{85}",
        "\u{2028}",
        "é",
        "日本",
        "🙂",
        " ",
        "a",
        "=",
        "}",
        "{",
        "`",
    ]);
    prop_oneof![
        prop::collection::vec(pieces, 0..8).prop_map(|v| v.concat()),
        any::<String>()
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(10_000),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Any env value or arg is refused by the config, or comes out of the
    /// rendered unit, read back with systemd's rules, as one unchanged word,
    /// with exactly the directives of a plain config.
    #[test]
    fn env_values_and_args_never_inject_a_directive(value in nasty(), arg in nasty()) {
        let (Ok(value_text), Ok(arg_text)) = (PrintableText::parse(&value), PrintableText::parse(&arg)) else {
            // Refused at parse time (control characters): the config exits 2.
            proptest::prop_assert!(value.chars().chain(arg.chars()).any(char::is_control));
            return Ok(());
        };
        let mut config = fixture("bdd_assistant.toml");
        config.container.env = [("V".parse().unwrap(), value_text)].into_iter().collect();
        config.container.args = vec![arg_text];
        let plain = color_unit(&fixture("bdd_assistant.toml"), Color::Blue).unwrap().contents;
        let unit = color_unit(&config, Color::Blue).unwrap().contents;
        let keys = |text: &str| directives(text).into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        proptest::prop_assert_eq!(keys(&unit), keys(&plain));
        let start = directives(&unit).into_iter().find(|(k, _)| k == "ExecStart").unwrap().1;
        let words = words(&start, true);
        let image_at = words.iter().position(|w| w == "${BGCTL_IMAGE}").unwrap();
        proptest::prop_assert_eq!(&words[image_at - 2..image_at], &["-e".to_owned(), format!("V={value}")]);
        proptest::prop_assert_eq!(&words[image_at + 1..], &[arg]);
    }

    /// Any value in any string key: parse never panics; what parses renders
    /// every file without a panic and without a control character.
    #[test]
    fn any_string_in_any_key_parses_or_is_refused_cleanly(
        key in proptest::sample::select(vec![
            "name", "image", "[proxy]\nserver_name", "[proxy]\nsite", "[systemd]\nunit_dir",
            "[systemd]\ndocker_unit", "[docker]\nhost", "[docker]\ncli", "[health]\npath",
            "[state]\nprefix", "[container]\nadvertise", "[proxy]\nunit",
        ]),
        value in nasty(),
    ) {
        let text = if key == "name" || key == "image" {
            let other = if key == "name" { "image = \"app:v1\"" } else { "name = \"fuzz\"" };
            format!("{other}\n{key} = {}\n", toml_string(&value))
        } else {
            base_toml(&format!("{key} = {}\n", toml_string(&value)))
        };
        let Ok(config) = crate::config::Config::parse(&text) else { return Ok(()) };
        for file in install_files(&config, None).unwrap().into_iter().chain([site(&config, Some(Color::Green)).unwrap()]) {
            proptest::prop_assert!(!file.contents.chars().any(|c| c.is_control() && c != '\n'), "{}", file.contents);
            proptest::prop_assert!(file.path.as_str().starts_with('/') && !file.path.as_str().contains("/../"));
        }
    }
}

/// TOML basic-string escaping, so any Rust string can be put in the file.
pub(crate) fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn base_toml(extra: &str) -> String {
    format!("name = \"fuzz\"\nimage = \"app:v1\"\n{extra}")
}

#[test]
fn the_live_site_passes_websockets_and_keeps_upstream_connections_per_service() {
    let config = fixture("bdd_assistant.toml");
    let live = site(&config, Some(Color::Blue)).unwrap().contents;
    for line in [
        "    keepalive 16;",
        "map $http_upgrade $bgctl_bdd_assistant_connection {",
        "    \"\" \"\";",
        "        proxy_set_header Upgrade $http_upgrade;",
        "        proxy_set_header Connection $bgctl_bdd_assistant_connection;",
        "        proxy_read_timeout 60s;",
        "    client_max_body_size 1m;",
    ] {
        assert!(live.lines().any(|l| l == line), "{line:?} missing in:\n{live}");
    }
    let mut off = config.clone();
    (off.proxy.websockets, off.proxy.keepalive) = (false, 0);
    let plain = site(&off, Some(Color::Blue)).unwrap().contents;
    for gone in ["keepalive", "Upgrade", "Connection"] {
        assert!(
            !plain.contains(gone),
            "{gone} with websockets and keepalive off:\n{plain}"
        );
    }
    let mut closing = config;
    closing.proxy.keepalive = 0;
    let closing = site(&closing, Some(Color::Blue)).unwrap().contents;
    assert!(
        closing.contains("    \"\" close;") && !closing.contains("keepalive"),
        "{closing}"
    );
}

#[test]
fn with_tls_the_plain_port_redirects_but_for_acme_challenges() {
    let config = Config::parse(&base_toml(
        "[proxy]\nserver_name = \"shop.example.com\"\n[proxy.tls]\nlisten = 443\nacme = true\nacme_directory = \"https://127.0.0.1:14000/dir\"\nhsts = \"1d\"\n",
    ))
    .unwrap();
    let live = site(&config, Some(Color::Green)).unwrap().contents;
    let plain = live.split("ssl http2").next().unwrap();
    assert!(plain.contains("return 301 https://$host$request_uri;"), "{plain}");
    assert!(
        plain.contains("location ^~ /.well-known/acme-challenge/ {")
            && plain.contains(&format!("alias {}/;", config.acme_challenges())),
        "{plain}"
    );
    assert!(
        !plain.contains("proxy_pass"),
        "the redirecting port proxies nothing: {plain}"
    );
    let tls = live.split("ssl http2").nth(1).unwrap();
    for line in [
        format!("    ssl_certificate {}/cert.pem;", config.acme_home()),
        format!("    ssl_certificate_key {}/key.pem;", config.acme_home()),
        "    ssl_protocols TLSv1.2 TLSv1.3;".into(),
        "    ssl_session_cache shared:bgctl_fuzz_tls:10m;".into(),
        "        add_header Strict-Transport-Security \"max-age=86400\" always;".into(),
        "        proxy_pass http://bgctl_fuzz;".into(),
    ] {
        assert!(tls.lines().any(|l| l == line), "{line:?} missing in:\n{tls}");
    }
}
