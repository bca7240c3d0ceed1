//! Prometheus metrics of one server, served over HTTP at `/metrics`.
//!
//! The names and labels are those of go-grpc-prometheus, which Grafana dashboards for gRPC
//! already use (`grpc_type` is `unary` or `server_stream`, the kinds the contract has):
//! - `grpc_server_started_total{grpc_type, grpc_service, grpc_method}`: calls begun;
//! - `grpc_server_handled_total{grpc_type, grpc_service, grpc_method, grpc_code}`: calls ended,
//!   by status code (`OK`, `InvalidArgument`, ...);
//! - `grpc_server_handling_seconds{grpc_type, grpc_service, grpc_method}`: a latency histogram,
//!   to the end of the response (for a stream, its whole life);
//! - `grpc_server_in_flight{grpc_type, grpc_service, grpc_method}`: calls under way.
//!
//! The calls a server makes to the others (through a `telemetry::Peer`) are counted from its
//! side, with the same labels:
//! - `grpc_client_started_total`: calls begun;
//! - `grpc_client_handled_total`: calls ended, by status code (a call that reached no server,
//!   a transport error, counts as `Unavailable`);
//! - `grpc_client_handling_seconds`: a latency histogram, to the end of the response.
//!
//! Besides: `partnerhub_build_info{version}` (always 1) and the process' own metrics
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`, ...).
//! - `partnerhub_ready`: 1 while the server's overall health (`""`) is SERVING, else 0;
//! - `partnerhub_health_check_up{check}`: 1 while that readiness check passes (`database`, or
//!   at the gateway each service behind it), else 0 (see `health`).
//!
//! Only the methods the server answers (client side: the methods of partnerhub's services and
//! of health) get their own labels; a call to any other path counts as `grpc_type="unknown",
//! grpc_service="unknown", grpc_method="unknown"`, so made-up paths can't grow the metrics
//! without bound. Each method's label sets are resolved once, on its first call: a call then
//! costs a few atomic additions and no label lookup.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::Poll;
use std::time::Instant;
use tokio::net::TcpListener;

/// The metrics of one server. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` only if the metric definitions were refused (they are constants, so never).
    families: Option<Families>,
    /// The methods the server answers, by `/package.Service/Method` path.
    served: RwLock<HashMap<String, Arc<Counted>>>,
    /// Calls to any other path.
    unserved: Arc<Counted>,
    /// The calls the server makes to others; made on first use.
    client: OnceLock<ClientMetrics>,
}

struct Families {
    registry: Registry,
    server: Side,
    client: Side,
    ready: IntGauge,
    checks: IntGaugeVec,
}

/// The families of one side of calls: those a server answers, or those it makes.
#[derive(Clone)]
struct Side {
    started: IntCounterVec,
    handled: IntCounterVec,
    seconds: HistogramVec,
    /// The server side's only.
    in_flight: Option<IntGaugeVec>,
}

const LABELS: [&str; 3] = ["grpc_type", "grpc_service", "grpc_method"];

impl Side {
    /// The families `grpc_<side>_*`; `of` says whose calls, in their help texts.
    fn new(side: &str, of: &str, in_flight: bool) -> prometheus::Result<Self> {
        let started = IntCounterVec::new(
            Opts::new(
                format!("grpc_{side}_started_total"),
                format!("gRPC calls{of} begun."),
            ),
            &LABELS,
        )?;
        let handled = IntCounterVec::new(
            Opts::new(
                format!("grpc_{side}_handled_total"),
                format!("gRPC calls{of} ended, by status code."),
            ),
            &["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
        )?;
        let seconds = HistogramVec::new(
            HistogramOpts::new(
                format!("grpc_{side}_handling_seconds"),
                format!("Seconds from the start of a call{of} to the end of its response."),
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &LABELS,
        )?;
        let in_flight = match in_flight {
            true => Some(IntGaugeVec::new(
                Opts::new(
                    format!("grpc_{side}_in_flight"),
                    format!("gRPC calls{of} under way."),
                ),
                &LABELS,
            )?),
            false => None,
        };
        Ok(Side {
            started,
            handled,
            seconds,
            in_flight,
        })
    }

    fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.started.clone()))?;
        registry.register(Box::new(self.handled.clone()))?;
        registry.register(Box::new(self.seconds.clone()))?;
        if let Some(in_flight) = &self.in_flight {
            registry.register(Box::new(in_flight.clone()))?;
        }
        Ok(())
    }
}

