//! Workflows that finish without their caller (issue 14): a CreateCustomer or AcceptInvitation
//! cut off at any of its steps, by a service that went down from that step on, is finished by a
//! gateway once the service is back, or by another gateway on the same database once the first
//! one stopped, with no retry from the client: exactly once, within seconds. While it is
//! unfinished, operators see it in `ListUnfinishedWorkflows` and in the
//! `partnerhub_workflows_unfinished` gauge; afterwards they don't. One that can't be finished in
//! time is given up, and its pending customer released.

use partnerhub_gateway::{Options, Resumption};
use partnerhub_proto::gateway::workflow_service_client::WorkflowServiceClient;
use partnerhub_proto::gateway::{
    self as gw, AcceptInvitationRequest, CreateCustomerRequest, WorkflowKind,
};
use partnerhub_proto::invitations::{
    CreateInvitationRequest, DelegatedAdminRequest, Invitation, InvitationKind,
};
use partnerhub_proto::relationships::{ListRelationshipsRequest, RelationshipType};
use partnerhub_proto::subscriptions::subscription_service_client::SubscriptionServiceClient;
use partnerhub_proto::subscriptions::{self as sub, ListOrdersRequest, ListSubscriptionsRequest};
use partnerhub_proto::tenants as pb;
use partnerhub_proto::types::PartnerType;
use partnerhub_tests::{
    Bearer, BrokenGateway, Outage, TestSystem, contact, customer_form, reason, scrape,
};
use std::future::Future;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic::transport::Channel;

/// How long an interrupted workflow may take to be finished once it can be.
const BOUND: Duration = Duration::from_secs(15);

/// The second gateways' settings: workflows are taken up again after 200 ms.
fn quick(give_up_after: Duration) -> Options {
    Options {
        stream_recheck: Duration::from_millis(200),
        workflows: Resumption {
            after: Duration::from_millis(200),
            lease: Duration::from_secs(2),
            max_backoff: Duration::from_millis(500),
            give_up_after,
        },
        ..Default::default()
    }
}

/// Waits until `check` holds, looking again every 50 ms; fails the test after `BOUND`.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + BOUND;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The four services, each behind a proxy that can take it down.
struct Outages {
    all: Vec<Outage>,
}

impl Outages {
    async fn new(sys: &TestSystem) -> Outages {
        let mut all = Vec::new();
        for name in partnerhub::system::SERVICES {
            all.push(sys.outage(name).await);
        }
        Outages { all }
    }

    fn of(&self, service: &str) -> &Outage {
        let index = partnerhub::system::SERVICES
            .iter()
            .position(|s| *s == service)
            .expect("a service");
        &self.all[index]
    }

    fn heal(&self) {
        self.all.iter().for_each(Outage::heal);
    }

    fn refs(&self) -> Vec<&Outage> {
        self.all.iter().collect()
    }
}

/// Where a workflow is cut off: from the `nth` call of `method` on, `service` is down.
struct Step {
    service: &'static str,
    method: &'static str,
    nth: usize,
}

const fn step(service: &'static str, method: &'static str, nth: usize) -> Step {
    Step {
        service,
        method,
        nth,
    }
}

/// How an interrupted workflow gets going again.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// The service comes back; the gateway that started the workflow finishes it.
    ServiceBack,
    /// That gateway stops; another one started on the same database finishes it.
    AnotherGateway,
}

const ENDINGS: [Ending; 2] = [Ending::ServiceBack, Ending::AnotherGateway];

/// The unfinished workflows a gateway lists, as the operator sees them.
async fn unfinished(
    sys: &TestSystem,
    gateway: &BrokenGateway,
    kind: WorkflowKind,
) -> Vec<gw::UnfinishedWorkflow> {
    WorkflowServiceClient::with_interceptor(gateway.channel.clone(), Bearer::new(&sys.operator))
        .list_unfinished_workflows(gw::ListUnfinishedWorkflowsRequest {
            kind: kind as i32,
            ..Default::default()
        })
        .await
        .expect("ListUnfinishedWorkflows")
        .into_inner()
        .workflows
}

/// The gateway's `partnerhub_workflows_unfinished` of `workflow`.
async fn gauge(gateway: &BrokenGateway, workflow: &str) -> Option<i64> {
    let line = format!("partnerhub_workflows_unfinished{{workflow=\"{workflow}\"}} ");
    scrape(gateway.metrics)
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&line).and_then(|n| n.trim().parse().ok()))
}

