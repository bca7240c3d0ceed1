//! Starting servers: the four services and the gateway, each its own gRPC server with its own
//! database. `partnerhub dev` starts all five from one [`Configuration`], `partnerhub serve` one
//! of them from the same kind of configuration, the tests all five on free ports.

use partnerhub_gateway::{Backends, Tokens};
use partnerhub_kit::health::Probe;
use partnerhub_kit::internal_call::InternalKey;
use partnerhub_kit::metrics::Metrics;
use partnerhub_kit::secret_key::{self, SecretKey};
use partnerhub_kit::server::{Limits, Listener, ServeError, bind, spawn_http};
use partnerhub_kit::store::{Database, OpenError, sqlite_url};
use partnerhub_kit::telemetry::Peer;
use partnerhub_kit::time::Clock;
use partnerhub_kit::tls::{ClientTls, ServerTls, ServerTlsFiles};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::transport::Endpoint;

/// The four services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Tenants,
    Subscriptions,
    Relationships,
    Invitations,
}

/// A server partnerhub runs: the gateway or one of the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Server {
    Service(Service),
    Gateway,
}

impl Service {
    /// The four, in the order they start.
    pub const ALL: [Service; 4] = [
        Service::Tenants,
        Service::Subscriptions,
        Service::Relationships,
        Service::Invitations,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Service::Tenants => "tenants",
            Service::Subscriptions => "subscriptions",
            Service::Relationships => "relationships",
            Service::Invitations => "invitations",
        }
    }

    /// The service called `name`, if there is one.
    pub fn named(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl From<Service> for Server {
    fn from(service: Service) -> Self {
        Server::Service(service)
    }
}

impl Server {
    /// The five, services first (the gateway needs them), the gateway last.
    pub const ALL: [Server; 5] = [
        Server::Service(Service::Tenants),
        Server::Service(Service::Subscriptions),
        Server::Service(Service::Relationships),
        Server::Service(Service::Invitations),
        Server::Gateway,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Server::Service(service) => service.name(),
            Server::Gateway => "gateway",
        }
    }

    /// How its metrics endpoint is named in messages.
    const fn metrics_name(self) -> &'static str {
        match self {
            Server::Service(Service::Tenants) => "tenants metrics",
            Server::Service(Service::Subscriptions) => "subscriptions metrics",
            Server::Service(Service::Relationships) => "relationships metrics",
            Server::Service(Service::Invitations) => "invitations metrics",
            Server::Gateway => "gateway metrics",
        }
    }

    /// Its place among the default ports: the gateway's come first, the services' follow.
    pub const fn place(self) -> u16 {
        match self {
            Server::Gateway => 0,
            Server::Service(Service::Tenants) => 1,
            Server::Service(Service::Subscriptions) => 2,
            Server::Service(Service::Relationships) => 3,
            Server::Service(Service::Invitations) => 4,
        }
    }

    /// Where it listens unless told otherwise: 127.0.0.1:50051 for the gateway, :50052..:50055
    /// for the services.
    pub fn default_listen(self) -> SocketAddr {
        SocketAddr::new(LOOPBACK, GATEWAY_PORT + self.place())
    }

    /// Where it serves metrics unless told otherwise: 127.0.0.1:9464 for the gateway,
    /// :9465..:9468 for the services.
    pub fn default_metrics(self) -> SocketAddr {
        SocketAddr::new(LOOPBACK, METRICS_PORT + self.place())
    }

    /// Opens its database (the gateway's keeps the audit trail), migrated.
    pub async fn open_database(self, url: &str) -> Result<Database, StartError> {
        self.open_database_with(url, partnerhub_kit::store::DEFAULT_POOL_SIZE)
            .await
    }

    /// Opens its database, migrated, with a PostgreSQL pool of at most `pool_size` connections.
    pub async fn open_database_with(
        self,
        url: &str,
        pool_size: u32,
    ) -> Result<Database, StartError> {
        let n = pool_size;
        let opened = match self {
            Server::Service(Service::Tenants) => partnerhub_tenants::open_with(url, n).await,
            Server::Service(Service::Subscriptions) => {
                partnerhub_subscriptions::open_with(url, n).await
            }
            Server::Service(Service::Relationships) => {
                partnerhub_relationships::open_with(url, n).await
            }
            Server::Service(Service::Invitations) => {
                partnerhub_invitations::open_with(url, n).await
            }
            Server::Gateway => partnerhub_gateway::audit::open_with(url, n).await,
        };
        opened.map_err(|source| StartError::Database {
            service: self.name(),
            source,
        })
    }
}

