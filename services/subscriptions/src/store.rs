//! The subscriptions service's SQL: every statement it runs, one text for SQLite and PostgreSQL.
//!
//! A subscription row stores TRIAL, ACTIVE, SUSPENDED, CANCELLED or EXPIRED. A trial past its
//! end is stored EXPIRED only once a sweep saw it (with its TRIAL_ENDED event), so until then
//! the statements that filter by state take the service's `now` as a parameter and say what
//! [`crate::domain::state_at`] says. Every change names the version it read (optimistic concurrency)
//! and writes its events in the same transaction, after taking the event writers' row.
//!
//! Likewise a term past its end has renewed (auto-renew) or expired until a sweep stores it
//! (with its RENEWED or TERM_ENDED event); the state filters say what
//! [`crate::domain::Subscription::state_at`] says of it.
//!
//! Rows are read straight into the domain's types ([`FromRow`]): enums by their value names,
//! flags, counts, lists and optional times decode as they are read, and a value no writer
//! writes is an error rather than a default. Enum names go into statements as parameters.

use crate::domain::{
    Event, EventType, LicenseAssignment, LicenseFilter, LineItem, Offer, OfferFilter, OfferSpec,
    Order, OrderFilter, Price, Removed, Subscription, SubscriptionFilter, Term, TermChoice,
};
use crate::error::Result;
use partnerhub_kit::page::Page;
use partnerhub_kit::row::{decoded, enum_at, flag_at, int32_at, list_at, optional_at, split};
use partnerhub_proto::subscriptions::subscription::State;
use partnerhub_proto::types::{BillingCycle, Cloud, TermDuration};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};

pub mod product_keys;

// ---- offers ----

/// The columns of an offer row.
macro_rules! offer_columns {
    () => {
        "id, cloud, display_name, description, min_quantity, max_quantity, trial_available, \
         trial_days, price_currency_code, price_units, price_nanos, country_codes, create_time, \
         terms, upgrade_offer_ids"
    };
}

/// Terms as a column keeps them: [`Term::encode`]d, comma-separated.
fn terms(joined: &str) -> Result<Vec<Term>, String> {
    split(joined)
        .map(|t| Term::decode(t).ok_or_else(|| format!("{t:?} is not a term")))
        .collect()
}

fn join_terms(terms: &[Term]) -> String {
    terms
        .iter()
        .map(|t| t.encode())
        .collect::<Vec<_>>()
        .join(",")
}

/// A subscription's term as its column keeps it: "" for none, else [`Term::encode`]d.
fn optional_term(text: &str) -> Result<Option<Term>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    Term::decode(text)
        .map(Some)
        .ok_or_else(|| format!("{text:?} is not a term"))
}

