//! Test-only reader of unit files, following systemd's rules for what bgctl
//! writes: line continuations, `Key=value` directives, and command-line words
//! (double quotes with C escapes, `%%` and `$$`). Tests read rendered units
//! back with it to prove a value came out as one word, unchanged, and that no
//! line or directive was added.

/// Logical lines: continuation lines (ending in `\`) joined, comments and
/// blank lines dropped.
pub fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        if current.is_empty() && (raw.starts_with('#') || raw.starts_with(';') || raw.trim().is_empty()) {
            continue;
        }
        match raw.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(raw);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    assert!(current.is_empty(), "the file ends inside a continuation");
    lines
}

/// `(key, value)` of every directive; section headers as `("[Section]", "")`.
pub fn directives(text: &str) -> Vec<(String, String)> {
    logical_lines(text)
        .into_iter()
        .map(|line| {
            if line.starts_with('[') {
                return (line.trim().to_owned(), String::new());
            }
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not a directive: {line:?}"));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

/// The words of a command line as systemd runs them. `dollars` says whether
/// `$$` means `$` (command lines) or `$` is literal (`Environment=`).
pub fn words(line: &str, dollars: bool) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        // Quotes may open anywhere in a word, as in `-"/usr/bin/docker"`.
        let mut word = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
            if c != '"' {
                push_expanded(&mut word, c, &mut chars, dollars);
                continue;
            }
            loop {
                match chars.next().expect("an unterminated quote") {
                    '"' => break,
                    '\\' => word.push(unescape(&mut chars)),
                    c => push_expanded(&mut word, c, &mut chars, dollars),
                }
            }
        }
        words.push(word);
    }
    words
}

fn push_expanded(word: &mut String, c: char, chars: &mut std::iter::Peekable<std::str::Chars<'_>>, dollars: bool) {
    // `%%` and `$$` are one literal character; a single one is kept as
    // written (a specifier or variable the template put there on purpose).
    if (c == '%' || (c == '$' && dollars)) && chars.peek() == Some(&c) {
        chars.next();
    }
    word.push(c);
}

fn unescape(chars: &mut impl Iterator<Item = char>) -> char {
    let hex = |chars: &mut dyn Iterator<Item = char>, n| {
        let digits: String = chars.take(n).collect();
        char::from_u32(u32::from_str_radix(&digits, 16).expect("hex digits")).expect("a char")
    };
    match chars.next().expect("a dangling backslash") {
        'x' => hex(chars, 2),
        'u' => hex(chars, 4),
        'n' => '\n',
        't' => '\t',
        c @ ('\\' | '"' | '\'') => c,
        other => panic!("an escape systemd does not know: \\{other}"),
    }
}
