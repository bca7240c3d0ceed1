//! Who is calling: `CheckCredentials` (sign-in), `ChangePassword`, and `GetPrincipal`, which the
//! gateway asks on every call.

use super::Tenants;
use crate::domain::{self, Principal, State};
use crate::error::{Error, Result};
use crate::password;
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::tenants as pb;
use sqlx::AnyConnection;
use std::time::{Duration, SystemTime};
use tonic::Request;

/// Wrong passwords in a row that lock sign-in.
pub const MAX_FAILED_SIGN_INS: i64 = 5;
/// How long sign-in stays locked.
pub const LOCK_DURATION: Duration = Duration::from_secs(5 * 60);

pub(super) async fn get_principal(
    svc: &Tenants,
    request: Request<pb::GetPrincipalRequest>,
) -> Result<pb::GetPrincipalResponse> {
    let id = fields::id("user_id", &request.get_ref().user_id)?.to_string();
    let principal = principal(&mut *svc.conn().await?, &id).await?;
    Ok(pb::GetPrincipalResponse {
        principal: Some(principal.into()),
    })
}

async fn principal(conn: &mut AnyConnection, user_id: &str) -> Result<Principal> {
    store::principal(conn, user_id)
        .await?
        .ok_or_else(|| Error::UserNotFound(user_id.to_string()))
}

pub(super) async fn check_credentials(
    svc: &Tenants,
    request: Request<pb::CheckCredentialsRequest>,
) -> Result<pb::CheckCredentialsResponse> {
    let req = request.into_inner();
    let user_name = req.user_name.trim().to_lowercase();
    let mut v = Violations::new();
    if user_name.is_empty() {
        v.add("user_name", "is required");
    } else if user_name.chars().any(char::is_control) || user_name.len() > 320 {
        v.add("user_name", "is not a user name");
    }
    if req.password.is_empty() {
        v.add("password", "is required");
    }
    v.check()?;
    let found = store::credentials_by_name(&mut *svc.conn().await?, &user_name).await?;
    let now = domain::now();
    let Some(cred) = found else {
        // Take as long as a wrong password does, so user names can't be probed by timing.
        password::verify(req.password, None).await?;
        return Err(Error::InvalidCredentials);
    };
    if let Some(until) = cred.locked_until
        && until > now
    {
        return Err(Error::Locked(remaining(until, now)));
    }
    if !password::verify(req.password, Some(cred.password_hash)).await? {
        let locked = store::record_failed_sign_in(
            &mut *svc.conn().await?,
            &cred.user_id,
            MAX_FAILED_SIGN_INS,
            now + LOCK_DURATION,
        )
        .await?;
        return Err(match locked {
            Some(until) if until > now => Error::Locked(remaining(until, now)),
            _ => Error::InvalidCredentials,
        });
    }
    let mut conn = svc.conn().await?;
    store::clear_failed_sign_ins(&mut conn, &cred.user_id).await?;
    let principal = principal(&mut conn, &cred.user_id).await?;
    if principal.tenant_state != State::Active {
        return Err(Error::TenantNotActive);
    }
    Ok(pb::CheckCredentialsResponse {
        principal: Some(principal.into()),
    })
}

pub(super) async fn change_password(
    svc: &Tenants,
    request: Request<pb::ChangePasswordRequest>,
) -> Result<pb::ChangePasswordResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let user_id = v.take(fields::id("user_id", &req.user_id));
    if req.current_password.is_empty() {
        v.add("current_password", "is required");
    }
    v.take(password::check_policy("new_password", &req.new_password));
    if !req.new_password.is_empty() && req.new_password == req.current_password {
        v.add("new_password", "must differ from the current password");
    }
    v.check()?;
    let user_id = user_id.map(|u| u.to_string()).unwrap_or_default();
    let cred = store::credentials_by_id(&mut *svc.conn().await?, &user_id)
        .await?
        .ok_or_else(|| Error::UserNotFound(user_id.clone()))?;
    if !password::verify(req.current_password, Some(cred.password_hash)).await? {
        return Err(Error::field(
            "current_password",
            "is not the user's current password",
        ));
    }
    let hash = password::hash(req.new_password).await?;
    let mut conn = svc.conn().await?;
    store::set_password(&mut conn, &user_id, &hash, false).await?;
    Ok(pb::ChangePasswordResponse {
        principal: Some(principal(&mut conn, &user_id).await?.into()),
    })
}

fn remaining(until: SystemTime, now: SystemTime) -> Duration {
    until.duration_since(now).unwrap_or(Duration::ZERO)
}
