//! What crosses a hop between servers besides the call itself: the request id and the trace
//! context, and the OTLP exporter that sends traces when one is configured.
//!
//! Every call a server takes gets a request id: the caller's `x-request-id` when it sent a
//! sensible one, otherwise a new UUID. The id is a field of the call's span (so every log line of
//! the call carries it), is sent back in the response's `x-request-id`, and goes along on every
//! call this server makes to another one while handling it, through a [`Peer`]; so does the time
//! its caller still waits (`grpc-timeout`), so deadlines propagate without handlers passing them
//! on. So do the
//! W3C `traceparent`/`tracestate` headers, when tracing is on: one trace shows a whole workflow
//! across the gateway and the services.
//!
//! Tracing is on once [`otlp_tracer`] has installed an exporter. Only then does a call's span
//! get OpenTelemetry's RPC attributes and its log lines the trace id, and only then are trace
//! headers read and written: a server without a collector (the default) pays nothing for them.

use crate::internal_call::InternalKey;
use crate::metrics::{self, ClientMetrics, Metrics};
use opentelemetry::propagation::{Extractor, Injector};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tonic::body::Body;
use tonic::transport::Channel;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header that carries the request id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// Set once [`otlp_tracer`] has installed an exporter; never unset.
static TRACING: AtomicBool = AtomicBool::new(false);

/// Whether traces are exported (see [`otlp_tracer`]).
pub fn tracing_on() -> bool {
    TRACING.load(Ordering::Relaxed)
}

tokio::task_local! {
    /// The call the current task is handling.
    static CURRENT: Call;
}

/// What the current task's outgoing calls inherit from the call it is handling.
#[derive(Debug, Clone)]
struct Call {
    request_id: String,
    /// When the caller stops waiting; `None` for work with no caller waiting (a stream's body).
    deadline: Option<Instant>,
}

/// The header that carries a call's deadline, as the time left (gRPC's own).
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// Runs `fut` as part of the call with request id `id` whose caller waits until `deadline`: its
/// outgoing calls through a [`Peer`] carry the id and the time left, so a service behind gives
/// up when the caller does, with no handler passing the deadline along.
pub async fn within_call<F: Future>(id: String, deadline: Option<Instant>, fut: F) -> F::Output {
    CURRENT
        .scope(
            Call {
                request_id: id,
                deadline,
            },
            fut,
        )
        .await
}

/// Runs `f` as part of the call with request id `id` (for work a call does outside its task's
/// future, such as producing its response body; no deadline applies there).
pub fn sync_with_request_id<R>(id: String, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(
        Call {
            request_id: id,
            deadline: None,
        },
        f,
    )
}

/// The request id of the call the current task is handling, if any.
pub fn current_request_id() -> Option<String> {
    CURRENT.try_with(|c| c.request_id.clone()).ok()
}

/// How much longer than the current call an outgoing call may wait. The current call's own
/// timer must fire first: it answers DEADLINE_EXCEEDED and drops the outgoing call (which
/// cancels it at the service behind), rather than relaying the client's "timeout expired".
const OUTGOING_GRACE: Duration = Duration::from_millis(10);

/// The time the current call's caller still waits, if it set a deadline.
fn time_left() -> Option<Duration> {
    let deadline = CURRENT.try_with(|c| c.deadline).ok().flatten()?;
    Some(deadline.saturating_duration_since(Instant::now()))
}

/// Whether the current call's caller has stopped waiting (its deadline passed).
pub fn deadline_passed() -> bool {
    time_left().is_some_and(|left| left.is_zero())
}

/// `grpc-timeout` for `left`, in milliseconds (at least 1: zero would mean none), within the
/// header's eight digits.
fn grpc_timeout_value(left: Duration) -> http::HeaderValue {
    let millis = left.as_millis().clamp(1, 99_999_999);
    http::HeaderValue::from_str(&format!("{millis}m"))
        .unwrap_or(http::HeaderValue::from_static("1m"))
}

/// The request id to use for a call: the caller's, if it is 1 to 128 characters of letters,
/// digits and `-_.:/+=` (anything else could forge log lines), or a new one.
pub fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The trace context a caller sent in `headers` (empty when tracing is off or none was sent).
pub fn remote_context(headers: &http::HeaderMap) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// Removes a caller's trace context from `headers` (the public edge doesn't pass it on).
pub fn forget_trace_context(headers: &mut http::HeaderMap) {
    for name in ["traceparent", "tracestate", "baggage"] {
        headers.remove(name);
    }
}

/// Makes `span` a child of the trace context the caller sent, if any.
pub fn adopt_remote_parent(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = remote_context(headers);
    // Fails only when there is no OpenTelemetry layer: nothing to join then.
    let _ = span.set_parent(parent);
}

