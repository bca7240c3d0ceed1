//! The writes and their events, on the service's own database (SQLite, or PostgreSQL when
//! `PARTNERHUB_TEST_DATABASE_URL` names a server). Nothing here asks another service: the
//! channels lead nowhere.

use super::subscriptions::ChangeRequest;
use super::watch::{WATCH_BUFFER, Watcher};
use super::*;
use crate::catalogue;
use crate::domain::{Action, NewOrder, Subscription};
use crate::error::Error;
use crate::store;
use partnerhub_kit::internal_call::InternalKey;
use partnerhub_kit::telemetry::Peer;
use partnerhub_kit::time::Clock;
use partnerhub_proto::types::Cloud;
use pb::subscription::State;
use sqlx::Connection;
use std::time::Duration;
use tokio::sync::mpsc;

/// Business Basic (worldwide, 1 to 300 licences) in the shipped catalogue.
const BUSINESS_BASIC: &str = "01a1fc99-ee8a-7d8f-9a4d-a85439c0beee";

struct TestDb {
    _dir: tempfile::TempDir,
    url: String,
    postgres: Option<(String, String)>,
}

impl TestDb {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        match std::env::var("PARTNERHUB_TEST_DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => {
                let name = format!("ph_unit_{}", Uuid::new_v4().simple());
                let server = admin.rsplit_once('/').map_or(admin.as_str(), |(s, _)| s);
                TestDb {
                    _dir: dir,
                    url: format!("{server}/{name}"),
                    postgres: Some((admin.clone(), name)),
                }
            }
            _ => TestDb {
                url: partnerhub_kit::store::sqlite_url(dir.path(), "subscriptions"),
                _dir: dir,
                postgres: None,
            },
        }
    }

    async fn drop_database(self) {
        if let Some((admin, name)) = self.postgres {
            let mut conn = sqlx::postgres::PgConnection::connect(&admin)
                .await
                .expect("PostgreSQL");
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .expect("drop the test database");
        }
    }
}

fn service(db: Database) -> Subscriptions {
    // Port 9 (discard): nothing answers there, and nothing here asks.
    let nowhere = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
    Subscriptions::new(
        db,
        Deps {
            clock: Clock::default(),
            tenants: Peer::new(nowhere.clone(), InternalKey::generate()),
            relationships: Peer::new(nowhere, InternalKey::generate()),
            cancellation_window: crate::domain::DEFAULT_CANCELLATION_WINDOW,
        },
    )
}

