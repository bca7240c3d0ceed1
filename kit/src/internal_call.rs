//! Internal calls prove where they come from: every call to a service carries a short-lived
//! assertion, `x-partnerhub-assertion: v1.<expiry>.<mac>`, made by the gateway or a peer
//! service with the internal key all servers share, and a service refuses a call without a good
//! one (UNAUTHENTICATED, reason `INTERNAL_CALL_UNPROVEN`). Health and reflection stay open.
//!
//! The MAC is HMAC-SHA256 over the method path, the expiry (Unix seconds) and the caller headers
//! of [`crate::caller`] (user id, tenant id, roles; each as present or absent, so a header can't
//! be dropped or added either), so an assertion seen on the wire can't be replayed for another
//! method or with other caller headers, and is worth nothing after [`LIFETIME`]. It is not bound
//! to the request body (that would mean buffering every request, streams too): within its minute
//! it could carry another request of the same method and caller. TLS between the servers
//! (`partnerhub_kit::tls`) keeps it from being seen at all.
//!
//! Why an HMAC with one shared key rather than Ed25519 signatures or mTLS:
//! - cost: an HMAC-SHA256 of a hundred bytes is about a microsecond, at each end, with the
//!   key's state hashed once at start; an Ed25519 signature plus its check is some 60 µs a
//!   call, and mTLS moves the cost to handshakes and the operational weight to a CA;
//! - one secret: the servers are one system under one operator; an Ed25519 key pair per server
//!   would need each server's public keys distributed to every other, and mTLS a certificate per
//!   server with its rotation. A shared key is one more Secret, like the others. The price is
//!   that any server holding it can speak for any other (they already trust each other's
//!   answers).
//! - it proves the caller holds the key, not merely that it can reach the port: the headers a
//!   service records ("accepted by") can come only from the gateway.

use crate::secret_key::SecretKey;
use crate::server::kit_status;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::body::Body;
use tower::Service;

/// The header that carries the assertion.
pub const ASSERTION: &str = "x-partnerhub-assertion";

/// How long an assertion the servers make stays good: enough for a call in flight between two
/// hosts whose clocks differ a little, too short to be worth keeping.
pub const LIFETIME: Duration = Duration::from_secs(60);

/// The longest a service takes an assertion to be good for (from now): a credential minted by
/// hand (`partnerhub internal-credential --seconds`) may last up to this, not for days.
pub const MAX_LIFETIME: Duration = Duration::from_secs(600);

/// How long after its expiry an assertion is still taken, for clocks that differ between hosts.
const LEEWAY_SECONDS: u64 = 5;

/// The assertion format's version, first in the header and in the MAC's input.
const VERSION: &str = "v1";

/// The caller headers an assertion covers, in this order.
const COVERED: [&str; 3] = [
    crate::caller::USER_ID,
    crate::caller::TENANT_ID,
    crate::caller::ROLES,
];

/// The key the gateway and the services share to prove internal calls. Its `Debug` never shows
/// the key.
#[derive(Debug, Clone)]
pub struct InternalKey(SecretKey);

/// Why a call's assertion was not taken (logged by the service, never told to the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unproven {
    #[error("no assertion")]
    Missing,
    #[error("a malformed assertion")]
    Malformed,
    #[error("an expired assertion")]
    Expired,
    #[error("an assertion good for longer than allowed")]
    TooLong,
    #[error("an assertion made with another key, for another method or other caller headers")]
    Mismatch,
    #[error("the assertion or a caller header sent more than once")]
    Repeated,
}

