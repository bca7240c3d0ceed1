//! The subscriptions service's SQL: every statement it runs, one text for SQLite and PostgreSQL.
//!
//! A subscription row stores TRIAL, ACTIVE, SUSPENDED, CANCELLED or EXPIRED. A trial past its
//! end is stored EXPIRED only once a sweep saw it (with its TRIAL_ENDED event), so until then
//! the statements that filter by state take the service's `now` as a parameter and say what
//! [`domain::state_at`] says. Every change names the version it read (optimistic concurrency)
//! and writes its events in the same transaction, after taking the event writers' row.

use crate::domain::{
    self, EventType, LineItem, NewOrder, NewSubscription, Offer, OfferFilter, OfferSpec,
    OrderFilter, Price, SubscriptionFilter,
};
use crate::error::Result;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::time::{optional_timestamp, timestamp};
use partnerhub_proto::subscriptions::{self as pb, subscription::State};
use partnerhub_proto::types;
use prost::Message;
use sqlx::AnyConnection;

// ---- offers ----

/// The columns of an offer row, in [`OfferRow`]'s order.
macro_rules! offer_columns {
    () => {
        "id, cloud, display_name, description, min_quantity, max_quantity, trial_available, \
         trial_days, price_currency_code, price_units, price_nanos, country_codes, create_time"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfferRow {
    pub id: String,
    pub cloud: String,
    pub display_name: String,
    pub description: String,
    pub min_quantity: i64,
    pub max_quantity: i64,
    pub trial_available: i64,
    pub trial_days: i64,
    pub price_currency_code: String,
    pub price_units: i64,
    pub price_nanos: i64,
    pub country_codes: String,
    pub create_time: i64,
}

impl OfferRow {
    pub fn to_offer(&self) -> Offer {
        Offer {
            id: self.id.clone(),
            spec: OfferSpec {
                cloud: domain::stored_cloud(&self.cloud),
                display_name: self.display_name.clone(),
                description: self.description.clone(),
                min_quantity: int(self.min_quantity),
                max_quantity: int(self.max_quantity),
                trial_available: self.trial_available != 0,
                trial_days: int(self.trial_days),
                unit_price: Price {
                    currency_code: self.price_currency_code.clone(),
                    units: self.price_units,
                    nanos: int(self.price_nanos),
                },
                country_codes: split(&self.country_codes),
            },
            create_time: self.create_time,
        }
    }
}

/// A stored count as the `int32` the contract has (every stored one was one).
fn int(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(if value < 0 { i32::MIN } else { i32::MAX })
}

fn split(joined: &str) -> Vec<String> {
    joined
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Adds an offer; with `replace`, an offer with the same id (the catalogue file's, at a
/// restart) takes the new values and keeps its creation time.
pub async fn put_offer(
    conn: &mut AnyConnection,
    id: &str,
    spec: &OfferSpec,
    now: i64,
    replace: bool,
) -> Result<()> {
    let sql = if replace {
        concat!(
            "INSERT INTO offers (",
            offer_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (id) DO UPDATE SET cloud = excluded.cloud, \
             display_name = excluded.display_name, description = excluded.description, \
             min_quantity = excluded.min_quantity, max_quantity = excluded.max_quantity, \
             trial_available = excluded.trial_available, trial_days = excluded.trial_days, \
             price_currency_code = excluded.price_currency_code, \
             price_units = excluded.price_units, price_nanos = excluded.price_nanos, \
             country_codes = excluded.country_codes"
        )
    } else {
        concat!(
            "INSERT INTO offers (",
            offer_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        )
    };
    sqlx::query(sql)
        .bind(id)
        .bind(spec.cloud.as_str_name())
        .bind(&spec.display_name)
        .bind(&spec.description)
        .bind(i64::from(spec.min_quantity))
        .bind(i64::from(spec.max_quantity))
        .bind(i64::from(spec.trial_available))
        .bind(i64::from(spec.trial_days))
        .bind(&spec.unit_price.currency_code)
        .bind(spec.unit_price.units)
        .bind(i64::from(spec.unit_price.nanos))
        .bind(spec.country_codes.join(","))
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn offer(conn: &mut AnyConnection, id: &str) -> Result<Option<Offer>> {
    let row: Option<OfferRow> = sqlx::query_as(concat!(
        "SELECT ",
        offer_columns!(),
        " FROM offers WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.to_offer()))
}

/// A page of `ListOffers`: offers of the cloud, sold in the country (no countries, or the
/// country listed), with a trial.
pub async fn list_offers(
    conn: &mut AnyConnection,
    f: &OfferFilter,
    page: &Page,
) -> Result<Vec<Offer>> {
    let rows: Vec<OfferRow> = sqlx::query_as(concat!(
        "SELECT ",
        offer_columns!(),
        " FROM offers WHERE id > $1 AND ($2 = '' OR cloud = $2) \
         AND ($3 = '' OR country_codes = '' \
              OR (',' || country_codes || ',') LIKE ('%,' || $3 || ',%')) \
         AND ($4 = 0 OR trial_available <> 0) \
         ORDER BY id LIMIT $5"
    ))
    .bind(&page.after)
    .bind(&f.cloud)
    .bind(&f.country_code)
    .bind(i64::from(f.trial_available))
    .bind(page.limit())
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(OfferRow::to_offer).collect())
}

// ---- orders ----

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: String,
    pub customer_tenant_id: String,
    pub partner_tenant_id: String,
    pub indirect_reseller_id: String,
    pub line_items: String,
    pub subscription_ids: String,
    pub create_time: i64,
}

macro_rules! order_columns {
    () => {
        "id, customer_tenant_id, partner_tenant_id, indirect_reseller_id, line_items, \
         subscription_ids, create_time"
    };
}

impl OrderRow {
    /// Whether `tenant_id` may read it: the customer, the partner or the indirect reseller.
    pub fn is_visible_to(&self, tenant_id: &str) -> bool {
        [
            &self.customer_tenant_id,
            &self.partner_tenant_id,
            &self.indirect_reseller_id,
        ]
        .iter()
        .any(|t| !t.is_empty() && *t == tenant_id)
    }

    pub fn subscription_ids(&self) -> Vec<String> {
        split(&self.subscription_ids)
    }

    pub fn to_proto(&self) -> pb::Order {
        let line_items = split(&self.line_items)
            .iter()
            .filter_map(|line| line.split_once(':'))
            .map(|(offer_id, quantity)| types::LineItem {
                offer_id: offer_id.to_string(),
                quantity: quantity.parse().unwrap_or_default(),
            })
            .collect();
        pb::Order {
            id: self.id.clone(),
            customer_tenant_id: self.customer_tenant_id.clone(),
            partner_tenant_id: self.partner_tenant_id.clone(),
            indirect_reseller_id: self.indirect_reseller_id.clone(),
            line_items,
            subscription_ids: self.subscription_ids(),
            create_time: Some(timestamp(self.create_time)),
        }
    }
}

/// Line items as the table keeps them: "offer_id:quantity", comma-separated.
pub fn join_line_items(items: &[LineItem]) -> String {
    items
        .iter()
        .map(|i| format!("{}:{}", i.offer_id, i.quantity))
        .collect::<Vec<_>>()
        .join(",")
}

pub async fn insert_order(
    conn: &mut AnyConnection,
    id: &str,
    order: &NewOrder,
    subscription_ids: &[String],
    now: i64,
) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO orders (",
        order_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(id)
    .bind(&order.customer_tenant_id)
    .bind(&order.partner_tenant_id)
    .bind(&order.indirect_reseller_id)
    .bind(join_line_items(&order.line_items))
    .bind(subscription_ids.join(","))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn order(conn: &mut AnyConnection, id: &str) -> Result<Option<OrderRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// `ListOrders`, one statement per index: the filter that picks the index is a plain
/// `col = $n`, because `($n = '' OR col = $n)` keeps SQLite (and PostgreSQL's generic plans)
/// off every index, walking all orders by id. `$n = ''` stands for a filter known unset.
macro_rules! list_orders_sql {
    ($customer:literal, $partner:literal) => {
        concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE id > $1 AND ",
            $customer,
            " AND ",
            $partner,
            " ORDER BY id LIMIT $4"
        )
    };
}

/// A page of `ListOrders`, oldest first: by customer (`orders_by_customer`) when set, else by
/// partner (`orders_by_partner`).
pub async fn list_orders(
    conn: &mut AnyConnection,
    f: &OrderFilter,
    page: &Page,
) -> Result<Vec<OrderRow>> {
    let sql = if !f.customer_tenant_id.is_empty() {
        list_orders_sql!(
            "customer_tenant_id = $2",
            "($3 = '' OR partner_tenant_id = $3)"
        )
    } else if !f.partner_tenant_id.is_empty() {
        list_orders_sql!("$2 = ''", "partner_tenant_id = $3")
    } else {
        list_orders_sql!("$2 = ''", "$3 = ''")
    };
    Ok(sqlx::query_as(sql)
        .bind(&page.after)
        .bind(&f.customer_tenant_id)
        .bind(&f.partner_tenant_id)
        .bind(page.limit())
        .fetch_all(conn)
        .await?)
}

// ---- subscriptions ----

macro_rules! subscription_columns {
    () => {
        "id, customer_tenant_id, offer_id, offer_display_name, quantity, state, auto_renew, \
         billing_partner_tenant_id, indirect_reseller_id, partner_of_record_mpn_id, \
         support_contact_tenant_id, order_id, trial_end_time, create_time, update_time, version"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub id: String,
    pub customer_tenant_id: String,
    pub offer_id: String,
    pub offer_display_name: String,
    pub quantity: i64,
    pub state: String,
    pub auto_renew: i64,
    pub billing_partner_tenant_id: String,
    pub indirect_reseller_id: String,
    pub partner_of_record_mpn_id: String,
    pub support_contact_tenant_id: String,
    pub order_id: String,
    pub trial_end_time: i64,
    pub create_time: i64,
    pub update_time: i64,
    pub version: i64,
}

/// What a change may set on a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values {
    pub quantity: i32,
    pub state: State,
    pub auto_renew: bool,
    pub indirect_reseller_id: String,
    pub partner_of_record_mpn_id: String,
    pub support_contact_tenant_id: String,
}

impl SubscriptionRow {
    pub fn state_at(&self, now: i64) -> State {
        domain::state_at(domain::stored_state(&self.state), self.trial_end_time, now)
    }

    /// Whether `tenant_id` may read it: the customer, the billing partner, the indirect
    /// reseller or the support contact.
    pub fn is_visible_to(&self, tenant_id: &str) -> bool {
        self.may_change(tenant_id)
            || [&self.indirect_reseller_id, &self.support_contact_tenant_id]
                .iter()
                .any(|t| !t.is_empty() && *t == tenant_id)
    }

    /// Whether `tenant_id` may change it: the customer or the billing partner.
    pub fn may_change(&self, tenant_id: &str) -> bool {
        [&self.customer_tenant_id, &self.billing_partner_tenant_id]
            .iter()
            .any(|t| !t.is_empty() && *t == tenant_id)
    }

    pub fn values(&self) -> Values {
        Values {
            quantity: int(self.quantity),
            state: domain::stored_state(&self.state),
            auto_renew: self.auto_renew != 0,
            indirect_reseller_id: self.indirect_reseller_id.clone(),
            partner_of_record_mpn_id: self.partner_of_record_mpn_id.clone(),
            support_contact_tenant_id: self.support_contact_tenant_id.clone(),
        }
    }

    /// The subscription as a reader sees it at `now`.
    pub fn to_proto(&self, now: i64) -> pb::Subscription {
        pb::Subscription {
            id: self.id.clone(),
            customer_tenant_id: self.customer_tenant_id.clone(),
            offer_id: self.offer_id.clone(),
            offer_display_name: self.offer_display_name.clone(),
            quantity: int(self.quantity),
            state: self.state_at(now) as i32,
            auto_renew: self.auto_renew != 0,
            billing_partner_tenant_id: self.billing_partner_tenant_id.clone(),
            indirect_reseller_id: self.indirect_reseller_id.clone(),
            partner_of_record_mpn_id: self.partner_of_record_mpn_id.clone(),
            support_contact_tenant_id: self.support_contact_tenant_id.clone(),
            order_id: self.order_id.clone(),
            trial_end_time: optional_timestamp(Some(self.trial_end_time)),
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            etag: fields::etag_of(self.version),
        }
    }
}

pub async fn insert_subscription(
    conn: &mut AnyConnection,
    s: &NewSubscription,
    now: i64,
) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO subscriptions (",
        subscription_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, 1)"
    ))
    .bind(&s.id)
    .bind(&s.customer_tenant_id)
    .bind(&s.offer_id)
    .bind(&s.offer_display_name)
    .bind(i64::from(s.quantity))
    .bind(s.state.as_str_name())
    .bind(i64::from(s.auto_renew))
    .bind(&s.billing_partner_tenant_id)
    .bind(&s.indirect_reseller_id)
    .bind(&s.partner_of_record_mpn_id)
    .bind(&s.support_contact_tenant_id)
    .bind(&s.order_id)
    .bind(s.trial_end_time)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn subscription(conn: &mut AnyConnection, id: &str) -> Result<Option<SubscriptionRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        subscription_columns!(),
        " FROM subscriptions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// `ListSubscriptions`, one statement per index, as `list_orders_sql`.
macro_rules! list_subscriptions_sql {
    ($customer:literal, $billing_partner:literal, $reseller:literal) => {
        concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE id > $1 AND ",
            $customer,
            " AND ",
            $billing_partner,
            " AND ",
            $reseller,
            " AND ($5 = '' \
                  OR ($5 = 'STATE_TRIAL' AND state = 'STATE_TRIAL' AND trial_end_time > $6) \
                  OR ($5 = 'STATE_EXPIRED' AND (state = 'STATE_EXPIRED' \
                      OR (state = 'STATE_TRIAL' AND trial_end_time <= $6))) \
                  OR ($5 <> 'STATE_TRIAL' AND $5 <> 'STATE_EXPIRED' AND state = $5)) \
             ORDER BY id LIMIT $7"
        )
    };
}

/// A page of `ListSubscriptions`, oldest first, through the index of the first tenant filter
/// set: customer, billing partner, indirect reseller. The state filter derives EXPIRED as
/// [`domain::state_at`] does.
pub async fn list_subscriptions(
    conn: &mut AnyConnection,
    f: &SubscriptionFilter,
    now: i64,
    page: &Page,
) -> Result<Vec<SubscriptionRow>> {
    let sql = if !f.customer_tenant_id.is_empty() {
        list_subscriptions_sql!(
            "customer_tenant_id = $2",
            "($3 = '' OR billing_partner_tenant_id = $3)",
            "($4 = '' OR indirect_reseller_id = $4)"
        )
    } else if !f.billing_partner_tenant_id.is_empty() {
        list_subscriptions_sql!(
            "$2 = ''",
            "billing_partner_tenant_id = $3",
            "($4 = '' OR indirect_reseller_id = $4)"
        )
    } else if !f.indirect_reseller_id.is_empty() {
        list_subscriptions_sql!("$2 = ''", "$3 = ''", "indirect_reseller_id = $4")
    } else {
        list_subscriptions_sql!("$2 = ''", "$3 = ''", "$4 = ''")
    };
    Ok(sqlx::query_as(sql)
        .bind(&page.after)
        .bind(&f.customer_tenant_id)
        .bind(&f.billing_partner_tenant_id)
        .bind(&f.indirect_reseller_id)
        .bind(&f.state)
        .bind(now)
        .bind(page.limit())
        .fetch_all(conn)
        .await?)
}

/// Writes `values` if the subscription is still at `version`; `false` if a concurrent change
/// got there first.
pub async fn update_subscription(
    conn: &mut AnyConnection,
    id: &str,
    version: i64,
    values: &Values,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE subscriptions SET quantity = $3, state = $4, auto_renew = $5, \
         indirect_reseller_id = $6, partner_of_record_mpn_id = $7, \
         support_contact_tenant_id = $8, update_time = $9, version = version + 1 \
         WHERE id = $1 AND version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(i64::from(values.quantity))
    .bind(values.state.as_str_name())
    .bind(i64::from(values.auto_renew))
    .bind(&values.indirect_reseller_id)
    .bind(&values.partner_of_record_mpn_id)
    .bind(&values.support_contact_tenant_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

// ---- events ----

/// What a change removed from a subscription, so that the partner it concerned hears of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub indirect_reseller_id: String,
    pub partner_of_record_mpn_id: String,
}

/// Takes the event writers' row: until this transaction ends, no other can write events, so
/// cursors are handed out in commit order. Call it before [`append_event`].
pub async fn lock_events(conn: &mut AnyConnection) -> Result<()> {
    sqlx::query("UPDATE event_writers SET writes = writes + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

/// Records one change of `after` (the subscription as the change left it).
pub async fn append_event(
    conn: &mut AnyConnection,
    kind: EventType,
    after: &SubscriptionRow,
    removed: &Removed,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO subscription_events (type, subscription_id, billing_partner_tenant_id, \
         indirect_reseller_id, partner_of_record_mpn_id, previous_indirect_reseller_id, \
         previous_partner_of_record_mpn_id, subscription, event_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(kind.as_str_name())
    .bind(&after.id)
    .bind(&after.billing_partner_tenant_id)
    .bind(&after.indirect_reseller_id)
    .bind(&after.partner_of_record_mpn_id)
    .bind(&removed.indirect_reseller_id)
    .bind(&removed.partner_of_record_mpn_id)
    .bind(after.to_proto(now).encode_to_vec())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// One stored event, as `WatchSubscriptionEvents` reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub cursor: i64,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub subscription_id: String,
    pub billing_partner_tenant_id: String,
    pub indirect_reseller_id: String,
    pub partner_of_record_mpn_id: String,
    pub previous_indirect_reseller_id: String,
    pub previous_partner_of_record_mpn_id: String,
    pub subscription: Vec<u8>,
    pub event_time: i64,
}

impl EventRow {
    pub fn to_proto(&self) -> Result<pb::SubscriptionEvent, prost::DecodeError> {
        Ok(pb::SubscriptionEvent {
            cursor: domain::encode_cursor(self.cursor),
            r#type: EventType::from_str_name(&self.kind).unwrap_or(EventType::Unspecified) as i32,
            subscription: Some(pb::Subscription::decode(self.subscription.as_slice())?),
            event_time: Some(timestamp(self.event_time)),
        })
    }

    /// Whether the event concerns a partner (its tenant id, and its partner ID if it has one):
    /// it bills the subscription, is its indirect reseller or its partner of record, after the
    /// change or until the change removed it.
    pub fn concerns(&self, tenant_id: &str, mpn_id: &str) -> bool {
        let is = |t: &String| !t.is_empty() && t == tenant_id;
        let is_mpn = |m: &String| !mpn_id.is_empty() && m == mpn_id;
        is(&self.billing_partner_tenant_id)
            || is(&self.indirect_reseller_id)
            || is(&self.previous_indirect_reseller_id)
            || is_mpn(&self.partner_of_record_mpn_id)
            || is_mpn(&self.previous_partner_of_record_mpn_id)
    }
}

macro_rules! event_columns {
    () => {
        "cursor, type, subscription_id, billing_partner_tenant_id, indirect_reseller_id, \
         partner_of_record_mpn_id, previous_indirect_reseller_id, \
         previous_partner_of_record_mpn_id, subscription, event_time"
    };
}

/// Up to `limit` events after `cursor`, oldest first (every partner's: the watcher filters, so
/// that its position moves past the events of others too).
pub async fn events_after(
    conn: &mut AnyConnection,
    cursor: i64,
    limit: i64,
) -> Result<Vec<EventRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        event_columns!(),
        " FROM subscription_events WHERE cursor > $1 ORDER BY cursor LIMIT $2"
    ))
    .bind(cursor)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The cursor of the newest committed event (0 when there is none).
pub async fn last_cursor(conn: &mut AnyConnection) -> Result<i64> {
    let (last,): (Option<i64>,) = sqlx::query_as("SELECT MAX(cursor) FROM subscription_events")
        .fetch_one(conn)
        .await?;
    Ok(last.unwrap_or(0))
}

// ---- trials ----

/// Whether a trial past its end is still stored as a trial (the sweep has work).
pub async fn any_trial_past_end(conn: &mut AnyConnection, now: i64) -> Result<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM subscriptions WHERE state = 'STATE_TRIAL' AND trial_end_time <= $1 LIMIT 1",
    )
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// The trials past their end still stored as trials, oldest end first.
pub async fn trials_past_end(conn: &mut AnyConnection, now: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM subscriptions WHERE state = 'STATE_TRIAL' AND trial_end_time <= $1 \
         ORDER BY trial_end_time, id",
    )
    .bind(now)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The customer's subscriptions of the offer still stored as trials.
pub async fn open_trials(
    conn: &mut AnyConnection,
    customer_tenant_id: &str,
    offer_id: &str,
) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM subscriptions WHERE customer_tenant_id = $1 AND offer_id = $2 \
         AND state = 'STATE_TRIAL' ORDER BY id",
    )
    .bind(customer_tenant_id)
    .bind(offer_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Whether the customer ever had a trial of the offer, in any state (a trial has an end time).
pub async fn had_trial(
    conn: &mut AnyConnection,
    customer_tenant_id: &str,
    offer_id: &str,
) -> Result<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM subscriptions WHERE customer_tenant_id = $1 AND offer_id = $2 \
         AND trial_end_time <> 0 LIMIT 1",
    )
    .bind(customer_tenant_id)
    .bind(offer_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Ends a trial: stores it as EXPIRED if it is still stored as a trial. The row after the
/// change, or `None` if it was not a trial (any more).
pub async fn end_trial(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> Result<Option<SubscriptionRow>> {
    let done = sqlx::query(
        "UPDATE subscriptions SET state = 'STATE_EXPIRED', update_time = $2, \
         version = version + 1 WHERE id = $1 AND state = 'STATE_TRIAL'",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    subscription(conn, id).await
}

/// The events of one subscription, oldest first.
#[cfg(test)]
pub async fn events_of(conn: &mut AnyConnection, subscription_id: &str) -> Result<Vec<EventRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        event_columns!(),
        " FROM subscription_events WHERE subscription_id = $1 ORDER BY cursor"
    ))
    .bind(subscription_id)
    .fetch_all(conn)
    .await?)
}
