//! The one way a partnerhub server starts: bind first (so tests can ask for port 0 and read the
//! port back), add gRPC health and reflection (v1 and v1alpha, with the health and `google.rpc`
//! descriptors registered so grpcurl 1.8 can decode error details), a tracing span per call,
//! a request timeout and a concurrency limit, and stop gracefully on a signal.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tower::Service;

/// Limits every server applies to every call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A call that has not answered by then fails with CANCELLED (a client's shorter
    /// `grpc-timeout` wins).
    pub request_timeout: Duration,
    /// Calls handled at once; more wait for a free place (within their timeout).
    pub max_concurrent_requests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 512,
        }
    }
}

/// Collects a server's services and descriptor sets.
pub struct Server {
    name: &'static str,
    routes: Routes,
    services: Vec<&'static str>,
    listed: Vec<&'static str>,
    descriptors: Vec<&'static [u8]>,
}

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("can't listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("bad descriptor set for reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("bad descriptor set: {0}")]
    Descriptors(String),
    #[error("server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Binds a listener. Port 0 picks a free port; `local_addr()` tells which.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

impl Server {
    /// A server named `name` in logs.
    pub fn new(name: &'static str) -> Self {
        Server {
            name,
            routes: Routes::default(),
            services: Vec::new(),
            listed: Vec::new(),
            descriptors: Vec::new(),
        }
    }

    /// Serves `svc`; it is reported SERVING by the health service.
    pub fn add_service<S>(mut self, svc: S) -> Self
    where
        S: Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.services.push(S::NAME);
        self.routes = self.routes.add_service(svc);
        self
    }

    /// Lists a service in reflection that this server answers without `add_service` (the
    /// gateway forwards the services behind it).
    pub fn lists(mut self, name: &'static str) -> Self {
        self.listed.push(name);
        self
    }

    /// Adds a descriptor set to reflection (the health and `google.rpc` ones are always there).
    pub fn descriptors(mut self, set: &'static [u8]) -> Self {
        self.descriptors.push(set);
        self
    }

    /// The routes: the services, health and reflection.
    pub async fn routes(self) -> Result<Routes, ServeError> {
        let (reporter, health) = tonic_health::server::health_reporter();
        for name in &self.services {
            reporter
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        let mut sets = self.descriptors;
        sets.push(tonic_health::pb::FILE_DESCRIPTOR_SET);
        sets.push(tonic_types::pb::FILE_DESCRIPTOR_SET);
        // Reflection lists what this server answers, not every service of its descriptor sets.
        let mut names = self.services.clone();
        names.extend(&self.listed);
        names.extend([
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
        ]);
        let reflection = || {
            let builder = sets
                .iter()
                .fold(tonic_reflection::server::Builder::configure(), |b, set| {
                    b.register_encoded_file_descriptor_set(set)
                });
            names
                .iter()
                .fold(builder, |b, name| b.with_service_name(*name))
        };
        tracing::debug!(server = self.name, services = ?self.services, "routes ready");
        Ok(self
            .routes
            .add_service(health)
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?))
    }

    /// Serves until `shutdown` resolves, then finishes the calls under way.
    pub async fn run(
        self,
        listener: TcpListener,
        limits: Limits,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let routes = self.routes().await?;
        serve(listener, routes.prepare(), limits, shutdown).await
    }
}

/// Serves any gRPC service (the routes of [`Server::routes`], possibly wrapped, as the gateway
/// does) with the limits and a tracing span per call.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError>
where
    S: Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tonic::transport::Server::builder()
        .timeout(limits.request_timeout)
        .trace_fn(|request| tracing::info_span!("call", method = %request.uri().path()))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent_requests,
        ))
        .serve_with_incoming_shutdown(service, TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing the calls under way");
}
