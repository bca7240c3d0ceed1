//! Seeds 004 and 001 through the gateway: a partner asks a customer for a reseller relationship
//! (with or without delegated admin), the customer reviews and accepts, sees its partners, and
//! removes their admin roles; delegated access follows.

use partnerhub_proto::gateway::AcceptInvitationRequest;
use partnerhub_proto::invitations::{
    self as inv, CreateInvitationRequest, DelegatedAdminRequest, Invitation, InvitationKind,
};
use partnerhub_proto::relationships::{self as rel, RelationshipType};
use partnerhub_proto::tenants as pb;
use partnerhub_proto::types::{Cloud, PartnerType, Role};
use partnerhub_tests::{TestSystem, contact, reason};
use std::time::Duration;
use tonic::Code;

const DAY: Duration = Duration::from_secs(86_400);

/// The partner asks for a reseller relationship, optionally with delegated admin; returns the
/// invitation and its code.
async fn invite(
    sys: &TestSystem,
    token: &str,
    partner: &pb::Tenant,
    delegated_admin: Option<DelegatedAdminRequest>,
) -> (Invitation, String, inv::CreateInvitationResponse) {
    let answer = sys
        .invitations(token)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: InvitationKind::ResellerRelationship as i32,
                inviter_tenant_id: partner.id.clone(),
                invitee_email: "maja@example.com".into(),
                delegated_admin,
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("CreateInvitation")
        .into_inner();
    (
        answer.invitation.clone().expect("invitation"),
        answer.code.clone(),
        answer,
    )
}

fn accept(customer: &pb::Tenant, code: &str, signer: bool) -> AcceptInvitationRequest {
    AcceptInvitationRequest {
        code: code.into(),
        tenant_id: customer.id.clone(),
        agreement_signer: signer.then(|| contact("Maja", "Ek")),
        request_id: String::new(),
        ..Default::default()
    }
}

fn dap() -> Option<DelegatedAdminRequest> {
    Some(DelegatedAdminRequest::default())
}

