//! A user's second factor, a TOTP secret (see [`crate::totp`]): enrolled by the user itself
//! (`BeginSecondFactorEnrollment` with its password, then `ConfirmSecondFactorEnrollment` with a
//! code, so no one ends up with a factor its app doesn't have), removed by the user
//! (`RemoveSecondFactor`, password and code) or by an admin who manages the user
//! (`ResetSecondFactor`, when the app is lost). Sign-in asks for codes (`sign_in.rs`).

use super::Tenants;
use super::sign_in::principal;
use super::users::managed;
use crate::domain;
use crate::error::{Error, Result};
use crate::{password, store, totp};
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::tenants as pb;
use tonic::Request;

/// The field a code arrives in, checked for its form before anything is read.
fn code_field(v: &mut Violations, field: &str, code: &str) {
    let code = code.trim();
    if code.is_empty() {
        v.add(field, "is required");
    } else if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        v.add(field, "must be the 6 digits the authenticator app shows");
    }
}

/// The user's credentials, its password checked (a wrong one is INVALID_ARGUMENT on
/// `current_password`: the caller is signed in, this is not a sign-in).
async fn with_password(
    svc: &Tenants,
    user_id: &str,
    current_password: String,
) -> Result<domain::Credentials> {
    let cred = store::credentials_by_id(&mut *svc.conn().await?, user_id)
        .await?
        .ok_or_else(|| Error::UserNotFound(user_id.to_string()))?;
    if !password::verify(current_password, Some(cred.password_hash.clone())).await? {
        return Err(Error::field(
            "current_password",
            "is not the user's current password",
        ));
    }
    Ok(cred)
}

pub(super) async fn begin(
    svc: &Tenants,
    request: Request<pb::BeginSecondFactorEnrollmentRequest>,
) -> Result<pb::BeginSecondFactorEnrollmentResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let user_id = v.take(fields::id("user_id", &req.user_id));
    if req.current_password.is_empty() {
        v.add("current_password", "is required");
    }
    let user_id = v.done(user_id)?.to_string();
    let cred = with_password(svc, &user_id, req.current_password).await?;
    if cred.totp_secret.is_some() {
        return Err(Error::SecondFactorEnrolled);
    }
    let secret = totp::new_secret();
    store::set_pending_second_factor(&mut *svc.conn().await?, &user_id, &secret).await?;
    Ok(pb::BeginSecondFactorEnrollmentResponse {
        otpauth_uri: totp::uri(&secret, &cred.user_name),
        secret,
    })
}

pub(super) async fn confirm(
    svc: &Tenants,
    request: Request<pb::ConfirmSecondFactorEnrollmentRequest>,
) -> Result<pb::ConfirmSecondFactorEnrollmentResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let user_id = v.take(fields::id("user_id", &req.user_id));
    code_field(&mut v, "code", &req.code);
    let user_id = v.done(user_id)?.to_string();
    let mut conn = svc.conn().await?;
    let pending = store::pending_second_factor(&mut conn, &user_id)
        .await?
        .ok_or(Error::NoSecondFactorEnrollment)?;
    let step = totp::verify(&pending, req.code.trim(), domain::now(), 0)
        .ok_or_else(|| Error::field("code", "is not a current code of the new secret"))?;
    if !store::confirm_second_factor(&mut conn, &user_id, &pending, step).await? {
        // A new enrollment began meanwhile: this code is of a secret no longer pending.
        return Err(Error::NoSecondFactorEnrollment);
    }
    Ok(pb::ConfirmSecondFactorEnrollmentResponse {
        principal: Some(principal(&mut conn, &user_id).await?.into()),
    })
}

pub(super) async fn remove(
    svc: &Tenants,
    request: Request<pb::RemoveSecondFactorRequest>,
) -> Result<pb::RemoveSecondFactorResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let user_id = v.take(fields::id("user_id", &req.user_id));
    if req.current_password.is_empty() {
        v.add("current_password", "is required");
    }
    code_field(&mut v, "code", &req.code);
    let user_id = v.done(user_id)?.to_string();
    let cred = with_password(svc, &user_id, req.current_password).await?;
    let secret = cred.totp_secret.ok_or(Error::NoSecondFactor)?;
    let mut conn = svc.conn().await?;
    let used = match totp::verify(&secret, req.code.trim(), domain::now(), cred.totp_last_step) {
        Some(step) => store::use_second_factor_step(&mut conn, &user_id, step).await?,
        None => false,
    };
    if !used {
        return Err(Error::field("code", "is wrong, expired or used already"));
    }
    store::remove_second_factor(&mut conn, &user_id).await?;
    Ok(pb::RemoveSecondFactorResponse {})
}

pub(super) async fn reset(
    svc: &Tenants,
    request: Request<pb::ResetSecondFactorRequest>,
) -> Result<pb::ResetSecondFactorResponse> {
    let req = request.get_ref();
    let mut conn = svc.conn().await?;
    let (tenant_id, user_id) = managed(&mut conn, &request, &req.tenant_id, &req.user_id).await?;
    store::remove_second_factor(&mut conn, &user_id).await?;
    Ok(pb::ResetSecondFactorResponse {
        user: Some(store::user(&mut conn, &tenant_id, &user_id).await?.into()),
    })
}
