//! `WorkflowService`: what spans several services, composed here.
//!
//! Each workflow is all-or-nothing from the caller's point of view: every step is idempotent
//! by the workflow's request id, so a retry after a failure at any step finishes the work
//! without doing any step twice.

mod accept_invitation;

use crate::error::Error;
use crate::guard::Caller;
use partnerhub_kit::caller;
use partnerhub_proto::gateway as gw;
use partnerhub_proto::gateway::workflow_service_server::WorkflowService;
use partnerhub_proto::invitations::invitation_internal_service_client::InvitationInternalServiceClient;
use partnerhub_proto::relationships::relationship_internal_service_client::RelationshipInternalServiceClient;
use partnerhub_proto::tenants::Principal;
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// Clients of the services the workflows call.
#[derive(Clone)]
pub struct Workflows {
    pub tenants: TenantServiceClient<Channel>,
    pub relationships: RelationshipInternalServiceClient<Channel>,
    pub invitations: InvitationInternalServiceClient<Channel>,
}

impl Workflows {
    pub fn new(backends: &crate::Backends) -> Self {
        Workflows {
            tenants: TenantServiceClient::new(backends.tenants.clone()),
            relationships: RelationshipInternalServiceClient::new(backends.relationships.clone()),
            invitations: InvitationInternalServiceClient::new(backends.invitations.clone()),
        }
    }
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
}
