//! Who may do what, as the seeds name the roles, through the gateway:
//! - seed 003 "Lämpliga roller": a provider's global admin, user management admin, admin agent
//!   and sales agent manage indirect-reseller partnerships, add customers for a reseller and
//!   add subscriptions for them;
//! - seed 001 "Innan du börjar" and seed 004: the customer's global or billing admin accepts the
//!   customer agreement, accepts a partner that grants no admin roles and removes a partner's
//!   admin roles; only a global admin accepts admin roles;
//! - seed 002: a partner user with "full" or "limited" administration of supported companies
//!   sends trial invitations and purchase offers.

use partnerhub_proto::gateway::{
    AcceptInvitationRequest, AddSubscriptionsRequest, CreateCustomerRequest, CustomerDetails,
};
use partnerhub_proto::invitations::{
    CreateInvitationRequest, DeclineInvitationRequest, DelegatedAdminRequest, Invitation,
    InvitationKind,
};
use partnerhub_proto::relationships::{self as rel, RelationshipType};
use partnerhub_proto::subscriptions as sub;
use partnerhub_proto::tenants as pb;
use partnerhub_proto::types::{Cloud, LineItem, PartnerType, Role};
use partnerhub_tests::{TestSystem, address, contact, reason};
use tonic::Code;

/// The roles a refusal names, from its message ("… needs ROLE_X or ROLE_Y …").
fn refused_for(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(reason(status), "ROLE_REQUIRED", "{status:?}");
    status.message().to_string()
}

async fn first_offer(sys: &TestSystem, token: &str) -> sub::Offer {
    sys.offers(token, Cloud::Worldwide, "SE")
        .await
        .into_iter()
        .find(|o| o.trial_available)
        .expect("an offer with a trial sold in Sweden")
}

