//! Invitation codes: the secret inside a link. A code is 32 bytes (256 bits) written as
//! base64url without padding (43 characters): HMAC-SHA256 under the service's own secret key of
//! the invitation's id ([`partnerhub_kit::secret_key`]). Only its SHA-256 hash is stored, so a
//! copy of the database can't be used to accept invitations; the key is never in the database.
//!
//! Derived, not random, so that a retried create answers the same code (and link) as the
//! first answer, which may already be in an e-mail: the service recomputes it from the
//! invitation's id and shows it while the stored hash still matches and the invitation is still
//! usable. An invitation's code never changes, so the id alone (no generation) names it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use partnerhub_kit::secret_key::SecretKey;
use sha2::{Digest, Sha256};

/// What the codes are derived for: keeps them apart from anything else the key derives.
const PURPOSE: &str = "partnerhub invitation code v1";
/// Bytes in a code.
const BYTES: usize = 32;
/// Characters of a code: base64 of [`BYTES`] bytes, without padding.
pub const LENGTH: usize = (BYTES * 4).div_ceil(3);

/// An invitation's code, shown to its inviter, with the hash that is stored.
pub struct Issued {
    pub code: String,
    pub hash: String,
}

/// The code of the invitation `invitation_id`, the same each time it is asked for.
pub fn of(key: &SecretKey, invitation_id: &str) -> Issued {
    let code = URL_SAFE_NO_PAD.encode(key.derive(PURPOSE, invitation_id));
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
    fn codes_are_long_per_invitation_and_key_and_stored_only_as_hashes() {
        let key = SecretKey::generate();
        let a = of(&key, "0190f0a0-0000-7000-8000-000000000001");
        let b = of(&key, "0190f0a0-0000-7000-8000-000000000002");
        assert_eq!(a.code.len(), LENGTH);
        assert_eq!(LENGTH, 43);
        assert_ne!(a.code, b.code);
        assert_eq!(
            of(&key, "0190f0a0-0000-7000-8000-000000000001").code,
            a.code,
            "the same invitation's code again"
        );
        assert_ne!(
            of(
                &SecretKey::generate(),
                "0190f0a0-0000-7000-8000-000000000001"
            )
            .code,
            a.code,
            "another key, another code"
        );
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.code));
        assert_eq!(lookup_hash(&a.code), Some(a.hash));
    }

    #[test]
    fn malformed_codes_are_not_looked_up() {
        let good = of(&SecretKey::generate(), "1").code;
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
