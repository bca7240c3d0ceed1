//! The gateway: the one public endpoint. It signs users in, applies the authorization table to
//! every call, forwards calls to the services that own them, and runs the workflows that span
//! several services.

pub mod audit;
mod auth;
pub mod error;
pub mod guard;
pub mod policy;
pub mod token;
mod workflows;

pub use guard::Backends;
pub use policy::Caller;
pub use token::Tokens;

use partnerhub_kit::metrics::Metrics;
use partnerhub_kit::server::{Limits, Listener, ServeError, Server};
use partnerhub_proto::gateway::audit_service_server::AuditServiceServer;
use partnerhub_proto::gateway::auth_service_server::AuthServiceServer;
use partnerhub_proto::gateway::workflow_service_server::WorkflowServiceServer;
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use std::future::Future;

/// Serves the gateway on `listener` until `shutdown` resolves, counting its calls in `metrics`.
pub async fn serve(
    listener: impl Into<Listener>,
    tokens: Tokens,
    backends: Backends,
    db: partnerhub_kit::store::Database,
    limits: Limits,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let trail = audit::Trail::new(db);
    let auth = auth::Auth {
        tokens: tokens.clone(),
        tenants: TenantInternalServiceClient::new(backends.tenants.clone()),
    };
    let (routes, observer) = Server::new("gateway")
        .public()
        .metrics(metrics)
        .add_service(AuthServiceServer::new(auth))
        .add_service(WorkflowServiceServer::new(workflows::Workflows::new(
            &backends,
        )))
        .add_service(AuditServiceServer::new(trail.clone()))
        .lists("partnerhub.tenants.v1.TenantService")
        .lists("partnerhub.subscriptions.v1.SubscriptionService")
        .lists("partnerhub.relationships.v1.RelationshipService")
        .lists("partnerhub.invitations.v1.InvitationService")
        .descriptors(partnerhub_proto::PUBLIC_DESCRIPTORS)
        .routes()
        .await?;
    let front = guard::Front::new(routes.prepare(), tokens, backends, trail)
        .map_err(|e| ServeError::Descriptors(e.to_string()))?;
    partnerhub_kit::server::serve(listener, front, limits, observer, shutdown).await
}
