//! Service accounts (issue 13): a tenant's global admin makes a machine caller with roles and
//! secrets; the caller signs in with client credentials, is held to its roles like a user, and
//! shows up in the audit trail; rotation, deletion and who may manage it.

use partnerhub_proto::gateway::audit_service_client::AuditServiceClient;
use partnerhub_proto::gateway::{
    ChangePasswordRequest, ListAuditEventsRequest, SignInServiceAccountRequest,
    SignInServiceAccountResponse, list_audit_events_request::View,
};
use partnerhub_proto::tenants::{self as pb};
use partnerhub_proto::types::Role;
use partnerhub_tests::{TestSystem, bad_fields, reason};
use prost::Message;
use tonic::{Code, Status};

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn roles(roles: &[Role]) -> Vec<i32> {
    roles.iter().map(|r| *r as i32).collect()
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

fn create(
    tenant_id: &str,
    name: &str,
    held: &[Role],
    request_id: &str,
) -> pb::CreateServiceAccountRequest {
    pb::CreateServiceAccountRequest {
        tenant_id: tenant_id.into(),
        service_account: Some(pb::ServiceAccount {
            display_name: name.into(),
            roles: roles(held),
            ..Default::default()
        }),
        secret_expire_time: None,
        request_id: request_id.into(),
    }
}

async fn sign_in(
    sys: &TestSystem,
    client_id: &str,
    client_secret: &str,
) -> Result<SignInServiceAccountResponse, Status> {
    sys.auth("")
        .sign_in_service_account(SignInServiceAccountRequest {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn list_agreements(tenant_id: &str) -> pb::ListAgreementsRequest {
    pb::ListAgreementsRequest {
        tenant_id: tenant_id.into(),
        ..Default::default()
    }
}

fn list_users(tenant_id: &str) -> pb::ListUsersRequest {
    pb::ListUsersRequest {
        tenant_id: tenant_id.into(),
        ..Default::default()
    }
}

fn get(tenant_id: &str, id: &str) -> pb::GetServiceAccountRequest {
    pb::GetServiceAccountRequest {
        tenant_id: tenant_id.into(),
        service_account_id: id.into(),
    }
}

#[tokio::test]
async fn a_global_admin_runs_a_service_account_through_its_whole_life() {
    let sys = TestSystem::start().await;
    let (customer, admin) = sys.customer_admin("contoso", "SE").await;

    // Created with a role; the secret is in the answer (and in a retry's), nowhere else.
    let request_id = new_id();
    let created = sys
        .tenants(&admin)
        .create_service_account(create(
            &customer.id,
            "Billing export",
            &[Role::BillingAdmin],
            &request_id,
        ))
        .await
        .expect("CreateServiceAccount")
        .into_inner();
    let account = created.service_account.clone().expect("account");
    let first = created.secret.clone().expect("secret");
    let first_value = created.client_secret.clone();
    assert!(first_value.starts_with("phsa_"), "{first_value}");
    assert_eq!(account.roles, roles(&[Role::BillingAdmin]));
    assert_eq!(account.tenant_id, customer.id);
    assert_eq!(account.secrets.len(), 1);
    assert_eq!(account.secrets[0].id, first.id);
    let retried = sys
        .tenants(&admin)
        .create_service_account(create(
            &customer.id,
            "Billing export",
            &[Role::BillingAdmin],
            &request_id,
        ))
        .await
        .expect("the same request again")
        .into_inner();
    assert_eq!(retried.service_account.expect("account").id, account.id);
    assert_eq!(retried.client_secret, first_value);
    let read = sys
        .tenants(&admin)
        .get_service_account(get(&customer.id, &account.id))
        .await
        .expect("GetServiceAccount")
        .into_inner();
    let listed = sys
        .tenants(&admin)
        .list_service_accounts(pb::ListServiceAccountsRequest {
            tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListServiceAccounts")
        .into_inner();
    assert_eq!(listed.service_accounts.len(), 1);
    assert_eq!(listed.service_accounts[0].id, account.id);
    let secret_part = first_value.trim_start_matches("phsa_").as_bytes();
    for bytes in [read.encode_to_vec(), listed.encode_to_vec()] {
        assert!(!bytes.windows(secret_part.len()).any(|w| w == secret_part));
    }
    // Not a user: not in ListUsers.
    let users = sys
        .tenants(&admin)
        .list_users(list_users(&customer.id))
        .await
        .expect("ListUsers")
        .into_inner()
        .users;
    assert!(users.iter().all(|u| u.id != account.id));

    // It signs in and may do what a billing admin does, not more.
    let signed_in = sign_in(&sys, &account.id, &first_value)
        .await
        .expect("signs in");
    assert_eq!(signed_in.tenant_id, customer.id);
    assert!(signed_in.expire_time.is_some());
    let token = signed_in.access_token;
    sys.tenants(&token)
        .list_agreements(list_agreements(&customer.id))
        .await
        .expect("a billing admin reads agreements");
    let refused = sys
        .tenants(&token)
        .list_users(list_users(&customer.id))
        .await
        .expect_err("not a user reader");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "ROLE_REQUIRED");

    // It has no password: neither SignIn nor ChangePassword.
    let status = sys
        .sign_in(&account.id, &first_value)
        .await
        .expect_err("no password");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "INVALID_CREDENTIALS");
    let status = sys
        .auth(&token)
        .change_password(ChangePasswordRequest {
            current_password: first_value.clone(),
            new_password: "Fika-1234-Stockholm".into(),
        })
        .await
        .expect_err("no password to change");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "SERVICE_ACCOUNT_HAS_NO_PASSWORD");

    // Rotation: a second secret, both work; the first deleted stops working.
    let added = sys
        .tenants(&admin)
        .add_service_account_secret(pb::AddServiceAccountSecretRequest {
            tenant_id: customer.id.clone(),
            service_account_id: account.id.clone(),
            expire_time: None,
            request_id: new_id(),
        })
        .await
        .expect("AddServiceAccountSecret")
        .into_inner();
    let second = added.secret.expect("secret");
    let second_value = added.client_secret;
    assert_ne!(second_value, first_value);
    assert_eq!(added.service_account.expect("account").secrets.len(), 2);
    sign_in(&sys, &account.id, &first_value)
        .await
        .expect("the first still works");
    let token = sign_in(&sys, &account.id, &second_value)
        .await
        .expect("the second works")
        .access_token;
    let after = sys
        .tenants(&admin)
        .delete_service_account_secret(pb::DeleteServiceAccountSecretRequest {
            tenant_id: customer.id.clone(),
            service_account_id: account.id.clone(),
            secret_id: first.id.clone(),
            revoke_tokens: false,
        })
        .await
        .expect("DeleteServiceAccountSecret")
        .into_inner()
        .service_account
        .expect("account");
    let left: Vec<&str> = after.secrets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(left, [second.id.as_str()]);
    let status = sign_in(&sys, &account.id, &first_value)
        .await
        .expect_err("deleted");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "INVALID_CREDENTIALS");
    // The client that moved to the second secret is not interrupted.
    sys.tenants(&token)
        .list_agreements(list_agreements(&customer.id))
        .await
        .expect("the token of the second secret still works");

    // Roles changed take effect on the next call, with the same token.
    sys.tenants(&admin)
        .update_service_account(pb::UpdateServiceAccountRequest {
            tenant_id: customer.id.clone(),
            service_account: Some(pb::ServiceAccount {
                id: account.id.clone(),
                roles: roles(&[Role::UserAdmin]),
                ..Default::default()
            }),
            update_mask: mask(&["roles"]),
        })
        .await
        .expect("UpdateServiceAccount");
    sys.tenants(&token)
        .list_users(list_users(&customer.id))
        .await
        .expect("now a user admin");
    let refused = sys
        .tenants(&token)
        .list_agreements(list_agreements(&customer.id))
        .await
        .expect_err("no longer a billing admin");
    assert_eq!(reason(&refused), "ROLE_REQUIRED");

    // Its changes are in the audit trail with its id, marked as a service account's.
    let made = sys
        .tenants(&token)
        .create_user(pb::CreateUserRequest {
            tenant_id: customer.id.clone(),
            user: Some(pb::User {
                user_name: "sara".into(),
                display_name: "Sara".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a user admin creates a user")
        .into_inner()
        .user
        .expect("user");
    let events = AuditServiceClient::new(sys.authed(&admin))
        .list_audit_events(ListAuditEventsRequest {
            tenant_id: customer.id.clone(),
            view: View::InTenant as i32,
            ..Default::default()
        })
        .await
        .expect("the trail")
        .into_inner()
        .events;
    let by_account: Vec<_> = events.iter().filter(|e| e.user_id == account.id).collect();
    assert!(
        by_account.iter().any(
            |e| e.method == "partnerhub.tenants.v1.TenantService/CreateUser"
                && e.outcome == "OK"
                && e.service_account
                && e.user_name == "Billing export"
                && e.actor_tenant_id == customer.id
        ),
        "{events:#?}"
    );
    assert!(
        by_account.iter().any(
            |e| e.method == "partnerhub.gateway.v1.AuthService/ChangePassword"
                && e.outcome == "FAILED_PRECONDITION"
        ),
        "{events:#?}"
    );
    // The admin's own management calls are there too, about the account.
    assert!(events.iter().any(|e| !e.service_account
        && e.method == "partnerhub.tenants.v1.TenantService/DeleteServiceAccountSecret"
        && e.resource_id == account.id));
    assert!(!made.id.is_empty());

    // Deleted: its live token stops working at once, and so do its secrets.
    sys.tenants(&admin)
        .delete_service_account(pb::DeleteServiceAccountRequest {
            tenant_id: customer.id.clone(),
            service_account_id: account.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("DeleteServiceAccount");
    let status = sys
        .tenants(&token)
        .list_users(list_users(&customer.id))
        .await
        .expect_err("deleted");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = sign_in(&sys, &account.id, &second_value)
        .await
        .expect_err("deleted");
    assert_eq!(reason(&status), "INVALID_CREDENTIALS");
    let status = sys
        .tenants(&admin)
        .get_service_account(get(&customer.id, &account.id))
        .await
        .expect_err("gone");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason(&status), "SERVICE_ACCOUNT_NOT_FOUND");
    sys.stop().await;
}

#[tokio::test]
async fn only_the_tenants_global_admin_manages_its_service_accounts() {
    let sys = TestSystem::start().await;
    let (customer, admin) = sys.customer_admin("contoso", "SE").await;
    let (_, other_admin) = sys.customer_admin("fabrikam", "SE").await;
    let (_, user_admin) = sys
        .user(&admin, &customer.id, "ulla", &[Role::UserAdmin])
        .await;
    let account = sys
        .tenants(&admin)
        .create_service_account(create(&customer.id, "Sync", &[], ""))
        .await
        .expect("CreateServiceAccount")
        .into_inner()
        .service_account
        .expect("account");

    for (token, want) in [
        (&user_admin, "ROLE_REQUIRED"),
        (&other_admin, "NO_ACCESS_TO_TENANT"),
        (&sys.operator, "NOT_FOR_OPERATOR"),
    ] {
        let status = sys
            .tenants(token)
            .create_service_account(create(&customer.id, "Mine", &[Role::GlobalAdmin], ""))
            .await
            .expect_err("not theirs to create");
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::PermissionDenied, want)
        );
        let status = sys
            .tenants(token)
            .add_service_account_secret(pb::AddServiceAccountSecretRequest {
                tenant_id: customer.id.clone(),
                service_account_id: account.id.clone(),
                expire_time: None,
                request_id: String::new(),
            })
            .await
            .expect_err("not theirs to rotate");
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::PermissionDenied, want)
        );
        let status = sys
            .tenants(token)
            .delete_service_account(pb::DeleteServiceAccountRequest {
                tenant_id: customer.id.clone(),
                service_account_id: account.id.clone(),
                etag: String::new(),
            })
            .await
            .expect_err("not theirs to delete");
        assert_eq!(status.code(), Code::PermissionDenied);
    }
    let status = sys
        .tenants(&user_admin)
        .list_service_accounts(pb::ListServiceAccountsRequest {
            tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("a user admin doesn't list them");
    assert_eq!(reason(&status), "ROLE_REQUIRED");

    // Roles as for users: never the operator's, only the tenant kind's.
    let status = sys
        .tenants(&admin)
        .create_service_account(create(
            &customer.id,
            "Root",
            &[Role::BillingAdmin, Role::PlatformOperator, Role::AdminAgent],
            "",
        ))
        .await
        .expect_err("no operator role");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&status),
        ["service_account.roles[1]", "service_account.roles[2]"]
    );
    let status = sys
        .tenants(&admin)
        .update_service_account(pb::UpdateServiceAccountRequest {
            tenant_id: customer.id.clone(),
            service_account: Some(pb::ServiceAccount {
                id: account.id.clone(),
                roles: roles(&[Role::PlatformOperator]),
                ..Default::default()
            }),
            update_mask: mask(&["roles"]),
        })
        .await
        .expect_err("no operator role");
    assert_eq!(bad_fields(&status), ["service_account.roles[0]"]);

    // Bad input names its fields.
    let mut bad = create("nope", "", &[], "nope");
    bad.secret_expire_time = Some(prost_types::Timestamp {
        seconds: 1_000_000,
        nanos: 0,
    });
    let status = sys
        .tenants(&admin)
        .create_service_account(bad)
        .await
        .expect_err("bad input");
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = sys
        .tenants(&admin)
        .create_service_account(pb::CreateServiceAccountRequest {
            tenant_id: customer.id.clone(),
            service_account: Some(pb::ServiceAccount::default()),
            secret_expire_time: Some(prost_types::Timestamp {
                seconds: 1_000_000,
                nanos: 0,
            }),
            request_id: "nope".into(),
        })
        .await
        .expect_err("bad input");
    assert_eq!(
        bad_fields(&status),
        [
            "request_id",
            "service_account.display_name",
            "secret_expire_time"
        ]
    );
    sys.stop().await;
}

#[tokio::test]
async fn wrong_client_credentials_answer_alike_and_secrets_are_bounded_and_revocable() {
    let sys = TestSystem::start().await;
    let (customer, admin) = sys.customer_admin("contoso", "SE").await;
    let created = sys
        .tenants(&admin)
        .create_service_account(create(&customer.id, "Sync", &[Role::BillingAdmin], ""))
        .await
        .expect("CreateServiceAccount")
        .into_inner();
    let account = created.service_account.expect("account");
    let value = created.client_secret;

    let unknown = sign_in(&sys, &new_id(), &value)
        .await
        .expect_err("unknown id");
    let wrong = sign_in(&sys, &account.id, &format!("{value}x"))
        .await
        .expect_err("wrong secret");
    for status in [&unknown, &wrong] {
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(reason(status), "INVALID_CREDENTIALS");
    }
    assert_eq!(unknown.message(), wrong.message());
    let empty = sign_in(&sys, "", "").await.expect_err("empty");
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&empty), ["client_id", "client_secret"]);

    // At most five secrets at once.
    let add = || pb::AddServiceAccountSecretRequest {
        tenant_id: customer.id.clone(),
        service_account_id: account.id.clone(),
        expire_time: Some(prost_types::Timestamp {
            seconds: 4_102_444_800,
            nanos: 0,
        }),
        request_id: String::new(),
    };
    let mut last = String::new();
    for _ in 0..4 {
        let added = sys
            .tenants(&admin)
            .add_service_account_secret(add())
            .await
            .expect("AddServiceAccountSecret")
            .into_inner();
        assert!(added.secret.expect("secret").expire_time.is_some());
        last = added.client_secret;
    }
    let status = sys
        .tenants(&admin)
        .add_service_account_secret(add())
        .await
        .expect_err("a sixth");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "SECRET_LIMIT_REACHED");

    // Deleting a secret with revoke_tokens ends the tokens issued before; a new sign-in works.
    let token = sign_in(&sys, &account.id, &last)
        .await
        .expect("signs in")
        .access_token;
    let first_secret = account.secrets[0].id.clone();
    let delete = |secret_id: &str, revoke_tokens: bool| pb::DeleteServiceAccountSecretRequest {
        tenant_id: customer.id.clone(),
        service_account_id: account.id.clone(),
        secret_id: secret_id.into(),
        revoke_tokens,
    };
    sys.tenants(&admin)
        .delete_service_account_secret(delete(&first_secret, true))
        .await
        .expect("DeleteServiceAccountSecret");
    let status = sys
        .tenants(&token)
        .list_agreements(list_agreements(&customer.id))
        .await
        .expect_err("revoked");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "TOKEN_OUTDATED");
    let token = sign_in(&sys, &account.id, &last)
        .await
        .expect("signs in again")
        .access_token;
    sys.tenants(&token)
        .list_agreements(list_agreements(&customer.id))
        .await
        .expect("a new token works");
    let status = sys
        .tenants(&admin)
        .delete_service_account_secret(delete(&first_secret, false))
        .await
        .expect_err("gone already");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason(&status), "SECRET_NOT_FOUND");
    sys.stop().await;
}
