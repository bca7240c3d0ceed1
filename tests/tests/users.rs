//! Users of a tenant: roles by tenant kind, user names, listing, updates, the last global
//! admin, the authorization table method by method, agreements, and hostile input.

use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::{self as pb, agreement};
use partnerhub_proto::types::{Contact, PartnerType, Role};
use partnerhub_tests::{
    NEW_PASSWORD, Raw, TestSystem, all_at_once, bad_fields, contact, customer, reason,
};
use prost::Message;
use std::fmt::Debug;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt;

const PROVIDER: &[PartnerType] = &[PartnerType::DirectProvider];

// ---- helpers ----

fn roles(list: &[Role]) -> Vec<i32> {
    list.iter().map(|r| *r as i32).collect()
}

/// A user to create: `name` (before or with the "@"), shown as `display_name`.
fn new_user(name: &str, display_name: &str, held: &[Role]) -> pb::User {
    pb::User {
        user_name: name.into(),
        display_name: display_name.into(),
        roles: roles(held),
        ..Default::default()
    }
}

fn create_request(tenant_id: &str, user: pb::User) -> pb::CreateUserRequest {
    pb::CreateUserRequest {
        tenant_id: tenant_id.into(),
        user: Some(user),
        request_id: String::new(),
    }
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

/// A signer with first and last name and e-mail.
fn signer(first: &str, last: &str) -> Contact {
    contact(first, last)
}

/// Creates a user as the holder of `token`; returns it with its temporary password.
async fn create_user(
    sys: &TestSystem,
    token: &str,
    tenant_id: &str,
    user: pb::User,
) -> (pb::User, String) {
    let created = sys
        .tenants(token)
        .create_user(create_request(tenant_id, user))
        .await
        .expect("CreateUser")
        .into_inner();
    (created.user.expect("user"), created.temporary_password)
}

/// Creates a user holding `held` and signs it in; returns it with its token.
async fn member(
    sys: &TestSystem,
    admin: &str,
    tenant_id: &str,
    name: &str,
    held: &[Role],
) -> (pb::User, String) {
    let (user, temporary) = create_user(sys, admin, tenant_id, new_user(name, name, held)).await;
    let token = sys.activate_user(&user.user_name, &temporary).await;
    (user, token)
}

/// The signed-in user id of a user who changed its password to [`NEW_PASSWORD`].
async fn user_id_of(sys: &TestSystem, user_name: &str) -> String {
    sys.sign_in(user_name, NEW_PASSWORD)
        .await
        .expect("sign in")
        .user_id
}

/// Creates a customer straight at the tenants service (as the workflow would); `activate`
/// makes it usable. Returns the customer, its admin's user name and temporary password.
async fn create_customer(
    sys: &TestSystem,
    prefix: &str,
    activate: bool,
) -> (pb::Tenant, String, String) {
    let mut internal = TenantInternalServiceClient::new(sys.service("tenants").await);
    let created = internal
        .create_customer_tenant(pb::CreateCustomerTenantRequest {
            customer: Some(customer(prefix)),
            request_id: String::new(),
            validate_only: false,
            workflow_fingerprint: String::new(),
        })
        .await
        .expect("CreateCustomerTenant")
        .into_inner();
    let mut tenant = created.customer.expect("customer");
    assert_eq!(tenant.state, pb::tenant::State::Pending as i32);
    if activate {
        tenant = internal
            .activate_tenant(pb::ActivateTenantRequest {
                tenant_id: tenant.id.clone(),
            })
            .await
            .expect("ActivateTenant")
            .into_inner()
            .tenant
            .expect("tenant");
        assert_eq!(tenant.state, pb::tenant::State::Active as i32);
    }
    let admin = created.admin_user.expect("admin");
    (tenant, admin.user_name, created.temporary_password)
}

/// Asserts a refusal with this code and `ErrorInfo.reason`; returns the status.
#[track_caller]
fn refused<T: Debug>(result: Result<Response<T>, Status>, code: Code, why: &str) -> Status {
    let status = match result {
        Ok(answer) => panic!("expected {code:?} {why}, got {:?}", answer.get_ref()),
        Err(status) => status,
    };
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (code, why),
        "{}",
        status.message()
    );
    status
}

/// Asserts INVALID_ARGUMENT naming exactly `fields`.
#[track_caller]
fn invalid<T: Debug>(result: Result<Response<T>, Status>, fields: &[&str]) -> Status {
    let status = refused(result, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(bad_fields(&status), fields, "{}", status.message());
    status
}

fn error_domain(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.domain.clone())
        .unwrap_or_default()
}

// ---- users and roles ----

#[tokio::test]
async fn a_partner_gives_its_users_partner_roles() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let all = [
        Role::SalesAgent,
        Role::GlobalAdmin,
        Role::BillingAdmin,
        Role::UserAdmin,
        Role::AdminAgent,
        Role::HelpdeskAgent,
        Role::SalesAgent,
    ];
    let (user, _) = create_user(&sys, &admin, &partner.id, new_user("erik", "Erik", &all)).await;
    // Every partner role is kept, once each, in a stable order.
    assert_eq!(
        user.roles,
        roles(&[
            Role::GlobalAdmin,
            Role::BillingAdmin,
            Role::UserAdmin,
            Role::AdminAgent,
            Role::SalesAgent,
            Role::HelpdeskAgent,
        ])
    );
    // No roles at all is a user without admin rights.
    let (plain, _) = create_user(&sys, &admin, &partner.id, new_user("olle", "Olle", &[])).await;
    assert!(plain.roles.is_empty());
    sys.stop().await;
}

#[tokio::test]
async fn a_customer_role_is_refused_in_a_partner_tenant() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let status = invalid(
        sys.tenants(&admin)
            .create_user(create_request(
                &partner.id,
                new_user("erik", "Erik", &[Role::HelpdeskAdmin]),
            ))
            .await,
        &["user.roles[0]"],
    );
    assert!(
        status.message().contains("ROLE_HELPDESK_ADMIN"),
        "{status:?}"
    );
    // The position of the bad role is named.
    invalid(
        sys.tenants(&admin)
            .create_user(create_request(
                &partner.id,
                new_user("erik", "Erik", &[Role::SalesAgent, Role::HelpdeskAdmin]),
            ))
            .await,
        &["user.roles[1]"],
    );
    // Nor can an existing user be given one.
    let (erik, _) = create_user(
        &sys,
        &admin,
        &partner.id,
        new_user("erik", "Erik", &[Role::SalesAgent]),
    )
    .await;
    invalid(
        sys.tenants(&admin)
            .update_user(pb::UpdateUserRequest {
                tenant_id: partner.id.clone(),
                user: Some(pb::User {
                    id: erik.id.clone(),
                    roles: roles(&[Role::HelpdeskAdmin]),
                    ..Default::default()
                }),
                update_mask: mask(&["roles"]),
            })
            .await,
        &["user.roles[0]"],
    );
    sys.stop().await;
}