async fn partners_page(
    sys: &TestSystem,
    token: &str,
    customer: &pb::Tenant,
) -> Vec<rel::CustomerPartner> {
    sys.relationships(token)
        .list_partners_of_customer(rel::ListPartnersOfCustomerRequest {
            customer_tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListPartnersOfCustomer")
        .into_inner()
        .partners
}

fn types_of(row: &rel::CustomerPartner) -> Vec<RelationshipType> {
    row.types
        .iter()
        .filter_map(|t| RelationshipType::try_from(*t).ok())
        .collect()
}

async fn list_users(
    sys: &TestSystem,
    token: &str,
    tenant: &pb::Tenant,
) -> Result<Vec<pb::User>, tonic::Status> {
    sys.tenants(token)
        .list_users(pb::ListUsersRequest {
            tenant_id: tenant.id.clone(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().users)
}

#[tokio::test]
async fn a_customer_accepts_a_reseller_relationship_with_delegated_admin_and_later_removes_the_roles()
 {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;

    // "There is nothing here" before any partner.
    assert!(
        partners_page(&sys, &customer_admin, &customer)
            .await
            .is_empty()
    );

    let (invitation, code, created) = invite(&sys, &partner_admin, &partner, dap()).await;
    assert!(created.url.contains(&code), "the link carries the code");
    let draft = created.email_draft.expect("draft");
    assert!(
        draft.body.contains(&created.url),
        "the draft carries the link"
    );

    // The customer sees who invites and what is asked before accepting.
    let preview = sys
        .invitations(&customer_admin)
        .preview_invitation(inv::PreviewInvitationRequest { code: code.clone() })
        .await
        .expect("PreviewInvitation")
        .into_inner()
        .preview
        .expect("preview");
    assert_eq!(preview.inviter_display_name, partner.display_name);
    let asked = preview.delegated_admin.expect("delegated admin is asked");
    let mut roles = asked.roles.clone();
    roles.sort();
    assert!(
        roles.is_empty() || roles == [Role::GlobalAdmin as i32, Role::HelpdeskAdmin as i32],
        "{roles:?}"
    );

    // Without the customer agreement there is no acceptance.
    let status = sys
        .workflows(&customer_admin)
        .accept_invitation(accept(&customer, &code, false))
        .await
        .expect_err("agreement");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "AGREEMENT_NOT_ACCEPTED")
    );

    let accepted = sys
        .workflows(&customer_admin)
        .accept_invitation(accept(&customer, &code, true))
        .await
        .expect("AcceptInvitation")
        .into_inner();
    assert!(
        accepted.agreement.is_some(),
        "the agreement was accepted in this call"
    );
    let kinds: Vec<i32> = accepted.relationships.iter().map(|r| r.r#type).collect();
    assert_eq!(
        kinds,
        [
            RelationshipType::Reseller as i32,
            RelationshipType::DelegatedAdmin as i32
        ]
    );

    // Seed 001's page: one row, "Reseller & delegated admin".
    let page = partners_page(&sys, &customer_admin, &customer).await;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].partner_tenant_id, partner.id);
    assert_eq!(page[0].partner_display_name, partner.display_name);
    assert_eq!(
        types_of(&page[0]),
        [RelationshipType::Reseller, RelationshipType::DelegatedAdmin]
    );

    // The partner sees the customer and the accepted invitation.
    let seen = sys
        .relationships(&partner_admin)
        .list_relationships(rel::ListRelationshipsRequest {
            partner_tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListRelationships")
        .into_inner()
        .relationships;
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|r| r.client_tenant_id == customer.id));
    let now = sys
        .invitations(&partner_admin)
        .get_invitation(inv::GetInvitationRequest {
            inviter_tenant_id: partner.id.clone(),
            invitation_id: invitation.id.clone(),
        })
        .await
        .expect("GetInvitation")
        .into_inner()
        .invitation
        .expect("invitation");
    assert_eq!(now.state, inv::invitation::State::Accepted as i32);

    // The customer removes the partner's admin roles: the reseller stays.
    let removed = sys
        .relationships(&customer_admin)
        .remove_admin_roles(rel::RemoveAdminRolesRequest {
            customer_tenant_id: customer.id.clone(),
            partner_tenant_id: partner.id.clone(),
        })
        .await
        .expect("RemoveAdminRoles")
        .into_inner();
    assert_eq!(removed.removed.len(), 1);
    assert_eq!(
        removed
            .remaining
            .iter()
            .map(|r| r.r#type)
            .collect::<Vec<_>>(),
        [RelationshipType::Reseller as i32]
    );
    let page = partners_page(&sys, &customer_admin, &customer).await;
    assert_eq!(types_of(&page[0]), [RelationshipType::Reseller]);
    sys.stop().await;
}

#[tokio::test]
async fn without_delegated_admin_the_partner_is_a_reseller_with_no_rights_in_the_tenant() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (_, agent) = sys
        .user(&partner_admin, &partner.id, "agent", &[Role::AdminAgent])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let (_, code, _) = invite(&sys, &partner_admin, &partner, None).await;
    let accepted = sys
        .workflows(&customer_admin)
        .accept_invitation(accept(&customer, &code, true))
        .await
        .expect("AcceptInvitation")
        .into_inner();
    assert_eq!(accepted.relationships.len(), 1);
    let page = partners_page(&sys, &customer_admin, &customer).await;
    assert_eq!(types_of(&page[0]), [RelationshipType::Reseller]);
    let status = list_users(&sys, &agent, &customer)
        .await
        .expect_err("no delegated admin");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "NO_ACCESS_TO_TENANT")
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_customer_cannot_end_a_reseller_relationship_the_reseller_must() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let (_, code, _) = invite(&sys, &partner_admin, &partner, None).await;
    let accepted = sys
        .workflows(&customer_admin)
        .accept_invitation(accept(&customer, &code, true))
        .await
        .expect("accept")
        .into_inner();
    let reseller = accepted.relationships[0].clone();

    let status = sys
        .relationships(&customer_admin)
        .terminate_relationship(rel::TerminateRelationshipRequest {
            tenant_id: customer.id.clone(),
            relationship_id: reseller.id.clone(),
        })
        .await
        .expect_err("the customer can't");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "RESELLER_RELATIONSHIP_CUSTOMER_CANNOT_END");
    assert!(
        status.message().contains("reseller"),
        "{}",
        status.message()
    );

    let ended = sys
        .relationships(&partner_admin)
        .terminate_relationship(rel::TerminateRelationshipRequest {
            tenant_id: partner.id.clone(),
            relationship_id: reseller.id.clone(),
        })
        .await
        .expect("the reseller can")
        .into_inner()
        .relationship
        .expect("relationship");
    assert_eq!(ended.state, rel::relationship::State::Terminated as i32);
    assert!(
        partners_page(&sys, &customer_admin, &customer)
            .await
            .is_empty()
    );
    sys.stop().await;
}

