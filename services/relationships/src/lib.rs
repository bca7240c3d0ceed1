//! The relationships service: who works with whom (partners and customers, providers and
//! resellers), the delegated admin roles partners hold, and the access check behind delegated
//! access.

mod api;
pub mod domain;
mod error;
mod store;
mod wire;

pub use api::Relationships;
pub use error::{DOMAIN, Error};

use partnerhub_kit::server::Server;
use partnerhub_kit::store::Database;
use partnerhub_kit::telemetry::Peer;
use partnerhub_kit::time::Clock;
use partnerhub_proto::relationships::relationship_internal_service_server::RelationshipInternalServiceServer;
use partnerhub_proto::relationships::relationship_service_server::RelationshipServiceServer;

partnerhub_kit::migrations!(open);

/// What the service needs besides its database.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The time expiries are measured by.
    pub clock: Clock,
    /// The tenants service (names, clouds and countries of tenants).
    pub tenants: Peer,
}

impl Deps {
    /// Defaults for everything but the tenants service.
    pub fn new(tenants: Peer) -> Self {
        Deps {
            clock: Clock::default(),
            tenants,
        }
    }
}

/// The relationships server: both services, health and reflection.
pub fn server(db: Database, deps: Deps) -> Server {
    let service = Relationships::new(db, deps);
    Server::new("relationships")
        .add_service(RelationshipServiceServer::new(service.clone()))
        .add_service(RelationshipInternalServiceServer::new(service))
        .descriptors(partnerhub_proto::DESCRIPTORS)
}
