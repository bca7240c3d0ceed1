//! Service requests through the gateway, as the seeds tell them: a reseller answers the
//! requests of the subscriptions it is the designated support contact of (seed 003), a partner
//! with delegated admin opens one for its customer (seed 004), an advisor on its customer's
//! behalf (seed 001); no partner sees another's requests.

use partnerhub_proto::gateway::{
    AddSubscriptionsRequest, ListAuditEventsRequest, audit_service_client::AuditServiceClient,
};
use partnerhub_proto::invitations::{Invitation, InvitationKind};
use partnerhub_proto::relationships as rel;
use partnerhub_proto::subscriptions::{
    self as sub, subscription_service_client::SubscriptionServiceClient,
};
use partnerhub_proto::support::service_request::{Severity, State};
use partnerhub_proto::support::{self as pb, support_service_client::SupportServiceClient};
use partnerhub_proto::tenants as tn;
use partnerhub_proto::types::{Cloud, LineItem, PartnerType, Role};
use partnerhub_tests::{TestSystem, bad_fields, contact, customer_form, reason};
use tonic::Code;

fn support(sys: &TestSystem, token: &str) -> SupportServiceClient<partnerhub_tests::Authed> {
    SupportServiceClient::new(sys.authed(token))
}

/// A request to open for `customer`, about `subscription` ("" for the tenant).
fn new_request(customer: &str, subscription: &str, title: &str) -> pb::ServiceRequest {
    pb::ServiceRequest {
        customer_tenant_id: customer.into(),
        subscription_id: subscription.into(),
        title: title.into(),
        description: "Teachers can't sign in to their mailboxes since this morning.".into(),
        severity: Severity::High as i32,
        contact_email: "it@skolan.example".into(),
        contact_phone: "+46 8 555 12 34".into(),
        ..Default::default()
    }
}

