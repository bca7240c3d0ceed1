//! Service accounts: `CreateServiceAccount`, `GetServiceAccount`, `ListServiceAccounts`,
//! `UpdateServiceAccount`, `DeleteServiceAccount`, `AddServiceAccountSecret`,
//! `DeleteServiceAccountSecret`, and the client-credential check behind
//! `AuthService.SignInServiceAccount` (`CheckServiceAccountCredentials`).
//!
//! Who may call them is the gateway's table (a tenant's global admin); what a caller may do to an
//! account's roles is the same [`Authority`] rule as for users.

use super::{Tenants, check_etag};
use crate::client_secret;
use crate::domain::{
    self, Authority, MAX_SECRETS, NewServiceAccount, Secret, ServiceAccount, ServiceAccountPatch,
    State,
};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::caller;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{fingerprint, write_once};
use partnerhub_proto::{tenants as pb, types};
use sqlx::AnyConnection;
use tonic::Request;
use uuid::Uuid;

pub(super) async fn create_service_account(
    svc: &Tenants,
    request: Request<pb::CreateServiceAccountRequest>,
) -> Result<pb::CreateServiceAccountResponse> {
    let authority = Authority::new(caller::roles(&request));
    let req = request.into_inner();
    let now = domain::now();
    let mut v = Violations::new();
    let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
    let request_id = v.take(fields::request_id(&req.request_id)).flatten();
    let new = v.take(NewServiceAccount::parse(req.service_account.as_ref()));
    let expire_time = v.take(domain::secret_expire_time(
        "secret_expire_time",
        req.secret_expire_time.as_ref(),
        now,
    ));
    let ((tenant_id, new), expire_time) = v.done(tenant_id.zip(new).zip(expire_time))?;
    let asked: Vec<types::Role> = new
        .roles
        .iter()
        .filter_map(|r| types::Role::try_from(*r).ok())
        .collect();
    authority.check_assign_roles(&asked)?;
    let tenant_id = tenant_id.to_string();
    let fingerprint = fingerprint(&pb::CreateServiceAccountRequest {
        request_id: String::new(),
        ..req
    });
    let written = write_once(
        &svc.db,
        "CreateServiceAccount",
        request_id,
        &fingerprint,
        async |tx| {
            let tenant = store::tenant(tx, &tenant_id).await?;
            if !tenant.is_active() {
                return Err(Error::TenantNotActive);
            }
            let account = new.into_account(Uuid::now_v7().to_string(), &tenant, now)?;
            store::insert_service_account(tx, &account).await?;
            let secret = new_secret(svc, tx, &account.id, expire_time, now).await?;
            // Both ids, so that a retry knows which secret the first answer showed.
            Ok(format!("{} {}", account.id, secret))
        },
    )
    .await?;
    let created = written.resource();
    let (account_id, secret_id) = created
        .split_once(' ')
        .ok_or_else(|| Error::inconsistent(format!("CreateServiceAccount made {created:?}")))?;
    let mut conn = svc.conn().await?;
    let account = store::service_account(&mut conn, &tenant_id, account_id).await?;
    let (secret, client_secret) = shown_once(svc, &mut conn, &account, secret_id).await?;
    Ok(pb::CreateServiceAccountResponse {
        service_account: Some(account.into()),
        secret,
        client_secret,
    })
}

/// Adds a secret to the account `account_id` in the caller's transaction; returns its id.
async fn new_secret(
    svc: &Tenants,
    tx: &mut AnyConnection,
    account_id: &str,
    expire_time: Option<std::time::SystemTime>,
    now: std::time::SystemTime,
) -> Result<String> {
    let secret = Secret {
        id: Uuid::now_v7().to_string(),
        create_time: now,
        expire_time,
    };
    let hash = client_secret::hash(&client_secret::derived(&svc.key, &secret.id));
    store::insert_secret(tx, account_id, &secret, &hash).await?;
    Ok(secret.id)
}

/// What a create (or its retry) shows of the secret `secret_id`: the secret and its value, while
/// the account still has it; else neither.
async fn shown_once(
    svc: &Tenants,
    conn: &mut AnyConnection,
    account: &ServiceAccount,
    secret_id: &str,
) -> Result<(Option<pb::ServiceAccountSecret>, String)> {
    let Some(secret) = account.secret(secret_id) else {
        return Ok((None, String::new()));
    };
    let value = client_secret::derived(&svc.key, secret_id);
    // The value is derived from the secret's id; shown only while the stored hash is its hash
    // (always, unless the service's key changed since).
    let stored = store::secret_hash(conn, &account.id, secret_id).await?;
    let value = match stored {
        Some(stored) if client_secret::matches(&value, &stored) => value,
        _ => String::new(),
    };
    Ok((Some(secret.clone().into()), value))
}

