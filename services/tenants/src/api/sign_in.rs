//! Who is calling: `CheckCredentials` (sign-in), `ChangePassword`, and `GetPrincipal`, which the
//! gateway asks on every call.

use super::Tenants;
use crate::domain::{self, Principal, State};
use crate::error::{Error, Result};
use crate::password;
use crate::store;
use crate::totp;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::tenants as pb;
use sqlx::AnyConnection;
use std::time::{Duration, SystemTime};
use tonic::Request;

/// The wrong password in a row from which each one makes sign-in wait.
pub const MAX_FAILED_SIGN_INS: i64 = 5;
/// The wait after the [`MAX_FAILED_SIGN_INS`]-th wrong password; each further one doubles it.
pub const FIRST_WAIT: Duration = Duration::from_secs(2);
/// The longest wait (reached at the 13th wrong password in a row).
pub const LOCK_DURATION: Duration = Duration::from_secs(5 * 60);

/// How long sign-in waits after `failures` wrong passwords in a row: nothing before
/// [`MAX_FAILED_SIGN_INS`], then [`FIRST_WAIT`] doubled with each further one, at most
/// [`LOCK_DURATION`].
///
/// A growing wait rather than a lock of fixed length: whoever knows a user name could keep a
/// fixed lock up forever with a few guesses an hour; here the wait is short after the first
/// few mistakes (a person mistyping gets back in within seconds), grows for someone guessing
/// on, and never exceeds [`LOCK_DURATION`]. During a wait no password is checked, so guessing
/// runs at one guess per wait at most; the gateway's sign-in rate limit bounds callers too.
/// The right password after the wait works, and clears the count.
pub fn wait_after(failures: i64) -> Option<Duration> {
    if failures < MAX_FAILED_SIGN_INS {
        return None;
    }
    let over = u32::try_from(failures - MAX_FAILED_SIGN_INS).unwrap_or(u32::MAX);
    let wait = FIRST_WAIT
        .checked_mul(1u32.checked_shl(over).unwrap_or(u32::MAX))
        .unwrap_or(LOCK_DURATION);
    Some(wait.min(LOCK_DURATION))
}

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

pub(super) async fn principal(conn: &mut AnyConnection, user_id: &str) -> Result<Principal> {
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
    if !password::verify(req.password, Some(cred.password_hash.clone())).await? {
        return Err(failed_sign_in(svc, &cred.user_id, Error::InvalidCredentials).await?);
    }
    let mut conn = svc.conn().await?;
    // Asked for only once the password is right: whether a user has a second factor is no
    // one else's business.
    if let Some(secret) = &cred.totp_secret {
        if req.second_factor_code.is_empty() {
            return Err(Error::SecondFactorRequired);
        }
        let used = match totp::verify(
            secret,
            req.second_factor_code.trim(),
            now,
            cred.totp_last_step,
        ) {
            Some(step) => store::use_second_factor_step(&mut conn, &cred.user_id, step).await?,
            None => false,
        };
        if !used {
            drop(conn);
            return Err(failed_sign_in(svc, &cred.user_id, Error::InvalidSecondFactor).await?);
        }
    }
    store::clear_failed_sign_ins(&mut conn, &cred.user_id).await?;
    let principal = principal(&mut conn, &cred.user_id).await?;
    if principal.tenant_state != State::Active {
        return Err(Error::TenantNotActive);
    }
    Ok(pb::CheckCredentialsResponse {
        principal: Some(principal.into()),
    })
}

/// Counts a wrong password (or one-time code) of `user_id`: answers `wrong`, or from the
/// [`MAX_FAILED_SIGN_INS`]-th in a row the wait it now imposes.
async fn failed_sign_in(svc: &Tenants, user_id: &str, wrong: Error) -> Result<Error> {
    let mut conn = svc.conn().await?;
    let failures = store::record_failed_sign_in(&mut conn, user_id).await?;
    Ok(match wait_after(failures) {
        Some(wait) => {
            // From now, not from the start of the call: the hash check took a while.
            store::set_sign_in_wait(&mut conn, user_id, domain::now() + wait).await?;
            Error::Locked(wait)
        }
        None => wrong,
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
    // The rules that need no user name first, so bad input is answered without a read.
    v.take(password::check_policy(
        "new_password",
        &req.new_password,
        "",
    ));
    if !req.new_password.is_empty() && req.new_password == req.current_password {
        v.add("new_password", "must differ from the current password");
    }
    v.check()?;
    let user_id = user_id.map(|u| u.to_string()).unwrap_or_default();
    let cred = store::credentials_by_id(&mut *svc.conn().await?, &user_id)
        .await?
        .ok_or_else(|| Error::UserNotFound(user_id.clone()))?;
    password::check_policy("new_password", &req.new_password, &cred.user_name)
        .map_err(Error::Invalid)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_the_fifth_wrong_password_and_is_capped() {
        let waits: Vec<Option<u64>> = (0..=16)
            .map(|n| wait_after(n).map(|w| w.as_secs()))
            .collect();
        assert_eq!(
            waits,
            [
                None,
                None,
                None,
                None,
                None,
                Some(2),
                Some(4),
                Some(8),
                Some(16),
                Some(32),
                Some(64),
                Some(128),
                Some(256),
                Some(300),
                Some(300),
                Some(300),
                Some(300)
            ]
        );
        assert_eq!(wait_after(i64::MAX), Some(LOCK_DURATION));
        assert_eq!(wait_after(-1), None);
    }
}
