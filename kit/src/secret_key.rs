//! A service's secret key: the server-held key from which a service derives the secrets it
//! hands out (invitation codes, temporary passwords), so that a retry of a create can answer
//! the same secret again without that secret ever being stored in clear.
//!
//! Why derive rather than keep the secret encrypted until first use: a derived secret needs no
//! new column, no decryption step and no clean-up once used; the database keeps only the
//! secret's hash, as before, and a copy of the database without the key still gives nothing
//! away. The derivation is HMAC-SHA256(key, purpose, 0, record id): the purpose keeps the
//! secrets of different uses apart, the record id (a UUID) makes each record's secret its own.
//! A service answers a derived secret only while the stored hash still matches it (it is
//! still the record's current, unused secret), so a secret that was used, replaced or changed
//! is never shown again.
//!
//! Each service has its own key (a key file, at least [`MIN_BYTES`] bytes; `partnerhub dev`
//! makes one in the data folder). Changing the key only means that retries of creates made
//! before can no longer show their secret (the stored hash no longer matches): nothing that
//! was handed out stops working.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use std::fmt;
use std::path::Path;

/// The fewest bytes a key may have.
pub const MIN_BYTES: usize = 32;

/// Random bytes in a key `partnerhub dev` makes (written as hex, so twice as many characters).
const GENERATED_BYTES: usize = 32;

/// A service's secret key, kept as the HMAC state it keys. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretKey(Hmac<Sha256>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "can't read the {service} secret key {path}: {source} (`partnerhub dev` creates one; a \
         deployment passes --{service}-secret-key, e.g. made with `openssl rand -hex 32`)"
    )]
    Read {
        service: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the {service} secret key {path} is too short: {bytes} bytes, at least {MIN_BYTES} \
         needed (make one with `openssl rand -hex 32`)"
    )]
    Short {
        service: &'static str,
        path: String,
        bytes: usize,
    },
    #[error("can't write the {service} secret key {path}: {source}")]
    Write {
        service: &'static str,
        path: String,
        source: std::io::Error,
    },
}

impl SecretKey {
    /// A new random key (tests, and servers started without a key file).
    pub fn generate() -> Self {
        // A whole SHA-256 block: HMAC's own key size.
        let mut bytes = [0u8; 64];
        OsRng.fill_bytes(&mut bytes);
        SecretKey(<Hmac<Sha256> as KeyInit>::new(&bytes.into()))
    }

    /// A key of these bytes, or how many there were when fewer than [`MIN_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, usize> {
        if bytes.len() < MIN_BYTES {
            return Err(bytes.len());
        }
        // HMAC takes keys of any length, so this never fails.
        <Hmac<Sha256> as KeyInit>::new_from_slice(bytes)
            .map(SecretKey)
            .map_err(|_| bytes.len())
    }

    /// The key in the file at `path`: its bytes without a trailing line end (so a key written
    /// by `openssl rand -hex 32 > file` or pasted into a Secret with or without a newline is
    /// the same key). `service` names it in errors.
    pub fn from_file(service: &'static str, path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| KeyError::Read {
            service,
            path: shown.clone(),
            source,
        })?;
        let end = bytes
            .iter()
            .rposition(|b| !matches!(b, b'\n' | b'\r'))
            .map_or(0, |last| last + 1);
        SecretKey::from_bytes(&bytes[..end]).map_err(|bytes| KeyError::Short {
            service,
            path: shown,
            bytes,
        })
    }

    /// The HMAC-SHA256 state this key keys, ready for its input (the key is hashed once, when
    /// read; each use clones this state).
    pub(crate) fn keyed(&self) -> Hmac<Sha256> {
        self.0.clone()
    }

    /// HMAC-SHA256 of `purpose`, a zero byte and `id` under this key: the secret of that
    /// record for that use.
    pub fn derive(&self, purpose: &str, id: &str) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(id.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Writes a new random key to `path` (hex, mode 0600, its folder 0700 if made) unless a file
/// is there already; `true` if it wrote one.
pub fn ensure_key_file(service: &'static str, path: &Path) -> Result<bool, KeyError> {
    if path.exists() {
        return Ok(false);
    }
    let write = |source| KeyError::Write {
        service,
        path: path.display().to_string(),
        source,
    };
    let mut bytes = [0u8; GENERATED_BYTES];
    OsRng.fill_bytes(&mut bytes);
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.push('\n');
    crate::private_file::create_new(path, hex.as_bytes()).map_err(write)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_derived_secret_depends_on_the_key_the_purpose_and_the_id() {
        let key = SecretKey::generate();
        let a = key.derive("code", "1");
        assert_eq!(a, key.derive("code", "1"));
        assert_ne!(a, key.derive("code", "2"));
        assert_ne!(a, key.derive("password", "1"));
        // The separator keeps "ab" + "c" apart from "a" + "bc".
        assert_ne!(key.derive("ab", "c"), key.derive("a", "bc"));
        assert_ne!(a, SecretKey::generate().derive("code", "1"));
    }

    #[test]
    fn key_files_are_made_once_read_back_and_must_be_long_enough() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/tenants-secret.key");
        assert!(ensure_key_file("tenants", &path).unwrap());
        assert!(!ensure_key_file("tenants", &path).unwrap());
        let first = SecretKey::from_file("tenants", &path).unwrap();
        let again = SecretKey::from_file("tenants", &path).unwrap();
        assert_eq!(first.derive("p", "1"), again.derive("p", "1"));
        assert_eq!(format!("{first:?}"), "SecretKey(..)");

        // A trailing line end is not part of the key.
        let with_newline = dir.path().join("a.key");
        let without = dir.path().join("b.key");
        std::fs::write(&with_newline, format!("{}\r\n", "k".repeat(40))).unwrap();
        std::fs::write(&without, "k".repeat(40)).unwrap();
        assert_eq!(
            SecretKey::from_file("tenants", &with_newline)
                .unwrap()
                .derive("p", "1"),
            SecretKey::from_file("tenants", &without)
                .unwrap()
                .derive("p", "1")
        );

        let short = dir.path().join("short.key");
        std::fs::write(&short, "too short\n").unwrap();
        let e = SecretKey::from_file("invitations", &short).unwrap_err();
        assert!(matches!(e, KeyError::Short { bytes: 9, .. }), "{e}");
        assert!(e.to_string().contains("at least 32"), "{e}");
        let e = SecretKey::from_file("invitations", &dir.path().join("none")).unwrap_err();
        assert!(e.to_string().contains("--invitations-secret-key"), "{e}");
    }
}
