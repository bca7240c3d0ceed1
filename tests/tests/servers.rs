//! Every server answers health and reflection; the gateway shows only the public contract and
//! refuses internal methods.

use partnerhub_proto::tenants::GetPrincipalRequest;
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_tests::{TestSystem, reason};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::{v1, v1alpha};

async fn listed_v1(channel: tonic::transport::Channel) -> Vec<String> {
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1")
        .into_inner();
    match stream
        .next()
        .await
        .expect("an answer")
        .expect("ok")
        .message_response
    {
        Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected answer {other:?}"),
    }
}

async fn listed_v1alpha(channel: tonic::transport::Channel) -> Vec<String> {
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1alpha")
        .into_inner();
    match stream
        .next()
        .await
        .expect("an answer")
        .expect("ok")
        .message_response
    {
        Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected answer {other:?}"),
    }
}

async fn file_containing(channel: tonic::transport::Channel, symbol: &str) -> bool {
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(symbol.into()),
        ),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection")
        .into_inner();
    matches!(
        stream
            .next()
            .await
            .expect("an answer")
            .expect("ok")
            .message_response,
        Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
    )
}

#[tokio::test]
async fn every_server_answers_health_and_both_reflection_versions() {
    let sys = TestSystem::start().await;
    let mut servers = vec![("gateway", sys.channel())];
    for name in partnerhub::system::SERVICES {
        servers.push((name, sys.unproven_service(name).await));
    }
    for (name, channel) in servers {
        let health = HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("{name} health: {e}"))
            .into_inner();
        assert_eq!(health.status, ServingStatus::Serving as i32, "{name}");
        let v1 = listed_v1(channel.clone()).await;
        let v1alpha = listed_v1alpha(channel.clone()).await;
        assert_eq!(
            v1, v1alpha,
            "{name}: both reflection versions list the same services"
        );
        assert!(
            v1.contains(&"grpc.health.v1.Health".to_string()),
            "{name}: {v1:?}"
        );
        // grpcurl 1.8 decodes error details only if google.rpc is known to reflection.
        assert!(
            file_containing(channel, "google.rpc.BadRequest").await,
            "{name}: google.rpc descriptors"
        );
    }
    let tenants = listed_v1(sys.unproven_service("tenants").await).await;
    assert!(tenants.contains(&"partnerhub.tenants.v1.TenantInternalService".to_string()));
    assert!(
        !tenants
            .iter()
            .any(|s| s.starts_with("partnerhub.subscriptions")),
        "{tenants:?}"
    );
    sys.stop().await;
}

#[tokio::test]
async fn the_gateway_shows_the_public_contract_only() {
    let sys = TestSystem::start().await;
    let listed = listed_v1alpha(sys.channel()).await;
    for public in [
        "partnerhub.gateway.v1.AuthService",
        "partnerhub.gateway.v1.WorkflowService",
        "partnerhub.tenants.v1.TenantService",
        "partnerhub.subscriptions.v1.SubscriptionService",
        "partnerhub.relationships.v1.RelationshipService",
        "partnerhub.invitations.v1.InvitationService",
        "partnerhub.support.v1.SupportService",
    ] {
        assert!(
            listed.contains(&public.to_string()),
            "{public} missing from {listed:?}"
        );
    }
    assert!(!listed.iter().any(|s| s.contains("Internal")), "{listed:?}");
    sys.stop().await;
}

#[tokio::test]
async fn internal_methods_are_refused_at_the_gateway_even_for_the_operator() {
    let sys = TestSystem::start().await;
    let mut internal = TenantInternalServiceClient::new(sys.authed(&sys.operator));
    let status = internal
        .get_principal(GetPrincipalRequest {
            user_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "INTERNAL_METHOD");
    sys.stop().await;
}

/// Every TCP connection of this process whose either end is one of `ports`: (local, peer,
/// TCP_NODELAY). The test servers run in this process, so both ends of each call are here.
fn connections_of(ports: &[u16]) -> Vec<(std::net::SocketAddr, std::net::SocketAddr, bool)> {
    use std::os::fd::{BorrowedFd, RawFd};
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let entry = entry.expect("fd entry");
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
        else {
            continue;
        };
        if !is_socket {
            continue;
        }
        // SAFETY: the fd was open a moment ago; a duplicate is taken at once, and a fd closed
        // in between only makes the duplicate fail.
        let Ok(owned) = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned() else {
            continue;
        };
        let stream = std::net::TcpStream::from(owned);
        let (Ok(local), Ok(peer), Ok(nodelay)) =
            (stream.local_addr(), stream.peer_addr(), stream.nodelay())
        else {
            continue; // a listener, or not a TCP socket
        };
        if ports.contains(&local.port()) || ports.contains(&peer.port()) {
            found.push((local, peer, nodelay));
        }
    }
    found
}

// Without TCP_NODELAY a small answer waits for the peer's delayed ACK: ~40 ms a call instead
// of ~0.1 ms. It must be on at both ends of every hop: caller → gateway → service.
#[tokio::test]
async fn every_connection_between_servers_sends_small_messages_at_once() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys
        .partner_admin(
            "nagle",
            "7100001",
            &[partnerhub_proto::types::PartnerType::DirectProvider],
        )
        .await;
    sys.tenants(&admin)
        .get_tenant(partnerhub_proto::tenants::GetTenantRequest {
            tenant_id: partner.id.clone(),
        })
        .await
        .expect("GetTenant through the gateway");
    let mut ports = vec![sys.gateway.port()];
    ports.extend(sys.services.iter().map(|a| a.port()));
    let connections = connections_of(&ports);
    for port in [sys.gateway.port(), sys.services[0].port()] {
        assert!(
            connections.iter().any(|(local, _, _)| local.port() == port),
            "no connection accepted on {port}: {connections:?}"
        );
    }
    let slow: Vec<_> = connections.iter().filter(|(_, _, on)| !on).collect();
    assert!(slow.is_empty(), "without TCP_NODELAY: {slow:?}");
    sys.stop().await;
}

#[tokio::test]
async fn a_servers_postgresql_pool_holds_the_connections_it_is_told_and_sqlite_keeps_one() {
    use partnerhub::system::{Server, Service};
    let sys = TestSystem::start().await;
    let server = Server::Service(Service::Relationships);
    let url = sys.database_url(server);
    let db = server
        .open_database_with(&url, 3)
        .await
        .expect("opened with a pool of 3");
    let expected = match db.backend {
        partnerhub_kit::store::Backend::Postgres => 3,
        // One writer at a time: one connection whatever the setting.
        partnerhub_kit::store::Backend::Sqlite => 1,
    };
    assert_eq!(db.pool.options().get_max_connections(), expected);
    let default = server.open_database(&url).await.expect("opened");
    assert_eq!(
        default.pool.options().get_max_connections(),
        match db.backend {
            partnerhub_kit::store::Backend::Postgres => partnerhub_kit::store::DEFAULT_POOL_SIZE,
            partnerhub_kit::store::Backend::Sqlite => 1,
        }
    );
    db.pool.close().await;
    default.pool.close().await;
    sys.stop().await;
}
