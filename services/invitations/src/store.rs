//! The invitations service's SQL: every statement it runs, one text for SQLite and PostgreSQL.
//!
//! Times come from the caller (the service's clock), never from the database, so tests can
//! move the clock and every backend agrees on "now". A stored PENDING row past its
//! `expire_time` reads as EXPIRED, and every state change is guarded by
//! `state = 'STATE_PENDING' AND expire_time > $now` in its own WHERE, so a check and the change
//! it allows can't be split by a concurrent call.

use crate::domain::{Line, State};
use crate::error::Result;
use partnerhub_kit::page::Page;
use partnerhub_kit::time::timestamp;
use partnerhub_proto::invitations::{self as pb, InvitationKind};
use partnerhub_proto::types::{Cloud, Role};
use partnerhub_rules::delegation::Grant;
use sqlx::AnyConnection;

/// The columns of an invitation row, in [`InvitationRow`]'s order (never the code hash).
macro_rules! invitation_columns {
    () => {
        "id, kind, inviter_tenant_id, invitee_tenant_id, invitee_email, locale, cloud, \
         delegated_admin, delegated_admin_roles, delegated_admin_duration_seconds, \
         delegated_admin_auto_extend, line_items, state, reusable, use_count, \
         responded_tenant_id, expire_time, create_time, update_time"
    };
}

/// The guard of every change of a pending invitation: still pending, not expired at `$now`.
macro_rules! usable {
    ($now:literal) => {
        concat!("state = 'STATE_PENDING' AND expire_time > ", $now)
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: String,
    pub kind: String,
    pub inviter_tenant_id: String,
    pub invitee_tenant_id: String,
    pub invitee_email: String,
    pub locale: String,
    pub cloud: String,
    pub delegated_admin: i64,
    pub delegated_admin_roles: String,
    pub delegated_admin_duration_seconds: i64,
    pub delegated_admin_auto_extend: i64,
    /// [`Line::encode`]'s form.
    pub line_items: String,
    pub state: String,
    pub reusable: i64,
    pub use_count: i64,
    pub responded_tenant_id: String,
    pub expire_time: i64,
    pub create_time: i64,
    pub update_time: i64,
}

impl InvitationRow {
    /// The state every read shows at `now`.
    pub fn state(&self, now: i64) -> State {
        State::effective(&self.state, self.expire_time, now)
    }

    pub fn is_reusable(&self) -> bool {
        self.reusable != 0
    }

    /// Whether only `tenant_id` may use it.
    pub fn is_for_another(&self, tenant_id: &str) -> bool {
        !self.invitee_tenant_id.is_empty() && self.invitee_tenant_id != tenant_id
    }

    pub fn kind(&self) -> InvitationKind {
        InvitationKind::from_str_name(&self.kind).unwrap_or(InvitationKind::Unspecified)
    }

    pub fn cloud(&self) -> Cloud {
        Cloud::from_str_name(&self.cloud).unwrap_or(Cloud::Unspecified)
    }

    pub fn delegated_admin(&self) -> Option<pb::DelegatedAdminRequest> {
        (self.delegated_admin != 0).then(|| pb::DelegatedAdminRequest {
            roles: self
                .delegated_admin_roles
                .split(',')
                .filter_map(Role::from_str_name)
                .map(|r| r as i32)
                .collect(),
            duration: (self.delegated_admin_duration_seconds > 0).then_some(
                prost_types::Duration {
                    seconds: self.delegated_admin_duration_seconds,
                    nanos: 0,
                },
            ),
            auto_extend: self.delegated_admin_auto_extend != 0,
        })
    }

    /// The offers it carries.
    pub fn line_items(&self) -> Vec<partnerhub_proto::types::LineItem> {
        Line::decode(&self.line_items)
            .iter()
            .map(Line::to_proto)
            .collect()
    }

    /// The invitation as clients see it at `now`.
    pub fn to_proto(&self, now: i64) -> pb::Invitation {
        pb::Invitation {
            id: self.id.clone(),
            kind: self.kind() as i32,
            inviter_tenant_id: self.inviter_tenant_id.clone(),
            invitee_tenant_id: self.invitee_tenant_id.clone(),
            invitee_email: self.invitee_email.clone(),
            locale: self.locale.clone(),
            delegated_admin: self.delegated_admin(),
            line_items: self.line_items(),
            state: self.state(now).proto() as i32,
            reusable: self.is_reusable(),
            use_count: i32::try_from(self.use_count).unwrap_or(i32::MAX),
            expire_time: Some(timestamp(self.expire_time)),
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            cloud: self.cloud() as i32,
            responded_tenant_id: self.responded_tenant_id.clone(),
        }
    }
}

/// A checked invitation to insert.
pub struct InvitationInsert<'a> {
    pub id: &'a str,
    pub kind: InvitationKind,
    pub inviter_tenant_id: &'a str,
    pub invitee_tenant_id: &'a str,
    pub invitee_email: &'a str,
    pub locale: &'a str,
    pub cloud: Cloud,
    pub delegated_admin: Option<&'a Grant>,
    /// [`Line::encode`]'s form.
    pub line_items: &'a str,
    pub code_hash: &'a str,
    pub reusable: bool,
    pub expire_time: i64,
    pub now: i64,
}

