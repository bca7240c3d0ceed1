//! Seeds 000 and 002 through the gateway: a subscription advisor as partner of record (add,
//! change, clear, "Check ID"), advisors' trial and purchase offer links, the 21Vianet partner of
//! record flow, the subscription event stream, and the audit trail.

use partnerhub_proto::gateway::{
    AcceptInvitationRequest, ListAuditEventsRequest, SetPartnerOfRecordRequest,
    audit_service_client::AuditServiceClient, list_audit_events_request::View,
};
use partnerhub_proto::invitations::{
    self as inv, CreateInvitationRequest, DelegatedAdminRequest, Invitation, InvitationKind,
};
use partnerhub_proto::relationships::{self as rel, RelationshipType};
use partnerhub_proto::subscriptions::{
    self as sub, subscription_service_client::SubscriptionServiceClient,
};
use partnerhub_proto::tenants as pb;
use partnerhub_proto::types::{Cloud, LineItem, PartnerType, Role};
use partnerhub_tests::{TestSystem, bad_fields, contact, reason};
use tonic::Code;

fn subscriptions(
    sys: &TestSystem,
    token: &str,
) -> SubscriptionServiceClient<partnerhub_tests::Authed> {
    SubscriptionServiceClient::new(sys.authed(token))
}

/// The worldwide offer called `name`.
async fn offer(sys: &TestSystem, token: &str, cloud: Cloud, name: &str) -> sub::Offer {
    sys.offers(token, cloud, "")
        .await
        .into_iter()
        .find(|o| o.display_name == name)
        .unwrap_or_else(|| panic!("no offer {name}"))
}

async fn advisor_link(
    sys: &TestSystem,
    token: &str,
    advisor: &pb::Tenant,
    kind: InvitationKind,
    line_items: Vec<LineItem>,
    delegated_admin: Option<DelegatedAdminRequest>,
) -> (Invitation, String) {
    let created = sys
        .invitations(token)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: kind as i32,
                inviter_tenant_id: advisor.id.clone(),
                line_items,
                delegated_admin,
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("CreateInvitation")
        .into_inner();
    (created.invitation.expect("invitation"), created.code)
}

