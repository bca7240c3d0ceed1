//! The relationships service: relationships between partners and customers, and delegated access.
//!
//! Not built yet: it starts, owns its database, answers health and reflection, and its methods
//! answer UNIMPLEMENTED (the generated defaults) until the issue that builds it.

use partnerhub_kit::server::Server;
use partnerhub_kit::store::{Database, Migrations, OpenError};
use partnerhub_proto::relationships::relationship_internal_service_server::{
    RelationshipInternalService, RelationshipInternalServiceServer,
};
use partnerhub_proto::relationships::relationship_service_server::{
    RelationshipService, RelationshipServiceServer,
};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The service's migrations, one set per backend.
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// Opens and migrates the service's database.
pub async fn open(url: &str) -> Result<Database, OpenError> {
    partnerhub_kit::store::open(url, &MIGRATIONS).await
}

/// The service over its database.
#[derive(Debug, Clone)]
pub struct Relationships {
    #[allow(dead_code)] // Used once the service's methods are built.
    db: Database,
}

impl RelationshipService for Relationships {}

impl RelationshipInternalService for Relationships {}

/// The relationships server: both services, health and reflection.
pub fn server(db: Database) -> Server {
    let service = Relationships { db };
    Server::new("relationships")
        .add_service(RelationshipServiceServer::new(service.clone()))
        .add_service(RelationshipInternalServiceServer::new(service))
        .descriptors(partnerhub_proto::DESCRIPTORS)
}
