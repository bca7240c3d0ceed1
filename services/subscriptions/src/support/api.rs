//! The handlers of `SupportService`: parse the request, apply the rules of [`super::domain`],
//! call [`super::store`], answer. Who may call each method is the gateway's table; which
//! requests a tenant sees is [`ServiceRequest::is_visible_to`], applied here to every read and
//! change, so a request another partner's is NOT_FOUND like one that does not exist.

use super::Support;
use super::domain::{MAX_TEXT, NewServiceRequest, Note, RequestFilter, ServiceRequest};
use super::error::{Error, Result};
use super::store;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{fingerprint, write_once};
use partnerhub_kit::{caller, fields};
use partnerhub_proto::support as pb;
use sqlx::AnyConnection;
use tonic::Request;
use uuid::Uuid;

/// The methods whose request ids are remembered (`request_ids.method`).
const CREATE: &str = "CreateServiceRequest";
const ADD_NOTE: &str = "AddServiceRequestNote";

/// The request `id`, if `tenant_id` sees it; NOT_FOUND otherwise, as if it did not exist.
async fn visible(conn: &mut AnyConnection, tenant_id: &str, id: &str) -> Result<ServiceRequest> {
    store::request(conn, id)
        .await?
        .filter(|r| r.is_visible_to(tenant_id))
        .ok_or_else(|| Error::ServiceRequestNotFound(id.to_string()))
}

/// The tenant acting and the request it names, each checked by its field.
fn parse_target(
    v: &mut Violations,
    tenant_id: &str,
    service_request_id: &str,
) -> Option<(String, String)> {
    let tenant = v.take(fields::id("tenant_id", tenant_id));
    let id = v.take(fields::id("service_request_id", service_request_id));
    tenant.zip(id).map(|(t, i)| (t.to_string(), i.to_string()))
}

/// A fingerprint of a request together with who sends it: the same request id from another
/// caller is another request (AIP-155's REQUEST_ID_REUSED), not that caller's retry.
fn fingerprint_by(request: &impl prost::Message, tenant_id: &str, user_id: &str) -> String {
    format!("{} {tenant_id} {user_id}", fingerprint(request))
}

impl Support {
    pub(super) async fn create_service_request(
        &self,
        request: Request<pb::CreateServiceRequestRequest>,
    ) -> Result<pb::ServiceRequest> {
        // The gateway names the caller's own tenant: the customer's, or for a partner's agent
        // acting through delegated admin or advisor, the partner's.
        let author_tenant = caller::tenant_id(&request);
        let author_user = caller::user_id(&request);
        let req = request.into_inner();
        let mut v = Violations::new();
        let new = v.take(NewServiceRequest::parse(req.service_request.as_ref()));
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        let new = v.done(new)?;
        let fingerprint = fingerprint_by(
            &pb::CreateServiceRequestRequest {
                request_id: String::new(),
                ..req
            },
            &author_tenant,
            &author_user,
        );
        let now = self.now();
        let written = write_once(&self.db, CREATE, request_id, &fingerprint, async |tx| {
            if let Some(subscription) = &new.subscription_id {
                let customer = store::subscription_customer(tx, subscription).await?;
                if customer.as_deref() != Some(new.customer_tenant_id.as_str()) {
                    return Err(Error::SubscriptionNotFound(subscription.clone()));
                }
            }
            let opened = new.clone().opened(
                Uuid::now_v7().to_string(),
                &author_tenant,
                &author_user,
                now,
            );
            store::insert_request(tx, &opened).await?;
            Ok(opened.id)
        })
        .await?;
        let id = written.resource();
        let mut conn = self.conn().await?;
        let opened = visible(&mut conn, &new.customer_tenant_id, &id).await?;
        let notes = store::notes(&mut conn, &id).await?;
        Ok(opened.to_proto(&notes))
    }

