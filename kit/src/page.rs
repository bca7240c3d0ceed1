//! Keyset pagination (AIP-158), the same for every list.
//!
//! A page is "the first `size` rows whose key is greater than the last key of the previous
//! page", so pages stay correct while rows are added, and no query uses OFFSET. The page token
//! carries that last key and a fingerprint of the list's filters; it is opaque to clients
//! (base64) and checked: a token from another list, or for other filters, is refused.

use crate::status::Violations;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Rows per page when the request does not say.
pub const DEFAULT_SIZE: i64 = 50;
/// The most rows a page holds; larger requests are lowered to it (AIP-158).
pub const MAX_SIZE: i64 = 1000;

/// One page asked for: how many rows, after which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Rows to return.
    pub size: i64,
    /// Key of the last row of the previous page; empty for the first page. Every key is
    /// greater than "" (ids, names), so `key > $after` serves the first page too.
    pub after: String,
    fingerprint: String,
}

impl Page {
    /// Reads `page_size` and `page_token`. `list` names the list ("tenants") and `filters` are
    /// the request's filter values, in a fixed order; both go into the token's fingerprint.
    pub fn parse(
        page_size: i32,
        page_token: &str,
        list: &str,
        filters: &[&str],
    ) -> Result<Page, Violations> {
        let mut v = Violations::new();
        if page_size < 0 {
            v.add("page_size", "must not be negative");
        }
        let size = match page_size {
            0 => DEFAULT_SIZE,
            n => i64::from(n).clamp(1, MAX_SIZE),
        };
        let fingerprint = fingerprint(list, filters);
        let mut after = String::new();
        if !page_token.is_empty() {
            match decode(page_token) {
                Some((fp, key)) if fp == fingerprint => after = key,
                Some(_) => v.add(
                    "page_token",
                    "belongs to a list with other filters; send the same filters or start again without a token",
                ),
                None => v.add("page_token", "is not a page token of this list"),
            }
        }
        v.check()?;
        Ok(Page {
            size,
            after,
            fingerprint,
        })
    }

    /// How many rows to fetch: one more than the page, to know whether another page follows.
    pub fn limit(&self) -> i64 {
        self.size + 1
    }

    /// Cuts the fetched rows to the page and makes the next page's token (empty on the last).
    pub fn finish<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, String) {
        let size = usize::try_from(self.size).unwrap_or(usize::MAX);
        if rows.len() <= size {
            return (rows, String::new());
        }
        rows.truncate(size);
        let token = rows
            .last()
            .map(|last| encode(&self.fingerprint, &key(last)))
            .unwrap_or_default();
        (rows, token)
    }
}

fn fingerprint(list: &str, filters: &[&str]) -> String {
    let mut hash = Sha256::new();
    hash.update(list.as_bytes());
    for f in filters {
        hash.update([0u8]);
        hash.update(f.as_bytes());
    }
    hash.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn encode(fingerprint: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("1|{fingerprint}|{key}"))
}

fn decode(token: &str) -> Option<(String, String)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let rest = raw.strip_prefix("1|")?;
    let (fp, key) = rest.split_once('|')?;
    // Keys are ids and names: a key with control characters (NUL, which PostgreSQL refuses in
    // text) was not made here.
    if key.is_empty() || key.chars().any(char::is_control) {
        return None;
    }
    Some((fp.to_string(), key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other_and_end_with_an_empty_token() {
        let first = Page::parse(2, "", "things", &["a"]).unwrap();
        assert_eq!(first.limit(), 3);
        let (rows, token) = first.finish(vec!["k1", "k2", "k3"], |s| s.to_string());
        assert_eq!(rows, ["k1", "k2"]);
        let second = Page::parse(2, &token, "things", &["a"]).unwrap();
        assert_eq!(second.after, "k2");
        let (rows, token) = second.finish(vec!["k3"], |s| s.to_string());
        assert_eq!((rows, token), (vec!["k3"], String::new()));
    }

    #[test]
    fn tokens_are_checked() {
        let (_, token) = Page::parse(1, "", "things", &["a"])
            .unwrap()
            .finish(vec![1, 2], |n| n.to_string());
        let other_filter = Page::parse(1, &token, "things", &["b"]).unwrap_err();
        assert_eq!(other_filter.as_slice()[0].field, "page_token");
        assert!(Page::parse(1, &token, "other list", &["a"]).is_err());
        assert!(Page::parse(1, "garbage!", "things", &["a"]).is_err());
        let forged = encode(&fingerprint("things", &["a"]), "\0");
        assert!(Page::parse(1, &forged, "things", &["a"]).is_err());
        assert!(Page::parse(-1, "", "things", &[]).is_err());
        assert_eq!(Page::parse(5000, "", "things", &[]).unwrap().size, MAX_SIZE);
    }
}