#[tokio::test]
async fn nobody_is_ever_made_a_platform_operator() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    invalid(
        sys.tenants(&admin)
            .create_user(create_request(
                &partner.id,
                new_user("erik", "Erik", &[Role::PlatformOperator]),
            ))
            .await,
        &["user.roles[0]"],
    );
    // Not even by the operator itself, who makes no users at all: it could act as them.
    refused(
        sys.tenants(&sys.operator)
            .create_user(create_request(
                &partner.id,
                new_user("erik", "Erik", &[Role::GlobalAdmin, Role::PlatformOperator]),
            ))
            .await,
        Code::PermissionDenied,
        "NOT_FOR_OPERATOR",
    );
    // An unknown role number is no role either.
    let mut unknown = new_user("erik", "Erik", &[]);
    unknown.roles = vec![99];
    invalid(
        sys.tenants(&admin)
            .create_user(create_request(&partner.id, unknown))
            .await,
        &["user.roles[0]"],
    );
    let (erik, _) = create_user(&sys, &admin, &partner.id, new_user("erik", "Erik", &[])).await;
    invalid(
        sys.tenants(&admin)
            .update_user(pb::UpdateUserRequest {
                tenant_id: partner.id.clone(),
                user: Some(pb::User {
                    id: erik.id.clone(),
                    roles: roles(&[Role::PlatformOperator]),
                    ..Default::default()
                }),
                update_mask: mask(&["roles"]),
            })
            .await,
        &["user.roles[0]"],
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_customer_gives_its_users_customer_roles_only() {
    let sys = TestSystem::start().await;
    let (school, admin_name, temporary) = create_customer(&sys, "nordskolan", true).await;
    assert_eq!(admin_name, "admin@nordskolan.onpartnerhub.com");
    let admin = sys.activate_user(&admin_name, &temporary).await;

    for partner_only in [Role::AdminAgent, Role::SalesAgent, Role::HelpdeskAgent] {
        let status = invalid(
            sys.tenants(&admin)
                .create_user(create_request(
                    &school.id,
                    new_user("lena", "Lena", &[partner_only]),
                ))
                .await,
            &["user.roles[0]"],
        );
        assert!(
            status.message().contains(partner_only.as_str_name()),
            "{status:?}"
        );
    }
    invalid(
        sys.tenants(&admin)
            .create_user(create_request(
                &school.id,
                new_user("lena", "Lena", &[Role::PlatformOperator]),
            ))
            .await,
        &["user.roles[0]"],
    );
    let (lena, _) = create_user(
        &sys,
        &admin,
        &school.id,
        new_user(
            "lena",
            "Lena",
            &[Role::HelpdeskAdmin, Role::UserAdmin, Role::BillingAdmin],
        ),
    )
    .await;
    assert_eq!(lena.user_name, "lena@nordskolan.onpartnerhub.com");
    assert_eq!(
        lena.roles,
        roles(&[Role::BillingAdmin, Role::UserAdmin, Role::HelpdeskAdmin])
    );

    // A customer accepts the customer agreement, not the partner agreement.
    invalid(
        sys.tenants(&admin)
            .accept_agreement(pb::AcceptAgreementRequest {
                tenant_id: school.id.clone(),
                r#type: agreement::Type::PartnerAgreement as i32,
                signer: Some(signer("Maja", "Ek")),
            })
            .await,
        &["type"],
    );
    let accepted = sys
        .tenants(&admin)
        .accept_agreement(pb::AcceptAgreementRequest {
            tenant_id: school.id.clone(),
            r#type: agreement::Type::CustomerAgreement as i32,
            signer: Some(signer("Maja", "Ek")),
        })
        .await
        .expect("AcceptAgreement")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(accepted.r#type, agreement::Type::CustomerAgreement as i32);
    assert_eq!(accepted.tenant_id, school.id);
    sys.stop().await;
}

#[tokio::test]
async fn a_customers_admin_signs_in_only_once_the_customer_is_active() {
    let sys = TestSystem::start().await;
    let (school, admin_name, temporary) = create_customer(&sys, "nordskolan", false).await;
    let status = sys
        .sign_in(&admin_name, &temporary)
        .await
        .expect_err("pending");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::FailedPrecondition, "TENANT_NOT_ACTIVE"),
        "{}",
        status.message()
    );
    // A wrong password tells nothing about the tenant.
    let wrong = sys
        .sign_in(&admin_name, "Not-the-password-1")
        .await
        .expect_err("wrong password");
    assert_eq!(reason(&wrong), "INVALID_CREDENTIALS");

    TenantInternalServiceClient::new(sys.service("tenants").await)
        .activate_tenant(pb::ActivateTenantRequest {
            tenant_id: school.id.clone(),
        })
        .await
        .expect("ActivateTenant");
    let signed_in = sys.sign_in(&admin_name, &temporary).await.expect("active");
    assert!(signed_in.password_change_required);
    assert_eq!(signed_in.tenant_id, school.id);
    sys.stop().await;
}

// ---- user names ----

#[tokio::test]
async fn a_user_name_lives_in_the_tenants_domain() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let (erik, _) = create_user(&sys, &admin, &partner.id, new_user("erik", "Erik", &[])).await;
    assert_eq!(erik.user_name, "erik@fabrikam.onpartnerhub.com");
    assert_eq!(erik.tenant_id, partner.id);
    assert!(erik.password_change_required);

    let (sara, _) = create_user(
        &sys,
        &admin,
        &partner.id,
        new_user(&format!("sara@{}", partner.primary_domain), "Sara", &[]),
    )
    .await;
    assert_eq!(sara.user_name, "sara@fabrikam.onpartnerhub.com");

    let status = invalid(
        sys.tenants(&admin)
            .create_user(create_request(
                &partner.id,
                new_user("erik@other.example", "Erik", &[]),
            ))
            .await,
        &["user.user_name"],
    );
    assert!(
        status.message().contains("fabrikam.onpartnerhub.com"),
        "{status:?}"
    );
    for bad in ["", "er ik", "erik!", ".erik"] {
        invalid(
            sys.tenants(&admin)
                .create_user(create_request(&partner.id, new_user(bad, "Erik", &[])))
                .await,
            &["user.user_name"],
        );
    }
    sys.stop().await;
}

#[tokio::test]
async fn a_taken_user_name_is_refused() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    create_user(&sys, &admin, &partner.id, new_user("erik", "Erik", &[])).await;
    for again in ["erik", "ERIK", "erik@fabrikam.onpartnerhub.com", "admin"] {
        refused(
            sys.tenants(&admin)
                .create_user(create_request(
                    &partner.id,
                    new_user(again, "Another Erik", &[]),
                ))
                .await,
            Code::AlreadyExists,
            "USER_NAME_TAKEN",
        );
    }
    let users = sys
        .tenants(&admin)
        .list_users(pb::ListUsersRequest {
            tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner()
        .users;
    assert_eq!(users.len(), 2, "the admin and the first erik");
    sys.stop().await;
}

#[tokio::test]
async fn creating_a_user_again_with_the_same_request_id_gives_the_same_user() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let request = pb::CreateUserRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        ..create_request(&partner.id, new_user("erik", "Erik", &[Role::SalesAgent]))
    };
    let first = sys
        .tenants(&admin)
        .create_user(request.clone())
        .await
        .expect("first")
        .into_inner();
    let second = sys
        .tenants(&admin)
        .create_user(request.clone())
        .await
        .expect("retry")
        .into_inner();
    let (first_user, second_user) = (first.user.expect("user"), second.user.expect("user"));
    assert_eq!(first_user.id, second_user.id);
    assert_eq!(second_user.user_name, "erik@fabrikam.onpartnerhub.com");
    // The retry answers the first answer's temporary password, and it works; once the user
    // chose a password, a retry answers none.
    assert!(!first.temporary_password.is_empty());
    assert_eq!(second.temporary_password, first.temporary_password);
    sys.activate_user(&second_user.user_name, &first.temporary_password)
        .await;
    let late = sys
        .tenants(&admin)
        .create_user(request.clone())
        .await
        .expect("a late retry")
        .into_inner();
    assert_eq!(late.user.expect("user").id, first_user.id);
    assert_eq!(late.temporary_password, "");

    // The same request id for another user is a mistake, not a retry.
    let other = pb::CreateUserRequest {
        user: Some(new_user("sara", "Sara", &[])),
        ..request
    };
    let status = refused(
        sys.tenants(&admin).create_user(other).await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    assert_eq!(bad_fields(&status), ["request_id"]);

    let users = sys
        .tenants(&admin)
        .list_users(pb::ListUsersRequest {
            tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner()
        .users;
    assert_eq!(users.len(), 2, "the admin and one erik");
    sys.stop().await;
}

#[tokio::test]
async fn after_a_reset_a_retried_create_shows_no_password_and_the_reset_one_works() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let request = pb::CreateUserRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        ..create_request(&partner.id, new_user("erik", "Erik", &[Role::SalesAgent]))
    };
    let first = sys
        .tenants(&admin)
        .create_user(request.clone())
        .await
        .expect("CreateUser")
        .into_inner();
    let erik = first.user.expect("user");
    // Erik lost the password before using it: the admin resets it.
    let reset = sys
        .tenants(&admin)
        .reset_password(pb::ResetPasswordRequest {
            tenant_id: partner.id.clone(),
            user_id: erik.id.clone(),
        })
        .await
        .expect("ResetPassword")
        .into_inner();
    assert_ne!(reset.temporary_password, first.temporary_password);
    // A late retry of the create can't bring the first password back.
    let late = sys
        .tenants(&admin)
        .create_user(request)
        .await
        .expect("a late retry")
        .into_inner();
    assert_eq!(late.user.expect("user").id, erik.id);
    assert_eq!(late.temporary_password, "");
    let status = sys
        .sign_in(&erik.user_name, &first.temporary_password)
        .await
        .expect_err("the first password was replaced");
    assert_eq!(status.code(), Code::Unauthenticated);
    sys.activate_user(&erik.user_name, &reset.temporary_password)
        .await;
    sys.stop().await;
}

