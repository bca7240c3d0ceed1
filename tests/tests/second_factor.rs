//! A second factor (TOTP) for users: enrolled by the user, asked for at sign-in, each code good
//! once, removed by the user or reset by an admin who manages it; and, where the deployment
//! requires it, partners' staff enroll one before doing anything else.

use partnerhub_proto::gateway::auth_service_client::AuthServiceClient;
use partnerhub_proto::gateway::{
    BeginSecondFactorEnrollmentRequest, BeginSecondFactorEnrollmentResponse,
    ConfirmSecondFactorEnrollmentRequest, RemoveSecondFactorRequest, SignInRequest, SignInResponse,
};
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use partnerhub_proto::tenants::{self as pb, GetTenantRequest};
use partnerhub_proto::types::{PartnerType, Role};
use partnerhub_tenants::totp;
use partnerhub_tests::{Authed, Bearer, NEW_PASSWORD, TestSystem, bad_fields, reason};
use std::time::{Duration, SystemTime};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// What the user's authenticator app shows `offset` steps from now (-1, 0 or 1 are accepted).
fn code(secret: &str, offset: i64) -> String {
    let step = Duration::from_secs(30 * offset.unsigned_abs());
    let now = SystemTime::now();
    let at = if offset < 0 { now - step } else { now + step };
    totp::code(secret, at).expect("a code")
}

