//! The tenants service: partners and customers, their users, the agreements they accepted, and
//! the credential check behind sign-in.

mod api;
mod client_secret;
pub mod domain;
mod error;
mod password;
mod store;
pub mod totp;
mod wire;

pub use api::{FIRST_WAIT, LOCK_DURATION, MAX_FAILED_SIGN_INS, Tenants, wait_after};
pub use error::{DOMAIN, Error};

use partnerhub_kit::secret_key::SecretKey;
use partnerhub_kit::server::Server;
use partnerhub_kit::store::Database;
use partnerhub_proto::tenants::tenant_internal_service_server::TenantInternalServiceServer;
use partnerhub_proto::tenants::tenant_service_server::TenantServiceServer;

partnerhub_kit::migrations!(open);

/// The tenants server: both services, health and reflection. `key` is the service's own secret
/// key, from which created users' temporary passwords are derived; `contact_limit`, how often a
/// customer may ask partners to contact it (a setting).
pub fn server(db: Database, key: SecretKey, contact_limit: domain::ContactLimit) -> Server {
    let tenants = Tenants::new(db, key).with_contact_limit(contact_limit);
    Server::new("tenants")
        .add_service(TenantServiceServer::new(tenants.clone()))
        .add_service(TenantInternalServiceServer::new(tenants))
        .descriptors(partnerhub_proto::DESCRIPTORS)
}
