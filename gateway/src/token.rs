//! Access tokens: JWTs signed with an Ed25519 key (EdDSA). The gateway signs them at sign-in and
//! checks signature, expiry, audience and issuer on every call.

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Who signs and who may read the tokens.
pub const ISSUER: &str = "partnerhub";
/// The audience every token names: this gateway.
pub const AUDIENCE: &str = "partnerhub-gateway";
/// The `sub` of operator tokens.
pub const OPERATOR: &str = "operator";

/// What a token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user's id, or [`OPERATOR`].
    pub sub: String,
    /// The user's tenant; empty for the operator.
    #[serde(default)]
    pub tid: String,
    /// The platform operator.
    #[serde(default)]
    pub op: bool,
    pub iat: u64,
    pub exp: u64,
    /// When it was issued, in microseconds: `iat` is whole seconds, too coarse to tell a token
    /// from just before a password change from one just after.
    #[serde(default)]
    pub iat_us: i64,
}

/// Signs and checks tokens with one key pair.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// How long a token lasts.
    pub lifetime: Duration,
    /// Tokens whose signature, audience and issuer were checked, with their claims. Checking an
    /// Ed25519 signature was a tenth of the gateway's CPU on every call, and a token's signature
    /// can't change: only its expiry is checked again. Revocation doesn't depend on this: the
    /// caller's principal (deleted user, password changed since `iat_us`) is read on every call.
    verified: Arc<Mutex<HashMap<String, Claims>>>,
}

/// At most this many tokens are remembered as verified; when full, the memory starts afresh.
const VERIFIED_TOKENS: usize = 4096;

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "can't read the signing key {path}: {source} (`partnerhub dev` creates one; a deployment passes --signing-key)"
    )]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the signing key {path} is not an Ed25519 private key in PKCS#8 PEM form ({reason})")]
    Parse { path: String, reason: String },
    #[error("can't write the signing key {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Expired,
    Invalid,
}

impl Tokens {
    /// Reads a PKCS#8 PEM Ed25519 private key (as `openssl genpkey -algorithm ed25519` writes).
    pub fn from_pem_file(path: &Path, lifetime: Duration) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_pem(&pem, lifetime).map_err(|reason| KeyError::Parse {
            path: shown,
            reason,
        })
    }

    /// From a PKCS#8 PEM Ed25519 private key.
    pub fn from_pem(pem: &str, lifetime: Duration) -> Result<Self, String> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
        let encoding = EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
        let decoding = DecodingKey::from_ed_der(key.verifying_key().as_bytes());
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 5;
        Ok(Tokens {
            encoding,
            decoding,
            validation,
            lifetime,
            verified: Arc::default(),
        })
    }

    /// Issues a token for a user; returns it with its expiry (seconds since the epoch).
    pub fn issue_user(&self, user_id: &str, tenant_id: &str) -> (String, u64) {
        self.issue(user_id, tenant_id, false, self.lifetime)
    }

    /// Issues an operator token lasting `lifetime`.
    pub fn issue_operator(&self, lifetime: Duration) -> (String, u64) {
        self.issue(OPERATOR, "", true, lifetime)
    }

    fn issue(&self, sub: &str, tid: &str, op: bool, lifetime: Duration) -> (String, u64) {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let now = since.as_secs();
        let exp = now + lifetime.as_secs();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: sub.into(),
            tid: tid.into(),
            op,
            iat: now,
            exp,
            iat_us: i64::try_from(since.as_micros()).unwrap_or(i64::MAX),
        };
        // Signing with a key that parsed can't fail; an empty token would be refused anyway.
        let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding)
            .unwrap_or_default();
        (token, exp)
    }

    /// Checks a token's signature, expiry, audience and issuer.
    pub fn check(&self, token: &str) -> Result<Claims, Refusal> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        self.check_at(token, now)
    }

    /// [`Tokens::check`] at `now` (seconds since the epoch) for a token verified before.
    fn check_at(&self, token: &str, now: u64) -> Result<Claims, Refusal> {
        let known = self
            .verified
            .lock()
            .ok()
            .and_then(|verified| verified.get(token).cloned());
        if let Some(claims) = known {
            // As jsonwebtoken checks it: expired once `exp` is more than the leeway ago.
            if claims.exp < now.saturating_sub(self.validation.leeway) {
                return Err(Refusal::Expired);
            }
            return Ok(claims);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => Refusal::Expired,
                _ => Refusal::Invalid,
            })?;
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= VERIFIED_TOKENS {
                verified.clear();
            }
            verified.insert(token.to_string(), claims.clone());
        }
        Ok(claims)
    }
}

/// Writes a new Ed25519 key to `path` (mode 0600) unless a file is there already.
pub fn ensure_key_file(path: &Path) -> Result<bool, KeyError> {
    if path.exists() {
        return Ok(false);
    }
    let shown = path.display().to_string();
    let write = |source| KeyError::Write {
        path: shown.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write)?;
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Parse {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    let mut file = options.open(path).map_err(write)?;
    file.write_all(pem.as_bytes()).map_err(write)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        Tokens::from_pem(&pem, Duration::from_secs(60)).unwrap()
    }

    #[test]
    fn a_token_checks_with_its_key_only() {
        let a = tokens();
        let (token, _) = a.issue_user("u1", "t1");
        let claims = a.check(&token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.tid.as_str(), claims.op),
            ("u1", "t1", false)
        );
        assert_eq!(tokens().check(&token), Err(Refusal::Invalid));
        assert_eq!(a.check("not.a.token"), Err(Refusal::Invalid));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let a = tokens();
        let (token, _) = a.issue(OPERATOR, "", true, Duration::ZERO);
        // Within the 5 s leeway it still passes; move the clock by faking an old token instead.
        let mut claims = a.check(&token).unwrap();
        claims.exp -= 60;
        claims.iat -= 120;
        let old =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &a.encoding).unwrap();
        assert_eq!(a.check(&old), Err(Refusal::Expired));
    }

    #[test]
    fn a_token_verified_before_still_expires_and_no_other_rides_on_it() {
        let a = tokens();
        let (token, exp) = a.issue_user("u1", "t1");
        assert!(a.check(&token).is_ok());
        // Remembered as verified: still refused once expired (past the leeway).
        assert!(a.check_at(&token, exp + 5).is_ok());
        assert_eq!(a.check_at(&token, exp + 6), Err(Refusal::Expired));
        // A changed token is checked in full, not taken for the remembered one.
        let mut forged = token.clone();
        forged.insert(forged.len() - 2, 'A');
        assert_eq!(a.check(&forged), Err(Refusal::Invalid));
        let (payload_swapped, _) = tokens().issue_user("u2", "t1");
        let (head, _) = token.rsplit_once('.').unwrap();
        let (_, their_signature) = payload_swapped.rsplit_once('.').unwrap();
        assert_eq!(
            a.check(&format!("{head}.{their_signature}")),
            Err(Refusal::Invalid)
        );
    }

    #[test]
    fn the_memory_of_verified_tokens_is_bounded() {
        let a = tokens();
        for i in 0..VERIFIED_TOKENS + 10 {
            let (token, _) = a.issue_user(&format!("u{i}"), "t1");
            assert!(a.check(&token).is_ok());
            assert!(a.verified.lock().unwrap().len() <= VERIFIED_TOKENS);
        }
    }
}
