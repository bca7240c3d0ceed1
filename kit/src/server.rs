//! The one way a partnerhub server starts: bind first (so tests can ask for port 0 and read the
//! port back), add gRPC health and reflection (v1 and v1alpha, with the health and `google.rpc`
//! descriptors registered so grpcurl 1.8 can decode error details), a tracing span per call
//! (with its request id, joined to the caller's trace), metrics per method and status code, a
//! request timeout and a concurrency limit, and stop gracefully on a signal.

use crate::health::{Probe, Probing};
use crate::internal_call::{InternalKey, Proven};
use crate::metrics::{self, Call, Metrics};
use crate::telemetry;
use crate::tls::ServerTls;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tower::Service;
use tracing::Instrument;

/// Limits every server applies to every call, and how often it checks what it needs.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A call that has not answered by then fails with DEADLINE_EXCEEDED (a client's shorter
    /// `grpc-timeout` wins). A stream's answer is its first message; the stream itself may
    /// last.
    pub request_timeout: Duration,
    /// Calls handled at once; more wait for a free place, within their deadline (health checks
    /// don't wait).
    pub max_concurrent_requests: usize,
    /// How often the server checks its readiness [`Probe`]s (see [`crate::health`]).
    pub probing: Probing,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 512,
            probing: Probing::default(),
        }
    }
}

/// Collects a server's services and descriptor sets.
pub struct Server {
    name: &'static str,
    metrics: Metrics,
    public: bool,
    /// The key internal calls must prove themselves with (the services); `None`: the gateway.
    internal: Option<InternalKey>,
    routes: Routes,
    services: Vec<&'static str>,
    listed: Vec<&'static str>,
    descriptors: Vec<&'static [u8]>,
    probes: Vec<Probe>,
    probing: Probing,
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
    spawn_http(addr, metrics, Vec::new(), shutdown).await
}

/// [`spawn_metrics`], serving fixed `pages` beside `/metrics` (the gateway's JWKS).
pub async fn spawn_http(
    addr: SocketAddr,
    metrics: Metrics,
    pages: Vec<crate::metrics::Page>,
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
            .serve_with(listener, pages, shutdown)
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
            public: false,
            internal: None,
            routes: Routes::default(),
            services: Vec::new(),
            listed: Vec::new(),
            descriptors: Vec::new(),
            probes: Vec::new(),
            probing: Probing::default(),
        }
    }

    /// Serves `svc`; the health service reports it SERVING while the [`Probe`]s it follows pass.
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

    /// Lists a service in reflection and health that this server answers without
    /// `add_service` (the gateway forwards the services behind it).
    pub fn lists(mut self, name: &'static str) -> Self {
        self.listed.push(name);
        self
    }

    /// Adds a descriptor set to reflection (the health and `google.rpc` ones are always there).
    pub fn descriptors(mut self, set: &'static [u8]) -> Self {
        self.descriptors.push(set);
        self
    }

    /// Marks this server as the public edge: it starts a new trace for every call and passes
    /// no caller's trace headers on (outside callers may not join or switch off its traces).
    pub fn public(mut self) -> Self {
        self.public = true;
        self
    }

    /// Makes the server's readiness follow `probe` (see [`crate::health`]).
    pub fn probe(mut self, probe: Probe) -> Self {
        self.probes.push(probe);
        self
    }

    /// How often the probes run (the default: every 5 s, 2 s each at most).
    pub fn probing(mut self, probing: Probing) -> Self {
        self.probing = probing;
        self
    }

    /// Refuses every call but health and reflection that carries no good assertion made with
    /// `key` (see [`crate::internal_call`]): a service behind the gateway.
    pub fn internal(mut self, key: InternalKey) -> Self {
        self.internal = Some(key);
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
        let mut served = self.services.clone();
        served.extend(&self.listed);
        let probing = crate::health::start(
            self.name,
            reporter,
            &served,
            self.probes,
            self.probing,
            self.metrics.clone(),
        )
        .await;
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
            public: self.public,
            _probing: probing.map(Arc::new),
            internal: self.internal,
        };
        Ok((routes, observer))
    }

    /// Serves until `shutdown` resolves, then finishes the calls under way.
    pub async fn run(
        self,
        listener: impl Into<Listener>,
        limits: Limits,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let (routes, observer) = self.probing(limits.probing).routes().await?;
        serve(listener, routes.prepare(), limits, observer, shutdown).await
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves any gRPC service (the routes of [`Server::routes`], possibly wrapped, as the gateway
/// does) with the limits, observed by `observer`.
pub async fn serve<S, B>(
    listener: impl Into<Listener>,
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
    let stopping = CancellationToken::new();
    // Inside `Observed`: a refused call is counted and logged like any other.
    let proven = Proven::new(service, observer.internal.clone(), observer.server);
    let service = Observed {
        inner: proven,
        observer,
        limits,
        slots: Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1))),
        stopping: stopping.clone(),
    };
    let shutdown = async move {
        shutdown.await;
        // Ends the streams still open, so the graceful stop doesn't wait for their clients.
        stopping.cancel();
    };
    let builder = tonic::transport::Server::builder().http2_max_header_list_size(HEADER_LIST_LIMIT);
    match listener.into() {
        Listener::Plain(listener) => {
            builder
                .serve_with_incoming_shutdown(service, incoming(listener), shutdown)
                .await?
        }
        Listener::Tls(listener, tls) => {
            builder
                .serve_with_incoming_shutdown(service, tls.incoming(listener), shutdown)
                .await?
        }
    }
    Ok(())
}

