//! The subscriptions service: the offer catalogue, orders and the subscriptions they create,
//! a subscription's life (suspend, reactivate, cancel; trials that expire), and a record of
//! every change for the partners concerned.

mod api;
pub mod catalogue;
pub mod domain;
mod error;
mod product_key;
mod store;
pub mod support;
mod wire;

pub use api::{Subscriptions, WATCH_POLL};
pub use error::{DOMAIN, Error};

use partnerhub_kit::server::Server;
use partnerhub_kit::store::{Database, OpenError, redact};
use partnerhub_kit::telemetry::Peer;
use partnerhub_kit::time::{Clock, now_micros};
use partnerhub_proto::subscriptions::subscription_internal_service_server::SubscriptionInternalServiceServer;
use partnerhub_proto::subscriptions::subscription_service_server::SubscriptionServiceServer;
use partnerhub_proto::support::support_service_server::SupportServiceServer;
use sqlx::migrate::MigrateError;
use tokio_util::sync::CancellationToken;

partnerhub_kit::migrations!();

/// Opens and migrates the service's database, and puts the shipped offer catalogue into it. A
/// catalogue that does not parse stops the start, as a failed migration does.
pub async fn open(url: &str) -> Result<Database, OpenError> {
    open_with(url, partnerhub_kit::store::DEFAULT_POOL_SIZE).await
}

/// [`open`] with a PostgreSQL pool of at most `pool_size` connections.
pub async fn open_with(url: &str, pool_size: u32) -> Result<Database, OpenError> {
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| OpenError::Migrate {
        target: redact(url),
        source: MigrateError::Source(source),
    };
    let offers = catalogue::parse(catalogue::SHIPPED).map_err(|e| failed(Box::new(e)))?;
    let db = partnerhub_kit::store::open_with(url, &MIGRATIONS, pool_size).await?;
    let install = async {
        let mut tx = db.pool.begin().await?;
        // Opening is before any request: there is no service clock yet.
        catalogue::install(&mut tx, &offers, now_micros()).await?;
        tx.commit().await?;
        Ok::<_, Error>(())
    };
    install.await.map_err(|e| failed(Box::new(e)))?;
    Ok(db)
}

/// What the service needs besides its database.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The time trials and terms are measured by.
    pub clock: Clock,
    /// The tenants service (customers' cloud, country and agreements).
    pub tenants: Peer,
    /// The relationships service (who may sell to whom).
    pub relationships: Peer,
    /// Partner Center's cancellation window: how long after a term starts its licences may
    /// still be removed ([`domain::DEFAULT_CANCELLATION_WINDOW`] unless configured).
    pub cancellation_window: std::time::Duration,
}

/// The subscriptions server: both services, the support service ([`support`] says why it runs
/// here), health and reflection. Its watch streams end when their clients go away; use
/// [`server_until`] to also end them when the server shuts down.
pub fn server(db: Database, deps: Deps) -> Server {
    server_until(db, deps, CancellationToken::new())
}

/// The subscriptions server, whose `WatchSubscriptionEvents` streams end when `shutdown` is
/// cancelled. Cancel it together with the server's own shutdown: a graceful stop waits for the
/// calls under way, and a watch stream is one until it ends.
pub fn server_until(db: Database, deps: Deps, shutdown: CancellationToken) -> Server {
    let support = support::Support::new(db.clone(), deps.clock.clone());
    let service = Subscriptions::with_shutdown(db, deps, shutdown);
    Server::new("subscriptions")
        .add_service(SubscriptionServiceServer::new(service.clone()))
        .add_service(SubscriptionInternalServiceServer::new(service))
        .add_service(SupportServiceServer::new(support))
        .descriptors(partnerhub_proto::DESCRIPTORS)
}