/// Whether `gateway` shows exactly one unfinished workflow, the one submitted with
/// `request_id`, in its list and its gauge.
async fn shows_unfinished(
    sys: &TestSystem,
    gateway: &BrokenGateway,
    kind: WorkflowKind,
    request_id: &str,
) -> bool {
    let listed = unfinished(sys, gateway, kind).await;
    let gauge = gauge(gateway, kind_label(kind)).await;
    listed.len() == 1 && listed[0].request_id == request_id && gauge == Some(1)
}

/// Whether `gateway` shows no unfinished workflow of `kind`.
async fn shows_none(sys: &TestSystem, gateway: &BrokenGateway, kind: WorkflowKind) -> bool {
    unfinished(sys, gateway, WorkflowKind::Unspecified)
        .await
        .is_empty()
        && gauge(gateway, kind_label(kind)).await == Some(0)
}

fn kind_label(kind: WorkflowKind) -> &'static str {
    match kind {
        WorkflowKind::AcceptInvitation => "AcceptInvitation",
        _ => "CreateCustomer",
    }
}

/// A workflow's request.
enum Submission {
    Customer(Box<CreateCustomerRequest>),
    Acceptance(AcceptInvitationRequest),
}

impl Submission {
    fn kind(&self) -> WorkflowKind {
        match self {
            Submission::Customer(_) => WorkflowKind::CreateCustomer,
            Submission::Acceptance(_) => WorkflowKind::AcceptInvitation,
        }
    }

    fn request_id(&self) -> &str {
        match self {
            Submission::Customer(r) => &r.request_id,
            Submission::Acceptance(r) => &r.request_id,
        }
    }

    /// Submits it through the gateway at `channel` as the holder of `token`.
    async fn submit(&self, channel: Channel, token: &str) -> Result<(), tonic::Status> {
        let mut client = WorkflowServiceClient::with_interceptor(channel, Bearer::new(token));
        match self {
            Submission::Customer(r) => client.create_customer(*r.clone()).await.map(drop),
            Submission::Acceptance(r) => client.accept_invitation(r.clone()).await.map(drop),
        }
    }
}

/// One interruption: what is submitted, by whom, where it is cut off, how it gets going again.
struct Trial<'a> {
    submission: Submission,
    token: &'a str,
    step: &'a Step,
    ending: Ending,
}

/// Submits a workflow through a gateway whose `trial.step` is cut off, sees it unfinished
/// there, gets it going again as `trial.ending` says, and waits until a gateway shows it
/// finished. The client never retries.
async fn interrupt_and_recover(
    sys: &TestSystem,
    outages: &Outages,
    database: &str,
    trial: Trial<'_>,
) {
    let Trial {
        submission,
        token,
        step,
        ending,
    } = trial;
    let (kind, request_id) = (submission.kind(), submission.request_id());
    let context = format!(
        "{} cut off at {} ({ending:?})",
        kind_label(kind),
        step.method
    );
    let first = sys
        .gateway_on(database, &outages.refs(), quick(BOUND * 10))
        .await;
    let outage = outages.of(step.service);
    outage.from_call(step.method, step.nth);
    let status = submission
        .submit(first.channel.clone(), token)
        .await
        .expect_err(&format!("{context}: the call stops there"));
    assert_eq!(status.code(), Code::Unavailable, "{context}: {status:?}");
    assert!(
        outage.is_down(),
        "{context}: the service went down at the step"
    );
    eventually(&format!("{context}: shown unfinished"), || {
        shows_unfinished(sys, &first, kind, request_id)
    })
    .await;
    let finisher = match ending {
        Ending::ServiceBack => {
            outages.heal();
            first
        }
        Ending::AnotherGateway => {
            first.stop();
            drop(first);
            outages.heal();
            sys.gateway_on(database, &[], quick(BOUND * 10)).await
        }
    };
    eventually(&format!("{context}: finished"), || {
        shows_none(sys, &finisher, kind)
    })
    .await;
}

/// Accepting the customer agreement, a step of both workflows.
const AGREEMENT: Step = step(
    "tenants",
    "/partnerhub.tenants.v1.TenantService/AcceptAgreement",
    1,
);

