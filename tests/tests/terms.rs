//! Seeds 002 and 003 through the gateway: terms, billing cycles and upgrades. "När kunderna vill
//! köpa nya prenumerationer, uppgradera befintliga eller köpa ytterligare licenser" (seed 003):
//! an advisor's customer upgrades Business Basic to Business Standard along the offer's upgrade
//! path (and is refused a target off it); a trial becomes paid, explicitly or by buying the
//! offer; auto-renew renews at the term's end and a subscription without it expires then, once;
//! licences are removed only within the cancellation window; bad terms are INVALID_ARGUMENT
//! naming their field.

use partnerhub_proto::gateway::{
    AcceptInvitationRequest, ListAuditEventsRequest, audit_service_client::AuditServiceClient,
    list_audit_events_request::View,
};
use partnerhub_proto::invitations::{CreateInvitationRequest, Invitation, InvitationKind};
use partnerhub_proto::subscriptions::subscription::State;
use partnerhub_proto::subscriptions::subscription_event::Type;
use partnerhub_proto::subscriptions::{
    self as sub, subscription_service_client::SubscriptionServiceClient,
};
use partnerhub_proto::tenants as pb;
use partnerhub_proto::types::{BillingCycle, Cloud, LineItem, Money, PartnerType, TermDuration};
use partnerhub_tests::{Authed, TestSystem, bad_fields, contact, metadata, reason};
use std::time::Duration;
use tonic::Code;

const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3600);

fn subscriptions(sys: &TestSystem, token: &str) -> SubscriptionServiceClient<Authed> {
    SubscriptionServiceClient::new(sys.authed(token))
}

/// The worldwide offer called `name`.
async fn offer(sys: &TestSystem, token: &str, name: &str) -> sub::Offer {
    sys.offers(token, Cloud::Worldwide, "")
        .await
        .into_iter()
        .find(|o| o.display_name == name)
        .unwrap_or_else(|| panic!("no offer {name}"))
}

fn line(offer: &sub::Offer, quantity: i32) -> LineItem {
    LineItem {
        offer_id: offer.id.clone(),
        quantity,
        ..Default::default()
    }
}

fn on(mut line: LineItem, term: TermDuration, cycle: BillingCycle) -> LineItem {
    line.term_duration = term as i32;
    line.billing_cycle = cycle as i32;
    line
}

