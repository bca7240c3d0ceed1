//! Spreading calls over a service's replicas.
//!
//! A service's URL names one host or several (`http://tenants:50052` or
//! `http://10.0.0.7:50052,http://10.0.0.8:50052`). Each host name is resolved again every
//! [`RESOLVE_EVERY`] (a Kubernetes headless Service answers with one address per ready pod), and
//! calls are spread over the addresses with tower's power-of-two-choices balancer (tonic's
//! `Channel::balance_channel`): one HTTP/2 connection per replica, instead of one connection
//! that sends everything to whichever replica it reached first.
//!
//! Each replica's overall health is watched (`grpc.health.v1.Health/Watch`, service `""`, on a
//! connection of its own): a replica that stops (its watch ends) or says NOT_SERVING leaves the
//! set at once, and comes back when it says SERVING. When no replica is ready, calls go to all
//! of them, so they fail fast with the replica's own answer rather than wait for a replica.
//! The balancer sits where the channel's queue already was: a call pays a random choice of two.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

/// How often host names are resolved again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(5);
/// How long to wait before watching a replica again after its watch failed.
const WATCH_AGAIN_AFTER: Duration = Duration::from_secs(1);
/// The balancer's queue of changes (more than any service's replicas).
const CHANGES: usize = 64;

/// One URL of a service: where to connect, and the name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    scheme: String,
    host: String,
    port: u16,
}

