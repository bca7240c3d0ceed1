//! Service accounts' secrets: their values and stored hashes. No value is ever stored or logged.
//!
//! A secret's value is "phsa_" and 43 base64url characters: 256 bits derived from the service's
//! secret key and the secret's id ([`derived`]), as a created user's temporary password is, so
//! a retried create answers the same value while the secret exists (AIP-155) without it being
//! kept in clear. The prefix lets secret scanners and people tell what a leaked string is.
//!
//! The stored form is `$sha256$` and the SHA-256 of the value, not Argon2: a 256-bit value
//! can't be guessed, so a slow hash would only make every sign-in cost ~20 ms and 19 MiB
//! for no gain; a plain (unkeyed) digest also keeps working if the service's key changes. A
//! sign-in hashes once and compares with each of the account's secrets (at most
//! [`crate::domain::MAX_SECRETS`]) in constant time: microseconds.

use crate::password::equal_in_constant_time;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use partnerhub_kit::secret_key::SecretKey;
use sha2::{Digest, Sha256};

/// What secrets are derived for: keeps them apart from anything else the key derives.
const PURPOSE: &str = "partnerhub service account secret v1";
/// Starts every secret's value.
pub const PREFIX: &str = "phsa_";
/// Starts every stored hash; the digest follows in unpadded standard base64.
const HASH_PREFIX: &str = "$sha256$";

/// The value of the secret `secret_id`.
pub fn derived(key: &SecretKey, secret_id: &str) -> String {
    format!(
        "{PREFIX}{}",
        URL_SAFE_NO_PAD.encode(key.derive(PURPOSE, secret_id))
    )
}

/// The stored form of a secret's value.
pub fn hash(value: &str) -> String {
    format!(
        "{HASH_PREFIX}{}",
        STANDARD_NO_PAD.encode(Sha256::digest(value.as_bytes()))
    )
}

/// Whether `stored` is the stored form of `value`, compared in constant time.
pub fn matches(value: &str, stored: &str) -> bool {
    equal_in_constant_time(hash(value).as_bytes(), stored.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_its_ids_own_and_only_its_hash_matches() {
        let key = SecretKey::generate();
        let a = derived(&key, "0190f6a4-5a5e-7cc0-9a7b-1c2d3e4f5a6b");
        assert_eq!(a, derived(&key, "0190f6a4-5a5e-7cc0-9a7b-1c2d3e4f5a6b"));
        assert_ne!(a, derived(&key, "0190f6a4-5a5e-7cc0-9a7b-1c2d3e4f5a6c"));
        assert_ne!(
            a,
            derived(
                &SecretKey::generate(),
                "0190f6a4-5a5e-7cc0-9a7b-1c2d3e4f5a6b"
            )
        );
        assert!(a.starts_with(PREFIX));
        assert_eq!(a.len(), PREFIX.len() + 43);
        let stored = hash(&a);
        assert!(!stored.contains(&a[PREFIX.len()..]));
        assert!(matches(&a, &stored));
        assert!(!matches(&format!("{a}x"), &stored));
        assert!(!matches("", &stored));
    }
}