#[tokio::test]
async fn temporary_passwords_are_never_stored_in_clear() {
    use sqlx::{Connection, Row};
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let enrolled = sys.create_partner("contoso", "2345678", PROVIDER).await;
    let mut passwords = vec![enrolled.temporary_password];
    let request = pb::CreateUserRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        ..create_request(&partner.id, new_user("erik", "Erik", &[]))
    };
    // A create and its retry (which derives the password again rather than reading it).
    for _ in 0..2 {
        let created = sys
            .tenants(&admin)
            .create_user(request.clone())
            .await
            .expect("CreateUser")
            .into_inner();
        passwords.push(created.temporary_password);
    }
    assert_eq!(passwords[1], passwords[2]);
    assert!(passwords.iter().all(|p| p.len() == 24));

    sqlx::any::install_default_drivers();
    let url = sys.database_url(partnerhub::system::Service::Tenants.into());
    let mut conn = sqlx::AnyConnection::connect(&url)
        .await
        .expect("open the tenants database");
    let rows = sqlx::query(
        "SELECT id, tenant_id, user_name, display_name, email, roles, password_hash FROM users",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read the users");
    assert_eq!(rows.len(), 3, "the two partners' admins and erik");
    for row in &rows {
        let hash: String = row.get("password_hash");
        assert!(
            hash.starts_with("$sha256$") || hash.starts_with("$argon2id$"),
            "{hash}"
        );
        for column in 0..row.len() {
            let text: String = row.get(column);
            for password in &passwords {
                assert!(
                    !text.contains(password.as_str()),
                    "a password in column {column}"
                );
            }
        }
    }
    conn.close().await.expect("close");
    // SQLite: not in any byte of the data folder either (databases, WAL, keys).
    for entry in std::fs::read_dir(sys.data_dir()).expect("the data folder") {
        let bytes = std::fs::read(entry.expect("a file").path()).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        for password in &passwords {
            assert!(!text.contains(password.as_str()), "a password in a file");
        }
    }
    sys.stop().await;
}

