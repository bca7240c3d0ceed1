//! The relationships service's SQL: every statement it runs, one text for SQLite and PostgreSQL.
//!
//! A row stores ACTIVE or TERMINATED; whether an active delegated admin has EXPIRED depends on
//! the time, so every statement that filters by state takes the service's `now` as a parameter
//! and uses [`active_at!`] or [`expired_at!`], the SQL form of [`domain::state_at`].

use crate::domain::{self, ListFilter, NewRelationship};
use crate::error::Result;
use partnerhub_kit::page::Page;
use partnerhub_kit::time::{optional_timestamp, timestamp};
use partnerhub_proto::relationships::{self as pb, RelationshipType, relationship::State};
use partnerhub_proto::types::Role;
use partnerhub_rules::delegation::Grant;
use sqlx::AnyConnection;

/// The columns of a relationship row, in [`RelationshipRow`]'s order.
macro_rules! columns {
    () => {
        "id, type, partner_tenant_id, client_tenant_id, state, indirect_provider_tenant_id, roles, \
         end_time, auto_extend, invitation_id, create_time, update_time, terminate_time"
    };
}

/// Active at the time in parameter `$now` (see [`domain::state_at`]).
macro_rules! active_at {
    ($now:literal) => {
        concat!(
            "(state = 'STATE_ACTIVE' AND (end_time = 0 OR auto_extend <> 0 OR end_time > ",
            $now,
            "))"
        )
    };
}

/// Expired at the time in parameter `$now` (see [`domain::state_at`]).
macro_rules! expired_at {
    ($now:literal) => {
        concat!(
            "(state = 'STATE_ACTIVE' AND end_time <> 0 AND auto_extend = 0 AND end_time <= ",
            $now,
            ")"
        )
    };
}

const ACTIVE: &str = "STATE_ACTIVE";
const TERMINATED: &str = "STATE_TERMINATED";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RelationshipRow {
    pub id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub partner_tenant_id: String,
    pub client_tenant_id: String,
    pub state: String,
    pub indirect_provider_tenant_id: String,
    pub roles: String,
    pub end_time: i64,
    pub auto_extend: i64,
    pub invitation_id: String,
    pub create_time: i64,
    pub update_time: i64,
    pub terminate_time: i64,
}

impl RelationshipRow {
    pub fn kind(&self) -> RelationshipType {
        RelationshipType::from_str_name(&self.kind).unwrap_or(RelationshipType::Unspecified)
    }

    pub fn roles(&self) -> Vec<Role> {
        self.roles
            .split(',')
            .filter_map(Role::from_str_name)
            .collect()
    }

    fn is_terminated(&self) -> bool {
        self.state == TERMINATED
    }

    pub fn state_at(&self, now: i64) -> State {
        domain::state_at(
            self.is_terminated(),
            self.end_time,
            self.auto_extend != 0,
            now,
        )
    }

    /// Whether `tenant_id` is the partner or the client.
    pub fn is_party(&self, tenant_id: &str) -> bool {
        self.partner_tenant_id == tenant_id || self.client_tenant_id == tenant_id
    }

    /// Whether `tenant_id` may read it: a party, or the indirect provider of an indirect
    /// reseller.
    pub fn is_visible_to(&self, tenant_id: &str) -> bool {
        self.is_party(tenant_id)
            || (!self.indirect_provider_tenant_id.is_empty()
                && self.indirect_provider_tenant_id == tenant_id)
    }

    /// The relationship as a reader sees it at `now`.
    pub fn to_proto(&self, now: i64) -> pb::Relationship {
        // A terminated grant stopped extending when it ended.
        let at = if self.is_terminated() {
            self.terminate_time
        } else {
            now
        };
        pb::Relationship {
            id: self.id.clone(),
            r#type: self.kind() as i32,
            partner_tenant_id: self.partner_tenant_id.clone(),
            client_tenant_id: self.client_tenant_id.clone(),
            state: self.state_at(now) as i32,
            indirect_provider_tenant_id: self.indirect_provider_tenant_id.clone(),
            roles: self.roles().into_iter().map(|r| r as i32).collect(),
            end_time: domain::shown_end(self.end_time, self.auto_extend != 0, at).map(timestamp),
            auto_extend: self.auto_extend != 0,
            invitation_id: self.invitation_id.clone(),
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            terminate_time: optional_timestamp(Some(self.terminate_time)),
        }
    }
}

