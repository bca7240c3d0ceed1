//! The support service's SQL, one text for SQLite and PostgreSQL. A request is always read
//! joined to its subscription, whose `support_contact_tenant_id` says whose queue it is in now.

use super::domain::{Note, RequestFilter, ServiceRequest, Severity, State};
use super::error::Result;
use partnerhub_kit::page::Page;
use partnerhub_kit::row::{enum_at, optional_at};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};

/// The columns of a request row (`r`) with its subscription's support contact (`s`).
macro_rules! request_columns {
    () => {
        "r.id, r.customer_tenant_id, r.subscription_id, r.title, r.description, r.severity, \
         r.state, r.contact_email, r.contact_phone, r.acting_partner_tenant_id, \
         r.creator_user_id, r.resolution, r.closer_tenant_id, r.create_time, r.update_time, \
         r.close_time, r.version, \
         COALESCE(s.support_contact_tenant_id, '') AS support_contact_tenant_id"
    };
}

/// The request rows joined to their subscriptions.
macro_rules! requests_joined {
    () => {
        " FROM service_requests r LEFT JOIN subscriptions s ON s.id = r.subscription_id"
    };
}

impl<'r> FromRow<'r, AnyRow> for ServiceRequest {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(ServiceRequest {
            id: row.try_get("id")?,
            customer_tenant_id: row.try_get("customer_tenant_id")?,
            subscription_id: row.try_get("subscription_id")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            severity: enum_at(row, "severity", Severity::from_str_name)?,
            state: enum_at(row, "state", State::from_str_name)?,
            contact_email: row.try_get("contact_email")?,
            contact_phone: row.try_get("contact_phone")?,
            acting_partner_tenant_id: row.try_get("acting_partner_tenant_id")?,
            creator_user_id: row.try_get("creator_user_id")?,
            support_contact_tenant_id: row.try_get("support_contact_tenant_id")?,
            resolution: row.try_get("resolution")?,
            closer_tenant_id: row.try_get("closer_tenant_id")?,
            create_time: row.try_get("create_time")?,
            update_time: row.try_get("update_time")?,
            close_time: optional_at(row, "close_time")?,
            version: row.try_get("version")?,
        })
    }
}

impl<'r> FromRow<'r, AnyRow> for Note {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(Note {
            id: row.try_get("id")?,
            service_request_id: row.try_get("service_request_id")?,
            author_tenant_id: row.try_get("author_tenant_id")?,
            author_user_id: row.try_get("author_user_id")?,
            text: row.try_get("text")?,
            create_time: row.try_get("create_time")?,
        })
    }
}

/// The customer a subscription belongs to, if it exists.
pub async fn subscription_customer(
    conn: &mut AnyConnection,
    subscription_id: &str,
) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT customer_tenant_id FROM subscriptions WHERE id = $1")
            .bind(subscription_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(customer,)| customer))
}

/// Writes a new request (its support contact is the subscription's, not stored here).
pub async fn insert_request(conn: &mut AnyConnection, r: &ServiceRequest) -> Result<()> {
    sqlx::query(
        "INSERT INTO service_requests (id, customer_tenant_id, subscription_id, title, \
         description, severity, state, contact_email, contact_phone, acting_partner_tenant_id, \
         creator_user_id, resolution, closer_tenant_id, create_time, update_time, close_time, \
         version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&r.id)
    .bind(&r.customer_tenant_id)
    .bind(&r.subscription_id)
    .bind(&r.title)
    .bind(&r.description)
    .bind(r.severity.as_str_name())
    .bind(r.state.as_str_name())
    .bind(&r.contact_email)
    .bind(&r.contact_phone)
    .bind(&r.acting_partner_tenant_id)
    .bind(&r.creator_user_id)
    .bind(&r.resolution)
    .bind(&r.closer_tenant_id)
    .bind(r.create_time)
    .bind(r.update_time)
    .bind(r.close_time.unwrap_or(0))
    .bind(r.version)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn request(conn: &mut AnyConnection, id: &str) -> Result<Option<ServiceRequest>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        request_columns!(),
        requests_joined!(),
        " WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// `ListServiceRequests`, one statement per index: a customer's by `service_requests_by_customer`,
/// a partner's queue (requests it acts in, or whose subscription it is the support contact of)
/// by `service_requests_by_acting_partner` and `subscriptions_by_support_contact`. `$n = ''`
/// stands for a filter known unset.
macro_rules! list_requests_sql {
    ($customer:literal) => {
        concat!(
            "SELECT ",
            request_columns!(),
            requests_joined!(),
            " WHERE r.id > $1 AND ",
            $customer,
            " AND ($3 = '' OR r.acting_partner_tenant_id = $3 \
                  OR r.subscription_id IN \
                     (SELECT id FROM subscriptions WHERE support_contact_tenant_id = $3)) \
             AND ($4 = '' OR r.state = $4) AND ($5 = '' OR r.severity = $5) \
             ORDER BY r.id LIMIT $6"
        )
    };
}

/// A page of `ListServiceRequests`, oldest first.
pub async fn list_requests(
    conn: &mut AnyConnection,
    f: &RequestFilter,
    page: &Page,
) -> Result<Vec<ServiceRequest>> {
    let sql = if f.customer_tenant_id.is_empty() {
        list_requests_sql!("$2 = ''")
    } else {
        list_requests_sql!("r.customer_tenant_id = $2")
    };
    Ok(sqlx::query_as(sql)
        .bind(&page.after)
        .bind(&f.customer_tenant_id)
        .bind(&f.partner_tenant_id)
        .bind(f.state.map_or("", |s| s.as_str_name()))
        .bind(f.severity.map_or("", |s| s.as_str_name()))
        .bind(page.limit())
        .fetch_all(conn)
        .await?)
}

/// Writes what a note or a close changes (state, resolution, closer, times) if the request is
/// still at `next.version`; `false` if a concurrent change got there first.
pub async fn update_request(conn: &mut AnyConnection, next: &ServiceRequest) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE service_requests SET state = $3, resolution = $4, closer_tenant_id = $5, \
         update_time = $6, close_time = $7, version = version + 1 \
         WHERE id = $1 AND version = $2",
    )
    .bind(&next.id)
    .bind(next.version)
    .bind(next.state.as_str_name())
    .bind(&next.resolution)
    .bind(&next.closer_tenant_id)
    .bind(next.update_time)
    .bind(next.close_time.unwrap_or(0))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn insert_note(conn: &mut AnyConnection, note: &Note) -> Result<()> {
    sqlx::query(
        "INSERT INTO service_request_notes (id, service_request_id, author_tenant_id, \
         author_user_id, text, create_time) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&note.id)
    .bind(&note.service_request_id)
    .bind(&note.author_tenant_id)
    .bind(&note.author_user_id)
    .bind(&note.text)
    .bind(note.create_time)
    .execute(conn)
    .await?;
    Ok(())
}

/// The notes of a request, oldest first.
pub async fn notes(conn: &mut AnyConnection, service_request_id: &str) -> Result<Vec<Note>> {
    Ok(sqlx::query_as(
        "SELECT id, service_request_id, author_tenant_id, author_user_id, text, create_time \
         FROM service_request_notes WHERE service_request_id = $1 ORDER BY id",
    )
    .bind(service_request_id)
    .fetch_all(conn)
    .await?)
}
