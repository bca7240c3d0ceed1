//! The invitations service: invitations: personalised links, their codes and e-mail drafts.
//!
//! Not built yet: it starts, owns its database, answers health and reflection, and its methods
//! answer UNIMPLEMENTED (the generated defaults) until the issue that builds it.

use partnerhub_kit::server::Server;
use partnerhub_kit::store::{Database, Migrations, OpenError};
use partnerhub_proto::invitations::invitation_internal_service_server::{
    InvitationInternalService, InvitationInternalServiceServer,
};
use partnerhub_proto::invitations::invitation_service_server::{
    InvitationService, InvitationServiceServer,
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
pub struct Invitations {
    #[allow(dead_code)] // Used once the service's methods are built.
    db: Database,
}

impl InvitationService for Invitations {}

impl InvitationInternalService for Invitations {}

/// The invitations server: both services, health and reflection.
pub fn server(db: Database) -> Server {
    let service = Invitations { db };
    Server::new("invitations")
        .add_service(InvitationServiceServer::new(service.clone()))
        .add_service(InvitationInternalServiceServer::new(service))
        .descriptors(partnerhub_proto::DESCRIPTORS)
}