/// Gives a server's call span OpenTelemetry's RPC attributes (`rpc.system`, `rpc.service`,
/// `rpc.method`) and records its trace id in its `trace_id` field, so that the call's log lines
/// name its trace. Call it once the span has its parent. The attributes go straight to the
/// OpenTelemetry span, so the log lines never format them.
pub fn describe_call(span: &tracing::Span, service: &str, method: &str) {
    use opentelemetry::trace::TraceContextExt;
    span.set_attribute("rpc.system", "grpc");
    span.set_attribute("rpc.service", service.to_string());
    span.set_attribute("rpc.method", method.to_string());
    let trace_id = span.context().span().span_context().trace_id();
    if trace_id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// Gives a server's call span the status code it ended with (`rpc.grpc.status_code`).
pub fn describe_end(span: &tracing::Span, code: tonic::Code) {
    span.set_attribute("rpc.grpc.status_code", code as i64);
}

/// Sets the `x-request-id` header (ids are checked or made by [`request_id`], so always fit).
pub fn set_request_id(headers: &mut http::HeaderMap, id: &str) {
    if let Ok(value) = http::HeaderValue::from_str(id) {
        headers.insert(REQUEST_ID, value);
    }
}

/// Adds the current call's request id, the time its caller still waits (unless the outgoing
/// call set its own) and trace context to an outgoing call's headers.
pub fn inject(headers: &mut http::HeaderMap) {
    if let Some(id) = current_request_id() {
        set_request_id(headers, &id);
    }
    if !headers.contains_key(GRPC_TIMEOUT)
        && let Some(left) = time_left()
    {
        headers.insert(GRPC_TIMEOUT, grpc_timeout_value(left + OUTGOING_GRACE));
    }
    if !tracing_on() {
        return;
    }
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut HeaderInjector(headers))
    });
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// An error with its causes, `outer: inner: innermost` ("transport error" alone says little).
pub fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A channel to another partnerhub server that carries the request id and the trace context of
/// the call under way, and proves each call with an assertion made with the internal key (see
/// [`crate::internal_call`]), over the caller headers the call carries. Every client one server
/// holds of another is a client of a `Peer`. With [`Peer::with_metrics`], its calls are counted
/// in the calling server's metrics (`grpc_client_*`).
#[derive(Debug, Clone)]
pub struct Peer {
    channel: Channel,
    key: InternalKey,
    metrics: Option<ClientMetrics>,
}

impl Peer {
    pub fn new(channel: Channel, key: InternalKey) -> Self {
        Peer {
            channel,
            key,
            metrics: None,
        }
    }

    /// Counts this peer's calls in `metrics`, the calling server's.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.metrics = Some(metrics.client());
        self
    }
}

impl tower::Service<http::Request<Body>> for Peer {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = PeerFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.channel, cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let call = self.metrics.as_ref().map(|m| m.begin(parts.uri.path()));
        inject(&mut parts.headers);
        // Last: the caller headers are set by now (the gateway sets them before forwarding).
        self.key.sign(parts.uri.path(), &mut parts.headers);
        PeerFuture {
            inner: self.channel.call(http::Request::from_parts(parts, body)),
            call,
        }
    }
}

pin_project_lite::pin_project! {
    /// A call through a [`Peer`], until its answer's head. A call that reaches no server (a
    /// transport error) counts as UNAVAILABLE; dropped before its answer, as cancelled.
    pub struct PeerFuture {
        #[pin]
        inner: tonic::transport::channel::ResponseFuture,
        call: Option<metrics::Call>,
    }
}

