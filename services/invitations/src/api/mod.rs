//! The handlers of `InvitationService` and `InvitationInternalService`, cut by resource: parse
//! the request, apply the rules, call the store (and the tenants and subscriptions services),
//! answer. [`invitations`] are the inviter's (create, read, list, revoke), [`responses`] the
//! invitee's before accepting (preview, decline, look up by code), and [`redeem`] is accepting:
//! the rules of [`crate::acceptance`], then the atomic use. This file routes each method to its
//! handler and holds what several of them read.

mod invitations;
mod redeem;
mod responses;

use crate::Deps;
use crate::code;
use crate::domain::Invitation;
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::peers;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::Database;
use partnerhub_proto::invitations as pb;
use partnerhub_proto::invitations::invitation_internal_service_server::InvitationInternalService;
use partnerhub_proto::invitations::invitation_service_server::InvitationService;
use sqlx::AnyConnection;
use tonic::{Request, Response, Status};

/// The service over its database.
#[derive(Debug, Clone)]
pub struct Invitations {
    db: Database,
    deps: Deps,
    tenants: peers::Tenants,
    subscriptions: peers::Subscriptions,
}

type Conn = sqlx::pool::PoolConnection<sqlx::Any>;

impl Invitations {
    pub fn new(db: Database, deps: Deps) -> Self {
        Invitations {
            tenants: peers::Tenants::new(deps.tenants.clone()),
            subscriptions: peers::Subscriptions::new(deps.subscriptions.clone()),
            db,
            deps,
        }
    }

    async fn conn(&self) -> Result<Conn> {
        Ok(self.db.pool.acquire().await?)
    }
}

/// The invitation a code belongs to. An unknown and a malformed code answer alike.
async fn by_code(conn: &mut AnyConnection, code: &str) -> Result<Invitation> {
    let hash = code::lookup_hash(code).ok_or(Error::InvitationNotFound)?;
    store::by_code_hash(conn, &hash)
        .await?
        .ok_or(Error::InvitationNotFound)
}
/// A code as sent: required; whether it is well-formed is not told apart from whether it
/// exists (both are INVITATION_NOT_FOUND).
fn required_code(code: &str) -> Result<&str, Violations> {
    if code.is_empty() {
        Err(Violations::one(
            "code",
            "is required: the code from the link",
        ))
    } else {
        Ok(code)
    }
}

#[tonic::async_trait]
impl InvitationService for Invitations {
    async fn create_invitation(
        &self,
        request: Request<pb::CreateInvitationRequest>,
    ) -> Result<Response<pb::CreateInvitationResponse>, Status> {
        let roles = partnerhub_kit::caller::roles(&request);
        let created = self.create(request.into_inner(), roles.as_deref()).await?;
        Ok(Response::new(created))
    }

    async fn get_invitation(
        &self,
        request: Request<pb::GetInvitationRequest>,
    ) -> Result<Response<pb::GetInvitationResponse>, Status> {
        Ok(Response::new(self.get(request.get_ref()).await?))
    }

    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Result<Response<pb::ListInvitationsResponse>, Status> {
        Ok(Response::new(self.list(request.into_inner()).await?))
    }

    async fn preview_invitation(
        &self,
        request: Request<pb::PreviewInvitationRequest>,
    ) -> Result<Response<pb::PreviewInvitationResponse>, Status> {
        Ok(Response::new(self.preview(request.get_ref()).await?))
    }

    async fn decline_invitation(
        &self,
        request: Request<pb::DeclineInvitationRequest>,
    ) -> Result<Response<pb::DeclineInvitationResponse>, Status> {
        let roles = partnerhub_kit::caller::roles(&request);
        self.decline(request.into_inner(), roles.as_deref()).await?;
        Ok(Response::new(pb::DeclineInvitationResponse {}))
    }

    async fn revoke_invitation(
        &self,
        request: Request<pb::RevokeInvitationRequest>,
    ) -> Result<Response<pb::RevokeInvitationResponse>, Status> {
        let now = self.deps.clock.now();
        let roles = partnerhub_kit::caller::roles(&request);
        let row = self.revoke(request.into_inner(), roles.as_deref()).await?;
        Ok(Response::new(pb::RevokeInvitationResponse {
            invitation: Some(row.to_proto(now)),
        }))
    }
}

#[tonic::async_trait]
impl InvitationInternalService for Invitations {
    async fn lookup_invitation(
        &self,
        request: Request<pb::LookupInvitationRequest>,
    ) -> Result<Response<pb::LookupInvitationResponse>, Status> {
        Ok(Response::new(self.lookup(request.get_ref()).await?))
    }

    async fn redeem_invitation(
        &self,
        request: Request<pb::RedeemInvitationRequest>,
    ) -> Result<Response<pb::RedeemInvitationResponse>, Status> {
        let roles = partnerhub_kit::caller::roles(&request);
        let answer = self.accept(request.into_inner(), roles).await?;
        Ok(Response::new(answer))
    }
}
