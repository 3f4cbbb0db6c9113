//! RFC 2397 `data:` URLs, the way Ignition embeds a file's bytes.

/// `data:,` and the bytes percent-encoded: only RFC 3986's unreserved
/// characters stay as they are, so no byte can end the URL or the string.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(6 + bytes.len() * 3);
    out.push_str("data:,");
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The bytes of a `data:,` URL that [`encode`] wrote; `None` for anything else.
#[cfg(test)]
pub fn decode(url: &str) -> Option<Vec<u8>> {
    let mut rest = url.strip_prefix("data:,")?.bytes();
    let mut out = Vec::with_capacity(url.len());
    while let Some(b) = rest.next() {
        if b == b'%' {
            let hex = [rest.next()?, rest.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    #[test]
    fn data_urls_carry_any_bytes_back_unchanged() {
        let text = "name = \"x\"\n# é \"q\" %20 \\ ' $HOME\r\n\0";
        let url = encode(text.as_bytes());
        assert!(url.bytes().all(|b| b.is_ascii_graphic()), "{url}");
        assert!(!url[6..].contains(['"', '\\', ',', ' ']));
        assert_eq!(decode(&url).unwrap(), text.as_bytes());
    }
}
