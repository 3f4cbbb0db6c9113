//! Property test over config parsing and rendering with arbitrary strings in
//! every string key: never a panic, and what parses renders clean files at
//! clean paths. (The no-injection property, which reads units back with
//! systemd's rules, is in src/render/tests.rs.) Cases: PROPTEST_CASES
//! (default 10000).

use proptest::prelude::*;

use bgctl::config::Config;
use bgctl::domain::Color;
use bgctl::render::{install_files, site};

/// TOML basic-string escaping, so any Rust string can be put in the file.
fn toml_string(s: &str) -> String {
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

/// Strings that stress the escapers: systemd and shell syntax, unicode,
/// control characters, and plain noise.
fn nasty() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "\n",
        "\r",
        "\t",
        "\0",
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
        any::<String>(),
    ]
}

fn base(extra: &str) -> String {
    format!("name = \"fuzz\"\nimage = \"app:v1\"\n{extra}")
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(10_000),
        ..ProptestConfig::default()
    })]

    /// Any value in any string key: parse never panics; what parses renders
    /// every file without a panic and without a control character.
    #[test]
    fn any_string_in_any_key_parses_or_is_refused_cleanly(
        key in prop::sample::select(vec![
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
            base(&format!("{key} = {}\n", toml_string(&value)))
        };
        let Ok(config) = Config::parse(&text) else { return Ok(()) };
        for file in install_files(&config, None).unwrap().into_iter().chain([site(&config, Some(Color::Green)).unwrap()]) {
            prop_assert!(!file.contents.chars().any(|c| c.is_control() && c != '\n'), "{}", file.contents);
            prop_assert!(file.path.as_str().starts_with('/') && !file.path.as_str().contains("/../"));
        }
    }
}
