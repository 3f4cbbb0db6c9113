use serde::Deserialize;

use super::{AbsPath, InvalidValue, PrintableText};

/// A command run without a shell: an absolute program, then arguments that
/// each reach it as one exact word (quotes, `$` and spaces included). Built
/// from a TOML array such as `["/usr/bin/docker", "exec", "nginx", "nginx", "-t"]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct Argv {
    program: AbsPath,
    args: Vec<PrintableText>,
}

impl Argv {
    pub fn new(program: AbsPath, args: Vec<PrintableText>) -> Self {
        Argv { program, args }
    }

    pub fn program(&self) -> &AbsPath {
        &self.program
    }

    pub fn args(&self) -> impl Iterator<Item = &str> {
        self.args.iter().map(PrintableText::as_ref)
    }
}

impl TryFrom<Vec<String>> for Argv {
    type Error = InvalidValue;

    fn try_from(words: Vec<String>) -> Result<Self, InvalidValue> {
        let Some((program, args)) = words.split_first() else {
            return Err(InvalidValue::new(
                "command",
                "[]",
                "it is empty: give the program's absolute path first",
            ));
        };
        // No PATH search: the program that runs is the one the config names.
        let program = AbsPath::parse(program)
            .map_err(|e| InvalidValue::new("command", program, format!("its program {}", e.reason)))?;
        let args = args.iter().map(|a| PrintableText::parse(a)).collect::<Result<_, _>>()?;
        Ok(Argv { program, args })
    }
}

/// For messages: the words, space-separated.
impl std::fmt::Display for Argv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.program.as_str())?;
        self.args().try_for_each(|a| write!(f, " {a}"))
    }
}

#[cfg(test)]
mod tests {
    use super::Argv;

    fn argv(words: &[&str]) -> Result<Argv, super::InvalidValue> {
        Argv::try_from(words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn argv_keeps_every_word_exactly() {
        let a = argv(&["/usr/bin/docker", "exec", "a b", "\"q\" $HOME 'x'"]).unwrap();
        assert_eq!(a.program().as_str(), "/usr/bin/docker");
        assert_eq!(a.args().collect::<Vec<_>>(), ["exec", "a b", "\"q\" $HOME 'x'"]);
    }

    #[test]
    fn argv_refuses_empty_relative_and_control_words() {
        for bad in [&[][..], &["nginx", "-t"], &["/usr/sbin/nginx", "-t\n-c"], &["/a/../b"]] {
            assert!(argv(bad).is_err(), "{bad:?}");
        }
    }
}
