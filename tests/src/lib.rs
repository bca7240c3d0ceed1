//! The test harness: starts the whole system the way `partnerhub dev` does, on ephemeral
//! loopback ports, and hands out gRPC clients.
//!
//! Storage is SQLite in a temporary folder, or PostgreSQL when `PARTNERHUB_TEST_DATABASE_URL`
//! names a server (`postgres://postgres@127.0.0.1:5432/postgres`): each test system then gets
//! its own five databases there (the services' and the gateway's), dropped when it stops.

use partnerhub::system::{
    self, Configuration, GatewaySection, Running, SecretKeyFiles, Section, Server, Service,
    Settings, Storage, TlsSettings,
};
use partnerhub_kit::internal_call::InternalKey;
use partnerhub_kit::secret_key::SecretKey;
use partnerhub_kit::server::Limits;
pub use partnerhub_kit::telemetry::Peer;
use partnerhub_kit::time::Clock;
pub use partnerhub_kit::tls::ClientTls;
use partnerhub_proto::gateway::auth_service_client::AuthServiceClient;
use partnerhub_proto::gateway::workflow_service_client::WorkflowServiceClient;
use partnerhub_proto::invitations::invitation_service_client::InvitationServiceClient;
use partnerhub_proto::relationships::relationship_service_client::RelationshipServiceClient;
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use partnerhub_proto::{gateway as gw, tenants as pb, types};
use prost::bytes::{Buf, BufMut};
use sqlx::Connection;
use std::net::SocketAddr;
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};

pub use partnerhub_proto as proto;

/// The environment variable that selects PostgreSQL.
pub const DATABASE_ENV: &str = "PARTNERHUB_TEST_DATABASE_URL";

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(String);

impl Bearer {
    pub fn new(token: &str) -> Self {
        Bearer(token.to_string())
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if !self.0.is_empty() {
            let value = format!("Bearer {}", self.0)
                .parse()
                .map_err(|_| Status::internal("token is not a header value"))?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// A channel that signs its calls with a token.
pub type Authed = InterceptedService<Channel, Bearer>;

/// A running system for one test.
pub struct TestSystem {
    running: Option<Running>,
    /// The gateway's address.
    pub gateway: SocketAddr,
    /// The services' addresses, in `partnerhub::system::SERVICES` order.
    pub services: [SocketAddr; 4],
    /// Where each server serves Prometheus metrics: the gateway first, then the services.
    pub metrics: [SocketAddr; 5],
    channel: Channel,
    /// A platform operator token.
    pub operator: String,
    /// The services' clock: `clock.advance(…)` makes days pass.
    pub clock: Clock,
    storage: Storage,
    /// The internal key the servers share: direct calls to a service prove themselves with it.
    internal: InternalKey,
    _dir: tempfile::TempDir,
    postgres: Option<Postgres>,
}

struct Postgres {
    admin_url: String,
    /// The test's databases (the system's, and spare gateway databases a test asked for).
    databases: std::sync::Mutex<Vec<String>>,
}

impl TestSystem {
    /// Starts the four services and the gateway.
    pub async fn start() -> TestSystem {
        Self::start_with(TlsSettings::default(), None).await
    }

    /// Starts the four services and the gateway with these TLS settings; the harness's own
    /// channel to the gateway verifies it with `client` (TLS) or is plaintext (`None`).
    pub async fn start_with(tls: TlsSettings, client: Option<ClientTls>) -> TestSystem {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (database_url, postgres) = match std::env::var(DATABASE_ENV) {
            Ok(admin_url) if !admin_url.is_empty() => {
                let base = format!("ph_{}", uuid::Uuid::new_v4().simple());
                let server = admin_url
                    .rsplit_once('/')
                    .map(|(s, _)| s)
                    .unwrap_or(&admin_url)
                    .to_string();
                let databases = Server::ALL
                    .iter()
                    .map(|s| format!("{base}_{}", s.name()))
                    .collect();
                (
                    Some(format!("{server}/{base}")),
                    Some(Postgres {
                        admin_url,
                        databases: std::sync::Mutex::new(databases),
                    }),
                )
            }
            _ => (None, None),
        };
        // Made by the system as `partnerhub dev` makes it (not by the test).
        let data_dir = dir.path().join("data");
        let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let clock = Clock::default();
        let section = || Section {
            listen: any,
            metrics: Some(any),
            url: None,
        };
        let storage = Storage {
            data_dir: data_dir.clone(),
            database_url,
            pool_size: partnerhub_kit::store::DEFAULT_POOL_SIZE,
        };
        let config = Configuration {
            storage: storage.clone(),
            limits: Limits::default(),
            gateway: GatewaySection {
                server: section(),
                signing_key: data_dir.join("signing-key.pem"),
                verification_keys: Vec::new(),
                create_signing_key: true,
                token_lifetime: Duration::from_secs(600),
                // Short, so that a test sees a stream end soon after its caller loses access.
                options: partnerhub_gateway::Options {
                    stream_recheck: Duration::from_millis(200),
                    // A test signs in many users from this one address; the limits are tested
                    // on gateways of their own (`gateway_with_sign_in_limits`).
                    sign_in: partnerhub_gateway::SignInLimits {
                        per_address: partnerhub_gateway::sign_in_limit::Rate {
                            burst: 10_000,
                            every: Duration::from_millis(1),
                        },
                        ..Default::default()
                    },
                    ..Default::default()
                },
            },
            tenants: section(),
            subscriptions: section(),
            relationships: section(),
            invitations: section(),
            secret_keys: SecretKeyFiles::in_dir(&data_dir, true),
            settings: Settings {
                clock: clock.clone(),
                ..Settings::default()
            },
            tls,
        };
        let running = system::start(config, &Server::ALL)
            .await
            .expect("the system starts");
        let bound = |server: Server| running.bound[&server];
        let gateway = bound(Server::Gateway).listen;
        let services = Service::ALL.map(|s| bound(s.into()).listen);
        let metrics = [Server::Gateway]
            .into_iter()
            .chain(Service::ALL.map(Server::from))
            .map(|s| bound(s).metrics.expect("metrics are served"))
            .collect::<Vec<_>>()
            .try_into()
            .expect("five servers");
        let tokens = running.tokens.clone().expect("the gateway runs");
        let internal = InternalKey::new(
            SecretKey::from_file("internal", &data_dir.join("internal-secret.key"))
                .expect("the internal key dev made"),
        );
        let channel = match &client {
            Some(client) => connect_tls(gateway, client)
                .await
                .expect("a TLS connection"),
            None => connect(gateway).await,
        };
        let (operator, _) = tokens.issue_operator(Duration::from_secs(600));
        TestSystem {
            gateway,
            services,
            metrics,
            running: Some(running),
            channel,
            operator,
            clock,
            storage,
            internal,
            _dir: dir,
            postgres,
        }
    }

    /// Stops the servers and drops the test's databases.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        if let Some(pg) = self.postgres.take() {
            pg.drop_databases().await;
        }
    }

    /// The database URL of `server` (to read what it stored, as a copy of the database would).
    pub fn database_url(&self, server: Server) -> String {
        self.storage.url(server)
    }

    /// The URL of a gateway database of its own beside the system's (a SQLite file in the
    /// data folder, or a PostgreSQL database dropped with the system's), named by `name`: for
    /// gateways a test starts on one database, one after another.
    pub fn spare_gateway_database(&self, name: &str) -> String {
        let server = format!("gateway_{name}");
        let url = system::database_url(
            self.storage.database_url.as_deref(),
            &self.storage.data_dir,
            &server,
        );
        if let Some(pg) = &self.postgres
            && let (Some(base), Ok(mut databases)) =
                (&self.storage.database_url, pg.databases.lock())
            && let Some((_, base)) = base.rsplit_once('/')
        {
            databases.push(format!("{base}_{server}"));
        }
        url
    }

    /// The data folder: SQLite files, keys.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.storage.data_dir
    }

