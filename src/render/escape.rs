//! Writing values into unit files and nginx sites so that no value can add a
//! line, a directive or a specifier.
//!
//! Two layers: the template's default escaper (`{{ x }}`) fails the render on
//! anything that could break the line it is on; the filters `exec_arg` and
//! `env_assignment` quote free text for the two places it may go.

use std::fmt::{self, Write};

/// Default escaper of unit-file templates. Values printed bare are names,
/// colors, ports and addresses, all validated; this is the last guard: `%`
/// is doubled (no specifier expansion) and a control character or backslash
/// (a newline, or a line continuation) fails the render instead of being
/// written.
#[derive(Debug, Clone, Copy)]
pub struct Systemd;

impl askama::filters::Escaper for Systemd {
    fn write_escaped_str<W: Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '%' => dest.write_str("%%")?,
                '\\' => return Err(fmt::Error),
                c if c.is_control() => return Err(fmt::Error),
                c => dest.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Default escaper of nginx templates: only characters that can appear in a
/// port, an address or a validated server name pass; anything that could end
/// a directive or a block (`;`, `{`, `}`, quotes, `$`, `#`, newline) fails the
/// render.
#[derive(Debug, Clone, Copy)]
pub struct Nginx;

impl askama::filters::Escaper for Nginx {
    fn write_escaped_str<W: Write>(&self, dest: W, s: &str) -> fmt::Result {
        only_of(dest, s, "._-:*[]/ ")
    }
}

/// `s` as it is when it holds only ASCII letters, digits and `extra`;
/// otherwise the render fails.
fn only_of<W: Write>(mut dest: W, s: &str, extra: &str) -> fmt::Result {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c)) {
        dest.write_str(s)
    } else {
        Err(fmt::Error)
    }
}

/// Default escaper of environment files (`EnvironmentFile=`), which take
/// values bare: only characters of an image reference or a name pass, so no
/// value can quote, continue or end its line.
#[derive(Debug, Clone, Copy)]
pub struct EnvFile;

impl askama::filters::Escaper for EnvFile {
    fn write_escaped_str<W: Write>(&self, dest: W, s: &str) -> fmt::Result {
        only_of(dest, s, "._-:/@+")
    }
}

/// One word of an `ExecStart=` command line, double-quoted: `\` and `"`
/// escaped, `%` doubled (specifiers), `$` doubled (variable expansion), and
/// control characters written as C escapes so the line never breaks.
pub fn exec_arg(word: &str) -> String {
    quoted(word, true)
}

/// `Environment="NAME=value"`: as `exec_arg`, but `$` stays single because
/// systemd does not expand variables in `Environment=`.
pub fn env_assignment(name: &str, value: &str) -> String {
    quoted(&format!("{name}={value}"), false)
}

fn quoted(s: &str, double_dollar: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' if double_dollar => out.push_str("$$"),
            c if c.is_control() && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The filters the templates call.
pub mod filters {
    use askama::filters::Safe;
    use askama::{Result, Values};

    #[askama::filter_fn]
    pub fn exec_arg(word: impl ToString, _: &dyn Values) -> Result<Safe<String>> {
        Ok(Safe(super::exec_arg(&word.to_string())))
    }

    #[askama::filter_fn]
    pub fn env_assignment(value: impl ToString, _: &dyn Values, name: &str) -> Result<Safe<String>> {
        Ok(Safe(super::env_assignment(name, &value.to_string())))
    }
}

#[cfg(test)]
mod tests;