impl<'r> FromRow<'r, AnyRow> for Offer {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(Offer {
            id: row.try_get("id")?,
            spec: OfferSpec {
                cloud: enum_at(row, "cloud", Cloud::from_str_name)?,
                display_name: row.try_get("display_name")?,
                description: row.try_get("description")?,
                min_quantity: int32_at(row, "min_quantity")?,
                max_quantity: int32_at(row, "max_quantity")?,
                trial_available: flag_at(row, "trial_available")?,
                trial_days: int32_at(row, "trial_days")?,
                unit_price: Price {
                    currency_code: row.try_get("price_currency_code")?,
                    units: row.try_get("price_units")?,
                    nanos: int32_at(row, "price_nanos")?,
                },
                country_codes: list_at(row, "country_codes")?,
                terms: decoded(row, "terms", |t: &str| terms(t))?,
                upgrade_offer_ids: list_at(row, "upgrade_offer_ids")?,
            },
            create_time: row.try_get("create_time")?,
        })
    }
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
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (id) DO UPDATE SET cloud = excluded.cloud, \
             display_name = excluded.display_name, description = excluded.description, \
             min_quantity = excluded.min_quantity, max_quantity = excluded.max_quantity, \
             trial_available = excluded.trial_available, trial_days = excluded.trial_days, \
             price_currency_code = excluded.price_currency_code, \
             price_units = excluded.price_units, price_nanos = excluded.price_nanos, \
             country_codes = excluded.country_codes, terms = excluded.terms, \
             upgrade_offer_ids = excluded.upgrade_offer_ids"
        )
    } else {
        concat!(
            "INSERT INTO offers (",
            offer_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
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
        .bind(join_terms(&spec.terms))
        .bind(spec.upgrade_offer_ids.join(","))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn offer(conn: &mut AnyConnection, id: &str) -> Result<Option<Offer>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        offer_columns!(),
        " FROM offers WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// A page of `ListOffers`: offers of the cloud, sold in the country (no countries, or the
/// country listed), with a trial.
pub async fn list_offers(
    conn: &mut AnyConnection,
    f: &OfferFilter,
    page: &Page,
) -> Result<Vec<Offer>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        offer_columns!(),
        " FROM offers WHERE id > $1 AND ($2 = '' OR cloud = $2) \
         AND ($3 = '' OR country_codes = '' \
              OR (',' || country_codes || ',') LIKE ('%,' || $3 || ',%')) \
         AND ($4 = 0 OR trial_available <> 0) \
         ORDER BY id LIMIT $5"
    ))
    .bind(&page.after)
    .bind(f.cloud.map_or("", |c| c.as_str_name()))
    .bind(&f.country_code)
    .bind(i64::from(f.trial_available))
    .bind(page.limit())
    .fetch_all(conn)
    .await?)
}

// ---- orders ----

macro_rules! order_columns {
    () => {
        "id, customer_tenant_id, partner_tenant_id, indirect_reseller_id, line_items, \
         subscription_ids, create_time"
    };
}

impl<'r> FromRow<'r, AnyRow> for Order {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(Order {
            id: row.try_get("id")?,
            customer_tenant_id: row.try_get("customer_tenant_id")?,
            partner_tenant_id: row.try_get("partner_tenant_id")?,
            indirect_reseller_id: row.try_get("indirect_reseller_id")?,
            line_items: decoded(row, "line_items", line_items)?,
            subscription_ids: list_at(row, "subscription_ids")?,
            create_time: row.try_get("create_time")?,
        })
    }
}

/// Line items as the table keeps them: "offer_id:quantity", with ":partner_of_record_mpn_id"
/// when a line names one, and ":term_duration:billing_cycle" (names, "" for unset) after that
/// since orders have terms, comma-separated.
fn line_items(joined: &str) -> Result<Vec<LineItem>, String> {
    split(joined)
        .map(|line| {
            let parts: Vec<&str> = line.split(':').collect();
            let (offer_id, quantity, mpn_id, term) = match parts.as_slice() {
                [offer_id, quantity] => (offer_id, quantity, "", Some(TermChoice::default())),
                [offer_id, quantity, mpn_id] => {
                    (offer_id, quantity, *mpn_id, Some(TermChoice::default()))
                }
                [offer_id, quantity, mpn_id, duration, cycle] => {
                    (offer_id, quantity, *mpn_id, stored_choice(duration, cycle))
                }
                _ => return Err(format!("{line:?} is not a stored line item")),
            };
            match (quantity.parse(), term) {
                (Ok(quantity), Some(term)) => Ok(LineItem {
                    offer_id: offer_id.to_string(),
                    quantity,
                    partner_of_record_mpn_id: mpn_id.to_string(),
                    term,
                }),
                _ => Err(format!(
                    "{line:?} is not \"offer_id:quantity[:partner_id[:term:cycle]]\""
                )),
            }
        })
        .collect()
}

/// A term choice as a stored line keeps it (names, "" for unset).
fn stored_choice(duration: &str, cycle: &str) -> Option<TermChoice> {
    let duration = match duration {
        "" => None,
        name => Some(TermDuration::from_str_name(name)?),
    };
    let billing_cycle = match cycle {
        "" => None,
        name => Some(BillingCycle::from_str_name(name)?),
    };
    Some(TermChoice {
        duration,
        billing_cycle,
    })
}