/// Where a server takes its connections: a bound listener, plain or with TLS.
pub enum Listener {
    Plain(TcpListener),
    Tls(TcpListener, ServerTls),
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Self {
        Listener::Plain(listener)
    }
}

impl Listener {
    /// `listener` with TLS when `tls` is given.
    pub fn new(listener: TcpListener, tls: Option<ServerTls>) -> Self {
        match tls {
            Some(tls) => Listener::Tls(listener, tls),
            None => Listener::Plain(listener),
        }
    }
}

/// The connections a listener accepts, with `TCP_NODELAY` set on each. tonic ignores its own
/// `tcp_nodelay` setting for a listener it did not bind, and without it every small answer waits
/// for the peer's delayed ACK (Nagle): about 40 ms a call on Linux, 1,000x a loopback call.
/// Channels (`tonic::transport::Endpoint`) set it on their side by default.
pub fn incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// What a server observes its calls with: its name (in every call's span), its metrics, and
/// whether it is the public edge (which trusts no caller's trace context).
#[derive(Debug, Clone)]
pub struct Observer {
    server: &'static str,
    metrics: Metrics,
    public: bool,
    /// The readiness checks run until the last copy is dropped (the server stopped).
    _probing: Option<Arc<tokio_util::sync::DropGuard>>,
    internal: Option<InternalKey>,
}

/// A service whose every call gets a request id, a span (a child of the caller's trace inside
/// the system) that every log line of the call carries, a place among the calls handled at once,
/// a deadline, a "call ended" log line, and its place in the metrics.
#[derive(Clone)]
struct Observed<S> {
    inner: S,
    observer: Observer,
    limits: Limits,
    /// One permit per call handled at once (health checks need none: a busy server is alive).
    slots: Arc<Semaphore>,
    /// Cancelled when the server stops.
    stopping: CancellationToken,
}

