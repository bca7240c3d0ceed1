//! The relationships service's SQL: every statement it runs, one text for SQLite and
//! PostgreSQL, and how its rows decode into [`Relationship`].
//!
//! A row stores ACTIVE or TERMINATED; whether an active delegated admin has EXPIRED depends on
//! the time, so every statement that filters by state takes the service's `now` as a parameter
//! and uses [`active_at!`] or [`expired_at!`], the SQL form of [`crate::domain::state_at`].
//!
//! The table keeps enums as their protobuf value names, bound as parameters and never spelled
//! in the SQL (the statements bind the types and states they name), roles comma-separated in
//! enum order, flags as 0 or 1 and times as microseconds (0: not set). A value no writer writes
//! is a decode error, not a default.

use crate::domain::{ListFilter, NewRelationship, Relationship};
use crate::error::Result;
use partnerhub_kit::page::Page;
use partnerhub_kit::row::{enum_at, enums_at, flag_at, names};
use partnerhub_proto::relationships::{RelationshipType, relationship::State};
use partnerhub_proto::types::Role;
use partnerhub_rules::delegation::Grant;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};

// ---- decoding ----

/// A stored relationship type: any but UNSPECIFIED.
fn stored_type(name: &str) -> Option<RelationshipType> {
    RelationshipType::from_str_name(name).filter(|t| *t != RelationshipType::Unspecified)
}

/// A stored state: ACTIVE, TERMINATED, or EXPIRED once replaced (see
/// [`crate::domain::state_at`]).
fn stored_state(name: &str) -> Option<State> {
    State::from_str_name(name).filter(|s| *s != State::Unspecified)
}

// ---- relationships ----

/// The columns of a relationship row, as [`Relationship`]'s `FromRow` reads them.
macro_rules! columns {
    () => {
        "id, type, partner_tenant_id, client_tenant_id, state, indirect_provider_tenant_id, roles, \
         end_time, auto_extend, invitation_id, create_time, update_time, terminate_time"
    };
}

/// Active at the time in parameter `$now`, with `$active` the ACTIVE state's name (see
/// [`crate::domain::state_at`]).
macro_rules! active_at {
    ($active:literal, $now:literal) => {
        concat!(
            "(state = ",
            $active,
            " AND (end_time = 0 OR auto_extend <> 0 OR end_time > ",
            $now,
            "))"
        )
    };
}

/// Expired at the time in parameter `$now`, with `$active` and `$expired` the ACTIVE and
/// EXPIRED states' names (see [`crate::domain::state_at`]).
macro_rules! expired_at {
    ($active:literal, $expired:literal, $now:literal) => {
        concat!(
            "(state = ",
            $expired,
            " OR (state = ",
            $active,
            " AND end_time <> 0 AND auto_extend = 0 AND end_time <= ",
            $now,
            "))"
        )
    };
}

impl FromRow<'_, AnyRow> for Relationship {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Relationship {
            id: row.try_get("id")?,
            kind: enum_at(row, "type", stored_type)?,
            partner_tenant_id: row.try_get("partner_tenant_id")?,
            client_tenant_id: row.try_get("client_tenant_id")?,
            state: enum_at(row, "state", stored_state)?,
            indirect_provider_tenant_id: row.try_get("indirect_provider_tenant_id")?,
            roles: enums_at(row, "roles", Role::from_str_name)?,
            end_time: row.try_get("end_time")?,
            auto_extend: flag_at(row, "auto_extend")?,
            invitation_id: row.try_get("invitation_id")?,
            create_time: row.try_get("create_time")?,
            update_time: row.try_get("update_time")?,
            terminate_time: row.try_get("terminate_time")?,
        })
    }
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<Relationship>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM relationships WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// `ListRelationships`' SQL with `$parties` choosing the rows: one static text per combination
/// of the partner and client filters, because `($2 = '' OR partner_tenant_id = $2)` keeps
/// SQLite (and PostgreSQL's generic plans) from using an index, and every page then walked the
/// whole table. Each variant uses every parameter (PostgreSQL wants the bound count). The state
/// filter is `$5`; `$8`, `$9` and `$10` are ACTIVE, EXPIRED and TERMINATED.
macro_rules! list_sql {
    ($parties:literal) => {
        concat!(
            "SELECT ",
            columns!(),
            " FROM relationships WHERE ",
            $parties,
            " AND id > $1 AND ($4 = '' OR type = $4) \
             AND ($5 = '' \
                  OR ($5 = $8 AND ",
            active_at!("$8", "$6"),
            ") OR ($5 = $9 AND ",
            expired_at!("$8", "$9", "$6"),
            ") OR ($5 = $10 AND state = $10)) \
             ORDER BY id LIMIT $7"
        )
    };
}

