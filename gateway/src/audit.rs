//! The audit trail: every change made through the gateway (and every change refused there once
//! the caller was known) is recorded with who, where, through which relationships, which method
//! and resource, and how it ended. The gateway keeps it in its own database. Which methods are
//! changes, and which request field names their resource, is the authorization table's `Audit`
//! column (`policy.rs`).
//!
//! A record is written before the caller gets the answer (the trailers wait for it), so what a
//! caller was told happened is always in the trail.

use crate::policy::{Access, Caller, field_text};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame};
use partnerhub_kit::page::Page;
use partnerhub_kit::status::{Fault, Violation, Violations};
use partnerhub_kit::store::Database;
use partnerhub_kit::time::{now_micros, timestamp};
use partnerhub_proto::gateway as gw;
use partnerhub_proto::gateway::audit_service_server::AuditService;
use prost_reflect::DynamicMessage;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tonic::body::Body;
use tonic::{Code, Request, Response, Status};

partnerhub_kit::migrations!(open);

/// An audit record waiting for its outcome.
#[derive(Debug, Clone)]
pub struct Draft {
    time: i64,
    user_id: String,
    user_name: String,
    actor_tenant_id: String,
    acting_tenant_id: String,
    relationship_ids: Vec<String>,
    method: String,
    resource_id: String,
    request_id: String,
    call_id: String,
    service_account: bool,
}

impl Draft {
    /// The record of a call to `path` by `caller`, acting where `access` says (for a refusal,
    /// the tenant the call named; `None`: its own), about the resource whose id is in request
    /// field `resource`. What the caller sent (the resource, the request id) is kept to
    /// [`MAX_SENT`] characters: a record is read by the tenant acted in, and any caller can make
    /// one there by being refused.
    pub fn new(
        path: &str,
        caller: &Caller,
        access: Option<&Access>,
        message: &DynamicMessage,
        resource: Option<&str>,
    ) -> Self {
        let (user_id, user_name, actor) = match caller {
            Caller::Operator => (String::new(), "operator".to_string(), String::new()),
            Caller::User(p) => (p.user_id.clone(), p.user_name.clone(), p.tenant_id.clone()),
        };
        let service_account = matches!(caller, Caller::User(p) if p.service_account);
        Draft {
            time: now_micros(),
            user_id,
            user_name,
            acting_tenant_id: access
                .map(|a| a.tenant_id.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| actor.clone()),
            actor_tenant_id: actor,
            relationship_ids: access.map(|a| a.through.clone()).unwrap_or_default(),
            method: path.trim_start_matches('/').to_string(),
            resource_id: resource
                .map(|field| bounded(field_text(message, field)))
                .unwrap_or_default(),
            request_id: bounded(field_text(message, "request_id")),
            call_id: partnerhub_kit::telemetry::current_request_id().unwrap_or_default(),
            service_account,
        }
    }
}

/// The most characters of a request's text a record keeps (an id is 36).
pub const MAX_SENT: usize = 64;