/// The span of one call. ERROR level, so that it exists (and every warning and error of the
/// call carries its request id) whatever level the logs are filtered to; health checks get a
/// DEBUG span, so probes don't fill the logs and traces.
///
/// `trace_id` is recorded only when tracing is on (see [`telemetry::describe_call`]); an empty
/// field costs nothing.
macro_rules! call_span {
    ($level:expr, $server:expr, $method:expr, $id:expr) => {
        tracing::span!(
            $level,
            "call",
            server = $server,
            method = %$method,
            request_id = %$id,
            grpc_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            otel.name = %$method,
            otel.kind = "server",
        )
    };
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

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path().to_string();
        if !speaks_grpc(request.headers()) {
            // Not a gRPC call (a browser, curl, grpc-web): a gRPC answer (HTTP 200) would look
            // like success to it. Not counted or traced as a call either.
            tracing::debug!(server = self.observer.server, method = %path, "not gRPC: 415");
            return Box::pin(std::future::ready(Ok(unsupported_media_type())));
        }
        // Made-up paths are neither labels nor span names.
        let known = self.observer.metrics.method(&path);
        let method = if known.known {
            path.as_str()
        } else {
            "unknown"
        };
        let id = telemetry::request_id(request.headers());
        let server = self.observer.server;
        let span = if known.health {
            call_span!(tracing::Level::DEBUG, server, method, id)
        } else {
            call_span!(tracing::Level::ERROR, server, method, id)
        };
        if self.observer.public {
            // A caller outside may not join (or switch off) the system's traces.
            telemetry::forget_trace_context(request.headers_mut());
        }
        if telemetry::tracing_on() {
            if !self.observer.public {
                telemetry::adopt_remote_parent(&span, request.headers());
            }
            telemetry::describe_call(&span, known.service(), known.name());
        }
        // The client's deadline, a little early so that this answers before the transport's
        // own timer cuts the call, or the server's request timeout.
        let timeout = match grpc_timeout(request.headers()) {
            Some(asked) => asked
                .saturating_sub(Duration::from_millis(5))
                .min(self.limits.request_timeout),
            None => self.limits.request_timeout,
        };
        let streams = known.streams;
        let mut call = known.begin(span.clone());
        if self.observer.public
            && let Some(refused) = metadata_too_large(request.headers(), server, &id)
        {
            call.end(tonic::Code::ResourceExhausted);
            return Box::pin(std::future::ready(Ok(refused)));
        }
        let deadline = Instant::now().checked_add(timeout);
        if let Some(at) = deadline {
            call.deadline(at);
        }
        let slots = (!known.health).then(|| self.slots.clone());
        let future = self.inner.call(request);
        let stopping = self.stopping.clone();
        Box::pin(async move {
            let work = async move {
                // The semaphore is never closed; were it, the call would go ahead unlimited.
                let _slot = match slots {
                    Some(slots) => slots.acquire_owned().await.ok(),
                    None => None,
                };
                future.await
            };
            let answer =
                tokio::time::timeout(timeout, telemetry::within_call(id.clone(), deadline, work))
                    .instrument(span)
                    .await;
            let (mut parts, body) = match answer {
                Ok(Ok(response)) => response.into_parts(),
                Ok(Err(e)) => {
                    call.end(tonic::Code::Unknown);
                    return Err(e);
                }
                Err(_elapsed) => {
                    call.end(tonic::Code::DeadlineExceeded);
                    let status = kit_status(
                        tonic::Code::DeadlineExceeded,
                        "no answer within the deadline",
                        "DEADLINE_EXCEEDED",
                        server,
                    );
                    let mut response = status.into_http();
                    telemetry::set_request_id(response.headers_mut(), &id);
                    return Ok(response);
                }
            };
            telemetry::set_request_id(&mut parts.headers, &id);
            call.answered();
            let body = match call.unless_ended_by(&parts) {
                None => Body::new(body),
                Some(call) => Body::new(ObservedBody {
                    inner: body,
                    call: Some(call),
                    id,
                    server,
                    stopping: streams.then(|| stopping.cancelled_owned()),
                    stopped: false,
                }),
            };
            Ok(http::Response::from_parts(parts, body))
        })
    }
}

/// The content types a call may have: gRPC with protobuf messages (no grpc-web, no JSON).
const GRPC_CONTENT_TYPES: [&str; 2] = ["application/grpc", "application/grpc+proto"];

/// Whether a request is a gRPC call this server answers: its `content-type` (parameters aside)
/// is one of [`GRPC_CONTENT_TYPES`].
fn speaks_grpc(headers: &http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    GRPC_CONTENT_TYPES
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t))
}

/// HTTP 415 for a request that is no gRPC call, as the gRPC protocol asks of a server, saying
/// what it takes.
fn unsupported_media_type() -> http::Response<Body> {
    let accepted = GRPC_CONTENT_TYPES.join(", ");
    let mut response = http::Response::new(Body::new(format!(
        "partnerhub answers gRPC only: content-type {accepted}\n"
    )));
    *response.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(value) = http::HeaderValue::from_str(&accepted) {
        headers.insert(http::header::ACCEPT, value);
    }
    response
}

/// The most metadata (headers, counted as HTTP/2 counts them: name, value and 32 bytes each) a
/// call to the public server may carry; more is refused on its own stream, RESOURCE_EXHAUSTED
/// `METADATA_TOO_LARGE`, and the connection's other calls go on.
pub const MAX_METADATA: usize = 16 * 1024;

/// The largest header block HTTP/2 takes from a peer (SETTINGS_MAX_HEADER_LIST_SIZE), on every
/// server and channel: large enough that a call over [`MAX_METADATA`] reaches the check above
/// and is answered as gRPC. Between this and 4 times it, HTTP/2 itself refuses the stream (HTTP
/// 431); beyond that, it closes the connection (`ENHANCE_YOUR_CALM`), as only an attack sends a
/// megabyte of headers.
pub const HEADER_LIST_LIMIT: u32 = 256 * 1024;

/// The refusal of a call whose metadata is over [`MAX_METADATA`], if it is.
fn metadata_too_large(
    headers: &http::HeaderMap,
    server: &str,
    id: &str,
) -> Option<http::Response<Body>> {
    let size: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum();
    if size <= MAX_METADATA {
        return None;
    }
    let status = kit_status(
        tonic::Code::ResourceExhausted,
        &format!(
            "the call's metadata is {size} bytes; at most {MAX_METADATA} are taken (headers \
             count their name, value and 32 bytes each)"
        ),
        "METADATA_TOO_LARGE",
        server,
    );
    let mut response = status.into_http();
    telemetry::set_request_id(response.headers_mut(), id);
    Some(response)
}

