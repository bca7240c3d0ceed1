//! Access tokens: JWTs signed with an Ed25519 key (EdDSA). The gateway signs them at sign-in and
//! checks signature, expiry, audience and issuer on every call.
//!
//! The compact JWS is written and read here with `ed25519-dalek`, `base64` and `serde_json`
//! rather than with a JWT library: the one we used pulled in the `rsa` crate (RUSTSEC-2023-0071)
//! although only EdDSA is ever used, and one algorithm is a few dozen lines.
//!
//! Keys: one key signs (its `kid`, the RFC 7638 JWK thumbprint of its public key, is in every
//! token's header); tokens are accepted when signed by it or by one of the keys still accepted
//! (retired from signing, kept until their last tokens have expired). A token whose `kid` is
//! none of these is refused as invalid. The public keys are published as a JWKS document.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, spki::der::pem::LineEnding,
};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Who signs and who may read the tokens.
pub const ISSUER: &str = "partnerhub";
/// The audience every token names: this gateway.
pub const AUDIENCE: &str = "partnerhub-gateway";
/// The `sub` of operator tokens.
pub const OPERATOR: &str = "operator";
/// The JWS algorithm of every token.
pub const ALGORITHM: &str = "EdDSA";
/// Seconds a token is still taken after its `exp`, for clocks a little apart.
pub const LEEWAY_SECONDS: u64 = 5;

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

/// A token's JOSE header.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

/// A public key tokens are checked with, as the JWKS and `ListPublicKeys` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicKey {
    /// The RFC 7638 JWK thumbprint (SHA-256, base64url) of the key.
    pub kid: String,
    /// `OKP`.
    pub kty: &'static str,
    /// `Ed25519`.
    pub crv: &'static str,
    /// The public key, base64url.
    pub x: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub key_use: &'static str,
    /// [`ALGORITHM`].
    pub alg: &'static str,
    /// Whether it signs new tokens (otherwise it is only accepted).
    #[serde(skip)]
    pub signing: bool,
}

impl PublicKey {
    fn of(key: &VerifyingKey, signing: bool) -> Self {
        PublicKey {
            kid: key_id(key),
            kty: "OKP",
            crv: "Ed25519",
            x: B64.encode(key.as_bytes()),
            key_use: "sig",
            alg: ALGORITHM,
            signing,
        }
    }
}

/// The RFC 7638 thumbprint of an Ed25519 public key: SHA-256 over its required JWK members in
/// lexical order, base64url. Standard, so a client can compute it from the JWKS.
pub fn key_id(key: &VerifyingKey) -> String {
    let jwk = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        B64.encode(key.as_bytes())
    );
    B64.encode(Sha256::digest(jwk.as_bytes()))
}

/// The signing key with what every token it signs starts with.
struct Signing {
    key: SigningKey,
    /// `base64url(header).`
    header: String,
}

/// Signs and checks tokens: one signing key, any number of keys still accepted.
#[derive(Clone)]
pub struct Tokens {
    signing: Arc<Signing>,
    /// Every accepted key by kid, the signing key's too.
    accepted: Arc<HashMap<String, VerifyingKey>>,
    /// The signing key first, then the others in the order given.
    public: Arc<Vec<PublicKey>>,
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
    #[error("can't read the verification key {path}: {source}")]
    ReadAccepted {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the verification key {path} is not an Ed25519 key in PEM form (PKCS#8 private or SPKI public key)"
    )]
    ParseAccepted { path: String },
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

/// Reads an Ed25519 public key from PEM: a public key (`openssl pkey -pubout`) or a private key
/// (PKCS#8), whose public half is taken.
pub fn public_key_from_pem(pem: &str) -> Option<VerifyingKey> {
    VerifyingKey::from_public_key_pem(pem).ok().or_else(|| {
        SigningKey::from_pkcs8_pem(pem)
            .ok()
            .map(|k| k.verifying_key())
    })
}

impl Tokens {
    /// Signs with `signing`, and accepts its tokens and those of `accepted`.
    pub fn new(signing: SigningKey, accepted: &[VerifyingKey], lifetime: Duration) -> Self {
        let own = signing.verifying_key();
        let kid = key_id(&own);
        let header = Header {
            alg: ALGORITHM.into(),
            typ: Some("JWT".into()),
            kid: Some(kid.clone()),
        };
        // A struct of three strings always serialises.
        let header = B64.encode(serde_json::to_vec(&header).unwrap_or_default()) + ".";
        let mut public = vec![PublicKey::of(&own, true)];
        let mut by_kid = HashMap::from([(kid, own)]);
        for key in accepted {
            let id = key_id(key);
            if by_kid.insert(id, *key).is_none() {
                public.push(PublicKey::of(key, false));
            }
        }
        Tokens {
            signing: Arc::new(Signing {
                key: signing,
                header,
            }),
            accepted: Arc::new(by_kid),
            public: Arc::new(public),
            lifetime,
            verified: Arc::default(),
        }
    }