async fn open(sys: &TestSystem, token: &str, request: pb::ServiceRequest) -> pb::ServiceRequest {
    support(sys, token)
        .create_service_request(pb::CreateServiceRequestRequest {
            service_request: Some(request),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("CreateServiceRequest")
        .into_inner()
        .service_request
        .expect("the request")
}

async fn get(
    sys: &TestSystem,
    token: &str,
    tenant: &str,
    id: &str,
) -> Result<pb::ServiceRequest, tonic::Status> {
    support(sys, token)
        .get_service_request(pb::GetServiceRequestRequest {
            tenant_id: tenant.into(),
            service_request_id: id.into(),
        })
        .await
        .map(|r| r.into_inner().service_request.expect("the request"))
}

async fn queue(sys: &TestSystem, token: &str, partner: &str) -> Vec<String> {
    listed(
        sys,
        token,
        pb::ListServiceRequestsRequest {
            partner_tenant_id: partner.into(),
            ..Default::default()
        },
    )
    .await
}

async fn listed(
    sys: &TestSystem,
    token: &str,
    request: pb::ListServiceRequestsRequest,
) -> Vec<String> {
    support(sys, token)
        .list_service_requests(request)
        .await
        .expect("ListServiceRequests")
        .into_inner()
        .service_requests
        .into_iter()
        .map(|r| r.id)
        .collect()
}

async fn note(
    sys: &TestSystem,
    token: &str,
    tenant: &str,
    id: &str,
    text: &str,
) -> Result<pb::ServiceRequest, tonic::Status> {
    support(sys, token)
        .add_service_request_note(pb::AddServiceRequestNoteRequest {
            tenant_id: tenant.into(),
            service_request_id: id.into(),
            text: text.into(),
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner().service_request.expect("the request"))
}

async fn close(
    sys: &TestSystem,
    token: &str,
    tenant: &str,
    id: &str,
    etag: &str,
) -> Result<pb::ServiceRequest, tonic::Status> {
    support(sys, token)
        .close_service_request(pb::CloseServiceRequestRequest {
            tenant_id: tenant.into(),
            service_request_id: id.into(),
            resolution: "The licences were reassigned; sign-in works again.".into(),
            etag: etag.into(),
        })
        .await
        .map(|r| r.into_inner().service_request.expect("the request"))
}

fn assert_not_found(result: Result<pb::ServiceRequest, tonic::Status>, what: &str) {
    let status = result.expect_err(what);
    assert_eq!(status.code(), Code::NotFound, "{what}: {status:?}");
    assert_eq!(reason(&status), "SERVICE_REQUEST_NOT_FOUND", "{what}");
}

/// Seed 003's world: an indirect provider in partnership with a reseller, their customer
/// (with its admin signed in) and a subscription sold through the reseller, the reseller its
/// designated support contact.
struct Seed003 {
    provider: String,
    provider_admin: String,
    reseller: String,
    reseller_admin: String,
    customer: String,
    customer_admin: String,
    subscription: String,
}

async fn seed_003(sys: &TestSystem) -> Seed003 {
    let ((provider, provider_admin), (reseller, reseller_admin)) = sys.indirect_partnership().await;
    let offer = sys.offer_in_sweden(&provider_admin).await;
    let line = LineItem {
        offer_id: offer.id.clone(),
        quantity: offer.min_quantity,
        ..Default::default()
    };
    let created = sys
        .workflows(&provider_admin)
        .create_customer(partnerhub_proto::gateway::CreateCustomerRequest {
            indirect_reseller_id: reseller.id.clone(),
            ..customer_form(&provider.id, "lerum", vec![line.clone()])
        })
        .await
        .expect("CreateCustomer")
        .into_inner();
    let customer_admin = sys
        .activate_user(&created.admin_user_name, &created.temporary_password)
        .await;
    let customer = created.customer.expect("customer").id;
    // Seed 003: "select the reseller from the Designated support contact list".
    let added = sys
        .workflows(&provider_admin)
        .add_subscriptions(AddSubscriptionsRequest {
            partner_tenant_id: provider.id.clone(),
            customer_tenant_id: customer.clone(),
            indirect_reseller_id: reseller.id.clone(),
            line_items: vec![line],
            reseller_is_support_contact: true,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("AddSubscriptions")
        .into_inner();
    let subscription = added.subscriptions[0].clone();
    assert_eq!(subscription.support_contact_tenant_id, reseller.id);
    Seed003 {
        provider: provider.id,
        provider_admin,
        reseller: reseller.id,
        reseller_admin,
        customer,
        customer_admin,
        subscription: subscription.id,
    }
}

#[tokio::test]
async fn a_reseller_answers_a_request_for_which_it_is_the_support_contact() {
    let sys = TestSystem::start().await;
    let w = seed_003(&sys).await;

    // The customer's admin opens a request about the subscription.
    let opened = open(
        &sys,
        &w.customer_admin,
        new_request(&w.customer, &w.subscription, "Mail is down"),
    )
    .await;
    assert_eq!(opened.state, State::Open as i32);
    assert_eq!(opened.severity, Severity::High as i32);
    assert_eq!(
        opened.acting_partner_tenant_id, "",
        "the customer opened it itself"
    );
    assert_eq!(opened.support_contact_tenant_id, w.reseller);
    assert_eq!(opened.contact_email, "it@skolan.example");

    // It is in the reseller's queue (and its open ones), not among its low-severity ones.
    assert_eq!(
        queue(&sys, &w.reseller_admin, &w.reseller).await,
        std::slice::from_ref(&opened.id)
    );
    let open_ones = listed(
        &sys,
        &w.reseller_admin,
        pb::ListServiceRequestsRequest {
            partner_tenant_id: w.reseller.clone(),
            state: State::Open as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(open_ones, std::slice::from_ref(&opened.id));
    let low = listed(
        &sys,
        &w.reseller_admin,
        pb::ListServiceRequestsRequest {
            partner_tenant_id: w.reseller.clone(),
            severity: Severity::Low as i32,
            ..Default::default()
        },
    )
    .await;
    assert!(low.is_empty(), "{low:?}");

    // The reseller answers: the request is in progress, the note signed by the reseller.
    let answered = note(
        &sys,
        &w.reseller_admin,
        &w.reseller,
        &opened.id,
        "We are looking at it.\nMeanwhile, webmail works.",
    )
    .await
    .expect("the reseller adds a note");
    assert_eq!(answered.state, State::InProgress as i32);
    assert_eq!(answered.notes.len(), 1);
    assert_eq!(answered.notes[0].author_tenant_id, w.reseller);
    assert_eq!(
        answered.notes[0].text,
        "We are looking at it.\nMeanwhile, webmail works."
    );

    // The customer reads the answer and replies; the state stays in progress.
    let replied = note(
        &sys,
        &w.customer_admin,
        &w.customer,
        &opened.id,
        "Thanks, still down.",
    )
    .await
    .expect("the customer adds a note");
    assert_eq!(replied.state, State::InProgress as i32);
    let seen = get(&sys, &w.customer_admin, &w.customer, &opened.id)
        .await
        .expect("the customer reads it");
    assert_eq!(
        seen.notes
            .iter()
            .map(|n| n.author_tenant_id.clone())
            .collect::<Vec<_>>(),
        [w.reseller.clone(), w.customer.clone()]
    );

    // The provider bills the subscription but is not its support contact, and did not open the
    // request: to it the request does not exist.
    assert!(queue(&sys, &w.provider_admin, &w.provider).await.is_empty());
    assert_not_found(
        get(&sys, &w.provider_admin, &w.provider, &opened.id).await,
        "provider reads",
    );
    assert_not_found(
        note(&sys, &w.provider_admin, &w.provider, &opened.id, "Hello").await,
        "provider notes",
    );
    assert_not_found(
        close(&sys, &w.provider_admin, &w.provider, &opened.id, "").await,
        "provider closes",
    );

    // The reseller closes it; with a stale etag first.
    let stale = close(
        &sys,
        &w.reseller_admin,
        &w.reseller,
        &opened.id,
        &opened.etag,
    )
    .await
    .expect_err("a stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(reason(&stale), "ETAG_MISMATCH");
    let closed = close(&sys, &w.reseller_admin, &w.reseller, &opened.id, &seen.etag)
        .await
        .expect("the reseller closes it");
    assert_eq!(closed.state, State::Closed as i32);
    assert_eq!(closed.closer_tenant_id, w.reseller);
    assert!(closed.close_time.is_some());
    assert!(
        closed
            .resolution
            .starts_with("The licences were reassigned")
    );

    // Closing is final.
    for refused in [
        note(&sys, &w.customer_admin, &w.customer, &opened.id, "Again?").await,
        close(&sys, &w.customer_admin, &w.customer, &opened.id, "").await,
    ] {
        let status = refused.expect_err("closed is final");
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(reason(&status), "SERVICE_REQUEST_CLOSED");
    }
    let customers = listed(
        &sys,
        &w.customer_admin,
        pb::ListServiceRequestsRequest {
            customer_tenant_id: w.customer.clone(),
            state: State::Closed as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(customers, std::slice::from_ref(&opened.id));

    // Every change is in the audit trail: the opening in the customer's, the reseller's answer
    // and close in the reseller's.
    let methods = |events: Vec<partnerhub_proto::gateway::AuditEvent>| {
        events
            .into_iter()
            .map(|e| (e.method, e.resource_id))
            .collect::<Vec<_>>()
    };
    let trail = |token: String, tenant: String| {
        let sys = &sys;
        async move {
            AuditServiceClient::new(sys.authed(&token))
                .list_audit_events(ListAuditEventsRequest {
                    tenant_id: tenant,
                    ..Default::default()
                })
                .await
                .expect("ListAuditEvents")
                .into_inner()
                .events
        }
    };
    let customer_trail = methods(trail(w.customer_admin.clone(), w.customer.clone()).await);
    assert!(
        customer_trail.contains(&(
            "partnerhub.support.v1.SupportService/CreateServiceRequest".into(),
            w.customer.clone()
        )),
        "{customer_trail:?}"
    );
    let reseller_trail = methods(trail(w.reseller_admin.clone(), w.reseller.clone()).await);
    for method in ["AddServiceRequestNote", "CloseServiceRequest"] {
        assert!(
            reseller_trail.contains(&(
                format!("partnerhub.support.v1.SupportService/{method}"),
                opened.id.clone()
            )),
            "{method}: {reseller_trail:?}"
        );
    }
    sys.stop().await;
}

#[tokio::test]
async fn changing_the_support_contact_moves_the_request_to_the_new_contacts_queue() {
    let sys = TestSystem::start().await;
    let w = seed_003(&sys).await;
    let opened = open(
        &sys,
        &w.customer_admin,
        new_request(&w.customer, &w.subscription, "Licences missing"),
    )
    .await;
    assert_eq!(
        queue(&sys, &w.reseller_admin, &w.reseller).await,
        std::slice::from_ref(&opened.id)
    );

    // The billing provider makes itself the support contact again.
    SubscriptionServiceClient::new(sys.authed(&w.provider_admin))
        .update_subscription(sub::UpdateSubscriptionRequest {
            tenant_id: w.provider.clone(),
            subscription: Some(sub::Subscription {
                id: w.subscription.clone(),
                support_contact_tenant_id: w.provider.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["support_contact_tenant_id".into()],
            }),
        })
        .await
        .expect("the provider becomes the support contact");

    assert_eq!(
        queue(&sys, &w.provider_admin, &w.provider).await,
        std::slice::from_ref(&opened.id)
    );
    let seen = get(&sys, &w.provider_admin, &w.provider, &opened.id)
        .await
        .expect("the provider reads it now");
    assert_eq!(seen.support_contact_tenant_id, w.provider);
    assert!(queue(&sys, &w.reseller_admin, &w.reseller).await.is_empty());
    assert_not_found(
        get(&sys, &w.reseller_admin, &w.reseller, &opened.id).await,
        "the former contact",
    );
    sys.stop().await;
}

/// A partner with `types`, and a customer that accepted its invitation of `kind` (with the
/// customer agreement); the customer's admin token.
async fn partner_with_customer(
    sys: &TestSystem,
    prefix: &str,
    mpn_id: &str,
    types: &[PartnerType],
    invitation: Invitation,
) -> (tn::Tenant, String, tn::Tenant, String) {
    let (partner, admin) = sys.partner_admin(prefix, mpn_id, types).await;
    let (customer, customer_admin) = sys.customer_admin(&format!("{prefix}kund"), "SE").await;
    let code = sys
        .invite(
            &admin,
            Invitation {
                inviter_tenant_id: partner.id.clone(),
                ..invitation
            },
        )
        .await
        .code;
    sys.workflows(&customer_admin)
        .accept_invitation(partnerhub_proto::gateway::AcceptInvitationRequest {
            code,
            tenant_id: customer.id.clone(),
            agreement_signer: Some(contact("Maja", "Ek")),
            ..Default::default()
        })
        .await
        .expect("the customer accepts");
    (partner, admin, customer, customer_admin)
}

#[tokio::test]
async fn a_partner_with_delegated_admin_opens_a_request_for_its_customer() {
    let sys = TestSystem::start().await;
    // Seed 004: a reseller relationship with delegated admin.
    let (partner, admin, customer, customer_admin) = partner_with_customer(
        &sys,
        "fabrikam",
        "1234567",
        &[PartnerType::DirectProvider],
        Invitation {
            kind: InvitationKind::ResellerRelationship as i32,
            delegated_admin: Some(Default::default()),
            ..Default::default()
        },
    )
    .await;
    let (erik, agent) = sys
        .user(&admin, &partner.id, "erik", &[Role::AdminAgent])
        .await;

    // "Open a service request for the customer": the agent does, on the customer's behalf.
    let asked = pb::CreateServiceRequestRequest {
        service_request: Some(new_request(&customer.id, "", "Users can't sign in")),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let opened = support(&sys, &agent)
        .create_service_request(asked.clone())
        .await
        .expect("the agent opens a request for the customer")
        .into_inner()
        .service_request
        .expect("request");
    assert_eq!(opened.acting_partner_tenant_id, partner.id);
    assert_eq!(opened.creator_user_id, erik.id);
    assert_eq!(opened.subscription_id, "");
    // A retry with the same request id opens nothing new.
    let again = support(&sys, &agent)
        .create_service_request(asked)
        .await
        .expect("the retry")
        .into_inner()
        .service_request
        .expect("request");
    assert_eq!(again.id, opened.id);

    // The partner finds it in its queue, the customer among its own.
    assert_eq!(
        queue(&sys, &agent, &partner.id).await,
        std::slice::from_ref(&opened.id)
    );
    let of_customer = listed(
        &sys,
        &customer_admin,
        pb::ListServiceRequestsRequest {
            customer_tenant_id: customer.id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(of_customer, std::slice::from_ref(&opened.id));

    // Another partner, with no relationship to the customer: can't open one for it, and the
    // request does not exist for it.
    let (other, other_admin) = sys
        .partner_admin("contoso", "7654321", &[PartnerType::DirectProvider])
        .await;
    let refused = support(&sys, &other_admin)
        .create_service_request(pb::CreateServiceRequestRequest {
            service_request: Some(new_request(&customer.id, "", "Hello")),
            request_id: String::new(),
        })
        .await
        .expect_err("no relationship");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "NO_ACCESS_TO_TENANT");
    assert_not_found(
        get(&sys, &other_admin, &other.id, &opened.id).await,
        "another partner reads",
    );
    assert!(queue(&sys, &other_admin, &other.id).await.is_empty());
    // Naming the customer to read it is refused at the gateway: a partner reads in its own name.
    let as_customer = get(&sys, &other_admin, &customer.id, &opened.id)
        .await
        .expect_err("another tenant's name");
    assert_eq!(as_customer.code(), Code::PermissionDenied);

    // The customer removes the partner's admin roles: its agent can't open more, but the
    // partner still follows the request it opened.
    sys.relationships(&customer_admin)
        .remove_admin_roles(rel::RemoveAdminRolesRequest {
            customer_tenant_id: customer.id.clone(),
            partner_tenant_id: partner.id.clone(),
        })
        .await
        .expect("RemoveAdminRoles");
    let removed = support(&sys, &agent)
        .create_service_request(pb::CreateServiceRequestRequest {
            service_request: Some(new_request(&customer.id, "", "Another one")),
            request_id: String::new(),
        })
        .await
        .expect_err("no delegated admin any more");
    assert_eq!(removed.code(), Code::PermissionDenied);
    let followed = note(&sys, &agent, &partner.id, &opened.id, "Fixed on our side.")
        .await
        .expect("the acting partner answers");
    assert_eq!(followed.state, State::InProgress as i32);
    sys.stop().await;
}

#[tokio::test]
async fn an_advisor_opens_a_request_on_its_customers_behalf() {
    let sys = TestSystem::start().await;
    let (_, probe) = sys
        .partner_admin("katalog", "1111111", &[PartnerType::DirectProvider])
        .await;
    let trial = sys
        .offers(&probe, Cloud::Worldwide, "SE")
        .await
        .into_iter()
        .find(|o| o.trial_available)
        .expect("an offer with a trial");
    // Seed 001: an advisor may "manage support incidents" for its customer (a trial
    // invitation makes the advisor relationship, with no delegated admin).
    let (advisor, admin, customer, customer_admin) = partner_with_customer(
        &sys,
        "radgivarna",
        "7777777",
        &[PartnerType::Advisor],
        Invitation {
            kind: InvitationKind::Trial as i32,
            line_items: vec![LineItem {
                offer_id: trial.id.clone(),
                quantity: trial.min_quantity,
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .await;
    let (_, helpdesk) = sys
        .user(&admin, &advisor.id, "lina", &[Role::HelpdeskAgent])
        .await;
    let (_, sales) = sys
        .user(&admin, &advisor.id, "sam", &[Role::SalesAgent])
        .await;
    let trial_subscription = SubscriptionServiceClient::new(sys.authed(&customer_admin))
        .list_subscriptions(sub::ListSubscriptionsRequest {
            customer_tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListSubscriptions")
        .into_inner()
        .subscriptions
        .into_iter()
        .next()
        .expect("the trial");

    let opened = open(
        &sys,
        &helpdesk,
        new_request(
            &customer.id,
            &trial_subscription.id,
            "Trial can't be activated",
        ),
    )
    .await;
    assert_eq!(opened.acting_partner_tenant_id, advisor.id);
    assert_eq!(
        queue(&sys, &helpdesk, &advisor.id).await,
        std::slice::from_ref(&opened.id)
    );
    let seen = get(&sys, &customer_admin, &customer.id, &opened.id)
        .await
        .expect("the customer sees what its advisor opened");
    assert_eq!(seen.title, "Trial can't be activated");

    // A sales agent holds no customer role through the advisor relationship.
    let refused = support(&sys, &sales)
        .create_service_request(pb::CreateServiceRequestRequest {
            service_request: Some(new_request(&customer.id, "", "Hello")),
            request_id: String::new(),
        })
        .await
        .expect_err("a sales agent");
    assert_eq!(refused.code(), Code::PermissionDenied);

    // The customer closes it itself.
    let closed = close(&sys, &customer_admin, &customer.id, &opened.id, "")
        .await
        .expect("the customer closes it");
    assert_eq!(closed.closer_tenant_id, customer.id);
    sys.stop().await;
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_each_field() {
    let sys = TestSystem::start().await;
    let w = seed_003(&sys).await;
    let mut client = support(&sys, &w.customer_admin);

    let status = client
        .create_service_request(pb::CreateServiceRequestRequest {
            service_request: Some(pb::ServiceRequest {
                customer_tenant_id: w.customer.clone(),
                subscription_id: "not-a-uuid".into(),
                title: "  ".into(),
                severity: 42,
                contact_email: "it at skolan".into(),
                ..Default::default()
            }),
            request_id: "again-not-a-uuid".into(),
        })
        .await
        .expect_err("bad input");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&status),
        [
            "service_request.subscription_id",
            "service_request.title",
            "service_request.description",
            "service_request.severity",
            "service_request.contact_email",
            "request_id",
        ]
    );
    // The customer's id is the gateway's to check, before anything else.
    let status = client
        .create_service_request(pb::CreateServiceRequestRequest {
            service_request: Some(new_request("", "", "No customer")),
            request_id: String::new(),
        })
        .await
        .expect_err("no customer");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["service_request.customer_tenant_id"]);

    // Another customer's subscription is none of this customer's.
    let (other, other_admin) = sys.customer_admin("ekskolan", "SE").await;
    let status = support(&sys, &other_admin)
        .create_service_request(pb::CreateServiceRequestRequest {
            service_request: Some(new_request(&other.id, &w.subscription, "Not mine")),
            request_id: String::new(),
        })
        .await
        .expect_err("another customer's subscription");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason(&status), "SUBSCRIPTION_NOT_FOUND");

    // The same request id with another request.
    let rid = uuid::Uuid::new_v4().to_string();
    let first = pb::CreateServiceRequestRequest {
        service_request: Some(new_request(&w.customer, "", "First")),
        request_id: rid.clone(),
    };
    let opened = client
        .create_service_request(first.clone())
        .await
        .expect("the first")
        .into_inner()
        .service_request
        .expect("request");
    let status = client
        .create_service_request(pb::CreateServiceRequestRequest {
            service_request: Some(new_request(&w.customer, "", "Second")),
            request_id: rid,
        })
        .await
        .expect_err("reused id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "REQUEST_ID_REUSED");

    let status = note(&sys, &w.customer_admin, &w.customer, "nope", " ")
        .await
        .expect_err("bad note");
    assert_eq!(bad_fields(&status), ["service_request_id", "text"]);
    let status = support(&sys, &w.customer_admin)
        .close_service_request(pb::CloseServiceRequestRequest {
            tenant_id: w.customer.clone(),
            service_request_id: opened.id.clone(),
            resolution: String::new(),
            etag: "yesterday".into(),
        })
        .await
        .expect_err("bad close");
    assert_eq!(bad_fields(&status), ["resolution", "etag"]);
    let status = support(&sys, &w.customer_admin)
        .list_service_requests(pb::ListServiceRequestsRequest {
            customer_tenant_id: w.customer.clone(),
            state: 9,
            page_size: -1,
            ..Default::default()
        })
        .await
        .expect_err("bad list");
    assert_eq!(bad_fields(&status), ["state", "page_size"]);
    let status = support(&sys, &w.customer_admin)
        .list_service_requests(pb::ListServiceRequestsRequest::default())
        .await
        .expect_err("a list of nobody's");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["customer_tenant_id"]);
    assert_not_found(
        get(
            &sys,
            &w.customer_admin,
            &w.customer,
            &uuid::Uuid::now_v7().to_string(),
        )
        .await,
        "an unknown request",
    );
    sys.stop().await;
}
