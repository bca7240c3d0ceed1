//! The handlers of `RelationshipService` and `RelationshipInternalService`, cut by resource:
//! parse the request, apply the rules, call the store, answer. [`relationships`] are the
//! relationships themselves (list, read, create, terminate), [`parties`] a customer's partners
//! and a partner's customers, [`access`] what a partner may do in a customer tenant (the check
//! behind delegated access, removing admin roles), [`sellers`] who may sell to whom, and
//! [`purchases`] which partners see each other's purchases for a customer (MPSA). This
//! file routes each method to its handler. Every handler reads the time once, from the
//! service's clock, so one answer never mixes two "nows".

mod access;
mod parties;
mod purchases;
mod relationships;
mod sellers;

use crate::Deps;
use crate::error::Result;
use partnerhub_kit::peers;
use partnerhub_kit::store::Database;
use partnerhub_proto::relationships as pb;
use partnerhub_proto::relationships::relationship_internal_service_server::RelationshipInternalService;
use partnerhub_proto::relationships::relationship_service_server::RelationshipService;
use tonic::{Request, Response, Status};

/// The relationships service over its database.
#[derive(Debug, Clone)]
pub struct Relationships {
    db: Database,
    deps: Deps,
    tenants: peers::Tenants,
}

type Conn = sqlx::pool::PoolConnection<sqlx::Any>;

impl Relationships {
    pub fn new(db: Database, deps: Deps) -> Self {
        Relationships {
            tenants: peers::Tenants::new(deps.tenants.clone()),
            db,
            deps,
        }
    }

    async fn conn(&self) -> Result<Conn> {
        Ok(self.db.pool.acquire().await?)
    }

    fn now(&self) -> i64 {
        self.deps.clock.now()
    }
}

#[tonic::async_trait]
impl RelationshipService for Relationships {
    async fn list_relationships(
        &self,
        request: Request<pb::ListRelationshipsRequest>,
    ) -> Result<Response<pb::ListRelationshipsResponse>, Status> {
        Ok(Response::new(
            self.list_relationships(request.into_inner()).await?,
        ))
    }

    async fn get_relationship(
        &self,
        request: Request<pb::GetRelationshipRequest>,
    ) -> Result<Response<pb::GetRelationshipResponse>, Status> {
        let relationship = self.get_relationship(request.get_ref()).await?;
        Ok(Response::new(pb::GetRelationshipResponse {
            relationship: Some(relationship),
        }))
    }

    async fn list_partners_of_customer(
        &self,
        request: Request<pb::ListPartnersOfCustomerRequest>,
    ) -> Result<Response<pb::ListPartnersOfCustomerResponse>, Status> {
        Ok(Response::new(
            self.list_partners_of_customer(request.get_ref()).await?,
        ))
    }

    async fn list_customers_of_partner(
        &self,
        request: Request<pb::ListCustomersOfPartnerRequest>,
    ) -> Result<Response<pb::ListCustomersOfPartnerResponse>, Status> {
        Ok(Response::new(
            self.list_customers_of_partner(request.get_ref()).await?,
        ))
    }

    async fn remove_admin_roles(
        &self,
        request: Request<pb::RemoveAdminRolesRequest>,
    ) -> Result<Response<pb::RemoveAdminRolesResponse>, Status> {
        Ok(Response::new(
            self.remove_admin_roles(request.get_ref()).await?,
        ))
    }

    async fn terminate_relationship(
        &self,
        request: Request<pb::TerminateRelationshipRequest>,
    ) -> Result<Response<pb::TerminateRelationshipResponse>, Status> {
        let roles = partnerhub_kit::caller::roles(&request);
        let relationship = self
            .terminate_relationship(request.get_ref(), roles.as_deref())
            .await?;
        Ok(Response::new(pb::TerminateRelationshipResponse {
            relationship: Some(relationship),
        }))
    }
}

#[tonic::async_trait]
impl RelationshipInternalService for Relationships {
    async fn create_relationships(
        &self,
        request: Request<pb::CreateRelationshipsRequest>,
    ) -> Result<Response<pb::CreateRelationshipsResponse>, Status> {
        let relationships = self.create_relationships(request.into_inner()).await?;
        Ok(Response::new(pb::CreateRelationshipsResponse {
            relationships,
        }))
    }

    async fn check_access(
        &self,
        request: Request<pb::CheckAccessRequest>,
    ) -> Result<Response<pb::CheckAccessResponse>, Status> {
        Ok(Response::new(self.check_access(request.get_ref()).await?))
    }

    async fn check_seller(
        &self,
        request: Request<pb::CheckSellerRequest>,
    ) -> Result<Response<pb::CheckSellerResponse>, Status> {
        Ok(Response::new(self.check_seller(request.get_ref()).await?))
    }

    async fn list_mpsa_partners(
        &self,
        request: Request<pb::ListMpsaPartnersRequest>,
    ) -> Result<Response<pb::ListMpsaPartnersResponse>, Status> {
        Ok(Response::new(
            self.list_mpsa_partners(request.get_ref()).await?,
        ))
    }
}
