//! The invitations service: personalised links a partner sends to start a relationship, their
//! codes (kept only as hashes) and e-mail drafts; previews, declines, revokes, expiry, and the
//! atomic redeem the gateway's acceptance workflow calls.
//!
//! Every kind: RESELLER_RELATIONSHIP, DELEGATED_ADMIN, INDIRECT_PARTNERSHIP, the advisor's
//! reusable TRIAL and PURCHASE_OFFER links (seed 002), and PARTNER_OF_RECORD (seed 000's
//! 21Vianet flow). Offers are checked with the subscriptions service's `GetOffer`.

mod acceptance;
mod api;
mod code;
pub mod domain;
mod draft;
mod error;
mod store;
mod wire;

pub use api::Invitations;
pub use error::{DOMAIN, Error};

use partnerhub_kit::secret_key::SecretKey;
use partnerhub_kit::server::Server;
use partnerhub_kit::store::Database;
use partnerhub_kit::telemetry::Peer;
use partnerhub_kit::time::Clock;
use partnerhub_proto::invitations::invitation_internal_service_server::InvitationInternalServiceServer;
use partnerhub_proto::invitations::invitation_service_server::InvitationServiceServer;
use partnerhub_proto::types::Cloud;

partnerhub_kit::migrations!(open);

/// What the service needs besides its database.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The time expiries are measured by.
    pub clock: Clock,
    /// The tenants service (names, clouds and countries of tenants).
    pub tenants: Peer,
    /// The subscriptions service (the offers of trials, purchase offers and partner of
    /// record invitations).
    pub subscriptions: Peer,
    /// Invitation links, per cloud.
    pub links: Links,
    /// How long an untouched invitation stays usable when the request names no `ttl`.
    pub default_ttl: std::time::Duration,
    /// The service's own key: invitation codes are derived from it ([`code`]).
    pub key: SecretKey,
}

impl Deps {
    /// Defaults for everything but the tenants and subscriptions services and the key.
    pub fn new(tenants: Peer, subscriptions: Peer, key: SecretKey) -> Self {
        Deps {
            clock: Clock::default(),
            tenants,
            subscriptions,
            links: Links::default(),
            default_ttl: std::time::Duration::from_secs(90 * 86_400),
            key,
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

impl Links {
    /// The base address of links for tenants of `cloud`.
    pub fn base(&self, cloud: Cloud) -> &str {
        match cloud {
            Cloud::Germany => &self.germany,
            Cloud::China21vianet => &self.china_21vianet,
            Cloud::UsGovernment => &self.us_government,
            Cloud::Worldwide | Cloud::Unspecified => &self.worldwide,
        }
    }
}

/// The invitations server: both services, health and reflection.
pub fn server(db: Database, deps: Deps) -> Server {
    let service = Invitations::new(db, deps);
    Server::new("invitations")
        .add_service(InvitationServiceServer::new(service.clone()))
        .add_service(InvitationInternalServiceServer::new(service))
        .descriptors(partnerhub_proto::DESCRIPTORS)
}
