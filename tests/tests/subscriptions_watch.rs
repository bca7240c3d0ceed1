//! `WatchSubscriptionEvents`, called directly on the subscriptions service: a partner sees the
//! changes of the subscriptions it bills, resells or is partner of record of (seed 002: "the
//! partner of record is told of changes"), in order, and nothing of others'; it resumes after
//! its last cursor without gap or repeat; a client that doesn't read holds up nobody; a trial
//! that ends says so once.

use partnerhub_proto::relationships::relationship_internal_service_client::RelationshipInternalServiceClient;
use partnerhub_proto::relationships::{self as rpb, RelationshipType};
use partnerhub_proto::subscriptions::subscription::State;
use partnerhub_proto::subscriptions::subscription_event::Type;
use partnerhub_proto::subscriptions::subscription_internal_service_client::SubscriptionInternalServiceClient;
use partnerhub_proto::subscriptions::subscription_service_client::SubscriptionServiceClient;
use partnerhub_proto::subscriptions::{self as pb};
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use partnerhub_proto::tenants::{self as tpb, agreement};
use partnerhub_proto::types::{LineItem, PartnerType};
use partnerhub_tests::{Peer, TestSystem, bad_fields, contact, customer, reason};
use std::time::Duration;
use tonic::codec::Streaming;
use tonic::{Code, Status};
use uuid::Uuid;

/// Worldwide, 30-day trial, 1 to 300 licences.
const BUSINESS_BASIC: &str = "01a1fc99-ee8a-7d8f-9a4d-a85439c0beee";
/// Worldwide, 30-day trial, 1 to 300 licences.
const BUSINESS_STANDARD: &str = "01a1fc99-ee8b-7dd4-adfc-ab4fe853b15b";
/// Worldwide, 30-day trial, 1 to 300 licences.
const TEAMS_ESSENTIALS: &str = "01a1fc99-ee8f-76bf-b73f-9b0b06c3de00";
/// Worldwide, no trial.
const EXCHANGE_PLAN_1: &str = "01a1fc99-ee8e-7520-af98-264faa6aea9c";
const DAY: Duration = Duration::from_secs(86_400);
/// A safety net only: every event awaited here is due at once (or within the watchers' 1 s
/// poll); nothing waits for this to pass.
const PATIENCE: Duration = Duration::from_secs(20);

type Events = Streaming<pb::WatchSubscriptionEventsResponse>;

struct Env {
    sys: TestSystem,
    subs: SubscriptionServiceClient<Peer>,
    internal: SubscriptionInternalServiceClient<Peer>,
    tenants: TenantServiceClient<Peer>,
    tenants_internal: TenantInternalServiceClient<Peer>,
    relationships: RelationshipInternalServiceClient<Peer>,
}

impl Env {
    async fn start() -> Env {
        let sys = TestSystem::start().await;
        let subscriptions = sys.service("subscriptions").await;
        let tenants = sys.service("tenants").await;
        Env {
            subs: SubscriptionServiceClient::new(subscriptions.clone()),
            internal: SubscriptionInternalServiceClient::new(subscriptions),
            tenants: TenantServiceClient::new(tenants.clone()),
            tenants_internal: TenantInternalServiceClient::new(tenants),
            relationships: RelationshipInternalServiceClient::new(
                sys.service("relationships").await,
            ),
            sys,
        }
    }

    async fn stop(self) {
        self.sys.stop().await;
    }

    async fn partner(&self, prefix: &str, mpn_id: &str, types: &[PartnerType]) -> String {
        self.sys
            .create_partner(prefix, mpn_id, types)
            .await
            .tenant
            .id
    }

    /// An active customer in Sweden that accepted the customer agreement.
    async fn customer(&self, prefix: &str) -> String {
        let mut tenants = self.tenants_internal.clone();
        let id = tenants
            .create_customer_tenant(tpb::CreateCustomerTenantRequest {
                customer: Some(customer(prefix)),
                request_id: String::new(),
                validate_only: false,
                workflow_fingerprint: String::new(),
            })
            .await
            .expect("CreateCustomerTenant")
            .into_inner()
            .customer
            .expect("customer")
            .id;
        tenants
            .activate_tenant(tpb::ActivateTenantRequest {
                tenant_id: id.clone(),
            })
            .await
            .expect("ActivateTenant");
        self.accept(&id, agreement::Type::CustomerAgreement).await;
        id
    }