fn join_line_items(items: &[LineItem]) -> String {
    items
        .iter()
        .map(|i| {
            let name = |n: Option<&'static str>| n.unwrap_or_default();
            format!(
                "{}:{}:{}:{}:{}",
                i.offer_id,
                i.quantity,
                i.partner_of_record_mpn_id,
                name(i.term.duration.map(|d| d.as_str_name())),
                name(i.term.billing_cycle.map(|c| c.as_str_name())),
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub async fn insert_order(conn: &mut AnyConnection, order: &Order) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO orders (",
        order_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&order.id)
    .bind(&order.customer_tenant_id)
    .bind(&order.partner_tenant_id)
    .bind(&order.indirect_reseller_id)
    .bind(join_line_items(&order.line_items))
    .bind(order.subscription_ids.join(","))
    .bind(order.create_time)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn order(conn: &mut AnyConnection, id: &str) -> Result<Option<Order>> {
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
            " AND ($5 = '' OR $5 LIKE ('%,' || partner_tenant_id || ',%') \
                  OR $5 LIKE ('%,' || indirect_reseller_id || ',%')) \
             ORDER BY id LIMIT $4"
        )
    };
}

/// A page of `ListOrders`, oldest first: by customer (`orders_by_customer`) when set, else by
/// partner (`orders_by_partner`). `$5`, when set, keeps the orders made by the MPSA partners it
/// lists ([`crate::domain::made_by_any_of`]).
pub async fn list_orders(
    conn: &mut AnyConnection,
    f: &OrderFilter,
    page: &Page,
) -> Result<Vec<Order>> {
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
        .bind(&f.made_by)
        .fetch_all(conn)
        .await?)
}

// ---- subscriptions ----

macro_rules! subscription_columns {
    () => {
        "id, customer_tenant_id, offer_id, offer_display_name, quantity, state, auto_renew, \
         billing_partner_tenant_id, indirect_reseller_id, partner_of_record_mpn_id, \
         support_contact_tenant_id, order_id, trial_end_time, create_time, update_time, \
         indirect_reseller_mpn_id, version, assigned_licenses, term, term_start_time, term_end_time"
    };
}

impl<'r> FromRow<'r, AnyRow> for Subscription {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(Subscription {
            id: row.try_get("id")?,
            customer_tenant_id: row.try_get("customer_tenant_id")?,
            offer_id: row.try_get("offer_id")?,
            offer_display_name: row.try_get("offer_display_name")?,
            quantity: int32_at(row, "quantity")?,
            state: enum_at(row, "state", State::from_str_name)?,
            auto_renew: flag_at(row, "auto_renew")?,
            billing_partner_tenant_id: row.try_get("billing_partner_tenant_id")?,
            indirect_reseller_id: row.try_get("indirect_reseller_id")?,
            indirect_reseller_mpn_id: row.try_get("indirect_reseller_mpn_id")?,
            partner_of_record_mpn_id: row.try_get("partner_of_record_mpn_id")?,
            support_contact_tenant_id: row.try_get("support_contact_tenant_id")?,
            order_id: row.try_get("order_id")?,
            trial_end_time: optional_at(row, "trial_end_time")?,
            term: decoded(row, "term", |t: &str| optional_term(t))?,
            term_start_time: row.try_get("term_start_time")?,
            term_end_time: row.try_get("term_end_time")?,
            create_time: row.try_get("create_time")?,
            update_time: row.try_get("update_time")?,
            version: row.try_get("version")?,
            assigned_licenses: int32_at(row, "assigned_licenses")?,
        })
    }
}