/// Seconds since the Unix epoch by the system clock (assertions use wall time, not a service's
/// domain clock, which tests move forward).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl InternalKey {
    pub fn new(key: SecretKey) -> Self {
        InternalKey(key)
    }

    /// A new random key (tests, and a server alone in its process).
    pub fn generate() -> Self {
        InternalKey(SecretKey::generate())
    }

    /// The assertion for a call of `method` (its path, `/package.Service/Method`) with the
    /// caller headers in `headers`, good until `expiry` (Unix seconds).
    pub fn assertion(&self, method: &str, headers: &http::HeaderMap, expiry: u64) -> String {
        let mac = self.mac(method, headers, expiry);
        format!("{VERSION}.{expiry}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// Sets the assertion of a call of `method` with these headers (replacing any sent before),
    /// good for [`LIFETIME`].
    pub fn sign(&self, method: &str, headers: &mut http::HeaderMap) {
        let expiry = unix_now() + LIFETIME.as_secs();
        // Base64url and digits: always a header value.
        if let Ok(value) = http::HeaderValue::from_str(&self.assertion(method, headers, expiry)) {
            headers.insert(ASSERTION, value);
        }
    }

    /// Whether `headers` carry a good assertion for a call of `method` at `now` (Unix seconds).
    pub fn check(&self, method: &str, headers: &http::HeaderMap, now: u64) -> Result<(), Unproven> {
        let mut sent = headers.get_all(ASSERTION).iter();
        let value = sent.next().ok_or(Unproven::Missing)?;
        if sent.next().is_some()
            || COVERED
                .iter()
                .any(|h| headers.get_all(*h).iter().nth(1).is_some())
        {
            return Err(Unproven::Repeated);
        }
        let value = value.to_str().map_err(|_| Unproven::Malformed)?;
        let mut parts = value.splitn(3, '.');
        let (Some(VERSION), Some(expiry), Some(mac)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Unproven::Malformed);
        };
        if expiry.is_empty() || expiry.len() > 20 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Unproven::Malformed);
        }
        let expiry: u64 = expiry.parse().map_err(|_| Unproven::Malformed)?;
        // 32 bytes are 43 characters; anything else is not a MAC of ours.
        if mac.len() != 43 {
            return Err(Unproven::Malformed);
        }
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| Unproven::Malformed)?;
        if expiry.saturating_add(LEEWAY_SECONDS) < now {
            return Err(Unproven::Expired);
        }
        if expiry > now.saturating_add(MAX_LIFETIME.as_secs()) {
            return Err(Unproven::TooLong);
        }
        self.keyed(method, headers, expiry)
            .verify_slice(&mac)
            .map_err(|_| Unproven::Mismatch)
    }

    fn mac(&self, method: &str, headers: &http::HeaderMap, expiry: u64) -> [u8; 32] {
        self.keyed(method, headers, expiry)
            .finalize()
            .into_bytes()
            .into()
    }

    /// The HMAC state after the input: the version, the method, the expiry and each covered
    /// header as absent (1) or present (2, then its value), each part after a zero byte. Header
    /// values can hold no byte below 0x20 but tab, so no two inputs run together.
    fn keyed(
        &self,
        method: &str,
        headers: &http::HeaderMap,
        expiry: u64,
    ) -> hmac::Hmac<sha2::Sha256> {
        let mut mac = self.0.keyed();
        mac.update(b"partnerhub internal call ");
        mac.update(VERSION.as_bytes());
        mac.update(&[0]);
        mac.update(method.as_bytes());
        mac.update(&[0]);
        mac.update(expiry.to_string().as_bytes());
        for name in COVERED {
            mac.update(&[0]);
            match headers.get(name) {
                None => mac.update(&[1]),
                Some(value) => {
                    mac.update(&[2]);
                    mac.update(value.as_bytes());
                }
            }
        }
        mac
    }
}

