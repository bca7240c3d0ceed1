//! The load generator: `connections` HTTP/2 connections with `in_flight` calls under way on each,
//! for a warm-up and then a measured time; every call's latency is kept, so percentiles are
//! exact.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint};

/// One call of a scenario, given a channel and a number unique in the run (for unique names).
pub type Call = Arc<
    dyn Fn(Channel, u64) -> Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send>>
        + Send
        + Sync,
>;

/// How much load: connections, and calls under way on each.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub connections: usize,
    pub in_flight: usize,
}

impl Shape {
    pub const fn new(connections: usize, in_flight: usize) -> Shape {
        Shape {
            connections,
            in_flight,
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{} m{}", self.connections, self.in_flight)
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub calls: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.calls as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// A channel of its own (one HTTP/2 connection, TCP_NODELAY as tonic sets it for clients).
pub async fn connect(addr: SocketAddr) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Runs `call` at `shape` against `addr`: `warm_up` unmeasured, then `measure`.
pub async fn run(
    addr: SocketAddr,
    shape: Shape,
    warm_up: Duration,
    measure: Duration,
    call: Call,
) -> Result<Outcome, tonic::transport::Error> {
    let mut channels = Vec::new();
    for _ in 0..shape.connections {
        channels.push(connect(addr).await?);
    }
    let begin = Instant::now();
    let measured_from = begin + warm_up;
    let end = measured_from + measure;
    let mut workers = tokio::task::JoinSet::new();
    for channel in &channels {
        for _ in 0..shape.in_flight {
            let (channel, call) = (channel.clone(), call.clone());
            workers.spawn(async move {
                let mut latencies = Vec::new();
                let (mut errors, mut first_error) = (0u64, None);
                loop {
                    let started = Instant::now();
                    if started >= end {
                        break;
                    }
                    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
                    let result = call(channel.clone(), n).await;
                    let took = started.elapsed();
                    if started < measured_from {
                        continue;
                    }
                    latencies.push(took);
                    if let Err(status) = result {
                        errors += 1;
                        first_error.get_or_insert_with(|| {
                            format!("{:?}: {}", status.code(), status.message())
                        });
                    }
                }
                (latencies, errors, first_error)
            });
        }
    }
    let mut all = Vec::new();
    let mut outcome = Outcome::default();
    while let Some(joined) = workers.join_next().await {
        let Ok((latencies, errors, first_error)) = joined else {
            continue;
        };
        all.extend(latencies);
        outcome.errors += errors;
        if outcome.first_error.is_none() {
            outcome.first_error = first_error;
        }
    }
    // Calls still under way at `end` finished after it: the measured time runs until the last.
    outcome.seconds = Instant::now()
        .saturating_duration_since(measured_from)
        .as_secs_f64();
    all.sort_unstable();
    outcome.calls = all.len() as u64;
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    outcome.p50_ms = at(0.50);
    outcome.p99_ms = at(0.99);
    Ok(outcome)
}
