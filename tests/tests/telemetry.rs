//! What an operator watching partnerhub sees: Prometheus metrics on each server's HTTP port,
//! the request id on every answer and every log line, one trace across the gateway and the
//! services for a whole workflow, and no secret in the logs.
//!
//! The trace test installs the process-wide tracing subscriber (with an OTLP exporter to a
//! collector inside the test), so it lives in this file of its own.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use partnerhub_kit::server::Limits;
use partnerhub_proto::gateway::AcceptInvitationRequest;
use partnerhub_proto::gateway::SignInRequest;
use partnerhub_proto::gateway::auth_service_client::AuthServiceClient;
use partnerhub_proto::invitations::{DelegatedAdminRequest, Invitation, InvitationKind};
use partnerhub_proto::subscriptions::subscription_service_client::SubscriptionServiceClient;
use partnerhub_proto::subscriptions::{
    WatchSubscriptionEventsRequest, WatchSubscriptionEventsResponse,
};
use partnerhub_proto::tenants::{GetTenantRequest, ListUsersRequest};
use partnerhub_proto::types::PartnerType;
use partnerhub_tests::{Bearer, NEW_PASSWORD, TestSystem, contact, reason};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

/// GET /metrics from `addr`, over plain HTTP/1.1.
async fn scrape(addr: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("metrics port");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("response");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
}

/// The value of the sample of `name` whose labels include all of `labels`.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The subscription events of the partner `partner`, watched through the gateway at `channel`.
async fn watch(
    channel: tonic::transport::Channel,
    token: &str,
    partner: &str,
) -> tonic::Streaming<WatchSubscriptionEventsResponse> {
    SubscriptionServiceClient::with_interceptor(channel, Bearer::new(token))
        .watch_subscription_events(WatchSubscriptionEventsRequest {
            partner_tenant_id: partner.to_string(),
            ..Default::default()
        })
        .await
        .expect("the stream opens")
        .into_inner()
}

const TENANTS: (&str, &str) = ("grpc_service", "partnerhub.tenants.v1.TenantService");