/// `partnerhub serve <server>` and `partnerhub migrate <server>…` take the servers by name.
impl clap::ValueEnum for Server {
    fn value_variants<'a>() -> &'a [Self] {
        &Server::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()))
    }
}

/// The services' names, in the order they start.
pub const SERVICES: [&str; 4] = [
    Service::Tenants.name(),
    Service::Subscriptions.name(),
    Service::Relationships.name(),
    Service::Invitations.name(),
];

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The gateway's default port; the services' follow.
pub const GATEWAY_PORT: u16 = 50051;
/// The gateway's default metrics port; the services' follow.
/// (9464, the OpenTelemetry Prometheus exporter's port, rather than 9090, Prometheus' own.)
pub const METRICS_PORT: u16 = 9464;

/// Why something did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{service}: {source}")]
    Database {
        service: &'static str,
        source: OpenError,
    },
    #[error("{service}: {source}")]
    Serve {
        service: &'static str,
        source: ServeError,
    },
    #[error(transparent)]
    Key(#[from] partnerhub_gateway::token::KeyError),
    #[error(transparent)]
    SecretKey(#[from] partnerhub_kit::secret_key::KeyError),
    #[error("{0} stopped unexpectedly")]
    Stopped(&'static str),
    #[error("bad service address {0:?}: {1}")]
    Address(String, String),
    #[error(transparent)]
    Tls(#[from] partnerhub_kit::tls::TlsError),
}

/// Everything the servers run by, a section per server.
#[derive(Debug, Clone)]
pub struct Configuration {
    pub storage: Storage,
    /// Limits of every server.
    pub limits: Limits,
    pub gateway: GatewaySection,
    pub tenants: Section,
    pub subscriptions: Section,
    pub relationships: Section,
    pub invitations: Section,
    /// The key files of the services that derive the secrets they hand out.
    pub secret_keys: SecretKeyFiles,
    /// What the services need besides their databases and each other.
    pub settings: Settings,
    /// TLS of the servers and of the channels between them (none by default).
    pub tls: TlsSettings,
}

/// TLS settings: plaintext unless given. One server per process (`serve`) has its own files;
/// `dev` gives the same to all five.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// The servers' certificate chain and key (PEM): they serve TLS.
    pub server: Option<ServerTlsFiles>,
    /// The CA that signed the services' certificates (PEM): channels to them use TLS and verify
    /// them with it (their URLs are `https://`).
    pub ca: Option<PathBuf>,
    /// The name the services' certificates must hold [default: the host of each URL].
    pub server_name: Option<String>,
    /// How often the certificate files are checked for a change.
    pub reload_every: Duration,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            server: None,
            ca: None,
            server_name: None,
            reload_every: Duration::from_secs(10),
        }
    }
}

/// Where the tenants and invitations services' secret keys are: each derives what it hands out
/// (temporary passwords, invitation codes) from its own key, so that a retried create answers
/// the same secret without it being stored in clear (see `partnerhub_kit::secret_key`). The two
/// never share a key. And the internal key, which every server holds: the gateway and the
/// services prove their calls to a service with it (see `partnerhub_kit::internal_call`).
#[derive(Debug, Clone)]
pub struct SecretKeyFiles {
    pub tenants: PathBuf,
    pub invitations: PathBuf,
    pub internal: PathBuf,
    /// Whether to create missing key files (`dev`); a deployment brings its own.
    pub create: bool,
}

impl SecretKeyFiles {
    /// All in `data_dir`: `tenants-secret.key`, `invitations-secret.key`, `internal-secret.key`.
    pub fn in_dir(data_dir: &Path, create: bool) -> Self {
        SecretKeyFiles {
            tenants: data_dir.join("tenants-secret.key"),
            invitations: data_dir.join("invitations-secret.key"),
            internal: data_dir.join("internal-secret.key"),
            create,
        }
    }