/// A page of `ListRelationships`.
pub async fn list(
    conn: &mut AnyConnection,
    f: &ListFilter,
    now: i64,
    page: &Page,
) -> Result<Vec<Relationship>> {
    let sql = match (
        f.partner_tenant_id.is_empty(),
        f.client_tenant_id.is_empty(),
    ) {
        (false, false) => list_sql!("partner_tenant_id = $2 AND client_tenant_id = $3"),
        (false, true) => list_sql!("partner_tenant_id = $2 AND $3 = ''"),
        (true, false) => list_sql!("client_tenant_id = $3 AND $2 = ''"),
        (true, true) => list_sql!("$2 = '' AND $3 = ''"),
    };
    Ok(sqlx::query_as(sql)
        .bind(&page.after)
        .bind(&f.partner_tenant_id)
        .bind(&f.client_tenant_id)
        .bind(f.kind.map_or("", |k| k.as_str_name()))
        .bind(f.state.map_or("", |s| s.as_str_name()))
        .bind(now)
        .bind(page.limit())
        .bind(State::Active.as_str_name())
        .bind(State::Expired.as_str_name())
        .bind(State::Terminated.as_str_name())
        .fetch_all(conn)
        .await?)
}

/// A page of the partners with an active relationship with a customer (the customer as
/// client; an INDIRECT_PARTNERSHIP's client is a reseller, not a customer).
pub async fn partners_of_customer(
    conn: &mut AnyConnection,
    customer_tenant_id: &str,
    now: i64,
    page: &Page,
) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(concat!(
        "SELECT DISTINCT partner_tenant_id FROM relationships \
         WHERE client_tenant_id = $1 AND partner_tenant_id > $2 \
         AND type <> $5 AND ",
        active_at!("$6", "$3"),
        " ORDER BY partner_tenant_id LIMIT $4"
    ))
    .bind(customer_tenant_id)
    .bind(&page.after)
    .bind(now)
    .bind(page.limit())
    .bind(RelationshipType::IndirectPartnership.as_str_name())
    .bind(State::Active.as_str_name())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The active relationships of a customer (as client, INDIRECT_PARTNERSHIP left out) with the
/// partners whose ids are in `(after, last]`: the rows behind one page of
/// [`partners_of_customer`]. Ordered by partner, then oldest first.
pub async fn active_with_partners(
    conn: &mut AnyConnection,
    customer_tenant_id: &str,
    after: &str,
    last: &str,
    now: i64,
) -> Result<Vec<Relationship>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM relationships WHERE client_tenant_id = $1 \
         AND partner_tenant_id > $2 AND partner_tenant_id <= $3 \
         AND type <> $5 AND ",
        active_at!("$6", "$4"),
        " ORDER BY partner_tenant_id, id"
    ))
    .bind(customer_tenant_id)
    .bind(after)
    .bind(last)
    .bind(now)
    .bind(RelationshipType::IndirectPartnership.as_str_name())
    .bind(State::Active.as_str_name())
    .fetch_all(conn)
    .await?)
}

/// A page of a partner's customers: the clients of its active relationships (INDIRECT_PARTNERSHIP
/// left out: its client is a reseller) and, for an indirect provider, the clients of the active
/// INDIRECT_RESELLER relationships under it. With `indirect_reseller_id` ("" for none) only the
/// customers that reseller sells to under the partner. Each branch is its own index range
/// (`relationships_by_partner_client`, `relationships_by_provider_client`), bounded by the page.
pub async fn customers_of_partner(
    conn: &mut AnyConnection,
    partner_tenant_id: &str,
    indirect_reseller_id: &str,
    now: i64,
    page: &Page,
) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(concat!(
        "SELECT client_tenant_id FROM (\
           SELECT DISTINCT client_tenant_id FROM relationships \
           WHERE $3 = '' AND partner_tenant_id = $1 AND client_tenant_id > $2 \
           AND type <> $6 AND ",
        active_at!("$8", "$4"),
        " ORDER BY client_tenant_id LIMIT $5) AS direct \
         UNION \
         SELECT client_tenant_id FROM (\
           SELECT DISTINCT client_tenant_id FROM relationships \
           WHERE indirect_provider_tenant_id = $1 AND client_tenant_id > $2 \
           AND type = $7 \
           AND ($3 = '' OR partner_tenant_id = $3) AND ",
        active_at!("$8", "$4"),
        " ORDER BY client_tenant_id LIMIT $5) AS indirect \
         ORDER BY client_tenant_id LIMIT $5"
    ))
    .bind(partner_tenant_id)
    .bind(&page.after)
    .bind(indirect_reseller_id)
    .bind(now)
    .bind(page.limit())
    .bind(RelationshipType::IndirectPartnership.as_str_name())
    .bind(RelationshipType::IndirectReseller.as_str_name())
    .bind(State::Active.as_str_name())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The active relationships behind one page of [`customers_of_partner`]: with the customers