/// Writes a new subscription, at version 1 (whatever `s.version` says: a draft's is 0), with
/// no licences assigned.
pub async fn insert_subscription(conn: &mut AnyConnection, s: &Subscription) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO subscriptions (",
        subscription_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1, 0, \
         $17, $18, $19)"
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
    .bind(s.trial_end_time.unwrap_or(0))
    .bind(s.create_time)
    .bind(s.update_time)
    .bind(&s.indirect_reseller_mpn_id)
    .bind(s.term.map(Term::encode).unwrap_or_default())
    .bind(s.term_start_time)
    .bind(s.term_end_time)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn subscription(conn: &mut AnyConnection, id: &str) -> Result<Option<Subscription>> {
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
                  OR ($5 = $8 AND state = $8 AND trial_end_time > $6) \
                  OR ($5 = $9 AND (state = $9 OR (state = $8 AND trial_end_time <= $6) \
                      OR (state IN ($11, $12) AND auto_renew = 0 AND term_end_time <> 0 \
                          AND term_end_time <= $6))) \
                  OR ($5 <> $8 AND $5 <> $9 AND state = $5 \
                      AND NOT (state IN ($11, $12) AND auto_renew = 0 AND term_end_time <> 0 \
                               AND term_end_time <= $6))) \
             AND ($10 = '' OR $10 LIKE ('%,' || billing_partner_tenant_id || ',%') \
                  OR $10 LIKE ('%,' || indirect_reseller_id || ',%')) \
             ORDER BY id LIMIT $7"
        )
    };
}

/// A page of `ListSubscriptions`, oldest first, through the index of the first tenant filter
/// set: customer, billing partner, indirect reseller. The state filter ($5; $8 is TRIAL, $9
/// EXPIRED, $11 ACTIVE, $12 SUSPENDED) derives EXPIRED as
/// [`crate::domain::Subscription::state_at`] does: a trial past its end, a term past its end
/// without auto-renew. `$10`, when set, keeps the
/// subscriptions made by the MPSA partners it lists ([`crate::domain::made_by_any_of`]).
pub async fn list_subscriptions(
    conn: &mut AnyConnection,
    f: &SubscriptionFilter,
    now: i64,
    page: &Page,
) -> Result<Vec<Subscription>> {
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
        .bind(f.state.map_or("", |s| s.as_str_name()))
        .bind(now)
        .bind(page.limit())
        .bind(State::Trial.as_str_name())
        .bind(State::Expired.as_str_name())
        .bind(&f.made_by)
        .bind(State::Active.as_str_name())
        .bind(State::Suspended.as_str_name())
        .fetch_all(conn)
        .await?)
}

/// Writes what a change may set (quantity, state, auto-renewal, reseller, partner of record,
/// support contact, offer, trial end, term) of `next` if the subscription is still at
/// `next.version`; `false` if a concurrent change got there first.
pub async fn update_subscription(
    conn: &mut AnyConnection,
    next: &Subscription,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE subscriptions SET quantity = $3, state = $4, auto_renew = $5, \
         indirect_reseller_id = $6, partner_of_record_mpn_id = $7, \
         support_contact_tenant_id = $8, update_time = $9, indirect_reseller_mpn_id = $10, \
         offer_id = $11, offer_display_name = $12, trial_end_time = $13, term = $14, \
         term_start_time = $15, term_end_time = $16, version = version + 1 \
         WHERE id = $1 AND version = $2",
    )
    .bind(&next.id)
    .bind(next.version)
    .bind(i64::from(next.quantity))
    .bind(next.state.as_str_name())
    .bind(i64::from(next.auto_renew))
    .bind(&next.indirect_reseller_id)
    .bind(&next.partner_of_record_mpn_id)
    .bind(&next.support_contact_tenant_id)
    .bind(now)
    .bind(&next.indirect_reseller_mpn_id)
    .bind(&next.offer_id)
    .bind(&next.offer_display_name)
    .bind(next.trial_end_time.unwrap_or(0))
    .bind(next.term.map(Term::encode).unwrap_or_default())
    .bind(next.term_start_time)
    .bind(next.term_end_time)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

// ---- licences ----

macro_rules! assignment_columns {
    () => {
        "a.subscription_id, a.user_id, a.customer_tenant_id, a.create_time, s.offer_id, \
         s.offer_display_name, s.state, s.trial_end_time"
    };
}

