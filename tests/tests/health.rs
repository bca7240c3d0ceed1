//! Health that means something: a server is ready while what it needs answers (a service its
//! database, the gateway the services behind it), alive while it runs; and calls spread over a
//! service's replicas, leaving a stopped one.

use partnerhub::system::{self, Running, Server, Service};
use partnerhub_kit::health::{LIVENESS, Probing};
use partnerhub_kit::server::Limits;
use partnerhub_proto::subscriptions as sub;
use partnerhub_proto::subscriptions::subscription_service_client::SubscriptionServiceClient;
use partnerhub_proto::tenants as pb;
use partnerhub_tests::{Bearer, DATABASE_ENV, TestSystem, scrape};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const TENANTS: &str = "partnerhub.tenants.v1.TenantService";
const SUBSCRIPTIONS: &str = "partnerhub.subscriptions.v1.SubscriptionService";
const RELATIONSHIPS: &str = "partnerhub.relationships.v1.RelationshipService";
const INVITATIONS: &str = "partnerhub.invitations.v1.InvitationService";
const AUTH: &str = "partnerhub.gateway.v1.AuthService";
const WORKFLOWS: &str = "partnerhub.gateway.v1.WorkflowService";

/// How long a change may take to show: many probe rounds at the tests' pace.
const WITHIN: Duration = Duration::from_secs(15);

/// Limits whose readiness checks run ten times a second.
fn quick() -> Limits {
    Limits {
        probing: Probing {
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
        },
        ..Limits::default()
    }
}