async fn events(service: &Subscriptions, id: &str) -> Vec<(i64, String, pb::Subscription)> {
    store::events_of(&mut service.conn().await.expect("conn"), id)
        .await
        .expect("events")
        .iter()
        .map(|e| {
            let event = e.to_proto().expect("a subscription snapshot");
            (
                e.cursor,
                e.kind.as_str_name().to_string(),
                event.subscription.expect("snapshot"),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_change_writes_one_event_in_its_transaction() {
    let test = TestDb::new();
    let db = crate::open(&test.url).await.expect("open");
    // Opening again (a restart) installs the catalogue again without duplicates.
    let db = {
        db.pool.close().await;
        crate::open(&test.url).await.expect("reopen")
    };
    let service = service(db.clone());
    let offers = service
        .list_offers(&pb::ListOffersRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("ListOffers");
    let shipped = catalogue::parse(catalogue::SHIPPED).expect("catalogue");
    assert_eq!(offers.offers.len(), shipped.len());

    let (customer, partner) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
    let reseller = Uuid::now_v7().to_string();
    let order = NewOrder::parse(&pb::PlaceOrderRequest {
        customer_tenant_id: customer.clone(),
        partner_tenant_id: partner.clone(),
        indirect_reseller_id: reseller.clone(),
        reseller_is_support_contact: true,
        line_items: vec![partnerhub_proto::types::LineItem {
            offer_id: BUSINESS_BASIC.into(),
            quantity: 10,
            ..Default::default()
        }],
        ..Default::default()
    })
    .expect("order");
    let lines = catalogue::check_line_items(
        &mut service.conn().await.expect("conn"),
        &order.line_items,
        Cloud::Worldwide,
        "SE",
    )
    .await
    .expect("check");
    let mut tx = service.db.pool.begin().await.expect("tx");
    let order_id = service
        .write_order(&mut tx, &order, &lines)
        .await
        .expect("write the order");
    tx.commit().await.expect("commit");
    let placed = service.placed(&order_id).await.expect("placed");
    let id = placed.subscriptions[0].id.clone();

    let update = |mask: &[&str], s: pb::Subscription| pb::UpdateSubscriptionRequest {
        tenant_id: customer.clone(),
        subscription: Some(pb::Subscription {
            id: id.clone(),
            ..s
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: mask.iter().map(|p| p.to_string()).collect(),
        }),
    };
    let changed = service
        .update_subscription(update(
            &["quantity", "auto_renew"],
            pb::Subscription {
                quantity: 12,
                auto_renew: false,
                ..Default::default()
            },
        ))
        .await
        .expect("update");
    assert_eq!((changed.quantity, changed.auto_renew), (12, false));
    // Nothing changes: nothing is written.
    let same = service
        .update_subscription(update(
            &["quantity"],
            pb::Subscription {
                quantity: 12,
                ..Default::default()
            },
        ))
        .await
        .expect("update to the same");
    assert_eq!(same.etag, changed.etag);
    // A refused change writes nothing.
    let refused = service
        .update_subscription(update(
            &["quantity"],
            pb::Subscription {
                quantity: 301,
                ..Default::default()
            },
        ))
        .await
        .expect_err("301 licences");
    assert_eq!(
        partnerhub_kit::status::Fault::reason(&refused),
        "QUANTITY_OUT_OF_BOUNDS"
    );
    // The customer can't take the reseller off; the billing partner can, and the support
    // contact the reseller was falls back to the billing partner.
    let refused = service
        .update_subscription(update(
            &["indirect_reseller_id"],
            pb::Subscription::default(),
        ))
        .await
        .expect_err("the customer");
    assert_eq!(
        partnerhub_kit::status::Fault::reason(&refused),
        "SUBSCRIPTION_CHANGE_NOT_ALLOWED"
    );
    let cleared = service
        .update_subscription(pb::UpdateSubscriptionRequest {
            tenant_id: partner.clone(),
            ..update(&["indirect_reseller_id"], pb::Subscription::default())
        })
        .await
        .expect("clear the reseller");
    assert_eq!(cleared.indirect_reseller_id, "");
    assert_eq!(cleared.support_contact_tenant_id, partner);
    let change = |action| {
        let service = service.clone();
        let (customer, id) = (customer.clone(), id.clone());
        async move {
            service
                .change_state(
                    ChangeRequest {
                        tenant_id: customer,
                        subscription_id: id,
                        etag: None,
                    },
                    action,
                )
                .await
        }
    };
    change(Action::Suspend).await.expect("suspend");
    assert!(change(Action::Suspend).await.is_err());
    change(Action::Reactivate).await.expect("reactivate");
    let cancelled = change(Action::Cancel).await.expect("cancel");

    let rows = store::events_of(&mut service.conn().await.expect("conn"), &id)
        .await
        .expect("events");
    let concerned: Vec<_> = rows
        .iter()
        .map(|e| {
            assert_eq!(e.subscription_id, id);
            assert_eq!(e.billing_partner_tenant_id, partner);
            assert_eq!(e.partner_of_record_mpn_id, "");
            assert_eq!(e.removed.partner_of_record_mpn_id, "");
            (
                e.indirect_reseller_id.as_str(),
                e.removed.indirect_reseller_id.as_str(),
            )
        })
        .collect();
    let r = reseller.as_str();
    assert_eq!(
        concerned,
        [
            (r, ""),
            (r, ""),
            (r, ""),
            ("", r),
            ("", ""),
            ("", ""),
            ("", "")
        ]
    );
    let events = events(&service, &id).await;
    let kinds: Vec<_> = events.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "TYPE_CREATED",
            "TYPE_QUANTITY_CHANGED",
            "TYPE_UPDATED",
            "TYPE_UPDATED",
            "TYPE_SUSPENDED",
            "TYPE_REACTIVATED",
            "TYPE_CANCELLED"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0), "cursors grow");
    let states: Vec<_> = events.iter().map(|(_, _, s)| s.state).collect();
    assert_eq!(
        states,
        [
            State::Active,
            State::Active,
            State::Active,
            State::Active,
            State::Suspended,
            State::Active,
            State::Cancelled
        ]
        .map(|s| s as i32)
    );
    assert_eq!(events[0].2.quantity, 10);
    assert_eq!(events[1].2.quantity, 12);
    assert_eq!(events[0].2.support_contact_tenant_id, reseller);
    assert_eq!(events[6].2, cancelled);
    db.pool.close().await;
    test.drop_database().await;
}

#[tokio::test]
async fn a_watch_task_ends_when_its_client_goes_or_the_server_shuts_down() {
    let test = TestDb::new();
    let db = crate::open(&test.url).await.expect("open");
    let nowhere = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
    let shutdown = CancellationToken::new();
    let service = Subscriptions::with_shutdown(
        db.clone(),
        Deps {
            clock: Clock::default(),
            tenants: Peer::new(nowhere.clone(), InternalKey::generate()),
            relationships: Peer::new(nowhere, InternalKey::generate()),
            cancellation_window: crate::domain::DEFAULT_CANCELLATION_WINDOW,
        },
        shutdown.clone(),
    );
    let watcher = Watcher {
        tenant_id: Uuid::now_v7().to_string(),
        mpn_id: String::new(),
    };
    let start = |service: &Subscriptions| {
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let task = tokio::spawn(service.clone().run_watch(
            watcher.clone(),
            0,
            service.events.subscribe(),
            tx,
        ));
        (task, rx)
    };
    let patience = Duration::from_secs(10);
    // The client goes: the task notices while it waits.
    let (task, rx) = start(&service);
    drop(rx);
    tokio::time::timeout(patience, task)
        .await
        .expect("ends when the client goes")
        .expect("task");
    // The server shuts down: the stream says so (the client resumes elsewhere), then ends.
    let (task, mut rx) = start(&service);
    shutdown.cancel();
    tokio::time::timeout(patience, task)
        .await
        .expect("ends at shutdown")
        .expect("task");
    let status = rx.recv().await.expect("a last item").expect_err("a status");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(rx.recv().await.is_none());
    db.pool.close().await;
    test.drop_database().await;
}

#[tokio::test]
async fn a_trial_past_its_end_is_expired_in_every_read_and_list() {
    const DAY: i64 = 86_400_000_000;
    let test = TestDb::new();
    let db = crate::open(&test.url).await.expect("open");
    let service = service(db.clone());
    let mut conn = service.conn().await.expect("conn");
    let offer = store::offer(&mut conn, BUSINESS_BASIC)
        .await
        .expect("offer")
        .expect("Business Basic");
    let (customer, partner) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
    let now = service.now();
    let trial = |days: i64| Subscription {
        id: Uuid::now_v7().to_string(),
        customer_tenant_id: customer.clone(),
        billing_partner_tenant_id: partner.clone(),
        support_contact_tenant_id: partner.clone(),
        state: State::Trial,
        trial_end_time: Some(now + days * DAY),
        ..Subscription::paid(&offer, 5, crate::domain::Term::MONTHLY, now)
    };
    let (short, long) = (trial(30), trial(60));
    store::insert_subscription(&mut conn, &short)
        .await
        .expect("insert");
    store::insert_subscription(&mut conn, &long)
        .await
        .expect("insert");
    drop(conn);
    let list = |state: State| {
        let service = service.clone();
        let customer = customer.clone();
        async move {
            service
                .list_subscriptions(&pb::ListSubscriptionsRequest {
                    customer_tenant_id: customer,
                    state: state as i32,
                    ..Default::default()
                })
                .await
                .expect("ListSubscriptions")
                .subscriptions
                .into_iter()
                .map(|s| (s.id, s.state))
                .collect::<Vec<_>>()
        }
    };
    let trial_state = State::Trial as i32;
    let expired_state = State::Expired as i32;
    assert_eq!(
        list(State::Trial).await,
        [
            (short.id.clone(), trial_state),
            (long.id.clone(), trial_state)
        ]
    );
    assert!(list(State::Expired).await.is_empty());

    service
        .deps
        .clock
        .advance(std::time::Duration::from_secs(31 * 86_400));
    assert_eq!(list(State::Trial).await, [(long.id.clone(), trial_state)]);
    assert_eq!(
        list(State::Expired).await,
        [(short.id.clone(), expired_state)]
    );
    assert_eq!(list(State::Unspecified).await.len(), 2);
    let got = service
        .get_subscription(&pb::GetSubscriptionRequest {
            tenant_id: partner.clone(),
            subscription_id: short.id.clone(),
        })
        .await
        .expect("GetSubscription");
    assert_eq!(got.state, expired_state);
    let by = |id: &str| ChangeRequest {
        tenant_id: customer.clone(),
        subscription_id: id.to_string(),
        etag: None,
    };
    let refused = service
        .change_state(by(&short.id), Action::Cancel)
        .await
        .expect_err("an expired trial can't be cancelled");
    assert!(
        matches!(refused, Error::InvalidTransition { current, .. } if current.contains("expired"))
    );
    let ended = service
        .update_subscription(pb::UpdateSubscriptionRequest {
            tenant_id: customer.clone(),
            subscription: Some(pb::Subscription {
                id: short.id.clone(),
                quantity: 6,
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .expect_err("an expired trial can't change");
    assert!(matches!(ended, Error::SubscriptionEnded(_)));
    // A trial still running can be cancelled.
    let cancelled = service
        .change_state(by(&long.id), Action::Cancel)
        .await
        .expect("cancel a running trial");
    assert_eq!(cancelled.state, State::Cancelled as i32);
    db.pool.close().await;
    test.drop_database().await;
}