#[tokio::test]
async fn only_a_global_admin_of_a_customer_accepts() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let (_, user_admin) = sys
        .user(&customer_admin, &customer.id, "anna", &[Role::UserAdmin])
        .await;
    let (_, code, _) = invite(&sys, &partner_admin, &partner, dap()).await;

    let status = sys
        .workflows(&user_admin)
        .accept_invitation(accept(&customer, &code, true))
        .await
        .expect_err("user admin");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "ROLE_REQUIRED")
    );
    // A partner's own global admin can't accept for its own (partner) tenant.
    let mut own = accept(&customer, &code, true);
    own.tenant_id = partner.id.clone();
    let status = sys
        .workflows(&partner_admin)
        .accept_invitation(own)
        .await
        .expect_err("a partner");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "NOT_A_CUSTOMER")
    );
    // Nor for the customer.
    let status = sys
        .workflows(&partner_admin)
        .accept_invitation(accept(&customer, &code, true))
        .await
        .expect_err("not its tenant");
    assert_eq!(status.code(), Code::PermissionDenied);
    // The invitation is still there for the customer's global admin.
    sys.workflows(&customer_admin)
        .accept_invitation(accept(&customer, &code, true))
        .await
        .expect("the global admin accepts");
    sys.stop().await;
}

#[tokio::test]
async fn declined_revoked_expired_and_used_invitations_cannot_be_accepted() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let (other, other_admin) = sys.customer_admin("annanskola", "SE").await;
    let refused = |status: tonic::Status, expected: &str| {
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::FailedPrecondition, expected),
            "{}",
            status.message()
        );
    };

    let (_, declined, _) = invite(&sys, &partner_admin, &partner, None).await;
    sys.invitations(&customer_admin)
        .decline_invitation(inv::DeclineInvitationRequest {
            code: declined.clone(),
            tenant_id: customer.id.clone(),
        })
        .await
        .expect("DeclineInvitation");
    refused(
        sys.workflows(&customer_admin)
            .accept_invitation(accept(&customer, &declined, true))
            .await
            .expect_err("declined"),
        "INVITATION_DECLINED",
    );

    let (revoked_invitation, revoked, _) = invite(&sys, &partner_admin, &partner, None).await;
    sys.invitations(&partner_admin)
        .revoke_invitation(inv::RevokeInvitationRequest {
            inviter_tenant_id: partner.id.clone(),
            invitation_id: revoked_invitation.id.clone(),
        })
        .await
        .expect("RevokeInvitation");
    refused(
        sys.workflows(&customer_admin)
            .accept_invitation(accept(&customer, &revoked, true))
            .await
            .expect_err("revoked"),
        "INVITATION_REVOKED",
    );

    let (_, expiring, _) = invite(&sys, &partner_admin, &partner, None).await;
    sys.clock.advance(91 * DAY);
    refused(
        sys.workflows(&customer_admin)
            .accept_invitation(accept(&customer, &expiring, true))
            .await
            .expect_err("expired"),
        "INVITATION_EXPIRED",
    );

    let (_, used, _) = invite(&sys, &partner_admin, &partner, None).await;
    sys.workflows(&customer_admin)
        .accept_invitation(accept(&customer, &used, true))
        .await
        .expect("first use");
    refused(
        sys.workflows(&other_admin)
            .accept_invitation(accept(&other, &used, true))
            .await
            .expect_err("used"),
        "INVITATION_ALREADY_USED",
    );

    let status = sys
        .workflows(&customer_admin)
        .accept_invitation(accept(&customer, "not-a-code", true))
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
    sys.stop().await;
}