    /// Reads the signing key (PKCS#8 PEM, as `openssl genpkey -algorithm ed25519` writes) and
    /// the keys still accepted (each a public key or a private key, PEM).
    pub fn from_files(
        signing: &Path,
        accepted: &[PathBuf],
        lifetime: Duration,
    ) -> Result<Self, KeyError> {
        let shown = signing.display().to_string();
        let pem = std::fs::read_to_string(signing).map_err(|source| KeyError::Read {
            path: shown.clone(),
            source,
        })?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::Parse {
            path: shown,
            reason: e.to_string(),
        })?;
        let mut keys = Vec::with_capacity(accepted.len());
        for path in accepted {
            let path_shown = path.display().to_string();
            let pem = std::fs::read_to_string(path).map_err(|source| KeyError::ReadAccepted {
                path: path_shown.clone(),
                source,
            })?;
            keys.push(
                public_key_from_pem(&pem).ok_or(KeyError::ParseAccepted { path: path_shown })?,
            );
        }
        Ok(Self::new(key, &keys, lifetime))
    }

    /// Reads a PKCS#8 PEM Ed25519 private key (as `openssl genpkey -algorithm ed25519` writes).
    pub fn from_pem_file(path: &Path, lifetime: Duration) -> Result<Self, KeyError> {
        Self::from_files(path, &[], lifetime)
    }

    /// From a PKCS#8 PEM Ed25519 private key.
    pub fn from_pem(pem: &str, lifetime: Duration) -> Result<Self, String> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
        Ok(Self::new(key, &[], lifetime))
    }

    /// The kid of the signing key: the one new tokens carry.
    pub fn signing_kid(&self) -> &str {
        &self.public[0].kid
    }

    /// The public keys tokens are accepted with, the signing key first.
    pub fn public_keys(&self) -> &[PublicKey] {
        &self.public
    }

    /// The JWKS document (RFC 7517) of [`Tokens::public_keys`].
    pub fn jwks(&self) -> String {
        #[derive(Serialize)]
        struct Set<'a> {
            keys: &'a [PublicKey],
        }
        serde_json::to_string(&Set { keys: &self.public }).unwrap_or_default()
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
        (self.sign(&claims), exp)
    }

    /// A token of `claims`, signed with the signing key (tests make expired ones with it).
    pub fn sign(&self, claims: &Claims) -> String {
        // Claims of strings and numbers always serialise; an empty payload would be refused.
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let mut token = String::with_capacity(self.signing.header.len() + payload.len() * 2 + 90);
        token.push_str(&self.signing.header);
        B64.encode_string(payload, &mut token);
        let signature = self.signing.key.sign(token.as_bytes());
        token.push('.');
        B64.encode_string(signature.to_bytes(), &mut token);
        token
    }

    /// Checks a token's signature, expiry, audience and issuer.
    pub fn check(&self, token: &str) -> Result<Claims, Refusal> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        self.check_at(token, now)
    }

    /// [`Tokens::check`] at `now` (seconds since the epoch).
    fn check_at(&self, token: &str, now: u64) -> Result<Claims, Refusal> {
        let known = self
            .verified
            .lock()
            .ok()
            .and_then(|verified| verified.get(token).cloned());
        let claims = match known {
            Some(claims) => claims,
            None => {
                let claims = self.verify(token)?;
                if let Ok(mut verified) = self.verified.lock() {
                    if verified.len() >= VERIFIED_TOKENS {
                        verified.clear();
                    }
                    verified.insert(token.to_string(), claims.clone());
                }
                claims
            }
        };
        // Expired once `exp` is more than the leeway ago.
        if claims.exp < now.saturating_sub(LEEWAY_SECONDS) {
            return Err(Refusal::Expired);
        }
        Ok(claims)
    }

    /// Checks the signature (by the key the header's `kid` names), audience and issuer.
    fn verify(&self, token: &str) -> Result<Claims, Refusal> {
        let (signed, signature) = token.rsplit_once('.').ok_or(Refusal::Invalid)?;
        let (header, payload) = signed.split_once('.').ok_or(Refusal::Invalid)?;
        let header: Header = B64
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(Refusal::Invalid)?;
        if header.alg != ALGORITHM {
            return Err(Refusal::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.accepted.get(kid))
            .ok_or(Refusal::Invalid)?;
        let signature = B64
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(Refusal::Invalid)?;
        key.verify_strict(signed.as_bytes(), &signature)
            .map_err(|_| Refusal::Invalid)?;
        let claims: Claims = B64
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(Refusal::Invalid)?;
        if claims.aud != AUDIENCE || claims.iss != ISSUER {
            return Err(Refusal::Invalid);
        }
        Ok(claims)
    }
}

