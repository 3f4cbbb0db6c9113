use serde::Deserialize;

use super::{InvalidValue, validated_string};

/// Free text for env values and container args: any printable character
/// (quotes, `$`, `%`, backslashes and unicode included: the renderer escapes
/// them) but no control character, since a newline would end a unit-file line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct PrintableText(String);

impl PrintableText {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s.chars().find(|c| c.is_control()) {
            Some(c) => Err(InvalidValue::new(
                "value",
                s,
                format!("it holds the control character {c:?}; only printable text is allowed"),
            )),
            None => Ok(Self(s.to_owned())),
        }
    }
}

validated_string!(PrintableText);

#[cfg(test)]
mod tests {
    use super::PrintableText;

    #[test]
    fn printable_text_refuses_control_characters_only() {
        for ok in ["", "-Xmx256m", "a b", "\"q\" 'q' $HOME %n \\ é 日本"] {
            assert!(PrintableText::parse(ok).is_ok(), "{ok:?}");
        }
        for bad in ["a\nb", "a\rb", "tab\t", "nul\0", "\u{85}", "esc\u{1b}[0m"] {
            assert!(PrintableText::parse(bad).is_err(), "{bad:?}");
        }
    }
}
