//! Users: `CreateUser`, `GetUser`, `ListUsers`, `UpdateUser`, `DeleteUser`, `ResetPassword`.

use super::{Tenants, check_etag, tenant_page};
use crate::domain::{self, Authority, NewUser, User, UserPatch};
use crate::error::{Error, Result};
use crate::password;
use crate::store;
use partnerhub_kit::caller;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{Written, fingerprint, write_once};
use partnerhub_proto::{tenants as pb, types};
use tonic::Request;
use uuid::Uuid;

pub(super) async fn create_user(
    svc: &Tenants,
    request: Request<pb::CreateUserRequest>,
) -> Result<pb::CreateUserResponse> {
    let authority = Authority::new(caller::roles(&request));
    let req = request.into_inner();
    let mut v = Violations::new();
    let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
    let request_id = v.take(fields::request_id(&req.request_id)).flatten();
    let new = v.take(NewUser::parse(req.user.as_ref()));
    let (tenant_id, new) = v.done(tenant_id.zip(new))?;
    let asked: Vec<types::Role> = new
        .roles
        .iter()
        .filter_map(|r| types::Role::try_from(*r).ok())
        .collect();
    authority.check_assign_roles(&asked)?;
    let tenant_id = tenant_id.to_string();
    let fingerprint = fingerprint(&pb::CreateUserRequest {
        request_id: String::new(),
        ..req
    });
    let written = write_once(
        &svc.db,
        "CreateUser",
        request_id,
        &fingerprint,
        async |tx| {
            let tenant = store::tenant(tx, &tenant_id).await?;
            if !tenant.is_active() {
                return Err(Error::TenantNotActive);
            }
            let user = new.into_user(Uuid::now_v7().to_string(), &tenant, domain::now())?;
            let (_, hash) = svc.created_password(&user.id);
            store::insert_user(tx, &user, &hash).await?;
            Ok(user.id)
        },
    )
    .await?;
    let mut conn = svc.conn().await?;
    let (user_id, replayed) = match written {
        Written::New(id) => (id, false),
        Written::Earlier(id) => (id, true),
    };
    let user = store::user(&mut conn, &tenant_id, &user_id).await?;
    // Derived from the user's id, never stored in clear: a retry answers the same password
    // while it is unchanged (not reset, not replaced by the user's own), else none.
    let temporary = if replayed {
        svc.password_again(&mut conn, &user).await?
    } else {
        svc.created_password(&user.id).0
    };
    Ok(created(user, temporary))
}

fn created(user: User, temporary_password: String) -> pb::CreateUserResponse {
    pb::CreateUserResponse {
        user: Some(user.into()),
        temporary_password,
    }
}

pub(super) async fn get_user(
    svc: &Tenants,
    request: Request<pb::GetUserRequest>,
) -> Result<pb::GetUserResponse> {
    let req = request.get_ref();
    let mut v = Violations::new();
    let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
    let user_id = v.take(fields::id("user_id", &req.user_id));
    let (tenant_id, user_id) = v.done(tenant_id.zip(user_id))?;
    let user = store::user(
        &mut *svc.conn().await?,
        &tenant_id.to_string(),
        &user_id.to_string(),
    )
    .await?;
    Ok(pb::GetUserResponse {
        user: Some(user.into()),
    })
}

pub(super) async fn list_users(
    svc: &Tenants,
    request: Request<pb::ListUsersRequest>,
) -> Result<pb::ListUsersResponse> {
    let req = request.into_inner();
    let (tenant_id, role, page) = tenant_page(
        "users",
        &req.tenant_id,
        ("role", req.role, types::Role::as_str_name),
        req.page_size,
        &req.page_token,
    )?;
    let mut conn = svc.conn().await?;
    store::tenant(&mut conn, &tenant_id).await?;
    let rows = store::list_users(&mut conn, &tenant_id, role, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |u| u.id.clone());
    Ok(pb::ListUsersResponse {
        users: rows.into_iter().map(Into::into).collect(),
        next_page_token,
    })
}