async fn connect(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

async fn check(channel: &Channel, service: &str) -> Result<ServingStatus, tonic::Status> {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .map(|answer| answer.into_inner().status())
}

/// Waits (with Watch) until `service` at `channel` reports `wanted`; fails after [`WITHIN`].
async fn until(channel: &Channel, service: &str, wanted: ServingStatus) {
    let watching = async {
        let mut stream = HealthClient::new(channel.clone())
            .watch(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("Watch")
            .into_inner();
        while let Some(message) = stream.message().await.expect("a status") {
            if message.status() == wanted {
                return;
            }
        }
        panic!("the watch of {service:?} ended");
    };
    tokio::time::timeout(WITHIN, watching)
        .await
        .unwrap_or_else(|_| panic!("{service:?} is not {wanted:?} within {WITHIN:?}"));
}

/// Starts `servers` with `config`, or panics.
async fn start(config: system::Configuration, servers: &[Server]) -> Running {
    system::start(config, servers).await.expect("started")
}

/// The value of the metric line starting with `prefix` (0 when absent).
fn value(page: &str, prefix: &str) -> f64 {
    page.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn every_server_is_alive_and_ready_and_the_gateway_answers_for_every_service_it_serves_without_a_token()
 {
    let sys = TestSystem::start().await;
    // No token on these calls: probes have none.
    let gateway = sys.channel();
    for name in [
        "",
        LIVENESS,
        TENANTS,
        SUBSCRIPTIONS,
        RELATIONSHIPS,
        INVITATIONS,
        AUTH,
        WORKFLOWS,
    ] {
        assert_eq!(
            check(&gateway, name).await.expect("answered"),
            ServingStatus::Serving,
            "{name:?} at the gateway"
        );
    }
    assert_eq!(
        check(&gateway, "partnerhub.nothing.v1.NoService")
            .await
            .expect_err("unknown")
            .code(),
        Code::NotFound
    );
    for (i, name) in system::SERVICES.iter().enumerate() {
        let channel = connect(sys.services[i]).await;
        for asked in ["", LIVENESS] {
            assert_eq!(
                check(&channel, asked).await.expect("answered"),
                ServingStatus::Serving,
                "{asked:?} at {name}"
            );
        }
    }
    sys.stop().await;
}

#[tokio::test]
async fn the_gateway_follows_a_stopped_service_and_its_restart_and_stays_alive() {
    let sys = TestSystem::start().await;
    // A subscriptions service of its own, behind a gateway of its own.
    let only = [Server::Service(Service::Subscriptions)];
    let subscriptions = start(sys.configuration(quick()), &only).await;
    let at = subscriptions.bound[&only[0]].listen;
    let mut config = sys.configuration(quick());
    config.subscriptions.url = Some(format!("http://{at}"));
    let gateway = start(config, &[Server::Gateway]).await;
    let channel = connect(gateway.bound[&Server::Gateway].listen).await;
    until(&channel, SUBSCRIPTIONS, ServingStatus::Serving).await;

    subscriptions.stop().await;
    until(&channel, SUBSCRIPTIONS, ServingStatus::NotServing).await;
    until(&channel, WORKFLOWS, ServingStatus::NotServing).await;
    // The rest works, and the gateway is alive: nothing to restart.
    for name in ["", LIVENESS, TENANTS, RELATIONSHIPS, INVITATIONS, AUTH] {
        assert_eq!(
            check(&channel, name).await.expect("answered"),
            ServingStatus::Serving,
            "{name:?} while subscriptions is stopped"
        );
    }

    // Back where it was.
    let mut config = sys.configuration(quick());
    config.subscriptions.listen = at;
    let subscriptions = start(config, &only).await;
    until(&channel, SUBSCRIPTIONS, ServingStatus::Serving).await;
    until(&channel, WORKFLOWS, ServingStatus::Serving).await;
    let offers = SubscriptionServiceClient::new(InterceptedService::new(
        channel.clone(),
        Bearer::new(&sys.operator),
    ))
    .list_offers(sub::ListOffersRequest::default())
    .await
    .expect("ListOffers through the gateway again");
    assert!(!offers.into_inner().offers.is_empty());

    gateway.stop().await;
    subscriptions.stop().await;
    sys.stop().await;
}

/// A TCP proxy that can be cut (every connection closed, new ones closed at once) and
/// restored.
struct Proxy {
    addr: SocketAddr,
    open: tokio::sync::watch::Sender<bool>,
    stop: CancellationToken,
}

impl Proxy {
    async fn to(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let (open, watching) = tokio::sync::watch::channel(true);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            loop {
                let (mut client, _) = tokio::select! {
                    _ = stopped.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(_) => continue,
                    },
                };
                let mut watching = watching.clone();
                if !*watching.borrow_and_update() {
                    continue; // dropped: closed at once
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        // Cut: both sides closed.
                        _ = watching.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Proxy { addr, open, stop }
    }

    fn cut(&self) {
        self.open.send_replace(false);
    }

    fn restore(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// `postgres://user@host:port/db` → (`host:port`, the URL with `proxy` in its place).
fn through(url: &str, proxy: SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    };
    (host, format!("{scheme}://{user}{proxy}/{path}"))
}

/// With PostgreSQL only (`PARTNERHUB_TEST_DATABASE_URL`): a SQLite file has no connection to
/// cut (see the kit's `a_closed_database_fails_its_probe` for a SQLite pool that fails).
#[tokio::test]
async fn a_service_is_not_ready_while_its_database_is_cut_and_ready_again_after_but_stays_alive() {
    if std::env::var(DATABASE_ENV).is_err() {
        eprintln!("skipped: needs {DATABASE_ENV} (PostgreSQL)");
        return;
    }
    let sys = TestSystem::start().await;
    let mut config = sys.configuration(quick());
    let base = config.storage.database_url.clone().expect("PostgreSQL");
    let (upstream, _) = through(&base, "127.0.0.1:1".parse().expect("address"));
    let proxy = Proxy::to(upstream).await;
    config.storage.database_url = Some(through(&base, proxy.addr).1);
    let only = [Server::Service(Service::Tenants)];
    let tenants = start(config, &only).await;
    let bound = tenants.bound[&only[0]];
    let channel = connect(bound.listen).await;
    let metrics = bound.metrics.expect("metrics");
    until(&channel, "", ServingStatus::Serving).await;

    proxy.cut();
    until(&channel, "", ServingStatus::NotServing).await;
    until(&channel, TENANTS, ServingStatus::NotServing).await;
    assert_eq!(
        check(&channel, LIVENESS).await.expect("answered"),
        ServingStatus::Serving,
        "alive: restarting would not bring the database back"
    );
    let page = scrape(metrics).await;
    assert_eq!(value(&page, "partnerhub_ready "), 0.0, "{page}");
    assert_eq!(
        value(&page, "partnerhub_health_check_up{check=\"database\"}"),
        0.0
    );
    // A call meanwhile fails; it doesn't hang.
    let mut client =
        partnerhub_proto::tenants::tenant_service_client::TenantServiceClient::new(channel.clone());
    let failed = client
        .get_tenant(pb::GetTenantRequest {
            tenant_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("no database");
    assert_ne!(failed.code(), Code::NotFound);

    proxy.restore();
    until(&channel, "", ServingStatus::Serving).await;
    until(&channel, TENANTS, ServingStatus::Serving).await;
    let page = scrape(metrics).await;
    assert_eq!(value(&page, "partnerhub_ready "), 1.0, "{page}");

    tenants.stop().await;
    sys.stop().await;
}

/// How many ListTenants calls the tenants server with metrics at `addr` has begun.
async fn list_tenants_calls(addr: SocketAddr) -> f64 {
    value(
        &scrape(addr).await,
        "grpc_server_started_total{grpc_method=\"ListTenants\",grpc_service=\"partnerhub.tenants.v1.TenantService\",grpc_type=\"unary\"}",
    )
}

#[tokio::test]
async fn calls_spread_over_two_replicas_and_leave_one_that_stops() {
    let sys = TestSystem::start().await;
    let only = [Server::Service(Service::Tenants)];
    let first = start(sys.configuration(quick()), &only).await;
    let second = start(sys.configuration(quick()), &only).await;
    let [a, b] = [&first, &second].map(|r| r.bound[&only[0]]);
    let mut config = sys.configuration(quick());
    config.tenants.url = Some(format!("http://{}, http://{}", a.listen, b.listen));
    let gateway = start(config, &[Server::Gateway]).await;
    let channel = connect(gateway.bound[&Server::Gateway].listen).await;
    let mut tenants = partnerhub_proto::tenants::tenant_service_client::TenantServiceClient::new(
        InterceptedService::new(channel, Bearer::new(&sys.operator)),
    );
    let list = pb::ListTenantsRequest {
        page_size: 1,
        ..Default::default()
    };
    for _ in 0..40 {
        tenants
            .list_tenants(list.clone())
            .await
            .expect("ListTenants");
    }
    let (on_a, on_b) = (
        list_tenants_calls(a.metrics.expect("metrics")).await,
        list_tenants_calls(b.metrics.expect("metrics")).await,
    );
    assert_eq!(on_a + on_b, 40.0);
    assert!(on_a > 0.0 && on_b > 0.0, "{on_a} and {on_b}");

    first.stop().await;
    // The stopped one leaves at once (its health watch ends): the calls after go on working,
    // allowing a few failures while the gateway learns it.
    let mut failures = 0;
    let mut in_a_row = 0;
    let leaving = async {
        while in_a_row < 20 {
            match tenants.list_tenants(list.clone()).await {
                Ok(_) => in_a_row += 1,
                Err(status) => {
                    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                    failures += 1;
                    in_a_row = 0;
                }
            }
        }
    };
    tokio::time::timeout(WITHIN, leaving)
        .await
        .expect("calls work again");
    assert!(failures <= 2, "{failures} calls failed");

    gateway.stop().await;
    second.stop().await;
    sys.stop().await;
}
