//! Every `ErrorInfo.reason` the README lists, met the way a user meets it (issue 12): the walk
//! below is a catalogue of steps (reason, code, how), each provoked through the gateway, or
//! through a service's internal API where only internal callers can meet it (the machinery).
//! Each step checks the gRPC code, the reason and that the `ErrorInfo.domain` is set; the walk
//! then checks that it met exactly the reasons the README lists.
//!
//! The codes follow one rule: bad shape of a field is INVALID_ARGUMENT; a precondition about the
//! world (no partnership, agreement not accepted, no trial, government cloud needs delegated
//! admin, wrong cloud or region, not a customer, ...) is FAILED_PRECONDITION; a missing thing is
//! NOT_FOUND, a taken one ALREADY_EXISTS, roles are PERMISSION_DENIED. The same rule answers the
//! same code and reason wherever it is detected, so a reason met at several places is walked at
//! each of them. No reason is exempt: the machinery's are provoked on a second gateway (one
//! service out of reach, a 1 ms deadline, a stop) or on a tenants service of the test's own
//! whose database it breaks.

use partnerhub::system::{self, Settings};
use partnerhub_kit::server::{Limits, bind};
use partnerhub_kit::store::sqlite_url;
use partnerhub_proto::gateway::{self as gw, auth_service_client::AuthServiceClient};
use partnerhub_proto::invitations::{self as inv, InvitationKind};
use partnerhub_proto::relationships::relationship_internal_service_client::RelationshipInternalServiceClient;
use partnerhub_proto::relationships::{self as rel, RelationshipType};
use partnerhub_proto::subscriptions::subscription_internal_service_client::SubscriptionInternalServiceClient;
use partnerhub_proto::subscriptions::subscription_service_client::SubscriptionServiceClient;
use partnerhub_proto::subscriptions::{self as sub};
use partnerhub_proto::support::{self as sr, support_service_client::SupportServiceClient};
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use partnerhub_proto::tenants::{self as pb};
use partnerhub_proto::types::{Cloud, LineItem, PartnerType, Role, TermDuration};
use partnerhub_tests::{Bearer, Peer, TestSystem, contact, customer, partner};
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::time::Duration;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

// Offers of `services/subscriptions/catalogue.json`.
/// Worldwide, everywhere, with a trial, 1 to 300 licences.
const BUSINESS_BASIC: &str = "01a1fc99-ee8a-7d8f-9a4d-a85439c0beee";
/// Worldwide, everywhere, sold on annual terms only.
const ENTERPRISE_E3: &str = "01a1fc99-ee8d-7edf-b152-dfa4b1cf2397";
/// Worldwide, everywhere, without a trial.
const EXCHANGE_PLAN_1: &str = "01a1fc99-ee8e-7520-af98-264faa6aea9c";
/// Worldwide, sold only in the Nordic countries.
const EDUCATION_A1: &str = "01a1fc99-ee92-7ab8-937d-7aaf1de374f9";
/// The Germany cloud's.
const GERMANY_BUSINESS_STANDARD: &str = "01a1fc99-ee94-7152-9ff9-dcff89a8f674";

/// The reasons of the README's list ("Reasons so far:" up to the next paragraph).
fn readme_reasons() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let list: String = readme
        .lines()
        .skip_while(|l| !l.starts_with("Reasons so far:"))
        .skip(1)
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    list.split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| t.len() > 1 && t.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// The steps walked so far, and what went wrong in them.
#[derive(Default)]
struct Walk {
    met: BTreeSet<&'static str>,
    steps: usize,
    wrong: Vec<String>,
}

impl Walk {
    /// One step of the catalogue: `how` must have been refused with `code` and `reason`, in a
    /// named domain. Returns the refusal for the few steps that check more.
    fn step<T: Debug>(
        &mut self,
        reason: &'static str,
        code: Code,
        how: &str,
        answer: Result<T, Status>,
    ) -> Option<Status> {
        self.met.insert(reason);
        self.steps += 1;
        let status = match answer {
            Ok(answer) => {
                self.wrong
                    .push(format!("{reason} ({how}): answered {answer:?}"));
                return None;
            }
            Err(status) => status,
        };
        let details = status.get_error_details();
        let info = details.error_info();
        let (got_reason, domain) = info
            .map(|i| (i.reason.as_str(), i.domain.as_str()))
            .unwrap_or_default();
        if status.code() != code || got_reason != reason || domain.is_empty() {
            self.wrong.push(format!(
                "{reason} ({how}): wanted {code:?}, got {:?} {got_reason:?} in domain {domain:?}: {}",
                status.code(),
                status.message()
            ));
        }
        Some(status)
    }