impl Families {
    fn new() -> prometheus::Result<Self> {
        let server = Side::new("server", "", true)?;
        let client = Side::new("client", " to other servers", false)?;
        let ready = IntGauge::new(
            "partnerhub_ready",
            "1 while the server's overall health is SERVING (ready), else 0.",
        )?;
        let checks = IntGaugeVec::new(
            Opts::new(
                "partnerhub_health_check_up",
                "1 while the readiness check passes, else 0.",
            ),
            &["check"],
        )?;
        let build = IntGaugeVec::new(
            Opts::new("partnerhub_build_info", "The running build (always 1)."),
            &["version"],
        )?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let registry = Registry::new();
        registry.register(Box::new(build))?;
        registry.register(Box::new(ready.clone()))?;
        registry.register(Box::new(checks.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        server.register(&registry)?;
        client.register(&registry)?;
        Ok(Families {
            registry,
            server,
            client,
            ready,
            checks,
        })
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

const UNKNOWN: &str = "unknown";
const SERVER_STREAM: &str = "server_stream";

/// `grpc_type` of a method whose answer is a stream or not.
fn kind(streams: bool) -> &'static str {
    match streams {
        true => SERVER_STREAM,
        false => "unary",
    }
}

/// Calls `f` with each method of the encoded descriptor sets: its service's full name, its
/// name, and whether its answer is a stream.
fn each_method(sets: &[&[u8]], mut f: impl FnMut(&str, &str, bool)) {
    use prost::Message;
    for set in sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(*set) else {
            continue;
        };
        for file in set.file {
            for service in file.service {
                let full = match file.package.as_deref() {
                    Some(p) if !p.is_empty() => format!("{p}.{}", service.name()),
                    _ => service.name().to_string(),
                };
                for method in &service.method {
                    f(&full, method.name(), method.server_streaming());
                }
            }
        }
    }
}

impl Metrics {
    pub fn new() -> Self {
        let families = Families::new()
            .inspect_err(|e| tracing::warn!(error = %e, "metrics are off"))
            .ok();
        let unserved = Counted::unknown(families.as_ref().map(|f| &f.server));
        Metrics {
            inner: Arc::new(Inner {
                families,
                served: RwLock::new(HashMap::new()),
                unserved,
                client: OnceLock::new(),
            }),
        }
    }

    /// Adds the methods of these services (found in the encoded descriptor sets) to those that
    /// get their own labels.
    pub fn know(&self, services: &[&str], sets: &[&[u8]]) {
        let side = self.inner.families.as_ref().map(|f| &f.server);
        let mut served = self.inner.served.write().unwrap_or_else(|p| p.into_inner());
        each_method(sets, |service, method, streams| {
            if services.contains(&service) {
                served
                    .entry(format!("/{service}/{method}"))
                    .or_insert_with(|| Counted::new(kind(streams), service, method, side));
            }
        });
    }

    /// The metrics of the calls this server makes to other partnerhub servers (give them to
    /// its [`crate::telemetry::Peer`]s). The methods of partnerhub's services and of health
    /// get their own labels.
    pub fn client(&self) -> ClientMetrics {
        self.inner
            .client
            .get_or_init(|| {
                let side = self.inner.families.as_ref().map(|f| &f.client);
                let mut methods = HashMap::new();
                let sets = [
                    partnerhub_proto::DESCRIPTORS,
                    tonic_health::pb::FILE_DESCRIPTOR_SET,
                ];
                each_method(&sets, |service, method, streams| {
                    methods.insert(
                        format!("/{service}/{method}"),
                        Counted::new(kind(streams), service, method, side),
                    );
                });
                ClientMetrics {
                    called: Arc::new(Called {
                        methods,
                        unknown: Counted::unknown(side),
                    }),
                }
            })
            .clone()
    }

    /// Whether the server is ready (its overall health).
    pub fn ready(&self, ready: bool) {
        if let Some(f) = &self.inner.families {
            f.ready.set(i64::from(ready));
        }
    }

    /// Whether the readiness check `check` passes.
    pub fn health_check(&self, check: &str, up: bool) {
        if let Some(f) = &self.inner.families {
            f.checks.with_label_values(&[check]).set(i64::from(up));
        }
    }

    /// A gauge of this server's own, beside the standard families (the gateway's count of
    /// unfinished workflows): `name{labels...}`. A name registered twice, or refused, gives a
    /// gauge that records nothing (the definitions are constants, so a test would see it).
    pub fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> Gauge {
        let vec = self.inner.families.as_ref().and_then(|f| {
            let vec = IntGaugeVec::new(Opts::new(name, help), labels).ok()?;
            f.registry
                .register(Box::new(vec.clone()))
                .inspect_err(|e| tracing::warn!(error = %e, name, "gauge not registered"))
                .ok()?;
            Some(vec)
        });
        Gauge { vec }
    }

    /// What this server knows of the method at `path`.
    pub fn method(&self, path: &str) -> Method {
        let served = self
            .inner
            .served
            .read()
            .ok()
            .and_then(|s| s.get(path).cloned());
        let health = path.starts_with("/grpc.health.v1.Health/");
        match served {
            Some(counted) => Method {
                known: true,
                streams: counted.kind == SERVER_STREAM,
                health,
                counted,
            },
            None => Method {
                known: false,
                streams: false,
                health,
                counted: self.inner.unserved.clone(),
            },
        }
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let Some(f) = &self.inner.families else {
            return String::new();
        };
        let mut out = Vec::new();
        // Encoding into a Vec fails only on malformed metric families, which ours are not; an
        // empty page is the fallback.
        let _ = TextEncoder::new().encode(&f.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Serves `/metrics` over HTTP on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with(listener, Vec::new(), shutdown).await
    }

    /// [`Metrics::serve`], with fixed `pages` beside `/metrics` (the gateway's JWKS).
    pub async fn serve_with(
        self,
        listener: TcpListener,
        pages: Vec<Page>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use axum::routing::get;
        let mut app = axum::Router::new();
        for page in pages {
            let Page {
                path,
                content_type,
                body,
            } = page;
            app = app.route(
                path,
                get(move || {
                    let body = body.clone();
                    async move { ([(http::header::CONTENT_TYPE, content_type)], body) }
                }),
            );
        }
        let app = app.route(
            "/metrics",
            get(move || {
                let metrics = self.clone();
                async move {
                    (
                        [(
                            http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        metrics.render(),
                    )
                }
            }),
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// A fixed document served over HTTP beside `/metrics`, such as the gateway's JWKS at
/// `/.well-known/jwks.json`: it is known when the server starts and never changes while it runs.
#[derive(Debug, Clone)]
pub struct Page {
    /// Where, e.g. `/.well-known/jwks.json`.
    pub path: &'static str,
    /// Its `content-type`.
    pub content_type: &'static str,
    pub body: String,
}

/// A gauge family a server registered with [`Metrics::gauge`]. Cheap to clone.
#[derive(Clone)]
pub struct Gauge {
    vec: Option<IntGaugeVec>,
}

impl Gauge {
    /// Sets the gauge of these label values (in the order the labels were named).
    pub fn set(&self, labels: &[&str], value: i64) {
        if let Some(gauge) = self
            .vec
            .as_ref()
            .and_then(|vec| vec.get_metric_with_label_values(labels).ok())
        {
            gauge.set(value);
        }
    }
}

/// What a server knows of a method, looked up once per call.
#[derive(Clone)]
pub struct Method {
    /// The server answers it (it gets its own labels and span name).
    pub known: bool,
    /// Its answer is a stream (ended when the server stops).
    pub streams: bool,
    /// A health check: no wait for a place, and its span and "call ended" line at DEBUG.
    pub health: bool,
    counted: Arc<Counted>,
}

impl std::fmt::Debug for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Method")
            .field("service", &self.counted.service)
            .field("method", &self.counted.method)
            .field("known", &self.known)
            .field("streams", &self.streams)
            .field("health", &self.health)
            .finish()
    }
}

impl Method {
    /// Its service, as its label shows it (`unknown` when the server doesn't answer it).
    pub fn service(&self) -> &str {
        &self.counted.service
    }

    /// Its name, as its label shows it (`unknown` when the server doesn't answer it).
    pub fn name(&self) -> &str {
        &self.counted.method
    }

    /// A call to it begins; the returned guard records its end (and logs it in `span`).
    pub fn begin(&self, span: tracing::Span) -> Call {
        let line = match self.health {
            true => Line::Debug,
            false => Line::Info,
        };
        Call::begin(self.counted.clone(), line, span)
    }
}

/// How many status codes there are (`tonic::Code` is 0 to 16).
const CODES: usize = 17;

/// One method's samples on one side of its calls, each label set resolved on first use (a
/// method never called shows no samples).
struct Counted {
    /// `grpc_type`.
    kind: &'static str,
    service: String,
    method: String,
    /// `None` when the metrics are off.
    side: Option<Side>,
    started: OnceLock<IntCounter>,
    in_flight: OnceLock<IntGauge>,
    seconds: OnceLock<Histogram>,
    /// By status code.
    handled: [OnceLock<IntCounter>; CODES],
}

impl Counted {
    fn new(kind: &'static str, service: &str, method: &str, side: Option<&Side>) -> Arc<Self> {
        Arc::new(Counted {
            kind,
            service: service.to_string(),
            method: method.to_string(),
            side: side.cloned(),
            started: OnceLock::new(),
            in_flight: OnceLock::new(),
            seconds: OnceLock::new(),
            handled: std::array::from_fn(|_| OnceLock::new()),
        })
    }

    /// Where calls to paths not known go.
    fn unknown(side: Option<&Side>) -> Arc<Self> {
        Counted::new(UNKNOWN, UNKNOWN, UNKNOWN, side)
    }

    fn labels(&self) -> [&str; 3] {
        [self.kind, &self.service, &self.method]
    }

    fn begin(&self) {
        let Some(side) = &self.side else {
            return;
        };
        self.started
            .get_or_init(|| side.started.with_label_values(&self.labels()))
            .inc();
        if let Some(in_flight) = &side.in_flight {
            self.in_flight
                .get_or_init(|| in_flight.with_label_values(&self.labels()))
                .inc();
        }
    }

    fn end(&self, code: tonic::Code, seconds: f64) {
        let Some(side) = &self.side else {
            return;
        };
        if let Some(handled) = self.handled.get(code as usize) {
            let [kind, service, method] = self.labels();
            handled
                .get_or_init(|| {
                    side.handled
                        .with_label_values(&[kind, service, method, code_name(code)])
                })
                .inc();
        }
        self.seconds
            .get_or_init(|| side.seconds.with_label_values(&self.labels()))
            .observe(seconds);
        if let Some(in_flight) = &side.in_flight {
            self.in_flight
                .get_or_init(|| in_flight.with_label_values(&self.labels()))
                .dec();
        }
    }
}

/// The metrics of the calls a server makes to others, for its [`crate::telemetry::Peer`]s.
/// Cheap to clone.
#[derive(Clone)]
pub struct ClientMetrics {
    called: Arc<Called>,
}

struct Called {
    /// By `/package.Service/Method` path.
    methods: HashMap<String, Arc<Counted>>,
    /// Calls to any other path.
    unknown: Arc<Counted>,
}

impl std::fmt::Debug for ClientMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientMetrics")
    }
}

impl ClientMetrics {
    /// A call to `path` begins; the returned guard records its end.
    pub fn begin(&self, path: &str) -> Call {
        let called = &self.called;
        let counted = called.methods.get(path).unwrap_or(&called.unknown);
        Call::begin(counted.clone(), Line::Silent, tracing::Span::none())
    }
}

/// What the end of a call writes.
#[derive(Debug, Clone, Copy)]
enum Line {
    /// "call ended", at INFO (a call the server answers).
    Info,
    /// "call ended", at DEBUG (a health check, so that probes don't fill the logs).
    Debug,
    /// Nothing (a call the server makes: the call it is part of logs).
    Silent,
}

/// One call under way. Dropped without [`Call::end`], it counts as `DeadlineExceeded` if it was
/// still unanswered past its deadline, otherwise as `Canceled` (the client went away).
pub struct Call {
    counted: Arc<Counted>,
    start: Instant,
    deadline: Option<Instant>,
    line: Line,
    ended: bool,
    span: tracing::Span,
}

impl Call {
    fn begin(counted: Arc<Counted>, line: Line, span: tracing::Span) -> Call {
        counted.begin();
        Call {
            counted,
            start: Instant::now(),
            deadline: None,
            line,
            ended: false,
            span,
        }
    }

    /// The call must be answered by `at`.
    pub fn deadline(&mut self, at: Instant) {
        self.deadline = Some(at);
    }

    /// The call was answered (a stream's answer may go on long after its deadline).
    pub fn answered(&mut self) {
        self.deadline = None;
    }

    /// The call's span.
    pub fn span(&self) -> tracing::Span {
        self.span.clone()
    }

    /// The call ended with this status code.
    pub fn end(mut self, code: tonic::Code) {
        self.record(code);
    }

    /// Ends the call if the head of its answer tells how it ended (an error answered at once
    /// has its status in the headers, "trailers only"; an answer that is not gRPC at all, a
    /// proxy's, has an HTTP status); otherwise gives it back, to end at the trailers that end
    /// the body (see [`end_at`]).
    pub(crate) fn unless_ended_by(mut self, head: &http::response::Parts) -> Option<Call> {
        let code = match head.headers.get("grpc-status") {
            Some(code) => tonic::Code::from_bytes(code.as_bytes()),
            None if head.status != http::StatusCode::OK => code_of_http(head.status),
            None => return Some(self),
        };
        self.record(code);
        None
    }

    fn record(&mut self, code: tonic::Code) {
        if self.ended {
            return;
        }
        self.ended = true;
        let seconds = self.start.elapsed().as_secs_f64();
        self.counted.end(code, seconds);
        if let Line::Silent = self.line {
            return;
        }
        self.span.record("grpc_code", code_name(code));
        if crate::telemetry::tracing_on() {
            crate::telemetry::describe_end(&self.span, code);
        }
        let _entered = self.span.enter();
        let (code, elapsed_ms) = (code_name(code), (seconds * 1000.0) as u64);
        if let Line::Debug = self.line {
            tracing::debug!(code, elapsed_ms, "call ended");
        } else {
            tracing::info!(code, elapsed_ms, "call ended");
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let code = match self.deadline {
            Some(at) if Instant::now() >= at => tonic::Code::DeadlineExceeded,
            _ => tonic::Code::Cancelled,
        };
        self.record(code);
    }
}

/// Ends `call` if `polled` is the last of its answer's body: the trailers, with the status (or
/// `Unknown` without one), an error, or the end with no trailers (`Unknown`).
pub(crate) fn end_at<E>(
    call: &mut Option<Call>,
    polled: &Poll<Option<Result<http_body::Frame<bytes::Bytes>, E>>>,
) {
    let code = match polled {
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
        && let Some(call) = call.take()
    {
        call.end(code);
    }
}

/// The gRPC code of an HTTP status, as gRPC clients map it.
fn code_of_http(status: http::StatusCode) -> tonic::Code {
    match status.as_u16() {
        400 => tonic::Code::Internal,
        401 => tonic::Code::Unauthenticated,
        403 => tonic::Code::PermissionDenied,
        404 => tonic::Code::Unimplemented,
        429 | 502 | 503 | 504 => tonic::Code::Unavailable,
        _ => tonic::Code::Unknown,
    }
}

/// The status code's name as go-grpc-prometheus writes it.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_own_gauge_shows_on_its_page_and_a_second_one_of_the_name_records_nothing() {
        let metrics = Metrics::new();
        let gauge = metrics.gauge("partnerhub_things", "Things.", &["kind"]);
        gauge.set(&["a"], 3);
        // Wrong label count: ignored, not a panic.
        gauge.set(&["a", "b"], 9);
        let twin = metrics.gauge("partnerhub_things", "Again.", &["kind"]);
        twin.set(&["b"], 5);
        let page = metrics.render();
        assert!(page.contains("partnerhub_things{kind=\"a\"} 3"), "{page}");
        assert!(!page.contains("kind=\"b\""), "{page}");
    }
}
