//! The invitations service's SQL: every statement it runs, one text for SQLite and PostgreSQL,
//! and how its rows decode into [`Invitation`].
//!
//! Times come from the caller (the service's clock), never from the database, so tests can
//! move the clock and every backend agrees on "now". A stored PENDING row past its
//! `expire_time` reads as EXPIRED, and every state change is guarded by [`usable!`] (still
//! pending, not expired at `$now`) in its own WHERE, so a check and the change it allows can't
//! be split by a concurrent call.
//!
//! The table keeps enums as their protobuf value names (bound, never spelled in the SQL), roles
//! comma-separated, line items as `<offer id>:<quantity>` comma-separated, flags as 0 or 1 and
//! times as microseconds. A value no writer writes is a decode error, not a default.

use crate::domain::{Invitation, InvitationFilter, Kind, Line, Locale, State};
use crate::error::Result;
use partnerhub_kit::page::Page;
use partnerhub_kit::row::{enum_at, enums_at, flag_at, names, split, undecodable};
use partnerhub_proto::types::{Cloud, Role};
use partnerhub_rules::delegation::Grant;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};
use std::time::Duration;

// ---- decoding ----

/// The delegated admin an invitation asks for: the flag, then the grant's roles, duration in
/// seconds (0: no end) and auto-extend.
fn delegated_admin_at(row: &AnyRow) -> sqlx::Result<Option<Grant>> {
    if !flag_at(row, "delegated_admin")? {
        return Ok(None);
    }
    const SECONDS: &str = "delegated_admin_duration_seconds";
    let seconds: i64 = row.try_get(SECONDS)?;
    let seconds = u64::try_from(seconds).map_err(|_| undecodable(SECONDS, seconds))?;
    Ok(Some(Grant {
        roles: enums_at(row, "delegated_admin_roles", Role::from_str_name)?,
        duration: (seconds != 0).then(|| Duration::from_secs(seconds)),
        auto_extend: flag_at(row, "delegated_admin_auto_extend")?,
    }))
}

fn line_items_at(row: &AnyRow) -> sqlx::Result<Vec<Line>> {
    let stored: &str = row.try_get("line_items")?;
    decode_line_items(stored).ok_or_else(|| undecodable("line_items", stored))
}

/// Line items as the table keeps them: `<offer id>:<quantity>` joined by `,` ("" for none).
fn encode_line_items(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| format!("{}:{}", l.offer_id, l.quantity))
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_line_items(stored: &str) -> Option<Vec<Line>> {
    split(stored)
        .map(|item| {
            let (id, quantity) = item.split_once(':')?;
            Some(Line {
                offer_id: uuid::Uuid::parse_str(id).ok()?,
                quantity: quantity.parse().ok()?,
            })
        })
        .collect()
}

// ---- invitations ----

/// The columns of an invitation row, as [`Invitation`]'s `FromRow` reads them and [`insert`]
/// writes them (never the code hash).
macro_rules! invitation_columns {
    () => {
        "id, kind, inviter_tenant_id, invitee_tenant_id, invitee_email, locale, cloud, \
         delegated_admin, delegated_admin_roles, delegated_admin_duration_seconds, \
         delegated_admin_auto_extend, line_items, state, reusable, use_count, \
         responded_tenant_id, expire_time, create_time, update_time"
    };
}

/// The guard of every change of a pending invitation: stored PENDING (parameter `$pending`),
/// not expired at `$now`.
macro_rules! usable {
    ($pending:literal, $now:literal) => {
        concat!("state = ", $pending, " AND expire_time > ", $now)
    };
}

impl FromRow<'_, AnyRow> for Invitation {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Invitation {
            id: row.try_get("id")?,
            kind: enum_at(row, "kind", Kind::from_name)?,
            inviter_tenant_id: row.try_get("inviter_tenant_id")?,
            invitee_tenant_id: row.try_get("invitee_tenant_id")?,
            invitee_email: row.try_get("invitee_email")?,
            locale: enum_at(row, "locale", Locale::from_tag)?,
            cloud: enum_at(row, "cloud", Cloud::from_str_name)?,
            delegated_admin: delegated_admin_at(row)?,
            line_items: line_items_at(row)?,
            state: enum_at(row, "state", State::from_name)?,
            reusable: flag_at(row, "reusable")?,
            use_count: row.try_get("use_count")?,
            responded_tenant_id: row.try_get("responded_tenant_id")?,
            expire_time: row.try_get("expire_time")?,
            create_time: row.try_get("create_time")?,
            update_time: row.try_get("update_time")?,
        })
    }
}

/// Writes a new invitation, whose link's code hashes to `code_hash`.
pub async fn insert(conn: &mut AnyConnection, i: &Invitation, code_hash: &str) -> Result<()> {
    let grant = i.delegated_admin.as_ref();
    sqlx::query(concat!(
        "INSERT INTO invitations (",
        invitation_columns!(),
        ", code_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19, $20)"
    ))
    .bind(&i.id)
    .bind(i.kind.name())
    .bind(&i.inviter_tenant_id)
    .bind(&i.invitee_tenant_id)
    .bind(&i.invitee_email)
    .bind(i.locale.tag())
    .bind(i.cloud.as_str_name())
    .bind(i64::from(grant.is_some()))
    .bind(
        grant
            .map(|g| names(&g.roles, Role::as_str_name))
            .unwrap_or_default(),
    )
    .bind(
        grant
            .and_then(|g| g.duration)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0),
    )
    .bind(i64::from(grant.is_some_and(|g| g.auto_extend)))
    .bind(encode_line_items(&i.line_items))
    .bind(i.state.name())
    .bind(i64::from(i.reusable))
    .bind(i.use_count)
    .bind(&i.responded_tenant_id)
    .bind(i.expire_time)
    .bind(i.create_time)
    .bind(i.update_time)
    .bind(code_hash)
    .execute(conn)
    .await?;
    Ok(())
}

