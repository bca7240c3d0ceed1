//! Starting servers: the four services and the gateway, each its own gRPC server with its own
//! database.

use partnerhub_gateway::{Backends, Tokens};
use partnerhub_kit::metrics::Metrics;
use partnerhub_kit::server::{Limits, ServeError, bind, spawn_metrics};
use partnerhub_kit::store::{Database, OpenError, sqlite_url};
use partnerhub_kit::telemetry::Peer;
use partnerhub_kit::time::Clock;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::transport::Endpoint;

/// The four services, in the order they start.
pub const SERVICES: [&str; 4] = ["tenants", "subscriptions", "relationships", "invitations"];

/// Where `partnerhub dev` listens unless told otherwise.
pub const DEFAULT_GATEWAY: &str = "127.0.0.1:50051";
/// Default ports of the four services, in [`SERVICES`] order.
pub const DEFAULT_SERVICE_PORTS: [u16; 4] = [50052, 50053, 50054, 50055];
/// The gateway's metrics port; the services' follow in [`SERVICES`] order.
/// (9464, the OpenTelemetry Prometheus exporter's port, rather than 9090, Prometheus' own.)
pub const DEFAULT_METRICS_PORT: u16 = 9464;

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
    #[error(
        "unknown service {0:?}; one of tenants, subscriptions, relationships, invitations, gateway"
    )]
    UnknownService(String),
    #[error("{0} stopped unexpectedly")]
    Stopped(&'static str),
    #[error("bad service address {0:?}: {1}")]
    Address(String, String),
}

/// How to run the whole system.
#[derive(Debug, Clone)]
pub struct SystemConfig {
    /// SQLite files and the dev signing key live here.
    pub data_dir: PathBuf,
    /// A `postgres://` URL: each service gets its own database on that server, named after the
    /// URL's database plus `_<service>` (e.g. `partnerhub_tenants`). `None`: SQLite files.
    pub database_url: Option<String>,
    /// The gateway's address.
    pub gateway: SocketAddr,
    /// The services' addresses, in [`SERVICES`] order (port 0: any free port).
    pub services: [SocketAddr; 4],
    /// The gateway's Ed25519 signing key (PKCS#8 PEM); created if missing.
    pub signing_key: PathBuf,
    /// How long access tokens last.
    pub token_lifetime: Duration,
    /// Limits of every server.
    pub limits: Limits,
    /// Where each server serves its Prometheus metrics, the gateway first, then the services in
    /// [`SERVICES`] order (port 0: any free port); `None`: not served.
    pub metrics: Option<[SocketAddr; 5]>,
    /// What the services need besides their databases (the tenants channel is made here).
    pub settings: Settings,
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
    /// Cancelled when the servers stop: ends the streams that would otherwise keep a graceful
    /// stop waiting (subscription event watchers).
    pub shutdown: CancellationToken,
}

