//! The audit trail as the tenants read it: a change refused in a tenant is that tenant's to see,
//! whoever attempted it, with the caller's tenant and user and nothing else of the caller's.

use partnerhub_proto::gateway::{
    AuditEvent, ListAuditEventsRequest, audit_service_client::AuditServiceClient,
    list_audit_events_request::View,
};
use partnerhub_proto::tenants as pb;
use partnerhub_proto::types::{PartnerType, Role};
use partnerhub_tests::{TestSystem, reason};
use tonic::Code;

async fn trail(sys: &TestSystem, token: &str, tenant: &str, view: View) -> Vec<AuditEvent> {
    AuditServiceClient::new(sys.authed(token))
        .list_audit_events(ListAuditEventsRequest {
            tenant_id: tenant.into(),
            view: view as i32,
            ..Default::default()
        })
        .await
        .expect("ListAuditEvents")
        .into_inner()
        .events
}

/// The signed-in user behind `token`, as its tenant lists it.
async fn global_admin(sys: &TestSystem, token: &str, tenant: &str) -> pb::User {
    sys.tenants(token)
        .list_users(pb::ListUsersRequest {
            tenant_id: tenant.into(),
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner()
        .users
        .into_iter()
        .find(|u| u.roles.contains(&(Role::GlobalAdmin as i32)))
        .expect("the first global admin")
}

fn call_id(status: &tonic::Status) -> String {
    status
        .metadata()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("the refusal's request id")
        .to_string()
}

#[tokio::test]
async fn an_attempt_on_another_tenant_is_in_that_tenants_trail_with_who_made_it() {
    let sys = TestSystem::start().await;
    let (contoso, contoso_admin) = sys.customer_admin("contoso", "SE").await;
    let (skolan, skolan_admin) = sys.customer_admin("skolan", "SE").await;
    let (fabrikam, fabrikam_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (agent, agent_token) = sys
        .user(&fabrikam_admin, &fabrikam.id, "agent", &[Role::AdminAgent])
        .await;
    let attacker = global_admin(&sys, &contoso_admin, &contoso.id).await;
    let target = global_admin(&sys, &skolan_admin, &skolan.id).await;
    // Contoso's own change, which is no business of Skolan's.
    let (_, _) = sys
        .user(&contoso_admin, &contoso.id, "ekonom", &[Role::BillingAdmin])
        .await;

    // Contoso's global admin tries to delete Skolan's; a partner's agent without delegated
    // admin tries to reset its password; the operator tries to make Skolan a user.
    let refused = sys
        .tenants(&contoso_admin)
        .delete_user(pb::DeleteUserRequest {
            tenant_id: skolan.id.clone(),
            user_id: target.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("not its tenant");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "NO_ACCESS_TO_TENANT");
    let by_agent = sys
        .tenants(&agent_token)
        .reset_password(pb::ResetPasswordRequest {
            tenant_id: skolan.id.clone(),
            user_id: target.id.clone(),
        })
        .await
        .expect_err("no delegated admin");
    assert_eq!(reason(&by_agent), "NO_ACCESS_TO_TENANT");
    let by_operator = sys
        .tenants(&sys.operator)
        .create_user(pb::CreateUserRequest {
            tenant_id: skolan.id.clone(),
            user: Some(pb::User {
                user_name: "bakdorr".into(),
                display_name: "Bakdörr".into(),
                ..Default::default()
            }),
            request_id: "x".repeat(10_000),
        })
        .await
        .expect_err("the operator makes no users");
    assert_eq!(reason(&by_operator), "NOT_FOR_OPERATOR");

    // Skolan's trail shows each attempt, who made it and from which tenant.
    let events = trail(&sys, &skolan_admin, &skolan.id, View::InTenant).await;
    let deleted = events
        .iter()
        .find(|e| e.method.ends_with("TenantService/DeleteUser"))
        .expect("the attempt is in the target's trail");
    assert_eq!(deleted.acting_tenant_id, skolan.id);
    assert_eq!(deleted.actor_tenant_id, contoso.id);
    assert_eq!(deleted.user_id, attacker.id);
    assert_eq!(deleted.user_name, attacker.user_name);
    assert_eq!(deleted.resource_id, target.id);
    assert_eq!(deleted.outcome, "PERMISSION_DENIED");
    assert_eq!(deleted.call_id, call_id(&refused), "found in the logs");
    assert!(deleted.relationship_ids.is_empty());
    let reset = events
        .iter()
        .find(|e| e.method.ends_with("TenantService/ResetPassword"))
        .expect("the agent's attempt");
    assert_eq!(
        (reset.actor_tenant_id.as_str(), reset.user_id.as_str()),
        (fabrikam.id.as_str(), agent.id.as_str())
    );
    assert!(
        reset.relationship_ids.is_empty(),
        "none of its partner's relationships"
    );
    let created = events
        .iter()
        .find(|e| e.method.ends_with("TenantService/CreateUser"))
        .expect("the operator's attempt");
    assert_eq!(created.user_name, "operator");
    assert_eq!(created.outcome, "PERMISSION_DENIED");
    assert!(
        created.request_id.chars().count() <= 65,
        "what a caller sends is kept short: {} characters",
        created.request_id.chars().count()
    );
    // Nothing else of the others: only the attempts refused in Skolan name another tenant.
    for event in &events {
        assert!(
            event.actor_tenant_id == skolan.id || event.outcome == "PERMISSION_DENIED",
            "{event:?}"
        );
    }

    // Contoso finds the attempt among what its users did, not among what happened in it.
    let by_users = trail(&sys, &contoso_admin, &contoso.id, View::ByTenantUsers).await;
    assert!(
        by_users
            .iter()
            .any(|e| e.method.ends_with("DeleteUser") && e.acting_tenant_id == skolan.id)
    );
    let in_contoso = trail(&sys, &contoso_admin, &contoso.id, View::InTenant).await;
    assert!(in_contoso.iter().all(|e| e.acting_tenant_id == contoso.id));
    assert!(
        in_contoso.iter().any(|e| e.method.ends_with("CreateUser")),
        "its own change"
    );

    // The trail stays its global admins' (and the operator's).
    let status = AuditServiceClient::new(sys.authed(&contoso_admin))
        .list_audit_events(ListAuditEventsRequest {
            tenant_id: skolan.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("another tenant's trail");
    assert_eq!(status.code(), Code::PermissionDenied);
    let seen_by_operator = trail(&sys, &sys.operator, &skolan.id, View::InTenant).await;
    assert_eq!(seen_by_operator.len(), events.len());
    sys.stop().await;
}
