//! `WorkflowService`: what spans several services, composed here.
//!
//! Each workflow is all-or-nothing from the caller's point of view: every step is idempotent
//! by the workflow's request id, so a retry after a failure at any step finishes the work
//! without doing any step twice.

mod accept_invitation;
mod create_customer;
mod partners;

use crate::error::Error;
use crate::guard::Caller;
use partnerhub_kit::caller;
use partnerhub_kit::peers;
use partnerhub_kit::telemetry::Peer;
use partnerhub_proto::gateway as gw;
use partnerhub_proto::gateway::workflow_service_server::WorkflowService;
use partnerhub_proto::invitations::invitation_internal_service_client::InvitationInternalServiceClient;
use partnerhub_proto::relationships::relationship_internal_service_client::RelationshipInternalServiceClient;
use partnerhub_proto::subscriptions::subscription_internal_service_client::SubscriptionInternalServiceClient;
use partnerhub_proto::subscriptions::subscription_service_client::SubscriptionServiceClient;
use partnerhub_proto::tenants::Principal;
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
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
}

impl Workflows {
    pub fn new(backends: &crate::Backends) -> Self {
        Workflows {
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
}