pub(super) async fn update_user(
    svc: &Tenants,
    request: Request<pb::UpdateUserRequest>,
) -> Result<pb::UpdateUserResponse> {
    let authority = Authority::new(caller::roles(&request));
    let req = request.into_inner();
    let mut v = Violations::new();
    let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
    let user = req.user.unwrap_or_default();
    let user_id = v.take(fields::id("user.id", &user.id));
    let etag = v.take(fields::etag("user.etag", &user.etag)).flatten();
    let patch = v.take(UserPatch::parse(&user, req.update_mask.as_ref()));
    let ((tenant_id, user_id), patch) = v.done(tenant_id.zip(user_id).zip(patch))?;
    let (tenant_id, user_id) = (tenant_id.to_string(), user_id.to_string());
    let mut tx = svc.db.pool.begin().await?;
    store::lock_tenant(&mut tx, &tenant_id).await?;
    let tenant = store::tenant(&mut tx, &tenant_id).await?;
    let mut user = store::user(&mut tx, &tenant_id, &user_id).await?;
    check_etag("user", etag, user.version)?;
    authority.check_manage(&user.roles)?;
    let before = user.clone();
    patch.apply(&mut user, tenant.kind)?;
    authority.check_assign_roles(&domain::changed_roles(&before.roles, &user.roles))?;
    if before.is_global_admin()
        && !user.is_global_admin()
        && store::count_global_admins(&mut tx, &tenant_id).await? <= 1
    {
        return Err(Error::LastGlobalAdmin(user.user_name));
    }
    store::update_user(&mut tx, &user).await?;
    let updated = store::user(&mut tx, &tenant_id, &user_id).await?;
    tx.commit().await?;
    Ok(pb::UpdateUserResponse {
        user: Some(updated.into()),
    })
}

pub(super) async fn delete_user(
    svc: &Tenants,
    request: Request<pb::DeleteUserRequest>,
) -> Result<pb::DeleteUserResponse> {
    let authority = Authority::new(caller::roles(&request));
    let req = request.into_inner();
    let mut v = Violations::new();
    let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
    let user_id = v.take(fields::id("user_id", &req.user_id));
    let etag = v.take(fields::etag("etag", &req.etag)).flatten();
    let (tenant_id, user_id) = v.done(tenant_id.zip(user_id))?;
    let (tenant_id, user_id) = (tenant_id.to_string(), user_id.to_string());
    let mut tx = svc.db.pool.begin().await?;
    store::lock_tenant(&mut tx, &tenant_id).await?;
    let user = store::user(&mut tx, &tenant_id, &user_id).await?;
    check_etag("user", etag, user.version)?;
    authority.check_manage(&user.roles)?;
    if user.is_global_admin() && store::count_global_admins(&mut tx, &tenant_id).await? <= 1 {
        return Err(Error::LastGlobalAdmin(user.user_name));
    }
    store::delete_user(&mut tx, &user_id).await?;
    tx.commit().await?;
    Ok(pb::DeleteUserResponse {})
}

/// The users of a tenant among `user_ids` (at most 1000), in the order asked for: the
/// subscriptions service checks licence holders with it.
pub(super) async fn batch_get_users(
    svc: &Tenants,
    request: Request<pb::BatchGetUsersRequest>,
) -> Result<pb::BatchGetUsersResponse> {
    let req = request.get_ref();
    if req.user_ids.len() > 1000 {
        return Err(Error::field("user_ids", "must have at most 1000 ids"));
    }
    let mut v = Violations::new();
    let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
    for (i, id) in req.user_ids.iter().enumerate() {
        v.take(fields::id(&format!("user_ids[{i}]"), id));
    }
    let tenant_id = v.done(tenant_id)?.to_string();
    let mut conn = svc.conn().await?;
    let mut users = Vec::with_capacity(req.user_ids.len());
    // One indexed read per id keeps the SQL static; a call names at most 1000.
    for id in &req.user_ids {
        if let Some(user) = store::get_user(&mut conn, &tenant_id, id).await? {
            users.push(user.into());
        }
    }
    Ok(pb::BatchGetUsersResponse { users })
}

/// The ids of a user a reset names, checked, once the caller is found to manage that user
/// ([`Authority::check_manage`] of the caller's roles against the user's).
pub(super) async fn managed<T>(
    conn: &mut sqlx::AnyConnection,
    request: &Request<T>,
    tenant_id: &str,
    user_id: &str,
) -> Result<(String, String)> {
    let mut v = Violations::new();
    let tenant_id = v.take(fields::id("tenant_id", tenant_id));
    let user_id = v.take(fields::id("user_id", user_id));
    let (tenant_id, user_id) = v.done(tenant_id.zip(user_id))?;
    let (tenant_id, user_id) = (tenant_id.to_string(), user_id.to_string());
    let target = store::user(conn, &tenant_id, &user_id).await?;
    Authority::new(caller::roles(request)).check_manage(&target.roles)?;
    Ok((tenant_id, user_id))
}

pub(super) async fn reset_password(
    svc: &Tenants,
    request: Request<pb::ResetPasswordRequest>,
) -> Result<pb::ResetPasswordResponse> {
    let (tenant_id, user_id) = {
        let req = request.get_ref();
        let mut conn = svc.conn().await?;
        managed(&mut conn, &request, &req.tenant_id, &req.user_id).await?
    };
    let temporary = password::temporary();
    let hash = password::hash_temporary(&temporary);
    let mut conn = svc.conn().await?;
    store::set_password(&mut conn, &user_id, &hash, true).await?;
    let user = store::user(&mut conn, &tenant_id, &user_id).await?;
    Ok(pb::ResetPasswordResponse {
        user: Some(user.into()),
        temporary_password: temporary,
    })
}