#[tokio::test]
async fn accepting_again_with_the_same_request_id_changes_nothing() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let (_, code, _) = invite(&sys, &partner_admin, &partner, dap()).await;
    let mut request = accept(&customer, &code, true);
    request.request_id = uuid::Uuid::new_v4().to_string();
    let first = sys
        .workflows(&customer_admin)
        .accept_invitation(request.clone())
        .await
        .expect("first")
        .into_inner();
    let again = sys
        .workflows(&customer_admin)
        .accept_invitation(request)
        .await
        .expect("retry")
        .into_inner();
    let ids = |r: &partnerhub_proto::gateway::AcceptInvitationResponse| {
        r.relationships
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), ids(&again));
    let all = sys
        .relationships(&customer_admin)
        .list_relationships(rel::ListRelationshipsRequest {
            client_tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .relationships;
    assert_eq!(all.len(), 2, "no duplicates");
    sys.stop().await;
}

#[tokio::test]
async fn a_reseller_needs_the_customer_in_its_country_or_region_and_cloud() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (norway, norway_admin) = sys.customer_admin("oslo", "NO").await;
    let (usa, usa_admin) = sys.customer_admin("seattle", "US").await;

    let (_, code, _) = invite(&sys, &partner_admin, &partner, None).await;
    let status = sys
        .workflows(&usa_admin)
        .accept_invitation(accept(&usa, &code, true))
        .await
        .expect_err("another region");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "REGION_MISMATCH")
    );
    assert!(
        status.message().contains("Europe") && status.message().contains("Americas"),
        "{}",
        status.message()
    );
    // Sweden and Norway share a region (UN M49: Europe).
    sys.workflows(&norway_admin)
        .accept_invitation(accept(&norway, &code, true))
        .await
        .expect("same region");

    // A customer in another cloud can't accept.
    let mut tenants =
        partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient::new(
            sys.service("tenants").await,
        );
    let mut german = partnerhub_tests::customer("berlin");
    german.country_code = "DE".into();
    german.cloud = Cloud::Germany as i32;
    let created = tenants
        .create_customer_tenant(pb::CreateCustomerTenantRequest {
            customer: Some(german),
            request_id: String::new(),
            validate_only: false,
            workflow_fingerprint: String::new(),
        })
        .await
        .expect("create")
        .into_inner();
    let german = created.customer.expect("customer");
    tenants
        .activate_tenant(pb::ActivateTenantRequest {
            tenant_id: german.id.clone(),
        })
        .await
        .expect("activate");
    let german_admin = sys
        .activate_user(
            &created.admin_user.expect("admin").user_name,
            &created.temporary_password,
        )
        .await;
    let (_, code, _) = invite(&sys, &partner_admin, &partner, dap()).await;
    let status = sys
        .workflows(&german_admin)
        .accept_invitation(accept(&german, &code, true))
        .await
        .expect_err("another cloud");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "CLOUD_MISMATCH")
    );

    // In the Germany cloud a reseller invitation must ask for delegated admin.
    let mut de_partner =
        partnerhub_tests::partner("contosode", "7654321", &[PartnerType::DirectProvider]);
    de_partner.cloud = Cloud::Germany as i32;
    de_partner.country_code = "DE".into();
    let enrolled = sys
        .tenants(&sys.operator)
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(de_partner),
            request_id: String::new(),
        })
        .await
        .expect("CreatePartner")
        .into_inner();
    let de = enrolled.partner.expect("partner");
    let de_admin = sys
        .activate_user(
            &enrolled.admin_user.expect("admin").user_name,
            &enrolled.temporary_password,
        )
        .await;
    let status = sys
        .invitations(&de_admin)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: InvitationKind::ResellerRelationship as i32,
                inviter_tenant_id: de.id.clone(),
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect_err("needs delegated admin");
    assert_eq!(status.code(), Code::FailedPrecondition);
    // The refusal says how to ask for delegated admin without naming roles.
    assert!(
        status.message().contains("{} asks for the classic roles"),
        "{status:?}"
    );
    assert_eq!(
        partnerhub_tests::bad_fields(&status),
        ["invitation.delegated_admin"]
    );
    let (_, code, _) = invite(&sys, &de_admin, &de, dap()).await;
    sys.workflows(&german_admin)
        .accept_invitation(accept(&german, &code, true))
        .await
        .expect("with delegated admin");
    sys.stop().await;
}