    pub(super) async fn get_service_request(
        &self,
        req: &pb::GetServiceRequestRequest,
    ) -> Result<pb::ServiceRequest> {
        let mut v = Violations::new();
        let target = parse_target(&mut v, &req.tenant_id, &req.service_request_id);
        let (tenant_id, id) = v.done(target)?;
        self.read(&tenant_id, &id).await
    }

    /// The request with its notes, as `tenant_id` sees it.
    async fn read(&self, tenant_id: &str, id: &str) -> Result<pb::ServiceRequest> {
        let mut conn = self.conn().await?;
        let request = visible(&mut conn, tenant_id, id).await?;
        let notes = store::notes(&mut conn, id).await?;
        Ok(request.to_proto(&notes))
    }

    pub(super) async fn list_service_requests(
        &self,
        req: &pb::ListServiceRequestsRequest,
    ) -> Result<pb::ListServiceRequestsResponse> {
        let mut v = Violations::new();
        let filter = v.take(RequestFilter::parse(req));
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "service_requests",
            &[
                &req.customer_tenant_id,
                &req.partner_tenant_id,
                &req.state.to_string(),
                &req.severity.to_string(),
            ],
        ));
        let (filter, page) = v.done(filter.zip(page))?;
        let rows = store::list_requests(&mut *self.conn().await?, &filter, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.clone());
        Ok(pb::ListServiceRequestsResponse {
            service_requests: rows.iter().map(|r| r.to_proto(&[])).collect(),
            next_page_token,
        })
    }

    pub(super) async fn add_service_request_note(
        &self,
        request: Request<pb::AddServiceRequestNoteRequest>,
    ) -> Result<pb::ServiceRequest> {
        let author_user = caller::user_id(&request);
        let req = request.into_inner();
        let mut v = Violations::new();
        let target = parse_target(&mut v, &req.tenant_id, &req.service_request_id);
        let text = v.take(fields::paragraphs("text", &req.text, MAX_TEXT));
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        let ((tenant_id, id), text) = v.done(target.zip(text))?;
        let fingerprint = fingerprint_by(
            &pb::AddServiceRequestNoteRequest {
                request_id: String::new(),
                ..req
            },
            &tenant_id,
            &author_user,
        );
        let now = self.now();
        write_once(&self.db, ADD_NOTE, request_id, &fingerprint, async |tx| {
            let row = visible(tx, &tenant_id, &id).await?;
            if row.is_closed() {
                return Err(Error::Closed(id.clone()));
            }
            let note = Note {
                id: Uuid::now_v7().to_string(),
                service_request_id: id.clone(),
                author_tenant_id: tenant_id.clone(),
                author_user_id: author_user.clone(),
                text: text.clone(),
                create_time: now,
            };
            store::insert_note(tx, &note).await?;
            if !store::update_request(tx, &row.noted(&tenant_id, now)).await? {
                return Err(Error::Contended);
            }
            Ok(note.id)
        })
        .await?;
        self.read(&tenant_id, &id).await
    }

    pub(super) async fn close_service_request(
        &self,
        req: &pb::CloseServiceRequestRequest,
    ) -> Result<pb::ServiceRequest> {
        let mut v = Violations::new();
        let target = parse_target(&mut v, &req.tenant_id, &req.service_request_id);
        let resolution = v.take(fields::paragraphs("resolution", &req.resolution, MAX_TEXT));
        let etag = v.take(fields::etag("etag", &req.etag)).flatten();
        let ((tenant_id, id), resolution) = v.done(target.zip(resolution))?;
        let now = self.now();
        let mut tx = self.db.pool.begin().await?;
        let row = visible(&mut tx, &tenant_id, &id).await?;
        if row.is_closed() {
            return Err(Error::Closed(id));
        }
        if let Some(sent) = etag
            && sent != row.version
        {
            return Err(Error::StaleEtag {
                sent: fields::etag_of(sent),
                current: fields::etag_of(row.version),
            });
        }
        if !store::update_request(&mut tx, &row.closed(&tenant_id, resolution, now)).await? {
            return Err(Error::Contended);
        }
        tx.commit().await?;
        self.read(&tenant_id, &id).await
    }
}
