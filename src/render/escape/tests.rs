use super::*;
use askama::filters::Escaper;

use crate::render::systemd_syntax::words;

/// Hostile values: newline + directive, specifiers, variables, quotes,
/// backslashes (one at the end, too), unicode, separators.
pub(crate) const HOSTILE: &[&str] = &[
    "x\nExecStartPre=/bin/rm -rf /",
    "x\r\n[Service]\r\nUser=root",
    "%n %i %% %",
    "$VAR ${VAR} $$ $",
    "\"quoted\" 'single' \"",
    "back\\slash \\n \\",
    "é 日本 🙂 \u{200b}",
    "a ; b \\; c",
    "\t\u{7}\u{1b}[31m\u{85}",
    "",
];

#[test]
fn exec_arg_round_trips_every_hostile_value_on_one_line() {
    for &value in HOSTILE {
        let word = exec_arg(value);
        assert!(!word.chars().any(char::is_control), "{word:?}");
        assert_eq!(words(&word, true), [value], "{word:?}");
    }
}

#[test]
fn env_assignment_round_trips_and_keeps_dollars_single() {
    for &value in HOSTILE {
        let word = env_assignment("NAME", value);
        assert!(!word.chars().any(char::is_control), "{word:?}");
        assert_eq!(words(&word, false), [format!("NAME={value}")], "{word:?}");
    }
    assert_eq!(env_assignment("A", "$B"), "\"A=$B\"");
}

fn escape_with(escaper: impl Escaper, s: &str) -> Option<String> {
    let mut out = String::new();
    escaper.write_escaped_str(&mut out, s).ok().map(|()| out)
}

#[test]
fn the_systemd_escaper_doubles_percent_and_refuses_line_breakers() {
    assert_eq!(escape_with(Systemd, "a%i").as_deref(), Some("a%%i"));
    assert_eq!(escape_with(Systemd, "bdd_assistant").as_deref(), Some("bdd_assistant"));
    for bad in ["a\nb", "a\\", "a\rb", "\u{85}"] {
        assert_eq!(escape_with(Systemd, bad), None, "{bad:?}");
    }
}

#[test]
fn the_nginx_escaper_refuses_anything_that_could_end_a_directive() {
    assert_eq!(escape_with(Nginx, "127.0.0.1:9001").as_deref(), Some("127.0.0.1:9001"));
    assert_eq!(
        escape_with(Nginx, "a.example *.b _").as_deref(),
        Some("a.example *.b _")
    );
    for bad in ["a;", "a{", "}", "\"", "'", "$host", "# c", "a\nb", "é"] {
        assert_eq!(escape_with(Nginx, bad), None, "{bad:?}");
    }
}

#[test]
fn the_env_file_escaper_passes_an_image_reference_and_refuses_every_hostile_value() {
    let image = "registry.example.com:5000/team/app@sha256:0a1b+c_d-e";
    assert_eq!(escape_with(EnvFile, image).as_deref(), Some(image));
    for &bad in HOSTILE.iter().filter(|v| !v.is_empty()) {
        assert_eq!(escape_with(EnvFile, bad), None, "{bad:?}");
    }
    for bad in ["a b", "a=\"b\"", "a#b", "a'b", "a\\"] {
        assert_eq!(escape_with(EnvFile, bad), None, "{bad:?}");
    }
}