/// Writes a new Ed25519 key to `path` (mode 0600, its folder 0700 if made) unless a file is
/// there already.
pub fn ensure_key_file(path: &Path) -> Result<bool, KeyError> {
    if path.exists() {
        return Ok(false);
    }
    let shown = path.display().to_string();
    let write = |source| KeyError::Write {
        path: shown.clone(),
        source,
    };
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Parse {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
    partnerhub_kit::private_file::create_new(path, pem.as_bytes()).map_err(write)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::EncodePublicKey;

    fn key() -> SigningKey {
        SigningKey::generate(&mut rand::rngs::OsRng)
    }

    fn tokens() -> Tokens {
        Tokens::new(key(), &[], Duration::from_secs(60))
    }

    fn part(token: &str, i: usize) -> serde_json::Value {
        let text = token.split('.').nth(i).unwrap();
        serde_json::from_slice(&B64.decode(text).unwrap()).unwrap()
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
        assert_eq!(a.check(""), Err(Refusal::Invalid));
    }

    #[test]
    fn a_token_is_a_standard_jwt_naming_its_key() {
        let a = tokens();
        let (token, exp) = a.issue_user("u1", "t1");
        assert_eq!(
            part(&token, 0),
            serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": a.signing_kid()})
        );
        let claims = part(&token, 1);
        assert_eq!(claims["aud"], AUDIENCE);
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["exp"], exp);
        assert_eq!(
            B64.decode(token.split('.').nth(2).unwrap()).unwrap().len(),
            64
        );
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let x = B64
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(key_id(&key), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn accepted_keys_check_old_tokens_and_unknown_kids_are_refused() {
        let (a, b) = (key(), key());
        let old = Tokens::new(a.clone(), &[], Duration::from_secs(60));
        let (token_a, _) = old.issue_user("u1", "t1");
        let rotated = Tokens::new(b.clone(), &[a.verifying_key()], Duration::from_secs(60));
        assert!(rotated.check(&token_a).is_ok());
        let (token_b, _) = rotated.issue_user("u2", "t1");
        assert_eq!(part(&token_b, 0)["kid"], key_id(&b.verifying_key()));
        assert_eq!(
            rotated
                .public_keys()
                .iter()
                .map(|k| (k.kid.clone(), k.signing))
                .collect::<Vec<_>>(),
            [
                (key_id(&b.verifying_key()), true),
                (key_id(&a.verifying_key()), false)
            ]
        );
        let retired = Tokens::new(b, &[], Duration::from_secs(60));
        assert_eq!(retired.check(&token_a), Err(Refusal::Invalid));
        assert!(retired.check(&token_b).is_ok());
        // Signed by another key under A's kid: the signature doesn't check.
        let (signed, _) = token_a.rsplit_once('.').unwrap();
        let forged = format!(
            "{signed}.{}",
            B64.encode(key().sign(signed.as_bytes()).to_bytes())
        );
        assert_eq!(rotated.check(&forged), Err(Refusal::Invalid));
    }

    #[test]
    fn only_eddsa_with_a_kid_is_taken() {
        let a = tokens();
        let (token, _) = a.issue_user("u1", "t1");
        let (_, rest) = token.split_once('.').unwrap();
        for header in [
            serde_json::json!({"alg": "none", "typ": "JWT", "kid": a.signing_kid()}),
            serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": a.signing_kid()}),
            serde_json::json!({"alg": "EdDSA", "typ": "JWT"}),
        ] {
            let head = B64.encode(header.to_string());
            assert_eq!(a.check(&format!("{head}.{rest}")), Err(Refusal::Invalid));
        }
    }

    #[test]
    fn verification_keys_are_read_from_public_or_private_pem() {
        let k = key();
        let public = k.verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
        let private = k.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_eq!(public_key_from_pem(&public), Some(k.verifying_key()));
        assert_eq!(public_key_from_pem(&private), Some(k.verifying_key()));
        assert_eq!(public_key_from_pem("not a key"), None);
    }

    #[test]
    fn the_jwks_lists_every_accepted_key() {
        let (a, b) = (key(), key());
        let tokens = Tokens::new(b.clone(), &[a.verifying_key()], Duration::from_secs(60));
        let jwks: serde_json::Value = serde_json::from_str(&tokens.jwks()).unwrap();
        assert_eq!(
            jwks["keys"][0],
            serde_json::json!({
                "kid": key_id(&b.verifying_key()), "kty": "OKP", "crv": "Ed25519",
                "x": B64.encode(b.verifying_key().as_bytes()), "use": "sig", "alg": "EdDSA",
            })
        );
        assert_eq!(jwks["keys"][1]["kid"], key_id(&a.verifying_key()));
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn wrong_audience_or_issuer_is_refused() {
        let a = tokens();
        let (token, _) = a.issue_user("u1", "t1");
        let claims = a.check(&token).unwrap();
        let other_audience = Claims {
            aud: "elsewhere".into(),
            ..claims.clone()
        };
        let other_issuer = Claims {
            iss: "elsewhere".into(),
            ..claims
        };
        assert_eq!(a.check(&a.sign(&other_audience)), Err(Refusal::Invalid));
        assert_eq!(a.check(&a.sign(&other_issuer)), Err(Refusal::Invalid));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let a = tokens();
        let (token, _) = a.issue(OPERATOR, "", true, Duration::ZERO);
        // Within the 5 s leeway it still passes; move the clock by faking an old token instead.
        let mut claims = a.check(&token).unwrap();
        claims.exp -= 60;
        claims.iat -= 120;
        assert_eq!(a.check(&a.sign(&claims)), Err(Refusal::Expired));
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
