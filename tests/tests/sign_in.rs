//! Signing in: the README's walkthrough, tokens, temporary passwords and the wait after repeated
//! wrong passwords (its growth, the rate limit and password rules: `sign_in_abuse.rs`).

use partnerhub_proto::gateway::ChangePasswordRequest;
use partnerhub_proto::tenants::{self as pb, GetTenantRequest};
use partnerhub_proto::types::{PartnerType, Role};
use partnerhub_tests::{NEW_PASSWORD, TestSystem, bad_fields, reason};
use tonic::Code;
use tonic_types::StatusExt;

#[tokio::test]
async fn an_operator_enrols_a_partner_whose_admin_signs_in_changes_the_password_and_adds_a_user() {
    let sys = TestSystem::start().await;
    let enrolled = sys
        .create_partner("fabrikam", "1234567", &[PartnerType::IndirectProvider])
        .await;
    assert_eq!(enrolled.admin_user_name, "admin@fabrikam.onpartnerhub.com");
    assert_eq!(enrolled.temporary_password.chars().count(), 24);

    // With the temporary password, only ChangePassword works.
    let first = sys
        .sign_in(&enrolled.admin_user_name, &enrolled.temporary_password)
        .await
        .expect("sign in");
    assert!(first.password_change_required);
    assert_eq!(first.tenant_id, enrolled.tenant.id);
    let status = sys
        .tenants(&first.access_token)
        .get_tenant(GetTenantRequest {
            tenant_id: enrolled.tenant.id.clone(),
        })
        .await
        .expect_err("must change the password first");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "PASSWORD_CHANGE_REQUIRED");

    // A weak new password is refused with the field named.
    let status = sys
        .auth(&first.access_token)
        .change_password(ChangePasswordRequest {
            current_password: enrolled.temporary_password.clone(),
            new_password: "short".into(),
        })
        .await
        .expect_err("too weak");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["new_password"]);

    let token = sys
        .activate_user(&enrolled.admin_user_name, &enrolled.temporary_password)
        .await;
    let tenant = sys
        .tenants(&token)
        .get_tenant(GetTenantRequest {
            tenant_id: enrolled.tenant.id.clone(),
        })
        .await
        .expect("the admin reads its tenant")
        .into_inner()
        .tenant
        .expect("tenant");
    assert_eq!(tenant.display_name, "fabrikam AB");

    // The temporary password no longer works; the new one does.
    let status = sys
        .sign_in(&enrolled.admin_user_name, &enrolled.temporary_password)
        .await
        .expect_err("old password");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        !sys.sign_in(&enrolled.admin_user_name, NEW_PASSWORD)
            .await
            .expect("new password")
            .password_change_required
    );

    let created = sys
        .tenants(&token)
        .create_user(pb::CreateUserRequest {
            tenant_id: enrolled.tenant.id.clone(),
            user: Some(pb::User {
                user_name: "erik".into(),
                display_name: "Erik Lind".into(),
                roles: vec![Role::AdminAgent as i32],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("CreateUser")
        .into_inner();
    let user = created.user.expect("user");
    assert_eq!(user.user_name, "erik@fabrikam.onpartnerhub.com");
    assert!(user.password_change_required);
    let erik = sys
        .activate_user(&user.user_name, &created.temporary_password)
        .await;
    assert!(!erik.is_empty());
    sys.stop().await;
}

#[tokio::test]
async fn a_wrong_user_name_and_a_wrong_password_look_the_same() {
    let sys = TestSystem::start().await;
    let enrolled = sys
        .create_partner("contoso", "2345678", &[PartnerType::DirectProvider])
        .await;
    let wrong_password = sys
        .sign_in(&enrolled.admin_user_name, "Not-the-password-1")
        .await
        .expect_err("wrong");
    let wrong_user = sys
        .sign_in("nobody@contoso.onpartnerhub.com", "Not-the-password-1")
        .await
        .expect_err("wrong");
    for status in [&wrong_password, &wrong_user] {
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(reason(status), "INVALID_CREDENTIALS");
    }
    assert_eq!(wrong_password.message(), wrong_user.message());
    let empty = sys.sign_in("", "").await.expect_err("empty");
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&empty), ["user_name", "password"]);
    sys.stop().await;
}

#[tokio::test]
async fn five_wrong_passwords_make_sign_in_wait_and_an_admin_reset_lifts_the_wait() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys
        .partner_admin("contoso", "2345678", &[PartnerType::DirectProvider])
        .await;
    let created = sys
        .tenants(&admin)
        .create_user(pb::CreateUserRequest {
            tenant_id: partner.id.clone(),
            user: Some(pb::User {
                user_name: "sara".into(),
                display_name: "Sara".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("CreateUser")
        .into_inner();
    let sara = created.user.expect("user");
    sys.activate_user(&sara.user_name, &created.temporary_password)
        .await;

    for attempt in 1..=4 {
        let status = sys
            .sign_in(&sara.user_name, "Wrong-password-1")
            .await
            .expect_err("wrong");
        assert_eq!(status.code(), Code::Unauthenticated, "attempt {attempt}");
    }
    let locked = sys
        .sign_in(&sara.user_name, "Wrong-password-1")
        .await
        .expect_err("fifth");
    assert_eq!(locked.code(), Code::ResourceExhausted);
    assert_eq!(reason(&locked), "SIGN_IN_LOCKED");
    let retry = locked
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo");
    assert_eq!(retry, std::time::Duration::from_secs(2));
    // Even the right password waits for the wait to end.
    let status = sys
        .sign_in(&sara.user_name, NEW_PASSWORD)
        .await
        .expect_err("locked");
    assert_eq!(status.code(), Code::ResourceExhausted);

    let reset = sys
        .tenants(&admin)
        .reset_password(pb::ResetPasswordRequest {
            tenant_id: partner.id.clone(),
            user_id: sara.id.clone(),
        })
        .await
        .expect("ResetPassword")
        .into_inner();
    assert!(reset.user.expect("user").password_change_required);
    let again = sys
        .sign_in(&sara.user_name, &reset.temporary_password)
        .await
        .expect("unlocked by the reset");
    assert!(again.password_change_required);
    sys.stop().await;
}

#[tokio::test]
async fn calls_without_a_valid_token_are_refused() {
    let sys = TestSystem::start().await;
    let enrolled = sys
        .create_partner("contoso", "2345678", &[PartnerType::DirectProvider])
        .await;
    let request = || GetTenantRequest {
        tenant_id: enrolled.tenant.id.clone(),
    };
    let missing = sys
        .tenants("")
        .get_tenant(request())
        .await
        .expect_err("no token");
    assert_eq!(
        (missing.code(), reason(&missing).as_str()),
        (Code::Unauthenticated, "TOKEN_MISSING")
    );
    let garbage = sys
        .tenants("garbage")
        .get_tenant(request())
        .await
        .expect_err("garbage");
    assert_eq!(
        (garbage.code(), reason(&garbage).as_str()),
        (Code::Unauthenticated, "TOKEN_INVALID")
    );

    // A token signed with another key, with the operator's claims.
    let other = TestSystem::start().await;
    let forged = other
        .tenants(&other.operator)
        .get_tenant(request())
        .await
        .expect_err("other system");
    assert_eq!(
        forged.code(),
        Code::NotFound,
        "the other system doesn't know the tenant"
    );
    let status = sys
        .tenants(&other.operator)
        .get_tenant(request())
        .await
        .expect_err("foreign key");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unauthenticated, "TOKEN_INVALID")
    );
    other.stop().await;
    sys.stop().await;
}

#[tokio::test]
async fn a_deleted_users_token_stops_working_at_once() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys
        .partner_admin("contoso", "2345678", &[PartnerType::DirectProvider])
        .await;
    let created = sys
        .tenants(&admin)
        .create_user(pb::CreateUserRequest {
            tenant_id: partner.id.clone(),
            user: Some(pb::User {
                user_name: "temp".into(),
                display_name: "Temp".into(),
                roles: vec![Role::GlobalAdmin as i32],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("CreateUser")
        .into_inner();
    let user = created.user.expect("user");
    let token = sys
        .activate_user(&user.user_name, &created.temporary_password)
        .await;
    sys.tenants(&token)
        .get_tenant(GetTenantRequest {
            tenant_id: partner.id.clone(),
        })
        .await
        .expect("works");
    sys.tenants(&admin)
        .delete_user(pb::DeleteUserRequest {
            tenant_id: partner.id.clone(),
            user_id: user.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("DeleteUser");
    let status = sys
        .tenants(&token)
        .get_tenant(GetTenantRequest {
            tenant_id: partner.id.clone(),
        })
        .await
        .expect_err("gone");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unauthenticated, "USER_NOT_FOUND")
    );
    sys.stop().await;
}

#[tokio::test]
async fn the_operator_has_no_password_to_change() {
    let sys = TestSystem::start().await;
    let status = sys
        .auth(&sys.operator)
        .change_password(ChangePasswordRequest {
            current_password: "x".into(),
            new_password: NEW_PASSWORD.into(),
        })
        .await
        .expect_err("operator");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "OPERATOR_HAS_NO_PASSWORD");
    sys.stop().await;
}

#[tokio::test]
async fn a_password_change_ends_the_sessions_before_it() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys
        .partner_admin("contoso", "2345678", &[PartnerType::DirectProvider])
        .await;
    let read = |token: String| {
        let mut client = sys.tenants(&token);
        let request = GetTenantRequest {
            tenant_id: partner.id.clone(),
        };
        async move { client.get_tenant(request).await }
    };
    let older = sys
        .sign_in("admin@contoso.onpartnerhub.com", NEW_PASSWORD)
        .await
        .expect("sign in")
        .access_token;
    read(older.clone()).await.expect("works");
    let newer = sys
        .auth(&admin)
        .change_password(ChangePasswordRequest {
            current_password: NEW_PASSWORD.into(),
            new_password: "Another-5678-Pass".into(),
        })
        .await
        .expect("ChangePassword")
        .into_inner()
        .access_token;
    let status = read(older).await.expect_err("signed in before the change");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::Unauthenticated, "TOKEN_OUTDATED")
    );
    read(newer).await.expect("the token from the change works");
    sys.stop().await;
}

#[tokio::test]
async fn control_characters_in_a_user_name_are_refused_not_crashed_on() {
    let sys = TestSystem::start().await;
    let status = sys
        .sign_in("a\0b@x.onpartnerhub.com", "Whatever-1234")
        .await
        .expect_err("NUL");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["user_name"]);
    sys.stop().await;
}