    async fn accept(&self, tenant_id: &str, kind: agreement::Type) {
        self.tenants
            .clone()
            .accept_agreement(tpb::AcceptAgreementRequest {
                tenant_id: tenant_id.into(),
                r#type: kind as i32,
                signer: Some(contact("Maja", "Ek")),
            })
            .await
            .expect("AcceptAgreement");
    }

    async fn relate(&self, kind: RelationshipType, partner: &str, client: &str, provider: &str) {
        self.relationships
            .clone()
            .create_relationships(rpb::CreateRelationshipsRequest {
                relationships: vec![rpb::NewRelationship {
                    r#type: kind as i32,
                    partner_tenant_id: partner.into(),
                    client_tenant_id: client.into(),
                    indirect_provider_tenant_id: provider.into(),
                    ..Default::default()
                }],
                request_id: String::new(),
            })
            .await
            .expect("CreateRelationships");
    }

    /// A direct provider reselling to a new customer: (partner, customer).
    async fn reseller(&self, prefix: &str, mpn_id: &str) -> (String, String) {
        let partner = self
            .partner(prefix, mpn_id, &[PartnerType::DirectProvider])
            .await;
        let customer = self.customer(&format!("{prefix}kund")).await;
        self.relate(RelationshipType::Reseller, &partner, &customer, "")
            .await;
        (partner, customer)
    }

    async fn order(
        &self,
        partner: &str,
        customer: &str,
        reseller: &str,
        offers: &[&str],
    ) -> Vec<pb::Subscription> {
        self.subs
            .clone()
            .place_order(pb::PlaceOrderRequest {
                customer_tenant_id: customer.into(),
                partner_tenant_id: partner.into(),
                indirect_reseller_id: reseller.into(),
                line_items: offers.iter().map(|o| line(o, 10)).collect(),
                ..Default::default()
            })
            .await
            .expect("PlaceOrder")
            .into_inner()
            .subscriptions
    }

