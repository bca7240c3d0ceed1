//! The one way a partnerhub server starts: bind first (so tests can ask for port 0 and read the
//! port back), add gRPC health and reflection (v1 and v1alpha, with the health and `google.rpc`
//! descriptors registered so grpcurl 1.8 can decode error details), a tracing span per call
//! (with its request id, joined to the caller's trace), metrics per method and status code, a
//! request timeout and a concurrency limit, and stop gracefully on a signal.

use crate::metrics::{Call, Metrics};
use crate::telemetry;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tower::Service;
use tracing::Instrument;

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
    metrics: Metrics,
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
    #[error("metrics endpoint failed: {0}")]
    Metrics(std::io::Error),
}

/// Binds `addr` and serves `metrics` there at `/metrics` until `shutdown`, in a task; gives the
/// bound address and the task.
pub async fn spawn_metrics(
    addr: SocketAddr,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<
    (
        SocketAddr,
        impl Future<Output = Result<(), ServeError>> + Send + 'static,
    ),
    ServeError,
> {
    let listener = bind(addr).await?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let serving = async move {
        metrics
            .serve(listener, shutdown)
            .await
            .map_err(ServeError::Metrics)
    };
    Ok((bound, serving))
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
            metrics: Metrics::new(),
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

    /// Counts this server's calls in `metrics` (serve them with [`Metrics::serve`]); without
    /// this the server counts into metrics nobody reads.
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The routes (the services, health and reflection) and what [`serve`] needs to observe
    /// their calls.
    pub async fn routes(self) -> Result<(Routes, Observer), ServeError> {
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
        self.metrics.know(&names, &sets);
        self.metrics.know(
            &["grpc.reflection.v1alpha.ServerReflection"],
            &[tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET],
        );
        self.metrics.know(
            &["grpc.reflection.v1.ServerReflection"],
            &[tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET],
        );
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
        let routes = self
            .routes
            .add_service(health)
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?);
        let observer = Observer {
            server: self.name,
            metrics: self.metrics,
        };
        Ok((routes, observer))
    }

    /// Serves until `shutdown` resolves, then finishes the calls under way.
    pub async fn run(
        self,
        listener: TcpListener,
        limits: Limits,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let (routes, observer) = self.routes().await?;
        serve(listener, routes.prepare(), limits, observer, shutdown).await
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves any gRPC service (the routes of [`Server::routes`], possibly wrapped, as the gateway
/// does) with the limits, observed by `observer`.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    observer: Observer,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError>
where
    S: Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let service = Observed {
        inner: service,
        observer,
    };
    tonic::transport::Server::builder()
        .timeout(limits.request_timeout)
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent_requests,
        ))
        .serve_with_incoming_shutdown(service, TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}

/// What a server observes its calls with: its name (in every call's span) and its metrics.
#[derive(Debug, Clone)]
pub struct Observer {
    server: &'static str,
    metrics: Metrics,
}

/// A service whose every call gets a request id, a span (a child of the caller's trace) that
/// every log line of the call carries, a "call ended" log line, and its place in the metrics.
#[derive(Clone)]
struct Observed<S> {
    inner: S,
    observer: Observer,
}

impl<S, B> Service<http::Request<Body>> for Observed<S>
where
    S: Service<http::Request<Body>, Response = http::Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path().to_string();
        let id = telemetry::request_id(request.headers());
        let span = tracing::info_span!(
            "call",
            server = self.observer.server,
            method = %path,
            request_id = %id,
            grpc_code = tracing::field::Empty,
            otel.name = %path,
            otel.kind = "server",
        );
        telemetry::adopt_remote_parent(&span, request.headers());
        let call = self.observer.metrics.begin(&path, span.clone());
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = telemetry::with_request_id(id.clone(), future)
                .instrument(span)
                .await;
            let (mut parts, body) = match response {
                Ok(response) => response.into_parts(),
                Err(e) => {
                    call.end(tonic::Code::Unknown);
                    return Err(e);
                }
            };
            if let Ok(value) = http::HeaderValue::from_str(&id) {
                parts.headers.insert(telemetry::REQUEST_ID, value);
            }
            // An error answered at once has its status in the headers ("trailers only"); any
            // other call ends with the trailers at the end of the body.
            let body = match parts.headers.get("grpc-status") {
                Some(code) => {
                    call.end(tonic::Code::from_bytes(code.as_bytes()));
                    Body::new(body)
                }
                None => Body::new(ObservedBody {
                    inner: body,
                    call: Some(call),
                }),
            };
            Ok(http::Response::from_parts(parts, body))
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that ends its call's metrics when the trailers pass (or, dropped early,
    /// as cancelled).
    struct ObservedBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B> http_body::Body for ObservedBody<B>
where
    B: http_body::Body<Data = bytes::Bytes>,
{
    type Data = bytes::Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(|trailers| {
                trailers
                    .get("grpc-status")
                    .map(|c| tonic::Code::from_bytes(c.as_bytes()))
                    .unwrap_or(tonic::Code::Unknown)
            }),
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => Some(tonic::Code::Unknown),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(call) = this.call.take()
        {
            call.end(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
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