/// Calls that need no assertion: health and reflection (probes and grpcurl's `list`).
fn open_to_all(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// The tower layer that refuses calls without a good assertion, when the server has a key
/// (the services); without one (the gateway, whose callers are outside) it lets every call
/// through.
#[derive(Clone)]
pub struct Proven<S> {
    inner: S,
    key: Option<InternalKey>,
    server: &'static str,
}

impl<S> Proven<S> {
    pub fn new(inner: S, key: Option<InternalKey>, server: &'static str) -> Self {
        Proven { inner, key, server }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> Service<http::Request<Body>> for Proven<S>
where
    S: Service<http::Request<Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path();
        if let Some(key) = &self.key
            && !open_to_all(path)
            && let Err(why) = key.check(path, request.headers(), unix_now())
        {
            // The caller learns only that it was refused; the log says why, for the operator.
            tracing::warn!(%why, "internal call refused");
            let status = refusal(self.server);
            return Box::pin(std::future::ready(Ok(status.into_http())));
        }
        let answer = self.inner.call(request);
        Box::pin(async move { answer.await.map(|response| response.map(Body::new)) })
    }
}

/// What a call without a good assertion gets: UNAUTHENTICATED, `INTERNAL_CALL_UNPROVEN`.
pub fn refusal(server: &str) -> tonic::Status {
    kit_status(
        tonic::Code::Unauthenticated,
        "this service answers only the partnerhub gateway and services (see `partnerhub \
         internal-credential`)",
        "INTERNAL_CALL_UNPROVEN",
        server,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const METHOD: &str = "/partnerhub.tenants.v1.TenantService/GetTenant";

    fn headers(user: Option<&str>, roles: Option<&str>) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        if let Some(user) = user {
            h.insert(crate::caller::USER_ID, user.parse().unwrap());
        }
        if let Some(roles) = roles {
            h.insert(crate::caller::ROLES, roles.parse().unwrap());
        }
        h
    }

    fn signed(
        key: &InternalKey,
        method: &str,
        h: &http::HeaderMap,
        expiry: u64,
    ) -> http::HeaderMap {
        let mut h = h.clone();
        h.insert(
            ASSERTION,
            key.assertion(method, &h, expiry).parse().unwrap(),
        );
        h
    }

    #[test]
    fn a_signed_call_is_taken_and_a_bare_one_is_not() {
        let key = InternalKey::generate();
        let now = unix_now();
        let mut h = headers(Some("u-1"), Some("ROLE_GLOBAL_ADMIN"));
        key.sign(METHOD, &mut h);
        assert_eq!(key.check(METHOD, &h, now), Ok(()));
        let bare = headers(Some("u-1"), Some("ROLE_GLOBAL_ADMIN"));
        assert_eq!(key.check(METHOD, &bare, now), Err(Unproven::Missing));
    }

    #[test]
    fn an_assertion_holds_only_for_its_key_method_headers_and_time() {
        let key = InternalKey::generate();
        let now = unix_now();
        let h = headers(Some("u-1"), Some("ROLE_USER_ADMIN"));
        let good = signed(&key, METHOD, &h, now + 60);
        assert_eq!(key.check(METHOD, &good, now), Ok(()));
        let other = InternalKey::generate();
        assert_eq!(other.check(METHOD, &good, now), Err(Unproven::Mismatch));
        assert_eq!(
            key.check(
                "/partnerhub.tenants.v1.TenantService/DeleteUser",
                &good,
                now
            ),
            Err(Unproven::Mismatch)
        );
        // Changed, dropped or added caller headers.
        let mut changed = good.clone();
        changed.insert(crate::caller::ROLES, "ROLE_GLOBAL_ADMIN".parse().unwrap());
        assert_eq!(key.check(METHOD, &changed, now), Err(Unproven::Mismatch));
        let mut dropped = good.clone();
        dropped.remove(crate::caller::ROLES);
        assert_eq!(key.check(METHOD, &dropped, now), Err(Unproven::Mismatch));
        let mut added = good.clone();
        added.insert(crate::caller::TENANT_ID, "t-1".parse().unwrap());
        assert_eq!(key.check(METHOD, &added, now), Err(Unproven::Mismatch));
        // An empty roles header is not an absent one (absent: a call between services).
        let empty = signed(&key, METHOD, &headers(None, Some("")), now + 60);
        let mut emptied = empty.clone();
        emptied.remove(crate::caller::ROLES);
        assert_eq!(key.check(METHOD, &empty, now), Ok(()));
        assert_eq!(key.check(METHOD, &emptied, now), Err(Unproven::Mismatch));
        // Time.
        let expired = signed(&key, METHOD, &h, now - LEEWAY_SECONDS - 1);
        assert_eq!(key.check(METHOD, &expired, now), Err(Unproven::Expired));
        let skewed = signed(&key, METHOD, &h, now - 1);
        assert_eq!(key.check(METHOD, &skewed, now), Ok(()));
        let long = signed(&key, METHOD, &h, now + MAX_LIFETIME.as_secs() + 1);
        assert_eq!(key.check(METHOD, &long, now), Err(Unproven::TooLong));
    }

    #[test]
    fn malformed_and_repeated_assertions_are_refused() {
        let key = InternalKey::generate();
        let now = unix_now();
        let h = headers(None, None);
        let good = key.assertion(METHOD, &h, now + 60);
        let mut bad_values = vec![
            String::new(),
            "v1".into(),
            format!("v2{}", &good[2..]),
            good.replacen('.', ".x", 1),
            format!("{good}A"),
            good[..good.len() - 1].to_string(),
            format!("v1.{}.{}", now + 60, "!".repeat(43)),
            format!("v1.-1.{}", &good[good.len() - 43..]),
        ];
        bad_values.push(format!(
            "v1.{}.{}",
            "9".repeat(21),
            &good[good.len() - 43..]
        ));
        for bad in bad_values {
            let mut sent = h.clone();
            sent.insert(ASSERTION, bad.parse().unwrap());
            assert_eq!(
                key.check(METHOD, &sent, now),
                Err(Unproven::Malformed),
                "{bad}"
            );
        }
        let mut twice = h.clone();
        twice.append(ASSERTION, good.parse().unwrap());
        twice.append(ASSERTION, good.parse().unwrap());
        assert_eq!(key.check(METHOD, &twice, now), Err(Unproven::Repeated));
        let mut two_users = signed(&key, METHOD, &headers(Some("a"), None), now + 60);
        two_users.append(crate::caller::USER_ID, "b".parse().unwrap());
        assert_eq!(key.check(METHOD, &two_users, now), Err(Unproven::Repeated));
    }
}
