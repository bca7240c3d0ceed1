//! Health that means something: readiness follows what a server needs, liveness doesn't.
//!
//! Every server answers `grpc.health.v1.Health` with these names:
//! - `""` (the overall status) and each service it serves: its **readiness**. A server checks
//!   what it needs every [`Probing::interval`] ([`Probe`]s: a service its database, the gateway
//!   the services behind it) and reports `NOT_SERVING` while a check it needs fails, `SERVING`
//!   again once it passes, with a log line and the gauges `partnerhub_ready` and
//!   `partnerhub_health_check_up{check}` on each change. Each name follows the probes that
//!   concern it (the gateway's `partnerhub.subscriptions.v1.SubscriptionService` follows the
//!   subscriptions service); `""` follows the probes marked for it.
//! - [`LIVENESS`] (`"liveness"`): SERVING while the process runs and answers. A database outage
//!   must not restart pods; restarting would not bring the database back.
//!
//! A server starts SERVING (a service opened and migrated its database before it listens) and
//! runs its first round of checks at once. Probes run apart from the calls: nothing is added
//! to a call's path.

use crate::metrics::Metrics;
use crate::store::Database;
use crate::telemetry::Peer;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The health service name that answers liveness: SERVING while the process runs.
pub const LIVENESS: &str = "liveness";

/// How often a server checks what it needs, and how long one check may take.
#[derive(Debug, Clone, Copy)]
pub struct Probing {
    /// Time between two rounds of checks.
    pub interval: Duration,
    /// A check that has not answered by then has failed.
    pub timeout: Duration,
}

impl Default for Probing {
    fn default() -> Self {
        Probing {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
        }
    }
}

type Check =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// One thing a server needs, checked periodically, and which of its health names follow it.
#[derive(Clone)]
pub struct Probe {
    name: &'static str,
    /// `None`: every name the server answers (`""` and each service); otherwise these.
    follows: Option<Vec<&'static str>>,
    check: Check,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("name", &self.name)
            .field("follows", &self.follows)
            .finish()
    }
}

impl Probe {
    /// A probe named `name` (in logs and the `check` label) that passes when `check` answers
    /// `Ok` in time. Every health name of the server follows it, unless [`Probe::only`].
    pub fn new<F, Fut>(name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Probe {
            name,
            follows: None,
            check: Arc::new(move || Box::pin(check())),
        }
    }

    /// `SELECT 1` on the database (an idle connection from the pool, or a new one).
    pub fn database(db: &Database) -> Self {
        let pool = db.pool.clone();
        Probe::new("database", move || {
            let pool = pool.clone();
            async move {
                sqlx::query("SELECT 1")
                    .execute(&pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| crate::telemetry::causes(&e))
            }
        })
    }

    /// The overall health (`""`) of another server, asked over `peer`: the same channel the
    /// calls to it take, so the check sees what they would.
    pub fn peer(name: &'static str, peer: Peer) -> Self {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_client::HealthClient;
        Probe::new(name, move || {
            let mut client = HealthClient::new(peer.clone());
            async move {
                let answer = client
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?;
                match answer.into_inner().status() {
                    tonic_health::pb::health_check_response::ServingStatus::Serving => Ok(()),
                    other => Err(format!("it reports {}", other.as_str_name())),
                }
            }
        })
    }