impl<'r> FromRow<'r, AnyRow> for LicenseAssignment {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(LicenseAssignment {
            subscription_id: row.try_get("subscription_id")?,
            user_id: row.try_get("user_id")?,
            customer_tenant_id: row.try_get("customer_tenant_id")?,
            offer_id: row.try_get("offer_id")?,
            offer_display_name: row.try_get("offer_display_name")?,
            subscription_state: enum_at(row, "state", State::from_str_name)?,
            trial_end_time: optional_at(row, "trial_end_time")?,
            create_time: row.try_get("create_time")?,
        })
    }
}

/// Adds the assignments of `user_ids` to the subscription that are not there yet, in id order
/// (so that concurrent assignments wait on each other's rows in one order, never in a cycle);
/// how many it added. Call [`take_licenses`] with that number in the same transaction.
pub async fn insert_assignments(
    conn: &mut AnyConnection,
    subscription_id: &str,
    customer_tenant_id: &str,
    user_ids: &[String],
    now: i64,
) -> Result<i32> {
    let mut sorted: Vec<&String> = user_ids.iter().collect();
    sorted.sort();
    let mut added = 0;
    for user_id in sorted {
        let done = sqlx::query(
            "INSERT INTO license_assignments (subscription_id, user_id, customer_tenant_id, \
             create_time) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (subscription_id, user_id) DO NOTHING",
        )
        .bind(subscription_id)
        .bind(user_id)
        .bind(customer_tenant_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        added += i32::from(done.rows_affected() > 0);
    }
    Ok(added)
}

/// Counts `n` more licences assigned, if the quantity leaves room for them and the subscription
/// takes assignments at `now` (active, or a trial before its end): `false` otherwise. One
/// guarded statement: on PostgreSQL it takes the subscription's row lock and checks again
/// once a concurrent assignment commits, so concurrent assignments never pass the quantity.
pub async fn take_licenses(conn: &mut AnyConnection, id: &str, n: i32, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE subscriptions SET assigned_licenses = assigned_licenses + $2, \
         version = version + 1, update_time = $3 \
         WHERE id = $1 AND assigned_licenses + $2 <= quantity \
         AND (state = $4 OR (state = $5 AND trial_end_time > $3))",
    )
    .bind(id)
    .bind(i64::from(n))
    .bind(now)
    .bind(State::Active.as_str_name())
    .bind(State::Trial.as_str_name())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Counts `n` licences fewer assigned (after removing their rows in the same transaction).
async fn return_licenses(conn: &mut AnyConnection, id: &str, n: i32, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE subscriptions SET assigned_licenses = assigned_licenses - $2, \
         version = version + 1, update_time = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(i64::from(n))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the assignment of each of `user_ids` (in id order, as [`insert_assignments`]): the
/// users who held none (nothing is counted back then: the caller rolls the transaction back),
/// else `[]` and the licences counted back.
pub async fn remove_assignments(
    conn: &mut AnyConnection,
    subscription_id: &str,
    user_ids: &[String],
    now: i64,
) -> Result<Vec<String>> {
    let mut sorted: Vec<&String> = user_ids.iter().collect();
    sorted.sort();
    let mut missing = Vec::new();
    for user_id in sorted {
        if !delete_assignment(conn, subscription_id, user_id).await? {
            missing.push(user_id.clone());
        }
    }
    if missing.is_empty() {
        let n = i32::try_from(user_ids.len()).unwrap_or(i32::MAX);
        return_licenses(conn, subscription_id, n, now).await?;
    }
    Ok(missing)
}

async fn delete_assignment(
    conn: &mut AnyConnection,
    subscription_id: &str,
    user_id: &str,
) -> Result<bool> {
    let done =
        sqlx::query("DELETE FROM license_assignments WHERE subscription_id = $1 AND user_id = $2")
            .bind(subscription_id)
            .bind(user_id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes every assignment of a subscription (it was cancelled, or its trial expired), in the
/// transaction of that change (which bumped its version).
pub async fn release_all_licenses(conn: &mut AnyConnection, subscription_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM license_assignments WHERE subscription_id = $1")
        .bind(subscription_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE subscriptions SET assigned_licenses = 0 WHERE id = $1")
        .bind(subscription_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes every licence a user of the customer holds; how many.
pub async fn release_user_licenses(
    conn: &mut AnyConnection,
    customer_tenant_id: &str,
    user_id: &str,
    now: i64,
) -> Result<i32> {
    let held: Vec<(String,)> = sqlx::query_as(
        "SELECT subscription_id FROM license_assignments \
         WHERE customer_tenant_id = $1 AND user_id = $2 ORDER BY subscription_id",
    )
    .bind(customer_tenant_id)
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut released = 0;
    for (subscription_id,) in held {
        if delete_assignment(conn, &subscription_id, user_id).await? {
            return_licenses(conn, &subscription_id, 1, now).await?;
            released += 1;
        }
    }
    Ok(released)
}

/// The assignment of a user to a subscription, if any.
pub async fn assignment(
    conn: &mut AnyConnection,
    subscription_id: &str,
    user_id: &str,
) -> Result<Option<LicenseAssignment>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        assignment_columns!(),
        " FROM license_assignments a JOIN subscriptions s ON s.id = a.subscription_id \
         WHERE a.subscription_id = $1 AND a.user_id = $2"
    ))
    .bind(subscription_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?)
}

/// A page of `ListLicenseAssignments`, each with its subscription's offer and state (one
/// statement): by subscription, keyed by user id (`$3` the user when set too); else by user,
/// keyed by subscription id. Only the customer's (`$1`).
pub async fn list_assignments(
    conn: &mut AnyConnection,
    f: &LicenseFilter,
    page: &Page,
) -> Result<Vec<LicenseAssignment>> {
    let (sql, key) = if !f.subscription_id.is_empty() {
        (
            concat!(
                "SELECT ",
                assignment_columns!(),
                " FROM license_assignments a JOIN subscriptions s ON s.id = a.subscription_id \
                 WHERE a.customer_tenant_id = $1 AND a.subscription_id = $2 \
                 AND ($3 = '' OR a.user_id = $3) AND a.user_id > $4 \
                 ORDER BY a.user_id LIMIT $5"
            ),
            &f.subscription_id,
        )
    } else {
        (
            concat!(
                "SELECT ",
                assignment_columns!(),
                " FROM license_assignments a JOIN subscriptions s ON s.id = a.subscription_id \
                 WHERE a.customer_tenant_id = $1 AND a.user_id = $2 AND $3 = '' \
                 AND a.subscription_id > $4 ORDER BY a.subscription_id LIMIT $5"
            ),
            &f.user_id,
        )
    };
    let also_user = if f.subscription_id.is_empty() {
        ""
    } else {
        f.user_id.as_str()
    };
    Ok(sqlx::query_as(sql)
        .bind(&f.tenant_id)
        .bind(key)
        .bind(also_user)
        .bind(&page.after)
        .bind(page.limit())
        .fetch_all(conn)
        .await?)
}

// ---- events ----

/// Takes the event writers' row: until this transaction ends, no other can write events, so
/// cursors are handed out in commit order. Call it before [`append_event`].
pub async fn lock_events(conn: &mut AnyConnection) -> Result<()> {
    sqlx::query("UPDATE event_writers SET writes = writes + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

/// Records one change of `after` (the subscription as the change left it; `snapshot` is it as
/// the contract encodes it).
pub async fn append_event(
    conn: &mut AnyConnection,
    kind: EventType,
    after: &Subscription,
    removed: &Removed,
    snapshot: &[u8],
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
    .bind(snapshot)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

impl<'r> FromRow<'r, AnyRow> for Event {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(Event {
            cursor: row.try_get("cursor")?,
            kind: enum_at(row, "type", EventType::from_str_name)?,
            subscription_id: row.try_get("subscription_id")?,
            billing_partner_tenant_id: row.try_get("billing_partner_tenant_id")?,
            indirect_reseller_id: row.try_get("indirect_reseller_id")?,
            partner_of_record_mpn_id: row.try_get("partner_of_record_mpn_id")?,
            removed: Removed {
                indirect_reseller_id: row.try_get("previous_indirect_reseller_id")?,
                partner_of_record_mpn_id: row.try_get("previous_partner_of_record_mpn_id")?,
            },
            subscription: row.try_get("subscription")?,
            event_time: row.try_get("event_time")?,
        })
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
pub async fn events_after(conn: &mut AnyConnection, cursor: i64, limit: i64) -> Result<Vec<Event>> {
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

/// Whether a trial past its end is still stored as a trial, or a term past its end as it was
/// (the sweep has work): one statement, so a read pays one round trip for both.
pub async fn any_past_end(conn: &mut AnyConnection, now: i64) -> Result<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM subscriptions WHERE (state = $2 AND trial_end_time <= $1) \
         OR (state IN ($3, $4) AND term_end_time <> 0 AND term_end_time <= $1) LIMIT 1",
    )
    .bind(now)
    .bind(State::Trial.as_str_name())
    .bind(State::Active.as_str_name())
    .bind(State::Suspended.as_str_name())
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// The active and suspended subscriptions whose stored term ended, oldest end first.
pub async fn terms_past_end(conn: &mut AnyConnection, now: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM subscriptions WHERE state IN ($2, $3) AND term_end_time <> 0 \
         AND term_end_time <= $1 ORDER BY term_end_time, id",
    )
    .bind(now)
    .bind(State::Active.as_str_name())
    .bind(State::Suspended.as_str_name())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The trials past their end still stored as trials, oldest end first.
pub async fn trials_past_end(conn: &mut AnyConnection, now: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM subscriptions WHERE state = $2 AND trial_end_time <= $1 \
         ORDER BY trial_end_time, id",
    )
    .bind(now)
    .bind(State::Trial.as_str_name())
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
         AND state = $3 ORDER BY id",
    )
    .bind(customer_tenant_id)
    .bind(offer_id)
    .bind(State::Trial.as_str_name())
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
) -> Result<Option<Subscription>> {
    let done = sqlx::query(
        "UPDATE subscriptions SET state = $3, update_time = $2, \
         version = version + 1 WHERE id = $1 AND state = $4",
    )
    .bind(id)
    .bind(now)
    .bind(State::Expired.as_str_name())
    .bind(State::Trial.as_str_name())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    subscription(conn, id).await
}

/// The events of one subscription, oldest first.
#[cfg(test)]
pub async fn events_of(conn: &mut AnyConnection, subscription_id: &str) -> Result<Vec<Event>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        event_columns!(),
        " FROM subscription_events WHERE subscription_id = $1 ORDER BY cursor"
    ))
    .bind(subscription_id)
    .fetch_all(conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_items_decode_as_written_or_say_why_not() {
        let items = vec![
            LineItem {
                offer_id: "a".into(),
                quantity: 3,
                partner_of_record_mpn_id: String::new(),
                term: TermChoice::default(),
            },
            LineItem {
                offer_id: "b".into(),
                quantity: 300,
                partner_of_record_mpn_id: "4070001".into(),
                term: Term {
                    duration: TermDuration::Annual,
                    billing_cycle: BillingCycle::Monthly,
                }
                .into(),
            },
        ];
        assert_eq!(line_items(&join_line_items(&items)).unwrap(), items);
        assert_eq!(line_items("").unwrap(), []);
        // Lines stored before terms.
        assert_eq!(line_items("a:3").unwrap()[0].term, TermChoice::default());
        assert_eq!(line_items("b:300:4070001").unwrap()[0].quantity, 300);
        assert!(line_items("a:3,b").is_err());
        assert!(line_items("a:x").is_err());
        assert!(line_items("a:3:4070001:x").is_err());
        assert!(line_items("a:3::TERM_DURATION_WEEKLY:").is_err());
    }
}
