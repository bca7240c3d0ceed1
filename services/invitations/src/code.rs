//! Invitation codes: the secret inside a link. A code is 32 random bytes from the operating
//! system (256 bits), written as base64url without padding (43 characters). Only its SHA-256
//! hash is stored, so a copy of the database can't be used to accept invitations.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// Random bytes in a code.
const BYTES: usize = 32;
/// Characters of a code: base64 of [`BYTES`] bytes, without padding.
pub const LENGTH: usize = (BYTES * 4).div_ceil(3);

/// A new code, shown once, with the hash that is stored.
pub struct Issued {
    pub code: String,
    pub hash: String,
}

/// Makes a new code.
pub fn issue() -> Issued {
    let mut bytes = [0u8; BYTES];
    OsRng.fill_bytes(&mut bytes);
    let code = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&code);
    Issued { code, hash }
}

/// The stored form of a code: SHA-256, lower-case hex.
pub fn hash(code: &str) -> String {
    Sha256::digest(code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash to look a code up by, or `None` when it can't be a code this service issued (a
/// malformed code is answered like an unknown one).
pub fn lookup_hash(code: &str) -> Option<String> {
    let well_formed = code.len() == LENGTH
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| hash(code))
}

/// The personalised link: the cloud's base address with the code.
pub fn link(base: &str, code: &str) -> String {
    format!("{base}?code={code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_long_random_and_stored_only_as_hashes() {
        let a = issue();
        let b = issue();
        assert_eq!(a.code.len(), LENGTH);
        assert_eq!(LENGTH, 43);
        assert_ne!(a.code, b.code);
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.code));
        assert_eq!(lookup_hash(&a.code), Some(a.hash));
    }

    #[test]
    fn malformed_codes_are_not_looked_up() {
        let good = issue().code;
        for bad in [
            String::new(),
            good[1..].to_string(),
            format!("{good}A"),
            format!("{}+", &good[1..]),
            format!("{}=", &good[1..]),
        ] {
            assert_eq!(lookup_hash(&bad), None, "{bad}");
        }
    }
}