    /// Only these health names follow this probe (`""` among them for the overall status).
    pub fn only(mut self, names: &[&'static str]) -> Self {
        self.follows = Some(names.to_vec());
        self
    }

    fn concerns(&self, name: &str) -> bool {
        self.follows
            .as_ref()
            .is_none_or(|names| names.contains(&name))
    }
}

/// Names (of probes or health names) whose state changed, each with its new state (true:
/// passing, SERVING).
type Changes = Vec<(&'static str, bool)>;

/// The health names of a server and the probes each follows, with the last results.
struct Board {
    /// Each name that follows probes, with its status as last reported.
    names: BTreeMap<&'static str, bool>,
    /// Each probe's last result (true: passed); a probe not yet run counts as passing.
    probes: Vec<(Probe, bool)>,
}

impl Board {
    fn new(names: &[&'static str], probes: Vec<Probe>) -> Self {
        let mut all = vec![""];
        all.extend(names.iter().copied().filter(|n| *n != LIVENESS));
        Board {
            names: all.into_iter().map(|n| (n, true)).collect(),
            probes: probes.into_iter().map(|p| (p, true)).collect(),
        }
    }

    /// Takes one round's results (in probe order); gives the probes that changed and the names
    /// whose status changed, with their new status.
    fn apply(&mut self, results: &[Result<(), String>]) -> (Changes, Changes) {
        let mut probes = Vec::new();
        for ((probe, passed), result) in self.probes.iter_mut().zip(results) {
            if *passed != result.is_ok() {
                *passed = result.is_ok();
                probes.push((probe.name, *passed));
            }
        }
        let mut names = Vec::new();
        for (name, serving) in self.names.iter_mut() {
            let now = self
                .probes
                .iter()
                .all(|(probe, passed)| *passed || !probe.concerns(name));
            if now != *serving {
                *serving = now;
                names.push((*name, now));
            }
        }
        (probes, names)
    }
}

fn status(serving: bool) -> ServingStatus {
    if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}

/// Sets every name SERVING (and [`LIVENESS`]), then, if there are probes, checks them every
/// `probing.interval` in a task that runs until the returned guard is dropped.
pub(crate) async fn start(
    server: &'static str,
    reporter: HealthReporter,
    names: &[&'static str],
    probes: Vec<Probe>,
    probing: Probing,
    metrics: Metrics,
) -> Option<tokio_util::sync::DropGuard> {
    reporter
        .set_service_status(LIVENESS, ServingStatus::Serving)
        .await;
    for name in names {
        reporter
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
    metrics.ready(true);
    for probe in &probes {
        metrics.health_check(probe.name, true);
    }
    if probes.is_empty() {
        return None;
    }
    let mut board = Board::new(names, probes);
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(probing.interval.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let round = board.probes.iter().map(|(probe, _)| {
                let check = (probe.check)();
                async move {
                    tokio::time::timeout(probing.timeout, check)
                        .await
                        .unwrap_or_else(|_| {
                            Err(format!(
                                "no answer within {} ms",
                                probing.timeout.as_millis()
                            ))
                        })
                }
            });
            let results = tokio::select! {
                _ = stopped.cancelled() => return,
                results = join_all(round) => results,
            };
            let (probes, names) = board.apply(&results);
            for ((probe, _), result) in board.probes.iter().zip(&results) {
                if !probes.iter().any(|(name, _)| *name == probe.name) {
                    continue;
                }
                metrics.health_check(probe.name, result.is_ok());
                match result {
                    Ok(()) => tracing::info!(server, check = probe.name, "check passes again"),
                    Err(error) => tracing::warn!(server, check = probe.name, %error, "check fails"),
                }
            }
            for (name, serving) in names {
                reporter.set_service_status(name, status(serving)).await;
                let shown = if name.is_empty() { "(overall)" } else { name };
                if name.is_empty() {
                    metrics.ready(serving);
                }
                if serving {
                    tracing::info!(server, service = shown, "SERVING again");
                } else {
                    tracing::warn!(server, service = shown, "NOT_SERVING");
                }
            }
        }
    });
    Some(stop.drop_guard())
}

/// Runs the futures at once and gives their outputs in order.
async fn join_all<F: Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(output) => out.push(output),
            // A check that panicked: the round can't be judged; the task is the server's, so
            // carry the panic on.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passing(name: &'static str) -> Probe {
        Probe::new(name, || async { Ok(()) })
    }

    const TENANTS: &str = "partnerhub.tenants.v1.TenantService";
    const WORKFLOWS: &str = "partnerhub.gateway.v1.WorkflowService";

    #[test]
    fn a_name_follows_only_the_probes_that_concern_it() {
        let mut board = Board::new(
            &[TENANTS, WORKFLOWS, LIVENESS],
            vec![
                passing("tenants").only(&["", TENANTS, WORKFLOWS]),
                passing("subscriptions").only(&[WORKFLOWS]),
            ],
        );
        assert!(
            !board.names.contains_key(LIVENESS),
            "liveness follows nothing"
        );
        let (probes, names) = board.apply(&[Ok(()), Err("down".into())]);
        assert_eq!(probes, [("subscriptions", false)]);
        assert_eq!(names, [(WORKFLOWS, false)]);
        // Nothing changed: nothing to report.
        let (probes, names) = board.apply(&[Ok(()), Err("still down".into())]);
        assert!(probes.is_empty() && names.is_empty());
        let (_, names) = board.apply(&[Err("down".into()), Ok(())]);
        assert_eq!(names, [("", false), (TENANTS, false)]);
        // Workflows waits for both.
        let (probes, names) = board.apply(&[Ok(()), Ok(())]);
        assert_eq!(probes, [("tenants", true)]);
        assert_eq!(names, [("", true), (WORKFLOWS, true), (TENANTS, true)]);
    }

    #[test]
    fn a_probe_for_everything_concerns_every_name() {
        let mut board = Board::new(&[TENANTS], vec![passing("database")]);
        let (_, names) = board.apply(&[Err("gone".into())]);
        assert_eq!(names, [("", false), (TENANTS, false)]);
    }

    #[tokio::test]
    async fn a_closed_database_fails_its_probe() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = crate::store::sqlite_url(dir.path(), "probe");
        let migrations = crate::store::Migrations {
            sqlite: &EMPTY,
            postgres: &EMPTY,
        };
        let db = crate::store::open(&url, &migrations).await.unwrap();
        let probe = Probe::database(&db);
        assert_eq!((probe.check)().await, Ok(()));
        db.pool.close().await;
        assert!((probe.check)().await.is_err());
    }

    static EMPTY: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
}
