//! Signing keys: tokens name their key (`kid`), the gateway publishes its public keys (JWKS on its
//! HTTP port, `AuthService.ListPublicKeys`), and the signing key rotates without signing anyone
//! out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::Signer;
use partnerhub_gateway::Tokens;
use partnerhub_gateway::token::ensure_key_file;
use partnerhub_proto::gateway::auth_service_client::AuthServiceClient;
use partnerhub_proto::gateway::{ListPublicKeysRequest, SignInRequest};
use partnerhub_proto::tenants::GetTenantRequest;
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use partnerhub_proto::types::PartnerType;
use partnerhub_tests::{Bearer, NEW_PASSWORD, TestSystem, reason};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The `kid` in a token's header.
fn kid(token: &str) -> String {
    let header = token.split('.').next().expect("a header");
    let header: serde_json::Value =
        serde_json::from_slice(&B64.decode(header).expect("base64url")).expect("JSON");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "JWT");
    header["kid"].as_str().expect("a kid").to_string()
}

/// GET `path` from `addr` over plain HTTP/1.1; the body.
async fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("HTTP port");
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("response");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .expect("a body")
}

/// The kids of the JWKS document at the gateway's HTTP port, each checked to be a signing
/// Ed25519 JWK.
async fn jwks_kids(metrics: SocketAddr) -> Vec<String> {
    let jwks: serde_json::Value =
        serde_json::from_str(&get(metrics, "/.well-known/jwks.json").await).expect("JSON");
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            assert_eq!(
                (&k["kty"], &k["crv"], &k["use"], &k["alg"]),
                (
                    &"OKP".into(),
                    &"Ed25519".into(),
                    &"sig".into(),
                    &"EdDSA".into()
                )
            );
            k["kid"].as_str().expect("kid").to_string()
        })
        .collect()
}

/// The kids `ListPublicKeys` answers (with no token), with whether each signs.
async fn listed_kids(channel: Channel) -> Vec<(String, bool)> {
    AuthServiceClient::new(channel)
        .list_public_keys(ListPublicKeysRequest {})
        .await
        .expect("ListPublicKeys needs no token")
        .into_inner()
        .keys
        .into_iter()
        .map(|k| (k.kid, k.signing))
        .collect()
}

fn tenants(
    channel: &Channel,
    token: &str,
) -> TenantServiceClient<InterceptedService<Channel, Bearer>> {
    TenantServiceClient::new(InterceptedService::new(channel.clone(), Bearer::new(token)))
}

/// Reads `tenant_id` with `token` at the gateway on `channel`.
async fn read_tenant(channel: &Channel, token: &str, tenant_id: &str) -> Result<(), tonic::Status> {
    tenants(channel, token)
        .get_tenant(GetTenantRequest {
            tenant_id: tenant_id.into(),
        })
        .await
        .map(|_| ())
}

fn new_key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    assert!(ensure_key_file(&path).expect("a new key"));
    path
}

#[tokio::test]
async fn a_rotated_signing_key_keeps_old_tokens_working_until_it_is_retired() {
    let sys = TestSystem::start().await;
    let enrolled = sys
        .create_partner("rotera", "7300001", &[PartnerType::IndirectProvider])
        .await;
    let tenant = enrolled.tenant.id.clone();
    let user = enrolled.admin_user_name.clone();
    // Signed with the system's key, A.
    let token_a = sys.activate_user(&user, &enrolled.temporary_password).await;
    let key_a = sys.data_dir().join("signing-key.pem");
    let kid_a = kid(&token_a);
    assert_eq!(kid_a, sys.tokens().signing_kid());
    assert_eq!(
        jwks_kids(sys.metrics[0]).await,
        std::slice::from_ref(&kid_a)
    );
    assert_eq!(listed_kids(sys.channel()).await, [(kid_a.clone(), true)]);

    // The gateway restarts signing with B and still accepting A.
    let dir = tempfile::tempdir().expect("temporary folder");
    let key_b = new_key(dir.path(), "b.pem");
    let lifetime = Duration::from_secs(600);
    let rotated = sys
        .gateway_with_keys(Tokens::from_files(&key_b, &[key_a], lifetime).expect("keys"))
        .await;
    read_tenant(&rotated.channel, &token_a, &tenant)
        .await
        .expect("a token signed with A still works");
    let token_b = AuthServiceClient::new(rotated.channel.clone())
        .sign_in(SignInRequest {
            user_name: user.clone(),
            password: NEW_PASSWORD.into(),
            second_factor_code: String::new(),
        })
        .await
        .expect("sign in")
        .into_inner()
        .access_token;
    let kid_b = kid(&token_b);
    assert_ne!(kid_b, kid_a, "new tokens carry B's kid");
    read_tenant(&rotated.channel, &token_b, &tenant)
        .await
        .expect("a token signed with B works");
    assert_eq!(
        jwks_kids(rotated.metrics).await,
        [kid_b.clone(), kid_a.clone()]
    );
    assert_eq!(
        listed_kids(rotated.channel.clone()).await,
        [(kid_b.clone(), true), (kid_a.clone(), false)]
    );

    // Once A is retired, A's tokens are refused and B's work.
    rotated.stop();
    let retired = sys
        .gateway_with_keys(Tokens::from_files(&key_b, &[], lifetime).expect("keys"))
        .await;
    let status = read_tenant(&retired.channel, &token_a, &tenant)
        .await
        .expect_err("A is retired");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "TOKEN_INVALID");
    read_tenant(&retired.channel, &token_b, &tenant)
        .await
        .expect("a token signed with B works");
    assert_eq!(
        jwks_kids(retired.metrics).await,
        std::slice::from_ref(&kid_b)
    );
    assert_eq!(listed_kids(retired.channel.clone()).await, [(kid_b, true)]);
    sys.stop().await;
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_refused_even_under_a_known_kid() {
    let sys = TestSystem::start().await;
    let (known, _) = sys.tokens().issue_operator(Duration::from_secs(600));
    assert!(
        read_tenant(&sys.channel(), &known, &uuid::Uuid::new_v4().to_string())
            .await
            .is_err_and(|s| s.code() == Code::NotFound),
        "the gateway's own token is taken"
    );
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    // The gateway's kid and claims, signed by another key.
    let (signed, _) = known.rsplit_once('.').expect("a JWS");
    let forged = format!(
        "{signed}.{}",
        B64.encode(stranger.sign(signed.as_bytes()).to_bytes())
    );
    // A whole token of another key (its own kid, unknown here).
    let dir = tempfile::tempdir().expect("temporary folder");
    let other = Tokens::from_files(&new_key(dir.path(), "c.pem"), &[], Duration::from_secs(600))
        .expect("key");
    let (unknown_kid, _) = other.issue_operator(Duration::from_secs(600));
    assert_ne!(kid(&unknown_kid), kid(&known));
    for token in [forged, unknown_kid] {
        let status = read_tenant(&sys.channel(), &token, &uuid::Uuid::new_v4().to_string())
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(reason(&status), "TOKEN_INVALID");
    }
    sys.stop().await;
}
