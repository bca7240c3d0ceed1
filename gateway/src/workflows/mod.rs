//! `WorkflowService`: what spans several services, composed here.
//!
//! Each workflow is all-or-nothing from the caller's point of view: every step is idempotent
//! by the workflow's request id, so a retry after a failure at any step finishes the work
//! without doing any step twice. The workflows of several writes (`CreateCustomer`,
//! `AcceptInvitation`) are recorded in the journal before their first write and finished by a
//! gateway if their caller's call doesn't finish them (`resume.rs`); one refused for good is
//! undone where it left something.

mod accept_invitation;
mod create_customer;
mod journal;
mod partners;
mod resume;

pub use resume::{Resumption, UNFINISHED_GAUGE, resume};

use crate::error::Error;
use crate::guard::Caller;
use journal::{Journal, Kind, Progress, Record, Submitted, error_text};
use partnerhub_kit::caller;
use partnerhub_kit::page::Page;
use partnerhub_kit::peers;
use partnerhub_kit::status::Violations;
use partnerhub_kit::telemetry::Peer;
use partnerhub_kit::time::{micros, now_micros};
use partnerhub_proto::gateway as gw;
use partnerhub_proto::gateway::workflow_service_server::WorkflowService;
use partnerhub_proto::invitations::invitation_internal_service_client::InvitationInternalServiceClient;
use partnerhub_proto::relationships::relationship_internal_service_client::RelationshipInternalServiceClient;
use partnerhub_proto::subscriptions::subscription_internal_service_client::SubscriptionInternalServiceClient;
use partnerhub_proto::subscriptions::subscription_service_client::SubscriptionServiceClient;
use partnerhub_proto::tenants::Principal;
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use resume::permanent;
use tonic::{Request, Response, Status};

/// Clients of the services the workflows call.
#[derive(Clone)]
pub struct Workflows {
    pub tenants: TenantServiceClient<Peer>,
    pub tenants_internal: TenantInternalServiceClient<Peer>,
    /// Tenants named by tenant id or partner ID.
    pub directory: peers::Tenants,
    pub relationships: RelationshipInternalServiceClient<Peer>,
    /// Who may sell to whom (the relationships service's rule).
    pub sellers: peers::Relationships,
    pub invitations: InvitationInternalServiceClient<Peer>,
    pub subscriptions: SubscriptionServiceClient<Peer>,
    pub subscriptions_internal: SubscriptionInternalServiceClient<Peer>,
    /// Where the workflows that finish without their caller are recorded.
    journal: Journal,
    resumption: Resumption,
}

impl Workflows {
    /// The workflows over `backends`, recorded in the gateway's database `db`.
    pub fn new(
        backends: &crate::Backends,
        db: partnerhub_kit::store::Database,
        resumption: Resumption,
    ) -> Self {
        Workflows {
            journal: Journal::new(db),
            resumption,
            tenants: TenantServiceClient::new(backends.tenants.clone()),
            tenants_internal: TenantInternalServiceClient::new(backends.tenants.clone()),
            directory: peers::Tenants::new(backends.tenants.clone()),
            relationships: RelationshipInternalServiceClient::new(backends.relationships.clone()),
            sellers: peers::Relationships::new(backends.relationships.clone()),
            invitations: InvitationInternalServiceClient::new(backends.invitations.clone()),
            subscriptions: SubscriptionServiceClient::new(backends.subscriptions.clone()),
            subscriptions_internal: SubscriptionInternalServiceClient::new(
                backends.subscriptions.clone(),
            ),
        }
    }
}

impl Workflows {
    /// A workflow's retry after it failed for good is answered as the workflow was.
    async fn refuse_if_failed(&self, kind: Kind, key: &str) -> Result<(), Status> {
        match self
            .journal
            .progress(kind, key)
            .await
            .map_err(Error::from)?
        {
            Some(Progress::Failed(status)) => Err(status),
            _ => Ok(()),
        }
    }