#[tokio::test]
async fn users_created_at_the_same_time_are_all_created_once() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let create = |request: pb::CreateUserRequest| {
        let mut client = sys.tenants(&admin);
        async move { client.create_user(request).await }
    };
    // Different users at once: every one is created.
    let names = ["anna", "bo", "cecilia", "david", "eva", "frida"];
    let results = all_at_once(
        names
            .iter()
            .map(|n| create(create_request(&partner.id, new_user(n, n, &[]))))
            .collect(),
    )
    .await;
    for (name, result) in names.iter().zip(&results) {
        assert!(result.is_ok(), "{name}: {result:?}");
    }
    // The same request sent several times at once: one user.
    let request = pb::CreateUserRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        ..create_request(&partner.id, new_user("gustav", "Gustav", &[]))
    };
    let results = all_at_once((0..4).map(|_| create(request.clone())).collect()).await;
    let ids: Vec<String> = results
        .into_iter()
        .map(|r| {
            r.expect("a retry succeeds")
                .into_inner()
                .user
                .expect("user")
                .id
        })
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let users = sys
        .tenants(&admin)
        .list_users(pb::ListUsersRequest {
            tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner()
        .users;
    assert_eq!(users.len(), 1 + names.len() + 1);
    sys.stop().await;
}

// ---- listing and reading ----

#[tokio::test]
async fn users_are_listed_a_page_at_a_time_oldest_first() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let mut created = Vec::new();
    for name in ["anna", "bo", "cecilia", "david"] {
        let (user, _) = create_user(&sys, &admin, &partner.id, new_user(name, name, &[])).await;
        created.push(user.user_name);
    }
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = sys
            .tenants(&admin)
            .list_users(pb::ListUsersRequest {
                tenant_id: partner.id.clone(),
                page_size: 2,
                page_token: token.clone(),
                role: 0,
            })
            .await
            .expect("ListUsers")
            .into_inner();
        pages.push(
            page.users
                .into_iter()
                .map(|u| u.user_name)
                .collect::<Vec<_>>(),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(pages.len() < 10, "paging never ends");
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 2, 1],
        "{pages:?}"
    );
    let names: Vec<String> = pages.concat();
    let mut expected = vec!["admin@fabrikam.onpartnerhub.com".to_string()];
    expected.extend(created);
    assert_eq!(names, expected);

    // A page token belongs to its query: another filter can't reuse it.
    let first = sys
        .tenants(&admin)
        .list_users(pb::ListUsersRequest {
            tenant_id: partner.id.clone(),
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner();
    invalid(
        sys.tenants(&admin)
            .list_users(pb::ListUsersRequest {
                tenant_id: partner.id.clone(),
                page_size: 2,
                page_token: first.next_page_token,
                role: Role::SalesAgent as i32,
            })
            .await,
        &["page_token"],
    );
    sys.stop().await;
}

#[tokio::test]
async fn users_can_be_listed_by_role() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    for (name, held) in [
        ("anna", &[Role::SalesAgent][..]),
        ("bo", &[Role::UserAdmin, Role::SalesAgent][..]),
        ("cecilia", &[Role::UserAdmin][..]),
        ("david", &[][..]),
    ] {
        create_user(&sys, &admin, &partner.id, new_user(name, name, held)).await;
    }
    let by_role = |role: Role| {
        let mut client = sys.tenants(&admin);
        let tenant_id = partner.id.clone();
        async move {
            client
                .list_users(pb::ListUsersRequest {
                    tenant_id,
                    role: role as i32,
                    ..Default::default()
                })
                .await
                .expect("ListUsers")
                .into_inner()
                .users
                .into_iter()
                .map(|u| {
                    u.user_name
                        .split('@')
                        .next()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(by_role(Role::SalesAgent).await, ["anna", "bo"]);
    assert_eq!(by_role(Role::UserAdmin).await, ["bo", "cecilia"]);
    assert_eq!(by_role(Role::GlobalAdmin).await, ["admin"]);
    assert!(by_role(Role::HelpdeskAgent).await.is_empty());
    assert_eq!(
        by_role(Role::Unspecified).await,
        ["admin", "anna", "bo", "cecilia", "david"]
    );
    invalid(
        sys.tenants(&admin)
            .list_users(pb::ListUsersRequest {
                tenant_id: partner.id.clone(),
                role: 99,
                ..Default::default()
            })
            .await,
        &["role"],
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_user_of_another_tenant_is_not_found_in_yours() {
    let sys = TestSystem::start().await;
    let (fabrikam, fabrikam_admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let (contoso, contoso_admin) = sys.partner_admin("contoso", "2345678", PROVIDER).await;
    let (erik, _) = create_user(
        &sys,
        &fabrikam_admin,
        &fabrikam.id,
        new_user("erik", "Erik", &[]),
    )
    .await;
    // Fabrikam's admin reads Erik; Contoso's admin, asking within Contoso, doesn't find him.
    let read = sys
        .tenants(&fabrikam_admin)
        .get_user(pb::GetUserRequest {
            tenant_id: fabrikam.id.clone(),
            user_id: erik.id.clone(),
        })
        .await
        .expect("GetUser")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(read, erik);
    let contoso_client = || sys.tenants(&contoso_admin);
    refused(
        contoso_client()
            .get_user(pb::GetUserRequest {
                tenant_id: contoso.id.clone(),
                user_id: erik.id.clone(),
            })
            .await,
        Code::NotFound,
        "USER_NOT_FOUND",
    );
    // Nor can Contoso change him, reset his password or delete him that way.
    refused(
        contoso_client()
            .update_user(pb::UpdateUserRequest {
                tenant_id: contoso.id.clone(),
                user: Some(pb::User {
                    id: erik.id.clone(),
                    display_name: "Hijacked".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
            })
            .await,
        Code::NotFound,
        "USER_NOT_FOUND",
    );
    refused(
        contoso_client()
            .reset_password(pb::ResetPasswordRequest {
                tenant_id: contoso.id.clone(),
                user_id: erik.id.clone(),
            })
            .await,
        Code::NotFound,
        "USER_NOT_FOUND",
    );
    refused(
        contoso_client()
            .delete_user(pb::DeleteUserRequest {
                tenant_id: contoso.id.clone(),
                user_id: erik.id.clone(),
                etag: String::new(),
            })
            .await,
        Code::NotFound,
        "USER_NOT_FOUND",
    );
    let still = sys
        .tenants(&fabrikam_admin)
        .get_user(pb::GetUserRequest {
            tenant_id: fabrikam.id.clone(),
            user_id: erik.id.clone(),
        })
        .await
        .expect("Erik is untouched")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(still, erik);
    sys.stop().await;
}

// ---- updates and the last global admin ----

#[tokio::test]
async fn an_admin_renames_a_user_and_changes_the_roles_by_mask() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let (erik, _) = create_user(
        &sys,
        &admin,
        &partner.id,
        new_user("erik", "Erik", &[Role::SalesAgent]),
    )
    .await;

    // Only the masked field changes, whatever else the message carries.
    let renamed = sys
        .tenants(&admin)
        .update_user(pb::UpdateUserRequest {
            tenant_id: partner.id.clone(),
            user: Some(pb::User {
                id: erik.id.clone(),
                display_name: "Erik Lind".into(),
                roles: roles(&[Role::GlobalAdmin]),
                etag: erik.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect("UpdateUser")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(renamed.display_name, "Erik Lind");
    assert_eq!(renamed.roles, roles(&[Role::SalesAgent]));
    assert_ne!(renamed.etag, erik.etag);

    let promoted = sys
        .tenants(&admin)
        .update_user(pb::UpdateUserRequest {
            tenant_id: partner.id.clone(),
            user: Some(pb::User {
                id: erik.id.clone(),
                display_name: "Ignored".into(),
                roles: roles(&[Role::AdminAgent, Role::HelpdeskAgent]),
                etag: renamed.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["roles"]),
        })
        .await
        .expect("UpdateUser")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(promoted.display_name, "Erik Lind");
    assert_eq!(
        promoted.roles,
        roles(&[Role::AdminAgent, Role::HelpdeskAgent])
    );

    // The change is what GetUser shows afterwards.
    let read = sys
        .tenants(&admin)
        .get_user(pb::GetUserRequest {
            tenant_id: partner.id.clone(),
            user_id: erik.id.clone(),
        })
        .await
        .expect("GetUser")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(read, promoted);

    // Removing every role by mask leaves a user without admin rights.
    let plain = sys
        .tenants(&admin)
        .update_user(pb::UpdateUserRequest {
            tenant_id: partner.id.clone(),
            user: Some(pb::User {
                id: erik.id.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["roles"]),
        })
        .await
        .expect("UpdateUser")
        .into_inner()
        .user
        .expect("user");
    assert!(plain.roles.is_empty());

    // A field that can't be changed is named.
    invalid(
        sys.tenants(&admin)
            .update_user(pb::UpdateUserRequest {
                tenant_id: partner.id.clone(),
                user: Some(pb::User {
                    id: erik.id.clone(),
                    user_name: "someone".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["user_name"]),
            })
            .await,
        &["update_mask.paths[0]"],
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_change_based_on_a_stale_read_is_refused() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let (erik, _) = create_user(&sys, &admin, &partner.id, new_user("erik", "Erik", &[])).await;
    let update = |display_name: &str, etag: &str| pb::UpdateUserRequest {
        tenant_id: partner.id.clone(),
        user: Some(pb::User {
            id: erik.id.clone(),
            display_name: display_name.into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: mask(&["display_name"]),
    };
    sys.tenants(&admin)
        .update_user(update("Erik Lind", &erik.etag))
        .await
        .expect("first change");
    // A second admin still holding the first read loses.
    refused(
        sys.tenants(&admin)
            .update_user(update("Erik Berg", &erik.etag))
            .await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    refused(
        sys.tenants(&admin)
            .delete_user(pb::DeleteUserRequest {
                tenant_id: partner.id.clone(),
                user_id: erik.id.clone(),
                etag: erik.etag.clone(),
            })
            .await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let current = sys
        .tenants(&admin)
        .get_user(pb::GetUserRequest {
            tenant_id: partner.id.clone(),
            user_id: erik.id.clone(),
        })
        .await
        .expect("GetUser")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(current.display_name, "Erik Lind");
    // Something that is not an etag at all is a bad argument.
    invalid(
        sys.tenants(&admin)
            .update_user(update("Erik Berg", "7"))
            .await,
        &["user.etag"],
    );
    // With the current etag, both work.
    sys.tenants(&admin)
        .update_user(update("Erik Berg", &current.etag))
        .await
        .expect("fresh etag");
    let fresh = sys
        .tenants(&admin)
        .get_user(pb::GetUserRequest {
            tenant_id: partner.id.clone(),
            user_id: erik.id.clone(),
        })
        .await
        .expect("GetUser")
        .into_inner()
        .user
        .expect("user");
    sys.tenants(&admin)
        .delete_user(pb::DeleteUserRequest {
            tenant_id: partner.id.clone(),
            user_id: erik.id.clone(),
            etag: fresh.etag,
        })
        .await
        .expect("DeleteUser");
    sys.stop().await;
}

#[tokio::test]
async fn a_tenant_always_keeps_a_global_admin() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let admin_id = user_id_of(&sys, "admin@fabrikam.onpartnerhub.com").await;
    let demote = |user_id: &str, to: &[Role]| pb::UpdateUserRequest {
        tenant_id: partner.id.clone(),
        user: Some(pb::User {
            id: user_id.into(),
            roles: roles(to),
            ..Default::default()
        }),
        update_mask: mask(&["roles"]),
    };

    let status = refused(
        sys.tenants(&admin)
            .update_user(demote(&admin_id, &[Role::UserAdmin]))
            .await,
        Code::FailedPrecondition,
        "LAST_GLOBAL_ADMIN",
    );
    assert!(status.message().contains("admin@fabrikam"), "{status:?}");
    refused(
        sys.tenants(&admin)
            .update_user(demote(&admin_id, &[]))
            .await,
        Code::FailedPrecondition,
        "LAST_GLOBAL_ADMIN",
    );
    refused(
        sys.tenants(&admin)
            .delete_user(pb::DeleteUserRequest {
                tenant_id: partner.id.clone(),
                user_id: admin_id.clone(),
                etag: String::new(),
            })
            .await,
        Code::FailedPrecondition,
        "LAST_GLOBAL_ADMIN",
    );
    // The operator deletes no users at all.
    refused(
        sys.tenants(&sys.operator)
            .delete_user(pb::DeleteUserRequest {
                tenant_id: partner.id.clone(),
                user_id: admin_id.clone(),
                etag: String::new(),
            })
            .await,
        Code::PermissionDenied,
        "NOT_FOR_OPERATOR",
    );
    // Changing other things of the last global admin is fine.
    sys.tenants(&admin)
        .update_user(demote(&admin_id, &[Role::GlobalAdmin, Role::BillingAdmin]))
        .await
        .expect("keeps GLOBAL_ADMIN");

    // With a second global admin, the first can step down.
    let (ann, ann_token) = member(&sys, &admin, &partner.id, "ann", &[Role::GlobalAdmin]).await;
    let stepped_down = sys
        .tenants(&admin)
        .update_user(demote(&admin_id, &[Role::UserAdmin]))
        .await
        .expect("no longer the last")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(stepped_down.roles, roles(&[Role::UserAdmin]));

    // Now Ann is the last one. A user admin can't touch a global admin at all, and Ann herself
    // can't step down or go.
    refused(
        sys.tenants(&admin)
            .update_user(demote(&ann.id, &[Role::SalesAgent]))
            .await,
        Code::PermissionDenied,
        "ADMIN_ROLE_REQUIRED",
    );
    refused(
        sys.tenants(&admin)
            .delete_user(pb::DeleteUserRequest {
                tenant_id: partner.id.clone(),
                user_id: ann.id.clone(),
                etag: String::new(),
            })
            .await,
        Code::PermissionDenied,
        "ADMIN_ROLE_REQUIRED",
    );
    refused(
        sys.tenants(&ann_token)
            .update_user(demote(&ann.id, &[Role::SalesAgent]))
            .await,
        Code::FailedPrecondition,
        "LAST_GLOBAL_ADMIN",
    );
    refused(
        sys.tenants(&ann_token)
            .delete_user(pb::DeleteUserRequest {
                tenant_id: partner.id.clone(),
                user_id: ann.id.clone(),
                etag: String::new(),
            })
            .await,
        Code::FailedPrecondition,
        "LAST_GLOBAL_ADMIN",
    );
    // The removed role takes effect at once: the former admin can't sign agreements any more.
    refused(
        sys.tenants(&admin)
            .accept_agreement(pb::AcceptAgreementRequest {
                tenant_id: partner.id.clone(),
                r#type: agreement::Type::PartnerAgreement as i32,
                signer: Some(signer("Ann", "Berg")),
            })
            .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    // Ann may delete the former admin, who is no global admin now.
    sys.tenants(&ann_token)
        .delete_user(pb::DeleteUserRequest {
            tenant_id: partner.id.clone(),
            user_id: admin_id.clone(),
            etag: String::new(),
        })
        .await
        .expect("DeleteUser");
    let admins = sys
        .tenants(&ann_token)
        .list_users(pb::ListUsersRequest {
            tenant_id: partner.id.clone(),
            role: Role::GlobalAdmin as i32,
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner()
        .users;
    assert_eq!(
        admins.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        [ann.id.as_str()]
    );
    sys.stop().await;
}

#[tokio::test]
async fn two_global_admins_stepping_down_at_once_leave_one_behind() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let admin_id = user_id_of(&sys, "admin@fabrikam.onpartnerhub.com").await;
    let (ann, ann_token) = member(&sys, &admin, &partner.id, "ann", &[Role::GlobalAdmin]).await;
    let step_down = |token: &str, user_id: &str| {
        let mut client = sys.tenants(token);
        let request = pb::UpdateUserRequest {
            tenant_id: partner.id.clone(),
            user: Some(pb::User {
                id: user_id.into(),
                roles: roles(&[Role::UserAdmin]),
                ..Default::default()
            }),
            update_mask: mask(&["roles"]),
        };
        async move { client.update_user(request).await }
    };
    let delete = |token: &str, user_id: &str| {
        let mut client = sys.tenants(token);
        let request = pb::DeleteUserRequest {
            tenant_id: partner.id.clone(),
            user_id: user_id.into(),
            etag: String::new(),
        };
        async move { client.delete_user(request).await }
    };
    // Each demotes itself while the other is deleted: at most one of the two can happen.
    let (a, b, c, d) = tokio::join!(
        step_down(&admin, &admin_id),
        step_down(&ann_token, &ann.id),
        delete(&ann_token, &admin_id),
        delete(&admin, &ann.id),
    );
    let outcomes = [a.map(drop), b.map(drop), c.map(drop), d.map(drop)];
    for outcome in &outcomes {
        if let Err(status) = outcome {
            assert!(
                // ADMIN_ROLE_REQUIRED: the caller had already stepped down from global admin.
                matches!(
                    reason(status).as_str(),
                    "LAST_GLOBAL_ADMIN" | "USER_NOT_FOUND" | "ADMIN_ROLE_REQUIRED"
                ),
                "{status:?}"
            );
        }
    }
    assert!(outcomes.iter().any(Result::is_ok), "{outcomes:?}");
    let admins = sys
        .tenants(&sys.operator)
        .list_users(pb::ListUsersRequest {
            tenant_id: partner.id.clone(),
            role: Role::GlobalAdmin as i32,
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner()
        .users;
    assert_eq!(admins.len(), 1, "{admins:?}");
    sys.stop().await;
}

// ---- the authorization table ----

#[tokio::test]
async fn a_user_admin_manages_users_and_resets_passwords() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let (_, ua) = member(&sys, &admin, &partner.id, "ulla", &[Role::UserAdmin]).await;
    let tenants = || sys.tenants(&ua);

    let (erik, _) = create_user(
        &sys,
        &ua,
        &partner.id,
        new_user("erik", "Erik", &[Role::SalesAgent]),
    )
    .await;
    let listed = tenants()
        .list_users(pb::ListUsersRequest {
            tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner()
        .users;
    assert_eq!(listed.len(), 3);
    tenants()
        .get_user(pb::GetUserRequest {
            tenant_id: partner.id.clone(),
            user_id: erik.id.clone(),
        })
        .await
        .expect("GetUser");
    let updated = tenants()
        .update_user(pb::UpdateUserRequest {
            tenant_id: partner.id.clone(),
            user: Some(pb::User {
                id: erik.id.clone(),
                display_name: "Erik Lind".into(),
                roles: roles(&[Role::HelpdeskAgent]),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .expect("UpdateUser")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(updated.display_name, "Erik Lind");
    assert_eq!(updated.roles, roles(&[Role::HelpdeskAgent]));
    let reset = tenants()
        .reset_password(pb::ResetPasswordRequest {
            tenant_id: partner.id.clone(),
            user_id: erik.id.clone(),
        })
        .await
        .expect("ResetPassword")
        .into_inner();
    assert!(reset.user.expect("user").password_change_required);
    sys.activate_user(&erik.user_name, &reset.temporary_password)
        .await;
    tenants()
        .delete_user(pb::DeleteUserRequest {
            tenant_id: partner.id.clone(),
            user_id: erik.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("DeleteUser");
    refused(
        tenants()
            .get_user(pb::GetUserRequest {
                tenant_id: partner.id.clone(),
                user_id: erik.id.clone(),
            })
            .await,
        Code::NotFound,
        "USER_NOT_FOUND",
    );

    // Users, yes; the tenant and its agreements, no.
    refused(
        tenants()
            .update_tenant(pb::UpdateTenantRequest {
                tenant: Some(pb::Tenant {
                    id: partner.id.clone(),
                    display_name: "Renamed AB".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
            })
            .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    refused(
        tenants()
            .accept_agreement(pb::AcceptAgreementRequest {
                tenant_id: partner.id.clone(),
                r#type: agreement::Type::PartnerAgreement as i32,
                signer: Some(signer("Ulla", "Ek")),
            })
            .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    refused(
        tenants()
            .list_agreements(pb::ListAgreementsRequest {
                tenant_id: partner.id.clone(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_sales_agent_reads_the_tenant_but_manages_nothing() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let (sven, sales) = member(&sys, &admin, &partner.id, "sven", &[Role::SalesAgent]).await;
    let (_, nobody) = member(&sys, &admin, &partner.id, "nils", &[]).await;

    // Any user of the tenant reads it.
    for token in [&sales, &nobody] {
        let tenant = sys
            .tenants(token)
            .get_tenant(pb::GetTenantRequest {
                tenant_id: partner.id.clone(),
            })
            .await
            .expect("GetTenant")
            .into_inner()
            .tenant
            .expect("tenant");
        assert_eq!(tenant.id, partner.id);
    }

    let tenants = || sys.tenants(&sales);
    let id = || partner.id.clone();
    let denied = [
        (
            "CreateUser",
            tenants()
                .create_user(create_request(&id(), new_user("x", "X", &[])))
                .await
                .map(drop),
        ),
        (
            "GetUser",
            tenants()
                .get_user(pb::GetUserRequest {
                    tenant_id: id(),
                    user_id: sven.id.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "ListUsers",
            tenants()
                .list_users(pb::ListUsersRequest {
                    tenant_id: id(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "UpdateUser",
            tenants()
                .update_user(pb::UpdateUserRequest {
                    tenant_id: id(),
                    user: Some(pb::User {
                        id: sven.id.clone(),
                        roles: roles(&[Role::GlobalAdmin]),
                        ..Default::default()
                    }),
                    update_mask: mask(&["roles"]),
                })
                .await
                .map(drop),
        ),
        (
            "DeleteUser",
            tenants()
                .delete_user(pb::DeleteUserRequest {
                    tenant_id: id(),
                    user_id: sven.id.clone(),
                    etag: String::new(),
                })
                .await
                .map(drop),
        ),
        (
            "ResetPassword",
            tenants()
                .reset_password(pb::ResetPasswordRequest {
                    tenant_id: id(),
                    user_id: sven.id.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "UpdateTenant",
            tenants()
                .update_tenant(pb::UpdateTenantRequest {
                    tenant: Some(pb::Tenant {
                        id: id(),
                        display_name: "Renamed AB".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["display_name"]),
                })
                .await
                .map(drop),
        ),
        (
            "AcceptAgreement",
            tenants()
                .accept_agreement(pb::AcceptAgreementRequest {
                    tenant_id: id(),
                    r#type: agreement::Type::PartnerAgreement as i32,
                    signer: Some(signer("Sven", "Ek")),
                })
                .await
                .map(drop),
        ),
        (
            "ListAgreements",
            tenants()
                .list_agreements(pb::ListAgreementsRequest {
                    tenant_id: id(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "ListTenants",
            tenants()
                .list_tenants(pb::ListTenantsRequest::default())
                .await
                .map(drop),
        ),
    ];
    for (method, result) in denied {
        let status = result.expect_err(method);
        let expected = if method == "ListTenants" {
            "OPERATOR_ONLY"
        } else {
            "ROLE_REQUIRED"
        };
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::PermissionDenied, expected),
            "{method}: {}",
            status.message()
        );
        assert!(status.message().contains(method), "{method}: {status:?}");
    }
    // Nothing changed: Sven is still a sales agent.
    let sven_now = sys
        .tenants(&admin)
        .get_user(pb::GetUserRequest {
            tenant_id: partner.id.clone(),
            user_id: sven.id.clone(),
        })
        .await
        .expect("GetUser")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(sven_now.roles, roles(&[Role::SalesAgent]));
    sys.stop().await;
}

#[tokio::test]
async fn a_global_or_billing_admin_accepts_agreements() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let (_, billing) = member(&sys, &admin, &partner.id, "bea", &[Role::BillingAdmin]).await;
    let (_, agent) = member(&sys, &admin, &partner.id, "adam", &[Role::AdminAgent]).await;
    let (_, users) = member(&sys, &admin, &partner.id, "ulla", &[Role::UserAdmin]).await;
    let accept = |first: &str| pb::AcceptAgreementRequest {
        tenant_id: partner.id.clone(),
        r#type: agreement::Type::PartnerAgreement as i32,
        signer: Some(signer(first, "Berg")),
    };
    // Seed 001: the global or the billing admin accepts; no one else.
    for token in [&agent, &users] {
        refused(
            sys.tenants(token).accept_agreement(accept("Bea")).await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    let accepted = sys
        .tenants(&billing)
        .accept_agreement(accept("Bea"))
        .await
        .expect("AcceptAgreement")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(
        accepted.signer.as_ref().map(|s| s.first_name.as_str()),
        Some("Bea")
    );
    // A billing admin reads the agreements; an admin agent doesn't.
    let listed = sys
        .tenants(&billing)
        .list_agreements(pb::ListAgreementsRequest {
            tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListAgreements")
        .into_inner()
        .agreements;
    assert_eq!(listed, [accepted]);
    refused(
        sys.tenants(&agent)
            .list_agreements(pb::ListAgreementsRequest {
                tenant_id: partner.id.clone(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    sys.stop().await;
}

#[tokio::test]
async fn the_operator_reads_any_tenants_users_but_signs_for_no_tenant() {
    let sys = TestSystem::start().await;
    let (fabrikam, fabrikam_admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let (contoso, _) = sys.partner_admin("contoso", "2345678", PROVIDER).await;
    create_user(
        &sys,
        &fabrikam_admin,
        &fabrikam.id,
        new_user("erik", "Erik", &[]),
    )
    .await;
    for (tenant, expected) in [(&fabrikam, 2), (&contoso, 1)] {
        let users = sys
            .tenants(&sys.operator)
            .list_users(pb::ListUsersRequest {
                tenant_id: tenant.id.clone(),
                ..Default::default()
            })
            .await
            .expect("the operator lists users")
            .into_inner()
            .users;
        assert_eq!(users.len(), expected, "{}", tenant.domain_prefix);
        assert!(users.iter().all(|u| u.tenant_id == tenant.id));
    }
    let status = refused(
        sys.tenants(&sys.operator)
            .accept_agreement(pb::AcceptAgreementRequest {
                tenant_id: fabrikam.id.clone(),
                r#type: agreement::Type::PartnerAgreement as i32,
                signer: Some(signer("Otto", "Operator")),
            })
            .await,
        Code::PermissionDenied,
        "NOT_FOR_OPERATOR",
    );
    assert!(status.message().contains("AcceptAgreement"), "{status:?}");
    let agreements = sys
        .tenants(&sys.operator)
        .list_agreements(pb::ListAgreementsRequest {
            tenant_id: fabrikam.id.clone(),
            ..Default::default()
        })
        .await
        .expect("the operator reads agreements")
        .into_inner()
        .agreements;
    assert!(agreements.is_empty());
    sys.stop().await;
}

#[tokio::test]
async fn another_partners_admin_has_no_access_to_your_tenant() {
    let sys = TestSystem::start().await;
    let (fabrikam, fabrikam_admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let (_, contoso_admin) = sys.partner_admin("contoso", "2345678", PROVIDER).await;
    let (erik, _) = create_user(
        &sys,
        &fabrikam_admin,
        &fabrikam.id,
        new_user("erik", "Erik", &[]),
    )
    .await;
    let intruder = || sys.tenants(&contoso_admin);
    let id = || fabrikam.id.clone();
    let attempts = [
        (
            "GetTenant",
            intruder()
                .get_tenant(pb::GetTenantRequest { tenant_id: id() })
                .await
                .map(drop),
        ),
        (
            "ListUsers",
            intruder()
                .list_users(pb::ListUsersRequest {
                    tenant_id: id(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "GetUser",
            intruder()
                .get_user(pb::GetUserRequest {
                    tenant_id: id(),
                    user_id: erik.id.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "CreateUser",
            intruder()
                .create_user(create_request(
                    &id(),
                    new_user("mole", "Mole", &[Role::GlobalAdmin]),
                ))
                .await
                .map(drop),
        ),
        (
            "ResetPassword",
            intruder()
                .reset_password(pb::ResetPasswordRequest {
                    tenant_id: id(),
                    user_id: erik.id.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "AcceptAgreement",
            intruder()
                .accept_agreement(pb::AcceptAgreementRequest {
                    tenant_id: id(),
                    r#type: agreement::Type::PartnerAgreement as i32,
                    signer: Some(signer("Mole", "Spy")),
                })
                .await
                .map(drop),
        ),
        (
            "UpdateTenant",
            intruder()
                .update_tenant(pb::UpdateTenantRequest {
                    tenant: Some(pb::Tenant {
                        id: id(),
                        display_name: "Taken over AB".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["display_name"]),
                })
                .await
                .map(drop),
        ),
    ];
    for (method, result) in attempts {
        let status = result.expect_err(method);
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::PermissionDenied, "NO_ACCESS_TO_TENANT"),
            "{method}: {}",
            status.message()
        );
    }
    // Nothing happened in Fabrikam.
    let users = sys
        .tenants(&fabrikam_admin)
        .list_users(pb::ListUsersRequest {
            tenant_id: fabrikam.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner()
        .users;
    assert_eq!(users.len(), 2);
    // Not even a password reset: Erik's record is the version it was.
    let erik_now = users.iter().find(|u| u.id == erik.id).expect("erik");
    assert_eq!(erik_now, &erik);
    sys.stop().await;
}

#[tokio::test]
async fn a_missing_or_malformed_tenant_id_is_refused_at_the_gateway() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let (_, sales) = member(&sys, &admin, &partner.id, "sven", &[Role::SalesAgent]).await;
    for token in [&admin, &sales, &sys.operator] {
        for (tenant_id, problem) in [("", "is required"), ("fabrikam", "must be a UUID")] {
            let checks = [
                (
                    "GetTenant",
                    "tenant_id",
                    sys.tenants(token)
                        .get_tenant(pb::GetTenantRequest {
                            tenant_id: tenant_id.into(),
                        })
                        .await
                        .map(drop),
                ),
                (
                    "ListUsers",
                    "tenant_id",
                    sys.tenants(token)
                        .list_users(pb::ListUsersRequest {
                            tenant_id: tenant_id.into(),
                            ..Default::default()
                        })
                        .await
                        .map(drop),
                ),
                (
                    "CreateUser",
                    "tenant_id",
                    sys.tenants(token)
                        .create_user(create_request(tenant_id, new_user("erik", "Erik", &[])))
                        .await
                        .map(drop),
                ),
                (
                    "UpdateTenant",
                    "tenant.id",
                    sys.tenants(token)
                        .update_tenant(pb::UpdateTenantRequest {
                            tenant: Some(pb::Tenant {
                                id: tenant_id.into(),
                                display_name: "Renamed AB".into(),
                                ..Default::default()
                            }),
                            update_mask: mask(&["display_name"]),
                        })
                        .await
                        .map(drop),
                ),
            ];
            for (method, field, result) in checks {
                let status = result.expect_err(method);
                assert_eq!(
                    status.code(),
                    Code::InvalidArgument,
                    "{method} {tenant_id:?}"
                );
                assert_eq!(bad_fields(&status), [field], "{method} {tenant_id:?}");
                assert!(status.message().contains(problem), "{method}: {status:?}");
                // The gateway answered; the request never reached the service.
                assert_eq!(error_domain(&status), "gateway.partnerhub", "{method}");
            }
        }
    }
    sys.stop().await;
}

// ---- agreements ----

#[tokio::test]
async fn a_partners_global_admin_accepts_the_partner_agreement_once_per_signer() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys
        .partner_admin("fabrikam", "1234567", &[PartnerType::IndirectReseller])
        .await;
    let admin_id = user_id_of(&sys, "admin@fabrikam.onpartnerhub.com").await;
    let accept = |who: Contact| pb::AcceptAgreementRequest {
        tenant_id: partner.id.clone(),
        r#type: agreement::Type::PartnerAgreement as i32,
        signer: Some(who),
    };
    let list = || async {
        sys.tenants(&admin)
            .list_agreements(pb::ListAgreementsRequest {
                tenant_id: partner.id.clone(),
                ..Default::default()
            })
            .await
            .expect("ListAgreements")
            .into_inner()
            .agreements
    };
    assert!(list().await.is_empty());

    let first = sys
        .tenants(&admin)
        .accept_agreement(accept(signer("Ann", "Berg")))
        .await
        .expect("AcceptAgreement")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(first.tenant_id, partner.id);
    assert_eq!(first.r#type, agreement::Type::PartnerAgreement as i32);
    assert!(!first.version.is_empty());
    assert_eq!(first.signer, Some(signer("Ann", "Berg")));
    assert_eq!(first.accepted_by_user_id, admin_id);
    assert!(first.accept_time.is_some());

    let again = sys
        .tenants(&admin)
        .accept_agreement(accept(signer("Ann", "Berg")))
        .await
        .expect("again")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(again, first);
    assert_eq!(list().await, std::slice::from_ref(&first));

    let second = sys
        .tenants(&admin)
        .accept_agreement(accept(signer("Bo", "Lind")))
        .await
        .expect("another signer")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_ne!(second.id, first.id);
    assert_eq!(second.version, first.version);
    assert_eq!(list().await, [first, second]);
    sys.stop().await;
}

#[tokio::test]
async fn an_agreement_needs_the_right_type_and_a_whole_signer() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let accept = |kind: agreement::Type, who: Option<Contact>| pb::AcceptAgreementRequest {
        tenant_id: partner.id.clone(),
        r#type: kind as i32,
        signer: who,
    };
    let status = invalid(
        sys.tenants(&admin)
            .accept_agreement(accept(
                agreement::Type::CustomerAgreement,
                Some(signer("Ann", "Berg")),
            ))
            .await,
        &["type"],
    );
    assert!(
        status.message().contains("TYPE_PARTNER_AGREEMENT"),
        "{status:?}"
    );
    invalid(
        sys.tenants(&admin)
            .accept_agreement(accept(
                agreement::Type::Unspecified,
                Some(signer("Ann", "Berg")),
            ))
            .await,
        &["type"],
    );
    let no_email = Contact {
        email: String::new(),
        ..signer("Ann", "Berg")
    };
    invalid(
        sys.tenants(&admin)
            .accept_agreement(accept(agreement::Type::PartnerAgreement, Some(no_email)))
            .await,
        &["signer.email"],
    );
    let not_an_email = Contact {
        email: "ann at fabrikam".into(),
        ..signer("Ann", "Berg")
    };
    invalid(
        sys.tenants(&admin)
            .accept_agreement(accept(
                agreement::Type::PartnerAgreement,
                Some(not_an_email),
            ))
            .await,
        &["signer.email"],
    );
    let nameless = Contact {
        first_name: String::new(),
        last_name: " ".into(),
        ..signer("Ann", "Berg")
    };
    invalid(
        sys.tenants(&admin)
            .accept_agreement(accept(agreement::Type::PartnerAgreement, Some(nameless)))
            .await,
        &["signer.first_name", "signer.last_name"],
    );
    invalid(
        sys.tenants(&admin)
            .accept_agreement(accept(agreement::Type::PartnerAgreement, None))
            .await,
        &["signer"],
    );
    let recorded = sys
        .tenants(&admin)
        .list_agreements(pb::ListAgreementsRequest {
            tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListAgreements")
        .into_inner()
        .agreements;
    assert!(recorded.is_empty(), "{recorded:?}");
    sys.stop().await;
}

// ---- hostile input ----

/// A request that claims, in the gateway's own caller headers, to come from someone else.
fn spoofed<T>(message: T, user_id: &str, tenant_id: &str) -> Request<T> {
    let mut request = Request::new(message);
    let headers = request.metadata_mut();
    headers.insert("x-partnerhub-user-id", user_id.parse().expect("header"));
    headers.insert("x-partnerhub-tenant-id", tenant_id.parse().expect("header"));
    request
}

#[tokio::test]
async fn caller_headers_sent_by_a_client_are_ignored() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let (_, other_admin) = sys.partner_admin("contoso", "2345678", PROVIDER).await;
    let admin_id = user_id_of(&sys, "admin@fabrikam.onpartnerhub.com").await;
    let (sven, sales) = member(&sys, &admin, &partner.id, "sven", &[Role::SalesAgent]).await;

    // A sales agent claiming to be the admin is still a sales agent.
    refused(
        sys.tenants(&sales)
            .create_user(spoofed(
                create_request(&partner.id, new_user("mole", "Mole", &[Role::GlobalAdmin])),
                &admin_id,
                &partner.id,
            ))
            .await,
        Code::PermissionDenied,
        "ROLE_REQUIRED",
    );
    // Another partner's admin claiming to be in Fabrikam is still outside it.
    refused(
        sys.tenants(&other_admin)
            .list_users(spoofed(
                pb::ListUsersRequest {
                    tenant_id: partner.id.clone(),
                    ..Default::default()
                },
                &admin_id,
                &partner.id,
            ))
            .await,
        Code::PermissionDenied,
        "NO_ACCESS_TO_TENANT",
    );
    // The admin's acceptance records the admin, not the user named in the header.
    let accepted = sys
        .tenants(&admin)
        .accept_agreement(spoofed(
            pb::AcceptAgreementRequest {
                tenant_id: partner.id.clone(),
                r#type: agreement::Type::PartnerAgreement as i32,
                signer: Some(signer("Ann", "Berg")),
            },
            &sven.id,
            &partner.id,
        ))
        .await
        .expect("AcceptAgreement")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(accepted.accepted_by_user_id, admin_id);
    sys.stop().await;
}

/// Calls `ListUsers` through the gateway with `body` as the message.
async fn list_users_raw(
    sys: &TestSystem,
    token: &str,
    body: Vec<u8>,
) -> Result<Response<Vec<u8>>, Status> {
    let mut grpc = tonic::client::Grpc::new(sys.authed(token));
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    grpc.unary(
        Request::new(body),
        PathAndQuery::from_static("/partnerhub.tenants.v1.TenantService/ListUsers"),
        Raw,
    )
    .await
}

#[tokio::test]
async fn a_request_that_is_not_protobuf_is_refused_and_the_gateway_carries_on() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;

    // The same path and channel work with a well-formed message.
    let good = pb::ListUsersRequest {
        tenant_id: partner.id.clone(),
        ..Default::default()
    }
    .encode_to_vec();
    let answer = list_users_raw(&sys, &admin, good)
        .await
        .expect("raw but well-formed")
        .into_inner();
    let users = pb::ListUsersResponse::decode(answer.as_slice())
        .expect("a ListUsersResponse")
        .users;
    assert_eq!(users.len(), 1);

    let garbage: [Vec<u8>; 3] = [
        vec![0xff; 16],                                       // a varint that never ends
        vec![0x0a, 0x64, b'a', b'b'],                         // a string field cut short
        b"DROP TABLE users; -- not protobuf at all".to_vec(), // text, not a message
    ];
    for body in garbage {
        refused(
            list_users_raw(&sys, &admin, body.clone()).await,
            Code::InvalidArgument,
            "MALFORMED_REQUEST",
        );
        // The operator's calls are decoded the same way.
        refused(
            list_users_raw(&sys, &sys.operator, body).await,
            Code::InvalidArgument,
            "MALFORMED_REQUEST",
        );
    }

    // The gateway and the service behind it keep working.
    let users = sys
        .tenants(&admin)
        .list_users(pb::ListUsersRequest {
            tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .expect("still served")
        .into_inner()
        .users;
    assert_eq!(users.len(), 1);
    create_user(&sys, &admin, &partner.id, new_user("erik", "Erik", &[])).await;
    sys.stop().await;
}

#[tokio::test]
async fn very_long_text_is_refused_with_the_field_named() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let long = "x".repeat(10_000);

    let status = invalid(
        sys.tenants(&admin)
            .create_user(create_request(&partner.id, new_user("erik", &long, &[])))
            .await,
        &["user.display_name"],
    );
    assert!(status.message().contains("200"), "{status:?}");
    invalid(
        sys.tenants(&admin)
            .create_user(create_request(&partner.id, new_user(&long, "Erik", &[])))
            .await,
        &["user.user_name"],
    );
    let (erik, _) = create_user(&sys, &admin, &partner.id, new_user("erik", "Erik", &[])).await;
    invalid(
        sys.tenants(&admin)
            .update_user(pb::UpdateUserRequest {
                tenant_id: partner.id.clone(),
                user: Some(pb::User {
                    id: erik.id.clone(),
                    display_name: long.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
            })
            .await,
        &["user.display_name"],
    );
    invalid(
        sys.tenants(&admin)
            .accept_agreement(pb::AcceptAgreementRequest {
                tenant_id: partner.id.clone(),
                r#type: agreement::Type::PartnerAgreement as i32,
                signer: Some(Contact {
                    first_name: long.clone(),
                    ..signer("Ann", "Berg")
                }),
            })
            .await,
        &["signer.first_name"],
    );
    // Exactly at the limit is fine, and counted in characters, not bytes.
    let at_limit = "å".repeat(200);
    let (long_named, _) =
        create_user(&sys, &admin, &partner.id, new_user("sara", &at_limit, &[])).await;
    assert_eq!(long_named.display_name, at_limit);
    // Line breaks and other control characters don't make a name.
    invalid(
        sys.tenants(&admin)
            .create_user(create_request(
                &partner.id,
                new_user("olle", "Olle\nLind", &[]),
            ))
            .await,
        &["user.display_name"],
    );
    let unchanged = sys
        .tenants(&admin)
        .get_user(pb::GetUserRequest {
            tenant_id: partner.id.clone(),
            user_id: erik.id.clone(),
        })
        .await
        .expect("GetUser")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(unchanged.display_name, "Erik");
    sys.stop().await;
}

#[tokio::test]
async fn text_that_looks_like_sql_is_stored_and_read_back_verbatim() {
    let sys = TestSystem::start().await;
    let (partner, admin) = sys.partner_admin("fabrikam", "1234567", PROVIDER).await;
    let sneaky = "x'); DROP TABLE users; --";
    let (user, _) = create_user(&sys, &admin, &partner.id, new_user("bobby", sneaky, &[])).await;
    assert_eq!(user.display_name, sneaky);
    let read = sys
        .tenants(&admin)
        .get_user(pb::GetUserRequest {
            tenant_id: partner.id.clone(),
            user_id: user.id.clone(),
        })
        .await
        .expect("GetUser")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(read.display_name, sneaky);

    let renamed = "Robert\"; DELETE FROM tenants WHERE '1'='1";
    let updated = sys
        .tenants(&admin)
        .update_user(pb::UpdateUserRequest {
            tenant_id: partner.id.clone(),
            user: Some(pb::User {
                id: user.id.clone(),
                display_name: renamed.into(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect("UpdateUser")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(updated.display_name, renamed);

    // The same holds for an agreement's signer.
    let accepted = sys
        .tenants(&admin)
        .accept_agreement(pb::AcceptAgreementRequest {
            tenant_id: partner.id.clone(),
            r#type: agreement::Type::PartnerAgreement as i32,
            signer: Some(Contact {
                last_name: "O'Brien'; --".into(),
                ..signer("Ann", "Berg")
            }),
        })
        .await
        .expect("AcceptAgreement")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(accepted.signer.expect("signer").last_name, "O'Brien'; --");

    // Everything is still there.
    let users = sys
        .tenants(&admin)
        .list_users(pb::ListUsersRequest {
            tenant_id: partner.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListUsers")
        .into_inner()
        .users;
    assert_eq!(
        users
            .iter()
            .map(|u| u.display_name.as_str())
            .collect::<Vec<_>>(),
        ["Administrator", renamed]
    );
    let tenant = sys
        .tenants(&admin)
        .get_tenant(pb::GetTenantRequest {
            tenant_id: partner.id.clone(),
        })
        .await
        .expect("GetTenant")
        .into_inner()
        .tenant
        .expect("tenant");
    assert_eq!(tenant.display_name, "fabrikam AB");
    sys.stop().await;
}