    async fn update(
        &self,
        tenant_id: &str,
        subscription: pb::Subscription,
        path: &str,
    ) -> pb::Subscription {
        self.subs
            .clone()
            .update_subscription(pb::UpdateSubscriptionRequest {
                tenant_id: tenant_id.into(),
                subscription: Some(subscription),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec![path.into()],
                }),
            })
            .await
            .expect("UpdateSubscription")
            .into_inner()
            .subscription
            .expect("subscription")
    }

    async fn advisor_subscriptions(
        &self,
        customer: &str,
        mpn_id: &str,
        offers: &[&str],
        trial: bool,
    ) -> Vec<pb::Subscription> {
        self.internal
            .clone()
            .create_advisor_subscriptions(pb::CreateAdvisorSubscriptionsRequest {
                customer_tenant_id: customer.into(),
                partner_of_record_mpn_id: mpn_id.into(),
                line_items: offers.iter().map(|o| line(o, 5)).collect(),
                trial,
                request_id: String::new(),
            })
            .await
            .expect("CreateAdvisorSubscriptions")
            .into_inner()
            .subscriptions
    }

    async fn watch(&self, partner: &str, cursor: &str) -> Result<Events, Status> {
        self.subs
            .clone()
            .watch_subscription_events(pb::WatchSubscriptionEventsRequest {
                partner_tenant_id: partner.into(),
                cursor: cursor.into(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    async fn watcher(&self, partner: &str, cursor: &str) -> Events {
        self.watch(partner, cursor)
            .await
            .expect("WatchSubscriptionEvents")
    }
}

fn line(offer_id: &str, quantity: i32) -> LineItem {
    LineItem {
        offer_id: offer_id.into(),
        quantity,
        ..Default::default()
    }
}

/// The stream's next event.
async fn next(events: &mut Events) -> pb::SubscriptionEvent {
    tokio::time::timeout(PATIENCE, events.message())
        .await
        .expect("an event in time")
        .expect("the stream is fine")
        .expect("the stream goes on")
        .event
        .expect("event")
}

/// The next `n` events as (type, subscription id).
async fn next_n(events: &mut Events, n: usize) -> Vec<(Type, String)> {
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        got.push(kind(&next(events).await));
    }
    got
}

fn kind(e: &pb::SubscriptionEvent) -> (Type, String) {
    (
        Type::try_from(e.r#type).expect("a known type"),
        e.subscription.as_ref().expect("subscription").id.clone(),
    )
}

#[tokio::test]
async fn a_partner_sees_the_changes_of_its_subscriptions_in_order_and_nothing_of_others() {
    let env = Env::start().await;
    let (partner, customer) = env.reseller("contoso", "1000001").await;
    let (other, other_customer) = env.reseller("fabrikam", "1000002").await;
    // Before the stream starts: not delivered (no cursor: from now on).
    let earlier = env.order(&partner, &customer, "", &[BUSINESS_BASIC]).await;
    let mut events = env.watcher(&partner, "").await;

    let s = env
        .order(&partner, &customer, "", &[BUSINESS_STANDARD])
        .await
        .remove(0);
    let their_first = env
        .order(&other, &other_customer, "", &[BUSINESS_BASIC])
        .await
        .remove(0);
    let changed = env
        .update(
            &customer,
            pb::Subscription {
                id: s.id.clone(),
                quantity: 12,
                ..Default::default()
            },
            "quantity",
        )
        .await;
    let mut subs = env.subs.clone();
    subs.suspend_subscription(pb::SuspendSubscriptionRequest {
        tenant_id: partner.clone(),
        subscription_id: s.id.clone(),
        etag: String::new(),
    })
    .await
    .expect("suspend");
    // The other partner's subscription changes too; this watcher hears nothing of it.
    let theirs = env
        .order(&other, &other_customer, "", &[TEAMS_ESSENTIALS])
        .await
        .remove(0);
    subs.cancel_subscription(pb::CancelSubscriptionRequest {
        tenant_id: other.clone(),
        subscription_id: theirs.id.clone(),
        etag: String::new(),
    })
    .await
    .expect("cancel theirs");
    let cancelled = subs
        .cancel_subscription(pb::CancelSubscriptionRequest {
            tenant_id: customer.clone(),
            subscription_id: s.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("cancel")
        .into_inner()
        .subscription
        .expect("subscription");
    let last = env
        .order(&partner, &customer, "", &[TEAMS_ESSENTIALS])
        .await
        .remove(0);

    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next(&mut events).await);
    }
    let kinds: Vec<_> = got.iter().map(kind).collect();
    assert_eq!(
        kinds,
        [
            (Type::Created, s.id.clone()),
            (Type::QuantityChanged, s.id.clone()),
            (Type::Suspended, s.id.clone()),
            (Type::Cancelled, s.id.clone()),
            (Type::Created, last.id.clone()),
        ]
    );
    assert!(kinds.iter().all(|(_, id)| *id != earlier[0].id));
    let snapshot = |i: usize| got[i].subscription.clone().expect("subscription");
    assert_eq!(snapshot(0).quantity, 10);
    assert_eq!(snapshot(1), changed);
    assert_eq!(snapshot(2).state, State::Suspended as i32);
    assert_eq!(snapshot(3), cancelled);
    assert!(got.iter().all(|e| e.event_time.is_some()));
    let cursors: Vec<_> = got.iter().map(|e| e.cursor.clone()).collect();
    assert!(cursors.iter().all(|c| !c.is_empty()));
    let mut unique = cursors.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), cursors.len(), "every cursor once");

    // The other partner, from the same point, sees only its own.
    let mut theirs_events = env.watcher(&other, &cursors[0]).await;
    assert_eq!(
        next_n(&mut theirs_events, 3).await,
        [
            (Type::Created, their_first.id.clone()),
            (Type::Created, theirs.id.clone()),
            (Type::Cancelled, theirs.id.clone())
        ]
    );
    // A stream is a call under way until its client goes: leave before the server stops.
    drop((events, theirs_events));
    env.stop().await;
}

#[tokio::test]
async fn a_watch_names_an_existing_partner_and_a_cursor_it_was_given() {
    let env = Env::start().await;
    let (partner, customer) = env.reseller("contoso", "1000001").await;
    let status = env.watch("nope", "").await.expect_err("not a UUID");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["partner_tenant_id"]);
    for cursor in ["42", "not a cursor", "ZXg"] {
        let status = env.watch(&partner, cursor).await.expect_err("bad cursor");
        assert_eq!(status.code(), Code::InvalidArgument, "{cursor}");
        assert_eq!(bad_fields(&status), ["cursor"], "{cursor}");
    }
    let status = env
        .watch(&Uuid::now_v7().to_string(), "")
        .await
        .expect_err("nobody");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason(&status), "TENANT_NOT_FOUND");
    let status = env.watch(&customer, "").await.expect_err("a customer");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "NOT_A_PARTNER");
    env.stop().await;
}

