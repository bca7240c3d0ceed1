//! The subscriptions service: the offer catalogue, orders and subscriptions.
//!
//! Not built yet: it starts, owns its database, answers health and reflection, and its methods
//! answer UNIMPLEMENTED (the generated defaults) until the issue that builds it.

use partnerhub_kit::server::Server;
use partnerhub_kit::store::{Database, Migrations, OpenError};
use partnerhub_proto::subscriptions::subscription_internal_service_server::{
    SubscriptionInternalService, SubscriptionInternalServiceServer,
};
use partnerhub_proto::subscriptions::subscription_service_server::{
    SubscriptionService, SubscriptionServiceServer,
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
pub struct Subscriptions {
    #[allow(dead_code)] // Used once the service's methods are built.
    db: Database,
}

impl SubscriptionService for Subscriptions {}

impl SubscriptionInternalService for Subscriptions {}

/// The subscriptions server: both services, health and reflection.
pub fn server(db: Database) -> Server {
    let service = Subscriptions { db };
    Server::new("subscriptions")
        .add_service(SubscriptionServiceServer::new(service.clone()))
        .add_service(SubscriptionInternalServiceServer::new(service))
        .descriptors(partnerhub_proto::DESCRIPTORS)
}
