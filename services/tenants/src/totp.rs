//! Time-based one-time passwords (RFC 6238), the second factor users may add: HMAC-SHA-1, six
//! digits, 30-second steps, the defaults every authenticator app uses. A code is accepted in
//! its own step and the one before or after (clocks drift, people type slowly), and only once:
//! the caller keeps the last accepted step and passes it in.

use hmac::{Hmac, Mac};
use partnerhub_kit::uri::percent_encode;
use rand::RngCore;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds in a step.
const STEP: u64 = 30;
/// Digits in a code.
const DIGITS: u32 = 6;
/// Bytes of a new secret (RFC 4226 recommends 160 bits).
const SECRET_BYTES: usize = 20;
/// The issuer apps show next to the account name.
const ISSUER: &str = "partnerhub";

/// A new secret, base32 (RFC 4648, upper case, no padding), as apps take it.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    base32(&bytes)
}

/// The `otpauth://` URI of `secret` for `account` (the user name), as QR codes carry it.
pub fn uri(secret: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{ISSUER}:{account}?secret={secret}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        account = percent_encode(account, b"@")
    )
}

/// The step `code` belongs to, if it is a code of `secret` at `now` (give or take a step) in a
/// step after `last_step`; `None` otherwise (a code never used twice).
pub fn verify(secret: &str, code: &str, now: SystemTime, last_step: i64) -> Option<i64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let key = unbase32(secret)?;
    let current = now.duration_since(UNIX_EPOCH).ok()?.as_secs() / STEP;
    let mut found = None;
    // Every candidate is computed, so the time taken says nothing about which one matched.
    for step in [current.saturating_sub(1), current, current + 1] {
        let matches = constant_time_eq(code_at(&key, step).as_bytes(), code.as_bytes());
        let step = i64::try_from(step).ok()?;
        if matches && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The code of `key` in `step` (RFC 4226 dynamic truncation), zero-padded.
fn code_at(key: &[u8], step: u64) -> String {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(DIGITS),
        width = DIGITS as usize
    )
}

/// The code of `secret` at `time`: what an authenticator app shows (tests and tools use it).
pub fn code(secret: &str, time: SystemTime) -> Option<String> {
    let key = unbase32(secret)?;
    let step = time.duration_since(UNIX_EPOCH).ok()?.as_secs() / STEP;
    Some(code_at(&key, step))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Base32 to bytes; spaces, padding and lower case are forgiven (people copy secrets by hand).
fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !matches!(c, b' ' | b'=')) {
        let value = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// RFC 6238 appendix B's SHA-1 secret, "12345678901234567890".
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn codes_are_rfc_6238s_test_vectors() {
        let secret = base32(RFC_SECRET);
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        // Appendix B's eight-digit values end in these six digits.
        for (time, expected) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code(&secret, at(time)).as_deref(), Some(expected), "{time}");
        }
    }

    #[test]
    fn a_code_is_good_in_its_step_and_the_next_and_only_once() {
        let secret = base32(RFC_SECRET);
        let step = 1_111_111_109 / 30;
        assert_eq!(verify(&secret, "081804", at(1_111_111_109), 0), Some(step));
        // Typed late: still good in the next step.
        assert_eq!(
            verify(&secret, "081804", at(1_111_111_109 + 30), 0),
            Some(step)
        );
        assert_eq!(verify(&secret, "081804", at(1_111_111_109 + 90), 0), None);
        // Used once: never again, nor an older one.
        assert_eq!(verify(&secret, "081804", at(1_111_111_109), step), None);
        assert_eq!(verify(&secret, "081804", at(1_111_111_109), step + 1), None);
    }

    #[test]
    fn malformed_codes_and_secrets_never_verify_nor_panic() {
        let secret = base32(RFC_SECRET);
        for code in ["", "08180", "0818044", "08180a", "０８１８０４", "-81804"] {
            assert_eq!(verify(&secret, code, at(1_111_111_109), 0), None, "{code}");
        }
        for bad in ["", "1", "!!!!", "===="] {
            assert_eq!(verify(bad, "081804", at(1_111_111_109), 0), None);
        }
    }

    #[test]
    fn secrets_round_trip_and_are_forgiven_case_and_spaces() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32);
        let bytes = unbase32(&secret).unwrap();
        assert_eq!(bytes.len(), SECRET_BYTES);
        assert_eq!(base32(&bytes), secret);
        let typed = secret.to_lowercase().replace("", " ");
        assert_eq!(unbase32(&typed), Some(bytes));
        assert_ne!(new_secret(), secret);
    }

    #[test]
    fn the_uri_names_the_issuer_and_the_account() {
        assert_eq!(
            uri("ABC", "ann+x@contoso.onpartnerhub.com"),
            "otpauth://totp/partnerhub:ann%2Bx@contoso.onpartnerhub.com?secret=ABC&issuer=partnerhub&algorithm=SHA1&digits=6&period=30"
        );
    }
}