async fn sign_in(
    channel: Channel,
    user_name: &str,
    password: &str,
    code: &str,
) -> Result<SignInResponse, Status> {
    AuthServiceClient::new(channel)
        .sign_in(SignInRequest {
            user_name: user_name.into(),
            password: password.into(),
            second_factor_code: code.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn begin(auth: &mut AuthServiceClient<Authed>) -> BeginSecondFactorEnrollmentResponse {
    auth.begin_second_factor_enrollment(BeginSecondFactorEnrollmentRequest {
        current_password: NEW_PASSWORD.into(),
    })
    .await
    .expect("BeginSecondFactorEnrollment")
    .into_inner()
}

async fn confirm(auth: &mut AuthServiceClient<Authed>, code: String) -> Result<String, Status> {
    auth.confirm_second_factor_enrollment(ConfirmSecondFactorEnrollmentRequest { code })
        .await
        .map(|r| r.into_inner().access_token)
}

fn assert_refused(result: Result<impl std::fmt::Debug, Status>, code: Code, why: &str) {
    let status = result.expect_err(why);
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(&status), why, "{status:?}");
}

#[tokio::test]
async fn an_agent_enrolls_a_second_factor_signs_in_with_codes_good_once_and_an_admin_resets_it() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (ann, ann_token) = sys
        .user(&admin, &partner.id, "ann", &[Role::AdminAgent])
        .await;
    let mut auth = sys.auth(&ann_token);

    // Enrolling needs the password: a token alone does not change how the user signs in.
    let status = auth
        .begin_second_factor_enrollment(BeginSecondFactorEnrollmentRequest {
            current_password: "Not-The-Password-At-All".into(),
        })
        .await
        .expect_err("wrong password");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["current_password"]);
    let begun = begin(&mut auth).await;
    assert_eq!(begun.secret.len(), 32);
    assert!(
        begun.otpauth_uri.starts_with(&format!(
            "otpauth://totp/partnerhub:{}?secret={}&issuer=partnerhub",
            ann.user_name, begun.secret
        )),
        "{}",
        begun.otpauth_uri
    );
    // Until confirmed nothing changes at sign-in.
    sign_in(sys.channel(), &ann.user_name, NEW_PASSWORD, "")
        .await
        .expect("no code asked for yet");

    // A code of another secret, or not a code at all, doesn't confirm.
    let other = totp::new_secret();
    for (wrong, why) in [
        (code(&other, 0), "of another secret"),
        ("12345".to_string(), "five digits"),
        ("abcdef".to_string(), "letters"),
    ] {
        let status = confirm(&mut auth, wrong).await.expect_err(why);
        assert_eq!(status.code(), Code::InvalidArgument, "{why}");
        assert_eq!(bad_fields(&status), ["code"], "{why}");
    }
    let confirmed_with = code(&begun.secret, 0);
    let token = confirm(&mut auth, confirmed_with.clone())
        .await
        .expect("confirmed");
    let user = sys
        .tenants(&token)
        .get_user(pb::GetUserRequest {
            tenant_id: partner.id.clone(),
            user_id: ann.id.clone(),
        })
        .await;
    // Ann is an agent without user-reading roles: her admin reads her instead.
    assert_eq!(
        user.expect_err("not a user reader").code(),
        Code::PermissionDenied
    );
    let read = |id: String| {
        let mut tenants = sys.tenants(&admin);
        let tenant_id = partner.id.clone();
        async move {
            tenants
                .get_user(pb::GetUserRequest {
                    tenant_id,
                    user_id: id,
                })
                .await
                .expect("GetUser")
                .into_inner()
                .user
                .expect("user")
        }
    };
    assert!(read(ann.id.clone()).await.second_factor_enrolled);

    // Sign-in now asks for a code, but only once the password is right.
    assert_refused(
        sign_in(sys.channel(), &ann.user_name, "Not-The-Password-At-All", "").await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
    assert_refused(
        sign_in(sys.channel(), &ann.user_name, NEW_PASSWORD, "").await,
        Code::Unauthenticated,
        "SECOND_FACTOR_REQUIRED",
    );
    // The code that confirmed is used; a code of the next step (the app a little ahead) works,
    // once.
    assert_refused(
        sign_in(sys.channel(), &ann.user_name, NEW_PASSWORD, &confirmed_with).await,
        Code::Unauthenticated,
        "INVALID_SECOND_FACTOR",
    );
    let next = code(&begun.secret, 1);
    let signed_in = sign_in(sys.channel(), &ann.user_name, NEW_PASSWORD, &next)
        .await
        .expect("password and a fresh code");
    sys.tenants(&signed_in.access_token)
        .get_tenant(GetTenantRequest {
            tenant_id: partner.id.clone(),
        })
        .await
        .expect("the token works");
    assert_refused(
        sign_in(sys.channel(), &ann.user_name, NEW_PASSWORD, &next).await,
        Code::Unauthenticated,
        "INVALID_SECOND_FACTOR",
    );

    // A second factor is replaced only after removing it; removing needs a fresh code (every
    // code around now is used by now).
    assert_refused(
        auth.begin_second_factor_enrollment(BeginSecondFactorEnrollmentRequest {
            current_password: NEW_PASSWORD.into(),
        })
        .await,
        Code::FailedPrecondition,
        "SECOND_FACTOR_ENROLLED",
    );
    let status = auth
        .remove_second_factor(RemoveSecondFactorRequest {
            current_password: NEW_PASSWORD.into(),
            code: next.clone(),
        })
        .await
        .expect_err("a used code");
    assert_eq!(bad_fields(&status), ["code"]);

    // Ann lost her phone: her admin resets the factor (a helpdesk agent may not).
    let (_, helpdesk) = sys
        .user(&admin, &partner.id, "hugo", &[Role::HelpdeskAgent])
        .await;
    let reset = |token: &str| {
        let mut tenants = sys.tenants(token);
        let request = pb::ResetSecondFactorRequest {
            tenant_id: partner.id.clone(),
            user_id: ann.id.clone(),
        };
        async move { tenants.reset_second_factor(request).await }
    };
    assert_eq!(
        reset(&helpdesk).await.expect_err("helpdesk").code(),
        Code::PermissionDenied
    );
    let user = reset(&admin)
        .await
        .expect("ResetSecondFactor")
        .into_inner()
        .user
        .expect("user");
    assert!(!user.second_factor_enrolled);
    sign_in(sys.channel(), &ann.user_name, NEW_PASSWORD, "")
        .await
        .expect("the password alone again");
    sys.stop().await;
}

#[tokio::test]
async fn a_user_removes_its_own_second_factor_and_wrong_codes_make_sign_in_wait() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys
        .partner_admin("contoso", "7654321", &[PartnerType::DirectProvider])
        .await;
    let (bo, bo_token) = sys
        .user(&admin, &partner.id, "bo", &[Role::SalesAgent])
        .await;
    let mut auth = sys.auth(&bo_token);
    let begun = begin(&mut auth).await;
    // The app a little behind: the code of the step before still confirms.
    confirm(&mut auth, code(&begun.secret, -1))
        .await
        .expect("confirmed");
    auth.remove_second_factor(RemoveSecondFactorRequest {
        current_password: NEW_PASSWORD.into(),
        code: code(&begun.secret, 0),
    })
    .await
    .expect("RemoveSecondFactor");
    sign_in(sys.channel(), &bo.user_name, NEW_PASSWORD, "")
        .await
        .expect("the password alone again");
    assert_refused(
        auth.remove_second_factor(RemoveSecondFactorRequest {
            current_password: NEW_PASSWORD.into(),
            code: code(&begun.secret, 1),
        })
        .await,
        Code::FailedPrecondition,
        "NO_SECOND_FACTOR",
    );
    // Confirming without beginning is refused too.
    assert_refused(
        confirm(&mut auth, code(&begun.secret, 1)).await,
        Code::FailedPrecondition,
        "NO_SECOND_FACTOR_ENROLLMENT",
    );

    // Someone with the password guessing codes: they count as wrong passwords do.
    let begun = begin(&mut auth).await;
    confirm(&mut auth, code(&begun.secret, -1))
        .await
        .expect("confirmed");
    let wrong = if code(&begun.secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..4 {
        assert_refused(
            sign_in(sys.channel(), &bo.user_name, NEW_PASSWORD, wrong).await,
            Code::Unauthenticated,
            "INVALID_SECOND_FACTOR",
        );
    }
    assert_refused(
        sign_in(sys.channel(), &bo.user_name, NEW_PASSWORD, wrong).await,
        Code::ResourceExhausted,
        "SIGN_IN_LOCKED",
    );

    // Neither the operator nor a service account has a second factor.
    assert_refused(
        begin_as(&sys, &sys.operator).await,
        Code::FailedPrecondition,
        "OPERATOR_HAS_NO_PASSWORD",
    );
    sys.stop().await;
}

async fn begin_as(
    sys: &TestSystem,
    token: &str,
) -> Result<tonic::Response<BeginSecondFactorEnrollmentResponse>, Status> {
    sys.auth(token)
        .begin_second_factor_enrollment(BeginSecondFactorEnrollmentRequest {
            current_password: NEW_PASSWORD.into(),
        })
        .await
}

#[tokio::test]
async fn where_the_deployment_requires_it_partner_staff_enroll_before_anything_else() {
    let sys = TestSystem::start().await;
    let gateway = sys
        .gateway_with_options(partnerhub_gateway::Options {
            require_second_factor: true,
            ..Default::default()
        })
        .await;
    let (partner, admin) = sys
        .partner_admin("northwind", "2345678", &[PartnerType::DirectProvider])
        .await;
    sys.customer_admin("adatum", "SE").await;
    let (no_roles, _) = sys.user(&admin, &partner.id, "nils", &[]).await;
    let admin_name = "admin@northwind.onpartnerhub.com";

    let signed_in = sign_in(gateway.channel.clone(), admin_name, NEW_PASSWORD, "")
        .await
        .expect("signs in");
    assert!(signed_in.second_factor_enrollment_required);
    let authed = |token: &str| {
        tonic::service::interceptor::InterceptedService::new(
            gateway.channel.clone(),
            Bearer::new(token),
        )
    };
    let get_tenant = |token: String| {
        let mut tenants = TenantServiceClient::new(authed(&token));
        let tenant_id = partner.id.clone();
        async move { tenants.get_tenant(GetTenantRequest { tenant_id }).await }
    };
    assert_refused(
        get_tenant(signed_in.access_token.clone()).await,
        Code::FailedPrecondition,
        "SECOND_FACTOR_ENROLLMENT_REQUIRED",
    );
    // The same gateway without the requirement (the system's own) lets the token through:
    // the rule is the deployment's.
    sys.tenants(&signed_in.access_token)
        .get_tenant(GetTenantRequest {
            tenant_id: partner.id.clone(),
        })
        .await
        .expect("no requirement there");

    let mut auth = AuthServiceClient::new(authed(&signed_in.access_token));
    let begun = begin(&mut auth).await;
    let token = confirm(&mut auth, code(&begun.secret, 0))
        .await
        .expect("confirmed");
    get_tenant(token).await.expect("enrolled: everything again");
    // The old token works too: the gateway reads the user on every call.
    get_tenant(signed_in.access_token).await.expect("old token");
    let again = sign_in(
        gateway.channel.clone(),
        admin_name,
        NEW_PASSWORD,
        &code(&begun.secret, 1),
    )
    .await
    .expect("signs in with a code");
    assert!(!again.second_factor_enrollment_required);

    // Customers' admins and a partner's users without roles are not partners' staff.
    let customer = sign_in(
        gateway.channel.clone(),
        "admin@adatum.onpartnerhub.com",
        NEW_PASSWORD,
        "",
    )
    .await
    .expect("customer admin");
    assert!(!customer.second_factor_enrollment_required);
    let nils = sign_in(
        gateway.channel.clone(),
        &no_roles.user_name,
        NEW_PASSWORD,
        "",
    )
    .await
    .expect("no roles");
    assert!(!nils.second_factor_enrollment_required);
    sys.stop().await;
}
