//! The gateway: the one public endpoint. It signs users in, applies the authorization table to
//! every call, forwards calls to the services that own them, and runs the workflows that span
//! several services.

pub mod audit;
mod auth;
pub mod error;
pub mod guard;
mod licences;
pub mod policy;
pub mod sign_in_limit;
pub mod token;
mod workflows;

pub use guard::Backends;
pub use policy::Caller;
pub use sign_in_limit::SignInLimits;
pub use token::Tokens;
pub use workflows::Resumption;

use partnerhub_kit::health::Probe;
use partnerhub_kit::metrics::Metrics;
use partnerhub_kit::server::{Limits, Listener, ServeError, Server};
use partnerhub_proto::gateway::audit_service_server::AuditServiceServer;
use partnerhub_proto::gateway::auth_service_server::AuthServiceServer;
use partnerhub_proto::gateway::workflow_service_server::WorkflowServiceServer;
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use std::future::Future;

/// How the gateway treats its callers beyond the authorization table.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How often the caller of an open stream (`WatchSubscriptionEvents`) is checked again: a
    /// user deleted, or who lost the role or the delegated access the stream needs, sees it end
    /// within this time. Each check costs what a call's authentication does (one tenants call).
    pub stream_recheck: std::time::Duration,
    /// The sign-in rate limits.
    pub sign_in: SignInLimits,
    /// Partners' staff must enroll a second factor (TOTP) before doing anything else, and sign
    /// in with it (`guard::must_enroll_second_factor`). Off by default: users may still
    /// enroll one.
    pub require_second_factor: bool,
    /// When unfinished workflows are taken up again, and given up.
    pub workflows: Resumption,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            stream_recheck: std::time::Duration::from_secs(10),
            sign_in: SignInLimits::default(),
            require_second_factor: false,
            workflows: Resumption::default(),
        }
    }
}

/// Where the gateway's HTTP (metrics) port serves its public keys.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The JWKS document of `tokens`' public keys, to serve at [`JWKS_PATH`] beside the metrics.
pub fn jwks_page(tokens: &Tokens) -> partnerhub_kit::metrics::Page {
    partnerhub_kit::metrics::Page {
        path: JWKS_PATH,
        content_type: "application/json",
        body: tokens.jwks(),
    }
}

const TENANTS: &str = "partnerhub.tenants.v1.TenantService";
const SUBSCRIPTIONS: &str = "partnerhub.subscriptions.v1.SubscriptionService";
const RELATIONSHIPS: &str = "partnerhub.relationships.v1.RelationshipService";
const INVITATIONS: &str = "partnerhub.invitations.v1.InvitationService";
const SUPPORT: &str = "partnerhub.support.v1.SupportService";
const AUTH: &str = "partnerhub.gateway.v1.AuthService";
const WORKFLOWS: &str = "partnerhub.gateway.v1.WorkflowService";
const AUDIT: &str = "partnerhub.gateway.v1.AuditService";

/// What each of the gateway's health names follows. A forwarded service follows the service
/// behind it (checked over the channel the calls take; SupportService the subscriptions
/// server, which hosts it); AuthService follows tenants (sign-in and passwords live there);
/// WorkflowService follows all four (its workflows span them) and
/// the gateway's own database (they are recorded there before they write); AuditService
/// follows the gateway's own database.
///
/// The overall status `""` (what a load balancer's readiness probe asks) follows tenants and
/// the gateway's database only: every user's call is authenticated through tenants, so without
/// it nothing but operator calls works; but with another service down the rest still works,
/// and as every gateway replica shares the same services, taking them all out of the load
/// balancer would turn a partial outage into a full one. The per-service names tell which part
/// is down.
fn readiness(backends: &Backends, db: &partnerhub_kit::store::Database) -> Vec<Probe> {
    vec![
        Probe::peer("tenants", backends.tenants.clone()).only(&["", TENANTS, AUTH, WORKFLOWS]),
        Probe::peer("subscriptions", backends.subscriptions.clone()).only(&[
            SUBSCRIPTIONS,
            SUPPORT,
            WORKFLOWS,
        ]),
        Probe::peer("relationships", backends.relationships.clone())
            .only(&[RELATIONSHIPS, WORKFLOWS]),
        Probe::peer("invitations", backends.invitations.clone()).only(&[INVITATIONS, WORKFLOWS]),
        Probe::database(db).only(&["", AUDIT, WORKFLOWS]),
    ]
}

/// Serves the gateway on `listener` until `shutdown` resolves, counting its calls in `metrics`;
/// meanwhile it takes up the unfinished workflows recorded in `db`.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: impl Into<Listener>,
    tokens: Tokens,
    backends: Backends,
    db: partnerhub_kit::store::Database,
    limits: Limits,
    metrics: Metrics,
    options: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let probes = readiness(&backends, &db);
    let workflows = workflows::Workflows::new(&backends, db.clone(), options.workflows);
    let (name, help) = workflows::UNFINISHED_GAUGE;
    let resuming = workflows::resume(workflows.clone(), metrics.gauge(name, help, &["workflow"]));
    let trail = audit::Trail::new(db);
    let auth = auth::Auth {
        tokens: tokens.clone(),
        tenants: TenantInternalServiceClient::new(backends.tenants.clone()),
        limiter: std::sync::Arc::new(sign_in_limit::SignInLimiter::new(options.sign_in)),
        second_factor_required: options.require_second_factor,
    };
    let mut server = Server::new("gateway")
        .public()
        .metrics(metrics)
        .probing(limits.probing);
    for probe in probes {
        server = server.probe(probe);
    }
    let (routes, observer) = server
        .add_service(AuthServiceServer::new(auth))
        .add_service(WorkflowServiceServer::new(workflows))
        .add_service(AuditServiceServer::new(trail.clone()))
        .lists(TENANTS)
        .lists(SUBSCRIPTIONS)
        .lists(RELATIONSHIPS)
        .lists(INVITATIONS)
        .lists(SUPPORT)
        .descriptors(partnerhub_proto::PUBLIC_DESCRIPTORS)
        .routes()
        .await?;
    let front = guard::Front::new(routes.prepare(), tokens, backends, trail, &options)
        .map_err(|e| ServeError::Descriptors(e.to_string()))?;
    let serving = partnerhub_kit::server::serve(listener, front, limits, observer, shutdown);
    tokio::select! {
        served = serving => served,
        never = resuming => match never {},
    }
}
