//! Contact requests' SQL (table `contact_requests`, migration 0007). Reads join the customer's
//! name from `tenants`, so a partner sees the customer as it is named now.

use super::micros_of;
use crate::domain::{Contact, ContactRequest, SentLately};
use crate::error::Result;
use partnerhub_kit::page::Page;
use partnerhub_kit::row::time_at;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The columns of a request row, with its customer's name.
macro_rules! request_columns {
    () => {
        "r.id, r.group_id, r.customer_tenant_id, t.display_name AS customer_display_name, \
         r.partner_tenant_id, r.needs, r.contact_first_name, r.contact_last_name, \
         r.contact_email, r.contact_phone, r.invitation_id, r.create_time, r.answer_time \
         FROM contact_requests r JOIN tenants t ON t.id = r.customer_tenant_id"
    };
}

impl FromRow<'_, AnyRow> for ContactRequest {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        let answered: i64 = row.try_get("answer_time")?;
        Ok(ContactRequest {
            id: row.try_get("id")?,
            group_id: row.try_get("group_id")?,
            customer_tenant_id: row.try_get("customer_tenant_id")?,
            customer_display_name: row.try_get("customer_display_name")?,
            partner_tenant_id: row.try_get("partner_tenant_id")?,
            needs: row.try_get("needs")?,
            contact: Contact {
                first_name: row.try_get("contact_first_name")?,
                last_name: row.try_get("contact_last_name")?,
                email: row.try_get("contact_email")?,
                phone: row.try_get("contact_phone")?,
            },
            invitation_id: row.try_get("invitation_id")?,
            create_time: time_at(row, "create_time")?,
            answer_time: (answered != 0)
                .then(|| time_at(row, "answer_time"))
                .transpose()?,
        })
    }
}

/// What `customer` sent after `since`: calls, partners, and when the oldest was sent.
pub async fn sent_since(
    conn: &mut AnyConnection,
    customer: &str,
    since: SystemTime,
) -> Result<SentLately> {
    let (requests, partners, oldest): (i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(DISTINCT group_id), COUNT(*), MIN(create_time) FROM contact_requests \
         WHERE customer_tenant_id = $1 AND create_time > $2",
    )
    .bind(customer)
    .bind(micros_of(since))
    .fetch_one(conn)
    .await?;
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(SentLately {
        requests: count(requests),
        partners: count(partners),
        oldest: oldest
            .and_then(|m| u64::try_from(m).ok())
            .map(|m| UNIX_EPOCH + Duration::from_micros(m)),
    })
}

pub async fn insert(conn: &mut AnyConnection, r: &ContactRequest) -> Result<()> {
    sqlx::query(
        "INSERT INTO contact_requests (id, group_id, customer_tenant_id, partner_tenant_id, \
         needs, contact_first_name, contact_last_name, contact_email, contact_phone, \
         create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&r.id)
    .bind(&r.group_id)
    .bind(&r.customer_tenant_id)
    .bind(&r.partner_tenant_id)
    .bind(&r.needs)
    .bind(&r.contact.first_name)
    .bind(&r.contact.last_name)
    .bind(&r.contact.email)
    .bind(&r.contact.phone)
    .bind(micros_of(r.create_time))
    .execute(conn)
    .await?;
    Ok(())
}

/// The copies one `ContactPartners` sent, in the order it named the partners.
pub async fn group(conn: &mut AnyConnection, group_id: &str) -> Result<Vec<ContactRequest>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        request_columns!(),
        " WHERE r.group_id = $1 ORDER BY r.id"
    ))
    .bind(group_id)
    .fetch_all(conn)
    .await?)
}

/// A page of the requests sent to `partner`, oldest first.
pub async fn of_partner(
    conn: &mut AnyConnection,
    partner: &str,
    page: &Page,
) -> Result<Vec<ContactRequest>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        request_columns!(),
        " WHERE r.partner_tenant_id = $1 AND r.id > $2 ORDER BY r.id LIMIT $3"
    ))
    .bind(partner)
    .bind(&page.after)
    .bind(page.limit())
    .fetch_all(conn)
    .await?)
}

pub async fn by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<ContactRequest>> {
    Ok(
        sqlx::query_as(concat!("SELECT ", request_columns!(), " WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Records `invitation_id` as the answer to request `id` if it has none yet; `false` when it
/// has one (a concurrent answer too: only one update finds it unanswered).
pub async fn answer(
    conn: &mut AnyConnection,
    id: &str,
    invitation_id: &str,
    now: SystemTime,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE contact_requests SET invitation_id = $2, answer_time = $3 \
         WHERE id = $1 AND invitation_id = ''",
    )
    .bind(id)
    .bind(invitation_id)
    .bind(micros_of(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