    /// The keys of the services among `servers`, read (and, with `create`, made if missing);
    /// a service not started here gets a key of its own in memory, never used. The internal key
    /// is read whenever a server starts: every server proves its calls with it.
    pub fn load(&self, servers: &[Server]) -> Result<SecretKeys, StartError> {
        let read = |name: &'static str, path: &Path| {
            if self.create {
                secret_key::ensure_key_file(name, path)?;
            }
            Ok::<_, StartError>(SecretKey::from_file(name, path)?)
        };
        let load = |service: Service, path: &Path| {
            if !servers.contains(&Server::Service(service)) {
                return Ok(SecretKey::generate());
            }
            read(service.name(), path)
        };
        let tenants = load(Service::Tenants, &self.tenants)?;
        let invitations = load(Service::Invitations, &self.invitations)?;
        let internal = match servers.is_empty() {
            true => SecretKey::generate(),
            false => read("internal", &self.internal)?,
        };
        Ok(SecretKeys {
            tenants,
            invitations,
            internal: InternalKey::new(internal),
        })
    }
}

/// The services' secret keys and the internal key, loaded.
#[derive(Debug, Clone)]
pub struct SecretKeys {
    pub tenants: SecretKey,
    pub invitations: SecretKey,
    pub internal: InternalKey,
}

impl SecretKeys {
    /// New random keys (a test's own server).
    pub fn generate() -> Self {
        SecretKeys {
            tenants: SecretKey::generate(),
            invitations: SecretKey::generate(),
            internal: InternalKey::generate(),
        }
    }
}

/// Where the databases are.
#[derive(Debug, Clone)]
pub struct Storage {
    /// SQLite files (one per server) and the dev signing key live here.
    pub data_dir: PathBuf,
    /// A `postgres://` URL: each server gets its own database on that server, named after the
    /// URL's database plus `_<server>` (e.g. `partnerhub_tenants`). `None`: SQLite files.
    pub database_url: Option<String>,
    /// The most connections each server's PostgreSQL pool holds (a SQLite database has one).
    pub pool_size: u32,
}

impl Storage {
    /// The database URL of `server`.
    pub fn url(&self, server: Server) -> String {
        database_url(self.database_url.as_deref(), &self.data_dir, server.name())
    }
}

/// Where one server listens and serves its metrics, and where the others call it.
#[derive(Debug, Clone)]
pub struct Section {
    /// Its gRPC address (port 0: any free port).
    pub listen: SocketAddr,
    /// Where it serves Prometheus metrics (port 0: any free port); `None`: not served.
    pub metrics: Option<SocketAddr>,
    /// Where the other servers call it; `None`: where it listens, started in the same process.
    pub url: Option<String>,
}

/// The gateway's section.
#[derive(Debug, Clone)]
pub struct GatewaySection {
    pub server: Section,
    /// Its Ed25519 signing key (PKCS#8 PEM): it signs new tokens.
    pub signing_key: PathBuf,
    /// Keys whose tokens are still accepted but that sign no more (public or private key PEM):
    /// a key about to sign (rolled out before it does), or one retired until its last tokens
    /// have expired.
    pub verification_keys: Vec<PathBuf>,
    /// Whether to create the signing key if it is missing (`dev`); a deployment brings its own.
    pub create_signing_key: bool,
    /// How long access tokens last.
    pub token_lifetime: Duration,
    /// How it treats callers beyond the table (how often an open stream's caller is checked).
    pub options: partnerhub_gateway::Options,
}

impl Configuration {
    /// The section of `server`.
    pub fn section(&self, server: Server) -> &Section {
        match server {
            Server::Gateway => &self.gateway.server,
            Server::Service(Service::Tenants) => &self.tenants,
            Server::Service(Service::Subscriptions) => &self.subscriptions,
            Server::Service(Service::Relationships) => &self.relationships,
            Server::Service(Service::Invitations) => &self.invitations,
        }
    }
}

/// Settings of the services, besides addresses and databases.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The time expiries are measured by (tests move it forward).
    pub clock: Clock,
    /// Invitation links, per cloud instance.
    pub links: partnerhub_invitations::Links,
    /// How long an untouched invitation stays usable [default: 90 days].
    pub invitation_ttl: Option<Duration>,
    /// How often a customer may ask partners to contact it [default: 5 requests and 10
    /// partners a day].
    pub contact_limit: Option<partnerhub_tenants::domain::ContactLimit>,
    /// How long after a term starts its licences may be removed [default: 168 hours].
    pub cancellation_window: Option<Duration>,
    /// Cancelled when the servers stop: ends the streams that would otherwise keep a graceful
    /// stop waiting (subscription event watchers).
    pub shutdown: CancellationToken,
}

