//! Seed 003 through the gateway: an indirect provider partners with an indirect reseller, adds a
//! customer for it with subscriptions, and both then manage that customer.

use partnerhub_proto::gateway::{
    AddSubscriptionsRequest, CreateCustomerRequest, CreateCustomerResponse,
};
use partnerhub_proto::invitations::{CreateInvitationRequest, Invitation, InvitationKind};
use partnerhub_proto::relationships::{self as rel, RelationshipType};
use partnerhub_proto::subscriptions::{
    self as sub, subscription_service_client::SubscriptionServiceClient,
};
use partnerhub_proto::tenants as pb;
use partnerhub_proto::types::{Cloud, LineItem, PartnerType, Role};
use partnerhub_tests::{TestSystem, customer_form, reason};
use tonic::Code;

struct Channel {
    provider: pb::Tenant,
    provider_admin: String,
    reseller: pb::Tenant,
    reseller_admin: String,
}

fn subscriptions(
    sys: &TestSystem,
    token: &str,
) -> SubscriptionServiceClient<partnerhub_tests::Authed> {
    SubscriptionServiceClient::new(sys.authed(token))
}

/// The provider invites the reseller to an indirect partnership and the reseller accepts,
/// accepting the partner agreement in the same call.
async fn partnership(sys: &TestSystem) -> Channel {
    let ((provider, provider_admin), (reseller, reseller_admin)) = sys.indirect_partnership().await;
    Channel {
        provider,
        provider_admin,
        reseller,
        reseller_admin,
    }
}

fn form(c: &Channel, prefix: &str, line_items: Vec<LineItem>) -> CreateCustomerRequest {
    CreateCustomerRequest {
        indirect_reseller_id: c.reseller.id.clone(),
        ..customer_form(&c.provider.id, prefix, line_items)
    }
}

async fn customers_of(
    sys: &TestSystem,
    token: &str,
    partner: &str,
    reseller: &str,
) -> Vec<rel::PartnerCustomer> {
    sys.relationships(token)
        .list_customers_of_partner(rel::ListCustomersOfPartnerRequest {
            partner_tenant_id: partner.into(),
            indirect_reseller_id: reseller.into(),
            ..Default::default()
        })
        .await
        .expect("ListCustomersOfPartner")
        .into_inner()
        .customers
}

