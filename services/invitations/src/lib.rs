//! The invitations service: invitations: personalised links, their codes and e-mail drafts.
//!
//! Not built yet: it starts, owns its database, answers health and reflection, and its methods
//! answer UNIMPLEMENTED (the generated defaults) until the issue that builds it.

use partnerhub_kit::server::Server;
use partnerhub_kit::store::{Database, Migrations, OpenError};
use partnerhub_kit::time::Clock;
use partnerhub_proto::invitations::invitation_internal_service_server::{
    InvitationInternalService, InvitationInternalServiceServer,
};
use partnerhub_proto::invitations::invitation_service_server::{
    InvitationService, InvitationServiceServer,
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
    /// The time expiries are measured by.
    pub clock: Clock,
    /// The tenants service (names, clouds and countries of tenants).
    pub tenants: Channel,
    /// Invitation links, per cloud.
    pub links: Links,
    /// How long an untouched invitation stays usable when the request names no `ttl`.
    pub default_ttl: std::time::Duration,
}

impl Deps {
    /// Defaults for everything but the tenants service.
    pub fn new(tenants: Channel) -> Self {
        Deps {
            clock: Clock::default(),
            tenants,
            links: Links::default(),
            default_ttl: std::time::Duration::from_secs(90 * 86_400),
        }
    }
}

/// Where invitation links point, per cloud instance: the link is `<base>?code=<code>`.
#[derive(Debug, Clone)]
pub struct Links {
    pub worldwide: String,
    pub germany: String,
    pub china_21vianet: String,
    pub us_government: String,
}

impl Default for Links {
    fn default() -> Self {
        Links {
            worldwide: "https://admin.partnerhub.example/partner-invitation".into(),
            germany: "https://admin.partnerhub.example.de/partner-invitation".into(),
            china_21vianet: "https://admin.partnerhub.example.cn/partner-invitation".into(),
            us_government: "https://admin.gov.partnerhub.example/partner-invitation".into(),
        }
    }
}

/// The service over its database.
#[derive(Debug, Clone)]
pub struct Invitations {
    #[allow(dead_code)] // Used once the service's methods are built.
    db: Database,
    #[allow(dead_code)]
    deps: Deps,
}

impl InvitationService for Invitations {}

impl InvitationInternalService for Invitations {}

/// The invitations server: both services, health and reflection.
pub fn server(db: Database, deps: Deps) -> Server {
    let service = Invitations { db, deps };
    Server::new("invitations")
        .add_service(InvitationServiceServer::new(service.clone()))
        .add_service(InvitationInternalServiceServer::new(service))
        .descriptors(partnerhub_proto::DESCRIPTORS)
}