/// Where a started server is.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub listen: SocketAddr,
    pub metrics: Option<SocketAddr>,
}

/// The running servers.
pub struct Running {
    /// Where each started server listens.
    pub bound: BTreeMap<Server, Bound>,
    /// The token issuer the gateway uses, when it runs (tests use it for operator tokens).
    pub tokens: Option<Tokens>,
    shutdown: CancellationToken,
    tasks: JoinSet<(&'static str, Result<(), ServeError>)>,
}

impl Running {
    /// Stops every server (finishing calls under way) and waits for them.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Runs until `signal` resolves or a server stops on its own (an error), then stops all.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), StartError> {
        let outcome = tokio::select! {
            _ = signal => Ok(()),
            Some(done) = self.tasks.join_next() => match done {
                Ok((service, Err(source))) => Err(StartError::Serve { service, source }),
                Ok((service, Ok(()))) => Err(StartError::Stopped(service)),
                Err(e) => Err(StartError::Stopped(if e.is_panic() { "a server (panic)" } else { "a server" })),
            },
        };
        self.stop().await;
        outcome
    }
}

/// The database URL of one server: its SQLite file under `data_dir`, or its own database on
/// the PostgreSQL server of `base`.
pub fn database_url(base: Option<&str>, data_dir: &Path, server: &str) -> String {
    let Some(base) = base else {
        return sqlite_url(data_dir, server);
    };
    let (url, query) = match base.split_once('?') {
        Some((u, q)) => (u, format!("?{q}")),
        None => (base, String::new()),
    };
    let authority_start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let (host, database) = match url[authority_start..].find('/') {
        Some(slash) => url.split_at(authority_start + slash),
        None => (url, ""),
    };
    let database = database.trim_start_matches('/');
    let database = if database.is_empty() {
        "partnerhub"
    } else {
        database
    };
    format!("{host}/{database}_{server}{query}")
}

/// Opens one server's database.
pub async fn open_database(server: impl Into<Server>, url: &str) -> Result<Database, StartError> {
    server.into().open_database(url).await
}

/// The services other services call.
#[derive(Debug, Clone)]
pub struct Peers {
    pub tenants: Peer,
    pub relationships: Peer,
    /// The subscriptions service (the invitations service checks offers there).
    pub subscriptions: Peer,
}

/// One service's server, ready to run on a bound listener; `peers` are the services it asks.
/// It answers only calls proven with `keys.internal` (health and reflection aside).
pub fn service_server(
    service: Service,
    db: Database,
    peers: &Peers,
    settings: &Settings,
    keys: &SecretKeys,
) -> partnerhub_kit::server::Server {
    let tenants = peers.tenants.clone();
    let server = match service {
        Service::Tenants => partnerhub_tenants::server(
            db,
            keys.tenants.clone(),
            settings.contact_limit.unwrap_or_default(),
        ),
        Service::Subscriptions => partnerhub_subscriptions::server_until(
            db,
            partnerhub_subscriptions::Deps {
                clock: settings.clock.clone(),
                tenants,
                relationships: peers.relationships.clone(),
                cancellation_window: settings
                    .cancellation_window
                    .unwrap_or(partnerhub_subscriptions::domain::DEFAULT_CANCELLATION_WINDOW),
            },
            settings.shutdown.clone(),
        ),
        Service::Relationships => partnerhub_relationships::server(
            db,
            partnerhub_relationships::Deps {
                clock: settings.clock.clone(),
                tenants,
            },
        ),
        Service::Invitations => {
            let mut deps = partnerhub_invitations::Deps::new(
                tenants,
                peers.subscriptions.clone(),
                keys.invitations.clone(),
            );
            deps.clock = settings.clock.clone();
            deps.links = settings.links.clone();
            if let Some(ttl) = settings.invitation_ttl {
                deps.default_ttl = ttl;
            }
            partnerhub_invitations::server(db, deps)
        }
    };
    server.internal(keys.internal.clone())
}

