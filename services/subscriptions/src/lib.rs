//! The subscriptions service: the offer catalogue, orders and subscriptions.
//!
//! Not built yet: it starts, owns its database, answers health and reflection, and its methods
//! answer UNIMPLEMENTED (the generated defaults) until the issue that builds it.

use partnerhub_kit::server::Server;
use partnerhub_kit::store::{Database, Migrations, OpenError};
use partnerhub_kit::time::Clock;
use partnerhub_proto::subscriptions::subscription_internal_service_server::{
    SubscriptionInternalService, SubscriptionInternalServiceServer,
};
use partnerhub_proto::subscriptions::subscription_service_server::{
    SubscriptionService, SubscriptionServiceServer,
};
use tonic::transport::Channel;

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

/// What the service needs besides its database.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The time trials and terms are measured by.
    pub clock: Clock,
    /// The tenants service (customers' cloud, country and agreements).
    pub tenants: Channel,
    /// The relationships service (who may sell to whom).
    pub relationships: Channel,
}

/// The service over its database.
#[derive(Debug, Clone)]
pub struct Subscriptions {
    #[allow(dead_code)] // Used once the service's methods are built.
    db: Database,
    #[allow(dead_code)]
    deps: Deps,
}

impl SubscriptionService for Subscriptions {}

impl SubscriptionInternalService for Subscriptions {}

/// The subscriptions server: both services, health and reflection.
pub fn server(db: Database, deps: Deps) -> Server {
    let service = Subscriptions { db, deps };
    Server::new("subscriptions")
        .add_service(SubscriptionServiceServer::new(service.clone()))
        .add_service(SubscriptionInternalServiceServer::new(service))
        .descriptors(partnerhub_proto::DESCRIPTORS)
}
