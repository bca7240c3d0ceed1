//! Services take calls only from the gateway and each other: a call straight to a service's port
//! must carry an assertion made with the internal key, for that method and the caller headers it
//! carries, and not yet expired. Health and reflection need none.

use partnerhub_kit::caller;
use partnerhub_kit::internal_call::{ASSERTION, InternalKey, unix_now};
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use partnerhub_proto::tenants::{GetTenantRequest, ListUsersRequest};
use partnerhub_tests::{TestSystem, reason, scrape};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1;

const GET_TENANT: &str = "/partnerhub.tenants.v1.TenantService/GetTenant";
const LIST_USERS: &str = "/partnerhub.tenants.v1.TenantService/ListUsers";

/// Caller headers as the gateway sets them for a customer's admin.
fn caller_headers(user_id: &str, tenant_id: &str, roles: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        (caller::USER_ID, user_id),
        (caller::TENANT_ID, tenant_id),
        (caller::ROLES, roles),
    ] {
        headers.insert(name, value.parse().expect("header value"));
    }
    headers
}

/// `GetTenant` straight to the tenants service with these headers and assertion (if any).
async fn get_tenant(
    sys: &TestSystem,
    tenant_id: &str,
    headers: &http::HeaderMap,
    assertion: Option<String>,
) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(GetTenantRequest {
        tenant_id: tenant_id.into(),
    });
    let mut all = headers.clone();
    if let Some(assertion) = assertion {
        all.insert(ASSERTION, assertion.parse().expect("header value"));
    }
    *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(all);
    TenantServiceClient::new(sys.unproven_service("tenants").await)
        .get_tenant(request)
        .await
        .map(|_| ())
}

fn assert_unproven(answer: Result<(), tonic::Status>, what: &str) {
    let status = answer.expect_err(what);
    assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}");
    assert_eq!(reason(&status), "INTERNAL_CALL_UNPROVEN", "{what}");
    // Nothing about what was expected.
    assert!(!status.message().contains("expire"), "{what}: {status:?}");
    assert!(!status.message().contains("mac"), "{what}: {status:?}");
}

#[tokio::test]
async fn a_call_straight_to_a_service_is_refused_unless_it_proves_it_comes_from_inside() {
    let sys = TestSystem::start().await;
    let (tenant, _) = sys.customer_admin("proof", "SE").await;
    let key = sys.internal_key().clone();
    let headers = caller_headers("u-1", &tenant.id, "ROLE_GLOBAL_ADMIN");
    let in_a_minute = unix_now() + 60;

    // Properly made, it is answered: the refusals below are about the assertion alone.
    let good = key.assertion(GET_TENANT, &headers, in_a_minute);
    get_tenant(&sys, &tenant.id, &headers, Some(good.clone()))
        .await
        .expect("a proven call is answered");

    // Forged: caller headers and nothing to prove them.
    assert_unproven(
        get_tenant(&sys, &tenant.id, &headers, None).await,
        "no assertion",
    );
    // Made with another key.
    let forged = InternalKey::generate().assertion(GET_TENANT, &headers, in_a_minute);
    assert_unproven(
        get_tenant(&sys, &tenant.id, &headers, Some(forged)).await,
        "another key",
    );
    // Expired (beyond the few seconds allowed for clocks that differ).
    let old = key.assertion(GET_TENANT, &headers, unix_now() - 60);
    assert_unproven(
        get_tenant(&sys, &tenant.id, &headers, Some(old)).await,
        "expired",
    );
    // Made for another method.
    let elsewhere = key.assertion(LIST_USERS, &headers, in_a_minute);
    assert_unproven(
        get_tenant(&sys, &tenant.id, &headers, Some(elsewhere)).await,
        "another method",
    );
    // Caller headers changed after it was made: more roles, or none (a service's call).
    let mut promoted = caller_headers("u-1", &tenant.id, "ROLE_HELPDESK_ADMIN");
    let humble = key.assertion(GET_TENANT, &promoted, in_a_minute);
    promoted.insert(caller::ROLES, "ROLE_GLOBAL_ADMIN".parse().expect("value"));
    assert_unproven(
        get_tenant(&sys, &tenant.id, &promoted, Some(humble)).await,
        "roles changed",
    );
    let mut system = headers.clone();
    system.remove(caller::ROLES);
    assert_unproven(
        get_tenant(&sys, &tenant.id, &system, Some(good.clone())).await,
        "roles dropped",
    );
    // Garbage.
    assert_unproven(
        get_tenant(&sys, &tenant.id, &headers, Some("v1.1.abc".into())).await,
        "malformed",
    );

    // The same method with the harness's proof, and through the gateway, still works.
    let mut direct = TenantServiceClient::new(sys.service("tenants").await);
    direct
        .get_tenant(GetTenantRequest {
            tenant_id: tenant.id.clone(),
        })
        .await
        .expect("a call proven by the harness");
    sys.tenants(&sys.operator)
        .list_users(ListUsersRequest {
            tenant_id: tenant.id.clone(),
            ..Default::default()
        })
        .await
        .expect("through the gateway");
    sys.stop().await;
}

#[tokio::test]
async fn refusals_are_counted_in_the_services_metrics() {
    let sys = TestSystem::start().await;
    let headers = caller_headers("u-1", "t-1", "ROLE_GLOBAL_ADMIN");
    assert_unproven(
        get_tenant(&sys, &uuid::Uuid::now_v7().to_string(), &headers, None).await,
        "no assertion",
    );
    let tenants_metrics = sys.metrics[1];
    let text = scrape(tenants_metrics).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("grpc_server_handled_total")
                && l.contains("Unauthenticated")
                && l.contains("GetTenant")),
        "{text}"
    );
    sys.stop().await;
}

#[tokio::test]
async fn health_and_reflection_answer_without_proof() {
    let sys = TestSystem::start().await;
    for name in partnerhub::system::SERVICES {
        let channel = sys.unproven_service(name).await;
        let status = HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{name}");
        let request = v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
        };
        let answer = v1::server_reflection_client::ServerReflectionClient::new(channel)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("reflection")
            .into_inner()
            .next()
            .await
            .expect("an answer")
            .expect("ok");
        assert!(answer.message_response.is_some(), "{name}");
    }
    sys.stop().await;
}