impl Future for PeerFuture {
    type Output = Result<http::Response<Body>, tonic::transport::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = std::task::ready!(this.inner.poll(cx));
        let Some(call) = this.call.take() else {
            return Poll::Ready(answer);
        };
        Poll::Ready(match answer {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                let body = match call.unless_ended_by(&parts) {
                    None => body,
                    Some(call) => Body::new(CountedBody {
                        inner: body,
                        call: Some(call),
                    }),
                };
                Ok(http::Response::from_parts(parts, body))
            }
            Err(e) => {
                call.end(tonic::Code::Unavailable);
                Err(e)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// An answer's body that ends its call at the trailers (dropped before, as cancelled).
    struct CountedBody<B> {
        #[pin]
        inner: B,
        call: Option<metrics::Call>,
    }
}

impl<B> http_body::Body for CountedBody<B>
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
        metrics::end_at(this.call, &polled);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Why tracing could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("can't export traces to {endpoint}: {message}")]
pub struct TracingError {
    endpoint: String,
    message: String,
}

/// Sends traces over OTLP/gRPC to `endpoint` (e.g. `http://127.0.0.1:4317`) as `service`.
/// Every span at INFO or above is sent (no sampling): put a sampling collector in between for
/// heavy traffic.
/// Must be called inside the Tokio runtime. Keep the provider and call
/// [`opentelemetry_sdk::trace::SdkTracerProvider::shutdown`] before exiting, to send the last
/// spans. Also installs the W3C trace-context propagator that [`Peer`] and the servers use,
/// and turns tracing on for the whole process ([`tracing_on`]).
pub fn otlp_tracer(
    endpoint: &str,
    service: &str,
) -> Result<
    (
        opentelemetry_sdk::trace::SdkTracerProvider,
        opentelemetry_sdk::trace::Tracer,
    ),
    TracingError,
> {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig;
    // Only OTLP over gRPC is built in; an injector asking for http/protobuf (port 4318) would
    // otherwise get silence.
    if let Ok(protocol) = std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL")
        && protocol != "grpc"
    {
        return Err(TracingError {
            endpoint: endpoint.to_string(),
            message: format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL is {protocol:?}, but partnerhub sends OTLP over \
                 gRPC only (set it to \"grpc\" and use the collector's gRPC port, usually 4317)"
            ),
        });
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| TracingError {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        })?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service.to_string())
                .build(),
        )
        .build();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let tracer = provider.tracer("partnerhub");
    TRACING.store(true, Ordering::Relaxed);
    Ok((provider, tracer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(REQUEST_ID, http::HeaderValue::from_str(id).unwrap());
        h
    }

    #[test]
    fn a_sensible_caller_request_id_is_kept() {
        assert_eq!(request_id(&headers("abc-123_x.y:z")), "abc-123_x.y:z");
    }

    #[test]
    fn a_request_id_that_could_forge_log_lines_is_replaced() {
        for bad in ["has space", "quote\"d", "", &"x".repeat(129)] {
            let id = request_id(&headers(bad));
            assert_ne!(id, bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        }
        assert!(uuid::Uuid::parse_str(&request_id(&http::HeaderMap::new())).is_ok());
    }

    #[tokio::test]
    async fn outgoing_calls_carry_the_current_request_id() {
        let mut h = http::HeaderMap::new();
        inject(&mut h);
        assert!(h.get(REQUEST_ID).is_none());
        within_call("r-1".into(), None, async {
            inject(&mut h);
        })
        .await;
        assert_eq!(h.get(REQUEST_ID).unwrap(), "r-1");
        assert!(h.get(GRPC_TIMEOUT).is_none(), "no deadline, no timeout");
    }

    /// The sample of `name` in `page` whose labels include every one of `labels`.
    fn sample(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
        page.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .find(|l| labels.iter().all(|label| l.contains(label)))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    #[tokio::test]
    async fn a_peer_counts_a_call_that_reaches_no_server_as_unavailable() {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_client::HealthClient;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let metrics = Metrics::new();
        let peer = Peer::new(channel, InternalKey::generate()).with_metrics(&metrics);
        let answer = HealthClient::new(peer)
            .check(HealthCheckRequest::default())
            .await;
        assert_eq!(answer.unwrap_err().code(), tonic::Code::Unavailable);
        let page = metrics.render();
        let check = [
            r#"grpc_type="unary""#,
            r#"grpc_service="grpc.health.v1.Health""#,
            r#"grpc_method="Check""#,
        ];
        let unavailable = [&check[..], &[r#"grpc_code="Unavailable""#]].concat();
        assert_eq!(
            sample(&page, "grpc_client_handled_total", &unavailable),
            Some(1.0),
            "{page}"
        );
        assert_eq!(
            sample(&page, "grpc_client_started_total", &check),
            Some(1.0)
        );
        assert_eq!(
            sample(&page, "grpc_client_handling_seconds_count", &check),
            Some(1.0)
        );
        // The server side saw nothing; a method never called shows no samples.
        assert!(!page.contains("grpc_server_started_total{"), "{page}");
        assert!(!page.contains("Watch"), "{page}");
    }

    #[tokio::test]
    async fn outgoing_calls_carry_the_time_the_caller_still_waits() {
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut h = http::HeaderMap::new();
        within_call("r-2".into(), Some(deadline), async {
            inject(&mut h);
        })
        .await;
        let sent = h.get(GRPC_TIMEOUT).unwrap().to_str().unwrap();
        let millis: u64 = sent.strip_suffix('m').unwrap().parse().unwrap();
        assert!((2_900..=3_010).contains(&millis), "{sent}");

        // A call that set its own timeout keeps it; a deadline already passed sends only the grace.
        let mut own = http::HeaderMap::new();
        own.insert(GRPC_TIMEOUT, http::HeaderValue::from_static("5S"));
        let past = Instant::now() - Duration::from_millis(10);
        let mut late = http::HeaderMap::new();
        within_call("r-3".into(), Some(past), async {
            inject(&mut own);
            inject(&mut late);
        })
        .await;
        assert_eq!(own.get(GRPC_TIMEOUT).unwrap(), "5S");
        assert_eq!(late.get(GRPC_TIMEOUT).unwrap(), "10m");
        assert_eq!(
            grpc_timeout_value(Duration::from_secs(10 << 30)),
            "99999999m"
        );
    }
}