#[tokio::test]
async fn an_indirect_provider_adds_a_customer_for_its_reseller_and_both_manage_it() {
    let sys = TestSystem::start().await;
    let c = partnership(&sys).await;

    // Each side sees the partnership.
    let listed = |token: String, request: rel::ListRelationshipsRequest| {
        let mut client = sys.relationships(&token);
        async move {
            client
                .list_relationships(request)
                .await
                .expect("list")
                .into_inner()
                .relationships
        }
    };
    let resellers = listed(
        c.provider_admin.clone(),
        rel::ListRelationshipsRequest {
            partner_tenant_id: c.provider.id.clone(),
            r#type: RelationshipType::IndirectPartnership as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        resellers
            .iter()
            .map(|r| r.client_tenant_id.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&c.reseller.id)
    );
    let providers = listed(
        c.reseller_admin.clone(),
        rel::ListRelationshipsRequest {
            client_tenant_id: c.reseller.id.clone(),
            r#type: RelationshipType::IndirectPartnership as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        providers
            .iter()
            .map(|r| r.partner_tenant_id.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&c.provider.id)
    );

    // Review: nothing written.
    let items = sys.two_line_items(&c.provider_admin).await;
    let mut review = form(&c, "solnaskola", items.clone());
    review.validate_only = true;
    let reviewed = sys
        .workflows(&c.provider_admin)
        .create_customer(review.clone())
        .await
        .expect("review")
        .into_inner();
    let found = reviewed.review.expect("a review");
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    assert_eq!(
        found.customer.expect("customer").primary_domain,
        "solnaskola.onpartnerhub.com"
    );
    assert_eq!(found.subscriptions.len(), 2);
    assert_eq!(found.relationships.len(), 4);
    assert!(reviewed.customer.is_none() && reviewed.temporary_password.is_empty());
    assert!(
        customers_of(&sys, &c.provider_admin, &c.provider.id, "")
            .await
            .is_empty(),
        "the review wrote nothing"
    );

    // Submit.
    let created = sys
        .workflows(&c.provider_admin)
        .create_customer(form(&c, "solnaskola", items))
        .await
        .expect("submit")
        .into_inner();
    let customer = created.customer.clone().expect("customer");
    assert_eq!(customer.state, pb::tenant::State::Active as i32);
    assert_eq!(created.admin_user_name, "admin@solnaskola.onpartnerhub.com");
    assert!(!created.temporary_password.is_empty());
    let kinds: Vec<i32> = created.relationships.iter().map(|r| r.r#type).collect();
    for wanted in [
        RelationshipType::Reseller,
        RelationshipType::DelegatedAdmin,
        RelationshipType::IndirectReseller,
    ] {
        assert!(kinds.contains(&(wanted as i32)), "{kinds:?}");
    }
    assert_eq!(created.subscriptions.len(), 2);
    assert!(
        created
            .subscriptions
            .iter()
            .all(|s| s.indirect_reseller_id == c.reseller.id
                && s.billing_partner_tenant_id == c.provider.id)
    );

    // The customer is listed with the reseller, and only with it.
    let with_reseller = customers_of(&sys, &c.provider_admin, &c.provider.id, &c.reseller.id).await;
    assert_eq!(
        with_reseller
            .iter()
            .map(|r| r.customer_tenant_id.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&customer.id)
    );
    assert_eq!(
        with_reseller[0].indirect_reseller_ids,
        std::slice::from_ref(&c.reseller.id)
    );
    assert!(
        customers_of(
            &sys,
            &c.provider_admin,
            &c.provider.id,
            &uuid::Uuid::new_v4().to_string()
        )
        .await
        .is_empty()
    );

    // The new customer's admin signs in with the temporary password and must change it.
    let first = sys
        .sign_in(&created.admin_user_name, &created.temporary_password)
        .await
        .expect("sign in");
    assert!(first.password_change_required);
    let customer_admin = sys
        .activate_user(&created.admin_user_name, &created.temporary_password)
        .await;
    let page = sys
        .relationships(&customer_admin)
        .list_partners_of_customer(rel::ListPartnersOfCustomerRequest {
            customer_tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("partners page")
        .into_inner()
        .partners;
    assert_eq!(page.len(), 2, "the provider and the reseller");

    // The reseller's admin agent manages the new customer.
    let (_, agent) = sys
        .user(
            &c.reseller_admin,
            &c.reseller.id,
            "agent",
            &[Role::AdminAgent],
        )
        .await;
    let users = sys
        .tenants(&agent)
        .list_users(pb::ListUsersRequest {
            tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("the reseller's agent lists the customer's users")
        .into_inner()
        .users;
    assert_eq!(users.len(), 1);

    // The provider adds a subscription for the reseller, with the reseller as support contact.
    let more = sys
        .workflows(&c.provider_admin)
        .add_subscriptions(AddSubscriptionsRequest {
            partner_tenant_id: c.provider.id.clone(),
            customer_tenant_id: customer.id.clone(),
            indirect_reseller_id: c.reseller.id.clone(),
            line_items: vec![created.subscriptions[0].offer_id.clone()]
                .into_iter()
                .map(|offer_id| LineItem {
                    offer_id,
                    quantity: created.subscriptions[0].quantity,
                    ..Default::default()
                })
                .collect(),
            reseller_is_support_contact: true,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("AddSubscriptions")
        .into_inner();
    assert_eq!(
        more.subscriptions[0].support_contact_tenant_id,
        c.reseller.id
    );
    let of_reseller = subscriptions(&sys, &c.reseller_admin)
        .list_subscriptions(sub::ListSubscriptionsRequest {
            indirect_reseller_id: c.reseller.id.clone(),
            ..Default::default()
        })
        .await
        .expect("the reseller lists its subscriptions")
        .into_inner()
        .subscriptions;
    assert_eq!(of_reseller.len(), 3);

    // The provider ends the partnership: the customer stays, and so do the delegated admin rights.
    let partnership = resellers[0].id.clone();
    sys.relationships(&c.provider_admin)
        .terminate_relationship(rel::TerminateRelationshipRequest {
            tenant_id: c.provider.id.clone(),
            relationship_id: partnership,
        })
        .await
        .expect("the provider ends the partnership");
    assert_eq!(
        customers_of(&sys, &c.provider_admin, &c.provider.id, "")
            .await
            .len(),
        1
    );
    sys.tenants(&agent)
        .list_users(pb::ListUsersRequest {
            tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("the reseller's delegated admin stays");
    sys.stop().await;
}

#[tokio::test]
async fn each_problem_of_the_form_has_its_own_reason_and_nothing_is_written() {
    let sys = TestSystem::start().await;
    let c = partnership(&sys).await;
    let items = sys.two_line_items(&c.provider_admin).await;

    let offer = subscriptions(&sys, &c.provider_admin)
        .get_offer(sub::GetOfferRequest {
            offer_id: items[0].offer_id.clone(),
        })
        .await
        .expect("GetOffer")
        .into_inner()
        .offer
        .expect("offer");
    let mut too_many = form(&c, "solnaskola", items.clone());
    too_many.line_items[0].quantity = offer.max_quantity + 1;
    let mut wrong_cloud = form(&c, "solnaskola", items.clone());
    if let Some(details) = wrong_cloud.customer.as_mut() {
        details.cloud = Cloud::Germany as i32;
    }
    let mut no_agreement = form(&c, "solnaskola", items.clone());
    no_agreement.agreement_signer = None;
    // A bad line item is bad input; a customer in another cloud or without the agreement is a
    // rule about the world.
    for (request, field, why, code) in [
        (
            too_many,
            "line_items[0].quantity",
            "QUANTITY_OUT_OF_BOUNDS",
            Code::InvalidArgument,
        ),
        (
            wrong_cloud,
            "customer.cloud",
            "CLOUD_MISMATCH",
            Code::FailedPrecondition,
        ),
        (
            no_agreement,
            "agreement_signer",
            "AGREEMENT_NOT_ACCEPTED",
            Code::FailedPrecondition,
        ),
    ] {
        let mut review = request.clone();
        review.validate_only = true;
        let found = sys
            .workflows(&c.provider_admin)
            .create_customer(review)
            .await
            .expect("review")
            .into_inner()
            .review
            .expect("review");
        assert!(
            found
                .problems
                .iter()
                .any(|p| p.field == field && p.reason == why),
            "{why}: {:?}",
            found.problems
        );
        let status = sys
            .workflows(&c.provider_admin)
            .create_customer(request)
            .await
            .expect_err(why);
        assert_eq!(status.code(), code, "{why}");
        assert_eq!(reason(&status), why);
        assert!(
            partnerhub_tests::bad_fields(&status).contains(&field.to_string()),
            "{why}"
        );
    }
    let everything = sys
        .tenants(&sys.operator)
        .list_tenants(pb::ListTenantsRequest {
            kind: pb::tenant::Kind::Customer as i32,
            state: pb::tenant::State::Pending as i32,
            ..Default::default()
        })
        .await
        .expect("ListTenants")
        .into_inner()
        .tenants;
    assert!(everything.is_empty(), "no customer was left half-made");
    sys.stop().await;
}

#[tokio::test]
async fn a_sales_agent_of_an_unrelated_partner_cannot_order_for_the_customer() {
    let sys = TestSystem::start().await;
    let c = partnership(&sys).await;
    let items = sys.two_line_items(&c.provider_admin).await;
    let created = sys
        .workflows(&c.provider_admin)
        .create_customer(form(&c, "solnaskola", items.clone()))
        .await
        .expect("submit")
        .into_inner();
    let customer = created.customer.expect("customer");
    let (other, other_admin) = sys
        .partner_admin("annan", "5678901", &[PartnerType::DirectProvider])
        .await;
    let (_, sales) = sys
        .user(&other_admin, &other.id, "sales", &[Role::SalesAgent])
        .await;
    let status = subscriptions(&sys, &sales)
        .place_order(sub::PlaceOrderRequest {
            customer_tenant_id: customer.id.clone(),
            partner_tenant_id: other.id.clone(),
            line_items: items,
            ..Default::default()
        })
        .await
        .expect_err("no relationship");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "NOT_RESELLER_OF_CUSTOMER")
    );
    let status = subscriptions(&sys, &sales)
        .list_subscriptions(sub::ListSubscriptionsRequest {
            customer_tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("not its customer");
    assert_eq!(status.code(), Code::PermissionDenied);
    sys.stop().await;
}

#[tokio::test]
async fn a_customer_creation_cut_off_in_the_middle_is_completed_once_by_a_retry() {
    let sys = TestSystem::start().await;
    let c = partnership(&sys).await;
    let items = sys.two_line_items(&c.provider_admin).await;
    let request = form(&c, "solnaskola", items);

    // A gateway whose relationships service is down: the customer and its agreement get
    // written, then the workflow stops.
    let broken = sys.gateway_without("relationships").await;
    let mut via_broken =
        partnerhub_proto::gateway::workflow_service_client::WorkflowServiceClient::with_interceptor(
            broken.channel.clone(),
            partnerhub_tests::Bearer::new(&c.provider_admin),
        );
    // Without a reseller the review needs no relationships call; the submit stops after the
    // customer was written.
    let mut direct = request.clone();
    direct.indirect_reseller_id.clear();
    let status = via_broken
        .create_customer(direct.clone())
        .await
        .expect_err("relationships is down");
    assert_eq!(status.code(), Code::Unavailable);
    let pending = sys
        .tenants(&sys.operator)
        .list_tenants(pb::ListTenantsRequest {
            kind: pb::tenant::Kind::Customer as i32,
            state: pb::tenant::State::Pending as i32,
            ..Default::default()
        })
        .await
        .expect("ListTenants")
        .into_inner()
        .tenants;
    assert_eq!(pending.len(), 1, "written, but not active");
    assert!(
        customers_of(&sys, &c.provider_admin, &c.provider.id, "")
            .await
            .is_empty(),
        "and not listed"
    );

    // The retry, with the same request id, completes it; another retry changes nothing.
    let done: CreateCustomerResponse = sys
        .workflows(&c.provider_admin)
        .create_customer(direct.clone())
        .await
        .expect("retry")
        .into_inner();
    let again = sys
        .workflows(&c.provider_admin)
        .create_customer(direct)
        .await
        .expect("again")
        .into_inner();
    let id = done.customer.as_ref().expect("customer").id.clone();
    assert_eq!(again.customer.expect("customer").id, id);
    assert_eq!(pending[0].id, id);
    assert_eq!(
        again.order.expect("order").id,
        done.order.clone().expect("order").id
    );
    let customers = sys
        .tenants(&sys.operator)
        .list_tenants(pb::ListTenantsRequest {
            kind: pb::tenant::Kind::Customer as i32,
            ..Default::default()
        })
        .await
        .expect("ListTenants")
        .into_inner()
        .tenants;
    assert_eq!(customers.len(), 1, "exactly one customer");
    assert_eq!(
        customers_of(&sys, &c.provider_admin, &c.provider.id, "")
            .await
            .len(),
        1
    );
    // Every retry shows the same temporary password, and it works.
    assert!(!done.temporary_password.is_empty());
    assert_eq!(again.temporary_password, done.temporary_password);
    sys.activate_user(&again.admin_user_name, &done.temporary_password)
        .await;
    drop(broken);
    sys.stop().await;
}

#[tokio::test]
async fn a_provider_retrying_a_lost_confirmation_gets_the_same_working_password() {
    let sys = TestSystem::start().await;
    let c = partnership(&sys).await;
    let items = sys.two_line_items(&c.provider_admin).await;
    let request = form(&c, "tabyskola", items);

    // The provider's first submit times out on its side and its client sends the same form
    // again at once: two calls with one request id race through the workflow.
    let (mut one, mut two) = (
        sys.workflows(&c.provider_admin),
        sys.workflows(&c.provider_admin),
    );
    let (a, b) = tokio::join!(
        one.create_customer(request.clone()),
        two.create_customer(request.clone())
    );
    let (a, b) = (
        a.expect("the first submit").into_inner(),
        b.expect("its twin").into_inner(),
    );
    let customer = a.customer.clone().expect("customer").id;
    assert_eq!(b.customer.expect("customer").id, customer, "one customer");
    assert_eq!(a.admin_user_name, b.admin_user_name);
    // Both confirmations show the same temporary password, so whichever the provider noted
    // down is the one that works.
    assert!(!a.temporary_password.is_empty());
    assert_eq!(a.temporary_password, b.temporary_password);

    // Yet another retry, before the customer's admin signed in, still shows it.
    let later = sys
        .workflows(&c.provider_admin)
        .create_customer(request.clone())
        .await
        .expect("a later retry")
        .into_inner();
    assert_eq!(later.temporary_password, a.temporary_password);

    // The customer's admin signs in with it and chooses a password.
    let signed_in = sys
        .sign_in(&a.admin_user_name, &a.temporary_password)
        .await
        .expect("the noted password signs in");
    assert!(signed_in.password_change_required);
    sys.activate_user(&a.admin_user_name, &a.temporary_password)
        .await;

    // From then on a retry shows the customer but no password, and the chosen one stays.
    let late = sys
        .workflows(&c.provider_admin)
        .create_customer(request)
        .await
        .expect("a late retry")
        .into_inner();
    assert_eq!(late.customer.expect("customer").id, customer);
    assert_eq!(late.temporary_password, "");
    let status = sys
        .sign_in(&a.admin_user_name, &a.temporary_password)
        .await
        .expect_err("the temporary password is gone");
    assert_eq!(status.code(), Code::Unauthenticated);
    sys.sign_in(&a.admin_user_name, partnerhub_tests::NEW_PASSWORD)
        .await
        .expect("the chosen password works");
    sys.stop().await;
}

#[tokio::test]
async fn only_an_indirect_provider_partners_with_an_enrolled_indirect_reseller() {
    let sys = TestSystem::start().await;
    let (direct, direct_admin) = sys
        .partner_admin("direkt", "6789012", &[PartnerType::DirectProvider])
        .await;
    let (reseller, _) = sys
        .partner_admin("skolit", "4567890", &[PartnerType::IndirectReseller])
        .await;
    let (provider, provider_admin) = sys
        .partner_admin("nordicdist", "3456789", &[PartnerType::IndirectProvider])
        .await;
    let ask = |token: String, inviter: String, invitee: String| {
        let mut client = sys.invitations(&token);
        let request = CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: InvitationKind::IndirectPartnership as i32,
                inviter_tenant_id: inviter,
                invitee_tenant_id: invitee,
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        };
        async move { client.create_invitation(request).await }
    };
    let status = ask(direct_admin, direct.id.clone(), reseller.id.clone())
        .await
        .expect_err("not a provider");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let status = ask(
        provider_admin.clone(),
        provider.id.clone(),
        direct.id.clone(),
    )
    .await
    .expect_err("not a reseller");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "NOT_AN_INDIRECT_RESELLER");
    ask(provider_admin, provider.id.clone(), reseller.id.clone())
        .await
        .expect("provider to reseller");
    sys.stop().await;
}
