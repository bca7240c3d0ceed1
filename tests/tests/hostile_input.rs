//! Hostile input answered as the caller's mistake, one call at a time, never costing other
//! calls: bytes that are no message, unknown enum numbers, thousands of bad values, oversized
//! metadata. (`fuzz.rs` throws generated input at every method; these are the cases seen from
//! outside, pinned.)

use partnerhub_proto::gateway::auth_service_client::AuthServiceClient;
use partnerhub_proto::invitations::{
    self as inv, CreateInvitationRequest, DelegatedAdminRequest, InvitationKind,
};
use partnerhub_proto::subscriptions::subscription_service_client::SubscriptionServiceClient;
use partnerhub_proto::subscriptions::{self as sub, WatchSubscriptionEventsRequest};
use partnerhub_proto::tenants::{self as pb, GetTenantRequest};
use partnerhub_proto::types::{Cloud, PartnerType};
use partnerhub_tests::{
    Bearer, Raw, TestSystem, all_at_once, bad_fields, metadata, partner, reason,
};
use std::time::Duration;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::service::interceptor::InterceptedService;

#[tokio::test]
async fn bytes_that_are_no_message_are_invalid_argument_at_every_kind_of_method() {
    let sys = TestSystem::start().await;
    // SignIn is served by the gateway itself, ListUsers forwarded to a service.
    for (path, body, field) in [
        (
            "/partnerhub.gateway.v1.AuthService/SignIn",
            vec![0x0a, 0x03, 0xff, 0xfe, b'a'],
            Some("user_name"),
        ),
        (
            "/partnerhub.gateway.v1.AuthService/SignIn",
            vec![
                0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
            ],
            Some("password"),
        ),
        (
            "/partnerhub.gateway.v1.AuthService/SignIn",
            vec![0x00, 0x01],
            None,
        ),
        (
            "/partnerhub.gateway.v1.AuthService/SignInServiceAccount",
            vec![0x2c],
            None,
        ),
    ] {
        let mut grpc = tonic::client::Grpc::new(sys.channel());
        grpc.ready().await.expect("ready");
        let status = grpc
            .unary(
                tonic::Request::new(body.clone()),
                PathAndQuery::from_static(path),
                Raw,
            )
            .await
            .expect_err("not a message");
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{path} {body:02x?}: {status:?}"
        );
        assert_eq!(reason(&status), "MALFORMED_REQUEST");
        match field {
            Some(field) => assert_eq!(bad_fields(&status), [field]),
            None => assert!(bad_fields(&status).is_empty()),
        }
    }
    // Sign-in still works on the same connection.
    let status = AuthServiceClient::new(sys.channel())
        .sign_in(partnerhub_proto::gateway::SignInRequest {
            user_name: "nobody@a.example".into(),
            password: "Some-Wrong-Guess-1".into(),
            second_factor_code: String::new(),
        })
        .await
        .expect_err("no such user");
    assert_eq!(status.code(), Code::Unauthenticated);
    sys.stop().await;
}