/// Roles as the table keeps them: names in enum order, comma-separated.
fn join_roles(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str_name())
        .collect::<Vec<_>>()
        .join(",")
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<RelationshipRow>> {
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
/// whole table. Each variant uses every parameter (PostgreSQL wants the bound count).
macro_rules! list_sql {
    ($parties:literal) => {
        concat!(
            "SELECT ",
            columns!(),
            " FROM relationships WHERE ",
            $parties,
            " AND id > $1 AND ($4 = '' OR type = $4) \
             AND ($5 = '' \
                  OR ($5 = 'STATE_ACTIVE' AND ",
            active_at!("$6"),
            ") OR ($5 = 'STATE_EXPIRED' AND ",
            expired_at!("$6"),
            ") OR ($5 = 'STATE_TERMINATED' AND state = 'STATE_TERMINATED')) \
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
) -> Result<Vec<RelationshipRow>> {
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
        .bind(&f.kind)
        .bind(&f.state)
        .bind(now)
        .bind(page.limit())
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
         AND type <> 'RELATIONSHIP_TYPE_INDIRECT_PARTNERSHIP' AND ",
        active_at!("$3"),
        " ORDER BY partner_tenant_id LIMIT $4"
    ))
    .bind(customer_tenant_id)
    .bind(&page.after)
    .bind(now)
    .bind(page.limit())
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
) -> Result<Vec<RelationshipRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM relationships WHERE client_tenant_id = $1 \
         AND partner_tenant_id > $2 AND partner_tenant_id <= $3 \
         AND type <> 'RELATIONSHIP_TYPE_INDIRECT_PARTNERSHIP' AND ",
        active_at!("$4"),
        " ORDER BY partner_tenant_id, id"
    ))
    .bind(customer_tenant_id)
    .bind(after)
    .bind(last)
    .bind(now)
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
           AND type <> 'RELATIONSHIP_TYPE_INDIRECT_PARTNERSHIP' AND ",
        active_at!("$4"),
        " ORDER BY client_tenant_id LIMIT $5) AS direct \
         UNION \
         SELECT client_tenant_id FROM (\
           SELECT DISTINCT client_tenant_id FROM relationships \
           WHERE indirect_provider_tenant_id = $1 AND client_tenant_id > $2 \
           AND type = 'RELATIONSHIP_TYPE_INDIRECT_RESELLER' \
           AND ($3 = '' OR partner_tenant_id = $3) AND ",
        active_at!("$4"),
        " ORDER BY client_tenant_id LIMIT $5) AS indirect \
         ORDER BY client_tenant_id LIMIT $5"
    ))
    .bind(partner_tenant_id)
    .bind(&page.after)
    .bind(indirect_reseller_id)
    .bind(now)
    .bind(page.limit())
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
) -> Result<Vec<RelationshipRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM relationships WHERE client_tenant_id > $2 AND client_tenant_id <= $3 \
         AND ((partner_tenant_id = $1 AND type <> 'RELATIONSHIP_TYPE_INDIRECT_PARTNERSHIP') \
              OR (indirect_provider_tenant_id = $1 \
                  AND type = 'RELATIONSHIP_TYPE_INDIRECT_RESELLER')) AND ",
        active_at!("$4"),
        " ORDER BY client_tenant_id, id"
    ))
    .bind(partner_tenant_id)
    .bind(after)
    .bind(last)
    .bind(now)
    .fetch_all(conn)
    .await?)
}

/// Every active relationship of a partner with a client, oldest first.
pub async fn active_between(
    conn: &mut AnyConnection,
    partner_tenant_id: &str,
    client_tenant_id: &str,
    now: i64,
) -> Result<Vec<RelationshipRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM relationships WHERE client_tenant_id = $1 AND partner_tenant_id = $2 AND ",
        active_at!("$3"),
        " ORDER BY id"
    ))
    .bind(client_tenant_id)
    .bind(partner_tenant_id)
    .bind(now)
    .fetch_all(conn)
    .await?)
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
        active_at!("$5"),
        " LIMIT 1"
    ))
    .bind(customer_tenant_id)
    .bind(RelationshipType::Reseller.as_str_name())
    .bind(partner_tenant_id)
    .bind(RelationshipType::IndirectReseller.as_str_name())
    .bind(now)
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
        active_at!("$4"),
        " LIMIT 1"
    ))
    .bind(reseller_tenant_id)
    .bind(provider_tenant_id)
    .bind(RelationshipType::IndirectPartnership.as_str_name())
    .bind(now)
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
) -> Result<Vec<RelationshipRow>> {
    let mut rows: Vec<RelationshipRow> = sqlx::query_as(concat!(
        "UPDATE relationships SET state = 'STATE_TERMINATED', terminate_time = $3, \
         update_time = $3 WHERE client_tenant_id = $1 AND partner_tenant_id = $2 \
         AND type = 'RELATIONSHIP_TYPE_DELEGATED_ADMIN' AND ",
        active_at!("$3"),
        " RETURNING ",
        columns!()
    ))
    .bind(client_tenant_id)
    .bind(partner_tenant_id)
    .bind(now)
    .fetch_all(conn)
    .await?;
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(rows)
}

/// Terminates one relationship if it is still stored active; `false` if it was not.
pub async fn terminate(conn: &mut AnyConnection, id: &str, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE relationships SET state = 'STATE_TERMINATED', terminate_time = $2, \
         update_time = $2 WHERE id = $1 AND state = 'STATE_ACTIVE'",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The active relationship of the same kind between the same parties (and under the same
/// indirect provider) as `new`, if there is one; the oldest if several.
pub async fn find_active(
    conn: &mut AnyConnection,
    new: &NewRelationship,
    now: i64,
) -> Result<Option<RelationshipRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM relationships WHERE client_tenant_id = $1 AND partner_tenant_id = $2 \
         AND type = $3 AND indirect_provider_tenant_id = $4 AND ",
        active_at!("$5"),
        " ORDER BY id LIMIT 1"
    ))
    .bind(&new.client_tenant_id)
    .bind(&new.partner_tenant_id)
    .bind(new.kind.as_str_name())
    .bind(&new.indirect_provider_tenant_id)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

pub async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    new: &NewRelationship,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO relationships (id, type, partner_tenant_id, client_tenant_id, state, \
         indirect_provider_tenant_id, roles, end_time, auto_extend, invitation_id, create_time, \
         update_time, terminate_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 0)",
    )
    .bind(id)
    .bind(new.kind.as_str_name())
    .bind(&new.partner_tenant_id)
    .bind(&new.client_tenant_id)
    .bind(ACTIVE)
    .bind(&new.indirect_provider_tenant_id)
    .bind(join_roles(new.roles()))
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
    .bind(join_roles(&grant.roles))
    .bind(end_time)
    .bind(i64::from(grant.auto_extend))
    .bind(invitation_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
