//! Building URIs by hand (`mailto:` drafts, `otpauth://` enrollment links).

/// Percent-encodes every byte but the RFC 3986 unreserved characters and `keep`.
pub fn percent_encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || keep.contains(&b)
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreserved_characters_and_those_kept_stay() {
        assert_eq!(percent_encode("a b+c@d~é", b"@"), "a%20b%2Bc@d~%C3%A9");
        assert_eq!(percent_encode("a@b", b""), "a%40b");
    }
}