/// whose ids are in `(after, last]`, the partner's own (INDIRECT_PARTNERSHIP left out) and the
/// INDIRECT_RESELLER relationships under it. Ordered by customer, then oldest first.
pub async fn active_with_customers(
    conn: &mut AnyConnection,
    partner_tenant_id: &str,
    after: &str,
    last: &str,
    now: i64,
) -> Result<Vec<Relationship>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM relationships WHERE client_tenant_id > $2 AND client_tenant_id <= $3 \
         AND ((partner_tenant_id = $1 AND type <> $5) \
              OR (indirect_provider_tenant_id = $1 AND type = $6)) AND ",
        active_at!("$7", "$4"),
        " ORDER BY client_tenant_id, id"
    ))
    .bind(partner_tenant_id)
    .bind(after)
    .bind(last)
    .bind(now)
    .bind(RelationshipType::IndirectPartnership.as_str_name())
    .bind(RelationshipType::IndirectReseller.as_str_name())
    .bind(State::Active.as_str_name())
    .fetch_all(conn)
    .await?)
}

/// Every active relationship of a partner with a client, oldest first.
pub async fn active_between(
    conn: &mut AnyConnection,
    partner_tenant_id: &str,
    client_tenant_id: &str,
    now: i64,
) -> Result<Vec<Relationship>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM relationships WHERE client_tenant_id = $1 AND partner_tenant_id = $2 AND ",
        active_at!("$4", "$3"),
        " ORDER BY id"
    ))
    .bind(client_tenant_id)
    .bind(partner_tenant_id)
    .bind(now)
    .bind(State::Active.as_str_name())
    .fetch_all(conn)
    .await?)
}

/// The partners holding an active MPSA relationship with `customer` now, sorted.
pub async fn mpsa_partners(
    conn: &mut AnyConnection,
    customer_tenant_id: &str,
    now: i64,
) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(concat!(
        "SELECT DISTINCT partner_tenant_id FROM relationships WHERE client_tenant_id = $1 \
         AND type = $2 AND ",
        active_at!("$4", "$3"),
        " ORDER BY partner_tenant_id"
    ))
    .bind(customer_tenant_id)
    .bind(RelationshipType::Mpsa.as_str_name())
    .bind(now)
    .bind(State::Active.as_str_name())
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