pub async fn insert(conn: &mut AnyConnection, i: &InvitationInsert<'_>) -> Result<()> {
    let grant = i.delegated_admin;
    sqlx::query(
        "INSERT INTO invitations (id, kind, inviter_tenant_id, invitee_tenant_id, invitee_email, \
         locale, cloud, delegated_admin, delegated_admin_roles, \
         delegated_admin_duration_seconds, delegated_admin_auto_extend, line_items, code_hash, \
         state, reusable, use_count, responded_tenant_id, expire_time, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'STATE_PENDING', $14, 0, \
         '', $15, $16, $16)",
    )
    .bind(i.id)
    .bind(i.kind.as_str_name())
    .bind(i.inviter_tenant_id)
    .bind(i.invitee_tenant_id)
    .bind(i.invitee_email)
    .bind(i.locale)
    .bind(i.cloud.as_str_name())
    .bind(i64::from(grant.is_some()))
    .bind(
        grant
            .map(|g| {
                g.roles
                    .iter()
                    .map(|r| r.as_str_name())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
    )
    .bind(
        grant
            .and_then(|g| g.duration)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0),
    )
    .bind(i64::from(grant.is_some_and(|g| g.auto_extend)))
    .bind(i.line_items)
    .bind(i.code_hash)
    .bind(i64::from(i.reusable))
    .bind(i.expire_time)
    .bind(i.now)
    .execute(conn)
    .await?;
    Ok(())
}

/// One of the inviter's invitations.
pub async fn by_id(
    conn: &mut AnyConnection,
    inviter_tenant_id: &str,
    id: &str,
) -> Result<Option<InvitationRow>> {
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
pub async fn by_code_hash(
    conn: &mut AnyConnection,
    code_hash: &str,
) -> Result<Option<InvitationRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        invitation_columns!(),
        " FROM invitations WHERE code_hash = $1"
    ))
    .bind(code_hash)
    .fetch_optional(conn)
    .await?)
}

/// Filters of `ListInvitations`, as stored text ("" for "any").
pub struct InvitationFilter {
    pub inviter_tenant_id: String,
    pub kind: String,
    /// An effective state: PENDING and EXPIRED are told apart by `expire_time`.
    pub state: String,
}

pub async fn list(
    conn: &mut AnyConnection,
    f: &InvitationFilter,
    now: i64,
    page: &Page,
) -> Result<Vec<InvitationRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        invitation_columns!(),
        " FROM invitations WHERE inviter_tenant_id = $1 AND id > $2 \
         AND ($3 = '' OR kind = $3) \
         AND ($4 = '' \
           OR ($4 = 'STATE_PENDING' AND state = 'STATE_PENDING' AND expire_time > $5) \
           OR ($4 = 'STATE_EXPIRED' AND state = 'STATE_PENDING' AND expire_time <= $5) \
           OR ($4 NOT IN ('STATE_PENDING', 'STATE_EXPIRED') AND state = $4)) \
         ORDER BY id LIMIT $6"
    ))
    .bind(&f.inviter_tenant_id)
    .bind(&page.after)
    .bind(&f.kind)
    .bind(&f.state)
    .bind(now)
    .bind(page.limit())
    .fetch_all(conn)
    .await?)
}

/// Gives a usable invitation a new code (a create's retry: the first code is not kept, so the
/// retry can only show a new one, and the old one stops working). `false` if not usable.
pub async fn replace_code(
    conn: &mut AnyConnection,
    id: &str,
    code_hash: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(concat!(
        "UPDATE invitations SET code_hash = $2, update_time = $3 WHERE id = $1 AND ",
        usable!("$3")
    ))
    .bind(id)
    .bind(code_hash)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Declines a usable invitation for `tenant_id`. `false` if it is not usable.
pub async fn decline(
    conn: &mut AnyConnection,
    id: &str,
    tenant_id: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(concat!(
        "UPDATE invitations SET state = 'STATE_DECLINED', responded_tenant_id = $2, \
         update_time = $3 WHERE id = $1 AND reusable = 0 AND ",
        usable!("$3")
    ))
    .bind(id)
    .bind(tenant_id)
    .bind(now)
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
        "UPDATE invitations SET state = 'STATE_REVOKED', update_time = $3 \
         WHERE id = $1 AND inviter_tenant_id = $2 AND ",
        usable!("$3")
    ))
    .bind(id)
    .bind(inviter_tenant_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Uses an invitation for `tenant_id`. A single-use invitation becomes ACCEPTED: of two
/// concurrent calls exactly one changes the row (the other finds it no longer pending). A
/// reusable one counts one more use and stays pending. `false` if it is not usable.
pub async fn redeem(
    conn: &mut AnyConnection,
    row: &InvitationRow,
    tenant_id: &str,
    now: i64,
) -> Result<bool> {
    let done = if row.is_reusable() {
        sqlx::query(concat!(
            "UPDATE invitations SET use_count = use_count + 1, update_time = $2 \
             WHERE id = $1 AND reusable = 1 AND ",
            usable!("$2")
        ))
        .bind(&row.id)
        .bind(now)
        .execute(conn)
        .await?
    } else {
        sqlx::query(concat!(
            "UPDATE invitations SET state = 'STATE_ACCEPTED', responded_tenant_id = $2, \
             use_count = use_count + 1, update_time = $3 WHERE id = $1 AND reusable = 0 AND ",
            usable!("$3")
        ))
        .bind(&row.id)
        .bind(tenant_id)
        .bind(now)
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