/// A lazy channel to a service (connects on first use, reconnects after failures) that carries
/// the request id and trace context of the call under way, and proves each call with `key`.
/// `uri` is one URL or several separated by commas; calls are spread over the replicas they
/// resolve to (see [`crate::replicas`]).
pub fn channel(uri: &str, key: &InternalKey) -> Result<Peer, StartError> {
    tls_channel(uri, key, None)
}

/// [`channel`], verifying each replica over TLS with `tls` when given: a replica is dialled at
/// its address and checked by the service's host name (or the name `tls` sets).
pub fn tls_channel(
    uri: &str,
    key: &InternalKey,
    tls: Option<&ClientTls>,
) -> Result<Peer, StartError> {
    let targets =
        crate::replicas::targets(uri).map_err(|e| StartError::Address(uri.to_string(), e))?;
    let tls = tls.cloned();
    // Each replica is reached at its address, and called by the service's name.
    let make: crate::replicas::MakeEndpoint = std::sync::Arc::new(move |address, target| {
        let origin = target.origin().parse().map_err(|e| format!("{e}"))?;
        let mut endpoint = endpoint(address).map_err(|e| e.to_string())?.origin(origin);
        if let Some(tls) = &tls {
            endpoint = endpoint
                .tls_config(tls.config_for(target.host()))
                .map_err(|e| e.to_string())?;
        }
        Ok(endpoint)
    });
    Ok(Peer::new(
        crate::replicas::balanced(targets, make),
        key.clone(),
    ))
}