/// Whether `partner` sells to `customer` now: an active RESELLER relationship of its own, or an
/// active INDIRECT_RESELLER one under it as the indirect provider.
pub async fn sells_to(
    conn: &mut AnyConnection,
    partner_tenant_id: &str,
    customer_tenant_id: &str,
    now: i64,
) -> Result<bool> {
    let found: Option<(String,)> = sqlx::query_as(concat!(
        "SELECT id FROM relationships WHERE client_tenant_id = $1 \
         AND ((type = $2 AND partner_tenant_id = $3) \
           OR (type = $4 AND indirect_provider_tenant_id = $3)) AND ",
        active_at!("$6", "$5"),
        " LIMIT 1"
    ))
    .bind(customer_tenant_id)
    .bind(RelationshipType::Reseller.as_str_name())
    .bind(partner_tenant_id)
    .bind(RelationshipType::IndirectReseller.as_str_name())
    .bind(now)
    .bind(State::Active.as_str_name())
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Whether an indirect provider and an indirect reseller are in an active INDIRECT_PARTNERSHIP.
pub async fn in_partnership(
    conn: &mut AnyConnection,
    provider_tenant_id: &str,
    reseller_tenant_id: &str,
    now: i64,
) -> Result<bool> {
    let found: Option<(String,)> = sqlx::query_as(concat!(
        "SELECT id FROM relationships WHERE client_tenant_id = $1 AND partner_tenant_id = $2 \
         AND type = $3 AND ",
        active_at!("$5", "$4"),
        " LIMIT 1"
    ))
    .bind(reseller_tenant_id)
    .bind(provider_tenant_id)
    .bind(RelationshipType::IndirectPartnership.as_str_name())
    .bind(now)
    .bind(State::Active.as_str_name())
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Terminates every active delegated admin of a partner with a client; returns them,
/// oldest first.
pub async fn terminate_delegated_admin(
    conn: &mut AnyConnection,
    partner_tenant_id: &str,
    client_tenant_id: &str,
    now: i64,
) -> Result<Vec<Relationship>> {
    let mut rows: Vec<Relationship> = sqlx::query_as(concat!(
        "UPDATE relationships SET state = $4, terminate_time = $3, \
         update_time = $3 WHERE client_tenant_id = $1 AND partner_tenant_id = $2 \
         AND type = $5 AND ",
        active_at!("$6", "$3"),
        " RETURNING ",
        columns!()
    ))
    .bind(client_tenant_id)
    .bind(partner_tenant_id)
    .bind(now)
    .bind(State::Terminated.as_str_name())
    .bind(RelationshipType::DelegatedAdmin.as_str_name())
    .bind(State::Active.as_str_name())
    .fetch_all(conn)
    .await?;
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rows)
}

/// Terminates one relationship if it is still stored active; `false` if it was not.
pub async fn terminate(conn: &mut AnyConnection, id: &str, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE relationships SET state = $3, terminate_time = $2, \
         update_time = $2 WHERE id = $1 AND state = $4",
    )
    .bind(id)
    .bind(now)
    .bind(State::Terminated.as_str_name())
    .bind(State::Active.as_str_name())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Stores EXPIRED the relationships of the same kind between the same parties as `new` that
/// are stored ACTIVE but have expired at `now`, so that the new one can be the one stored ACTIVE:
/// the unique index `relationships_one_active` then keeps concurrent grants to one. Nothing a
/// reader sees changes (it read EXPIRED already), so `update_time` stays.
pub async fn retire_expired(
    conn: &mut AnyConnection,
    new: &NewRelationship,
    now: i64,
) -> Result<()> {
    sqlx::query(concat!(
        "UPDATE relationships SET state = $7 \
         WHERE client_tenant_id = $1 AND partner_tenant_id = $2 \
         AND type = $3 AND indirect_provider_tenant_id = $4 AND state = $6 AND ",
        expired_at!("$6", "$7", "$5"),
    ))
    .bind(&new.client_tenant_id)
    .bind(&new.partner_tenant_id)
    .bind(new.kind.as_str_name())
    .bind(&new.indirect_provider_tenant_id)
    .bind(now)
    .bind(State::Active.as_str_name())
    .bind(State::Expired.as_str_name())
    .execute(conn)
    .await?;
    Ok(())
}

/// The active relationship of the same kind between the same parties (and under the same
/// indirect provider) as `new`, if there is one; the oldest if several.
pub async fn find_active(
    conn: &mut AnyConnection,
    new: &NewRelationship,
    now: i64,
) -> Result<Option<Relationship>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM relationships WHERE client_tenant_id = $1 AND partner_tenant_id = $2 \
         AND type = $3 AND indirect_provider_tenant_id = $4 AND ",
        active_at!("$6", "$5"),
        " ORDER BY id LIMIT 1"
    ))
    .bind(&new.client_tenant_id)
    .bind(&new.partner_tenant_id)
    .bind(new.kind.as_str_name())
    .bind(&new.indirect_provider_tenant_id)
    .bind(now)
    .bind(State::Active.as_str_name())
    .fetch_optional(conn)
    .await?)
}

pub async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    new: &NewRelationship,
    now: i64,
) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO relationships (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 0)"
    ))
    .bind(id)
    .bind(new.kind.as_str_name())
    .bind(&new.partner_tenant_id)
    .bind(&new.client_tenant_id)
    .bind(State::Active.as_str_name())
    .bind(&new.indirect_provider_tenant_id)
    .bind(names(new.roles(), Role::as_str_name))
    .bind(new.end_time(now))
    .bind(i64::from(new.auto_extend()))
    .bind(&new.invitation_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives an active delegated admin a new grant: roles, end and auto-extend replace the old
/// ones; a new invitation, if any, becomes the one it came from.
pub async fn regrant(
    conn: &mut AnyConnection,
    id: &str,
    grant: &Grant,
    end_time: i64,
    invitation_id: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE relationships SET roles = $2, end_time = $3, auto_extend = $4, \
         invitation_id = CASE WHEN $5 = '' THEN invitation_id ELSE $5 END, update_time = $6 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(names(&grant.roles, Role::as_str_name))
    .bind(end_time)
    .bind(i64::from(grant.auto_extend))
    .bind(invitation_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_writers_write_decodes() {
        assert_eq!(stored_state("STATE_ACTIVE"), Some(State::Active));
        assert_eq!(stored_state("STATE_TERMINATED"), Some(State::Terminated));
        assert_eq!(stored_state("STATE_EXPIRED"), Some(State::Expired));
        assert_eq!(stored_state("STATE_UNSPECIFIED"), None);
        assert_eq!(
            stored_type("RELATIONSHIP_TYPE_RESELLER"),
            Some(RelationshipType::Reseller)
        );
        assert_eq!(stored_type("RELATIONSHIP_TYPE_UNSPECIFIED"), None);
    }
}