#[tokio::test]
async fn each_server_counts_its_calls_by_method_and_status_code() {
    let sys = TestSystem::start().await;
    let enrolled = sys
        .create_partner("metrics", "7777777", &[PartnerType::DirectProvider])
        .await;

    // Refused at the gateway (no token): counted there, never reaches the tenants service.
    let refused = sys
        .tenants("")
        .get_tenant(GetTenantRequest {
            tenant_id: enrolled.tenant.id.clone(),
        })
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), Code::Unauthenticated);
    // A made-up method: counted, but not under its own name.
    let made_up = tonic::client::Grpc::new(sys.channel());
    let mut made_up = made_up;
    made_up.ready().await.expect("ready");
    let unknown: Result<tonic::Response<()>, _> = made_up
        .unary(
            tonic::Request::new(()),
            http::uri::PathAndQuery::from_static("/partnerhub.tenants.v1.TenantService/Steal"),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert!(unknown.is_err());

    let gateway = scrape(sys.metrics[0]).await;
    let tenants = scrape(sys.metrics[1]).await;
    let create = ("grpc_method", "CreatePartner");
    for page in [&gateway, &tenants] {
        assert_eq!(
            sample(
                page,
                "grpc_server_handled_total",
                &[TENANTS, create, ("grpc_code", "OK")]
            ),
            Some(1.0),
            "{page}"
        );
        assert_eq!(
            sample(
                page,
                "grpc_server_handling_seconds_count",
                &[TENANTS, create]
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(page, "grpc_server_in_flight", &[TENANTS, create]),
            Some(0.0)
        );
    }
    let get = ("grpc_method", "GetTenant");
    assert_eq!(
        sample(
            &gateway,
            "grpc_server_handled_total",
            &[TENANTS, get, ("grpc_code", "Unauthenticated")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&tenants, "grpc_server_started_total", &[TENANTS, get]),
        None,
        "the refused call never reached the tenants service"
    );
    assert!(
        sample(
            &gateway,
            "grpc_server_handled_total",
            &[("grpc_service", "unknown"), ("grpc_method", "unknown")]
        )
        .is_some_and(|n| n >= 1.0)
    );
    assert!(!gateway.contains("Steal"), "made-up paths get no labels");
    // The latency histogram has buckets.
    assert!(gateway.contains("grpc_server_handling_seconds_bucket{"));
    // go-grpc-prometheus' grpc_type: unary calls, and the event stream's kind is known before
    // any call.
    assert_eq!(
        sample(
            &tenants,
            "grpc_server_handled_total",
            &[TENANTS, create, ("grpc_type", "unary")]
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &gateway,
            "grpc_server_handled_total",
            &[("grpc_type", "unknown"), ("grpc_service", "unknown")]
        )
        .is_some_and(|n| n >= 1.0)
    );
    // What runs, and the process itself.
    for page in [&gateway, &tenants] {
        assert_eq!(
            sample(
                page,
                "partnerhub_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))]
            ),
            Some(1.0)
        );
        assert!(sample(page, "process_resident_memory_bytes", &[]).is_some_and(|b| b > 0.0));
        assert!(sample(page, "process_open_fds", &[]).is_some_and(|n| n > 0.0));
    }
    sys.stop().await;
}

#[tokio::test]
async fn the_gateway_counts_its_calls_to_the_services_by_method_and_status_code() {
    let sys = TestSystem::start().await;
    let (partner, token) = sys
        .partner_admin("caller", "8888888", &[PartnerType::DirectProvider])
        .await;
    let before = scrape(sys.metrics[0]).await;
    let get = [
        TENANTS,
        ("grpc_method", "GetTenant"),
        ("grpc_type", "unary"),
    ];
    let count = |page: &str, name: &str, code: Option<&str>| {
        let mut labels = get.to_vec();
        labels.extend(code.map(|c| ("grpc_code", c)));
        sample(page, name, &labels).unwrap_or(0.0)
    };

    // The tenants service answers one GetTenant the gateway forwards, and refuses another.
    sys.tenants(&token)
        .get_tenant(GetTenantRequest {
            tenant_id: partner.id.clone(),
        })
        .await
        .expect("the partner's own tenant");
    let missing = sys
        .tenants(&sys.operator)
        .get_tenant(GetTenantRequest {
            tenant_id: "0190a0a0-0000-7000-8000-000000000000".into(),
        })
        .await
        .expect_err("no such tenant");
    assert_eq!(missing.code(), Code::NotFound);
    // A stream the gateway forwards to the subscriptions service.
    let stream = watch(sys.channel(), &token, &partner.id).await;

    let after = scrape(sys.metrics[0]).await;
    let handled = "grpc_client_handled_total";
    for (code, calls) in [("OK", 1.0), ("NotFound", 1.0)] {
        assert_eq!(
            count(&after, handled, Some(code)) - count(&before, handled, Some(code)),
            calls,
            "{code}: {after}"
        );
    }
    let started = "grpc_client_started_total";
    assert_eq!(
        count(&after, started, None) - count(&before, started, None),
        2.0
    );
    let seconds = "grpc_client_handling_seconds_count";
    assert_eq!(
        count(&after, seconds, None) - count(&before, seconds, None),
        2.0
    );
    let watch = [
        (
            "grpc_service",
            "partnerhub.subscriptions.v1.SubscriptionService",
        ),
        ("grpc_method", "WatchSubscriptionEvents"),
        ("grpc_type", "server_stream"),
    ];
    assert_eq!(sample(&after, started, &watch), Some(1.0), "{after}");
    // The services count the calls they make too: the tenants service makes none.
    let tenants = scrape(sys.metrics[1]).await;
    assert!(!tenants.contains("grpc_client_started_total{"), "{tenants}");
    drop(stream);
    sys.stop().await;
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_sensible_one_of_the_callers_is_kept() {
    let sys = TestSystem::start().await;
    let mut asked = tonic::Request::new(GetTenantRequest {
        tenant_id: "x".into(),
    });
    asked
        .metadata_mut()
        .insert("x-request-id", "support-ticket-42".parse().expect("ascii"));
    let status = sys
        .tenants(&sys.operator)
        .get_tenant(asked)
        .await
        .expect_err("no such tenant");
    assert_eq!(
        status.metadata().get("x-request-id").expect("request id"),
        "support-ticket-42"
    );
    let answer = sys
        .tenants(&sys.operator)
        .list_users(ListUsersRequest::default())
        .await;
    let metadata = match &answer {
        Ok(r) => r.metadata().clone(),
        Err(s) => s.metadata().clone(),
    };
    let id = metadata
        .get("x-request-id")
        .expect("a request id of its own")
        .to_str()
        .expect("ascii");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    sys.stop().await;
}

#[tokio::test]
async fn a_call_not_answered_by_its_deadline_is_deadline_exceeded_with_a_reason_and_counted_so() {
    let sys = TestSystem::start().await;
    // Signing in asks the tenants service, which takes longer than this gateway waits.
    let impatient = sys
        .gateway_with(
            "",
            Limits {
                request_timeout: Duration::from_millis(1),
                ..Limits::default()
            },
        )
        .await;
    let status = AuthServiceClient::new(impatient.channel.clone())
        .sign_in(SignInRequest {
            user_name: "nobody@fabrikam.onpartnerhub.com".into(),
            password: "Not-the-password-1".into(),
            second_factor_code: String::new(),
        })
        .await
        .expect_err("too late");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(reason(&status), "DEADLINE_EXCEEDED");
    assert!(status.metadata().get("x-request-id").is_some());
    let page = scrape(impatient.metrics).await;
    assert_eq!(
        sample(
            &page,
            "grpc_server_handled_total",
            &[("grpc_method", "SignIn"), ("grpc_code", "DeadlineExceeded")]
        ),
        Some(1.0),
        "{page}"
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_stopping_gateway_ends_the_streams_through_it_so_its_stop_is_not_held_up() {
    let sys = TestSystem::start().await;
    let (partner, token) = sys
        .partner_admin("streamer", "4444444", &[PartnerType::DirectProvider])
        .await;
    let second = sys.gateway_without("").await;
    let mut stream = watch(second.channel.clone(), &token, &partner.id).await;
    second.stop();
    let ended = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the stream ends when the gateway stops, not when the client leaves");
    let status = ended.expect_err("ends with a status");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(reason(&status), "SERVER_STOPPING");
    sys.stop().await;
}

#[tokio::test]
async fn a_full_server_still_answers_health_checks_and_other_calls_wait_within_their_deadline() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    let sys = TestSystem::start().await;
    // One call at a time, and the tenants service never answers: a sign-in holds the place.
    let full = sys
        .gateway_hanging(
            "tenants",
            Limits {
                max_concurrent_requests: 1,
                ..Limits::default()
            },
        )
        .await;
    let sign_in = |timeout: Option<Duration>| {
        let mut request = tonic::Request::new(SignInRequest {
            user_name: "maja@skolan.onpartnerhub.com".into(),
            password: "Not-the-password-1".into(),
            second_factor_code: String::new(),
        });
        if let Some(t) = timeout {
            request.set_timeout(t);
        }
        let mut client = AuthServiceClient::new(full.channel.clone());
        async move { client.sign_in(request).await }
    };
    let stuck = tokio::spawn(sign_in(None));
    let in_flight =
        |page: &str| sample(page, "grpc_server_in_flight", &[("grpc_method", "SignIn")]);
    let mut waited = 0;
    while in_flight(&scrape(full.metrics).await) != Some(1.0) {
        waited += 1;
        assert!(waited < 100, "the first sign-in is under way");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let health = tokio::time::timeout(
        Duration::from_secs(2),
        HealthClient::new(full.channel.clone()).check(HealthCheckRequest {
            service: String::new(),
        }),
    )
    .await
    .expect("a health check doesn't wait for a place")
    .expect("SERVING");
    assert_eq!(health.into_inner().status, 1, "SERVING");

    // A second sign-in waits for the place: it counts as in flight, and its deadline counts
    // while it waits.
    let started = std::time::Instant::now();
    let late = tokio::spawn(sign_in(Some(Duration::from_millis(1500))));
    let mut waited = 0;
    while in_flight(&scrape(full.metrics).await) != Some(2.0) {
        waited += 1;
        assert!(waited < 100, "the waiting sign-in counts as in flight");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(late.await.expect("joined").is_err());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ended by its deadline"
    );
    let mut page = scrape(full.metrics).await;
    for _ in 0..100 {
        if in_flight(&page) == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        page = scrape(full.metrics).await;
    }
    assert_eq!(in_flight(&page), Some(1.0), "the late sign-in left: {page}");
    assert_eq!(
        sample(
            &page,
            "grpc_server_started_total",
            &[("grpc_method", "SignIn")]
        ),
        Some(2.0)
    );
    stuck.abort();
    sys.stop().await;
}

/// An OTLP collector that keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("lock");
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// The value of the span's attribute `key`.
fn value<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    match value(span, key) {
        Some(Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn int_attribute(span: &Span, key: &str) -> Option<i64> {
    match value(span, key) {
        Some(Value::IntValue(n)) => Some(*n),
        _ => None,
    }
}

/// Log lines, as the JSON formatter writes them.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_shows_a_whole_workflow_and_the_logs_carry_its_request_id_and_no_secret() {
    use tracing_subscriber::layer::SubscriberExt;

    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let (provider, tracer) =
        partnerhub_kit::telemetry::otlp_tracer(&endpoint, "partnerhub-test").expect("exporter");
    let logs = Logs::default();
    let writer = logs.clone();
    // Debug for partnerhub's own crates: even there, no secret may show.
    let filter = tracing_subscriber::EnvFilter::new(
        "info,partnerhub_kit=debug,partnerhub_gateway=debug,partnerhub_tenants=debug,\
         partnerhub_invitations=debug,partnerhub_relationships=debug",
    );
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || writer.clone()),
        );
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let sys = TestSystem::start().await;
    let enrolled = sys
        .create_partner("traced", "5555555", &[PartnerType::DirectProvider])
        .await;
    let partner_admin = sys
        .activate_user(&enrolled.admin_user_name, &enrolled.temporary_password)
        .await;
    let (customer, customer_admin) = sys.customer_admin("tracedcustomer", "SE").await;
    let created = sys
        .invite(
            &partner_admin,
            Invitation {
                kind: InvitationKind::ResellerRelationship as i32,
                inviter_tenant_id: enrolled.tenant.id.clone(),
                invitee_email: "maja@example.com".into(),
                delegated_admin: Some(DelegatedAdminRequest::default()),
                ..Default::default()
            },
        )
        .await;
    let accepted = sys
        .workflows(&customer_admin)
        .accept_invitation(AcceptInvitationRequest {
            code: created.code.clone(),
            tenant_id: customer.id.clone(),
            agreement_signer: Some(contact("Maja", "Ek")),
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .expect("AcceptInvitation");
    let request_id = accepted
        .metadata()
        .get("x-request-id")
        .expect("request id")
        .to_str()
        .expect("ascii")
        .to_string();

    // Send what is buffered, then wait for the collector to have the workflow's spans.
    let flushing = provider.clone();
    tokio::task::spawn_blocking(move || flushing.force_flush())
        .await
        .expect("flush")
        .expect("exported");
    let path = "/partnerhub.gateway.v1.WorkflowService/AcceptInvitation";
    let spans = collector.spans.lock().expect("lock").clone();
    let root = spans
        .iter()
        .find(|s| s.name == path)
        .expect("the gateway's span of the workflow");
    assert_eq!(attribute(root, "server").as_deref(), Some("gateway"));
    // OpenTelemetry's RPC semantic conventions.
    assert_eq!(attribute(root, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        attribute(root, "rpc.service").as_deref(),
        Some("partnerhub.gateway.v1.WorkflowService")
    );
    assert_eq!(
        attribute(root, "rpc.method").as_deref(),
        Some("AcceptInvitation")
    );
    assert_eq!(int_attribute(root, "rpc.grpc.status_code"), Some(0));
    assert_eq!(
        attribute(root, "request_id").as_deref(),
        Some(request_id.as_str())
    );
    let trace: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == root.trace_id)
        .collect();
    let servers: HashSet<String> = trace
        .iter()
        .filter_map(|s| attribute(s, "server"))
        .collect();
    for server in ["gateway", "invitations", "tenants", "relationships"] {
        assert!(
            servers.contains(server),
            "the trace of the workflow shows {server}: {servers:?}"
        );
    }
    for span in &trace {
        if attribute(span, "server").as_deref() != Some("gateway") {
            assert!(!span.parent_span_id.is_empty(), "{}", span.name);
            assert_eq!(
                attribute(span, "request_id").as_deref(),
                Some(request_id.as_str()),
                "the services' spans carry the gateway's request id"
            );
        }
    }

    let logs = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8");
    let mut ended = 0;
    for line in logs.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
        if entry["fields"]["message"] == "call ended"
            && entry["span"]["request_id"] == request_id.as_str()
        {
            ended += 1;
            // The line names the trace the collector has.
            let trace_id: String = root.trace_id.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(entry["span"]["trace_id"], trace_id.as_str(), "{line}");
        }
    }
    assert!(
        ended >= 4,
        "the workflow's calls at the gateway and the services log its request id: {ended}"
    );
    for secret in [
        enrolled.temporary_password.as_str(),
        NEW_PASSWORD,
        partner_admin.as_str(),
        customer_admin.as_str(),
        sys.operator.as_str(),
        created.code.as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret in the logs");
    }
    sys.stop().await;
    let _ = provider.shutdown();
}

#[tokio::test]
async fn without_tracing_the_logs_carry_no_trace_id() {
    use tracing_subscriber::layer::SubscriberExt;

    // Logs as a server without a collector writes them: no OpenTelemetry layer. (Another test
    // of this file turns tracing on for the process; without the layer there is still no trace.)
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || writer.clone()),
        );
    // This test's runtime runs every server on this thread, so they all log here.
    let _logging = tracing::subscriber::set_default(subscriber);
    let sys = TestSystem::start().await;
    sys.create_partner("untraced", "6666666", &[PartnerType::DirectProvider])
        .await;
    sys.stop().await;

    let logs = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8");
    let mut ended = 0;
    for line in logs.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
        if entry["fields"]["message"] == "call ended" {
            ended += 1;
        }
        assert!(!line.contains("trace_id"), "{line}");
    }
    assert!(ended >= 2, "the gateway's and the service's calls: {logs}");
}
