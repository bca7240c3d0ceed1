//! Seed 001's other partners through the gateway: a partner asks a customer to work with it as
//! a collaborator ("Partner": a user account in the customer's tenant), an MPSA partner or a
//! line-of-business partner; the customer's global or billing admin accepts; both sides see the
//! relationship and either ends it. A customer's MPSA partners see each other's purchases for
//! that customer, and only for it.

use partnerhub_proto::gateway::AcceptInvitationRequest;
use partnerhub_proto::invitations::{
    self as inv, CreateInvitationRequest, DelegatedAdminRequest, Invitation, InvitationKind,
};
use partnerhub_proto::relationships::{self as rel, RelationshipType, relationship};
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

/// The partner asks the customer for a relationship of `kind`; returns the answer.
async fn ask(
    sys: &TestSystem,
    token: &str,
    partner: &pb::Tenant,
    kind: InvitationKind,
) -> inv::CreateInvitationResponse {
    sys.invitations(token)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: kind as i32,
                inviter_tenant_id: partner.id.clone(),
                invitee_email: "maja@example.com".into(),
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("CreateInvitation")
        .into_inner()
}

/// The customer's admin (holder of `token`) accepts, accepting the customer agreement in the
/// same call if it has not yet; returns the relationships made.
async fn accept(
    sys: &TestSystem,
    token: &str,
    customer: &pb::Tenant,
    code: &str,
) -> Result<Vec<rel::Relationship>, tonic::Status> {
    sys.workflows(token)
        .accept_invitation(AcceptInvitationRequest {
            code: code.into(),
            tenant_id: customer.id.clone(),
            agreement_signer: Some(contact("Maja", "Ek")),
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().relationships)
}

/// The partner asks for `kind` and the customer's admin accepts: the one relationship made.
async fn relate(
    sys: &TestSystem,
    partner_token: &str,
    partner: &pb::Tenant,
    kind: InvitationKind,
    customer_token: &str,
    customer: &pb::Tenant,
) -> rel::Relationship {
    let code = ask(sys, partner_token, partner, kind).await.code;
    let mut made = accept(sys, customer_token, customer, &code)
        .await
        .expect("AcceptInvitation");
    assert_eq!(made.len(), 1, "{made:?}");
    made.remove(0)
}

fn types(types: &[i32]) -> Vec<RelationshipType> {
    types
        .iter()
        .filter_map(|t| RelationshipType::try_from(*t).ok())
        .collect()
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

async fn customers_page(
    sys: &TestSystem,
    token: &str,
    partner: &pb::Tenant,
) -> Vec<rel::PartnerCustomer> {
    sys.relationships(token)
        .list_customers_of_partner(rel::ListCustomersOfPartnerRequest {
            partner_tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListCustomersOfPartner")
        .into_inner()
        .customers
}

async fn terminate(
    sys: &TestSystem,
    token: &str,
    tenant: &pb::Tenant,
    relationship: &rel::Relationship,
) -> rel::Relationship {
    sys.relationships(token)
        .terminate_relationship(rel::TerminateRelationshipRequest {
            tenant_id: tenant.id.clone(),
            relationship_id: relationship.id.clone(),
        })
        .await
        .expect("TerminateRelationship")
        .into_inner()
        .relationship
        .expect("relationship")
}

#[tokio::test]
async fn a_customer_takes_on_a_collaborator_an_mpsa_and_a_line_of_business_partner_and_they_end() {
    let sys = TestSystem::start().await;
    // An indirect reseller: it can't resell on its own, but any enrolled partner asks for these.
    let (partner, partner_admin) = sys
        .partner_admin("konsulten", "4567890", &[PartnerType::IndirectReseller])
        .await;
    let (customer, global_admin) = sys.customer_admin("skolan", "SE").await;
    let (_, billing_admin) = sys
        .user(
            &global_admin,
            &customer.id,
            "ekonomi",
            &[Role::BillingAdmin],
        )
        .await;
    let (_, user_admin) = sys
        .user(&global_admin, &customer.id, "it", &[Role::UserAdmin])
        .await;

    // Each invitation says what accepting grants, and who accepts.
    let collaborator = ask(&sys, &partner_admin, &partner, InvitationKind::Collaborator).await;
    let draft = collaborator.email_draft.expect("draft");
    assert_eq!(
        draft.subject,
        "konsulten AB asks to work with you as your partner"
    );
    for part in [
        "you give konsulten AB a user account in your organisation",
        "no admin roles",
        "a global or billing administrator",
        collaborator.url.as_str(),
    ] {
        assert!(draft.body.contains(part), "{part} in {}", draft.body);
    }
    let mpsa = ask(&sys, &partner_admin, &partner, InvitationKind::Mpsa).await;
    assert!(
        mpsa.email_draft
            .expect("draft")
            .body
            .contains("Your MPSA partners see each other's purchases for your organisation")
    );
    let lob = ask(
        &sys,
        &partner_admin,
        &partner,
        InvitationKind::LineOfBusiness,
    )
    .await;
    assert!(
        lob.email_draft
            .expect("draft")
            .body
            .contains("develop, send and manage line-of-business apps")
    );
    // They carry no admin roles: asking for some is a bad request.
    let with_roles = sys
        .invitations(&partner_admin)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: InvitationKind::Collaborator as i32,
                inviter_tenant_id: partner.id.clone(),
                delegated_admin: Some(DelegatedAdminRequest::default()),
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect_err("no delegated admin with a collaborator invitation");
    assert_eq!(with_roles.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&with_roles), ["invitation.delegated_admin"]);

    // The customer sees what is asked.
    let preview = sys
        .invitations(&global_admin)
        .preview_invitation(inv::PreviewInvitationRequest {
            code: mpsa.code.clone(),
        })
        .await
        .expect("PreviewInvitation")
        .into_inner()
        .preview
        .expect("preview");
    assert_eq!(preview.kind, InvitationKind::Mpsa as i32);
    assert!(preview.delegated_admin.is_none());

    // A user admin can't accept; the global admin accepts the collaborator (and the customer
    // agreement with it), the billing admin the other two.
    let refused = accept(&sys, &user_admin, &customer, &collaborator.code)
        .await
        .expect_err("a user admin accepts no partner");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let mut made = Vec::new();
    for (token, code, kind) in [
        (
            &global_admin,
            &collaborator.code,
            RelationshipType::Collaborator,
        ),
        (&billing_admin, &mpsa.code, RelationshipType::Mpsa),
        (&billing_admin, &lob.code, RelationshipType::LineOfBusiness),
    ] {
        let relationships = accept(&sys, token, &customer, code)
            .await
            .expect("AcceptInvitation");
        assert_eq!(relationships.len(), 1, "{relationships:?}");
        let r = relationships.into_iter().next().expect("one");
        assert_eq!(r.r#type, kind as i32);
        assert_eq!(r.partner_tenant_id, partner.id);
        assert_eq!(r.client_tenant_id, customer.id);
        assert_eq!(r.state, relationship::State::Active as i32);
        assert!(r.roles.is_empty(), "no admin roles: {:?}", r.roles);
        made.push(r);
    }

    // The customer's partners page: one row with the three types and no admin roles.
    let page = partners_page(&sys, &billing_admin, &customer).await;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].partner_tenant_id, partner.id);
    assert_eq!(
        types(&page[0].types),
        [
            RelationshipType::Collaborator,
            RelationshipType::Mpsa,
            RelationshipType::LineOfBusiness
        ]
    );
    assert!(page[0].delegated_roles.is_empty());
    // The partner's customer list shows the customer with the same three.
    let customers = customers_page(&sys, &partner_admin, &partner).await;
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0].customer_tenant_id, customer.id);
    assert_eq!(types(&customers[0].types), types(&page[0].types));
    let listed = sys
        .relationships(&partner_admin)
        .list_relationships(rel::ListRelationshipsRequest {
            partner_tenant_id: partner.id.clone(),
            r#type: RelationshipType::LineOfBusiness as i32,
            ..Default::default()
        })
        .await
        .expect("ListRelationships")
        .into_inner()
        .relationships;
    assert_eq!(listed, [made[2].clone()]);

    // None of them lets the partner's admin agents act in the customer's tenant.
    let (_, agent) = sys
        .user(&partner_admin, &partner.id, "erik", &[Role::AdminAgent])
        .await;
    let denied = sys
        .tenants(&agent)
        .list_users(pb::ListUsersRequest {
            tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("no admin roles");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(reason(&denied), "NO_ACCESS_TO_TENANT");

    // Either side ends one: the customer the collaboration, the partner the apps work.
    let ended = terminate(&sys, &global_admin, &customer, &made[0]).await;
    assert_eq!(ended.state, relationship::State::Terminated as i32);
    let ended = terminate(&sys, &partner_admin, &partner, &made[2]).await;
    assert_eq!(ended.state, relationship::State::Terminated as i32);
    let page = partners_page(&sys, &global_admin, &customer).await;
    assert_eq!(types(&page[0].types), [RelationshipType::Mpsa]);
    let customers = customers_page(&sys, &partner_admin, &partner).await;
    assert_eq!(types(&customers[0].types), [RelationshipType::Mpsa]);
    // The last one ended leaves "There is nothing here".
    terminate(&sys, &global_admin, &customer, &made[1]).await;
    assert!(
        partners_page(&sys, &global_admin, &customer)
            .await
            .is_empty()
    );
    sys.stop().await;
}

/// The worldwide offer called `name`.
async fn offer(sys: &TestSystem, token: &str, name: &str) -> sub::Offer {
    sys.offers(token, Cloud::Worldwide, "")
        .await
        .into_iter()
        .find(|o| o.display_name == name)
        .unwrap_or_else(|| panic!("no offer {name}"))
}

/// The partner orders `quantity` licences of `offer` for the customer.
async fn buy(
    sys: &TestSystem,
    token: &str,
    partner: &pb::Tenant,
    customer: &pb::Tenant,
    offer: &sub::Offer,
    quantity: i32,
) -> sub::PlaceOrderResponse {
    subscriptions(sys, token)
        .place_order(sub::PlaceOrderRequest {
            customer_tenant_id: customer.id.clone(),
            partner_tenant_id: partner.id.clone(),
            line_items: vec![LineItem {
                offer_id: offer.id.clone(),
                quantity,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .expect("PlaceOrder")
        .into_inner()
}

/// The subscriptions of `customer` the partner reads as one of its MPSA partners, by id.
async fn mpsa_subscriptions(
    sys: &TestSystem,
    token: &str,
    partner: &pb::Tenant,
    customer: &pb::Tenant,
) -> Result<Vec<String>, tonic::Status> {
    subscriptions(sys, token)
        .list_subscriptions(sub::ListSubscriptionsRequest {
            customer_tenant_id: customer.id.clone(),
            mpsa_partner_tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .map(|r| {
            let mut ids: Vec<String> = r
                .into_inner()
                .subscriptions
                .into_iter()
                .map(|s| s.id)
                .collect();
            ids.sort();
            ids
        })
}

/// The orders of `customer` the partner reads as one of its MPSA partners, by id.
async fn mpsa_orders(
    sys: &TestSystem,
    token: &str,
    partner: &pb::Tenant,
    customer: &pb::Tenant,
) -> Result<Vec<String>, tonic::Status> {
    subscriptions(sys, token)
        .list_orders(sub::ListOrdersRequest {
            customer_tenant_id: customer.id.clone(),
            mpsa_partner_tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .map(|r| {
            let mut ids: Vec<String> = r.into_inner().orders.into_iter().map(|o| o.id).collect();
            ids.sort();
            ids
        })
}

async fn get_subscription(
    sys: &TestSystem,
    token: &str,
    reader: &pb::Tenant,
    id: &str,
) -> Result<sub::Subscription, tonic::Status> {
    subscriptions(sys, token)
        .get_subscription(sub::GetSubscriptionRequest {
            tenant_id: reader.id.clone(),
            subscription_id: id.into(),
        })
        .await
        .map(|r| r.into_inner().subscription.expect("subscription"))
}

async fn get_order(
    sys: &TestSystem,
    token: &str,
    reader: &pb::Tenant,
    id: &str,
) -> Result<sub::Order, tonic::Status> {
    subscriptions(sys, token)
        .get_order(sub::GetOrderRequest {
            tenant_id: reader.id.clone(),
            order_id: id.into(),
        })
        .await
        .map(|r| r.into_inner().order.expect("order"))
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn a_customers_mpsa_partners_see_each_others_purchases_for_it_and_no_one_elses() {
    let sys = TestSystem::start().await;
    let (fabrikam, fabrikam_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (contoso, contoso_admin) = sys
        .partner_admin("contoso", "2345678", &[PartnerType::DirectProvider])
        .await;
    let (northwind, northwind_admin) = sys
        .partner_admin("northwind", "3456789", &[PartnerType::DirectProvider])
        .await;
    let (skolan, skolan_admin) = sys.customer_admin("skolan", "SE").await;
    let (gymnasiet, gymnasiet_admin) = sys.customer_admin("gymnasiet", "SE").await;

    // All three resell to Skolan; Contoso also to Gymnasiet.
    for (partner, token) in [
        (&fabrikam, &fabrikam_admin),
        (&contoso, &contoso_admin),
        (&northwind, &northwind_admin),
    ] {
        relate(
            &sys,
            token,
            partner,
            InvitationKind::ResellerRelationship,
            &skolan_admin,
            &skolan,
        )
        .await;
    }
    relate(
        &sys,
        &contoso_admin,
        &contoso,
        InvitationKind::ResellerRelationship,
        &gymnasiet_admin,
        &gymnasiet,
    )
    .await;
    let basic = offer(&sys, &fabrikam_admin, "Business Basic").await;
    let by_fabrikam = buy(&sys, &fabrikam_admin, &fabrikam, &skolan, &basic, 10).await;
    let by_contoso = buy(&sys, &contoso_admin, &contoso, &skolan, &basic, 20).await;
    let by_northwind = buy(&sys, &northwind_admin, &northwind, &skolan, &basic, 30).await;
    let for_gymnasiet = buy(&sys, &contoso_admin, &contoso, &gymnasiet, &basic, 40).await;
    let order = |o: &sub::PlaceOrderResponse| o.order.as_ref().expect("order").id.clone();
    let subscription = |o: &sub::PlaceOrderResponse| o.subscriptions[0].id.clone();

    // Before any MPSA relationship, Fabrikam sees only its own.
    let not_mpsa = mpsa_subscriptions(&sys, &fabrikam_admin, &fabrikam, &skolan)
        .await
        .expect_err("not an MPSA partner yet");
    assert_eq!(not_mpsa.code(), Code::FailedPrecondition);
    assert_eq!(reason(&not_mpsa), "NOT_MPSA_PARTNER");
    let unseen = get_subscription(&sys, &fabrikam_admin, &fabrikam, &subscription(&by_contoso))
        .await
        .expect_err("Contoso's subscription");
    assert_eq!(unseen.code(), Code::NotFound);

    // Skolan works with Fabrikam and Contoso through MPSA.
    let fabrikam_mpsa = relate(
        &sys,
        &fabrikam_admin,
        &fabrikam,
        InvitationKind::Mpsa,
        &skolan_admin,
        &skolan,
    )
    .await;
    assert_eq!(fabrikam_mpsa.r#type, RelationshipType::Mpsa as i32);
    let contoso_mpsa = relate(
        &sys,
        &contoso_admin,
        &contoso,
        InvitationKind::Mpsa,
        &skolan_admin,
        &skolan,
    )
    .await;

    // Each sees both MPSA partners' purchases for Skolan, not Northwind's.
    let shared = sorted(vec![subscription(&by_fabrikam), subscription(&by_contoso)]);
    let shared_orders = sorted(vec![order(&by_fabrikam), order(&by_contoso)]);
    for (partner, token) in [(&fabrikam, &fabrikam_admin), (&contoso, &contoso_admin)] {
        assert_eq!(
            mpsa_subscriptions(&sys, token, partner, &skolan)
                .await
                .expect("ListSubscriptions"),
            shared
        );
        assert_eq!(
            mpsa_orders(&sys, token, partner, &skolan)
                .await
                .expect("ListOrders"),
            shared_orders
        );
    }
    let seen = get_subscription(&sys, &fabrikam_admin, &fabrikam, &subscription(&by_contoso))
        .await
        .expect("Fabrikam reads Contoso's subscription for Skolan");
    assert_eq!(seen.billing_partner_tenant_id, contoso.id);
    assert_eq!(seen.quantity, 20);
    let seen = get_order(&sys, &contoso_admin, &contoso, &order(&by_fabrikam))
        .await
        .expect("Contoso reads Fabrikam's order for Skolan");
    assert_eq!(seen.partner_tenant_id, fabrikam.id);
    for unseen in [
        get_subscription(
            &sys,
            &fabrikam_admin,
            &fabrikam,
            &subscription(&by_northwind),
        )
        .await
        .map(|_| ()),
        get_order(&sys, &fabrikam_admin, &fabrikam, &order(&by_northwind))
            .await
            .map(|_| ()),
    ] {
        assert_eq!(unseen.expect_err("Northwind's").code(), Code::NotFound);
    }

    // Seeing is not changing: Fabrikam can't change Contoso's subscription.
    let change = subscriptions(&sys, &fabrikam_admin)
        .update_subscription(sub::UpdateSubscriptionRequest {
            tenant_id: fabrikam.id.clone(),
            subscription: Some(sub::Subscription {
                id: subscription(&by_contoso),
                quantity: 5,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["quantity".into()],
            }),
        })
        .await
        .expect_err("not Fabrikam's to change");
    assert_eq!(change.code(), Code::NotFound);

    // Contoso's purchases for Gymnasiet, where it has no MPSA partners, stay its own.
    let elsewhere = get_subscription(
        &sys,
        &fabrikam_admin,
        &fabrikam,
        &subscription(&for_gymnasiet),
    )
    .await
    .expect_err("another customer's");
    assert_eq!(elsewhere.code(), Code::NotFound);
    let elsewhere = get_order(&sys, &fabrikam_admin, &fabrikam, &order(&for_gymnasiet))
        .await
        .expect_err("another customer's");
    assert_eq!(elsewhere.code(), Code::NotFound);
    let elsewhere = mpsa_orders(&sys, &fabrikam_admin, &fabrikam, &gymnasiet)
        .await
        .expect_err("not Gymnasiet's MPSA partner");
    assert_eq!(reason(&elsewhere), "NOT_MPSA_PARTNER");
    // A partner can't read as another partner.
    let posing = mpsa_subscriptions(&sys, &northwind_admin, &fabrikam, &skolan)
        .await
        .expect_err("Northwind names Fabrikam");
    assert_eq!(posing.code(), Code::PermissionDenied);

    // Northwind, without MPSA, sees none of theirs.
    let refused = mpsa_subscriptions(&sys, &northwind_admin, &northwind, &skolan)
        .await
        .expect_err("Northwind is no MPSA partner");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "NOT_MPSA_PARTNER");
    let unseen = get_subscription(
        &sys,
        &northwind_admin,
        &northwind,
        &subscription(&by_fabrikam),
    )
    .await
    .expect_err("Fabrikam's");
    assert_eq!(unseen.code(), Code::NotFound);

    // Once Contoso ends its MPSA relationship, Fabrikam sees only its own again.
    terminate(&sys, &contoso_admin, &contoso, &contoso_mpsa).await;
    assert_eq!(
        mpsa_subscriptions(&sys, &fabrikam_admin, &fabrikam, &skolan)
            .await
            .expect("ListSubscriptions"),
        [subscription(&by_fabrikam)]
    );
    let unseen = get_subscription(&sys, &fabrikam_admin, &fabrikam, &subscription(&by_contoso))
        .await
        .expect_err("no longer shared");
    assert_eq!(unseen.code(), Code::NotFound);
    assert_eq!(fabrikam_mpsa.state, relationship::State::Active as i32);
    sys.stop().await;
}
