//! TLS end to end: a client verifies the gateway with the CA, the gateway calls the services and
//! the services each other over TLS, and a renewed certificate is served to new connections.

use partnerhub::system::TlsSettings;
use partnerhub_kit::tls::{ClientTls, ServerTlsFiles};
use partnerhub_proto::invitations::{self as inv, InvitationKind};
use partnerhub_proto::tenants::GetTenantRequest;
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use partnerhub_proto::types::PartnerType;
use partnerhub_tests::{Bearer, TestSystem, connect_tls};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::path::Path;
use std::time::{Duration, Instant};

/// A CA: its certificate (PEM) and what signs with it.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A server certificate for localhost and 127.0.0.1 signed by `ca`: (certificate, key) PEM.
fn leaf(ca: &Ca) -> (String, String) {
    let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("params");
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &ca.issuer).expect("signed");
    (cert.pem(), key.serialize_pem())
}

/// Replaces `path` at once (as a renewal would: a new file moved into place).
fn put(path: &Path, text: &str) {
    let new = path.with_extension("new");
    std::fs::write(&new, text).expect("write");
    std::fs::rename(&new, path).expect("rename");
}

fn verifying(dir: &Path, ca: &Ca, file: &str) -> ClientTls {
    let path = dir.join(file);
    std::fs::write(&path, &ca.pem).expect("write");
    ClientTls::load(&path, None).expect("the CA file")
}

#[tokio::test]
async fn the_whole_system_runs_over_tls_and_serves_a_renewed_certificate() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let first = ca("partnerhub test CA 1");
    let (cert, key) = leaf(&first);
    let files = ServerTlsFiles {
        cert: dir.path().join("server.pem"),
        key: dir.path().join("server-key.pem"),
    };
    put(&files.cert, &cert);
    put(&files.key, &key);
    let first_ca = verifying(dir.path(), &first, "ca-1.pem");
    let tls = TlsSettings {
        server: Some(files.clone()),
        ca: Some(dir.path().join("ca-1.pem")),
        server_name: None,
        reload_every: Duration::from_millis(100),
    };
    let sys = TestSystem::start_with(tls, Some(first_ca.clone())).await;

    // The gateway over TLS, the services behind it over TLS: enrolling a partner and signing
    // its admin in are gateway → tenants calls; an invitation is gateway → invitations →
    // tenants (the inviter is checked there).
    let (partner, token) = sys
        .partner_admin("tlsab", "5550001", &[PartnerType::DirectProvider])
        .await;
    let created = sys
        .invite(
            &token,
            inv::Invitation {
                kind: InvitationKind::ResellerRelationship as i32,
                inviter_tenant_id: partner.id.clone(),
                invitee_email: "maja@skolan.example".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(!created.code.is_empty());

    // A plaintext client gets nowhere.
    let plain = tonic::transport::Channel::from_shared(format!("http://{}", sys.gateway))
        .expect("uri")
        .connect()
        .await;
    if let Ok(plain) = plain {
        let answer = TenantServiceClient::with_interceptor(plain, Bearer::new(&token))
            .get_tenant(GetTenantRequest {
                tenant_id: partner.id.clone(),
            })
            .await;
        assert!(answer.is_err(), "a plaintext call to a TLS server");
    }
    // Nor does one that trusts another CA.
    let second = ca("partnerhub test CA 2");
    let second_ca = verifying(dir.path(), &second, "ca-2.pem");
    assert!(connect_tls(sys.gateway, &second_ca).await.is_err());

    // The certificate is renewed by another CA: new connections get it, soon.
    let (cert, key) = leaf(&second);
    put(&files.key, &key);
    put(&files.cert, &cert);
    let deadline = Instant::now() + Duration::from_secs(20);
    let renewed = loop {
        if let Ok(channel) = connect_tls(sys.gateway, &second_ca).await {
            break channel;
        }
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not served within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    TenantServiceClient::with_interceptor(renewed, Bearer::new(&token))
        .get_tenant(GetTenantRequest {
            tenant_id: partner.id.clone(),
        })
        .await
        .expect("a call over a connection with the renewed certificate");
    assert!(
        connect_tls(sys.gateway, &first_ca).await.is_err(),
        "the old certificate is no longer served"
    );
    sys.stop().await;
}