#[tokio::test]
async fn a_watcher_that_reconnects_with_its_last_cursor_misses_nothing_and_repeats_nothing() {
    let env = Env::start().await;
    let (partner, customer) = env.reseller("contoso", "1000001").await;
    let mut whole = env.watcher(&partner, "").await;
    let mut first = env.watcher(&partner, "").await;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.extend(
            env.order(&partner, &customer, "", &[BUSINESS_BASIC, TEAMS_ESSENTIALS])
                .await,
        );
    }
    // Read three of six, then go away mid-stream.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..3 {
        let e = next(&mut first).await;
        cursor = e.cursor.clone();
        seen.push(kind(&e));
    }
    drop(first);
    // Changes while away.
    for _ in 0..2 {
        made.extend(env.order(&partner, &customer, "", &[BUSINESS_BASIC]).await);
    }
    let mut again = env.watcher(&partner, &cursor).await;
    seen.extend(next_n(&mut again, made.len() - 3).await);
    // And live ones after catching up.
    made.extend(env.order(&partner, &customer, "", &[EXCHANGE_PLAN_1]).await);
    seen.extend(next_n(&mut again, 1).await);
    let expected: Vec<_> = made.iter().map(|s| (Type::Created, s.id.clone())).collect();
    assert_eq!(seen, expected, "no gap, no duplicate, in order");
    // A watcher that never left saw the same.
    assert_eq!(next_n(&mut whole, made.len()).await, expected);
    drop((whole, again));
    env.stop().await;
}

#[tokio::test]
async fn a_reseller_and_an_advisor_see_theirs_including_the_change_that_removes_them() {
    let env = Env::start().await;
    let provider = env
        .partner("provider", "2000001", &[PartnerType::IndirectProvider])
        .await;
    let reseller = env
        .partner("reseller", "2000002", &[PartnerType::IndirectReseller])
        .await;
    let advisor = env
        .partner("advisor", "3000001", &[PartnerType::Advisor])
        .await;
    let customer = env.customer("kunden").await;
    env.relate(
        RelationshipType::IndirectPartnership,
        &provider,
        &reseller,
        "",
    )
    .await;
    env.relate(
        RelationshipType::IndirectReseller,
        &reseller,
        &customer,
        &provider,
    )
    .await;
    env.accept(&reseller, agreement::Type::PartnerAgreement)
        .await;
    let mut resold = env.watcher(&reseller, "").await;
    let mut advised = env.watcher(&advisor, "").await;
    let mut billed = env.watcher(&provider, "").await;

    let s = env
        .order(&provider, &customer, &reseller, &[BUSINESS_BASIC])
        .await
        .remove(0);
    let por = |mpn_id: &str| pb::Subscription {
        id: s.id.clone(),
        partner_of_record_mpn_id: mpn_id.into(),
        ..Default::default()
    };
    env.update(&customer, por("3000001"), "partner_of_record_mpn_id")
        .await;
    // The reseller leaves the subscription: it hears of that, then of nothing more.
    env.update(
        &provider,
        pb::Subscription {
            id: s.id.clone(),
            ..Default::default()
        },
        "indirect_reseller_id",
    )
    .await;
    env.update(
        &customer,
        pb::Subscription {
            id: s.id.clone(),
            quantity: 11,
            ..Default::default()
        },
        "quantity",
    )
    .await;
    // The advisor is cleared: it hears of that, then of nothing more.
    env.update(&customer, por(""), "partner_of_record_mpn_id")
        .await;
    env.update(
        &customer,
        pb::Subscription {
            id: s.id.clone(),
            quantity: 12,
            ..Default::default()
        },
        "quantity",
    )
    .await;
    // Later events of their own show nothing of the above came in between.
    let next_resold = env
        .order(&provider, &customer, &reseller, &[TEAMS_ESSENTIALS])
        .await
        .remove(0);
    let advisors = env
        .advisor_subscriptions(&customer, "3000001", &[EXCHANGE_PLAN_1], false)
        .await;

    let id = s.id.clone();
    let got = next_n(&mut resold, 4).await;
    assert_eq!(
        got,
        [
            (Type::Created, id.clone()),
            (Type::PartnerOfRecordChanged, id.clone()),
            (Type::Updated, id.clone()),
            (Type::Created, next_resold.id.clone()),
        ]
    );
    assert_eq!(
        next_n(&mut advised, 5).await,
        [
            (Type::PartnerOfRecordChanged, id.clone()),
            (Type::Updated, id.clone()),
            (Type::QuantityChanged, id.clone()),
            (Type::PartnerOfRecordChanged, id.clone()),
            (Type::Created, advisors[0].id.clone()),
        ]
    );
    // The billing provider sees all of its subscription's changes, not the advisor's.
    assert_eq!(
        next_n(&mut billed, 7).await,
        [
            (Type::Created, id.clone()),
            (Type::PartnerOfRecordChanged, id.clone()),
            (Type::Updated, id.clone()),
            (Type::QuantityChanged, id.clone()),
            (Type::PartnerOfRecordChanged, id.clone()),
            (Type::QuantityChanged, id.clone()),
            (Type::Created, next_resold.id.clone()),
        ]
    );
    drop((resold, advised, billed));
    env.stop().await;
}