/// The endpoint of one replica at `uri` (`http://10.0.0.7:50052`).
fn endpoint(uri: &str) -> Result<Endpoint, StartError> {
    Ok(Endpoint::from_shared(uri.to_string())
        .map_err(|e| StartError::Address(uri.to_string(), e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        // As the servers take (the kit's HEADER_LIST_LIMIT): an answer's trailers are bounded
        // well below, and a bigger one must not cost the connection its other calls.
        .http2_max_header_list_size(partnerhub_kit::server::HEADER_LIST_LIMIT))
}

type Serving = Pin<Box<dyn Future<Output = Result<(), ServeError>> + Send>>;

/// Starts `servers` as `config` says, each with its database and metrics. Everything is bound
/// and migrated before this returns, so callers can use the addresses at once.
pub async fn start(config: Configuration, servers: &[Server]) -> Result<Running, StartError> {
    let tokens = if servers.contains(&Server::Gateway) {
        let key = &config.gateway.signing_key;
        if config.gateway.create_signing_key {
            partnerhub_gateway::token::ensure_key_file(key)?;
        }
        Some(Tokens::from_files(
            key,
            &config.gateway.verification_keys,
            config.gateway.token_lifetime,
        )?)
    } else {
        None
    };
    let keys = config.secret_keys.load(servers)?;
    let server_tls = match &config.tls.server {
        Some(files) => Some(ServerTls::load(files.clone(), config.tls.reload_every)?),
        None => None,
    };
    let client_tls = match &config.tls.ca {
        Some(ca) => Some(ClientTls::load(ca, config.tls.server_name.clone())?),
        None => None,
    };
    // Services started here are called where they were bound, over TLS when they serve it.
    let scheme = match client_tls {
        Some(_) => "https",
        None => "http",
    };
    let mut databases = BTreeMap::new();
    for &server in servers {
        let db = server
            .open_database_with(&config.storage.url(server), config.storage.pool_size)
            .await?;
        databases.insert(server, db);
    }
    // Bind every listener first: the servers find each other by the bound addresses.
    let mut listeners = BTreeMap::new();
    let mut bound = BTreeMap::new();
    for &server in servers {
        let wanted = config.section(server).listen;
        let failed = |source| StartError::Serve {
            service: server.name(),
            source,
        };
        let listener = bind(wanted).await.map_err(failed)?;
        let listen = listener.local_addr().map_err(|source| {
            failed(ServeError::Bind {
                addr: wanted,
                source,
            })
        })?;
        listeners.insert(server, listener);
        bound.insert(
            server,
            Bound {
                listen,
                metrics: None,
            },
        );
    }
    let shutdown = config.settings.shutdown.clone();
    let mut tasks = JoinSet::new();
    let mut registries = BTreeMap::new();
    for &server in servers {
        let registry = Metrics::new();
        if let Some(addr) = config.section(server).metrics {
            let name = server.metrics_name();
            // The gateway's HTTP port also publishes its public keys.
            let pages = match (server, &tokens) {
                (Server::Gateway, Some(tokens)) => vec![partnerhub_gateway::jwks_page(tokens)],
                _ => Vec::new(),
            };
            let (addr, serving) = spawn_http(
                addr,
                registry.clone(),
                pages,
                shutdown.clone().cancelled_owned(),
            )
            .await
            .map_err(|source| StartError::Serve {
                service: name,
                source,
            })?;
            if let Some(b) = bound.get_mut(&server) {
                b.metrics = Some(addr);
            }
            tasks.spawn(async move { (name, serving.await) });
        }
        registries.insert(server, registry);
    }
    // Where each service is called: its URL, or where it was bound here; the calls are counted
    // in the calling server's `metrics`.
    let peer = |service: Service, metrics: &Metrics| {
        let server = Server::Service(service);
        let peer = match (&config.section(server).url, bound.get(&server)) {
            (Some(url), _) => tls_channel(url, &keys.internal, client_tls.as_ref()),
            (None, Some(b)) => tls_channel(
                &format!("{scheme}://{}", b.listen),
                &keys.internal,
                client_tls.as_ref(),
            ),
            (None, None) => Err(StartError::Address(
                String::new(),
                format!("no address for the {} service", service.name()),
            )),
        };
        peer.map(|p| p.with_metrics(metrics))
    };
    for (server, listener) in listeners {
        // Each server in `listeners` got its database and registry above.
        let (Some(db), Some(metrics)) = (databases.remove(&server), registries.remove(&server))
        else {
            continue;
        };
        let (limits, stop) = (config.limits, shutdown.clone().cancelled_owned());
        let listener = Listener::new(listener, server_tls.clone());
        let serving: Serving = match server {
            Server::Service(service) => {
                let peers = Peers {
                    tenants: peer(Service::Tenants, &metrics)?,
                    relationships: peer(Service::Relationships, &metrics)?,
                    subscriptions: peer(Service::Subscriptions, &metrics)?,
                };
                // A service is ready while its database answers.
                let probe = Probe::database(&db);
                let built = service_server(service, db, &peers, &config.settings, &keys)
                    .metrics(metrics)
                    .probe(probe);
                Box::pin(built.run(listener, limits, stop))
            }
            Server::Gateway => {
                let backends = Backends {
                    tenants: peer(Service::Tenants, &metrics)?,
                    subscriptions: peer(Service::Subscriptions, &metrics)?,
                    relationships: peer(Service::Relationships, &metrics)?,
                    invitations: peer(Service::Invitations, &metrics)?,
                };
                // Loaded above, as the gateway is among `servers`.
                let Some(tokens) = tokens.clone() else {
                    continue;
                };
                let options = config.gateway.options;
                Box::pin(partnerhub_gateway::serve(
                    listener, tokens, backends, db, limits, metrics, options, stop,
                ))
            }
        };
        let name = server.name();
        tasks.spawn(async move { (name, serving.await) });
    }
    Ok(Running {
        bound,
        tokens,
        shutdown,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_gets_its_own_database() {
        let dir = Path::new("data");
        assert_eq!(
            database_url(None, dir, "tenants"),
            "sqlite://data/tenants.db"
        );
        assert_eq!(
            database_url(
                Some("postgres://u:p@h:5432/ph?sslmode=disable"),
                dir,
                "tenants"
            ),
            "postgres://u:p@h:5432/ph_tenants?sslmode=disable"
        );
        assert_eq!(
            database_url(Some("postgres://h"), dir, "invitations"),
            "postgres://h/partnerhub_invitations"
        );
    }

    #[test]
    fn every_server_has_its_own_default_ports() {
        let ports: Vec<(u16, u16)> = Server::ALL
            .iter()
            .map(|s| (s.default_listen().port(), s.default_metrics().port()))
            .collect();
        assert_eq!(
            ports,
            [
                (50052, 9465),
                (50053, 9466),
                (50054, 9467),
                (50055, 9468),
                (50051, 9464)
            ]
        );
    }
}