    /// A step whose answer also tells when to try again.
    fn step_with_retry<T: Debug>(
        &mut self,
        reason: &'static str,
        code: Code,
        how: &str,
        answer: Result<T, Status>,
    ) {
        if let Some(status) = self.step(reason, code, how, answer)
            && status.get_error_details().retry_info().is_none()
        {
            self.wrong.push(format!("{reason} ({how}): no RetryInfo"));
        }
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn get_tenant(id: &str) -> pb::GetTenantRequest {
    pb::GetTenantRequest {
        tenant_id: id.into(),
    }
}

fn line(offer: &str, quantity: i32) -> LineItem {
    LineItem {
        offer_id: offer.into(),
        quantity,
        ..Default::default()
    }
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

fn subscriptions(
    sys: &TestSystem,
    token: &str,
) -> SubscriptionServiceClient<partnerhub_tests::Authed> {
    SubscriptionServiceClient::new(sys.authed(token))
}

fn accept(code: &str, tenant: &str, signer: bool) -> gw::AcceptInvitationRequest {
    gw::AcceptInvitationRequest {
        code: code.into(),
        tenant_id: tenant.into(),
        agreement_signer: signer.then(|| contact("Maja", "Ek")),
        request_id: String::new(),
        ..Default::default()
    }
}

fn reseller_invitation(inviter: &str, delegated_admin: bool) -> inv::Invitation {
    inv::Invitation {
        kind: InvitationKind::ResellerRelationship as i32,
        inviter_tenant_id: inviter.into(),
        invitee_email: "maja@skolan.example".into(),
        delegated_admin: delegated_admin.then(inv::DelegatedAdminRequest::default),
        ..Default::default()
    }
}

fn create_invitation(invitation: inv::Invitation) -> inv::CreateInvitationRequest {
    inv::CreateInvitationRequest {
        invitation: Some(invitation),
        ttl: None,
        request_id: String::new(),
    }
}

fn trial(advisor: &str, offer: &str) -> inv::Invitation {
    inv::Invitation {
        kind: InvitationKind::Trial as i32,
        inviter_tenant_id: advisor.into(),
        line_items: vec![line(offer, 5)],
        ..Default::default()
    }
}

/// The CreateCustomer form of `partner` for a new customer `prefix` in `country`.
fn customer_form(partner: &str, prefix: &str, country: &str) -> gw::CreateCustomerRequest {
    let mut form = partnerhub_tests::customer_form(partner, prefix, Vec::new());
    if let Some(customer) = form.customer.as_mut() {
        customer.country_code = country.into();
    }
    form
}

/// A partner of `types` in `cloud` and `country`, enrolled by the operator, its admin signed in.
async fn enrol(
    sys: &TestSystem,
    prefix: &str,
    mpn_id: &str,
    types: &[PartnerType],
    cloud: Cloud,
    country: &str,
) -> (pb::Tenant, String) {
    let mut tenant = partner(prefix, mpn_id, types);
    tenant.cloud = cloud as i32;
    tenant.country_code = country.into();
    let created = sys
        .tenants(&sys.operator)
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(tenant),
            request_id: String::new(),
        })
        .await
        .expect("CreatePartner")
        .into_inner();
    let admin = created.admin_user.expect("admin");
    let token = sys
        .activate_user(&admin.user_name, &created.temporary_password)
        .await;
    (created.partner.expect("partner"), token)
}

/// Relationships made straight at the relationships service (as a workflow makes them).
async fn relate(sys: &TestSystem, relationships: Vec<rel::NewRelationship>) {
    RelationshipInternalServiceClient::new(sys.service("relationships").await)
        .create_relationships(rel::CreateRelationshipsRequest {
            relationships,
            request_id: String::new(),
        })
        .await
        .expect("CreateRelationships");
}

/// A tenants service of its own over a database the test can break.
async fn tenants_over(
    db: partnerhub_kit::store::Database,
) -> (Peer, tokio::sync::oneshot::Sender<()>) {
    // The tenants service asks no other service; its peers lead nowhere.
    let gone = bind("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind");
    let nowhere = gone.local_addr().expect("address");
    drop(gone);
    let keys = system::SecretKeys::generate();
    let peer = system::channel(&format!("http://{nowhere}"), &keys.internal).expect("channel");
    let peers = system::Peers {
        tenants: peer.clone(),
        relationships: peer.clone(),
        subscriptions: peer,
    };
    let server = system::service_server(
        system::Service::Tenants,
        db,
        &peers,
        &Settings::default(),
        &keys,
    );
    let listener = bind("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(listener, Limits::default(), async {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    (Peer::new(channel, keys.internal), stop)
}

/// The first answer of a stream (its refusal, whether it came before or as the first message).
async fn first_of<T: Debug>(
    opened: Result<tonic::Response<tonic::Streaming<T>>, Status>,
) -> Result<Option<T>, Status> {
    opened?.into_inner().message().await
}

#[tokio::test]
async fn every_reason_the_readme_lists_is_met_with_its_code() {
    let listed = readme_reasons();
    assert!(
        listed.len() > 60 && listed.contains("INVALID_ARGUMENT") && listed.contains("INTERNAL"),
        "the README's reason list was not found: {listed:?}"
    );
    let sys = TestSystem::start().await;
    let mut w = Walk::default();
    let op = sys.operator.clone();

    // The cast: a direct provider, an indirect provider with its reseller, an advisor, a German
    // provider, and a Swedish school that has not accepted the customer agreement yet.
    let (fabrikam, pa) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (nordic, ipa) = sys
        .partner_admin("nordicdist", "3456789", &[PartnerType::IndirectProvider])
        .await;
    let (skolit, ra) = sys
        .partner_admin("skolit", "4567890", &[PartnerType::IndirectReseller])
        .await;
    let (advisor, aa) = sys
        .partner_admin("radgivarna", "7777777", &[PartnerType::Advisor])
        .await;
    let (tysk, ta) = enrol(
        &sys,
        "tysk",
        "2345678",
        &[PartnerType::DirectProvider],
        Cloud::Germany,
        "DE",
    )
    .await;
    let (skolan, ca) = sys.customer_admin("skolan", "SE").await;

    // ---- sign-in and access ----
    w.step(
        "TOKEN_MISSING",
        Code::Unauthenticated,
        "GetTenant without a token",
        sys.tenants("").get_tenant(get_tenant(&fabrikam.id)).await,
    );
    w.step(
        "TOKEN_INVALID",
        Code::Unauthenticated,
        "GetTenant with a token the gateway did not sign",
        sys.tenants("not.a.token")
            .get_tenant(get_tenant(&fabrikam.id))
            .await,
    );
    w.step(
        "TOKEN_EXPIRED",
        Code::Unauthenticated,
        "GetTenant with a token that expired an hour ago",
        sys.tenants(&sys.expired_operator_token())
            .get_tenant(get_tenant(&fabrikam.id))
            .await,
    );
    let (lisa, sales_agent) = sys
        .user(&pa, &fabrikam.id, "lisa", &[Role::SalesAgent])
        .await;
    w.step(
        "INVALID_CREDENTIALS",
        Code::Unauthenticated,
        "SignIn with a wrong password",
        sys.sign_in(&lisa.user_name, "Not-Her-Password-1").await,
    );
    for _ in 2..=4 {
        let _ = sys.sign_in(&lisa.user_name, "Not-Her-Password-1").await;
    }
    w.step_with_retry(
        "SIGN_IN_LOCKED",
        Code::ResourceExhausted,
        "the fifth wrong password in a row",
        sys.sign_in(&lisa.user_name, "Not-Her-Password-1").await,
    );
    let strict = sys
        .gateway_with_sign_in_limits(partnerhub_gateway::SignInLimits {
            per_user: partnerhub_gateway::sign_in_limit::Rate {
                burst: 1,
                every: Duration::from_secs(3600),
            },
            ..Default::default()
        })
        .await;
    let mut strict_auth = AuthServiceClient::new(strict.channel.clone());
    let _ = strict_auth
        .sign_in(gw::SignInRequest {
            user_name: lisa.user_name.clone(),
            password: "Not-Her-Password-1".into(),
            second_factor_code: String::new(),
        })
        .await;
    w.step_with_retry(
        "SIGN_IN_RATE_LIMITED",
        Code::ResourceExhausted,
        "a second SignIn for one user name through a gateway that lets one an hour through",
        strict_auth
            .sign_in(gw::SignInRequest {
                user_name: lisa.user_name.clone(),
                password: "Not-Her-Password-1".into(),
                second_factor_code: String::new(),
            })
            .await,
    );
    let (tove, temporary) = sys
        .new_user(&pa, &fabrikam.id, "tove", &[Role::SalesAgent])
        .await;
    let first = sys
        .sign_in(&tove.user_name, &temporary)
        .await
        .expect("sign in")
        .access_token;
    w.step(
        "PASSWORD_CHANGE_REQUIRED",
        Code::FailedPrecondition,
        "GetTenant with the token of a temporary password",
        sys.tenants(&first)
            .get_tenant(get_tenant(&fabrikam.id))
            .await,
    );
    let changed = sys
        .auth(&first)
        .change_password(gw::ChangePasswordRequest {
            current_password: temporary,
            new_password: partnerhub_tests::NEW_PASSWORD.into(),
        })
        .await
        .expect("ChangePassword")
        .into_inner()
        .access_token;
    w.step(
        "TOKEN_OUTDATED",
        Code::Unauthenticated,
        "GetTenant with a token issued before the password changed",
        sys.tenants(&first)
            .get_tenant(get_tenant(&fabrikam.id))
            .await,
    );
    // Tove's second factor.
    let mut tove_auth = sys.auth(&changed);
    let password = || partnerhub_tests::NEW_PASSWORD.to_string();
    w.step(
        "NO_SECOND_FACTOR_ENROLLMENT",
        Code::FailedPrecondition,
        "ConfirmSecondFactorEnrollment before BeginSecondFactorEnrollment",
        tove_auth
            .confirm_second_factor_enrollment(gw::ConfirmSecondFactorEnrollmentRequest {
                code: "123456".into(),
            })
            .await,
    );
    w.step(
        "NO_SECOND_FACTOR",
        Code::FailedPrecondition,
        "RemoveSecondFactor of a user without one",
        tove_auth
            .remove_second_factor(gw::RemoveSecondFactorRequest {
                current_password: password(),
                code: "123456".into(),
            })
            .await,
    );
    let requiring = sys
        .gateway_with_options(partnerhub_gateway::Options {
            require_second_factor: true,
            ..Default::default()
        })
        .await;
    w.step(
        "SECOND_FACTOR_ENROLLMENT_REQUIRED",
        Code::FailedPrecondition,
        "GetTenant as a partner's agent without a second factor, through a gateway requiring one",
        TenantServiceClient::with_interceptor(requiring.channel.clone(), Bearer::new(&changed))
            .get_tenant(get_tenant(&fabrikam.id))
            .await,
    );
    let begin = gw::BeginSecondFactorEnrollmentRequest {
        current_password: password(),
    };
    let secret = tove_auth
        .begin_second_factor_enrollment(begin.clone())
        .await
        .expect("BeginSecondFactorEnrollment")
        .into_inner()
        .secret;
    let code = partnerhub_tenants::totp::code(&secret, std::time::SystemTime::now()).expect("code");
    tove_auth
        .confirm_second_factor_enrollment(gw::ConfirmSecondFactorEnrollmentRequest {
            code: code.clone(),
        })
        .await
        .expect("ConfirmSecondFactorEnrollment");
    w.step(
        "SECOND_FACTOR_ENROLLED",
        Code::FailedPrecondition,
        "BeginSecondFactorEnrollment by a user with a second factor",
        tove_auth.begin_second_factor_enrollment(begin).await,
    );
    w.step(
        "SECOND_FACTOR_REQUIRED",
        Code::Unauthenticated,
        "SignIn with a second factor's user's password and no code",
        sys.sign_in(&tove.user_name, &password()).await,
    );
    w.step(
        "INVALID_SECOND_FACTOR",
        Code::Unauthenticated,
        "SignIn with the code that confirmed the second factor (used already)",
        sys.auth("")
            .sign_in(gw::SignInRequest {
                user_name: tove.user_name.clone(),
                password: password(),
                second_factor_code: code,
            })
            .await,
    );
    sys.tenants(&pa)
        .delete_user(pb::DeleteUserRequest {
            tenant_id: fabrikam.id.clone(),
            user_id: tove.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("DeleteUser");
    w.step(
        "USER_NOT_FOUND",
        Code::Unauthenticated,
        "GetTenant with the token of a deleted user",
        sys.tenants(&changed)
            .get_tenant(get_tenant(&fabrikam.id))
            .await,
    );
    w.step(
        "OPERATOR_ONLY",
        Code::PermissionDenied,
        "a partner's admin calls CreatePartner",
        sys.tenants(&pa)
            .create_partner(pb::CreatePartnerRequest {
                partner: Some(partner(
                    "another",
                    "9876543",
                    &[PartnerType::DirectProvider],
                )),
                request_id: String::new(),
            })
            .await,
    );
    w.step(
        "NOT_FOR_OPERATOR",
        Code::PermissionDenied,
        "the operator creates a user in a partner's tenant",
        sys.tenants(&op)
            .create_user(pb::CreateUserRequest {
                tenant_id: fabrikam.id.clone(),
                user: Some(pb::User {
                    user_name: "erik".into(),
                    display_name: "Erik".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await,
    );
    w.step(
        "OPERATOR_HAS_NO_PASSWORD",
        Code::FailedPrecondition,
        "the operator calls ChangePassword",
        sys.auth(&op)
            .change_password(gw::ChangePasswordRequest {
                current_password: "x".into(),
                new_password: "Fika-9876-Stockholm".into(),
            })
            .await,
    );
    let (_, helga) = sys
        .user(&pa, &fabrikam.id, "helga", &[Role::HelpdeskAgent])
        .await;
    w.step(
        "ROLE_REQUIRED",
        Code::PermissionDenied,
        "a helpdesk agent creates a user (the gateway's table)",
        sys.tenants(&helga)
            .create_user(pb::CreateUserRequest {
                tenant_id: fabrikam.id.clone(),
                user: Some(pb::User {
                    user_name: "erik".into(),
                    display_name: "Erik".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await,
    );
    w.step(
        "NO_ACCESS_TO_TENANT",
        Code::PermissionDenied,
        "a partner's admin reads another partner's tenant",
        sys.tenants(&pa).get_tenant(get_tenant(&nordic.id)).await,
    );
    w.step(
        "INTERNAL_METHOD",
        Code::PermissionDenied,
        "the operator calls TenantInternalService.GetPrincipal through the gateway",
        TenantInternalServiceClient::new(sys.authed(&op))
            .get_principal(pb::GetPrincipalRequest::default())
            .await,
    );
    w.step(
        "METHOD_NOT_SERVED",
        Code::Unimplemented,
        "a method the gateway does not know",
        raw_call::<sub::GetOfferRequest, sub::GetOfferResponse>(
            &sys,
            &pa,
            "/partnerhub.subscriptions.v1.SubscriptionService/DeleteOffer",
            sub::GetOfferRequest::default(),
        )
        .await,
    );
    // A varint where GetTenantRequest has its string field 1.
    w.step(
        "MALFORMED_REQUEST",
        Code::InvalidArgument,
        "a GetTenant message that is not a GetTenantRequest",
        raw_call::<prost_types::Duration, pb::GetTenantResponse>(
            &sys,
            &pa,
            "/partnerhub.tenants.v1.TenantService/GetTenant",
            prost_types::Duration {
                seconds: 5,
                nanos: 0,
            },
        )
        .await,
    );

    // ---- input and ids, tenants, user management ----
    w.step(
        "INVALID_ARGUMENT",
        Code::InvalidArgument,
        "CreateUser with a user name with a space",
        sys.tenants(&pa)
            .create_user(pb::CreateUserRequest {
                tenant_id: fabrikam.id.clone(),
                user: Some(pb::User {
                    user_name: "not valid".into(),
                    display_name: "Not Valid".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await,
    );
    let request_id = new_id();
    let create_user = |name: &str| pb::CreateUserRequest {
        tenant_id: fabrikam.id.clone(),
        user: Some(pb::User {
            user_name: name.into(),
            display_name: name.into(),
            roles: vec![Role::SalesAgent as i32],
            ..Default::default()
        }),
        request_id: request_id.clone(),
    };
    sys.tenants(&pa)
        .create_user(create_user("olle"))
        .await
        .expect("CreateUser with a request id");
    w.step(
        "REQUEST_ID_REUSED",
        Code::InvalidArgument,
        "CreateUser again with the request id of another user's",
        sys.tenants(&pa).create_user(create_user("pelle")).await,
    );
    w.step(
        "USER_NAME_TAKEN",
        Code::AlreadyExists,
        "CreateUser with a user name the tenant has",
        sys.tenants(&pa)
            .create_user(pb::CreateUserRequest {
                request_id: String::new(),
                ..create_user("olle")
            })
            .await,
    );
    w.step(
        "TENANT_NOT_FOUND",
        Code::NotFound,
        "the operator reads a tenant that does not exist",
        sys.tenants(&op).get_tenant(get_tenant(&new_id())).await,
    );
    w.step(
        "USER_NOT_FOUND",
        Code::NotFound,
        "GetUser of a user the tenant does not have",
        sys.tenants(&pa)
            .get_user(pb::GetUserRequest {
                tenant_id: fabrikam.id.clone(),
                user_id: new_id(),
            })
            .await,
    );
    // ---- service accounts ----
    let robot = sys
        .tenants(&pa)
        .create_service_account(pb::CreateServiceAccountRequest {
            tenant_id: fabrikam.id.clone(),
            service_account: Some(pb::ServiceAccount {
                display_name: "Robot".into(),
                ..Default::default()
            }),
            secret_expire_time: None,
            request_id: String::new(),
        })
        .await
        .expect("CreateServiceAccount")
        .into_inner();
    let robot_id = robot.service_account.expect("account").id;
    w.step(
        "SERVICE_ACCOUNT_NOT_FOUND",
        Code::NotFound,
        "GetServiceAccount of an account the tenant does not have",
        sys.tenants(&pa)
            .get_service_account(pb::GetServiceAccountRequest {
                tenant_id: fabrikam.id.clone(),
                service_account_id: new_id(),
            })
            .await,
    );
    w.step(
        "SECRET_NOT_FOUND",
        Code::NotFound,
        "DeleteServiceAccountSecret of a secret the account does not have",
        sys.tenants(&pa)
            .delete_service_account_secret(pb::DeleteServiceAccountSecretRequest {
                tenant_id: fabrikam.id.clone(),
                service_account_id: robot_id.clone(),
                secret_id: new_id(),
                revoke_tokens: false,
            })
            .await,
    );
    for _ in 1..5 {
        sys.tenants(&pa)
            .add_service_account_secret(pb::AddServiceAccountSecretRequest {
                tenant_id: fabrikam.id.clone(),
                service_account_id: robot_id.clone(),
                expire_time: None,
                request_id: String::new(),
            })
            .await
            .expect("AddServiceAccountSecret");
    }
    w.step(
        "SECRET_LIMIT_REACHED",
        Code::FailedPrecondition,
        "a sixth secret for a service account",
        sys.tenants(&pa)
            .add_service_account_secret(pb::AddServiceAccountSecretRequest {
                tenant_id: fabrikam.id.clone(),
                service_account_id: robot_id.clone(),
                expire_time: None,
                request_id: String::new(),
            })
            .await,
    );
    let robot_token = sys
        .auth("")
        .sign_in_service_account(gw::SignInServiceAccountRequest {
            client_id: robot_id.clone(),
            client_secret: robot.client_secret.clone(),
        })
        .await
        .expect("SignInServiceAccount")
        .into_inner()
        .access_token;
    w.step(
        "SERVICE_ACCOUNT_HAS_NO_PASSWORD",
        Code::FailedPrecondition,
        "a service account calls ChangePassword",
        sys.auth(&robot_token)
            .change_password(gw::ChangePasswordRequest {
                current_password: robot.client_secret.clone(),
                new_password: "Fika-9876-Stockholm".into(),
            })
            .await,
    );
    w.step(
        "INVALID_CREDENTIALS",
        Code::Unauthenticated,
        "SignInServiceAccount with a wrong secret",
        sys.auth("")
            .sign_in_service_account(gw::SignInServiceAccountRequest {
                client_id: robot_id.clone(),
                client_secret: "phsa_wrong".into(),
            })
            .await,
    );
    w.step(
        "PARTNER_ID_NOT_FOUND",
        Code::NotFound,
        "VerifyPartnerId of a partner ID nobody holds",
        sys.tenants(&pa)
            .verify_partner_id(pb::VerifyPartnerIdRequest {
                mpn_id: "9999999".into(),
            })
            .await,
    );
    w.step(
        "MPN_ID_TAKEN",
        Code::AlreadyExists,
        "CreatePartner with Fabrikam's partner ID",
        sys.tenants(&op)
            .create_partner(pb::CreatePartnerRequest {
                partner: Some(partner(
                    "contoso",
                    "1234567",
                    &[PartnerType::DirectProvider],
                )),
                request_id: String::new(),
            })
            .await,
    );
    w.step(
        "DOMAIN_PREFIX_TAKEN",
        Code::AlreadyExists,
        "CreatePartner with Fabrikam's domain prefix",
        sys.tenants(&op)
            .create_partner(pb::CreatePartnerRequest {
                partner: Some(partner(
                    "fabrikam",
                    "1111111",
                    &[PartnerType::DirectProvider],
                )),
                request_id: String::new(),
            })
            .await,
    );
    let users = sys
        .tenants(&ca)
        .list_users(pb::ListUsersRequest {
            tenant_id: skolan.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner()
        .users;
    let school_admin = users
        .iter()
        .find(|u| u.user_name.starts_with("admin@"))
        .expect("the school's admin")
        .clone();
    w.step(
        "LAST_GLOBAL_ADMIN",
        Code::FailedPrecondition,
        "the school's only global admin deletes itself",
        sys.tenants(&ca)
            .delete_user(pb::DeleteUserRequest {
                tenant_id: skolan.id.clone(),
                user_id: school_admin.id.clone(),
                etag: String::new(),
            })
            .await,
    );
    let stale = school_admin.etag.clone();
    sys.tenants(&ca)
        .update_user(pb::UpdateUserRequest {
            tenant_id: skolan.id.clone(),
            user: Some(pb::User {
                id: school_admin.id.clone(),
                display_name: "Maja Ek".into(),
                etag: stale.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect("UpdateUser");
    w.step(
        "ETAG_MISMATCH",
        Code::Aborted,
        "UpdateUser with the etag it had before the last change",
        sys.tenants(&ca)
            .update_user(pb::UpdateUserRequest {
                tenant_id: skolan.id.clone(),
                user: Some(pb::User {
                    id: school_admin.id.clone(),
                    display_name: "Maja E.".into(),
                    etag: stale,
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
            })
            .await,
    );
    let (_, ulla) = sys
        .user(&pa, &fabrikam.id, "ulla", &[Role::UserAdmin])
        .await;
    w.step(
        "ADMIN_ROLE_REQUIRED",
        Code::PermissionDenied,
        "a user admin creates a global admin",
        sys.tenants(&ulla)
            .create_user(pb::CreateUserRequest {
                tenant_id: fabrikam.id.clone(),
                user: Some(pb::User {
                    user_name: "gunnar".into(),
                    display_name: "Gunnar".into(),
                    roles: vec![Role::GlobalAdmin as i32],
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await,
    );
    let mut pending = customer("vantar");
    pending.country_code = "SE".into();
    let waiting = TenantInternalServiceClient::new(sys.service("tenants").await)
        .create_customer_tenant(pb::CreateCustomerTenantRequest {
            customer: Some(pending),
            request_id: String::new(),
            validate_only: false,
            workflow_fingerprint: String::new(),
        })
        .await
        .expect("CreateCustomerTenant")
        .into_inner();
    w.step(
        "TENANT_NOT_ACTIVE",
        Code::FailedPrecondition,
        "the admin of a customer not yet activated signs in",
        sys.sign_in(
            &waiting.admin_user.expect("admin").user_name,
            &waiting.temporary_password,
        )
        .await,
    );

    // ---- invitations and acceptance ----
    let invited = sys
        .invite(&pa, reseller_invitation(&fabrikam.id, true))
        .await;
    w.step(
        "AGREEMENT_NOT_ACCEPTED",
        Code::FailedPrecondition,
        "the school accepts a reseller invitation without accepting the customer agreement",
        sys.workflows(&ca)
            .accept_invitation(accept(&invited.code, &skolan.id, false))
            .await,
    );
    sys.workflows(&ca)
        .accept_invitation(accept(&invited.code, &skolan.id, true))
        .await
        .expect("the school accepts, and the agreement with it");
    let (other_school, oa) = sys.customer_admin("andraskolan", "SE").await;
    w.step(
        "INVITATION_ALREADY_USED",
        Code::FailedPrecondition,
        "another school accepts the invitation the first one used",
        sys.workflows(&oa)
            .accept_invitation(accept(&invited.code, &other_school.id, true))
            .await,
    );
    w.step(
        "INVITATION_NOT_FOUND",
        Code::NotFound,
        "PreviewInvitation of a code nobody was given",
        sys.invitations(&ca)
            .preview_invitation(inv::PreviewInvitationRequest {
                code: "bm90LWEtY29kZS1hbnlvbmUtd2FzLWdpdmVu".into(),
            })
            .await,
    );
    let revoked = sys
        .invite(&pa, reseller_invitation(&fabrikam.id, false))
        .await;
    sys.invitations(&pa)
        .revoke_invitation(inv::RevokeInvitationRequest {
            inviter_tenant_id: fabrikam.id.clone(),
            invitation_id: revoked.invitation.clone().expect("invitation").id,
        })
        .await
        .expect("RevokeInvitation");
    w.step(
        "INVITATION_REVOKED",
        Code::FailedPrecondition,
        "a school accepts an invitation the partner revoked",
        sys.workflows(&oa)
            .accept_invitation(accept(&revoked.code, &other_school.id, true))
            .await,
    );
    let declined = sys
        .invite(&pa, reseller_invitation(&fabrikam.id, false))
        .await;
    sys.invitations(&oa)
        .decline_invitation(inv::DeclineInvitationRequest {
            code: declined.code.clone(),
            tenant_id: other_school.id.clone(),
        })
        .await
        .expect("DeclineInvitation");
    w.step(
        "INVITATION_DECLINED",
        Code::FailedPrecondition,
        "a school accepts an invitation it declined",
        sys.workflows(&oa)
            .accept_invitation(accept(&declined.code, &other_school.id, true))
            .await,
    );
    let for_skolan = sys
        .invite(
            &pa,
            inv::Invitation {
                kind: InvitationKind::DelegatedAdmin as i32,
                inviter_tenant_id: fabrikam.id.clone(),
                invitee_tenant_id: skolan.id.clone(),
                invitee_email: "maja@skolan.example".into(),
                delegated_admin: Some(inv::DelegatedAdminRequest {
                    roles: vec![Role::UserAdmin as i32],
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await;
    w.step(
        "INVITATION_FOR_ANOTHER_TENANT",
        Code::FailedPrecondition,
        "another school accepts a delegated admin invitation for the first",
        sys.workflows(&oa)
            .accept_invitation(accept(&for_skolan.code, &other_school.id, true))
            .await,
    );
    let (_, billing) = sys
        .user(&ca, &skolan.id, "kassa", &[Role::BillingAdmin])
        .await;
    w.step(
        "ROLE_REQUIRED",
        Code::PermissionDenied,
        "the school's billing admin accepts an invitation that grants admin roles (the roles depend on the invitation)",
        sys.workflows(&billing)
            .accept_invitation(accept(&for_skolan.code, &skolan.id, true))
            .await,
    );
    w.step(
        "NOT_A_CUSTOMER",
        Code::FailedPrecondition,
        "a partner accepts a reseller invitation",
        sys.workflows(&ipa)
            .accept_invitation(accept(
                &sys.invite(&pa, reseller_invitation(&fabrikam.id, false))
                    .await
                    .code,
                &nordic.id,
                true,
            ))
            .await,
    );
    let (far_school, fa) = sys.customer_admin("farskola", "US").await;
    w.step(
        "REGION_MISMATCH",
        Code::FailedPrecondition,
        "a school in the United States accepts a Swedish partner's reseller invitation",
        sys.workflows(&fa)
            .accept_invitation(accept(
                &sys.invite(&pa, reseller_invitation(&fabrikam.id, false))
                    .await
                    .code,
                &far_school.id,
                true,
            ))
            .await,
    );
    w.step(
        "CLOUD_MISMATCH",
        Code::FailedPrecondition,
        "a worldwide school accepts a German partner's reseller invitation",
        sys.workflows(&oa)
            .accept_invitation(accept(
                &sys.invite(&ta, reseller_invitation(&tysk.id, true))
                    .await
                    .code,
                &other_school.id,
                true,
            ))
            .await,
    );
    w.step(
        "DELEGATED_ADMIN_REQUIRED",
        Code::FailedPrecondition,
        "a German partner asks for a reseller relationship without delegated admin",
        sys.invitations(&ta)
            .create_invitation(create_invitation(reseller_invitation(&tysk.id, false)))
            .await,
    );
    w.step(
        "INVITER_NOT_A_PARTNER",
        Code::FailedPrecondition,
        "a school's global admin sends a delegated admin invitation",
        sys.invitations(&ca)
            .create_invitation(create_invitation(inv::Invitation {
                kind: InvitationKind::DelegatedAdmin as i32,
                inviter_tenant_id: skolan.id.clone(),
                invitee_tenant_id: other_school.id.clone(),
                invitee_email: "a@example.com".into(),
                delegated_admin: Some(inv::DelegatedAdminRequest::default()),
                ..Default::default()
            }))
            .await,
    );
    w.step(
        "INVITER_CANNOT_RESELL",
        Code::FailedPrecondition,
        "an advisor asks for a reseller relationship",
        sys.invitations(&aa)
            .create_invitation(create_invitation(reseller_invitation(&advisor.id, false)))
            .await,
    );
    let partnership = |inviter: &str, invitee: &str| inv::Invitation {
        kind: InvitationKind::IndirectPartnership as i32,
        inviter_tenant_id: inviter.into(),
        invitee_tenant_id: invitee.into(),
        invitee_email: "lars@reseller.example".into(),
        ..Default::default()
    };
    w.step(
        "INVITER_NOT_INDIRECT_PROVIDER",
        Code::FailedPrecondition,
        "a direct provider asks an indirect reseller to partner",
        sys.invitations(&pa)
            .create_invitation(create_invitation(partnership(&fabrikam.id, &skolit.id)))
            .await,
    );
    w.step(
        "NOT_AN_INDIRECT_RESELLER",
        Code::FailedPrecondition,
        "an indirect provider asks a direct provider to be its indirect reseller",
        sys.invitations(&ipa)
            .create_invitation(create_invitation(partnership(&nordic.id, &fabrikam.id)))
            .await,
    );
    w.step(
        "INVITER_NOT_ADVISOR",
        Code::FailedPrecondition,
        "a direct provider sends a trial invitation",
        sys.invitations(&pa)
            .create_invitation(create_invitation(trial(&fabrikam.id, BUSINESS_BASIC)))
            .await,
    );
    w.step(
        "OFFER_HAS_NO_TRIAL",
        Code::FailedPrecondition,
        "an advisor sends a trial of an offer that has none",
        sys.invitations(&aa)
            .create_invitation(create_invitation(trial(&advisor.id, EXCHANGE_PLAN_1)))
            .await,
    );
    let trial_link = sys.invite(&aa, trial(&advisor.id, BUSINESS_BASIC)).await;
    w.step(
        "INVITATION_REUSABLE",
        Code::FailedPrecondition,
        "a school declines an advisor's trial link",
        sys.invitations(&ca)
            .decline_invitation(inv::DeclineInvitationRequest {
                code: trial_link.code.clone(),
                tenant_id: skolan.id.clone(),
            })
            .await,
    );
    let taken = sys
        .workflows(&ca)
        .accept_invitation(accept(&trial_link.code, &skolan.id, false))
        .await
        .expect("the school takes the trial")
        .into_inner();
    let advisors_trial = taken
        .subscriptions
        .first()
        .expect("the trial subscription")
        .clone();
    let second_link = sys.invite(&aa, trial(&advisor.id, BUSINESS_BASIC)).await;
    w.step(
        "TRIAL_ALREADY_TAKEN",
        Code::FailedPrecondition,
        "the school takes the same offer's trial from a second link",
        sys.workflows(&ca)
            .accept_invitation(accept(&second_link.code, &skolan.id, false))
            .await,
    );
    // Only the gateway's acceptance creates an advisor's subscriptions; it finds the trial
    // gone only if the offer lost it after the link was sent.
    w.step(
        "TRIAL_NOT_AVAILABLE",
        Code::FailedPrecondition,
        "CreateAdvisorSubscriptions of a trial of an offer that has none (internal)",
        SubscriptionInternalServiceClient::new(sys.service("subscriptions").await)
            .create_advisor_subscriptions(sub::CreateAdvisorSubscriptionsRequest {
                customer_tenant_id: other_school.id.clone(),
                partner_of_record_mpn_id: "7777777".into(),
                line_items: vec![line(EXCHANGE_PLAN_1, 1)],
                trial: true,
                request_id: new_id(),
            })
            .await,
    );

    // ---- relationships ----
    w.step(
        "RELATIONSHIP_NOT_FOUND",
        Code::NotFound,
        "the school ends a relationship that does not exist",
        sys.relationships(&ca)
            .terminate_relationship(rel::TerminateRelationshipRequest {
                tenant_id: skolan.id.clone(),
                relationship_id: new_id(),
            })
            .await,
    );
    let resellers = sys
        .relationships(&ca)
        .list_relationships(rel::ListRelationshipsRequest {
            client_tenant_id: skolan.id.clone(),
            r#type: RelationshipType::Reseller as i32,
            ..Default::default()
        })
        .await
        .expect("ListRelationships")
        .into_inner()
        .relationships;
    w.step(
        "RESELLER_RELATIONSHIP_CUSTOMER_CANNOT_END",
        Code::FailedPrecondition,
        "the school ends Fabrikam's reseller relationship",
        sys.relationships(&ca)
            .terminate_relationship(rel::TerminateRelationshipRequest {
                tenant_id: skolan.id.clone(),
                relationship_id: resellers.first().expect("Fabrikam resells").id.clone(),
            })
            .await,
    );
    w.step(
        "ROLE_REQUIRED",
        Code::PermissionDenied,
        "Fabrikam's sales agent ends its reseller relationship (the roles depend on the type)",
        sys.relationships(&sales_agent)
            .terminate_relationship(rel::TerminateRelationshipRequest {
                tenant_id: fabrikam.id.clone(),
                relationship_id: resellers.first().expect("Fabrikam resells").id.clone(),
            })
            .await,
    );
    w.step(
        "NOT_RESELLER_OF_CUSTOMER",
        Code::FailedPrecondition,
        "Nordic Distribution orders for a school it has no relationship with",
        subscriptions(&sys, &ipa)
            .place_order(sub::PlaceOrderRequest {
                customer_tenant_id: skolan.id.clone(),
                partner_tenant_id: nordic.id.clone(),
                line_items: vec![line(BUSINESS_BASIC, 5)],
                ..Default::default()
            })
            .await,
    );
    // Nordic Distribution partners with SkolIT (seed 003) and adds a customer for it.
    let asked = sys.invite(&ipa, partnership(&nordic.id, &skolit.id)).await;
    sys.workflows(&ra)
        .accept_invitation(accept(&asked.code, &skolit.id, true))
        .await
        .expect("SkolIT accepts the partnership");
    let lerum = sys
        .workflows(&ipa)
        .create_customer(gw::CreateCustomerRequest {
            indirect_reseller_id: skolit.id.clone(),
            ..customer_form(&nordic.id, "lerum", "SE")
        })
        .await
        .expect("CreateCustomer for SkolIT")
        .into_inner()
        .customer
        .expect("customer");
    let (stranger, _) = sys
        .partner_admin("stranger", "4567891", &[PartnerType::IndirectReseller])
        .await;
    let add = |reseller: &str| gw::AddSubscriptionsRequest {
        partner_tenant_id: nordic.id.clone(),
        customer_tenant_id: lerum.id.clone(),
        indirect_reseller_id: reseller.into(),
        line_items: vec![line(BUSINESS_BASIC, 5)],
        reseller_is_support_contact: false,
        request_id: new_id(),
    };
    w.step(
        "RESELLER_NOT_IN_PARTNERSHIP",
        Code::FailedPrecondition,
        "AddSubscriptions through a reseller not in partnership with the provider",
        sys.workflows(&ipa)
            .add_subscriptions(add(&stranger.id))
            .await,
    );
    w.step(
        "RESELLER_NOT_IN_PARTNERSHIP",
        Code::FailedPrecondition,
        "CreateCustomer for a reseller not in partnership with the provider",
        sys.workflows(&ipa)
            .create_customer(gw::CreateCustomerRequest {
                indirect_reseller_id: stranger.id.clone(),
                ..customer_form(&nordic.id, "alingsas", "SE")
            })
            .await,
    );
    w.step(
        "NOT_MPSA_PARTNER",
        Code::FailedPrecondition,
        "ListSubscriptions as an MPSA partner of a customer without an MPSA relationship",
        SubscriptionServiceClient::new(sys.authed(&pa))
            .list_subscriptions(sub::ListSubscriptionsRequest {
                customer_tenant_id: skolan.id.clone(),
                mpsa_partner_tenant_id: fabrikam.id.clone(),
                ..Default::default()
            })
            .await,
    );
    // A partnership the reseller never accepted the partner agreement for (made straight at
    // the relationships service: acceptance through the gateway accepts it).
    relate(
        &sys,
        vec![rel::NewRelationship {
            r#type: RelationshipType::IndirectPartnership as i32,
            partner_tenant_id: nordic.id.clone(),
            client_tenant_id: stranger.id.clone(),
            ..Default::default()
        }],
    )
    .await;
    w.step(
        "RESELLER_AGREEMENT_NOT_ACCEPTED",
        Code::FailedPrecondition,
        "AddSubscriptions through a reseller that has not accepted the partner agreement",
        sys.workflows(&ipa)
            .add_subscriptions(add(&stranger.id))
            .await,
    );

    // ---- new customers: the review's refusals are the same rules' ----
    w.step(
        "PARTNER_CANNOT_RESELL",
        Code::FailedPrecondition,
        "an advisor creates a customer",
        sys.workflows(&aa)
            .create_customer(customer_form(&advisor.id, "radskola", "SE"))
            .await,
    );
    w.step(
        "NOT_INDIRECT_PROVIDER",
        Code::FailedPrecondition,
        "a direct provider creates a customer for an indirect reseller",
        sys.workflows(&pa)
            .create_customer(gw::CreateCustomerRequest {
                indirect_reseller_id: skolit.id.clone(),
                ..customer_form(&fabrikam.id, "direktskola", "SE")
            })
            .await,
    );
    w.step(
        "CLOUD_MISMATCH",
        Code::FailedPrecondition,
        "a German provider creates a worldwide customer",
        sys.workflows(&ta)
            .create_customer(customer_form(&tysk.id, "weltschule", "DE"))
            .await,
    );
    w.step(
        "REGION_MISMATCH",
        Code::FailedPrecondition,
        "a Swedish provider creates a customer in the United States",
        sys.workflows(&pa)
            .create_customer(customer_form(&fabrikam.id, "usaskola", "US"))
            .await,
    );
    w.step(
        "AGREEMENT_NOT_ACCEPTED",
        Code::FailedPrecondition,
        "CreateCustomer without the person who accepted the customer agreement",
        sys.workflows(&pa)
            .create_customer(gw::CreateCustomerRequest {
                agreement_signer: None,
                ..customer_form(&fabrikam.id, "utanavtal", "SE")
            })
            .await,
    );
    let first_try = customer_form(&fabrikam.id, "berlinskola", "DE");
    let berlin = sys
        .workflows(&pa)
        .create_customer(first_try.clone())
        .await
        .expect("Fabrikam creates a customer in Germany (worldwide cloud)")
        .into_inner();
    w.step(
        "REQUEST_ID_REUSED",
        Code::InvalidArgument,
        "CreateCustomer again with the same request id and another display name",
        sys.workflows(&pa)
            .create_customer(gw::CreateCustomerRequest {
                customer: first_try.customer.clone().map(|c| gw::CustomerDetails {
                    display_name: "Another name".into(),
                    ..c
                }),
                ..first_try
            })
            .await,
    );
    let berlin_admin = sys
        .activate_user(&berlin.admin_user_name, &berlin.temporary_password)
        .await;
    let berlin = berlin.customer.expect("customer");

    // ---- orders and subscriptions ----
    let order = |items: Vec<LineItem>| sub::PlaceOrderRequest {
        customer_tenant_id: berlin.id.clone(),
        partner_tenant_id: fabrikam.id.clone(),
        line_items: items,
        ..Default::default()
    };
    w.step(
        "AGREEMENT_NOT_ACCEPTED",
        Code::FailedPrecondition,
        "an order for a customer that has not accepted the customer agreement",
        {
            // A reseller relationship made straight at the relationships service, without the
            // acceptance that records the agreement.
            relate(
                &sys,
                vec![rel::NewRelationship {
                    r#type: RelationshipType::Reseller as i32,
                    partner_tenant_id: fabrikam.id.clone(),
                    client_tenant_id: other_school.id.clone(),
                    ..Default::default()
                }],
            )
            .await;
            subscriptions(&sys, &pa)
                .place_order(sub::PlaceOrderRequest {
                    customer_tenant_id: other_school.id.clone(),
                    ..order(vec![line(BUSINESS_BASIC, 5)])
                })
                .await
        },
    );
    w.step(
        "NOT_A_CUSTOMER",
        Code::FailedPrecondition,
        "Fabrikam orders for a partner as its customer",
        {
            relate(
                &sys,
                vec![rel::NewRelationship {
                    r#type: RelationshipType::Reseller as i32,
                    partner_tenant_id: fabrikam.id.clone(),
                    client_tenant_id: advisor.id.clone(),
                    ..Default::default()
                }],
            )
            .await;
            subscriptions(&sys, &pa)
                .place_order(sub::PlaceOrderRequest {
                    customer_tenant_id: advisor.id.clone(),
                    ..order(vec![line(BUSINESS_BASIC, 5)])
                })
                .await
        },
    );
    w.step(
        "OFFER_NOT_FOUND",
        Code::NotFound,
        "GetOffer of an offer the catalogue does not have",
        subscriptions(&sys, &pa)
            .get_offer(sub::GetOfferRequest { offer_id: new_id() })
            .await,
    );
    w.step(
        "OFFER_NOT_IN_CLOUD",
        Code::InvalidArgument,
        "an order line of the Germany cloud's offer for a worldwide customer",
        subscriptions(&sys, &pa)
            .place_order(order(vec![line(GERMANY_BUSINESS_STANDARD, 5)]))
            .await,
    );
    w.step(
        "OFFER_NOT_IN_COUNTRY",
        Code::InvalidArgument,
        "an order line of a Nordic offer for a customer in Germany",
        subscriptions(&sys, &pa)
            .place_order(order(vec![line(EDUCATION_A1, 30)]))
            .await,
    );
    w.step(
        "QUANTITY_OUT_OF_BOUNDS",
        Code::InvalidArgument,
        "an order line of 301 licences of an offer of at most 300",
        subscriptions(&sys, &pa)
            .place_order(order(vec![line(BUSINESS_BASIC, 301)]))
            .await,
    );
    w.step(
        "TERM_NOT_OFFERED",
        Code::InvalidArgument,
        "an order line of Enterprise E3, sold on annual terms only, on a monthly term",
        subscriptions(&sys, &pa)
            .place_order(order(vec![LineItem {
                term_duration: TermDuration::Monthly as i32,
                ..line(ENTERPRISE_E3, 5)
            }]))
            .await,
    );
    let placed = subscriptions(&sys, &pa)
        .place_order(order(vec![
            line(BUSINESS_BASIC, 5),
            line(BUSINESS_BASIC, 6),
        ]))
        .await
        .expect("PlaceOrder")
        .into_inner()
        .subscriptions;
    let (kept, ended) = (&placed[0], &placed[1]);
    w.step(
        "NOT_AN_UPGRADE",
        Code::FailedPrecondition,
        "Fabrikam moves a Business Basic subscription to Exchange Plan 1, not on its upgrade path",
        subscriptions(&sys, &pa)
            .upgrade_subscription(sub::UpgradeSubscriptionRequest {
                tenant_id: fabrikam.id.clone(),
                subscription_id: kept.id.clone(),
                target_offer_id: EXCHANGE_PLAN_1.into(),
                ..Default::default()
            })
            .await,
    );
    w.step(
        "ORDER_NOT_FOUND",
        Code::NotFound,
        "GetOrder of an order that does not exist",
        subscriptions(&sys, &pa)
            .get_order(sub::GetOrderRequest {
                tenant_id: fabrikam.id.clone(),
                order_id: new_id(),
            })
            .await,
    );
    w.step(
        "SUBSCRIPTION_NOT_FOUND",
        Code::NotFound,
        "GetSubscription of a subscription that does not exist",
        subscriptions(&sys, &pa)
            .get_subscription(sub::GetSubscriptionRequest {
                tenant_id: fabrikam.id.clone(),
                subscription_id: new_id(),
            })
            .await,
    );
    let set_reseller = |tenant: &str, subscription: &str| sub::UpdateSubscriptionRequest {
        tenant_id: tenant.into(),
        subscription: Some(sub::Subscription {
            id: subscription.into(),
            indirect_reseller_id: skolit.id.clone(),
            ..Default::default()
        }),
        update_mask: mask(&["indirect_reseller_id"]),
    };
    w.step(
        "SUBSCRIPTION_CHANGE_NOT_ALLOWED",
        Code::PermissionDenied,
        "the customer puts a reseller on the subscription its partner bills",
        subscriptions(&sys, &berlin_admin)
            .update_subscription(set_reseller(&berlin.id, &kept.id))
            .await,
    );
    w.step(
        "NO_BILLING_PARTNER",
        Code::FailedPrecondition,
        "the school puts a reseller on the trial its advisor gave it",
        subscriptions(&sys, &ca)
            .update_subscription(set_reseller(&skolan.id, &advisors_trial.id))
            .await,
    );
    w.step(
        "INVALID_TRANSITION",
        Code::FailedPrecondition,
        "ReactivateSubscription of an active subscription",
        subscriptions(&sys, &pa)
            .reactivate_subscription(sub::ReactivateSubscriptionRequest {
                tenant_id: fabrikam.id.clone(),
                subscription_id: kept.id.clone(),
                etag: String::new(),
            })
            .await,
    );
    subscriptions(&sys, &pa)
        .cancel_subscription(sub::CancelSubscriptionRequest {
            tenant_id: fabrikam.id.clone(),
            subscription_id: ended.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("CancelSubscription");
    w.step(
        "SUBSCRIPTION_ENDED",
        Code::FailedPrecondition,
        "a change of quantity of a cancelled subscription",
        subscriptions(&sys, &pa)
            .update_subscription(sub::UpdateSubscriptionRequest {
                tenant_id: fabrikam.id.clone(),
                subscription: Some(sub::Subscription {
                    id: ended.id.clone(),
                    quantity: 7,
                    ..Default::default()
                }),
                update_mask: mask(&["quantity"]),
            })
            .await,
    );
    let partner_of_record = |mpn_id: &str| gw::SetPartnerOfRecordRequest {
        tenant_id: fabrikam.id.clone(),
        subscription_id: kept.id.clone(),
        mpn_id: mpn_id.into(),
        etag: String::new(),
    };
    w.step(
        "PARTNER_ID_NOT_FOUND",
        Code::NotFound,
        "SetPartnerOfRecord with a partner ID nobody holds",
        sys.workflows(&pa)
            .set_partner_of_record(partner_of_record("9999999"))
            .await,
    );
    w.step(
        "PARTNER_ID_NOT_FOUND",
        Code::NotFound,
        "UpdateSubscription of the partner of record to a partner ID nobody holds",
        subscriptions(&sys, &pa)
            .update_subscription(sub::UpdateSubscriptionRequest {
                tenant_id: fabrikam.id.clone(),
                subscription: Some(sub::Subscription {
                    id: kept.id.clone(),
                    partner_of_record_mpn_id: "9999999".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["partner_of_record_mpn_id"]),
            })
            .await,
    );
    w.step(
        "PARTNER_NOT_ADVISOR",
        Code::FailedPrecondition,
        "SetPartnerOfRecord with a direct provider's partner ID",
        sys.workflows(&pa)
            .set_partner_of_record(partner_of_record("3456789"))
            .await,
    );
    enrol(
        &sys,
        "beratung",
        "7890123",
        &[PartnerType::Advisor],
        Cloud::Germany,
        "DE",
    )
    .await;
    w.step(
        "PARTNER_NOT_IN_CLOUD",
        Code::FailedPrecondition,
        "SetPartnerOfRecord with an advisor of the Germany cloud",
        sys.workflows(&pa)
            .set_partner_of_record(partner_of_record("7890123"))
            .await,
    );
    w.step(
        "NOT_A_PARTNER",
        Code::FailedPrecondition,
        "the school watches subscription events as if it were a partner",
        first_of(
            subscriptions(&sys, &ca)
                .watch_subscription_events(sub::WatchSubscriptionEventsRequest {
                    partner_tenant_id: skolan.id.clone(),
                    cursor: String::new(),
                })
                .await,
        )
        .await,
    );

    // ---- service requests ----
    let mut support = SupportServiceClient::new(sys.authed(&ca));
    w.step(
        "SERVICE_REQUEST_NOT_FOUND",
        Code::NotFound,
        "GetServiceRequest of a request that does not exist",
        support
            .get_service_request(sr::GetServiceRequestRequest {
                tenant_id: skolan.id.clone(),
                service_request_id: new_id(),
            })
            .await,
    );
    let opened = support
        .create_service_request(sr::CreateServiceRequestRequest {
            service_request: Some(sr::ServiceRequest {
                customer_tenant_id: skolan.id.clone(),
                title: "Printers".into(),
                description: "None of them prints".into(),
                severity: sr::service_request::Severity::Low as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("CreateServiceRequest")
        .into_inner()
        .service_request
        .expect("the request");
    let close = sr::CloseServiceRequestRequest {
        tenant_id: skolan.id.clone(),
        service_request_id: opened.id.clone(),
        resolution: "They print again".into(),
        etag: String::new(),
    };
    support
        .close_service_request(close.clone())
        .await
        .expect("CloseServiceRequest");
    w.step(
        "SERVICE_REQUEST_CLOSED",
        Code::FailedPrecondition,
        "CloseServiceRequest of a closed request",
        support.close_service_request(close).await,
    );
    // ---- licences ----
    // The Berlin school's admin hands out the licences of the subscription Fabrikam bills it.
    let mut teachers = Vec::new();
    for name in ["lehrer", "rektor", "hausmeister"] {
        let (user, _) = sys.new_user(&berlin_admin, &berlin.id, name, &[]).await;
        teachers.push(user.id);
    }
    let licences =
        |tenant: &str, subscription: &str, users: &[String]| sub::AssignLicensesRequest {
            tenant_id: tenant.into(),
            subscription_id: subscription.into(),
            user_ids: users.to_vec(),
            request_id: String::new(),
        };
    subscriptions(&sys, &berlin_admin)
        .assign_licenses(licences(&berlin.id, &kept.id, &teachers[..2]))
        .await
        .expect("AssignLicenses");
    let quantity = |n: i32| sub::UpdateSubscriptionRequest {
        tenant_id: fabrikam.id.clone(),
        subscription: Some(sub::Subscription {
            id: kept.id.clone(),
            quantity: n,
            ..Default::default()
        }),
        update_mask: mask(&["quantity"]),
    };
    w.step(
        "LICENSES_ASSIGNED",
        Code::FailedPrecondition,
        "the partner lowers the quantity to 1 with 2 licences assigned",
        subscriptions(&sys, &pa)
            .update_subscription(quantity(1))
            .await,
    );
    subscriptions(&sys, &pa)
        .update_subscription(quantity(2))
        .await
        .expect("down to what is assigned");
    w.step(
        "NOT_ENOUGH_LICENSES",
        Code::FailedPrecondition,
        "a third licence of a subscription of 2, both assigned",
        subscriptions(&sys, &berlin_admin)
            .assign_licenses(licences(&berlin.id, &kept.id, &teachers[2..]))
            .await,
    );
    w.step(
        "SUBSCRIPTION_NOT_ASSIGNABLE",
        Code::FailedPrecondition,
        "a licence of a cancelled subscription",
        subscriptions(&sys, &berlin_admin)
            .assign_licenses(licences(&berlin.id, &ended.id, &teachers[2..]))
            .await,
    );
    w.step(
        "USER_NOT_FOUND",
        Code::NotFound,
        "a licence for a user the school does not have",
        subscriptions(&sys, &berlin_admin)
            .assign_licenses(licences(&berlin.id, &kept.id, &[new_id()]))
            .await,
    );
    w.step(
        "LICENSES_OF_CUSTOMER_ONLY",
        Code::PermissionDenied,
        "the billing partner assigns the customer's licences in its own tenant",
        subscriptions(&sys, &pa)
            .assign_licenses(licences(&fabrikam.id, &kept.id, &teachers[2..]))
            .await,
    );
    w.step(
        "LICENSE_NOT_ASSIGNED",
        Code::NotFound,
        "RemoveLicenses for a user who holds none",
        subscriptions(&sys, &berlin_admin)
            .remove_licenses(sub::RemoveLicensesRequest {
                tenant_id: berlin.id.clone(),
                subscription_id: kept.id.clone(),
                user_ids: teachers[2..].to_vec(),
            })
            .await,
    );

    // ---- the machinery ----
    let cut_off = sys.gateway_without("subscriptions").await;
    w.step_with_retry(
        "SERVICE_UNAVAILABLE",
        Code::Unavailable,
        "ListOffers through a gateway that can't reach the subscriptions service",
        SubscriptionServiceClient::with_interceptor(cut_off.channel.clone(), Bearer::new(&pa))
            .list_offers(sub::ListOffersRequest::default())
            .await,
    );
    let impatient = sys
        .gateway_with(
            "",
            Limits {
                request_timeout: Duration::from_millis(1),
                ..Limits::default()
            },
        )
        .await;
    w.step(
        "DEADLINE_EXCEEDED",
        Code::DeadlineExceeded,
        "SignIn through a gateway that waits 1 ms",
        AuthServiceClient::new(impatient.channel.clone())
            .sign_in(gw::SignInRequest {
                user_name: lisa.user_name.clone(),
                password: "Not-Her-Password-1".into(),
                second_factor_code: String::new(),
            })
            .await,
    );
    let stopping = sys.gateway_without("").await;
    let mut watching =
        SubscriptionServiceClient::with_interceptor(stopping.channel.clone(), Bearer::new(&pa))
            .watch_subscription_events(sub::WatchSubscriptionEventsRequest {
                partner_tenant_id: fabrikam.id.clone(),
                cursor: String::new(),
            })
            .await
            .expect("the stream opens")
            .into_inner();
    stopping.stop();
    w.step(
        "SERVER_STOPPING",
        Code::Unavailable,
        "a stream open while its gateway stops",
        tokio::time::timeout(Duration::from_secs(10), watching.message())
            .await
            .expect("the stream ends when the gateway stops"),
    );
    w.step(
        "INTERNAL_CALL_UNPROVEN",
        Code::Unauthenticated,
        "GetTenant straight to the tenants service without an assertion",
        TenantServiceClient::new(sys.unproven_service("tenants").await)
            .get_tenant(get_tenant(&fabrikam.id))
            .await,
    );
    // A tenants service of its own, whose database the test breaks.
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = system::open_database(system::Service::Tenants, &sqlite_url(dir.path(), "tenants"))
        .await
        .expect("database");
    let (channel, stop) = tenants_over(db.clone()).await;
    sqlx::query("ALTER TABLE tenants RENAME TO tenants_gone")
        .execute(&db.pool)
        .await
        .expect("rename");
    w.step(
        "INTERNAL",
        Code::Internal,
        "GetTenant on a tenants service whose database lost its table",
        TenantServiceClient::new(channel.clone())
            .get_tenant(get_tenant(&new_id()))
            .await,
    );
    let mut big = tonic::Request::new(get_tenant(&new_id()));
    big.metadata_mut()
        .insert("x-big", "a".repeat(20 * 1024).parse().expect("ascii"));
    w.step(
        "METADATA_TOO_LARGE",
        Code::ResourceExhausted,
        "GetTenant with 20 KiB of metadata",
        sys.tenants(&sys.operator).get_tenant(big).await,
    );
    db.pool.close().await;
    w.step_with_retry(
        "DATABASE_UNAVAILABLE",
        Code::Unavailable,
        "GetTenant on a tenants service whose database is gone",
        TenantServiceClient::new(channel)
            .get_tenant(get_tenant(&new_id()))
            .await,
    );
    let _ = stop.send(());

    // ---- product keys and contact requests (seeds 002 and 001) ----
    let (keyseller, ka) = sys
        .partner_admin("keyseller", "5500001", &[PartnerType::DirectProvider])
        .await;
    let keyschool = sys
        .workflows(&ka)
        .create_customer(customer_form(&keyseller.id, "nyckelskolan", "SE"))
        .await
        .expect("CreateCustomer")
        .into_inner()
        .customer
        .expect("customer");
    let german = subscriptions(&sys, &op)
        .get_offer(sub::GetOfferRequest {
            offer_id: GERMANY_BUSINESS_STANDARD.into(),
        })
        .await
        .expect("GetOffer")
        .into_inner()
        .offer
        .expect("offer");
    let mut keys = Vec::new();
    for (offer, quantity) in [
        (BUSINESS_BASIC, 5),
        (GERMANY_BUSINESS_STANDARD, german.min_quantity),
    ] {
        keys.extend(
            subscriptions(&sys, &op)
                .create_product_keys(sub::CreateProductKeysRequest {
                    offer_id: offer.into(),
                    count: 1,
                    quantity,
                    ..Default::default()
                })
                .await
                .expect("CreateProductKeys")
                .into_inner()
                .product_keys
                .into_iter()
                .map(|k| k.key),
        );
    }
    let redeem = |key: &str| gw::RedeemProductKeyRequest {
        partner_tenant_id: keyseller.id.clone(),
        customer_tenant_id: keyschool.id.clone(),
        product_key: key.into(),
        request_id: new_id(),
    };
    w.step(
        "PRODUCT_KEY_NOT_FOUND",
        Code::NotFound,
        "a partner redeems a key nobody issued",
        sys.workflows(&ka)
            .redeem_product_key(redeem("7K3QD-M2XWP-9HTRV-C4N8B-ZJ6FY"))
            .await,
    );
    w.step(
        "OFFER_NOT_IN_CLOUD",
        Code::InvalidArgument,
        "a partner redeems a key of the Germany cloud's offer for a worldwide customer",
        sys.workflows(&ka)
            .redeem_product_key(redeem(&keys[1]))
            .await,
    );
    sys.workflows(&ka)
        .redeem_product_key(redeem(&keys[0]))
        .await
        .expect("RedeemProductKey");
    w.step(
        "PRODUCT_KEY_ALREADY_REDEEMED",
        Code::FailedPrecondition,
        "a partner redeems a key a second time",
        sys.workflows(&ka)
            .redeem_product_key(redeem(&keys[0]))
            .await,
    );
    let (asker, asker_admin) = sys.customer_admin("fragaskolan", "SE").await;
    let ask = |customer: &str, partner: &str| pb::ContactPartnersRequest {
        customer_tenant_id: customer.into(),
        partner_tenant_ids: vec![partner.into()],
        needs: "E-post och filer i molnet".into(),
        contact: Some(contact("Maja", "Ek")),
        request_id: new_id(),
    };
    w.step(
        "NOT_A_CUSTOMER",
        Code::FailedPrecondition,
        "a partner asks another partner to contact it, as a customer would",
        sys.tenants(&pa)
            .contact_partners(ask(&fabrikam.id, &keyseller.id))
            .await,
    );
    let sent = sys
        .tenants(&asker_admin)
        .contact_partners(ask(&asker.id, &fabrikam.id))
        .await
        .expect("ContactPartners")
        .into_inner()
        .contact_requests;
    let answer = |inviter: &str| {
        create_invitation(inv::Invitation {
            invitee_tenant_id: asker.id.clone(),
            contact_request_id: sent[0].id.clone(),
            ..reseller_invitation(inviter, false)
        })
    };
    w.step(
        "CONTACT_REQUEST_NOT_FOUND",
        Code::NotFound,
        "a partner answers a contact request sent to another partner",
        sys.invitations(&ka)
            .create_invitation(answer(&keyseller.id))
            .await,
    );
    sys.invitations(&pa)
        .create_invitation(answer(&fabrikam.id))
        .await
        .expect("the answer");
    w.step(
        "CONTACT_REQUEST_ANSWERED",
        Code::FailedPrecondition,
        "a partner answers a contact request a second time",
        sys.invitations(&pa)
            .create_invitation(answer(&fabrikam.id))
            .await,
    );
    for _ in 0..4 {
        sys.tenants(&asker_admin)
            .contact_partners(ask(&asker.id, &fabrikam.id))
            .await
            .expect("within the day's limit");
    }
    w.step_with_retry(
        "CONTACT_LIMIT",
        Code::ResourceExhausted,
        "a customer's sixth contact request of the day",
        sys.tenants(&asker_admin)
            .contact_partners(ask(&asker.id, &fabrikam.id))
            .await,
    );

    // Last, as it moves the clock: an untouched invitation expires, and a term's cancellation
    // window (7 days) has closed.
    let late = sys
        .invite(&pa, reseller_invitation(&fabrikam.id, false))
        .await;
    let annual = subscriptions(&sys, &pa)
        .place_order(order(vec![line(BUSINESS_BASIC, 5)]))
        .await
        .expect("PlaceOrder")
        .into_inner()
        .subscriptions
        .remove(0);
    assert_eq!(annual.term_duration, TermDuration::Annual as i32);
    sys.clock.advance(Duration::from_secs(91 * 86_400));
    w.step(
        "CANCELLATION_WINDOW_CLOSED",
        Code::FailedPrecondition,
        "Fabrikam lowers an annual subscription's licences 91 days into its term",
        subscriptions(&sys, &pa)
            .update_subscription(sub::UpdateSubscriptionRequest {
                tenant_id: fabrikam.id.clone(),
                subscription: Some(sub::Subscription {
                    id: annual.id.clone(),
                    quantity: 4,
                    ..Default::default()
                }),
                update_mask: mask(&["quantity"]),
            })
            .await,
    );
    w.step(
        "INVITATION_EXPIRED",
        Code::FailedPrecondition,
        "a school accepts an invitation 91 days after it was sent",
        sys.workflows(&oa)
            .accept_invitation(accept(&late.code, &other_school.id, true))
            .await,
    );
    sys.stop().await;

    let walked: BTreeSet<String> = w.met.iter().map(|r| r.to_string()).collect();
    let unwalked: Vec<_> = listed.difference(&walked).collect();
    let unlisted: Vec<_> = walked.difference(&listed).collect();
    assert!(
        w.wrong.is_empty() && unwalked.is_empty() && unlisted.is_empty(),
        "{} of {} steps answered otherwise:\n{}\nlisted in the README, not walked: {unwalked:?}\nwalked, not listed in the README: {unlisted:?}",
        w.wrong.len(),
        w.steps,
        w.wrong.join("\n"),
    );
}

/// Calls `path` through the gateway as the holder of `token` with `message`, whatever the
/// method expects.
async fn raw_call<M, R>(
    sys: &TestSystem,
    token: &str,
    path: &'static str,
    message: M,
) -> Result<R, Status>
where
    M: prost::Message + Send + Sync + 'static,
    R: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(sys.authed(token));
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    grpc.unary(
        tonic::Request::new(message),
        http::uri::PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::<M, R>::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}