/// Creating the relationships, a step of both workflows.
const RELATIONSHIPS: Step = step(
    "relationships",
    "/partnerhub.relationships.v1.RelationshipInternalService/CreateRelationships",
    1,
);

/// The steps of a CreateCustomer that write, in order (its review reads first: the customer's
/// validation is the first CreateCustomerTenant call).
const CREATE_CUSTOMER_STEPS: [Step; 5] = [
    step(
        "tenants",
        "/partnerhub.tenants.v1.TenantInternalService/CreateCustomerTenant",
        2,
    ),
    AGREEMENT,
    RELATIONSHIPS,
    step(
        "subscriptions",
        "/partnerhub.subscriptions.v1.SubscriptionService/PlaceOrder",
        1,
    ),
    step(
        "tenants",
        "/partnerhub.tenants.v1.TenantInternalService/ActivateTenant",
        1,
    ),
];

/// Every customer, pending or active, with this domain prefix.
async fn customers_named(sys: &TestSystem, prefix: &str) -> Vec<pb::Tenant> {
    let mut found = Vec::new();
    for state in [pb::tenant::State::Pending, pb::tenant::State::Active] {
        let page = sys
            .tenants(&sys.operator)
            .list_tenants(pb::ListTenantsRequest {
                kind: pb::tenant::Kind::Customer as i32,
                state: state as i32,
                page_size: 1000,
                ..Default::default()
            })
            .await
            .expect("ListTenants")
            .into_inner()
            .tenants;
        found.extend(page.into_iter().filter(|t| t.domain_prefix == prefix));
    }
    found
}