/// One of the inviter's invitations.
pub async fn by_id(
    conn: &mut AnyConnection,
    inviter_tenant_id: &str,
    id: &str,
) -> Result<Option<Invitation>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        invitation_columns!(),
        " FROM invitations WHERE id = $1 AND inviter_tenant_id = $2"
    ))
    .bind(id)
    .bind(inviter_tenant_id)
    .fetch_optional(conn)
    .await?)
}

/// The invitation whose code hashes to `code_hash`.
pub async fn by_code_hash(conn: &mut AnyConnection, code_hash: &str) -> Result<Option<Invitation>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        invitation_columns!(),
        " FROM invitations WHERE code_hash = $1"
    ))
    .bind(code_hash)
    .fetch_optional(conn)
    .await?)
}

/// A page of `ListInvitations`, through `invitations_by_inviter`. The state filter ($4; $7 is
/// PENDING, $8 EXPIRED) says what [`Invitation::state_at`] says.
pub async fn list(
    conn: &mut AnyConnection,
    f: &InvitationFilter,
    now: i64,
    page: &Page,
) -> Result<Vec<Invitation>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        invitation_columns!(),
        " FROM invitations WHERE inviter_tenant_id = $1 AND id > $2 \
         AND ($3 = '' OR kind = $3) \
         AND ($4 = '' \
           OR ($4 = $7 AND state = $7 AND expire_time > $5) \
           OR ($4 = $8 AND state = $7 AND expire_time <= $5) \
           OR ($4 <> $7 AND $4 <> $8 AND state = $4)) \
         ORDER BY id LIMIT $6"
    ))
    .bind(&f.inviter_tenant_id)
    .bind(&page.after)
    .bind(f.kind.map_or("", Kind::name))
    .bind(f.state.map_or("", State::name))
    .bind(now)
    .bind(page.limit())
    .bind(State::Pending.name())
    .bind(State::Expired.name())
    .fetch_all(conn)
    .await?)
}

/// Declines a usable invitation for `tenant_id`. `false` if it is not usable.
pub async fn decline(
    conn: &mut AnyConnection,
    id: &str,
    tenant_id: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(concat!(
        "UPDATE invitations SET state = $4, responded_tenant_id = $2, \
         update_time = $3 WHERE id = $1 AND reusable = 0 AND ",
        usable!("$5", "$3")
    ))
    .bind(id)
    .bind(tenant_id)
    .bind(now)
    .bind(State::Declined.name())
    .bind(State::Pending.name())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes one of the inviter's usable invitations. `false` if there is none.
pub async fn revoke(
    conn: &mut AnyConnection,
    inviter_tenant_id: &str,
    id: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(concat!(
        "UPDATE invitations SET state = $4, update_time = $3 \
         WHERE id = $1 AND inviter_tenant_id = $2 AND ",
        usable!("$5", "$3")
    ))
    .bind(id)
    .bind(inviter_tenant_id)
    .bind(now)
    .bind(State::Revoked.name())
    .bind(State::Pending.name())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Uses an invitation for `tenant_id`. A single-use invitation becomes ACCEPTED: of two
/// concurrent calls exactly one changes the row (the other finds it no longer pending). A
/// reusable one counts one more use and stays pending. `false` if it is not usable.
pub async fn redeem(
    conn: &mut AnyConnection,
    invitation: &Invitation,
    tenant_id: &str,
    now: i64,
) -> Result<bool> {
    let done = if invitation.reusable {
        sqlx::query(concat!(
            "UPDATE invitations SET use_count = use_count + 1, update_time = $2 \
             WHERE id = $1 AND reusable = 1 AND ",
            usable!("$3", "$2")
        ))
        .bind(&invitation.id)
        .bind(now)
        .bind(State::Pending.name())
        .execute(conn)
        .await?
    } else {
        sqlx::query(concat!(
            "UPDATE invitations SET state = $4, responded_tenant_id = $2, \
             use_count = use_count + 1, update_time = $3 WHERE id = $1 AND reusable = 0 AND ",
            usable!("$5", "$3")
        ))
        .bind(&invitation.id)
        .bind(tenant_id)
        .bind(now)
        .bind(State::Accepted.name())
        .bind(State::Pending.name())
        .execute(conn)
        .await?
    };
    Ok(done.rows_affected() == 1)
}

/// The request id (maybe "") with which `tenant_id` redeemed the invitation, if it did.
pub async fn redemption(
    conn: &mut AnyConnection,
    invitation_id: &str,
    tenant_id: &str,
) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT request_id FROM redemptions WHERE invitation_id = $1 AND tenant_id = $2",
    )
    .bind(invitation_id)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(r,)| r))
}

pub async fn insert_redemption(
    conn: &mut AnyConnection,
    invitation_id: &str,
    tenant_id: &str,
    request_id: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO redemptions (invitation_id, tenant_id, request_id, create_time) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(invitation_id)
    .bind(tenant_id)
    .bind(request_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_items_decode_as_written_or_not_at_all() {
        let lines: Vec<Line> = (1..=20)
            .map(|quantity| Line {
                offer_id: uuid::Uuid::now_v7(),
                quantity,
            })
            .collect();
        assert_eq!(decode_line_items(&encode_line_items(&lines)), Some(lines));
        assert_eq!(decode_line_items(""), Some(vec![]));
        assert_eq!(decode_line_items("nope:1"), None);
        assert_eq!(
            decode_line_items("00000000-0000-0000-0000-000000000001"),
            None
        );
    }
}