/// An advisor's link of `kind` for `lines`, accepted by the customer's global admin: the
/// subscriptions it made.
async fn advisor_offer_taken(
    sys: &TestSystem,
    (advisor, advisor_admin): (&pb::Tenant, &str),
    (customer, admin): (&pb::Tenant, &str),
    kind: InvitationKind,
    lines: Vec<LineItem>,
) -> Vec<sub::Subscription> {
    let code = sys
        .invitations(advisor_admin)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: kind as i32,
                inviter_tenant_id: advisor.id.clone(),
                line_items: lines,
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect("CreateInvitation")
        .into_inner()
        .code;
    sys.workflows(admin)
        .accept_invitation(AcceptInvitationRequest {
            code,
            tenant_id: customer.id.clone(),
            agreement_signer: Some(contact("Maja", "Ek")),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .expect("AcceptInvitation")
        .into_inner()
        .subscriptions
}

async fn get(sys: &TestSystem, token: &str, tenant_id: &str, id: &str) -> sub::Subscription {
    subscriptions(sys, token)
        .get_subscription(sub::GetSubscriptionRequest {
            tenant_id: tenant_id.into(),
            subscription_id: id.into(),
        })
        .await
        .expect("GetSubscription")
        .into_inner()
        .subscription
        .expect("subscription")
}

fn upgrade(tenant_id: &str, id: &str, target: &str) -> sub::UpgradeSubscriptionRequest {
    sub::UpgradeSubscriptionRequest {
        tenant_id: tenant_id.into(),
        subscription_id: id.into(),
        target_offer_id: target.into(),
        ..Default::default()
    }
}

fn seconds(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().map_or(0, |t| t.seconds)
}

/// A provider that sells directly, a customer (`prefix`) it created with `lines`, and their
/// tokens.
async fn provider_and_customer(
    sys: &TestSystem,
    prefix: &str,
    lines: Vec<LineItem>,
) -> (
    (pb::Tenant, String),
    (pb::Tenant, String),
    Vec<sub::Subscription>,
) {
    let (provider, provider_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (created, admin) = sys
        .created_customer(&provider_admin, &provider.id, prefix, lines)
        .await;
    let customer = created.customer.clone().expect("customer");
    (
        (provider, provider_admin),
        (customer, admin),
        created.subscriptions,
    )
}

async fn next_event(
    stream: &mut tonic::Streaming<sub::WatchSubscriptionEventsResponse>,
) -> sub::SubscriptionEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("an event within 10 s")
        .expect("stream ok")
        .expect("stream open")
        .event
        .expect("event")
}

fn kind(e: &sub::SubscriptionEvent) -> (Type, String) {
    (
        Type::try_from(e.r#type).unwrap_or(Type::Unspecified),
        e.subscription
            .as_ref()
            .map(|s| s.id.clone())
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn an_advisors_customer_upgrades_basic_to_standard_but_not_off_the_path() {
    let sys = TestSystem::start().await;
    let (advisor, advisor_admin) = sys
        .partner_admin("radgivarna", "7777777", &[PartnerType::Advisor])
        .await;
    let basic = offer(&sys, &advisor_admin, "Business Basic").await;
    let standard = offer(&sys, &advisor_admin, "Business Standard").await;
    let premium = offer(&sys, &advisor_admin, "Business Premium").await;
    let visio = offer(&sys, &advisor_admin, "Visio Plan 2").await;
    // The catalogue's Microsoft 365 Business chain, and the terms each is sold on.
    assert_eq!(
        basic.upgrade_offer_ids,
        [standard.id.clone(), premium.id.clone()]
    );
    assert_eq!(
        standard.upgrade_offer_ids,
        std::slice::from_ref(&premium.id)
    );
    let first = basic.terms.first().expect("terms");
    assert_eq!(first.term_duration, TermDuration::Annual as i32);
    assert_eq!(first.billing_cycle, BillingCycle::Monthly as i32);

    let (customer, admin) = sys.customer_admin("skolan", "SE").await;
    let bought = advisor_offer_taken(
        &sys,
        (&advisor, &advisor_admin),
        (&customer, &admin),
        InvitationKind::PurchaseOffer,
        vec![line(&basic, 40)],
    )
    .await
    .remove(0);
    // An advisor's purchase offer starts on the offer's first term: a year, billed monthly.
    assert_eq!(bought.state, State::Active as i32);
    assert!(bought.billing_partner_tenant_id.is_empty());
    assert_eq!(bought.term_duration, TermDuration::Annual as i32);
    assert_eq!(bought.billing_cycle, BillingCycle::Monthly as i32);
    let year = 365 * 86_400;
    assert_eq!(
        seconds(&bought.term_end_time) - seconds(&bought.term_start_time),
        year
    );

    // The customer's global admin upgrades Basic to Standard: same subscription, licences
    // and term.
    let upgraded = subscriptions(&sys, &admin)
        .upgrade_subscription(sub::UpgradeSubscriptionRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            ..upgrade(&customer.id, &bought.id, &standard.id)
        })
        .await
        .expect("UpgradeSubscription")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(upgraded.id, bought.id);
    assert_eq!(upgraded.offer_id, standard.id);
    assert_eq!(upgraded.offer_display_name, "Business Standard");
    assert_eq!(upgraded.quantity, 40);
    assert_eq!(upgraded.state, State::Active as i32);
    assert_eq!(upgraded.partner_of_record_mpn_id, "7777777");
    assert_eq!(upgraded.term_end_time, bought.term_end_time);
    assert_ne!(upgraded.etag, bought.etag);

    // Back down, or to an offer off the path, is no upgrade.
    for target in [&basic.id, &visio.id] {
        let refused = subscriptions(&sys, &admin)
            .upgrade_subscription(upgrade(&customer.id, &bought.id, target))
            .await
            .expect_err("not on the upgrade path");
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
        assert_eq!(reason(&refused), "NOT_AN_UPGRADE");
        assert_eq!(metadata(&refused, "targetOfferId"), *target);
    }
    // Standard's own path goes on to Premium.
    let premium_now = subscriptions(&sys, &admin)
        .upgrade_subscription(upgrade(&customer.id, &bought.id, &premium.id))
        .await
        .expect("Standard to Premium")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(premium_now.offer_display_name, "Business Premium");
    // Bad input names its fields.
    let bad = subscriptions(&sys, &admin)
        .upgrade_subscription(upgrade(&customer.id, "nope", ""))
        .await
        .expect_err("bad ids");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&bad), ["subscription_id", "target_offer_id"]);

    // Each upgrade is in the customer's audit trail, about the subscription.
    let trail = AuditServiceClient::new(sys.authed(&admin))
        .list_audit_events(ListAuditEventsRequest {
            tenant_id: customer.id.clone(),
            view: View::InTenant as i32,
            ..Default::default()
        })
        .await
        .expect("ListAuditEvents")
        .into_inner()
        .events;
    let upgrades: Vec<_> = trail
        .iter()
        .filter(|e| {
            e.method
                .ends_with("SubscriptionService/UpgradeSubscription")
                && e.outcome == "OK"
        })
        .collect();
    assert_eq!(upgrades.len(), 2, "{trail:?}");
    assert!(upgrades.iter().all(|e| e.resource_id == bought.id));
    sys.stop().await;
}

#[tokio::test]
async fn a_trial_is_converted_explicitly_or_by_buying_the_offer() {
    let sys = TestSystem::start().await;
    let (advisor, advisor_admin) = sys
        .partner_admin("radgivarna", "7777777", &[PartnerType::Advisor])
        .await;
    let premium = offer(&sys, &advisor_admin, "Business Premium").await;
    let advisor = (&advisor, advisor_admin.as_str());

    // Explicitly: the customer converts its trial, choosing a monthly term and 30 licences.
    let (customer, admin) = sys.customer_admin("skolan", "SE").await;
    let trial = advisor_offer_taken(
        &sys,
        advisor,
        (&customer, &admin),
        InvitationKind::Trial,
        vec![line(&premium, 25)],
    )
    .await
    .remove(0);
    assert_eq!(trial.state, State::Trial as i32);
    assert_eq!(trial.term_duration, TermDuration::Unspecified as i32);
    assert!(trial.term_end_time.is_none());
    let convert =
        |term: TermDuration, cycle: BillingCycle, quantity: i32| sub::ConvertTrialRequest {
            tenant_id: customer.id.clone(),
            subscription_id: trial.id.clone(),
            term_duration: term as i32,
            billing_cycle: cycle as i32,
            quantity,
            ..Default::default()
        };
    // An annual billing cycle on a monthly term, too many licences: named.
    let bad = subscriptions(&sys, &admin)
        .convert_trial(convert(TermDuration::Monthly, BillingCycle::Annual, 0))
        .await
        .expect_err("no annual billing on a monthly term");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&bad), ["billing_cycle"]);
    let bad = subscriptions(&sys, &admin)
        .convert_trial(convert(TermDuration::Monthly, BillingCycle::Monthly, 301))
        .await
        .expect_err("Business Premium is sold 1 to 300 licences");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(reason(&bad), "QUANTITY_OUT_OF_BOUNDS");
    assert_eq!(bad_fields(&bad), ["quantity"]);

    let request = sub::ConvertTrialRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        ..convert(TermDuration::Monthly, BillingCycle::Monthly, 30)
    };
    let paid = subscriptions(&sys, &admin)
        .convert_trial(request.clone())
        .await
        .expect("ConvertTrial")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(paid.id, trial.id);
    assert_eq!(paid.state, State::Active as i32);
    assert_eq!(paid.quantity, 30);
    assert!(paid.auto_renew);
    assert_eq!(paid.term_duration, TermDuration::Monthly as i32);
    assert_eq!(paid.billing_cycle, BillingCycle::Monthly as i32);
    assert_eq!(
        seconds(&paid.term_end_time) - seconds(&paid.term_start_time),
        30 * 86_400
    );
    // Its trial ended when it was converted.
    assert_eq!(paid.trial_end_time, paid.term_start_time);
    // A retry answers the same; converting again is refused.
    let again = subscriptions(&sys, &admin)
        .convert_trial(request)
        .await
        .expect("a retry")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(again.etag, paid.etag);
    let twice = subscriptions(&sys, &admin)
        .convert_trial(convert(
            TermDuration::Unspecified,
            BillingCycle::Unspecified,
            0,
        ))
        .await
        .expect_err("no trial any more");
    assert_eq!(twice.code(), Code::FailedPrecondition);
    assert_eq!(reason(&twice), "INVALID_TRANSITION");

    // By buying: the provider of another customer on trial orders the offer for it, on an
    // annual term billed annually. The trial ends with the order.
    let premium_line = on(
        line(&premium, 10),
        TermDuration::Annual,
        BillingCycle::Annual,
    );
    let ((provider, provider_admin), (other, other_admin), _) =
        provider_and_customer(&sys, "gymnasiet", Vec::new()).await;
    let other_trial = advisor_offer_taken(
        &sys,
        advisor,
        (&other, &other_admin),
        InvitationKind::Trial,
        vec![line(&premium, 25)],
    )
    .await
    .remove(0);
    let placed = subscriptions(&sys, &provider_admin)
        .place_order(sub::PlaceOrderRequest {
            customer_tenant_id: other.id.clone(),
            partner_tenant_id: provider.id.clone(),
            line_items: vec![premium_line],
            ..Default::default()
        })
        .await
        .expect("PlaceOrder")
        .into_inner();
    let bought = &placed.subscriptions[0];
    assert_eq!(bought.state, State::Active as i32);
    assert_eq!(bought.term_duration, TermDuration::Annual as i32);
    assert_eq!(bought.billing_cycle, BillingCycle::Annual as i32);
    let order = placed.order.expect("order");
    assert_eq!(
        order.line_items[0].billing_cycle,
        BillingCycle::Annual as i32
    );
    let ended = get(&sys, &other_admin, &other.id, &other_trial.id).await;
    assert_eq!(ended.state, State::Expired as i32);
    // Both ways, the trial is over for good: no trial of the offer again, no conversion.
    let late = subscriptions(&sys, &other_admin)
        .convert_trial(sub::ConvertTrialRequest {
            tenant_id: other.id.clone(),
            subscription_id: other_trial.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("an ended trial");
    assert_eq!(reason(&late), "INVALID_TRANSITION");
    sys.stop().await;
}

#[tokio::test]
async fn auto_renew_renews_at_the_term_end_and_without_it_the_subscription_expires_once() {
    let sys = TestSystem::start().await;
    let (provider, provider_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let basic = offer(&sys, &provider_admin, "Business Basic").await;
    let exchange = offer(&sys, &provider_admin, "Exchange Online Plan 1").await;
    let monthly = |o: &sub::Offer| on(line(o, 5), TermDuration::Monthly, BillingCycle::Monthly);
    let (created, admin) = sys
        .created_customer(
            &provider_admin,
            &provider.id,
            "skolan",
            vec![monthly(&basic), monthly(&exchange)],
        )
        .await;
    let customer = created.customer.expect("customer");
    let (renewing, lapsing) = (&created.subscriptions[0], &created.subscriptions[1]);
    assert!(renewing.auto_renew && lapsing.auto_renew);
    // The customer turns auto-renew off on Exchange.
    let off = subscriptions(&sys, &admin)
        .update_subscription(sub::UpdateSubscriptionRequest {
            tenant_id: customer.id.clone(),
            subscription: Some(sub::Subscription {
                id: lapsing.id.clone(),
                auto_renew: false,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["auto_renew".into()],
            }),
        })
        .await
        .expect("auto-renew off")
        .into_inner()
        .subscription
        .expect("subscription");
    assert!(!off.auto_renew);

    let mut events = subscriptions(&sys, &provider_admin)
        .watch_subscription_events(sub::WatchSubscriptionEventsRequest {
            partner_tenant_id: provider.id.clone(),
            cursor: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    // A day before the end nothing has happened.
    sys.clock.advance(29 * DAY);
    assert_eq!(
        get(&sys, &admin, &customer.id, &lapsing.id).await.state,
        State::Active as i32
    );
    // After the end: a new term for Basic, the end for Exchange; every read agrees.
    sys.clock.advance(DAY + HOUR);
    for _ in 0..3 {
        let renewed = get(&sys, &admin, &customer.id, &renewing.id).await;
        assert_eq!(renewed.state, State::Active as i32);
        assert_eq!(renewed.term_start_time, renewing.term_end_time);
        assert_eq!(
            seconds(&renewed.term_end_time),
            seconds(&renewing.term_end_time) + 30 * 86_400
        );
        let expired = get(&sys, &admin, &customer.id, &lapsing.id).await;
        assert_eq!(expired.state, State::Expired as i32);
        assert_eq!(expired.term_end_time, lapsing.term_end_time);
    }
    let listed: Vec<String> = subscriptions(&sys, &admin)
        .list_subscriptions(sub::ListSubscriptionsRequest {
            customer_tenant_id: customer.id.clone(),
            state: State::Expired as i32,
            ..Default::default()
        })
        .await
        .expect("ListSubscriptions")
        .into_inner()
        .subscriptions
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&lapsing.id));
    // One event each, in the order their terms ended (the same moment: by id).
    let mut seen = vec![
        kind(&next_event(&mut events).await),
        kind(&next_event(&mut events).await),
    ];
    seen.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        seen,
        [
            (Type::Renewed, renewing.id.clone()),
            (Type::TermEnded, lapsing.id.clone())
        ]
    );
    // An expired subscription stays so: no change, no renewal.
    let ended = subscriptions(&sys, &admin)
        .update_subscription(sub::UpdateSubscriptionRequest {
            tenant_id: customer.id.clone(),
            subscription: Some(sub::Subscription {
                id: lapsing.id.clone(),
                auto_renew: true,
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .expect_err("expired for good");
    assert_eq!(reason(&ended), "SUBSCRIPTION_ENDED");
    // Nothing more about either: the next event is a new subscription's.
    let placed = subscriptions(&sys, &provider_admin)
        .place_order(sub::PlaceOrderRequest {
            customer_tenant_id: customer.id.clone(),
            partner_tenant_id: provider.id.clone(),
            line_items: vec![line(&basic, 1)],
            ..Default::default()
        })
        .await
        .expect("PlaceOrder")
        .into_inner();
    assert_eq!(
        kind(&next_event(&mut events).await),
        (Type::Created, placed.subscriptions[0].id.clone())
    );
    sys.stop().await;
}

#[tokio::test]
async fn licences_are_removed_only_within_the_cancellation_window() {
    let sys = TestSystem::start().await;
    let (provider, provider_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let basic = offer(&sys, &provider_admin, "Business Basic").await;
    let (created, admin) = sys
        .created_customer(
            &provider_admin,
            &provider.id,
            "skolan",
            vec![
                line(&basic, 20),
                on(
                    line(&basic, 20),
                    TermDuration::Monthly,
                    BillingCycle::Monthly,
                ),
            ],
        )
        .await;
    let customer = created.customer.expect("customer");
    let (annual, monthly) = (&created.subscriptions[0], &created.subscriptions[1]);
    assert_eq!(annual.term_duration, TermDuration::Annual as i32);
    let quantity = |id: &str, quantity: i32| sub::UpdateSubscriptionRequest {
        tenant_id: customer.id.clone(),
        subscription: Some(sub::Subscription {
            id: id.into(),
            quantity,
            ..Default::default()
        }),
        update_mask: None,
    };
    // Within the first 7 days: licences come and go.
    sys.clock.advance(DAY);
    subscriptions(&sys, &admin)
        .update_subscription(quantity(&annual.id, 15))
        .await
        .expect("removed within the window");
    // After them: added, yes; removed, no; cancelled, no.
    sys.clock.advance(6 * DAY + HOUR);
    let more = subscriptions(&sys, &admin)
        .update_subscription(quantity(&annual.id, 25))
        .await
        .expect("added at any time")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(more.quantity, 25);
    let refused = subscriptions(&sys, &admin)
        .update_subscription(quantity(&annual.id, 24))
        .await
        .expect_err("the window closed");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "CANCELLATION_WINDOW_CLOSED");
    let window_close = prost_types::Timestamp {
        seconds: seconds(&annual.term_start_time) + 168 * 3600,
        nanos: annual.term_start_time.as_ref().map_or(0, |t| t.nanos),
    };
    assert_eq!(
        metadata(&refused, "windowCloseTime"),
        window_close.to_string()
    );
    assert_eq!(
        metadata(&refused, "termEndTime"),
        annual.term_end_time.expect("term end").to_string()
    );
    let cancel = subscriptions(&sys, &provider_admin)
        .cancel_subscription(sub::CancelSubscriptionRequest {
            tenant_id: provider.id.clone(),
            subscription_id: annual.id.clone(),
            etag: String::new(),
        })
        .await
        .expect_err("cancelled only within the window");
    assert_eq!(reason(&cancel), "CANCELLATION_WINDOW_CLOSED");
    assert_eq!(
        get(&sys, &admin, &customer.id, &annual.id).await.quantity,
        25
    );
    // The monthly one renews after 30 days, and its new term opens a new window.
    sys.clock.advance(23 * DAY);
    let fewer = subscriptions(&sys, &admin)
        .update_subscription(quantity(&monthly.id, 10))
        .await
        .expect("removed in the new term's window")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(fewer.quantity, 10);
    assert!(seconds(&fewer.term_start_time) > seconds(&monthly.term_start_time));
    sys.stop().await;
}

#[tokio::test]
async fn bad_terms_are_invalid_arguments_naming_the_field() {
    let sys = TestSystem::start().await;
    let ((provider, provider_admin), (customer, _), _) =
        provider_and_customer(&sys, "skolan", Vec::new()).await;
    let basic = offer(&sys, &provider_admin, "Business Basic").await;
    let e3 = offer(&sys, &provider_admin, "Enterprise E3").await;
    let order = |lines: Vec<LineItem>| sub::PlaceOrderRequest {
        customer_tenant_id: customer.id.clone(),
        partner_tenant_id: provider.id.clone(),
        line_items: lines,
        ..Default::default()
    };
    let refused = |lines: Vec<LineItem>| {
        let request = order(lines);
        let mut client = subscriptions(&sys, &provider_admin);
        async move { client.place_order(request).await.expect_err("refused") }
    };
    // An annual cycle on a monthly term, a duration no enum has.
    let mut unknown = line(&basic, 1);
    unknown.term_duration = 7;
    let status = refused(vec![
        on(line(&basic, 1), TermDuration::Monthly, BillingCycle::Annual),
        unknown,
    ])
    .await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&status),
        ["line_items[0].billing_cycle", "line_items[1].term_duration"]
    );
    // A term the offer is not sold on: Enterprise E3 is annual only.
    let status = refused(vec![
        line(&basic, 1),
        on(line(&e3, 1), TermDuration::Monthly, BillingCycle::Monthly),
    ])
    .await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "TERM_NOT_OFFERED");
    assert_eq!(bad_fields(&status), ["line_items[1].term_duration"]);
    // The same line item through CreateCustomer: the review lists it, the submit refuses it.
    let form = partnerhub_tests::customer_form(
        &provider.id,
        "nyskolan",
        vec![on(
            line(&e3, 1),
            TermDuration::Monthly,
            BillingCycle::Monthly,
        )],
    );
    let review = sys
        .workflows(&provider_admin)
        .create_customer(partnerhub_proto::gateway::CreateCustomerRequest {
            validate_only: true,
            ..form.clone()
        })
        .await
        .expect("review")
        .into_inner()
        .review
        .expect("review");
    let problems: Vec<(String, String)> = review
        .problems
        .iter()
        .map(|p| (p.field.clone(), p.reason.clone()))
        .collect();
    assert_eq!(
        problems,
        [(
            "line_items[0].term_duration".to_string(),
            "TERM_NOT_OFFERED".to_string()
        )]
    );
    let status = sys
        .workflows(&provider_admin)
        .create_customer(form)
        .await
        .expect_err("not sold monthly");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["line_items[0].term_duration"]);
    // Unspecified is the offer's first term; a cycle alone picks the first term with it.
    let placed = subscriptions(&sys, &provider_admin)
        .place_order(order(vec![
            line(&basic, 1),
            LineItem {
                billing_cycle: BillingCycle::Annual as i32,
                ..line(&e3, 1)
            },
        ]))
        .await
        .expect("PlaceOrder")
        .into_inner();
    let terms: Vec<(i32, i32)> = placed
        .subscriptions
        .iter()
        .map(|s| (s.term_duration, s.billing_cycle))
        .collect();
    assert_eq!(
        terms,
        [
            (TermDuration::Annual as i32, BillingCycle::Monthly as i32),
            (TermDuration::Annual as i32, BillingCycle::Annual as i32)
        ]
    );

    // The operator's offers: terms checked, the upgrade path in the same cloud.
    let germany = sys
        .offers(&provider_admin, Cloud::Germany, "")
        .await
        .remove(0);
    let new_offer = |terms: Vec<sub::Term>, upgrades: Vec<String>| sub::CreateOfferRequest {
        offer: Some(sub::Offer {
            cloud: Cloud::Worldwide as i32,
            display_name: "Skolpaketet".into(),
            description: "Allt en skola behöver".into(),
            min_quantity: 1,
            max_quantity: 500,
            unit_price: Some(Money {
                currency_code: "SEK".into(),
                units: 49,
                nanos: 0,
            }),
            terms,
            upgrade_offer_ids: upgrades,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let term = |d: TermDuration, c: BillingCycle| sub::Term {
        term_duration: d as i32,
        billing_cycle: c as i32,
    };
    let status = subscriptions(&sys, &sys.operator)
        .create_offer(new_offer(
            vec![
                term(TermDuration::Monthly, BillingCycle::Annual),
                term(TermDuration::Annual, BillingCycle::Monthly),
                term(TermDuration::Annual, BillingCycle::Monthly),
            ],
            vec!["nope".into()],
        ))
        .await
        .expect_err("bad terms");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&status),
        [
            "offer.terms[0].billing_cycle",
            "offer.terms[2]",
            "offer.upgrade_offer_ids[0]"
        ]
    );
    let status = subscriptions(&sys, &sys.operator)
        .create_offer(new_offer(
            Vec::new(),
            vec![
                basic.id.clone(),
                germany.id.clone(),
                uuid::Uuid::now_v7().to_string(),
            ],
        ))
        .await
        .expect_err("bad upgrade path");
    assert_eq!(
        bad_fields(&status),
        ["offer.upgrade_offer_ids[1]", "offer.upgrade_offer_ids[2]"]
    );
    let made = subscriptions(&sys, &sys.operator)
        .create_offer(new_offer(Vec::new(), vec![basic.id.clone()]))
        .await
        .expect("CreateOffer")
        .into_inner()
        .offer
        .expect("offer");
    // Without terms: a monthly term billed monthly.
    assert_eq!(
        made.terms,
        [term(TermDuration::Monthly, BillingCycle::Monthly)]
    );
    assert_eq!(made.upgrade_offer_ids, std::slice::from_ref(&basic.id));
    sys.stop().await;
}