    /// Runs a workflow's `writes`, recorded first so that a gateway finishes them if this call
    /// doesn't, and records how they ended: done; failed for good (what they made undone); or
    /// stopped, for a gateway to take up again after `Resumption::after`. A retry of a workflow
    /// that failed is answered with its failure; of one that is done, by its steps again (each
    /// answers what it made).
    async fn recorded<A>(
        &self,
        submitted: Submitted<'_>,
        writes: impl Future<Output = Result<A, Status>>,
    ) -> Result<A, Status> {
        let (kind, key) = (submitted.kind, submitted.key.as_str());
        let now = now_micros();
        let (resume_at, give_up_at) = (
            now.saturating_add(micros(self.resumption.after)),
            now.saturating_add(micros(self.resumption.give_up_after)),
        );
        let progress = self
            .journal
            .begin(&submitted, resume_at, give_up_at)
            .await
            .map_err(Error::from)?;
        match progress {
            Progress::Failed(status) => return Err(status),
            Progress::Done => return writes.await,
            Progress::Running => {}
        }
        let outcome = writes.await;
        let recorded = match &outcome {
            Ok(_) => self.journal.done(kind, key).await,
            Err(status) if permanent(status) => {
                self.failed(kind, key, status).await;
                Ok(())
            }
            Err(status) => {
                let next = now_micros().saturating_add(micros(self.resumption.after));
                self.journal
                    .stopped(kind, key, &error_text(status), next)
                    .await
            }
        };
        if let Err(e) = recorded {
            // It stays unfinished: a gateway takes it up and records it then.
            tracing::error!(error = %e, workflow = kind.method(), "a workflow's end not recorded");
        }
        outcome
    }

    /// A workflow refused for good: what it made is undone, then it is recorded as failed with
    /// `status`. If the undo can't be done now, it stays unfinished, to be tried again.
    async fn failed(&self, kind: Kind, key: &str, status: &Status) {
        let recorded = match self.undo(kind, key).await {
            Ok(()) => self.journal.failed(kind, key, status).await,
            Err(e) => {
                let next = now_micros().saturating_add(micros(self.resumption.after));
                let error = format!("undoing after {}: {}", error_text(status), error_text(&e));
                self.journal.stopped(kind, key, &error, next).await
            }
        };
        if let Err(e) = recorded {
            tracing::error!(error = %e, workflow = kind.method(), "a workflow's failure not recorded");
        }
    }

    /// Undoes what a workflow refused for good had made.
    async fn undo(&self, kind: Kind, key: &str) -> Result<(), Status> {
        match kind {
            Kind::CreateCustomer => create_customer::release(self, key).await,
            // Its writes (the redeem, the agreement, the relationships, the subscriptions) are
            // each all or nothing; one made stays, the invitation stays used.
            Kind::AcceptInvitation => Ok(()),
        }
    }
}

/// One step's request id, derived from the workflow's: each service keeps its own request ids,
/// and a retry of the workflow derives the same ones.
fn step_id(workflow: &uuid::Uuid, step: &str) -> String {
    uuid::Uuid::new_v5(workflow, step.as_bytes()).to_string()
}

/// The signed-in user behind a workflow call (the guard put it there).
fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    match request.extensions().get::<Caller>() {
        Some(Caller::User(p)) => Ok(p.clone()),
        // The table lets only tenant users call workflows; say so if that ever changes.
        _ => Err(Error::NotForOperator("this workflow".into()).into()),
    }
}

/// A request to a service on behalf of `who`, so the service records the right user.
fn on_behalf<T>(message: T, who: &Principal) -> Request<T> {
    let mut request = Request::new(message);
    for (name, value) in [
        (caller::USER_ID, &who.user_id),
        (caller::TENANT_ID, &who.tenant_id),
    ] {
        if let Ok(v) = value.parse() {
            request.metadata_mut().insert(name, v);
        }
    }
    request
}

#[tonic::async_trait]
impl WorkflowService for Workflows {
    async fn accept_invitation(
        &self,
        request: Request<gw::AcceptInvitationRequest>,
    ) -> Result<Response<gw::AcceptInvitationResponse>, Status> {
        let who = principal(&request)?;
        let answer = accept_invitation::run(self, &who, request.into_inner()).await?;
        Ok(Response::new(answer))
    }

    async fn create_customer(
        &self,
        request: Request<gw::CreateCustomerRequest>,
    ) -> Result<Response<gw::CreateCustomerResponse>, Status> {
        let who = principal(&request)?;
        let answer = create_customer::run(self, &who, request.into_inner()).await?;
        Ok(Response::new(answer))
    }