#[tokio::test]
async fn a_watcher_that_does_not_read_holds_up_no_order_and_no_other_watcher() {
    const ORDERS: usize = 100;
    const LINES: usize = 3;
    let env = Env::start().await;
    let (partner, customer) = env.reseller("contoso", "1000001").await;
    // Opened and never read, until the end.
    let stuck = env.watcher(&partner, "").await;
    let mut reader = env.watcher(&partner, "").await;
    let reading = tokio::spawn(async move {
        let mut got = Vec::with_capacity(ORDERS * LINES);
        for _ in 0..ORDERS * LINES {
            got.push(kind(&next(&mut reader).await).1);
        }
        got
    });
    let mut made = Vec::with_capacity(ORDERS * LINES);
    let placing = async {
        for _ in 0..ORDERS {
            made.extend(
                env.order(
                    &partner,
                    &customer,
                    "",
                    &[BUSINESS_BASIC, BUSINESS_STANDARD, TEAMS_ESSENTIALS],
                )
                .await
                .into_iter()
                .map(|s| s.id),
            );
        }
    };
    tokio::time::timeout(Duration::from_secs(120), placing)
        .await
        .expect("the orders go through while a watcher does not read");
    let got = tokio::time::timeout(PATIENCE, reading)
        .await
        .expect("the reading watcher keeps up")
        .expect("reader");
    assert_eq!(got, made);
    drop(stuck);
    env.stop().await;
}

#[tokio::test]
async fn a_trial_that_ends_says_so_once() {
    let env = Env::start().await;
    let advisor = env
        .partner("advisor", "3000001", &[PartnerType::Advisor])
        .await;
    let customer = env.customer("skolan").await;
    let mut events = env.watcher(&advisor, "").await;
    let trial = env
        .advisor_subscriptions(&customer, "3000001", &[BUSINESS_BASIC], true)
        .await
        .remove(0);
    let created = next(&mut events).await;
    assert_eq!(kind(&created), (Type::Created, trial.id.clone()));
    assert_eq!(
        created.subscription.as_ref().map(|s| s.state),
        Some(State::Trial as i32)
    );

    env.sys.clock.advance(31 * DAY);
    // Reads see it expired (and the first one to look records its end, once).
    let mut subs = env.subs.clone();
    for _ in 0..3 {
        let read = subs
            .get_subscription(pb::GetSubscriptionRequest {
                tenant_id: customer.clone(),
                subscription_id: trial.id.clone(),
            })
            .await
            .expect("GetSubscription")
            .into_inner()
            .subscription
            .expect("subscription");
        assert_eq!(read.state, State::Expired as i32);
    }
    let ended = next(&mut events).await;
    assert_eq!(kind(&ended), (Type::TrialEnded, trial.id.clone()));
    assert_eq!(
        ended.subscription.as_ref().map(|s| s.state),
        Some(State::Expired as i32)
    );
    // Nothing more about it: the next event is the next subscription's.
    let paid = env
        .advisor_subscriptions(&customer, "3000001", &[EXCHANGE_PLAN_1], false)
        .await
        .remove(0);
    assert_eq!(
        kind(&next(&mut events).await),
        (Type::Created, paid.id.clone())
    );

    // A trial nobody reads: the watcher itself notices it ended (within its poll).
    let second = env
        .advisor_subscriptions(&customer, "3000001", &[TEAMS_ESSENTIALS], true)
        .await
        .remove(0);
    assert_eq!(
        kind(&next(&mut events).await),
        (Type::Created, second.id.clone())
    );
    env.sys.clock.advance(31 * DAY);
    assert_eq!(
        kind(&next(&mut events).await),
        (Type::TrialEnded, second.id.clone())
    );

    // Resuming from the first trial's creation replays exactly what followed.
    let mut again = env.watcher(&advisor, &created.cursor).await;
    assert_eq!(
        next_n(&mut again, 4).await,
        [
            (Type::TrialEnded, trial.id.clone()),
            (Type::Created, paid.id.clone()),
            (Type::Created, second.id.clone()),
            (Type::TrialEnded, second.id.clone()),
        ]
    );
    drop((events, again));
    env.stop().await;
}