/// The relationship types a customer has, sorted.
async fn relationship_types(sys: &TestSystem, customer: &str) -> Vec<i32> {
    let mut types: Vec<i32> = sys
        .relationships(&sys.operator)
        .list_relationships(ListRelationshipsRequest {
            client_tenant_id: customer.into(),
            ..Default::default()
        })
        .await
        .expect("ListRelationships")
        .into_inner()
        .relationships
        .iter()
        .map(|r| r.r#type)
        .collect();
    types.sort();
    types
}

async fn subscriptions_of(sys: &TestSystem, customer: &str) -> Vec<sub::Subscription> {
    SubscriptionServiceClient::new(sys.authed(&sys.operator))
        .list_subscriptions(ListSubscriptionsRequest {
            customer_tenant_id: customer.into(),
            ..Default::default()
        })
        .await
        .expect("ListSubscriptions")
        .into_inner()
        .subscriptions
}

async fn orders_of(sys: &TestSystem, customer: &str) -> usize {
    SubscriptionServiceClient::new(sys.authed(&sys.operator))
        .list_orders(ListOrdersRequest {
            customer_tenant_id: customer.into(),
            ..Default::default()
        })
        .await
        .expect("ListOrders")
        .into_inner()
        .orders
        .len()
}

/// Relationship types as a list of them reads, sorted.
fn type_numbers(types: &[RelationshipType]) -> Vec<i32> {
    let mut numbers: Vec<i32> = types.iter().map(|t| *t as i32).collect();
    numbers.sort();
    numbers
}

#[tokio::test]
async fn a_customer_creation_cut_off_at_any_step_is_finished_once_without_the_caller() {
    let sys = TestSystem::start().await;
    let (provider, admin) = sys
        .partner_admin("leverantor", "3456789", &[PartnerType::DirectProvider])
        .await;
    let items = sys.two_line_items(&admin).await;
    let outages = Outages::new(&sys).await;
    let database = sys.spare_gateway_database("crash");
    let mut trial = 0;
    for step in &CREATE_CUSTOMER_STEPS {
        for ending in ENDINGS {
            trial += 1;
            let prefix = format!("kund{trial}");
            let request = customer_form(&provider.id, &prefix, items.clone());
            let trial = Trial {
                submission: Submission::Customer(Box::new(request)),
                token: &admin,
                step,
                ending,
            };
            interrupt_and_recover(&sys, &outages, &database, trial).await;

            // Exactly one customer, active, with one admin, one set of relationships and
            // one order of the two subscriptions.
            let context = format!("{} ({ending:?})", step.method);
            let customers = customers_named(&sys, &prefix).await;
            assert_eq!(customers.len(), 1, "{context}: one customer");
            let customer = &customers[0];
            assert_eq!(
                customer.state,
                pb::tenant::State::Active as i32,
                "{context}"
            );
            let users = sys
                .tenants(&sys.operator)
                .list_users(pb::ListUsersRequest {
                    tenant_id: customer.id.clone(),
                    ..Default::default()
                })
                .await
                .expect("ListUsers")
                .into_inner()
                .users;
            assert_eq!(users.len(), 1, "{context}: one admin");
            assert_eq!(
                relationship_types(&sys, &customer.id).await,
                type_numbers(&[RelationshipType::Reseller, RelationshipType::DelegatedAdmin]),
                "{context}: one set of relationships"
            );
            assert_eq!(orders_of(&sys, &customer.id).await, 1, "{context}");
            assert_eq!(
                subscriptions_of(&sys, &customer.id).await.len(),
                2,
                "{context}"
            );
        }
    }
    sys.stop().await;
}

/// The steps of accepting an advisor's purchase offer with delegated admin, agreement included,
/// that write, in order (the check before them is the first RedeemInvitation call).
const ACCEPT_INVITATION_STEPS: [Step; 4] = [
    step(
        "invitations",
        "/partnerhub.invitations.v1.InvitationInternalService/RedeemInvitation",
        2,
    ),
    AGREEMENT,
    RELATIONSHIPS,
    step(
        "subscriptions",
        "/partnerhub.subscriptions.v1.SubscriptionInternalService/CreateAdvisorSubscriptions",
        1,
    ),
];

#[tokio::test]
async fn an_acceptance_cut_off_at_any_step_is_finished_once_without_the_caller() {
    let sys = TestSystem::start().await;
    let (advisor, advisor_admin) = sys
        .partner_admin("radgivarna", "7777777", &[PartnerType::Advisor])
        .await;
    let items = sys.two_line_items(&advisor_admin).await;
    let code = sys
        .invitations(&advisor_admin)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: InvitationKind::PurchaseOffer as i32,
                inviter_tenant_id: advisor.id.clone(),
                line_items: items,
                delegated_admin: Some(DelegatedAdminRequest::default()),
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("CreateInvitation")
        .into_inner()
        .code;
    let outages = Outages::new(&sys).await;
    let database = sys.spare_gateway_database("crash");
    let mut trial = 0;
    for step in &ACCEPT_INVITATION_STEPS {
        for ending in ENDINGS {
            trial += 1;
            let (customer, admin) = sys.customer_admin(&format!("skola{trial}"), "SE").await;
            let request = AcceptInvitationRequest {
                code: code.clone(),
                tenant_id: customer.id.clone(),
                agreement_signer: Some(contact("Maja", "Ek")),
                request_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            };
            let context = format!("{} ({ending:?})", step.method);
            let trial = Trial {
                submission: Submission::Acceptance(request.clone()),
                token: &admin,
                step,
                ending,
            };
            interrupt_and_recover(&sys, &outages, &database, trial).await;

            // The advisor and delegated admin relationships once, the two subscriptions once,
            // the agreement once.
            assert_eq!(
                relationship_types(&sys, &customer.id).await,
                type_numbers(&[RelationshipType::Advisor, RelationshipType::DelegatedAdmin]),
                "{context}: one set of relationships"
            );
            let subscriptions = subscriptions_of(&sys, &customer.id).await;
            assert_eq!(subscriptions.len(), 2, "{context}: {subscriptions:?}");
            let agreements = sys
                .tenants(&admin)
                .list_agreements(pb::ListAgreementsRequest {
                    tenant_id: customer.id.clone(),
                    ..Default::default()
                })
                .await
                .expect("ListAgreements")
                .into_inner()
                .agreements;
            assert_eq!(agreements.len(), 1, "{context}: one agreement");
            // Done: the caller's retry answers the same acceptance and makes nothing more.
            let again = sys
                .workflows(&admin)
                .accept_invitation(request.clone())
                .await
                .expect("a retry after the end")
                .into_inner();
            assert_eq!(again.subscriptions.len(), 2, "{context}");
            assert_eq!(subscriptions_of(&sys, &customer.id).await.len(), 2);
        }
    }
    sys.stop().await;
}

#[tokio::test]
async fn a_customer_that_cannot_be_finished_in_time_is_released_and_its_prefix_is_free_again() {
    let sys = TestSystem::start().await;
    let (provider, admin) = sys
        .partner_admin("leverantor", "3456789", &[PartnerType::DirectProvider])
        .await;
    let items = sys.two_line_items(&admin).await;
    let outages = Outages::new(&sys).await;
    let database = sys.spare_gateway_database("give_up");
    // Workflows not finished within a second are given up.
    let gateway = sys
        .gateway_on(&database, &outages.refs(), quick(Duration::from_secs(1)))
        .await;
    let mut client =
        WorkflowServiceClient::with_interceptor(gateway.channel.clone(), Bearer::new(&admin));
    // The order can't be placed: subscriptions stays down.
    outages.of("subscriptions").from_call(
        "/partnerhub.subscriptions.v1.SubscriptionService/PlaceOrder",
        1,
    );
    let request = customer_form(&provider.id, "lerum", items);
    let status = client
        .create_customer(request.clone())
        .await
        .expect_err("subscriptions is down");
    assert_eq!(status.code(), Code::Unavailable);
    let pending = customers_named(&sys, "lerum").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].state, pb::tenant::State::Pending as i32);

    eventually("given up", || {
        shows_none(&sys, &gateway, WorkflowKind::CreateCustomer)
    })
    .await;
    assert!(
        customers_named(&sys, "lerum").await.is_empty(),
        "the pending customer is released"
    );
    // The caller's retry is told so, even with the service back.
    outages.heal();
    let status = client
        .create_customer(request.clone())
        .await
        .expect_err("given up");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Aborted, "WORKFLOW_ABANDONED"),
        "{status:?}"
    );
    // Its domain prefix is free again: a new request takes it.
    let created = client
        .create_customer(CreateCustomerRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            ..request
        })
        .await
        .expect("a new request")
        .into_inner();
    let customers = customers_named(&sys, "lerum").await;
    assert_eq!(customers.len(), 1);
    assert_eq!(
        Some(&customers[0].id),
        created.customer.map(|c| c.id).as_ref()
    );
    sys.stop().await;
}

