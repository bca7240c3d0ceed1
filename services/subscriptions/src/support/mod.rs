//! `partnerhub.support.v1.SupportService`: customers' service requests, and the partners that
//! answer them (seeds 001, 003, 004).
//!
//! Why it runs in the subscriptions server: partnerhub is four services, each with its own
//! database, and a partner's queue is "the requests about subscriptions where it is the
//! designated support contact" (the subscription's `support_contact_tenant_id`, which this
//! service owns) or "where it opened the request for the customer". Beside the subscriptions,
//! the queue is a local join that follows the support contact the moment it changes, with no
//! copy of it to keep in sync through events. Everything public about it is still its own: its
//! package and proto file (`proto/partnerhub/support/v1/support.proto`), its rows in the
//! gateway's table, its tables (migration 0007), its errors (domain `support.partnerhub`) and
//! this module, which shares nothing with the subscription handlers but the database.
//!
//! [`api`] has the handlers, [`domain`] the rules (who sees a request, how a note and a close
//! move it), [`store`] the SQL, [`wire`] the protobuf answers.

mod api;
pub mod domain;
mod error;
mod store;
mod wire;

pub use error::DOMAIN;

use error::Result;
use partnerhub_kit::store::Database;
use partnerhub_kit::time::Clock;
use partnerhub_proto::support::support_service_server::SupportService;
use partnerhub_proto::support::{self as pb};
use tonic::{Request, Response, Status};

/// The support service over the subscriptions database.
#[derive(Debug, Clone)]
pub struct Support {
    db: Database,
    clock: Clock,
}

type Conn = sqlx::pool::PoolConnection<sqlx::Any>;

impl Support {
    pub fn new(db: Database, clock: Clock) -> Self {
        Support { db, clock }
    }

    async fn conn(&self) -> Result<Conn> {
        Ok(self.db.pool.acquire().await?)
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }
}

#[tonic::async_trait]
impl SupportService for Support {
    async fn create_service_request(
        &self,
        request: Request<pb::CreateServiceRequestRequest>,
    ) -> Result<Response<pb::CreateServiceRequestResponse>, Status> {
        let service_request = self.create_service_request(request).await?;
        Ok(Response::new(pb::CreateServiceRequestResponse {
            service_request: Some(service_request),
        }))
    }

    async fn get_service_request(
        &self,
        request: Request<pb::GetServiceRequestRequest>,
    ) -> Result<Response<pb::GetServiceRequestResponse>, Status> {
        let service_request = self.get_service_request(request.get_ref()).await?;
        Ok(Response::new(pb::GetServiceRequestResponse {
            service_request: Some(service_request),
        }))
    }

    async fn list_service_requests(
        &self,
        request: Request<pb::ListServiceRequestsRequest>,
    ) -> Result<Response<pb::ListServiceRequestsResponse>, Status> {
        Ok(Response::new(
            self.list_service_requests(request.get_ref()).await?,
        ))
    }

    async fn add_service_request_note(
        &self,
        request: Request<pb::AddServiceRequestNoteRequest>,
    ) -> Result<Response<pb::AddServiceRequestNoteResponse>, Status> {
        let service_request = self.add_service_request_note(request).await?;
        Ok(Response::new(pb::AddServiceRequestNoteResponse {
            service_request: Some(service_request),
        }))
    }

    async fn close_service_request(
        &self,
        request: Request<pb::CloseServiceRequestRequest>,
    ) -> Result<Response<pb::CloseServiceRequestResponse>, Status> {
        let service_request = self.close_service_request(request.get_ref()).await?;
        Ok(Response::new(pb::CloseServiceRequestResponse {
            service_request: Some(service_request),
        }))
    }
}