#[tokio::test]
async fn seed_003_a_user_management_admin_and_a_sales_agent_manage_the_reseller_channel() {
    let sys = TestSystem::start().await;
    let (provider, provider_admin) = sys
        .partner_admin("nordicdist", "3456789", &[PartnerType::IndirectProvider])
        .await;
    let (reseller, reseller_admin) = sys
        .partner_admin("skolit", "4567890", &[PartnerType::IndirectReseller])
        .await;
    let (_, user_admin) = sys
        .user(
            &provider_admin,
            &provider.id,
            "anvandare",
            &[Role::UserAdmin],
        )
        .await;
    let (_, sales) = sys
        .user(&provider_admin, &provider.id, "salj", &[Role::SalesAgent])
        .await;
    let (_, helpdesk) = sys
        .user(
            &provider_admin,
            &provider.id,
            "support",
            &[Role::HelpdeskAgent],
        )
        .await;

    // The user management admin invites the reseller; the reseller's own user management
    // admin accepts.
    let partnership = Invitation {
        kind: InvitationKind::IndirectPartnership as i32,
        inviter_tenant_id: provider.id.clone(),
        invitee_tenant_id: reseller.id.clone(),
        ..Default::default()
    };
    let refused = sys
        .invitations(&helpdesk)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(partnership.clone()),
            ..Default::default()
        })
        .await
        .expect_err("a helpdesk agent does not manage resellers");
    let told = refused_for(&refused);
    assert!(
        told.contains("ROLE_GLOBAL_ADMIN, ROLE_USER_ADMIN, ROLE_ADMIN_AGENT or ROLE_SALES_AGENT"),
        "{told}"
    );
    let created = sys.invite(&user_admin, partnership).await;
    let (_, reseller_users) = sys
        .user(&reseller_admin, &reseller.id, "resanv", &[Role::UserAdmin])
        .await;
    sys.workflows(&reseller_users)
        .accept_invitation(AcceptInvitationRequest {
            code: created.code,
            tenant_id: reseller.id.clone(),
            agreement_signer: Some(contact("Lars", "Holm")),
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .expect("the reseller's user management admin accepts the partnership");

    // The user management admin adds a customer for the reseller, the sales agent adds a
    // subscription for it.
    let offer = first_offer(&sys, &user_admin).await;
    let line = LineItem {
        offer_id: offer.id.clone(),
        quantity: offer.min_quantity,
        ..Default::default()
    };
    let form = CreateCustomerRequest {
        partner_tenant_id: provider.id.clone(),
        customer: Some(CustomerDetails {
            display_name: "Ekskolan".into(),
            domain_prefix: "ekskolan".into(),
            address: Some(address()),
            contact: Some(contact("Maja", "Ek")),
            country_code: "SE".into(),
            cloud: Cloud::Worldwide as i32,
        }),
        indirect_reseller_id: reseller.id.clone(),
        line_items: vec![line.clone()],
        agreement_signer: Some(contact("Maja", "Ek")),
        validate_only: false,
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let refused = sys
        .workflows(&helpdesk)
        .create_customer(form.clone())
        .await
        .expect_err("a helpdesk agent adds no customers");
    refused_for(&refused);
    let customer = sys
        .workflows(&user_admin)
        .create_customer(form)
        .await
        .expect("the user management admin adds a customer for the reseller")
        .into_inner()
        .customer
        .expect("customer");
    let added = sys
        .workflows(&sales)
        .add_subscriptions(AddSubscriptionsRequest {
            partner_tenant_id: provider.id.clone(),
            customer_tenant_id: customer.id.clone(),
            indirect_reseller_id: reseller.id.clone(),
            line_items: vec![line],
            reseller_is_support_contact: false,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("the sales agent adds a subscription for the reseller's customer")
        .into_inner();
    assert_eq!(added.subscriptions.len(), 1);

    // The sales agent ends the partnership; a customer relationship still needs a global admin
    // or an admin agent.
    let relationships = sys
        .relationships(&sales)
        .list_relationships(rel::ListRelationshipsRequest {
            partner_tenant_id: provider.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListRelationships")
        .into_inner()
        .relationships;
    let of_type = |t: RelationshipType| {
        relationships
            .iter()
            .find(|r| r.r#type == t as i32)
            .unwrap_or_else(|| panic!("a {t:?} relationship"))
            .id
            .clone()
    };
    let refused = sys
        .relationships(&sales)
        .terminate_relationship(rel::TerminateRelationshipRequest {
            tenant_id: provider.id.clone(),
            relationship_id: of_type(RelationshipType::Reseller),
        })
        .await
        .expect_err("a sales agent does not end a customer relationship");
    assert!(
        refused_for(&refused).contains("ROLE_GLOBAL_ADMIN or ROLE_ADMIN_AGENT"),
        "{refused:?}"
    );
    let ended = sys
        .relationships(&sales)
        .terminate_relationship(rel::TerminateRelationshipRequest {
            tenant_id: provider.id.clone(),
            relationship_id: of_type(RelationshipType::IndirectPartnership),
        })
        .await
        .expect("the sales agent ends the partnership")
        .into_inner()
        .relationship
        .expect("relationship");
    assert_eq!(ended.state, rel::relationship::State::Terminated as i32);
    sys.stop().await;
}

#[tokio::test]
async fn seed_001_the_billing_admin_takes_partners_without_admin_roles_and_removes_admin_roles() {
    let sys = TestSystem::start().await;
    let (provider, provider_admin) = sys
        .partner_admin("contoso", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, global) = sys.customer_admin("skolan", "SE").await;
    let (_, billing) = sys
        .user(&global, &customer.id, "ekonomi", &[Role::BillingAdmin])
        .await;
    let (_, users) = sys
        .user(&global, &customer.id, "anvandare", &[Role::UserAdmin])
        .await;

    // The billing admin accepts the customer agreement.
    sys.tenants(&billing)
        .accept_agreement(pb::AcceptAgreementRequest {
            tenant_id: customer.id.clone(),
            r#type: pb::agreement::Type::CustomerAgreement as i32,
            signer: Some(contact("Eva", "Berg")),
        })
        .await
        .expect("a billing admin accepts the customer agreement");

    let invite = |kind: InvitationKind, admin: bool| {
        let sys = &sys;
        let provider_admin = provider_admin.clone();
        let invitation = Invitation {
            kind: kind as i32,
            inviter_tenant_id: provider.id.clone(),
            invitee_tenant_id: customer.id.clone(),
            delegated_admin: admin.then(|| DelegatedAdminRequest {
                roles: vec![Role::GlobalAdmin as i32],
                ..Default::default()
            }),
            ..Default::default()
        };
        async move { sys.invite(&provider_admin, invitation).await.code }
    };
    let accept = |token: &str, code: String| {
        let mut client = sys.workflows(token);
        let tenant_id = customer.id.clone();
        async move {
            client
                .accept_invitation(AcceptInvitationRequest {
                    code,
                    tenant_id,
                    agreement_signer: None,
                    request_id: String::new(),
                    ..Default::default()
                })
                .await
        }
    };

    // A reseller relationship alone grants no admin roles: a user admin is told which roles
    // take it, and the billing admin does.
    let reseller = invite(InvitationKind::ResellerRelationship, false).await;
    let told = refused_for(
        &accept(&users, reseller.clone())
            .await
            .expect_err("user admin"),
    );
    assert!(
        told.contains("ROLE_GLOBAL_ADMIN or ROLE_BILLING_ADMIN"),
        "{told}"
    );
    let taken = accept(&billing, reseller)
        .await
        .expect("a billing admin accepts a reseller relationship")
        .into_inner();
    assert_eq!(taken.relationships.len(), 1);

    // Delegated admin grants admin roles: the billing admin is told only a global admin takes
    // it (and so is a user admin: not "global or billing"), and may still decline it.
    let admin = invite(InvitationKind::DelegatedAdmin, true).await;
    for token in [&billing, &users] {
        let told = refused_for(&accept(token, admin.clone()).await.expect_err("not global"));
        assert!(
            told.contains("needs ROLE_GLOBAL_ADMIN for") && !told.contains("BILLING"),
            "{told}"
        );
    }
    accept(&global, admin)
        .await
        .expect("the global admin accepts delegated admin");
    let declined = invite(InvitationKind::DelegatedAdmin, true).await;
    let refused = sys
        .invitations(&users)
        .decline_invitation(DeclineInvitationRequest {
            code: declined.clone(),
            tenant_id: customer.id.clone(),
        })
        .await
        .expect_err("a user admin does not decide on partners");
    refused_for(&refused);
    sys.invitations(&billing)
        .decline_invitation(DeclineInvitationRequest {
            code: declined,
            tenant_id: customer.id.clone(),
        })
        .await
        .expect("a billing admin declines");

    // The billing admin removes the partner's admin roles.
    let removed = sys
        .relationships(&billing)
        .remove_admin_roles(rel::RemoveAdminRolesRequest {
            customer_tenant_id: customer.id.clone(),
            partner_tenant_id: provider.id.clone(),
        })
        .await
        .expect("a billing admin removes a partner's admin roles")
        .into_inner();
    assert_eq!(removed.removed.len(), 1);
    let refused = sys
        .relationships(&users)
        .remove_admin_roles(rel::RemoveAdminRolesRequest {
            customer_tenant_id: customer.id.clone(),
            partner_tenant_id: provider.id.clone(),
        })
        .await
        .expect_err("a user admin does not");
    refused_for(&refused);
    sys.stop().await;
}

#[tokio::test]
async fn seed_002_full_and_limited_administration_send_trials_and_purchase_offers() {
    let sys = TestSystem::start().await;
    let (advisor, admin) = sys
        .partner_admin("radgivarna", "2345678", &[PartnerType::Advisor])
        .await;
    let (_, full) = sys
        .user(&admin, &advisor.id, "full", &[Role::AdminAgent])
        .await;
    let (_, limited) = sys
        .user(&admin, &advisor.id, "begransad", &[Role::HelpdeskAgent])
        .await;
    let (_, users) = sys
        .user(&admin, &advisor.id, "anvandare", &[Role::UserAdmin])
        .await;
    let offer = first_offer(&sys, &admin).await;
    let offering = |kind: InvitationKind, quantity: i32| Invitation {
        kind: kind as i32,
        inviter_tenant_id: advisor.id.clone(),
        line_items: vec![LineItem {
            offer_id: offer.id.clone(),
            quantity,
            ..Default::default()
        }],
        ..Default::default()
    };
    for token in [&full, &limited] {
        let trial = sys.invite(token, offering(InvitationKind::Trial, 1)).await;
        assert!(!trial.url.is_empty());
        let purchase = sys
            .invite(
                token,
                offering(InvitationKind::PurchaseOffer, offer.min_quantity),
            )
            .await;
        assert!(!purchase.url.is_empty());
    }
    let refused = sys
        .invitations(&users)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(offering(InvitationKind::Trial, 1)),
            ..Default::default()
        })
        .await
        .expect_err("a user admin sends no offers");
    let told = refused_for(&refused);
    assert!(told.contains("ROLE_HELPDESK_AGENT"), "{told}");
    sys.stop().await;
}
