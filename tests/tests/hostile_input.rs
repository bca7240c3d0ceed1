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
use partnerhub_tests::{Raw, TestSystem, bad_fields, metadata, partner, reason};
use std::time::Duration;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;

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
    use partnerhub_proto::gateway::{CreateCustomerRequest, CustomerDetails};
    use partnerhub_proto::types::LineItem;
    use partnerhub_tests::{Bearer, address, contact};
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
    let offer = SubscriptionServiceClient::new(sys.authed(&admin))
        .list_offers(offers.clone())
        .await
        .expect("ListOffers")
        .into_inner()
        .offers
        .into_iter()
        .next()
        .expect("an offer sold in Sweden");
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
    let form = CreateCustomerRequest {
        partner_tenant_id: provider.id.clone(),
        customer: Some(CustomerDetails {
            display_name: "Ekskolan".into(),
            domain_prefix: "ekskolan".into(),
            address: Some(address()),
            contact: Some(contact("Maja", "Ek")),
            country_code: "SE".into(),
            cloud: Cloud::Worldwide as i32,
        }),
        line_items: vec![LineItem {
            offer_id: offer.id.clone(),
            quantity: offer.min_quantity,
            ..Default::default()
        }],
        agreement_signer: Some(contact("Maja", "Ek")),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
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
    let another = CreateCustomerRequest {
        customer: Some(CustomerDetails {
            display_name: "Bokskolan".into(),
            domain_prefix: "bokskolan".into(),
            address: Some(address()),
            contact: Some(contact("Maja", "Ek")),
            country_code: "SE".into(),
            cloud: Cloud::Worldwide as i32,
        }),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..form_for_events
    };
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