/// The tenant id and account id of a request, every bad field named at once.
fn account_ids(tenant_id: &str, account_id: &str) -> Result<(String, String), Violations> {
    let mut v = Violations::new();
    let tenant_id = v.take(fields::id("tenant_id", tenant_id));
    let account_id = v.take(fields::id("service_account_id", account_id));
    let (tenant_id, account_id) = v.done(tenant_id.zip(account_id))?;
    Ok((tenant_id.to_string(), account_id.to_string()))
}

pub(super) async fn get_service_account(
    svc: &Tenants,
    request: Request<pb::GetServiceAccountRequest>,
) -> Result<pb::GetServiceAccountResponse> {
    let req = request.get_ref();
    let (tenant_id, account_id) = account_ids(&req.tenant_id, &req.service_account_id)?;
    let account = store::service_account(&mut *svc.conn().await?, &tenant_id, &account_id).await?;
    Ok(pb::GetServiceAccountResponse {
        service_account: Some(account.into()),
    })
}

pub(super) async fn list_service_accounts(
    svc: &Tenants,
    request: Request<pb::ListServiceAccountsRequest>,
) -> Result<pb::ListServiceAccountsResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let tenant_id = v
        .take(fields::id("tenant_id", &req.tenant_id))
        .map(|t| t.to_string())
        .unwrap_or_default();
    let page = v.take(Page::parse(
        req.page_size,
        &req.page_token,
        "service_accounts",
        &[&tenant_id],
    ));
    let page = v.done(page)?;
    let mut conn = svc.conn().await?;
    store::tenant(&mut conn, &tenant_id).await?;
    let rows = store::list_service_accounts(&mut conn, &tenant_id, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |a| a.id.clone());
    Ok(pb::ListServiceAccountsResponse {
        service_accounts: rows.into_iter().map(Into::into).collect(),
        next_page_token,
    })
}

pub(super) async fn update_service_account(
    svc: &Tenants,
    request: Request<pb::UpdateServiceAccountRequest>,
) -> Result<pb::UpdateServiceAccountResponse> {
    let authority = Authority::new(caller::roles(&request));
    let req = request.into_inner();
    let mut v = Violations::new();
    let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
    let account = req.service_account.unwrap_or_default();
    let account_id = v.take(fields::id("service_account.id", &account.id));
    let etag = v
        .take(fields::etag("service_account.etag", &account.etag))
        .flatten();
    let patch = v.take(ServiceAccountPatch::parse(
        &account,
        req.update_mask.as_ref(),
    ));
    let ((tenant_id, account_id), patch) = v.done(tenant_id.zip(account_id).zip(patch))?;
    let (tenant_id, account_id) = (tenant_id.to_string(), account_id.to_string());
    let mut tx = svc.db.pool.begin().await?;
    let tenant = store::tenant(&mut tx, &tenant_id).await?;
    let mut account = store::service_account(&mut tx, &tenant_id, &account_id).await?;
    check_etag("service account", etag, account.version)?;
    authority.check_manage(&account.roles)?;
    let before = account.roles.clone();
    patch.apply(&mut account, tenant.kind)?;
    authority.check_assign_roles(&domain::changed_roles(&before, &account.roles))?;
    store::update_service_account(&mut tx, &account).await?;
    let updated = store::service_account(&mut tx, &tenant_id, &account_id).await?;
    tx.commit().await?;
    Ok(pb::UpdateServiceAccountResponse {
        service_account: Some(updated.into()),
    })
}

pub(super) async fn delete_service_account(
    svc: &Tenants,
    request: Request<pb::DeleteServiceAccountRequest>,
) -> Result<pb::DeleteServiceAccountResponse> {
    let authority = Authority::new(caller::roles(&request));
    let req = request.into_inner();
    let mut v = Violations::new();
    let ids = v.take(account_ids(&req.tenant_id, &req.service_account_id));
    let etag = v.take(fields::etag("etag", &req.etag)).flatten();
    let (tenant_id, account_id) = v.done(ids)?;
    let mut tx = svc.db.pool.begin().await?;
    let account = store::service_account(&mut tx, &tenant_id, &account_id).await?;
    check_etag("service account", etag, account.version)?;
    authority.check_manage(&account.roles)?;
    store::delete_service_account(&mut tx, &account_id).await?;
    tx.commit().await?;
    Ok(pb::DeleteServiceAccountResponse {})
}