impl Target {
    /// The host name (or address) the URL names.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `scheme://host:port`, as the calls name the service (their `:authority`).
    pub fn origin(&self) -> String {
        if self.host.contains(':') {
            format!("{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            format!("{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// The URLs of `urls`: one, or several separated by commas.
pub fn targets(urls: &str) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let scheme = match uri.scheme_str() {
            Some(s @ ("http" | "https")) => s.to_string(),
            _ => return Err(format!("{url}: must start with http:// or https://")),
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("{url}: names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        targets.push(Target { scheme, host, port });
    }
    if targets.is_empty() {
        return Err(format!("{urls:?} names no URL"));
    }
    Ok(targets)
}

/// Makes the endpoint of one replica: its address as a URI, and the target it was found by.
pub type MakeEndpoint = Arc<dyn Fn(&str, &Target) -> Result<Endpoint, String> + Send + Sync>;

/// A channel that spreads calls over the replicas of `targets`, kept up to date by a task that
/// ends when the channel's last copy is dropped. Must be called within the Tokio runtime.
pub fn balanced(targets: Vec<Target>, make: MakeEndpoint) -> Channel {
    let (channel, changes) = Channel::balance_channel::<SocketAddr>(CHANGES);
    tokio::spawn(keep_up(targets, make, changes));
    channel
}

/// What a replica's health watch last said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Not yet answered: gets calls (a replica just found is most likely up).
    Unknown,
    Ready,
    NotReady,
}

struct Replica {
    /// The target it was found by.
    target: usize,
    endpoint: Endpoint,
    seen: Seen,
    /// Aborted when the replica is dropped.
    watch: tokio::task::JoinHandle<()>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.watch.abort();
    }
}

async fn keep_up(
    targets: Vec<Target>,
    make: MakeEndpoint,
    changes: mpsc::Sender<Change<SocketAddr, Endpoint>>,
) {
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<(SocketAddr, Seen)>();
    let mut replicas: BTreeMap<SocketAddr, Replica> = BTreeMap::new();
    let mut balanced: BTreeSet<SocketAddr> = BTreeSet::new();
    let mut resolve = tokio::time::interval(RESOLVE_EVERY);
    resolve.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = changes.closed() => return,
            _ = resolve.tick() => {
                for (index, target) in targets.iter().enumerate() {
                    let found = match resolve_target(target).await {
                        Ok(found) => found,
                        Err(error) => {
                            // Keep what was found before: a DNS hiccup is no reason to drop
                            // replicas that answer.
                            tracing::warn!(host = %target.host, %error, "can't resolve");
                            continue;
                        }
                    };
                    replicas.retain(|addr, r| r.target != index || found.contains(addr));
                    for addr in found {
                        if replicas.contains_key(&addr) {
                            continue;
                        }
                        let uri = format!("{}://{addr}", target.scheme);
                        let endpoint = match make(&uri, target) {
                            Ok(endpoint) => endpoint,
                            Err(error) => {
                                tracing::warn!(%uri, %error, "bad replica address");
                                continue;
                            }
                        };
                        let watch = tokio::spawn(watch(addr, endpoint.clone(), seen_tx.clone()));
                        replicas.insert(addr, Replica { target: index, endpoint, seen: Seen::Unknown, watch });
                    }
                }
            }
            Some((addr, seen)) = seen_rx.recv() => {
                if let Some(replica) = replicas.get_mut(&addr) {
                    if replica.seen != seen {
                        tracing::debug!(%addr, ?seen, "replica");
                    }
                    replica.seen = seen;
                }
            }
        }
        let wanted = wanted(&replicas);
        for addr in balanced.difference(&wanted) {
            if changes.send(Change::Remove(*addr)).await.is_err() {
                return;
            }
        }
        for addr in wanted.difference(&balanced) {
            let Some(replica) = replicas.get(addr) else {
                continue;
            };
            let insert = Change::Insert(*addr, replica.endpoint.clone());
            if changes.send(insert).await.is_err() {
                return;
            }
        }
        balanced = wanted;
    }
}

/// The replicas calls go to: those not known to be down, or all when none is up.
fn wanted(replicas: &BTreeMap<SocketAddr, Replica>) -> BTreeSet<SocketAddr> {
    let up: BTreeSet<SocketAddr> = replicas
        .iter()
        .filter(|(_, r)| r.seen != Seen::NotReady)
        .map(|(addr, _)| *addr)
        .collect();
    if up.is_empty() {
        replicas.keys().copied().collect()
    } else {
        up
    }
}

async fn resolve_target(target: &Target) -> std::io::Result<BTreeSet<SocketAddr>> {
    if let Ok(ip) = target.host.parse::<std::net::IpAddr>() {
        return Ok(BTreeSet::from([SocketAddr::new(ip, target.port)]));
    }
    let found = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((target.host.as_str(), target.port)),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer within 5 s"))??;
    Ok(found.collect())
}

/// Follows one replica's overall health until aborted.
async fn watch(
    addr: SocketAddr,
    endpoint: Endpoint,
    seen: mpsc::UnboundedSender<(SocketAddr, Seen)>,
) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    // Pings find a replica that vanished without closing its connections.
    let endpoint = endpoint
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true);
    let mut client = HealthClient::new(endpoint.connect_lazy());
    loop {
        let request = HealthCheckRequest {
            service: String::new(),
        };
        if let Ok(answer) = client.watch(request).await {
            let mut stream = answer.into_inner();
            while let Ok(Some(message)) = stream.message().await {
                let now = match message.status() {
                    ServingStatus::Serving => Seen::Ready,
                    _ => Seen::NotReady,
                };
                if seen.send((addr, now)).is_err() {
                    return;
                }
            }
        }
        // The watch ended: the replica stopped, or can't be reached.
        if seen.send((addr, Seen::NotReady)).is_err() {
            return;
        }
        tokio::time::sleep(WATCH_AGAIN_AFTER).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_list_names_each_replica() {
        let list = targets("http://10.0.0.7:50052, http://tenants,https://[::1]:9").unwrap();
        let origins: Vec<String> = list.iter().map(Target::origin).collect();
        assert_eq!(
            origins,
            [
                "http://10.0.0.7:50052",
                "http://tenants:80",
                "https://[::1]:9"
            ]
        );
    }

    #[test]
    fn a_bad_url_is_named() {
        for bad in ["", " , ", "tenants:50052", "ftp://x", "http://"] {
            assert!(targets(bad).is_err(), "{bad:?}");
        }
    }
}