/// `text` cut to [`MAX_SENT`] characters, marked with "…" where cut.
fn bounded(text: String) -> String {
    match text.char_indices().nth(MAX_SENT) {
        None => text,
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// The audit trail's store.
#[derive(Debug, Clone)]
pub struct Trail {
    db: Database,
}

impl Trail {
    pub fn new(db: Database) -> Self {
        Trail { db }
    }

    /// Writes a record; a failure is logged (the call it records has happened either way).
    pub async fn record(&self, draft: Draft, outcome: Code) {
        let result = sqlx::query(
            "INSERT INTO audit_events (id, event_time, user_id, user_name, actor_tenant_id, \
             acting_tenant_id, relationship_ids, method, resource_id, outcome, request_id, call_id, \
             service_account) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(draft.time)
        .bind(&draft.user_id)
        .bind(&draft.user_name)
        .bind(&draft.actor_tenant_id)
        .bind(&draft.acting_tenant_id)
        .bind(draft.relationship_ids.join(","))
        .bind(&draft.method)
        .bind(&draft.resource_id)
        .bind(code_name(outcome))
        .bind(&draft.request_id)
        .bind(&draft.call_id)
        .bind(i64::from(draft.service_account))
        .execute(&self.db.pool)
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, method = %draft.method, "audit record not written");
        }
    }

    /// Wraps an answer so its record is written with the call's outcome before the caller gets
    /// the trailers.
    pub async fn answer(
        &self,
        draft: Draft,
        response: http::Response<Body>,
    ) -> http::Response<Body> {
        // A trailers-only answer (most errors) carries the status in its headers.
        if let Some(code) = status_of(response.headers()) {
            self.record(draft, code).await;
            return response;
        }
        let trail = self.clone();
        response.map(|inner| {
            Body::new(Audited {
                inner,
                trail,
                draft: Some(draft),
                pending: None,
                held: None,
            })
        })
    }
}

fn status_of(headers: &http::HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(Code::from_i32)
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

type Pending = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A response body that writes the audit record when the trailers come, before passing them on.
struct Audited {
    inner: Body,
    trail: Trail,
    draft: Option<Draft>,
    pending: Option<Pending>,
    held: Option<Frame<Bytes>>,
}

impl HttpBody for Audited {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        loop {
            if let Some(pending) = this.pending.as_mut() {
                ready!(pending.as_mut().poll(cx));
                this.pending = None;
                return Poll::Ready(this.held.take().map(Ok));
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) if frame.is_trailers() => {
                    let code = frame
                        .trailers_ref()
                        .and_then(status_of)
                        .unwrap_or(Code::Unknown);
                    match this.draft.take() {
                        Some(draft) => {
                            let trail = this.trail.clone();
                            this.pending =
                                Some(Box::pin(async move { trail.record(draft, code).await }));
                            this.held = Some(frame);
                        }
                        None => return Poll::Ready(Some(Ok(frame))),
                    }
                }
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none() && self.held.is_none() && self.inner.is_end_stream()
    }
}

impl Drop for Audited {
    fn drop(&mut self) {
        // The answer never finished (the caller went away, or the stream broke): record that.
        if let Some(draft) = self.draft.take() {
            let trail = self.trail.clone();
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move { trail.record(draft, Code::Cancelled).await });
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ListError {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Fault for ListError {
    fn code(&self) -> Code {
        match self {
            ListError::Invalid(_) => Code::InvalidArgument,
            ListError::Database(e) => partnerhub_kit::status::database_code(e),
        }
    }
    fn reason(&self) -> &str {
        match self {
            ListError::Invalid(_) => "INVALID_ARGUMENT",
            ListError::Database(_) => "INTERNAL",
        }
    }
    fn violations(&self) -> &[Violation] {
        match self {
            ListError::Invalid(v) => v.as_slice(),
            ListError::Database(_) => &[],
        }
    }
}

impl From<ListError> for Status {
    fn from(e: ListError) -> Self {
        partnerhub_kit::status::to_status(&e, crate::error::DOMAIN)
    }
}

/// `ListAuditEvents`, one statement per view so that each walks its own index in id order
/// (`audit_events_in_tenant`, `audit_events_by_tenant`); one statement with an OR of the two
/// merged both indexes and sorted every event of the tenant.
macro_rules! list_audit_events_sql {
    ($tenant_column:literal) => {
        concat!(
            "SELECT id, event_time, user_id, user_name, actor_tenant_id, acting_tenant_id, \
             relationship_ids, method, resource_id, outcome, request_id, call_id, service_account \
             FROM audit_events \
             WHERE ",
            $tenant_column,
            " = $2 AND id > $1 ORDER BY id LIMIT $3"
        )
    };
}
/// Events acting in the tenant (`VIEW_IN_TENANT`).
const LIST_IN_TENANT: &str = list_audit_events_sql!("acting_tenant_id");
/// Events by the tenant's users (`VIEW_BY_TENANT_USERS`).
const LIST_BY_TENANT: &str = list_audit_events_sql!("actor_tenant_id");

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    event_time: i64,
    user_id: String,
    user_name: String,
    actor_tenant_id: String,
    acting_tenant_id: String,
    relationship_ids: String,
    method: String,
    resource_id: String,
    outcome: String,
    request_id: String,
    call_id: String,
    service_account: i64,
}

#[tonic::async_trait]
impl AuditService for Trail {
    async fn list_audit_events(
        &self,
        request: Request<gw::ListAuditEventsRequest>,
    ) -> Result<Response<gw::ListAuditEventsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let tenant = v
            .take(partnerhub_kit::fields::id("tenant_id", &req.tenant_id))
            .map(|t| t.to_string())
            .unwrap_or_default();
        let (view, sql) = match gw::list_audit_events_request::View::try_from(req.view) {
            Ok(gw::list_audit_events_request::View::ByTenantUsers) => ("by", LIST_BY_TENANT),
            Ok(_) => ("in", LIST_IN_TENANT),
            Err(_) => {
                v.add("view", "is not a known value");
                ("in", LIST_IN_TENANT)
            }
        };
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "audit",
            &[&tenant, view],
        ));
        let page = v.done(page).map_err(ListError::Invalid)?;
        let rows: Vec<Row> = sqlx::query_as(sql)
            .bind(&page.after)
            .bind(&tenant)
            .bind(page.limit())
            .fetch_all(&self.db.pool)
            .await
            .map_err(ListError::from)?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.clone());
        Ok(Response::new(gw::ListAuditEventsResponse {
            events: rows
                .into_iter()
                .map(|r| gw::AuditEvent {
                    id: r.id,
                    event_time: Some(timestamp(r.event_time)),
                    user_id: r.user_id,
                    user_name: r.user_name,
                    actor_tenant_id: r.actor_tenant_id,
                    acting_tenant_id: r.acting_tenant_id,
                    relationship_ids: r
                        .relationship_ids
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    method: r.method,
                    resource_id: r.resource_id,
                    outcome: r.outcome,
                    request_id: r.request_id,
                    call_id: r.call_id,
                    service_account: r.service_account != 0,
                })
                .collect(),
            next_page_token,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_caller_sent_is_kept_to_a_bound() {
        let id = uuid::Uuid::now_v7().to_string();
        assert_eq!(bounded(id.clone()), id);
        let long = "å".repeat(10_000);
        let kept = bounded(long);
        assert_eq!(kept.chars().count(), MAX_SENT + 1);
        assert!(kept.ends_with('…'));
    }
}