pub(super) async fn add_service_account_secret(
    svc: &Tenants,
    request: Request<pb::AddServiceAccountSecretRequest>,
) -> Result<pb::AddServiceAccountSecretResponse> {
    let authority = Authority::new(caller::roles(&request));
    let req = request.into_inner();
    let now = domain::now();
    let mut v = Violations::new();
    let ids = v.take(account_ids(&req.tenant_id, &req.service_account_id));
    let request_id = v.take(fields::request_id(&req.request_id)).flatten();
    let expire_time = v.take(domain::secret_expire_time(
        "expire_time",
        req.expire_time.as_ref(),
        now,
    ));
    let ((tenant_id, account_id), expire_time) = v.done(ids.zip(expire_time))?;
    let fingerprint = fingerprint(&pb::AddServiceAccountSecretRequest {
        request_id: String::new(),
        ..req
    });
    let written = write_once(
        &svc.db,
        "AddServiceAccountSecret",
        request_id,
        &fingerprint,
        async |tx| {
            store::lock_tenant(tx, &tenant_id).await?;
            let account = store::service_account(tx, &tenant_id, &account_id).await?;
            authority.check_manage(&account.roles)?;
            if account.secrets.len() >= MAX_SECRETS {
                return Err(Error::SecretLimitReached);
            }
            new_secret(svc, tx, &account.id, expire_time, now).await
        },
    )
    .await?;
    let secret_id = written.resource();
    let mut conn = svc.conn().await?;
    let account = store::service_account(&mut conn, &tenant_id, &account_id).await?;
    let (secret, client_secret) = shown_once(svc, &mut conn, &account, &secret_id).await?;
    Ok(pb::AddServiceAccountSecretResponse {
        secret,
        client_secret,
        service_account: Some(account.into()),
    })
}

pub(super) async fn delete_service_account_secret(
    svc: &Tenants,
    request: Request<pb::DeleteServiceAccountSecretRequest>,
) -> Result<pb::DeleteServiceAccountSecretResponse> {
    let authority = Authority::new(caller::roles(&request));
    let req = request.into_inner();
    let mut v = Violations::new();
    let ids = v.take(account_ids(&req.tenant_id, &req.service_account_id));
    let secret_id = v.take(fields::id("secret_id", &req.secret_id));
    let ((tenant_id, account_id), secret_id) = v.done(ids.zip(secret_id))?;
    let secret_id = secret_id.to_string();
    let mut tx = svc.db.pool.begin().await?;
    let account = store::service_account(&mut tx, &tenant_id, &account_id).await?;
    authority.check_manage(&account.roles)?;
    if account.secret(&secret_id).is_none() {
        return Err(Error::SecretNotFound(secret_id));
    }
    let revoke = req.revoke_tokens.then(partnerhub_kit::time::now_micros);
    store::delete_secret(&mut tx, &account_id, &secret_id, revoke).await?;
    let updated = store::service_account(&mut tx, &tenant_id, &account_id).await?;
    tx.commit().await?;
    Ok(pb::DeleteServiceAccountSecretResponse {
        service_account: Some(updated.into()),
    })
}

/// The longest client secret looked at; longer ones are wrong anyway.
const MAX_SECRET_LEN: usize = 256;

pub(super) async fn check_service_account_credentials(
    svc: &Tenants,
    request: Request<pb::CheckServiceAccountCredentialsRequest>,
) -> Result<pb::CheckServiceAccountCredentialsResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let client_id = v.take(fields::id("client_id", req.client_id.trim()));
    if req.client_secret.is_empty() {
        v.add("client_secret", "is required");
    } else if req.client_secret.len() > MAX_SECRET_LEN {
        v.add("client_secret", "is not a client secret");
    }
    let client_id = v.done(client_id)?.to_string();
    let mut conn = svc.conn().await?;
    // An unknown account, and a wrong, deleted or expired secret, answer alike; each path reads
    // the same two small rows' worth and hashes once, so timing tells little either.
    let principal = store::service_account_principal(&mut conn, &client_id).await?;
    let secrets = store::secrets_for_sign_in(&mut conn, &client_id).await?;
    let now = domain::now();
    let valid = secrets.iter().fold(false, |found, (secret, stored)| {
        let matches = client_secret::matches(&req.client_secret, stored);
        found | (matches && secret.is_valid_at(now))
    });
    let principal = match principal {
        Some(p) if valid => p,
        _ => return Err(Error::InvalidCredentials),
    };
    if principal.tenant_state != State::Active {
        return Err(Error::TenantNotActive);
    }
    Ok(pb::CheckServiceAccountCredentialsResponse {
        principal: Some(principal.into()),
    })
}
