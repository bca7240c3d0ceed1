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
//! Besides: `partnerhub_build_info{version}` (always 1) and the process' own metrics
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`, ...).
//! - `partnerhub_ready`: 1 while the server's overall health (`""`) is SERVING, else 0;
//! - `partnerhub_health_check_up{check}`: 1 while that readiness check passes (`database`, or
//!   at the gateway each service behind it), else 0 (see `health`).
//!
//! Only the methods the server answers get their own labels; a call to any other path counts as
//! `grpc_type="unknown", grpc_service="unknown", grpc_method="unknown"`, so made-up paths can't
//! grow the metrics without bound.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
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
    /// `/package.Service/Method` paths the server answers, each with whether its answer is a
    /// stream.
    known: RwLock<HashMap<String, bool>>,
}

struct Families {
    registry: Registry,
    started: IntCounterVec,
    handled: IntCounterVec,
    seconds: HistogramVec,
    in_flight: IntGaugeVec,
    ready: IntGauge,
    checks: IntGaugeVec,
}

impl Families {
    fn new() -> prometheus::Result<Self> {
        let labels = ["grpc_type", "grpc_service", "grpc_method"];
        let started = IntCounterVec::new(
            Opts::new("grpc_server_started_total", "gRPC calls begun."),
            &labels,
        )?;
        let handled = IntCounterVec::new(
            Opts::new(
                "grpc_server_handled_total",
                "gRPC calls ended, by status code.",
            ),
            &["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
        )?;
        let seconds = HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "Seconds from a call's start to the end of its response.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &labels,
        )?;
        let in_flight = IntGaugeVec::new(
            Opts::new("grpc_server_in_flight", "gRPC calls under way."),
            &labels,
        )?;
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
        registry.register(Box::new(started.clone()))?;
        registry.register(Box::new(handled.clone()))?;
        registry.register(Box::new(seconds.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        Ok(Families {
            registry,
            started,
            handled,
            seconds,
            in_flight,
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

impl Metrics {
    pub fn new() -> Self {
        let families = Families::new()
            .inspect_err(|e| tracing::warn!(error = %e, "metrics are off"))
            .ok();
        Metrics {
            inner: Arc::new(Inner {
                families,
                known: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// Adds the methods of these services (found in the encoded descriptor sets) to those that
    /// get their own labels.
    pub fn know(&self, services: &[&str], sets: &[&[u8]]) {
        use prost::Message;
        let mut known = self.inner.known.write().unwrap_or_else(|p| p.into_inner());
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
                    if !services.contains(&full.as_str()) {
                        continue;
                    }
                    for method in service.method {
                        let path = format!("/{full}/{}", method.name());
                        known.insert(path, method.server_streaming());
                    }
                }
            }
        }
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
        let streams = self
            .inner
            .known
            .read()
            .ok()
            .and_then(|k| k.get(path).copied());
        Method {
            known: streams.is_some(),
            streams: streams.unwrap_or(false),
            health: path.starts_with("/grpc.health.v1.Health/"),
        }
    }

    /// A call to `path` (described by `method`) begins; the returned guard records its end (and
    /// logs it in `span`).
    pub fn begin(&self, path: &str, method: Method, span: tracing::Span) -> Call {
        let (service, method_label) = match path.trim_start_matches('/').split_once('/') {
            Some((s, m)) if method.known => (s.to_string(), m.to_string()),
            _ => (UNKNOWN.to_string(), UNKNOWN.to_string()),
        };
        let kind = match (method.known, method.streams) {
            (false, _) => UNKNOWN,
            (true, false) => "unary",
            (true, true) => "server_stream",
        };
        if let Some(f) = &self.inner.families {
            let labels = [kind, service.as_str(), method_label.as_str()];
            f.started.with_label_values(&labels).inc();
            f.in_flight.with_label_values(&labels).inc();
        }
        Call {
            metrics: self.clone(),
            kind,
            service,
            method: method_label,
            start: Instant::now(),
            deadline: None,
            quiet: method.health,
            ended: false,
            span,
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
#[derive(Debug, Clone, Copy)]
pub struct Method {
    /// The server answers it (it gets its own labels and span name).
    pub known: bool,
    /// Its answer is a stream (ended when the server stops).
    pub streams: bool,
    /// A health check: no wait for a place, and its span and "call ended" line at DEBUG.
    pub health: bool,
}

/// One call under way. Dropped without [`Call::end`], it counts as `DeadlineExceeded` if it was
/// still unanswered past its deadline, otherwise as `Canceled` (the client went away).
pub struct Call {
    metrics: Metrics,
    /// `grpc_type`.
    kind: &'static str,
    service: String,
    method: String,
    start: Instant,
    deadline: Option<Instant>,
    /// Health checks: "call ended" at DEBUG, so that probes don't fill the logs.
    quiet: bool,
    ended: bool,
    span: tracing::Span,
}

impl Call {
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

    fn record(&mut self, code: tonic::Code) {
        if self.ended {
            return;
        }
        self.ended = true;
        let seconds = self.start.elapsed().as_secs_f64();
        if let Some(f) = &self.metrics.inner.families {
            let labels = [self.kind, self.service.as_str(), self.method.as_str()];
            f.handled
                .with_label_values(&[self.kind, &self.service, &self.method, code_name(code)])
                .inc();
            f.seconds.with_label_values(&labels).observe(seconds);
            f.in_flight.with_label_values(&labels).dec();
        }
        self.span.record("grpc_code", code_name(code));
        let _entered = self.span.enter();
        let (code, elapsed_ms) = (code_name(code), (seconds * 1000.0) as u64);
        if self.quiet {
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