fn accept(customer: &pb::Tenant, code: &str) -> AcceptInvitationRequest {
    AcceptInvitationRequest {
        code: code.into(),
        tenant_id: customer.id.clone(),
        agreement_signer: Some(contact("Maja", "Ek")),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_trial_link_serves_three_customers_once_each_until_it_is_revoked() {
    let sys = TestSystem::start().await;
    let (advisor, advisor_admin) = sys
        .partner_admin("radgivarna", "7777777", &[PartnerType::Advisor])
        .await;
    let trial = offer(&sys, &advisor_admin, Cloud::Worldwide, "Business Premium").await;
    let (link, code) = advisor_link(
        &sys,
        &advisor_admin,
        &advisor,
        InvitationKind::Trial,
        vec![LineItem {
            offer_id: trial.id.clone(),
            quantity: 25,
            ..Default::default()
        }],
        Some(DelegatedAdminRequest {
            roles: vec![Role::HelpdeskAdmin as i32],
            ..Default::default()
        }),
    )
    .await;
    assert!(link.reusable);

    let mut customers = Vec::new();
    for prefix in ["skolaett", "skolatva", "skolatre"] {
        let (customer, admin) = sys.customer_admin(prefix, "SE").await;
        let accepted = sys
            .workflows(&admin)
            .accept_invitation(accept(&customer, &code))
            .await
            .expect("accept")
            .into_inner();
        assert_eq!(accepted.subscriptions.len(), 1);
        let s = &accepted.subscriptions[0];
        assert_eq!(s.state, sub::subscription::State::Trial as i32);
        assert_eq!(s.partner_of_record_mpn_id, "7777777");
        assert!(s.trial_end_time.is_some());
        let kinds: Vec<i32> = accepted.relationships.iter().map(|r| r.r#type).collect();
        assert!(
            kinds.contains(&(RelationshipType::Advisor as i32))
                && kinds.contains(&(RelationshipType::DelegatedAdmin as i32))
        );
        customers.push((customer, admin));
    }
    let seen = sys
        .invitations(&advisor_admin)
        .get_invitation(inv::GetInvitationRequest {
            inviter_tenant_id: advisor.id.clone(),
            invitation_id: link.id.clone(),
        })
        .await
        .expect("GetInvitation")
        .into_inner()
        .invitation
        .expect("invitation");
    assert_eq!(seen.use_count, 3);

    let uses = |id: String| {
        let mut client = sys.invitations(&advisor_admin);
        let inviter_tenant_id = advisor.id.clone();
        async move {
            client
                .get_invitation(inv::GetInvitationRequest {
                    inviter_tenant_id,
                    invitation_id: id,
                })
                .await
                .expect("GetInvitation")
                .into_inner()
                .invitation
                .expect("invitation")
                .use_count
        }
    };

    // The same customer can't take the trial twice, and is told so: it has this trial. The
    // refused second use is no use of the link.
    let (first, first_admin) = &customers[0];
    let status = sys
        .workflows(first_admin)
        .accept_invitation(accept(first, &code))
        .await
        .expect_err("twice");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "TRIAL_ALREADY_TAKEN"),
        "{status:?}"
    );
    assert!(status.message().contains("trial"), "{status:?}");
    assert_eq!(uses(link.id.clone()).await, 3);

    // Nor through another link to the same offer: told before the link is used, which stays
    // unused.
    let (again, again_code) = advisor_link(
        &sys,
        &advisor_admin,
        &advisor,
        InvitationKind::Trial,
        vec![LineItem {
            offer_id: trial.id.clone(),
            quantity: 25,
            ..Default::default()
        }],
        None,
    )
    .await;
    let status = sys
        .workflows(first_admin)
        .accept_invitation(accept(first, &again_code))
        .await
        .expect_err("a second trial through another link");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "TRIAL_ALREADY_TAKEN"),
        "{status:?}"
    );
    assert!(
        status.message().contains("had a trial of Business Premium"),
        "{status:?}"
    );
    assert_eq!(uses(again.id).await, 0);

    // Revoked, it serves nobody.
    sys.invitations(&advisor_admin)
        .revoke_invitation(inv::RevokeInvitationRequest {
            inviter_tenant_id: advisor.id.clone(),
            invitation_id: link.id.clone(),
        })
        .await
        .expect("RevokeInvitation");
    let (late, late_admin) = sys.customer_admin("skolafyra", "SE").await;
    let status = sys
        .workflows(&late_admin)
        .accept_invitation(accept(&late, &code))
        .await
        .expect_err("revoked");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "INVITATION_REVOKED")
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_billing_admin_takes_a_purchase_offer_but_only_a_global_admin_grants_delegated_admin() {
    let sys = TestSystem::start().await;
    let (advisor, advisor_admin) = sys
        .partner_admin("radgivarna", "7777777", &[PartnerType::Advisor])
        .await;
    let basic = offer(&sys, &advisor_admin, Cloud::Worldwide, "Business Basic").await;
    let visio = offer(&sys, &advisor_admin, Cloud::Worldwide, "Visio Plan 2").await;
    let lines = vec![
        LineItem {
            offer_id: basic.id.clone(),
            quantity: 40,
            ..Default::default()
        },
        LineItem {
            offer_id: visio.id.clone(),
            quantity: 5,
            ..Default::default()
        },
    ];
    let link = |delegated_admin: Option<DelegatedAdminRequest>| {
        advisor_link(
            &sys,
            &advisor_admin,
            &advisor,
            InvitationKind::PurchaseOffer,
            lines.clone(),
            delegated_admin,
        )
    };
    let (customer, admin) = sys.customer_admin("skolan", "SE").await;
    let (_, billing) = sys
        .user(&admin, &customer.id, "ekonomi", &[Role::BillingAdmin])
        .await;

    // The offer with delegated admin grants admin roles (seed 004): a global admin's decision.
    let (_, with_admin) = link(Some(DelegatedAdminRequest::default())).await;
    let refused = sys
        .workflows(&billing)
        .accept_invitation(accept(&customer, &with_admin))
        .await
        .expect_err("a billing admin grants no admin roles");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");
    assert!(
        refused.message().contains("needs ROLE_GLOBAL_ADMIN for"),
        "{refused:?}"
    );

    // The same offer without it is the billing admin's to take (seed 001).
    let (_, code) = link(None).await;
    let accepted = sys
        .workflows(&billing)
        .accept_invitation(accept(&customer, &code))
        .await
        .expect("accept")
        .into_inner();
    let quantities: Vec<i32> = accepted.subscriptions.iter().map(|s| s.quantity).collect();
    assert_eq!(quantities, [40, 5]);
    assert!(
        accepted
            .subscriptions
            .iter()
            .all(|s| s.state == sub::subscription::State::Active as i32)
    );
    let kinds: Vec<i32> = accepted.relationships.iter().map(|r| r.r#type).collect();
    assert_eq!(kinds, [RelationshipType::Advisor as i32]);
    sys.stop().await;
}

/// A customer's subscriptions as (offer name, licences), sorted.
async fn licences(sys: &TestSystem, token: &str, customer: &pb::Tenant) -> Vec<(String, i32)> {
    let mut held: Vec<(String, i32)> = subscriptions(sys, token)
        .list_subscriptions(sub::ListSubscriptionsRequest {
            customer_tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListSubscriptions")
        .into_inner()
        .subscriptions
        .into_iter()
        .map(|s| (s.offer_display_name, s.quantity))
        .collect();
    held.sort();
    held
}

fn held(lines: &[(&str, i32)]) -> Vec<(String, i32)> {
    lines.iter().map(|(n, q)| (n.to_string(), *q)).collect()
}

#[tokio::test]
async fn a_customer_takes_a_purchase_offer_with_fewer_licences_and_the_next_gets_the_offer_as_sent()
{
    let sys = TestSystem::start().await;
    let (advisor, advisor_admin) = sys
        .partner_admin("radgivarna", "7777777", &[PartnerType::Advisor])
        .await;
    // Business Basic is sold 1 to 300 licences.
    let basic = offer(&sys, &advisor_admin, Cloud::Worldwide, "Business Basic").await;
    let visio = offer(&sys, &advisor_admin, Cloud::Worldwide, "Visio Plan 2").await;
    let line = |offer: &sub::Offer, quantity| LineItem {
        offer_id: offer.id.clone(),
        quantity,
        ..Default::default()
    };
    let (link, code) = advisor_link(
        &sys,
        &advisor_admin,
        &advisor,
        InvitationKind::PurchaseOffer,
        vec![line(&basic, 40), line(&visio, 5)],
        None,
    )
    .await;
    let (a, a_admin) = sys.customer_admin("skolaett", "SE").await;
    let invitation_now = async || {
        sys.invitations(&advisor_admin)
            .get_invitation(inv::GetInvitationRequest {
                inviter_tenant_id: advisor.id.clone(),
                invitation_id: link.id.clone(),
            })
            .await
            .expect("GetInvitation")
            .into_inner()
            .invitation
            .expect("invitation")
    };

    // Counts the offer can't have are refused, naming the field, and nothing is written.
    let (_, trial_code) = advisor_link(
        &sys,
        &advisor_admin,
        &advisor,
        InvitationKind::Trial,
        vec![line(&basic, 25)],
        None,
    )
    .await;
    let stranger = offer(&sys, &advisor_admin, Cloud::Worldwide, "Business Premium").await;
    for (code, asked, field) in [
        (&code, vec![line(&basic, 301)], "line_items[0].quantity"),
        (
            &code,
            vec![line(&visio, 3), line(&stranger, 10)],
            "line_items[1].offer_id",
        ),
        (&trial_code, vec![line(&basic, 10)], "line_items"),
    ] {
        let status = sys
            .workflows(&a_admin)
            .accept_invitation(AcceptInvitationRequest {
                line_items: asked,
                ..accept(&a, code)
            })
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(bad_fields(&status), [field], "{status:?}");
    }
    assert!(licences(&sys, &a_admin, &a).await.is_empty());
    assert_eq!(invitation_now().await.use_count, 0);

    // Customer A wants 25 Business Basic licences, not 40; Visio stays as offered.
    let asked = AcceptInvitationRequest {
        line_items: vec![line(&basic, 25)],
        ..accept(&a, &code)
    };
    let accepted = sys
        .workflows(&a_admin)
        .accept_invitation(asked.clone())
        .await
        .expect("A accepts")
        .into_inner();
    assert_eq!(accepted.subscriptions.len(), 2);
    let want_a = held(&[("Business Basic", 25), ("Visio Plan 2", 5)]);
    assert_eq!(licences(&sys, &a_admin, &a).await, want_a);
    // A retry is the same acceptance; the same request id with other counts is refused.
    sys.workflows(&a_admin)
        .accept_invitation(asked.clone())
        .await
        .expect("the retry");
    let status = sys
        .workflows(&a_admin)
        .accept_invitation(AcceptInvitationRequest {
            line_items: vec![line(&basic, 30)],
            ..asked
        })
        .await
        .expect_err("other counts, same request id");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::InvalidArgument, "REQUEST_ID_REUSED"),
        "{status:?}"
    );
    // Told by the redeem, before the acceptance's steps run again.
    use tonic_types::StatusExt;
    let told_by = status
        .get_error_details()
        .error_info()
        .map(|i| i.domain.clone());
    assert_eq!(told_by.as_deref(), Some("invitations.partnerhub"));
    assert_eq!(licences(&sys, &a_admin, &a).await, want_a);

    // The link still offers the partner's counts: customer B takes them as sent.
    let offered = invitation_now().await;
    assert_eq!(offered.use_count, 1);
    assert_eq!(offered.line_items, [line(&basic, 40), line(&visio, 5)]);
    let (b, b_admin) = sys.customer_admin("skolatva", "SE").await;
    sys.workflows(&b_admin)
        .accept_invitation(accept(&b, &code))
        .await
        .expect("B accepts");
    assert_eq!(
        licences(&sys, &b_admin, &b).await,
        held(&[("Business Basic", 40), ("Visio Plan 2", 5)])
    );
    sys.stop().await;
}

#[tokio::test]
async fn the_customer_adds_changes_and_clears_its_partner_of_record_after_check_id() {
    let sys = TestSystem::start().await;
    let (reseller, reseller_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (first, _) = sys
        .partner_admin("radgivarna", "7777777", &[PartnerType::Advisor])
        .await;
    let (_, _) = sys
        .partner_admin("konsulten", "8888888", &[PartnerType::Advisor])
        .await;
    let (customer, admin) = sys.customer_admin("skolan", "SE").await;

    // A subscription bought through a reseller.
    let code = sys
        .invitations(&reseller_admin)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: InvitationKind::ResellerRelationship as i32,
                inviter_tenant_id: reseller.id.clone(),
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("invite")
        .into_inner()
        .code;
    sys.workflows(&admin)
        .accept_invitation(accept(&customer, &code))
        .await
        .expect("accept");
    let basic = offer(&sys, &reseller_admin, Cloud::Worldwide, "Business Basic").await;
    let ordered = subscriptions(&sys, &reseller_admin)
        .place_order(sub::PlaceOrderRequest {
            customer_tenant_id: customer.id.clone(),
            partner_tenant_id: reseller.id.clone(),
            line_items: vec![LineItem {
                offer_id: basic.id,
                quantity: 10,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .expect("PlaceOrder")
        .into_inner();
    let subscription = ordered.subscriptions[0].id.clone();
    let set = |mpn_id: &str| {
        let mut client = sys.workflows(&admin);
        let request = SetPartnerOfRecordRequest {
            tenant_id: customer.id.clone(),
            subscription_id: subscription.clone(),
            mpn_id: mpn_id.into(),
            etag: String::new(),
        };
        async move { client.set_partner_of_record(request).await }
    };

    let added = set("7777777").await.expect("add").into_inner();
    assert_eq!(
        added
            .subscription
            .expect("subscription")
            .partner_of_record_mpn_id,
        "7777777"
    );
    assert_eq!(added.partner.expect("checked partner").tenant_id, first.id);
    let changed = set("8888888").await.expect("change").into_inner();
    assert_eq!(
        changed
            .subscription
            .expect("subscription")
            .partner_of_record_mpn_id,
        "8888888"
    );
    let cleared = set("").await.expect("clear").into_inner();
    assert_eq!(
        cleared
            .subscription
            .expect("subscription")
            .partner_of_record_mpn_id,
        "",
        "a real clear"
    );
    assert!(cleared.partner.is_none());

    let status = set("1234567").await.expect_err("not an advisor");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "PARTNER_NOT_ADVISOR")
    );
    let status = set("9999999").await.expect_err("unknown");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::NotFound, "PARTNER_ID_NOT_FOUND")
    );
    let status = set("12ab").await.expect_err("malformed");
    assert_eq!(status.code(), Code::InvalidArgument);
    sys.stop().await;
}

#[tokio::test]
async fn in_the_21vianet_cloud_a_customer_authorises_its_partner_of_record() {
    let sys = TestSystem::start().await;
    let mut partner = partnerhub_tests::partner("beijingit", "6666666", &[PartnerType::Advisor]);
    partner.cloud = Cloud::China21vianet as i32;
    partner.country_code = "CN".into();
    let enrolled = sys
        .tenants(&sys.operator)
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(partner),
            request_id: String::new(),
        })
        .await
        .expect("CreatePartner")
        .into_inner();
    let partner = enrolled.partner.expect("partner");
    let partner_admin = sys
        .activate_user(
            &enrolled.admin_user.expect("admin").user_name,
            &enrolled.temporary_password,
        )
        .await;
    let mut tenants = pb::tenant_internal_service_client::TenantInternalServiceClient::new(
        sys.service("tenants").await,
    );
    let mut customer = partnerhub_tests::customer("shanghai");
    customer.cloud = Cloud::China21vianet as i32;
    customer.country_code = "CN".into();
    let created = tenants
        .create_customer_tenant(pb::CreateCustomerTenantRequest {
            customer: Some(customer),
            request_id: String::new(),
            validate_only: false,
            workflow_fingerprint: String::new(),
        })
        .await
        .expect("create")
        .into_inner();
    let customer = created.customer.expect("customer");
    tenants
        .activate_tenant(pb::ActivateTenantRequest {
            tenant_id: customer.id.clone(),
        })
        .await
        .expect("activate");
    let admin = sys
        .activate_user(
            &created.admin_user.expect("admin").user_name,
            &created.temporary_password,
        )
        .await;

    let basic = offer(&sys, &partner_admin, Cloud::China21vianet, "Business Basic").await;
    let (_, code) = advisor_link(
        &sys,
        &partner_admin,
        &partner,
        InvitationKind::PartnerOfRecord,
        vec![LineItem {
            offer_id: basic.id,
            quantity: 20,
            ..Default::default()
        }],
        Some(DelegatedAdminRequest::default()),
    )
    .await;
    let accepted = sys
        .workflows(&admin)
        .accept_invitation(accept(&customer, &code))
        .await
        .expect("authorise")
        .into_inner();
    assert_eq!(accepted.subscriptions.len(), 1);
    assert_eq!(
        accepted.subscriptions[0].partner_of_record_mpn_id,
        "6666666"
    );
    let kinds: Vec<i32> = accepted.relationships.iter().map(|r| r.r#type).collect();
    assert!(
        kinds.contains(&(RelationshipType::DelegatedAdmin as i32)),
        "{kinds:?}"
    );
    let page = sys
        .relationships(&admin)
        .list_partners_of_customer(rel::ListPartnersOfCustomerRequest {
            customer_tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("partners page")
        .into_inner()
        .partners;
    assert_eq!(page.len(), 1);
    sys.stop().await;
}

#[tokio::test]
async fn a_customer_reads_in_its_audit_trail_what_a_partners_agent_did_there() {
    let sys = TestSystem::start().await;
    let (partner, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (agent_user, agent) = sys
        .user(&partner_admin, &partner.id, "agent", &[Role::AdminAgent])
        .await;
    let (customer, admin) = sys.customer_admin("skolan", "SE").await;
    let (teacher, _) = sys.user(&admin, &customer.id, "larare", &[]).await;
    let code = sys
        .invite(
            &partner_admin,
            Invitation {
                kind: InvitationKind::ResellerRelationship as i32,
                inviter_tenant_id: partner.id.clone(),
                delegated_admin: Some(DelegatedAdminRequest::default()),
                ..Default::default()
            },
        )
        .await
        .code;
    sys.workflows(&admin)
        .accept_invitation(accept(&customer, &code))
        .await
        .expect("accept");
    let answer = sys
        .tenants(&agent)
        .reset_password(pb::ResetPasswordRequest {
            tenant_id: customer.id.clone(),
            user_id: teacher.id.clone(),
        })
        .await
        .expect("the agent resets a password");
    let call_id = answer
        .metadata()
        .get("x-request-id")
        .expect("the call's request id")
        .to_str()
        .expect("ascii")
        .to_string();

    let audit = |token: &str, tenant: &str, view: View| {
        let mut client = AuditServiceClient::new(sys.authed(token));
        let request = ListAuditEventsRequest {
            tenant_id: tenant.into(),
            view: view as i32,
            ..Default::default()
        };
        async move { client.list_audit_events(request).await }
    };
    let events = audit(&admin, &customer.id, View::InTenant)
        .await
        .expect("the customer's trail")
        .into_inner()
        .events;
    let reset = events
        .iter()
        .find(|e| e.method.ends_with("TenantService/ResetPassword"))
        .expect("the reset is in the customer's trail");
    assert_eq!(reset.user_id, agent_user.id);
    assert_eq!(reset.actor_tenant_id, partner.id);
    assert_eq!(reset.acting_tenant_id, customer.id);
    assert_eq!(reset.resource_id, teacher.id);
    assert_eq!(reset.outcome, "OK");
    assert_eq!(
        reset.call_id, call_id,
        "found in the logs by its request id"
    );
    assert!(
        !reset.relationship_ids.is_empty(),
        "through the delegated admin relationship"
    );
    assert!(
        events
            .iter()
            .any(|e| e.method.ends_with("WorkflowService/AcceptInvitation")),
        "its own acceptance too"
    );
    assert!(
        !events
            .iter()
            .any(|e| e.method.contains("ListUsers") || e.method.contains("Get")),
        "reads are not recorded"
    );

    // The partner lists what its own users did, wherever.
    let by_users = audit(&partner_admin, &partner.id, View::ByTenantUsers)
        .await
        .expect("the partner's trail")
        .into_inner()
        .events;
    assert!(
        by_users
            .iter()
            .any(|e| e.method.ends_with("ResetPassword") && e.acting_tenant_id == customer.id)
    );
    // Refusals are recorded too, and nobody reads another tenant's trail.
    let status = audit(&partner_admin, &customer.id, View::InTenant)
        .await
        .expect_err("not its tenant");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = audit(&agent, &partner.id, View::InTenant)
        .await
        .expect_err("global admins only");
    assert_eq!(status.code(), Code::PermissionDenied);
    sys.stop().await;
}

#[tokio::test]
async fn a_watcher_through_the_gateway_resumes_after_a_disconnect_without_gaps() {
    let sys = TestSystem::start().await;
    let (reseller, reseller_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, admin) = sys.customer_admin("skolan", "SE").await;
    let code = sys
        .invitations(&reseller_admin)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: InvitationKind::ResellerRelationship as i32,
                inviter_tenant_id: reseller.id.clone(),
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("invite")
        .into_inner()
        .code;
    sys.workflows(&admin)
        .accept_invitation(accept(&customer, &code))
        .await
        .expect("accept");
    let basic = offer(&sys, &reseller_admin, Cloud::Worldwide, "Business Basic").await;
    let order = |quantity: i32| {
        let mut client = subscriptions(&sys, &reseller_admin);
        let request = sub::PlaceOrderRequest {
            customer_tenant_id: customer.id.clone(),
            partner_tenant_id: reseller.id.clone(),
            line_items: vec![LineItem {
                offer_id: basic.id.clone(),
                quantity,
                ..Default::default()
            }],
            ..Default::default()
        };
        async move { client.place_order(request).await.expect("PlaceOrder") }
    };
    let watch = |cursor: String| {
        let mut client = subscriptions(&sys, &reseller_admin);
        let request = sub::WatchSubscriptionEventsRequest {
            partner_tenant_id: reseller.id.clone(),
            cursor,
        };
        async move {
            client
                .watch_subscription_events(request)
                .await
                .expect("watch")
                .into_inner()
        }
    };

    let mut stream = watch(String::new()).await;
    order(1).await;
    order(2).await;
    let first = next_event(&mut stream).await;
    assert_eq!(first.subscription.as_ref().map(|s| s.quantity), Some(1));
    drop(stream); // the watcher goes away after one event
    order(3).await;
    let mut resumed = watch(first.cursor.clone()).await;
    let quantities = [
        next_event(&mut resumed).await,
        next_event(&mut resumed).await,
    ]
    .iter()
    .map(|e| {
        e.subscription
            .as_ref()
            .map(|s| s.quantity)
            .unwrap_or_default()
    })
    .collect::<Vec<_>>();
    assert_eq!(quantities, [2, 3], "nothing missed, nothing twice");
    sys.stop().await;
}

/// The next event of a watch stream (the timeout only guards against a hang).
/// Issue 13: a watch stream lasts only as long as its caller may watch. A user deleted, or
/// who loses the role, sees the stream end with the refusal a new call would get; a user who
/// keeps access keeps getting events.
#[tokio::test]
async fn a_watch_ends_when_its_user_is_deleted_or_loses_the_role_and_goes_on_otherwise() {
    let sys = TestSystem::start().await;
    let (reseller, reseller_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, admin) = sys.customer_admin("skolan", "SE").await;
    let code = sys
        .invitations(&reseller_admin)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: InvitationKind::ResellerRelationship as i32,
                inviter_tenant_id: reseller.id.clone(),
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("invite")
        .into_inner()
        .code;
    sys.workflows(&admin)
        .accept_invitation(accept(&customer, &code))
        .await
        .expect("accept");
    let basic = offer(&sys, &reseller_admin, Cloud::Worldwide, "Business Basic").await;
    let order = |quantity: i32| {
        let mut client = subscriptions(&sys, &reseller_admin);
        let request = sub::PlaceOrderRequest {
            customer_tenant_id: customer.id.clone(),
            partner_tenant_id: reseller.id.clone(),
            line_items: vec![LineItem {
                offer_id: basic.id.clone(),
                quantity,
                ..Default::default()
            }],
            ..Default::default()
        };
        async move { client.place_order(request).await.expect("PlaceOrder") }
    };
    let mut watchers = Vec::new();
    for name in ["kept", "deleted", "demoted"] {
        let (user, token) = sys
            .user(&reseller_admin, &reseller.id, name, &[Role::AdminAgent])
            .await;
        let stream = subscriptions(&sys, &token)
            .watch_subscription_events(sub::WatchSubscriptionEventsRequest {
                partner_tenant_id: reseller.id.clone(),
                cursor: String::new(),
            })
            .await
            .expect("watch")
            .into_inner();
        watchers.push((user, stream));
    }
    order(1).await;
    for (_, stream) in &mut watchers {
        let first = next_event(stream).await;
        assert_eq!(first.subscription.map(|s| s.quantity), Some(1));
    }
    let mut watchers = watchers.into_iter();
    let mut watcher = || watchers.next().expect("three watchers");
    let ((_, mut kept), (deleted_user, mut deleted), (demoted_user, mut demoted)) =
        (watcher(), watcher(), watcher());

    sys.tenants(&reseller_admin)
        .delete_user(pb::DeleteUserRequest {
            tenant_id: reseller.id.clone(),
            user_id: deleted_user.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("DeleteUser");
    sys.tenants(&reseller_admin)
        .update_user(pb::UpdateUserRequest {
            tenant_id: reseller.id.clone(),
            user: Some(pb::User {
                id: demoted_user.id.clone(),
                roles: vec![Role::HelpdeskAgent as i32],
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["roles".into()],
            }),
        })
        .await
        .expect("UpdateUser");

    let gone = ended(&mut deleted).await;
    assert_eq!(gone.code(), Code::Unauthenticated, "{gone:?}");
    let refused = ended(&mut demoted).await;
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");

    // The stream of a user who may still watch goes on, past several checks.
    order(2).await;
    let second = next_event(&mut kept).await;
    assert_eq!(second.subscription.map(|s| s.quantity), Some(2));
    sys.stop().await;
}

/// How a stream that is expected to end ends: its refusal.
async fn ended(
    stream: &mut tonic::Streaming<sub::WatchSubscriptionEventsResponse>,
) -> tonic::Status {
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("the stream ends within 10 s")
        .expect_err("the stream ends with a refusal")
}

async fn next_event(
    stream: &mut tonic::Streaming<sub::WatchSubscriptionEventsResponse>,
) -> sub::SubscriptionEvent {
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("an event within 10 s")
        .expect("stream ok")
        .expect("stream open")
        .event
        .expect("event")
}
