//! Passwords: the policy, temporary passwords, and hashing (Argon2id). No password, temporary or
//! not, is ever stored or logged in clear; only its PHC hash string is kept.

use crate::error::{Error, Result};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use partnerhub_kit::status::Violations;
use rand::Rng;
use rand::rngs::OsRng;
use std::sync::OnceLock;

const MIN_LEN: usize = 8;
const MAX_LEN: usize = 256;

/// Checks a new password: 8 to 256 characters with three of the four kinds (lower case, upper
/// case, digits, symbols).
pub fn check_policy(field: &str, password: &str) -> Result<(), Violations> {
    let len = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return Err(Violations::one(
            field,
            format!("must be {MIN_LEN} to {MAX_LEN} characters"),
        ));
    }
    let kinds = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if kinds.iter().filter(|k| **k).count() < 3 {
        return Err(Violations::one(
            field,
            "must contain three of: lower-case letters, upper-case letters, digits, symbols",
        ));
    }
    Ok(())
}

/// A new temporary password: 16 characters from an alphabet without look-alikes (0/O, 1/l/I),
/// with every kind of character, about 90 bits of randomness.
pub fn temporary() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOLS: &[u8] = b"!#$%*+-=?@";
    let mut rng = OsRng;
    let mut pick = |set: &[u8]| char::from(set[rng.gen_range(0..set.len())]);
    let mut chars: Vec<char> = vec![pick(LOWER), pick(UPPER), pick(DIGITS), pick(SYMBOLS)];
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    while chars.len() < 16 {
        chars.push(pick(&all));
    }
    // Shuffle so the kinds are not always in the first four places.
    for i in (1..chars.len()).rev() {
        chars.swap(i, OsRng.gen_range(0..=i));
    }
    chars.into_iter().collect()
}

/// Hashes a password (on a blocking thread: Argon2 takes tens of milliseconds by design).
pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| Error::Hashing(e.to_string()))?
}

/// Checks a password against a stored hash. With no hash (unknown user) it checks against a
/// dummy hash, so a wrong user name takes as long as a wrong password.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.as_deref().unwrap_or_else(|| dummy_hash());
        let parsed = PasswordHash::new(stored).map_err(|e| Error::Hashing(e.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(|e| Error::Hashing(e.to_string()))?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(temporary().as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_passwords_meet_the_policy_and_differ() {
        let a = temporary();
        assert_eq!(a.chars().count(), 16);
        assert!(check_policy("p", &a).is_ok(), "{a}");
        assert_ne!(a, temporary());
    }

    #[test]
    fn the_policy_wants_length_and_three_kinds() {
        assert!(check_policy("p", "Ab1!").is_err());
        assert!(check_policy("p", "alllowercase").is_err());
        assert!(check_policy("p", "lower and UPPER").is_ok());
        assert!(check_policy("p", "Passw0rdPassw0rd").is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let h = hash("Correct horse 1".into()).await.unwrap();
        assert!(!h.contains("Correct"));
        assert!(
            verify("Correct horse 1".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong".into(), Some(h)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