    /// The token issuer of this system's gateway (to start a second gateway in a test).
    pub fn tokens(&self) -> partnerhub_gateway::Tokens {
        self.running
            .as_ref()
            .and_then(|running| running.tokens.clone())
            .expect("the gateway runs")
    }

    /// An operator token signed with this gateway's key that expired an hour ago (beyond the
    /// gateway's leeway), as a client that kept a token too long would send it.
    pub fn expired_operator_token(&self) -> String {
        use partnerhub_gateway::token::{AUDIENCE, Claims, ISSUER, OPERATOR};
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        self.tokens().sign(&Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: OPERATOR.into(),
            tid: String::new(),
            op: true,
            iat: now - 7200,
            exp: now - 3600,
            iat_us: i64::try_from((now - 7200) * 1_000_000).expect("fits"),
        })
    }

    /// A channel to the gateway.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The gateway's channel, signing calls with `token`.
    pub fn authed(&self, token: &str) -> Authed {
        InterceptedService::new(self.channel.clone(), Bearer(token.to_string()))
    }

    /// `TenantService` through the gateway, as the holder of `token`.
    pub fn tenants(&self, token: &str) -> TenantServiceClient<Authed> {
        TenantServiceClient::new(self.authed(token))
    }

    /// `AuthService` through the gateway, as the holder of `token` ("" for none).
    pub fn auth(&self, token: &str) -> AuthServiceClient<Authed> {
        AuthServiceClient::new(self.authed(token))
    }

    /// `InvitationService` through the gateway.
    pub fn invitations(&self, token: &str) -> InvitationServiceClient<Authed> {
        InvitationServiceClient::new(self.authed(token))
    }

    /// `RelationshipService` through the gateway.
    pub fn relationships(&self, token: &str) -> RelationshipServiceClient<Authed> {
        RelationshipServiceClient::new(self.authed(token))
    }

    /// `WorkflowService` through the gateway.
    pub fn workflows(&self, token: &str) -> WorkflowServiceClient<Authed> {
        WorkflowServiceClient::new(self.authed(token))
    }

    /// A customer tenant in `country`, made straight on the tenants service (the gateway's
    /// CreateCustomer workflow is for partners), activated, with its global admin signed in.
    pub async fn customer_admin(&self, prefix: &str, country: &str) -> (pb::Tenant, String) {
        let mut tenants = TenantInternalServiceClient::new(self.service("tenants").await);
        let mut new = customer(prefix);
        new.country_code = country.into();
        let created = tenants
            .create_customer_tenant(pb::CreateCustomerTenantRequest {
                customer: Some(new),
                request_id: String::new(),
                validate_only: false,
                workflow_fingerprint: String::new(),
            })
            .await
            .expect("CreateCustomerTenant")
            .into_inner();
        let tenant = tenants
            .activate_tenant(pb::ActivateTenantRequest {
                tenant_id: created.customer.expect("customer").id,
            })
            .await
            .expect("ActivateTenant")
            .into_inner()
            .tenant
            .expect("tenant");
        let admin = created.admin_user.expect("admin");
        let token = self
            .activate_user(&admin.user_name, &created.temporary_password)
            .await;
        (tenant, token)
    }

    /// A new user of `tenant_id` with `roles`, created by `admin`, signed in.
    pub async fn user(
        &self,
        admin: &str,
        tenant_id: &str,
        name: &str,
        roles: &[types::Role],
    ) -> (pb::User, String) {
        let (user, temporary_password) = self.new_user(admin, tenant_id, name, roles).await;
        let token = self
            .activate_user(&user.user_name, &temporary_password)
            .await;
        (user, token)
    }

    /// A new user of `tenant_id` with `roles`, created by `admin`, with its temporary password
    /// (not signed in).
    pub async fn new_user(
        &self,
        admin: &str,
        tenant_id: &str,
        name: &str,
        roles: &[types::Role],
    ) -> (pb::User, String) {
        let created = self
            .tenants(admin)
            .create_user(pb::CreateUserRequest {
                tenant_id: tenant_id.into(),
                user: Some(pb::User {
                    user_name: name.into(),
                    display_name: name.into(),
                    roles: roles.iter().map(|r| *r as i32).collect(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("CreateUser")
            .into_inner();
        (created.user.expect("user"), created.temporary_password)
    }

    /// A channel straight to a service (bypassing the gateway), by name, that proves its calls
    /// with the internal key as the gateway and the services do (with the caller headers each
    /// call carries).
    pub async fn service(&self, name: &str) -> Peer {
        Peer::new(self.unproven_service(name).await, self.internal.clone())
    }

    /// A plain channel straight to a service, whose calls carry no assertion unless the test
    /// adds one.
    pub async fn unproven_service(&self, name: &str) -> Channel {
        let index = system::SERVICES
            .iter()
            .position(|s| *s == name)
            .expect("a service name");
        connect(self.services[index]).await
    }

    /// The internal key of this system's servers.
    pub fn internal_key(&self) -> &InternalKey {
        &self.internal
    }

    /// The operator enrols a partner; returns it with its admin's user name and temporary
    /// password.
    pub async fn create_partner(
        &self,
        prefix: &str,
        mpn_id: &str,
        types: &[types::PartnerType],
    ) -> Enrolled {
        let response = self
            .tenants(&self.operator)
            .create_partner(pb::CreatePartnerRequest {
                partner: Some(partner(prefix, mpn_id, types)),
                request_id: String::new(),
            })
            .await
            .expect("CreatePartner")
            .into_inner();
        let tenant = response.partner.expect("partner");
        let admin = response.admin_user.expect("admin");
        Enrolled {
            tenant,
            admin_user_name: admin.user_name,
            temporary_password: response.temporary_password,
        }
    }

    /// Signs in with a temporary password, changes it, and returns a full token.
    pub async fn activate_user(&self, user_name: &str, temporary_password: &str) -> String {
        let first = self
            .sign_in(user_name, temporary_password)
            .await
            .expect("sign in with the temporary password");
        assert!(first.password_change_required);
        self.auth(&first.access_token)
            .change_password(gw::ChangePasswordRequest {
                current_password: temporary_password.into(),
                new_password: NEW_PASSWORD.into(),
            })
            .await
            .expect("ChangePassword")
            .into_inner()
            .access_token
    }

    /// Signs in.
    pub async fn sign_in(
        &self,
        user_name: &str,
        password: &str,
    ) -> Result<gw::SignInResponse, Status> {
        self.auth("")
            .sign_in(gw::SignInRequest {
                user_name: user_name.into(),
                password: password.into(),
                second_factor_code: String::new(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// Creates `invitation` as the holder of `token` (with no ttl or request id); returns the
    /// answer with the code.
    pub async fn invite(
        &self,
        token: &str,
        invitation: partnerhub_proto::invitations::Invitation,
    ) -> partnerhub_proto::invitations::CreateInvitationResponse {
        self.invitations(token)
            .create_invitation(partnerhub_proto::invitations::CreateInvitationRequest {
                invitation: Some(invitation),
                ttl: None,
                request_id: String::new(),
            })
            .await
            .expect("CreateInvitation")
            .into_inner()
    }

    /// The offers of `cloud` sold in `country` ("": anywhere), as the holder of `token` lists
    /// them.
    pub async fn offers(
        &self,
        token: &str,
        cloud: types::Cloud,
        country: &str,
    ) -> Vec<partnerhub_proto::subscriptions::Offer> {
        use partnerhub_proto::subscriptions as sub;
        sub::subscription_service_client::SubscriptionServiceClient::new(self.authed(token))
            .list_offers(sub::ListOffersRequest {
                cloud: cloud as i32,
                country_code: country.into(),
                ..Default::default()
            })
            .await
            .expect("ListOffers")
            .into_inner()
            .offers
    }

    /// The first offer sold in Sweden (in the worldwide cloud).
    pub async fn offer_in_sweden(&self, token: &str) -> partnerhub_proto::subscriptions::Offer {
        self.offers(token, types::Cloud::Worldwide, "SE")
            .await
            .into_iter()
            .next()
            .expect("an offer sold in Sweden")
    }

    /// A customer the partner `partner_id` creates (`WorkflowService.CreateCustomer`, as the
    /// holder of `token`) with `line_items`, and its first global admin signed in.
    pub async fn created_customer(
        &self,
        token: &str,
        partner_id: &str,
        prefix: &str,
        line_items: Vec<types::LineItem>,
    ) -> (gw::CreateCustomerResponse, String) {
        let created = self
            .workflows(token)
            .create_customer(customer_form(partner_id, prefix, line_items))
            .await
            .expect("CreateCustomer")
            .into_inner();
        let admin = self
            .activate_user(&created.admin_user_name, &created.temporary_password)
            .await;
        (created, admin)
    }

    /// Two offers sold in Sweden in the worldwide cloud, as line items of five licences each
    /// (within each offer's bounds), read as the holder of `token`.
    pub async fn two_line_items(&self, token: &str) -> Vec<types::LineItem> {
        let offers = self.offers(token, types::Cloud::Worldwide, "SE").await;
        assert!(
            offers.len() >= 2,
            "the catalogue sells at least two offers in Sweden"
        );
        offers
            .iter()
            .take(2)
            .map(|o| types::LineItem {
                offer_id: o.id.clone(),
                quantity: o.min_quantity.max(5).min(o.max_quantity),
                ..Default::default()
            })
            .collect()
    }

    /// Seed 003's partnership: the operator enrols an indirect provider (`nordicdist`, partner ID
    /// 3456789) and an indirect reseller (`skolit`, 4567890); the provider invites the reseller to
    /// an indirect partnership and the reseller's global admin accepts, accepting the partner
    /// agreement in the same call. The provider and the reseller, each with its admin's token.
    pub async fn indirect_partnership(&self) -> ((pb::Tenant, String), (pb::Tenant, String)) {
        use partnerhub_proto::invitations::{Invitation, InvitationKind};
        let (provider, provider_admin) = self
            .partner_admin(
                "nordicdist",
                "3456789",
                &[types::PartnerType::IndirectProvider],
            )
            .await;
        let (reseller, reseller_admin) = self
            .partner_admin("skolit", "4567890", &[types::PartnerType::IndirectReseller])
            .await;
        let created = self
            .invite(
                &provider_admin,
                Invitation {
                    kind: InvitationKind::IndirectPartnership as i32,
                    inviter_tenant_id: provider.id.clone(),
                    invitee_tenant_id: reseller.id.clone(),
                    ..Default::default()
                },
            )
            .await;
        self.workflows(&reseller_admin)
            .accept_invitation(gw::AcceptInvitationRequest {
                code: created.code,
                tenant_id: reseller.id.clone(),
                agreement_signer: Some(contact("Lars", "Holm")),
                request_id: String::new(),
                ..Default::default()
            })
            .await
            .expect("the reseller accepts the partnership");
        ((provider, provider_admin), (reseller, reseller_admin))
    }

    /// Enrols a partner and returns it with a signed-in global admin's token.
    pub async fn partner_admin(
        &self,
        prefix: &str,
        mpn_id: &str,
        types: &[types::PartnerType],
    ) -> (pb::Tenant, String) {
        let enrolled = self.create_partner(prefix, mpn_id, types).await;
        let token = self
            .activate_user(&enrolled.admin_user_name, &enrolled.temporary_password)
            .await;
        (enrolled.tenant, token)
    }
}

impl Drop for TestSystem {
    fn drop(&mut self) {
        // A test that failed before `stop` still leaves no databases behind.
        if let Some(pg) = self.postgres.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(pg.drop_databases());
                }
            })
            .join();
        }
    }
}

impl Postgres {
    async fn drop_databases(&self) {
        let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&self.admin_url).await else {
            return;
        };
        let databases = self.databases.lock().map(|d| d.clone()).unwrap_or_default();
        for db in &databases {
            // The names are ours ("ph_<hex>_<service>"), so quoting them is enough.
            let sql = format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
        }
    }
}

impl TestSystem {
    /// The configuration of more servers next to this system's (more replicas, another gateway):
    /// the same storage, keys and clock, each service called where this system's listens,
    /// every server on a free port of its own.
    pub fn configuration(&self, limits: Limits) -> Configuration {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let section = |service: Option<usize>| Section {
            listen: any,
            metrics: Some(any),
            url: service.map(|i| format!("http://{}", self.services[i])),
        };
        Configuration {
            storage: self.storage.clone(),
            limits,
            gateway: GatewaySection {
                server: section(None),
                signing_key: self.data_dir().join("signing-key.pem"),
                verification_keys: Vec::new(),
                create_signing_key: false,
                token_lifetime: Duration::from_secs(600),
                options: partnerhub_gateway::Options {
                    stream_recheck: Duration::from_millis(200),
                    // A test signs in many users from this one address; the limits are tested
                    // on gateways of their own (`gateway_with_sign_in_limits`).
                    sign_in: partnerhub_gateway::SignInLimits {
                        per_address: partnerhub_gateway::sign_in_limit::Rate {
                            burst: 10_000,
                            every: Duration::from_millis(1),
                        },
                        ..Default::default()
                    },
                    ..Default::default()
                },
            },
            tenants: section(Some(0)),
            subscriptions: section(Some(1)),
            relationships: section(Some(2)),
            invitations: section(Some(3)),
            tls: TlsSettings::default(),
            secret_keys: SecretKeyFiles::in_dir(self.data_dir(), false),
            settings: Settings {
                clock: self.clock.clone(),
                ..Settings::default()
            },
        }
    }
}

/// A second gateway over the same services, where one service may be unreachable (for tests of
/// a workflow cut off in the middle), or with other limits. It stops when dropped.
pub struct BrokenGateway {
    /// A channel to it.
    pub channel: Channel,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Where it serves its metrics.
    pub metrics: SocketAddr,
    _hole: Option<tokio::net::TcpListener>,
    stop: tokio_util::sync::CancellationToken,
    /// The folder of its own database, when it has one of its own.
    _audit: Option<tempfile::TempDir>,
}

impl BrokenGateway {
    /// Stops this gateway (as SIGTERM would), leaving the system's servers running.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for BrokenGateway {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl TestSystem {
    /// A gateway like this system's, whose `down` service (a name of
    /// `partnerhub::system::SERVICES`) is at an address nobody listens on; with `""`, a second
    /// working gateway.
    pub async fn gateway_without(&self, down: &str) -> BrokenGateway {
        self.gateway_with(down, Limits::default()).await
    }

    /// [`TestSystem::gateway_without`] with these limits.
    pub async fn gateway_with(&self, down: &str, limits: Limits) -> BrokenGateway {
        self.second_gateway(
            down,
            Fault::Refuses,
            limits,
            self.tokens(),
            Default::default(),
        )
        .await
    }

    /// A gateway with these limits whose `down` service takes connections but never answers.
    pub async fn gateway_hanging(&self, down: &str, limits: Limits) -> BrokenGateway {
        self.second_gateway(
            down,
            Fault::Hangs,
            limits,
            self.tokens(),
            Default::default(),
        )
        .await
    }

    /// A second working gateway that signs and checks tokens with `tokens` (as this system's
    /// gateway restarted with other keys would), publishing them on its HTTP port.
    pub async fn gateway_with_keys(&self, tokens: partnerhub_gateway::Tokens) -> BrokenGateway {
        self.second_gateway(
            "",
            Fault::Refuses,
            Limits::default(),
            tokens,
            Default::default(),
        )
        .await
    }

    /// A second working gateway with these sign-in rate limits.
    pub async fn gateway_with_sign_in_limits(
        &self,
        sign_in: partnerhub_gateway::SignInLimits,
    ) -> BrokenGateway {
        let options = partnerhub_gateway::Options {
            sign_in,
            ..Default::default()
        };
        self.second_gateway(
            "",
            Fault::Refuses,
            Limits::default(),
            self.tokens(),
            options,
        )
        .await
    }

    /// A second working gateway with these options.
    pub async fn gateway_with_options(
        &self,
        options: partnerhub_gateway::Options,
    ) -> BrokenGateway {
        self.second_gateway(
            "",
            Fault::Refuses,
            Limits::default(),
            self.tokens(),
            options,
        )
        .await
    }

    /// A gateway whose `service` takes each call and goes away before answering it (its
    /// connection cut as its answer starts), as a service that crashes mid-call.
    pub async fn gateway_losing(&self, service: &str) -> BrokenGateway {
        self.second_gateway(
            service,
            Fault::DiesMidCall,
            Limits::default(),
            self.tokens(),
            Default::default(),
        )
        .await
    }

    /// A gateway whose `service` goes away at the first message of any answer: a stream open
    /// through it ends when the stream's first event comes.
    pub async fn gateway_losing_streams(&self, service: &str) -> BrokenGateway {
        self.second_gateway(
            service,
            Fault::DiesMidStream,
            Limits::default(),
            self.tokens(),
            Default::default(),
        )
        .await
    }

    /// A gateway over this system's services that keeps its audit trail and its workflows in
    /// the gateway database at `database` (see [`TestSystem::spare_gateway_database`]), and
    /// reaches each service of `through` by its [`Outage`] proxy (the others directly).
    pub async fn gateway_on(
        &self,
        database: &str,
        through: &[&Outage],
        options: partnerhub_gateway::Options,
    ) -> BrokenGateway {
        let addresses = std::array::from_fn(|i| {
            through
                .iter()
                .find(|o| o.service == Service::ALL[i].name())
                .map_or(self.services[i], |o| o.addr)
        });
        let db = partnerhub_gateway::audit::open(database)
            .await
            .expect("gateway database");
        self.gateway_at(
            addresses,
            None,
            db,
            None,
            Limits::default(),
            self.tokens(),
            options,
        )
        .await
    }

    async fn second_gateway(
        &self,
        down: &str,
        fault: Fault,
        limits: Limits,
        tokens: partnerhub_gateway::Tokens,
        options: partnerhub_gateway::Options,
    ) -> BrokenGateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let dead = listener.local_addr().expect("address");
        // Kept (never accepting): connections are made, and nothing ever answers.
        let hole = (fault == Fault::Hangs).then_some(listener);
        let dying = match (Service::ALL.iter().position(|s| s.name() == down), fault) {
            (Some(i), Fault::DiesMidCall) => Some(dying_proxy(self.services[i], 0x1).await),
            (Some(i), Fault::DiesMidStream) => Some(dying_proxy(self.services[i], 0x0).await),
            _ => None,
        };
        // `self.services` is in `Service::ALL` order.
        let addresses = std::array::from_fn(|i| match (Service::ALL[i].name() == down, dying) {
            (true, Some(proxy)) => proxy,
            (true, None) => dead,
            (false, _) => self.services[i],
        });
        let audit_dir = tempfile::tempdir().expect("temporary folder");
        let audit = partnerhub_gateway::audit::open(&partnerhub_kit::store::sqlite_url(
            audit_dir.path(),
            "gateway",
        ))
        .await
        .expect("audit database");
        self.gateway_at(
            addresses,
            hole,
            audit,
            Some(audit_dir),
            limits,
            tokens,
            options,
        )
        .await
    }

    /// A gateway calling the services at `addresses` (in `Service::ALL` order).
    #[allow(clippy::too_many_arguments)]
    async fn gateway_at(
        &self,
        addresses: [SocketAddr; 4],
        hole: Option<tokio::net::TcpListener>,
        audit: partnerhub_kit::store::Database,
        audit_dir: Option<tempfile::TempDir>,
        limits: Limits,
        tokens: partnerhub_gateway::Tokens,
        options: partnerhub_gateway::Options,
    ) -> BrokenGateway {
        let [tenants, subscriptions, relationships, invitations] = addresses.map(|addr| {
            system::channel(&format!("http://{addr}"), &self.internal).expect("channel")
        });
        let backends = partnerhub_gateway::Backends {
            tenants,
            subscriptions,
            relationships,
            invitations,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let stop = tokio_util::sync::CancellationToken::new();
        let metrics = partnerhub_kit::metrics::Metrics::new();
        let (metrics_addr, serving) = partnerhub_kit::server::spawn_http(
            "127.0.0.1:0".parse().expect("address"),
            metrics.clone(),
            vec![partnerhub_gateway::jwks_page(&tokens)],
            stop.clone().cancelled_owned(),
        )
        .await
        .expect("metrics");
        tokio::spawn(serving);
        tokio::spawn(partnerhub_gateway::serve(
            listener,
            tokens,
            backends,
            audit,
            limits,
            metrics,
            options,
            stop.clone().cancelled_owned(),
        ));
        BrokenGateway {
            channel: connect(addr).await,
            listen: addr,
            metrics: metrics_addr,
            _hole: hole,
            stop,
            _audit: audit_dir,
        }
    }

    /// A proxy in front of service `name` (of `partnerhub::system::SERVICES`) that passes
    /// every call on until it is cut (see [`Outage::from_call`]).
    pub async fn outage(&self, name: &str) -> Outage {
        let index = system::SERVICES
            .iter()
            .position(|s| *s == name)
            .expect("a service name");
        let target = connect(self.services[index]).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let state = std::sync::Arc::new(std::sync::Mutex::new(Cut::default()));
        let stop = tokio_util::sync::CancellationToken::new();
        let relay = Relay {
            target,
            state: state.clone(),
        };
        tokio::spawn(
            tonic::transport::Server::builder().serve_with_incoming_shutdown(
                relay,
                partnerhub_kit::server::incoming(listener),
                stop.clone().cancelled_owned(),
            ),
        );
        Outage {
            service: system::SERVICES[index],
            addr,
            state,
            _stop: stop.drop_guard(),
        }
    }
}

/// A proxy in front of one service: it passes calls on until the `nth` call of a method (from
/// when it was told), and from that call on answers every call as an unreachable service does
/// (UNAVAILABLE, no details), until it is healed. It stops when dropped.
pub struct Outage {
    service: &'static str,
    addr: SocketAddr,
    state: std::sync::Arc<std::sync::Mutex<Cut>>,
    _stop: tokio_util::sync::DropGuard,
}

#[derive(Default)]
struct Cut {
    /// The method's full path and which call of it cuts the service off.
    at: Option<(String, usize)>,
    seen: usize,
    down: bool,
}

impl Outage {
    /// The service goes down at the `nth` call (1 for the next) of `method` (e.g.
    /// `/partnerhub.tenants.v1.TenantInternalService/CreateCustomerTenant`).
    pub fn from_call(&self, method: &str, nth: usize) {
        if let Ok(mut cut) = self.state.lock() {
            *cut = Cut {
                at: Some((method.to_string(), nth)),
                seen: 0,
                down: false,
            };
        }
    }

    /// Whether the service is down now.
    pub fn is_down(&self) -> bool {
        self.state.lock().map(|cut| cut.down).unwrap_or(false)
    }

    /// The service is back: every call passes again.
    pub fn heal(&self) {
        if let Ok(mut cut) = self.state.lock() {
            *cut = Cut::default();
        }
    }
}

/// The proxy's service.
#[derive(Clone)]
struct Relay {
    target: Channel,
    state: std::sync::Arc<std::sync::Mutex<Cut>>,
}

impl tower::Service<http::Request<tonic::body::Body>> for Relay {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let down = match self.state.lock() {
            Ok(mut cut) => {
                let path = request.uri().path();
                if let Some((method, nth)) = &cut.at
                    && path == method
                {
                    let nth = *nth;
                    cut.seen += 1;
                    if cut.seen >= nth {
                        cut.down = true;
                    }
                }
                cut.down
            }
            Err(_) => true,
        };
        let mut target = self.target.clone();
        Box::pin(async move {
            if down {
                return Ok(Status::unavailable("the service is down").into_http());
            }
            Ok(
                match tower::ServiceExt::oneshot(&mut target, request).await {
                    Ok(response) => response,
                    Err(e) => Status::unavailable(e.to_string()).into_http(),
                },
            )
        })
    }
}

/// The Prometheus text at `http://<addr>/metrics`.
pub async fn scrape(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut page = String::new();
    stream.read_to_string(&mut page).await.expect("read");
    page
}

/// How the service a second gateway is given as `down` fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Nobody listens: connections are refused.
    Refuses,
    /// Connections are taken and nothing ever answers.
    Hangs,
    /// The service takes each call and its connection is cut as the answer starts.
    DiesMidCall,
    /// The service answers and its connection is cut at the first message of an answer (a
    /// stream's first event).
    DiesMidStream,
}

/// A TCP proxy to `target` that passes HTTP/2 through until the service sends a frame of type
/// `cut_at` (HEADERS: an answer starts; DATA: a message) on a stream, then cuts that
/// connection: the service did the work and was gone before answering, or went away in the
/// middle of a stream. Every new connection goes the same way.
async fn dying_proxy(target: SocketAddr, cut_at: u8) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
                });
                let (mut pending, mut chunk) = (Vec::new(), vec![0u8; 16 * 1024]);
                'frames: loop {
                    let n = match from_server.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    pending.extend_from_slice(&chunk[..n]);
                    // Whole frames pass; the first HEADERS of a stream cuts the connection.
                    let mut passed = 0;
                    let mut cut = false;
                    while pending.len() - passed >= 9 {
                        let frame = &pending[passed..];
                        let length = u32::from_be_bytes([0, frame[0], frame[1], frame[2]]) as usize;
                        let stream =
                            u32::from_be_bytes([frame[5] & 0x7f, frame[6], frame[7], frame[8]]);
                        if frame[3] == cut_at && stream != 0 {
                            cut = true;
                            break;
                        }
                        if frame.len() < 9 + length {
                            break;
                        }
                        passed += 9 + length;
                    }
                    if to_client.write_all(&pending[..passed]).await.is_err() || cut {
                        break 'frames;
                    }
                    pending.drain(..passed);
                }
                up.abort();
            });
        }
    });
    addr
}