#[tokio::test]
async fn unknown_enum_numbers_are_invalid_argument_naming_the_field_never_try_again() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, _) = sys.customer_admin("contoso", "SE").await;
    for number in [99, -1, i32::MAX] {
        let status = sys
            .tenants(&admin)
            .create_user(pb::CreateUserRequest {
                tenant_id: fabrikam.id.clone(),
                user: Some(pb::User {
                    user_name: "ann".into(),
                    display_name: "Ann".into(),
                    roles: vec![number],
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect_err("an unknown role");
        assert_eq!(status.code(), Code::InvalidArgument, "{number}: {status:?}");
        assert!(
            bad_fields(&status)
                .iter()
                .any(|f| f.starts_with("user.roles")),
            "{number}: {status:?}"
        );

        let mut new = partner("northwind", "2345678", &[PartnerType::DirectProvider]);
        new.partner
            .as_mut()
            .expect("partner")
            .partner_types
            .push(number);
        let status = sys
            .tenants(&sys.operator)
            .create_partner(pb::CreatePartnerRequest {
                partner: Some(new),
                request_id: String::new(),
            })
            .await
            .expect_err("an unknown partner type");
        assert_eq!(status.code(), Code::InvalidArgument, "{number}: {status:?}");
        assert!(
            bad_fields(&status)
                .iter()
                .any(|f| f.starts_with("partner.partner.partner_types")),
            "{number}: {status:?}"
        );

        let status = sys
            .invitations(&admin)
            .create_invitation(CreateInvitationRequest {
                invitation: Some(inv::Invitation {
                    kind: InvitationKind::DelegatedAdmin as i32,
                    inviter_tenant_id: fabrikam.id.clone(),
                    invitee_tenant_id: customer.id.clone(),
                    delegated_admin: Some(DelegatedAdminRequest {
                        roles: vec![number],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ttl: None,
                request_id: String::new(),
            })
            .await
            .expect_err("an unknown admin role");
        assert_eq!(status.code(), Code::InvalidArgument, "{number}: {status:?}");
        assert!(
            bad_fields(&status)
                .iter()
                .any(|f| f.starts_with("invitation.delegated_admin.roles")),
            "{number}: {status:?}"
        );
    }
    sys.stop().await;
}

#[tokio::test]
async fn thousands_of_bad_values_get_one_bounded_answer() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let status = sys
        .tenants(&admin)
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                id: fabrikam.id.clone(),
                display_name: "Fabrikam".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: (0..1000).map(|i| format!("no_such_field_{i}")).collect(),
            }),
        })
        .await
        .expect_err("1,000 unknown paths");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let fields = bad_fields(&status);
    assert!((1..=20).contains(&fields.len()), "{fields:?}");
    assert!(
        fields.iter().all(|f| f.starts_with("update_mask")),
        "{fields:?}"
    );
    assert_eq!(metadata(&status, "violationCount"), "1000");
    // More than 1,000 items in any list is refused at the gateway, before any service works on it.
    let status = sys
        .tenants(&admin)
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                id: fabrikam.id.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".to_string(); 1001],
            }),
        })
        .await
        .expect_err("1,001 paths");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(bad_fields(&status), ["update_mask.paths"]);

    let status = SubscriptionServiceClient::new(sys.authed(&sys.operator))
        .create_offer(sub::CreateOfferRequest {
            offer: Some(sub::Offer {
                cloud: Cloud::Worldwide as i32,
                display_name: "Too many countries".into(),
                country_codes: (0..10_000).map(|_| "ZZ".to_string()).collect(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("10,000 country codes");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        bad_fields(&status)
            .iter()
            .any(|f| f.starts_with("offer.country_codes")),
        "{status:?}"
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_call_with_too_much_metadata_is_refused_alone_and_the_connections_other_calls_go_on() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::IndirectProvider])
        .await;
    // A stream open on the connection every client here shares.
    let mut watch = SubscriptionServiceClient::new(sys.authed(&admin))
        .watch_subscription_events(WatchSubscriptionEventsRequest {
            partner_tenant_id: fabrikam.id.clone(),
            cursor: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();

    for size in [20 * 1024, 64 * 1024, 200 * 1024] {
        let mut request = tonic::Request::new(GetTenantRequest {
            tenant_id: fabrikam.id.clone(),
        });
        request
            .metadata_mut()
            .insert("x-big", "a".repeat(size).parse().expect("ascii"));
        let status = sys
            .tenants(&admin)
            .get_tenant(request)
            .await
            .expect_err("too much metadata");
        assert_eq!(status.code(), Code::ResourceExhausted, "{size}: {status:?}");
        assert_eq!(reason(&status), "METADATA_TOO_LARGE", "{size}");
    }

    // The stream is still open (it would have ended with the connection), and calls go on.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), watch.message())
            .await
            .is_err(),
        "the watch stream ended"
    );
    sys.tenants(&admin)
        .get_tenant(GetTenantRequest {
            tenant_id: fabrikam.id.clone(),
        })
        .await
        .expect("still served");
    sys.stop().await;
}

#[tokio::test]
async fn a_service_gone_mid_call_is_unavailable_with_retry_info_and_a_retry_finishes_the_work() {
    use partnerhub_proto::gateway::workflow_service_client::WorkflowServiceClient;
    use partnerhub_proto::types::LineItem;
    use partnerhub_tests::customer_form;
    use tonic_types::StatusExt;

    let sys = TestSystem::start().await;
    let (provider, admin) = sys
        .partner_admin("nordicdist", "3456789", &[PartnerType::IndirectProvider])
        .await;
    let offers = sub::ListOffersRequest {
        cloud: Cloud::Worldwide as i32,
        country_code: "SE".into(),
        ..Default::default()
    };
    let offer = sys.offer_in_sweden(&admin).await;
    let gateway = sys.gateway_losing("subscriptions").await;
    let assert_retryable = |status: tonic::Status, what: &str| {
        assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
        assert_eq!(reason(&status), "SERVICE_UNAVAILABLE", "{what}");
        assert!(
            status.get_error_details().retry_info().is_some(),
            "{what}: no RetryInfo"
        );
    };

    // A call the gateway passes on.
    let status =
        SubscriptionServiceClient::with_interceptor(gateway.channel.clone(), Bearer::new(&admin))
            .list_offers(offers)
            .await
            .expect_err("the service went away");
    assert_retryable(status, "ListOffers");

    // A workflow whose order step is lost with the service.
    let form = customer_form(
        &provider.id,
        "ekskolan",
        vec![LineItem {
            offer_id: offer.id.clone(),
            quantity: offer.min_quantity,
            ..Default::default()
        }],
    );
    let status =
        WorkflowServiceClient::with_interceptor(gateway.channel.clone(), Bearer::new(&admin))
            .create_customer(form.clone())
            .await
            .expect_err("the service went away");
    assert_retryable(status, "CreateCustomer");

    // As the answer says, a retry (here through a gateway whose service is up) finishes it.
    let form_for_events = form.clone();
    let created = sys
        .workflows(&admin)
        .create_customer(form)
        .await
        .expect("the retry finishes the customer")
        .into_inner();
    assert_eq!(created.order.expect("order").line_items.len(), 1);

    // A stream whose service goes away in the middle ends as UNAVAILABLE too (call again from
    // the last cursor), not with the transport's error.
    let gateway = sys.gateway_losing_streams("subscriptions").await;
    let mut watching =
        SubscriptionServiceClient::with_interceptor(gateway.channel.clone(), Bearer::new(&admin));
    let mut tries = 0;
    // The gateway's health probe of the service has an answer too, which cuts the connection
    // the stream may be opened on: open it again until it is open.
    let mut watch = loop {
        tries += 1;
        match watching
            .watch_subscription_events(WatchSubscriptionEventsRequest {
                partner_tenant_id: provider.id.clone(),
                cursor: String::new(),
            })
            .await
        {
            Ok(stream) => break stream.into_inner(),
            Err(status) if tries < 10 => assert_retryable(status, "opening the watch"),
            Err(status) => panic!("the watch never opened: {status:?}"),
        }
    };
    let another = customer_form(&provider.id, "bokskolan", form_for_events.line_items);
    sys.workflows(&admin)
        .create_customer(another)
        .await
        .expect("a customer whose order makes events");
    let ended = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .expect("the stream ends when its service goes");
    assert_retryable(
        ended.expect_err("ends with an error"),
        "WatchSubscriptionEvents",
    );
    sys.stop().await;
}

/// Sends one HTTP/2 request on `channel` as a client that may speak no gRPC would; gives the
/// answer's status, headers and trailers.
async fn post(
    channel: &tonic::transport::Channel,
    path: &str,
    content_type: Option<&str>,
    token: &str,
    body: Vec<u8>,
) -> (http::StatusCode, http::HeaderMap, Option<http::HeaderMap>) {
    use http_body_util::BodyExt;
    use tonic::codegen::Service;
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://partnerhub{path}"))
        .header("te", "trailers")
        .header("authorization", format!("Bearer {token}"));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let request = request
        .body(tonic::body::Body::new(http_body_util::Full::new(
            prost::bytes::Bytes::from(body),
        )))
        .expect("a request");
    let mut channel = channel.clone();
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .expect("ready");
    let (parts, body) = channel.call(request).await.expect("an answer").into_parts();
    let collected = body.collect().await.expect("the whole answer");
    (parts.status, parts.headers, collected.trailers().cloned())
}

#[tokio::test]
async fn a_call_that_is_not_grpc_is_answered_415_and_the_connection_goes_on() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let get_tenant = "/partnerhub.tenants.v1.TenantService/GetTenant";
    // As a browser, curl or a grpc-web client would send them, on the connection every client
    // here shares; health is gRPC too. A service's own port answers alike.
    let tenants = sys.unproven_service("tenants").await;
    for (channel, path) in [
        (sys.channel(), get_tenant),
        (sys.channel(), "/partnerhub.gateway.v1.AuthService/SignIn"),
        (sys.channel(), "/grpc.health.v1.Health/Check"),
        (tenants, "/grpc.health.v1.Health/Check"),
    ] {
        for content_type in [
            Some("application/json"),
            Some("text/plain"),
            Some("application/grpc-web"),
            Some("application/grpc-web+proto"),
            Some("application/grpc+json"),
            None,
        ] {
            let (status, headers, trailers) =
                post(&channel, path, content_type, &admin, b"{}".to_vec()).await;
            assert_eq!(
                status,
                http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {content_type:?}"
            );
            assert!(
                headers.get("grpc-status").is_none()
                    && trailers.is_none_or(|t| t.get("grpc-status").is_none()),
                "no gRPC status: {path} {content_type:?}"
            );
            assert_eq!(
                headers.get("accept").map(|v| v.as_bytes()),
                Some(&b"application/grpc, application/grpc+proto"[..])
            );
        }
    }
    // The same connection goes on serving gRPC, "+proto" included.
    let message = prost::Message::encode_to_vec(&GetTenantRequest {
        tenant_id: fabrikam.id.clone(),
    });
    let mut framed = vec![0];
    framed.extend(u32::try_from(message.len()).expect("small").to_be_bytes());
    framed.extend(message);
    for content_type in ["application/grpc", "application/grpc+proto"] {
        let (status, _, trailers) = post(
            &sys.channel(),
            get_tenant,
            Some(content_type),
            &admin,
            framed.clone(),
        )
        .await;
        assert_eq!(status, http::StatusCode::OK, "{content_type}");
        assert_eq!(
            trailers.and_then(|t| t.get("grpc-status").cloned()),
            Some(http::HeaderValue::from_static("0")),
            "{content_type}"
        );
    }
    sys.stop().await;
}

/// The worst a tenant's users can send: an error as long as the request allows (1,000 unknown
/// update-mask paths as a billing admin, 200 unknown role numbers as a user admin), metadata
/// over the limit, bytes that are no message; `turn` picks one.
async fn worst_request(
    channel: tonic::transport::Channel,
    tenant: String,
    billing_admin: &str,
    user_admin: &str,
    turn: usize,
) -> tonic::Status {
    let as_user_admin = || {
        pb::tenant_service_client::TenantServiceClient::with_interceptor(
            channel.clone(),
            Bearer::new(user_admin),
        )
    };
    match turn % 5 {
        0 => {
            SubscriptionServiceClient::with_interceptor(channel.clone(), Bearer::new(billing_admin))
                .update_subscription(sub::UpdateSubscriptionRequest {
                    tenant_id: tenant,
                    subscription: Some(sub::Subscription {
                        id: uuid::Uuid::now_v7().to_string(),
                        quantity: 2,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: (0..1000)
                            .map(|i| format!("no_such_field_{i}_{}", "x".repeat(40)))
                            .collect(),
                    }),
                })
                .await
                .map(drop)
        }
        1 => as_user_admin()
            .create_user(pb::CreateUserRequest {
                tenant_id: tenant,
                user: Some(pb::User {
                    user_name: format!("u{turn}"),
                    display_name: "U".into(),
                    roles: (1000..1200).collect(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .map(drop),
        2 | 3 => {
            let mut request = tonic::Request::new(GetTenantRequest { tenant_id: tenant });
            let size = if turn % 5 == 2 { 64 } else { 200 } * 1024;
            request
                .metadata_mut()
                .insert("x-big", "a".repeat(size).parse().expect("ascii"));
            as_user_admin().get_tenant(request).await.map(drop)
        }
        _ => {
            let mut grpc =
                tonic::client::Grpc::new(InterceptedService::new(channel, Bearer::new(user_admin)));
            grpc.ready().await.expect("ready");
            grpc.unary(
                tonic::Request::new(vec![0x0a, 0x80, 0x80]),
                PathAndQuery::from_static("/partnerhub.tenants.v1.TenantService/CreateUser"),
                Raw,
            )
            .await
            .map(drop)
        }
    }
    .expect_err("refused")
}

/// The calls of a tenant going about its business: reads, a new user, a subscription's
/// quantity changed by its partner; `turn` picks one.
async fn ordinary_request(
    channel: tonic::transport::Channel,
    customer: &Enrolled,
    partner: &Enrolled,
    subscription: &str,
    turn: i32,
) -> Result<(), tonic::Status> {
    let tenants = pb::tenant_service_client::TenantServiceClient::with_interceptor(
        channel.clone(),
        Bearer::new(&customer.token),
    );
    let subscriptions = |token: &str| {
        SubscriptionServiceClient::with_interceptor(channel.clone(), Bearer::new(token))
    };
    match turn % 5 {
        0 => tenants
            .clone()
            .get_tenant(GetTenantRequest {
                tenant_id: customer.id.clone(),
            })
            .await
            .map(drop),
        1 => tenants
            .clone()
            .list_users(pb::ListUsersRequest {
                tenant_id: customer.id.clone(),
                ..Default::default()
            })
            .await
            .map(drop),
        2 => tenants
            .clone()
            .create_user(pb::CreateUserRequest {
                tenant_id: customer.id.clone(),
                user: Some(pb::User {
                    user_name: format!("larare{}", uuid::Uuid::new_v4().simple()),
                    display_name: "Lärare".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .map(drop),
        3 => subscriptions(&customer.token)
            .list_subscriptions(sub::ListSubscriptionsRequest {
                customer_tenant_id: customer.id.clone(),
                ..Default::default()
            })
            .await
            .map(drop),
        _ => subscriptions(&partner.token)
            .update_subscription(sub::UpdateSubscriptionRequest {
                tenant_id: partner.id.clone(),
                subscription: Some(sub::Subscription {
                    id: subscription.to_string(),
                    quantity: 10 + turn,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["quantity".into()],
                }),
            })
            .await
            .map(drop),
    }
}

/// A tenant and a signed-in user's token.
struct Enrolled {
    id: String,
    token: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_worst_requests_cost_another_tenants_calls_nothing() {
    use partnerhub_proto::types::{LineItem, Role};
    const WORKERS: usize = 4;
    const CALLS: usize = 100;
    let sys = TestSystem::start().await;
    let (fabrikam, partner_admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let offer = sys.offer_in_sweden(&partner_admin).await;
    let line = LineItem {
        offer_id: offer.id.clone(),
        quantity: offer.min_quantity,
        ..Default::default()
    };
    // The other tenant: a customer with a subscription for each of its workers.
    let (skolan, skolan_admin) = sys
        .created_customer(&partner_admin, &fabrikam.id, "skolan", vec![line; WORKERS])
        .await;
    let skolan_subscriptions: Vec<String> =
        skolan.subscriptions.iter().map(|s| s.id.clone()).collect();
    let skolan = std::sync::Arc::new(Enrolled {
        id: skolan.customer.expect("customer").id,
        token: skolan_admin,
    });
    let fabrikam = std::sync::Arc::new(Enrolled {
        id: fabrikam.id,
        token: partner_admin,
    });
    // The abusive tenant's billing admin and user admin.
    let (angripare, angripare_admin) = sys
        .created_customer(&fabrikam.token, &fabrikam.id, "angripare", Vec::new())
        .await;
    let angripare = angripare.customer.expect("customer").id;
    let (_, billing_admin) = sys
        .user(
            &angripare_admin,
            &angripare,
            "ekonom",
            &[Role::BillingAdmin],
        )
        .await;
    let (_, user_admin) = sys
        .user(
            &angripare_admin,
            &angripare,
            "anvandare",
            &[Role::UserAdmin],
        )
        .await;

    // Everyone on the one connection every client here shares, to the same gateway and over
    // its connections to the services.
    let flooding = (0..WORKERS).map(|worker| {
        let (channel, tenant, billing_admin, user_admin) = (
            sys.channel(),
            angripare.clone(),
            billing_admin.clone(),
            user_admin.clone(),
        );
        async move {
            let mut told = Vec::new();
            for turn in 0..25 {
                let status = worst_request(
                    channel.clone(),
                    tenant.clone(),
                    &billing_admin,
                    &user_admin,
                    worker + turn,
                )
                .await;
                told.push((status.code(), reason(&status)));
            }
            told
        }
    });
    let working = skolan_subscriptions.into_iter().map(|subscription| {
        let (channel, skolan, fabrikam) = (sys.channel(), skolan.clone(), fabrikam.clone());
        async move {
            let mut failures = Vec::new();
            for turn in 0..CALLS {
                let turn = i32::try_from(turn).expect("small");
                if let Err(status) =
                    ordinary_request(channel.clone(), &skolan, &fabrikam, &subscription, turn).await
                {
                    failures.push(format!("call {turn}: {status:?}"));
                }
            }
            failures
        }
    });
    let flooding = all_at_once(flooding.collect());
    let working = all_at_once(working.collect());
    let (told, failures) = tokio::join!(flooding, working);
    let failures: Vec<String> = failures.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "{} of {} calls of the other tenant failed: {failures:#?}",
        failures.len(),
        WORKERS * CALLS
    );
    // And the abuse was answered as the caller's mistake, each call alone.
    for (code, reason) in told.into_iter().flatten() {
        assert!(
            matches!(
                (code, reason.as_str()),
                (
                    Code::InvalidArgument,
                    "INVALID_ARGUMENT" | "MALFORMED_REQUEST"
                ) | (Code::ResourceExhausted, "METADATA_TOO_LARGE")
            ),
            "{code:?} {reason}"
        );
    }
    sys.stop().await;
}