/// A status answered by the kit itself, with its `ErrorInfo` like every other error.
pub(crate) fn kit_status(
    code: tonic::Code,
    message: &str,
    reason: &str,
    server: &str,
) -> tonic::Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let details = ErrorDetails::with_error_info(
        reason,
        format!("{server}.partnerhub"),
        std::collections::HashMap::new(),
    );
    tonic::Status::with_error_details(code, message, details)
}

/// What a stream still open when its server stops ends with: UNAVAILABLE, reason
/// `SERVER_STOPPING` (call again; a stream resumes from its last cursor).
pub fn stopping_status(server: &str) -> tonic::Status {
    kit_status(
        tonic::Code::Unavailable,
        "the server is stopping; call again (a stream resumes from its last cursor)",
        "SERVER_STOPPING",
        server,
    )
}

/// The `grpc-timeout` a client sent ("100m", "5S", ...: at most 8 digits and a unit).
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.saturating_mul(3600)),
        "M" => Duration::from_secs(amount.saturating_mul(60)),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

pin_project_lite::pin_project! {
    /// A response body that ends its call's metrics when the trailers pass (or, dropped early,
    /// as cancelled), keeps the call's span and request id while it is produced, and ends with
    /// UNAVAILABLE when the server stops (a stream would otherwise hold the stop up).
    struct ObservedBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
        id: String,
        server: &'static str,
        // Only for server-streaming methods: a unary answer under way always finishes.
        #[pin]
        stopping: Option<WaitForCancellationFutureOwned>,
        stopped: bool,
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
        if *this.stopped {
            return Poll::Ready(None);
        }
        let span = this.call.as_ref().map(Call::span);
        let _entered = span.as_ref().map(|s| s.enter());
        let inner = this.inner;
        let polled = telemetry::sync_with_request_id(this.id.clone(), || inner.poll_frame(cx));
        if polled.is_pending()
            && let Some(stopping) = this.stopping.as_pin_mut()
            && stopping.poll(cx).is_ready()
        {
            *this.stopped = true;
            if let Some(call) = this.call.take() {
                call.end(tonic::Code::Unavailable);
            }
            let status = stopping_status(this.server);
            let (parts, ()) = status.into_http::<()>().into_parts();
            let mut trailers = parts.headers;
            trailers.remove(http::header::CONTENT_TYPE);
            return Poll::Ready(Some(Ok(http_body::Frame::trailers(trailers))));
        }
        metrics::end_at(this.call, &polled);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.stopped || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        if self.stopped {
            return http_body::SizeHint::with_exact(0);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout_of(value: &str) -> Option<Duration> {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-timeout", http::HeaderValue::from_str(value).unwrap());
        grpc_timeout(&headers)
    }

    #[test]
    fn grpc_timeouts_are_read_in_every_unit() {
        assert_eq!(timeout_of("100m"), Some(Duration::from_millis(100)));
        assert_eq!(timeout_of("5S"), Some(Duration::from_secs(5)));
        assert_eq!(timeout_of("2M"), Some(Duration::from_secs(120)));
        assert_eq!(timeout_of("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(timeout_of("7u"), Some(Duration::from_micros(7)));
        assert_eq!(timeout_of("9n"), Some(Duration::from_nanos(9)));
    }

    #[test]
    fn only_grpc_content_types_are_calls() {
        let speaks = |value: Option<&str>| {
            let mut headers = http::HeaderMap::new();
            if let Some(value) = value {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_str(value).unwrap(),
                );
            }
            speaks_grpc(&headers)
        };
        for yes in [
            "application/grpc",
            "application/grpc+proto",
            "Application/GRPC",
            "application/grpc; charset=utf-8",
        ] {
            assert!(speaks(Some(yes)), "{yes}");
        }
        for no in [
            "application/json",
            "text/plain",
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grpc-web-text",
            "application/grpc+json",
            "application/grpcx",
            "",
        ] {
            assert!(!speaks(Some(no)), "{no}");
        }
        assert!(!speaks(None));
    }

    #[test]
    fn a_malformed_grpc_timeout_is_ignored() {
        for bad in ["", "m", "5", "5x", "123456789S", "-1S", "1.5S"] {
            assert_eq!(timeout_of(bad), None, "{bad}");
        }
    }
}