/// A partner just enrolled.
pub struct Enrolled {
    pub tenant: pb::Tenant,
    pub admin_user_name: String,
    pub temporary_password: String,
}

/// The password `activate_user` sets.
pub const NEW_PASSWORD: &str = "Fika-1234-Stockholm";

/// A channel to `addr` over TLS, verifying the server with `tls`.
pub async fn connect_tls(
    addr: SocketAddr,
    tls: &ClientTls,
) -> Result<Channel, tonic::transport::Error> {
    Channel::from_shared(format!("https://{addr}"))
        .expect("uri")
        .tls_config(tls.config())?
        .connect()
        .await
}

async fn connect(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

/// A valid partner to enrol.
pub fn partner(prefix: &str, mpn_id: &str, types: &[types::PartnerType]) -> pb::Tenant {
    pb::Tenant {
        display_name: format!("{prefix} AB"),
        cloud: types::Cloud::Worldwide as i32,
        country_code: "SE".into(),
        domain_prefix: prefix.into(),
        address: Some(address()),
        contact: Some(contact("Ann", "Berg")),
        partner: Some(pb::PartnerProfile {
            mpn_id: mpn_id.into(),
            partner_types: types.iter().map(|t| *t as i32).collect(),
            listed: true,
            description: format!("{prefix} sells cloud services"),
            keywords: vec!["schools".into()],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The form a partner submits to create a customer (`CreateCustomer`) with `line_items`,
/// signed for the agreement, with a new request id.
pub fn customer_form(
    partner_tenant_id: &str,
    prefix: &str,
    line_items: Vec<types::LineItem>,
) -> gw::CreateCustomerRequest {
    gw::CreateCustomerRequest {
        partner_tenant_id: partner_tenant_id.into(),
        customer: Some(gw::CustomerDetails {
            display_name: format!("{prefix} skola"),
            domain_prefix: prefix.into(),
            address: Some(address()),
            contact: Some(contact("Maja", "Ek")),
            country_code: "SE".into(),
            cloud: types::Cloud::Worldwide as i32,
        }),
        indirect_reseller_id: String::new(),
        line_items,
        agreement_signer: Some(contact("Maja", "Ek")),
        validate_only: false,
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

/// A valid customer to create.
pub fn customer(prefix: &str) -> pb::Tenant {
    pb::Tenant {
        display_name: format!("{prefix} Skola"),
        cloud: types::Cloud::Worldwide as i32,
        country_code: "SE".into(),
        domain_prefix: prefix.into(),
        address: Some(address()),
        contact: Some(contact("Maja", "Ek")),
        ..Default::default()
    }
}

/// Runs the calls at the same time, each a task of its own; their results in order.
pub async fn all_at_once<F>(calls: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("the call's task"));
    }
    out
}

pub fn address() -> types::PostalAddress {
    types::PostalAddress {
        address_lines: vec!["Drottninggatan 1".into()],
        locality: "Stockholm".into(),
        administrative_area: String::new(),
        postal_code: "111 51".into(),
    }
}

pub fn contact(first: &str, last: &str) -> types::Contact {
    types::Contact {
        first_name: first.into(),
        last_name: last.into(),
        email: format!("{}@example.com", first.to_lowercase()),
        phone: String::new(),
    }
}

/// The refusal of a call that must be refused with `code`; `why` says which call, in failures.
pub fn refused<T: std::fmt::Debug>(
    answer: Result<T, Status>,
    code: tonic::Code,
    why: &str,
) -> Status {
    let status = answer.expect_err(why);
    assert_eq!(status.code(), code, "{why}: {status:?}");
    status
}

/// The `ErrorInfo.reason` of a status ("" if none).
pub fn reason(status: &Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// The fields a status names: its `BadRequest`'s (bad input), or its `PreconditionFailure`'s
/// subjects (a rule about the world found at a field).
pub fn bad_fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    match (details.bad_request(), details.precondition_failure()) {
        (Some(b), _) => b.field_violations.iter().map(|v| v.field.clone()).collect(),
        (None, Some(p)) => p.violations.iter().map(|v| v.subject.clone()).collect(),
        (None, None) => Vec::new(),
    }
}

/// A value of a status's `ErrorInfo.metadata` ("" when absent).
pub fn metadata(status: &Status, key: &str) -> String {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get(key).cloned())
        .unwrap_or_default()
}

/// Sends and receives raw bytes as the gRPC message, so a test can put anything in the frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}