#[tokio::test]
async fn of_two_customers_accepting_one_invitation_at_once_exactly_one_wins() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (first, first_admin) = sys.customer_admin("skolan", "SE").await;
    let (second, second_admin) = sys.customer_admin("annanskola", "SE").await;
    for round in 0..3 {
        let (_, code, _) = invite(&sys, &partner_admin, &partner, dap()).await;
        let mut a = sys.workflows(&first_admin);
        let mut b = sys.workflows(&second_admin);
        let (x, y) = tokio::join!(
            a.accept_invitation(accept(&first, &code, true)),
            b.accept_invitation(accept(&second, &code, true))
        );
        let wins = [x.is_ok(), y.is_ok()].iter().filter(|w| **w).count();
        assert_eq!(wins, 1, "round {round}: {x:?} {y:?}");
        let loser = x.err().or(y.err()).expect("a loser");
        assert_eq!(
            reason(&loser),
            "INVITATION_ALREADY_USED",
            "{}",
            loser.message()
        );
    }
    sys.stop().await;
}

#[tokio::test]
async fn an_admin_agent_acts_in_the_customer_until_the_roles_are_removed() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (_, agent) = sys
        .user(&partner_admin, &partner.id, "agent", &[Role::AdminAgent])
        .await;
    let (_, helpdesk) = sys
        .user(
            &partner_admin,
            &partner.id,
            "helpdesk",
            &[Role::HelpdeskAgent],
        )
        .await;
    let (_, sales) = sys
        .user(&partner_admin, &partner.id, "sales", &[Role::SalesAgent])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let (teacher, _) = sys.user(&customer_admin, &customer.id, "larare", &[]).await;
    let (_, code, _) = invite(&sys, &partner_admin, &partner, dap()).await;
    sys.workflows(&customer_admin)
        .accept_invitation(accept(&customer, &code, true))
        .await
        .expect("accept");

    let reset = |token: String| {
        let mut client = sys.tenants(&token);
        let request = pb::ResetPasswordRequest {
            tenant_id: customer.id.clone(),
            user_id: teacher.id.clone(),
        };
        async move { client.reset_password(request).await }
    };
    let rename = |token: String, name: &str| {
        let mut client = sys.tenants(&token);
        let request = pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                id: customer.id.clone(),
                display_name: name.into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        };
        async move { client.update_tenant(request).await }
    };

    // The admin agent holds the granted roles (global admin and helpdesk admin).
    assert_eq!(
        list_users(&sys, &agent, &customer)
            .await
            .expect("agent lists users")
            .len(),
        2
    );
    reset(agent.clone()).await.expect("agent resets a password");
    rename(agent.clone(), "Skolan i Solna")
        .await
        .expect("agent edits the profile");
    // The helpdesk agent only resets passwords.
    reset(helpdesk.clone())
        .await
        .expect("helpdesk agent resets a password");
    let status = rename(helpdesk.clone(), "x")
        .await
        .expect_err("helpdesk can't edit");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "ROLE_REQUIRED")
    );
    // The sales agent gets nothing there.
    let status = list_users(&sys, &sales, &customer)
        .await
        .expect_err("sales");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "NO_ACCESS_TO_TENANT")
    );

    sys.relationships(&customer_admin)
        .remove_admin_roles(rel::RemoveAdminRolesRequest {
            customer_tenant_id: customer.id.clone(),
            partner_tenant_id: partner.id.clone(),
        })
        .await
        .expect("RemoveAdminRoles");
    for token in [&agent, &helpdesk] {
        let status = reset(token.clone()).await.expect_err("rights removed");
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::PermissionDenied, "NO_ACCESS_TO_TENANT")
        );
    }
    let status = list_users(&sys, &agent, &customer)
        .await
        .expect_err("rights removed");
    assert_eq!(status.code(), Code::PermissionDenied);
    // The reseller relationship is still listed, for both sides.
    let listed = sys
        .relationships(&partner_admin)
        .list_relationships(rel::ListRelationshipsRequest {
            partner_tenant_id: partner.id.clone(),
            state: rel::relationship::State::Active as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .relationships;
    assert_eq!(
        listed.iter().map(|r| r.r#type).collect::<Vec<_>>(),
        [RelationshipType::Reseller as i32]
    );
    sys.stop().await;
}

#[tokio::test]
async fn delegated_admin_ends_at_its_end_time_everywhere_at_once() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (_, agent) = sys
        .user(&partner_admin, &partner.id, "agent", &[Role::AdminAgent])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let grant = DelegatedAdminRequest {
        roles: vec![Role::UserAdmin as i32],
        duration: Some(prost_types::Duration {
            seconds: 2 * 86_400,
            nanos: 0,
        }),
        auto_extend: false,
    };
    let (_, code, _) = invite(&sys, &partner_admin, &partner, Some(grant)).await;
    sys.workflows(&customer_admin)
        .accept_invitation(accept(&customer, &code, true))
        .await
        .expect("accept");
    list_users(&sys, &agent, &customer)
        .await
        .expect("within the grant");

    sys.clock.advance(3 * DAY);
    let status = list_users(&sys, &agent, &customer)
        .await
        .expect_err("expired");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "NO_ACCESS_TO_TENANT")
    );
    let page = partners_page(&sys, &customer_admin, &customer).await;
    assert_eq!(types_of(&page[0]), [RelationshipType::Reseller]);
    assert!(page[0].delegated_roles.is_empty());
    let expired = sys
        .relationships(&customer_admin)
        .list_relationships(rel::ListRelationshipsRequest {
            client_tenant_id: customer.id.clone(),
            state: rel::relationship::State::Expired as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .relationships;
    assert_eq!(
        expired.iter().map(|r| r.r#type).collect::<Vec<_>>(),
        [RelationshipType::DelegatedAdmin as i32]
    );
    sys.stop().await;
}

#[tokio::test]
async fn partners_see_only_their_own_invitations_and_customers() {
    let sys = TestSystem::start().await;
    let (a, a_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (b, b_admin) = sys
        .partner_admin("contoso", "2345678", &[PartnerType::DirectProvider])
        .await;
    let (_, b_agent) = sys
        .user(&b_admin, &b.id, "agent", &[Role::AdminAgent])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let (invitation, code, _) = invite(&sys, &a_admin, &a, dap()).await;
    sys.workflows(&customer_admin)
        .accept_invitation(accept(&customer, &code, true))
        .await
        .expect("accept");

    let status = sys
        .invitations(&b_admin)
        .list_invitations(inv::ListInvitationsRequest {
            inviter_tenant_id: a.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("A's invitations");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "NO_ACCESS_TO_TENANT")
    );
    let status = sys
        .invitations(&b_admin)
        .get_invitation(inv::GetInvitationRequest {
            inviter_tenant_id: b.id.clone(),
            invitation_id: invitation.id.clone(),
        })
        .await
        .expect_err("A's invitation under B's name");
    assert_eq!(status.code(), Code::NotFound);
    let own = sys
        .invitations(&b_admin)
        .list_invitations(inv::ListInvitationsRequest {
            inviter_tenant_id: b.id.clone(),
            ..Default::default()
        })
        .await
        .expect("B's own")
        .into_inner()
        .invitations;
    assert!(own.is_empty());

    let status = sys
        .relationships(&b_admin)
        .list_relationships(rel::ListRelationshipsRequest {
            client_tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("A's customer's relationships");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "NO_ACCESS_TO_TENANT")
    );
    let status = list_users(&sys, &b_agent, &customer)
        .await
        .expect_err("B has no rights there");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "NO_ACCESS_TO_TENANT")
    );
    let status = sys
        .relationships(&customer_admin)
        .list_relationships(rel::ListRelationshipsRequest {
            partner_tenant_id: a.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("the customer can't list A's other customers");
    assert_eq!(status.code(), Code::PermissionDenied);
    sys.stop().await;
}

#[tokio::test]
async fn an_acceptance_cut_off_after_the_invitation_was_used_is_finished_by_a_retry() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let (invitation, code, _) = invite(&sys, &partner_admin, &partner, dap()).await;

    // A second gateway whose relationships service is down: the acceptance stops after the
    // invitation was used, before any relationship exists.
    let broken = sys.gateway_without("relationships").await;
    let mut via_broken =
        partnerhub_proto::gateway::workflow_service_client::WorkflowServiceClient::with_interceptor(
            broken.channel.clone(),
            partnerhub_tests::Bearer::new(&customer_admin),
        );

    let mut request = accept(&customer, &code, true);
    request.request_id = uuid::Uuid::new_v4().to_string();
    let status = via_broken
        .accept_invitation(request.clone())
        .await
        .expect_err("relationships is down");
    assert_eq!(status.code(), Code::Unavailable);
    let used = sys
        .invitations(&partner_admin)
        .get_invitation(inv::GetInvitationRequest {
            inviter_tenant_id: partner.id.clone(),
            invitation_id: invitation.id.clone(),
        })
        .await
        .expect("GetInvitation")
        .into_inner()
        .invitation
        .expect("invitation");
    assert_eq!(used.state, inv::invitation::State::Accepted as i32);
    assert!(
        partners_page(&sys, &customer_admin, &customer)
            .await
            .is_empty(),
        "nothing half-made is shown"
    );

    // The retry, with the same request id, finishes the work; another changes nothing.
    let done = sys
        .workflows(&customer_admin)
        .accept_invitation(request.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(done.relationships.len(), 2);
    let again = sys
        .workflows(&customer_admin)
        .accept_invitation(request)
        .await
        .expect("again")
        .into_inner();
    let ids = |r: &partnerhub_proto::gateway::AcceptInvitationResponse| {
        r.relationships
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&done), ids(&again));
    let page = partners_page(&sys, &customer_admin, &customer).await;
    assert_eq!(page.len(), 1);
    assert_eq!(
        types_of(&page[0]),
        [RelationshipType::Reseller, RelationshipType::DelegatedAdmin]
    );
    drop(broken);
    sys.stop().await;
}

#[tokio::test]
async fn a_helpdesk_agent_cannot_take_over_the_customers_global_admin() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (_, helpdesk) = sys
        .user(
            &partner_admin,
            &partner.id,
            "helpdesk",
            &[Role::HelpdeskAgent],
        )
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let (teacher, _) = sys.user(&customer_admin, &customer.id, "larare", &[]).await;
    let admins = sys
        .tenants(&customer_admin)
        .list_users(pb::ListUsersRequest {
            tenant_id: customer.id.clone(),
            role: Role::GlobalAdmin as i32,
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner()
        .users;
    let (_, code, _) = invite(&sys, &partner_admin, &partner, dap()).await;
    sys.workflows(&customer_admin)
        .accept_invitation(accept(&customer, &code, true))
        .await
        .expect("accept");

    let reset = |user_id: String| {
        let mut client = sys.tenants(&helpdesk);
        let request = pb::ResetPasswordRequest {
            tenant_id: customer.id.clone(),
            user_id,
        };
        async move { client.reset_password(request).await }
    };
    reset(teacher.id.clone())
        .await
        .expect("a user without admin roles");
    let status = reset(admins[0].id.clone())
        .await
        .expect_err("the global admin");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "ADMIN_ROLE_REQUIRED")
    );
    sys.stop().await;
}

#[tokio::test]
async fn an_agent_granted_user_admin_cannot_make_itself_a_global_admin_there() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (_, agent) = sys
        .user(&partner_admin, &partner.id, "agent", &[Role::AdminAgent])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let grant = DelegatedAdminRequest {
        roles: vec![Role::UserAdmin as i32],
        duration: None,
        auto_extend: false,
    };
    let (_, code, _) = invite(&sys, &partner_admin, &partner, Some(grant)).await;
    sys.workflows(&customer_admin)
        .accept_invitation(accept(&customer, &code, true))
        .await
        .expect("accept");

    let create = |roles: &[Role], name: &str| {
        let mut client = sys.tenants(&agent);
        let request = pb::CreateUserRequest {
            tenant_id: customer.id.clone(),
            user: Some(pb::User {
                user_name: name.into(),
                display_name: name.into(),
                roles: roles.iter().map(|r| *r as i32).collect(),
                ..Default::default()
            }),
            request_id: String::new(),
        };
        async move { client.create_user(request).await }
    };
    create(&[], "ny").await.expect("a plain user");
    let status = create(&[Role::GlobalAdmin], "backdoor")
        .await
        .expect_err("a global admin");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::PermissionDenied, "ADMIN_ROLE_REQUIRED")
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_request_id_reused_for_another_invitation_does_not_use_it_up() {
    let sys = TestSystem::start().await;
    let (a, a_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (b, b_admin) = sys
        .partner_admin("contoso", "2345678", &[PartnerType::DirectProvider])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let (_, first, _) = invite(&sys, &a_admin, &a, None).await;
    let (_, second, _) = invite(&sys, &b_admin, &b, None).await;
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut one = accept(&customer, &first, true);
    one.request_id = request_id.clone();
    let mut two = accept(&customer, &second, true);
    two.request_id = request_id;
    sys.workflows(&customer_admin)
        .accept_invitation(one)
        .await
        .expect("first");
    let done = sys
        .workflows(&customer_admin)
        .accept_invitation(two)
        .await
        .expect("second")
        .into_inner();
    assert_eq!(done.relationships[0].partner_tenant_id, b.id);
    assert_eq!(
        partners_page(&sys, &customer_admin, &customer).await.len(),
        2
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_retried_invitation_keeps_the_link_already_sent_working() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, customer_admin) = sys.customer_admin("skolan", "SE").await;
    let request = CreateInvitationRequest {
        invitation: Some(Invitation {
            kind: InvitationKind::ResellerRelationship as i32,
            inviter_tenant_id: partner.id.clone(),
            invitee_email: "maja@example.com".into(),
            delegated_admin: dap(),
            ..Default::default()
        }),
        ttl: None,
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let create = || {
        let mut client = sys.invitations(&partner_admin);
        let request = request.clone();
        async move {
            client
                .create_invitation(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    // The partner e-mails the first answer's link; its client, not sure the call went
    // through, sends it again.
    let sent = create().await.expect("CreateInvitation");
    let retry = create().await.expect("the retry");
    let id = sent.invitation.clone().expect("invitation").id;
    assert_eq!(retry.invitation.expect("invitation").id, id);
    assert!(!sent.code.is_empty());
    assert_eq!(
        (retry.url.as_str(), retry.code.as_str()),
        (sent.url.as_str(), sent.code.as_str()),
        "the retry answers the link already sent"
    );
    assert!(retry.email_draft.expect("draft").body.contains(&sent.url));

    // The customer opens the e-mailed link: it previews and accepts.
    let preview = sys
        .invitations(&customer_admin)
        .preview_invitation(inv::PreviewInvitationRequest {
            code: sent.code.clone(),
        })
        .await
        .expect("the e-mailed link previews")
        .into_inner()
        .preview
        .expect("preview");
    assert_eq!(preview.inviter_display_name, partner.display_name);
    sys.workflows(&customer_admin)
        .accept_invitation(accept(&customer, &sent.code, true))
        .await
        .expect("the e-mailed link accepts");
    assert_eq!(
        partners_page(&sys, &customer_admin, &customer).await.len(),
        1
    );

    // Once used, a retry shows the accepted invitation but no link.
    let late = create().await.expect("a late retry");
    assert_eq!(
        late.invitation.map(|i| i.state),
        Some(inv::invitation::State::Accepted as i32)
    );
    assert_eq!((late.url.as_str(), late.code.as_str()), ("", ""));
    assert!(late.email_draft.is_none());
    sys.stop().await;
}