/// The running system.
pub struct Running {
    /// Where the gateway listens.
    pub gateway: SocketAddr,
    /// Where each service listens, in [`SERVICES`] order.
    pub services: [SocketAddr; 4],
    /// Where the metrics are served, in [`SystemConfig::metrics`] order.
    pub metrics: Option<[SocketAddr; 5]>,
    /// The token issuer the gateway uses (tests use it for operator tokens).
    pub tokens: Tokens,
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
    pub async fn run_until(
        mut self,
        signal: impl std::future::Future<Output = ()>,
    ) -> Result<(), StartError> {
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

/// The database URL of one service: its SQLite file under `data_dir`, or its own database on
/// the PostgreSQL server of `base`.
pub fn database_url(base: Option<&str>, data_dir: &Path, service: &str) -> String {
    let Some(base) = base else {
        return sqlite_url(data_dir, service);
    };
    let (url, query) = match base.split_once('?') {
        Some((u, q)) => (u, format!("?{q}")),
        None => (base, String::new()),
    };
    let authority_start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let (server, database) = match url[authority_start..].find('/') {
        Some(slash) => url.split_at(authority_start + slash),
        None => (url, ""),
    };
    let database = database.trim_start_matches('/');
    let database = if database.is_empty() {
        "partnerhub"
    } else {
        database
    };
    format!("{server}/{database}_{service}{query}")
}

/// Opens one service's database (or the gateway's, which keeps the audit trail).
pub async fn open_database(service: &'static str, url: &str) -> Result<Database, StartError> {
    let result = match service {
        "tenants" => partnerhub_tenants::open(url).await,
        "subscriptions" => partnerhub_subscriptions::open(url).await,
        "relationships" => partnerhub_relationships::open(url).await,
        "invitations" => partnerhub_invitations::open(url).await,
        "gateway" => partnerhub_gateway::audit::open(url).await,
        other => return Err(StartError::UnknownService(other.to_string())),
    };
    result.map_err(|source| StartError::Database { service, source })
}

/// The name of a service as `'static`, or UNKNOWN_SERVICE.
pub fn service_name(name: &str) -> Result<&'static str, StartError> {
    SERVICES
        .iter()
        .find(|s| **s == name)
        .copied()
        .ok_or_else(|| StartError::UnknownService(name.into()))
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
pub fn service_server(
    service: &'static str,
    db: Database,
    peers: &Peers,
    settings: &Settings,
) -> partnerhub_kit::server::Server {
    let tenants = peers.tenants.clone();
    match service {
        "tenants" => partnerhub_tenants::server(db),
        "subscriptions" => partnerhub_subscriptions::server_until(
            db,
            partnerhub_subscriptions::Deps {
                clock: settings.clock.clone(),
                tenants,
                relationships: peers.relationships.clone(),
            },
            settings.shutdown.clone(),
        ),
        "relationships" => partnerhub_relationships::server(
            db,
            partnerhub_relationships::Deps {
                clock: settings.clock.clone(),
                tenants,
            },
        ),
        _ => {
            let mut deps = partnerhub_invitations::Deps::new(tenants, peers.subscriptions.clone());
            deps.clock = settings.clock.clone();
            deps.links = settings.links.clone();
            if let Some(ttl) = settings.invitation_ttl {
                deps.default_ttl = ttl;
            }
            partnerhub_invitations::server(db, deps)
        }
    }
}

/// A lazy channel to a service (connects on first use, reconnects after failures) that carries
/// the request id and trace context of the call under way.
pub fn channel(uri: &str) -> Result<Peer, StartError> {
    let endpoint = Endpoint::from_shared(uri.to_string())
        .map_err(|e| StartError::Address(uri.to_string(), e.to_string()))?
        .connect_timeout(Duration::from_secs(5));
    Ok(Peer::new(endpoint.connect_lazy()))
}

/// The services behind a gateway, from their URIs in [`SERVICES`] order.
pub fn backends(uris: [&str; 4]) -> Result<Backends, StartError> {
    Ok(Backends {
        tenants: channel(uris[0])?,
        subscriptions: channel(uris[1])?,
        relationships: channel(uris[2])?,
        invitations: channel(uris[3])?,
    })
}

/// Starts the four services and the gateway. Everything is bound and migrated before this
/// returns, so callers can use the addresses at once.
pub async fn start(config: SystemConfig) -> Result<Running, StartError> {
    partnerhub_gateway::token::ensure_key_file(&config.signing_key)?;
    let tokens = Tokens::from_pem_file(&config.signing_key, config.token_lifetime)?;
    let mut databases = Vec::new();
    for service in SERVICES {
        let url = database_url(config.database_url.as_deref(), &config.data_dir, service);
        databases.push(open_database(service, &url).await?);
    }
    let gateway_db = open_database(
        "gateway",
        &database_url(config.database_url.as_deref(), &config.data_dir, "gateway"),
    )
    .await?;
    // Bind every listener first: the services find each other by the bound addresses.
    let mut listeners = Vec::new();
    let mut addresses = config.services;
    for (i, service) in SERVICES.into_iter().enumerate() {
        let listener = bind(config.services[i])
            .await
            .map_err(|source| StartError::Serve { service, source })?;
        addresses[i] = listener.local_addr().map_err(|e| StartError::Serve {
            service,
            source: ServeError::Bind {
                addr: config.services[i],
                source: e,
            },
        })?;
        listeners.push(listener);
    }
    let peers = Peers {
        tenants: channel(&format!("http://{}", addresses[0]))?,
        relationships: channel(&format!("http://{}", addresses[2]))?,
        subscriptions: channel(&format!("http://{}", addresses[1]))?,
    };
    let shutdown = config.settings.shutdown.clone();
    let mut tasks = JoinSet::new();
    let registries: [Metrics; 5] = Default::default();
    let mut metrics_addrs = None;
    if let Some(addrs) = config.metrics {
        let mut bound = addrs;
        let names = [
            "gateway metrics",
            "tenants metrics",
            "subscriptions metrics",
            "relationships metrics",
            "invitations metrics",
        ];
        for (i, name) in names.into_iter().enumerate() {
            let stop = shutdown.clone();
            let (addr, serving) =
                spawn_metrics(addrs[i], registries[i].clone(), stop.cancelled_owned())
                    .await
                    .map_err(|source| StartError::Serve {
                        service: name,
                        source,
                    })?;
            bound[i] = addr;
            tasks.spawn(async move { (name, serving.await) });
        }
        metrics_addrs = Some(bound);
    }
    for (i, ((service, db), listener)) in SERVICES
        .into_iter()
        .zip(databases)
        .zip(listeners)
        .enumerate()
    {
        let server = service_server(service, db, &peers, &config.settings)
            .metrics(registries[i + 1].clone());
        let (limits, stop) = (config.limits, shutdown.clone());
        tasks.spawn(async move {
            (
                service,
                server.run(listener, limits, stop.cancelled_owned()).await,
            )
        });
    }
    let uris = addresses.map(|a| format!("http://{a}"));
    let backends = backends([&uris[0], &uris[1], &uris[2], &uris[3]])?;
    let listener = bind(config.gateway)
        .await
        .map_err(|source| StartError::Serve {
            service: "gateway",
            source,
        })?;
    let gateway = listener.local_addr().map_err(|e| StartError::Serve {
        service: "gateway",
        source: ServeError::Bind {
            addr: config.gateway,
            source: e,
        },
    })?;
    let gateway_tokens = tokens.clone();
    let gateway_metrics = registries[0].clone();
    let limits = config.limits;
    let stop = shutdown.clone();
    tasks.spawn(async move {
        let result = partnerhub_gateway::serve(
            listener,
            gateway_tokens,
            backends,
            gateway_db,
            limits,
            gateway_metrics,
            stop.cancelled_owned(),
        )
        .await;
        ("gateway", result)
    });
    Ok(Running {
        gateway,
        services: addresses,
        metrics: metrics_addrs,
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
}