    async fn set_partner_of_record(
        &self,
        request: Request<gw::SetPartnerOfRecordRequest>,
    ) -> Result<Response<gw::SetPartnerOfRecordResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let mpn_id = req.mpn_id.trim().to_string();
        // "Check ID": the partner exists (NOT_FOUND otherwise); the subscriptions service then
        // checks it is an advisor in the customer's cloud as it records it. Empty clears it.
        let partner = if mpn_id.is_empty() {
            None
        } else {
            self.tenants
                .clone()
                .verify_partner_id(partnerhub_proto::tenants::VerifyPartnerIdRequest {
                    mpn_id: mpn_id.clone(),
                })
                .await
                .map_err(crate::error::relay)?
                .into_inner()
                .partner
        };
        let updated = self
            .subscriptions
            .clone()
            .update_subscription(on_behalf(
                partnerhub_proto::subscriptions::UpdateSubscriptionRequest {
                    tenant_id: req.tenant_id,
                    subscription: Some(partnerhub_proto::subscriptions::Subscription {
                        id: req.subscription_id,
                        partner_of_record_mpn_id: mpn_id,
                        etag: req.etag,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["partner_of_record_mpn_id".into()],
                    }),
                },
                &who,
            ))
            .await
            .map_err(crate::error::relay)?
            .into_inner();
        Ok(Response::new(gw::SetPartnerOfRecordResponse {
            subscription: updated.subscription,
            partner,
        }))
    }

    async fn add_subscriptions(
        &self,
        request: Request<gw::AddSubscriptionsRequest>,
    ) -> Result<Response<gw::AddSubscriptionsResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        // An order with the reseller on it: the subscriptions service checks the relationship
        // to the customer, the agreement, the reseller's partnership and the line items.
        let placed = self
            .subscriptions
            .clone()
            .place_order(on_behalf(
                partnerhub_proto::subscriptions::PlaceOrderRequest {
                    customer_tenant_id: req.customer_tenant_id,
                    partner_tenant_id: req.partner_tenant_id,
                    indirect_reseller_id: req.indirect_reseller_id,
                    line_items: req.line_items,
                    reseller_is_support_contact: req.reseller_is_support_contact,
                    validate_only: false,
                    request_id: req.request_id,
                },
                &who,
            ))
            .await
            .map_err(crate::error::relay)?
            .into_inner();
        Ok(Response::new(gw::AddSubscriptionsResponse {
            order: placed.order,
            subscriptions: placed.subscriptions,
        }))
    }

    async fn redeem_product_key(
        &self,
        request: Request<gw::RedeemProductKeyRequest>,
    ) -> Result<Response<gw::RedeemProductKeyResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        // One step: the subscriptions service checks the relationship to the customer (as for
        // AddSubscriptions), the agreement and the key, and marks the key used and creates the
        // subscription in one transaction.
        let redeemed = self
            .subscriptions_internal
            .clone()
            .redeem_product_key(on_behalf(
                partnerhub_proto::subscriptions::RedeemProductKeyRequest {
                    partner_tenant_id: req.partner_tenant_id,
                    customer_tenant_id: req.customer_tenant_id,
                    product_key: req.product_key,
                    request_id: req.request_id,
                },
                &who,
            ))
            .await
            .map_err(crate::error::relay)?
            .into_inner();
        Ok(Response::new(gw::RedeemProductKeyResponse {
            order: redeemed.order,
            subscription: redeemed.subscription,
        }))
    }

    async fn list_unfinished_workflows(
        &self,
        request: Request<gw::ListUnfinishedWorkflowsRequest>,
    ) -> Result<Response<gw::ListUnfinishedWorkflowsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let kind = match gw::WorkflowKind::try_from(req.kind) {
            Ok(wire) => Kind::of(wire),
            Err(_) => {
                v.add("kind", "is not a known value");
                None
            }
        };
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "workflows",
            &[kind.map_or("", Kind::method)],
        ));
        let page = v.done(page).map_err(Error::Invalid)?;
        let rows = self
            .journal
            .unfinished(kind, &page)
            .await
            .map_err(Error::from)?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.clone());
        Ok(Response::new(gw::ListUnfinishedWorkflowsResponse {
            workflows: rows.iter().map(Record::to_proto).collect(),
            next_page_token,
        }))
    }
}
