//! Product keys' values (seed 002): how one is made, read back from what a partner types, and
//! kept. A key is 25 characters of Crockford base32 (`0-9`, `A-Z` without `I`, `L`, `O`, `U`) in
//! five groups of five: 125 random bits from the operating system, readable over the phone.
//! Reading one forgives what people get wrong: case, dashes and spaces, and `O`/`I`/`L` typed
//! for `0`/`1`.
//!
//! Only the key's SHA-256 is stored, looked up by equality. A fast hash is enough here: a slow
//! one protects guessable secrets (passwords), but a 125-bit random value can't be found from
//! its hash by trying, nor guessed at the gateway (at a billion tries a second, finding one of a
//! million issued keys takes ~10^16 years), so failed redemptions need no limit of their own.
//! Random rather than derived from a server key (as invitation codes are): the operator hands
//! keys out of band, so a retried `CreateProductKeys` need not show them again (it answers the
//! same keys without their values), and the service needs no key file.

use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// The 32 symbols, in value order.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Symbols in a key (5 bits each: 125 bits).
pub const SYMBOLS: usize = 25;
/// Symbols in a group.
const GROUP: usize = 5;

/// A new random key, grouped: `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`.
pub fn generate() -> String {
    let mut bytes = [0u8; SYMBOLS];
    OsRng.fill_bytes(&mut bytes);
    let mut key = String::with_capacity(SYMBOLS + SYMBOLS / GROUP);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % GROUP == 0 {
            key.push('-');
        }
        // 256 is a multiple of 32: every symbol is equally likely.
        key.push(char::from(ALPHABET[usize::from(b & 31)]));
    }
    key
}

/// The key's canonical form (25 symbols, no dashes), or `None` when `typed` can't be a key.
pub fn canonical(typed: &str) -> Option<String> {
    let mut key = String::with_capacity(SYMBOLS);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || key.len() == SYMBOLS {
            return None;
        }
        key.push(c);
    }
    (key.len() == SYMBOLS).then_some(key)
}

/// The stored form of a key (given in any form [`canonical`] reads): SHA-256, lower-case hex.
/// `None` when it is no key.
pub fn hash(typed: &str) -> Option<String> {
    canonical(typed).map(|key| {
        Sha256::digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_grouped_random_and_read_back_however_typed() {
        let key = generate();
        assert_eq!(key.len(), 29, "{key}");
        assert_eq!(key.split('-').count(), 5);
        assert!(key.split('-').all(|g| g.len() == 5));
        assert_ne!(key, generate());
        let stored = hash(&key).expect("a key");
        assert_eq!(stored.len(), 64);
        assert!(!stored.contains(&key.replace('-', "")));
        // Lower case, no dashes, spaces, and the look-alike letters read as the same key.
        let plain = key.replace('-', "").to_lowercase();
        assert_eq!(hash(&plain).as_deref(), Some(stored.as_str()));
        let spaced = key.replace('-', " ");
        assert_eq!(hash(&spaced).as_deref(), Some(stored.as_str()));
        assert_eq!(
            hash("O0IL1-AAAAA-AAAAA-AAAAA-AAAAA"),
            hash("00111-AAAAA-AAAAA-AAAAA-AAAAA")
        );
    }

    #[test]
    fn what_is_no_key_is_told() {
        for bad in [
            "",
            "AAAAA-AAAAA-AAAAA-AAAAA",
            "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-A",
            "AAAAA-AAAAA-AAAAA-AAAAA-AAAAU",
            "AAAAA-AAAAA-AAAAA-AAAAA-AAAA!",
            "AAAAA-AAAAA-AAAAA-AAAAA-AAAAÅ",
        ] {
            assert_eq!(hash(bad), None, "{bad}");
        }
    }
}