#[tokio::test]
async fn only_a_pending_customer_is_released_and_releasing_again_changes_nothing() {
    use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
    let sys = TestSystem::start().await;
    let mut tenants = TenantInternalServiceClient::new(sys.service("tenants").await);
    let create = |prefix: &str, request_id: &str| pb::CreateCustomerTenantRequest {
        customer: Some(partnerhub_tests::customer(prefix)),
        request_id: request_id.into(),
        validate_only: false,
        workflow_fingerprint: String::new(),
    };
    let release = |request_id: &str| pb::ReleaseCustomerTenantRequest {
        request_id: request_id.into(),
    };
    let pending_id = uuid::Uuid::new_v4().to_string();
    let pending = tenants
        .create_customer_tenant(create("vantande", &pending_id))
        .await
        .expect("created")
        .into_inner()
        .customer
        .expect("customer");
    for _ in 0..2 {
        let released = tenants
            .release_customer_tenant(release(&pending_id))
            .await
            .expect("released")
            .into_inner();
        assert_eq!(released.tenant_id, pending.id);
    }
    assert!(customers_named(&sys, "vantande").await.is_empty());
    // Its domain prefix is free again.
    tenants
        .create_customer_tenant(create("vantande", &uuid::Uuid::new_v4().to_string()))
        .await
        .expect("the prefix is free");

    // An active customer stays.
    let active_id = uuid::Uuid::new_v4().to_string();
    let active = tenants
        .create_customer_tenant(create("aktiv", &active_id))
        .await
        .expect("created")
        .into_inner()
        .customer
        .expect("customer");
    tenants
        .activate_tenant(pb::ActivateTenantRequest {
            tenant_id: active.id.clone(),
        })
        .await
        .expect("activated");
    let refused = tenants
        .release_customer_tenant(release(&active_id))
        .await
        .expect_err("active");
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::FailedPrecondition, "TENANT_ACTIVE")
    );
    assert_eq!(customers_named(&sys, "aktiv").await.len(), 1);

    // A request id that created nothing releases nothing.
    let nothing = tenants
        .release_customer_tenant(release(&uuid::Uuid::new_v4().to_string()))
        .await
        .expect("nothing to release")
        .into_inner();
    assert!(nothing.tenant_id.is_empty());
    sys.stop().await;
}
