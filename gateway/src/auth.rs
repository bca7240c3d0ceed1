//! `AuthService`: sign-in (users by password, service accounts by client credentials) and
//! password change, on top of the tenants service's credential checks; the public keys tokens
//! are checked with.

use crate::error::{Error, relay};
use crate::guard::Caller;
use crate::sign_in_limit::{Limited, SignInLimiter};
use crate::token::Tokens;
use partnerhub_kit::telemetry::Peer;
use partnerhub_proto::gateway as gw;
use partnerhub_proto::gateway::auth_service_server::AuthService;
use partnerhub_proto::tenants as pb;
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct Auth {
    pub tokens: Tokens,
    pub tenants: TenantInternalServiceClient<Peer>,
    pub limiter: Arc<SignInLimiter>,
    /// Partners' staff must enroll a second factor (see `guard::must_enroll_second_factor`).
    pub second_factor_required: bool,
}

/// The signed-in person making a call about its own sign-in. The table admits nobody else
/// (`Rule::Person`: neither the operator nor a service account has a password or a second
/// factor); were that to change, the same refusals as there.
fn person<T>(request: &Request<T>) -> Result<pb::Principal, Error> {
    match request.extensions().get::<Caller>() {
        Some(Caller::User(p)) if p.service_account => Err(Error::ServiceAccountHasNoPassword),
        Some(Caller::User(p)) => Ok(p.clone()),
        _ => Err(Error::OperatorHasNoPassword),
    }
}

impl Auth {
    /// Takes a sign-in from `address` for `name` out of the rate limits, or says which one
    /// refused it (`name_kind`: what the name is, for the refusal).
    fn limit(
        &self,
        address: Option<std::net::IpAddr>,
        name: &str,
        name_kind: &'static str,
    ) -> Result<(), Error> {
        self.limiter
            .take(address, name)
            .map_err(|limited| match limited {
                Limited::Address(retry) => Error::SignInRateLimited {
                    by: "client address",
                    retry,
                },
                Limited::UserName(retry) => Error::SignInRateLimited {
                    by: name_kind,
                    retry,
                },
            })
    }

    /// A new token for `principal`, with when it expires.
    fn token_for(&self, principal: &pb::Principal) -> (String, Option<prost_types::Timestamp>) {
        let (token, exp) = self
            .tokens
            .issue_user(&principal.user_id, &principal.tenant_id);
        (token, expire_time(exp))
    }
}

fn expire_time(exp: u64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: i64::try_from(exp).unwrap_or(i64::MAX),
        nanos: 0,
    })
}

#[tonic::async_trait]
impl AuthService for Auth {
    async fn sign_in(
        &self,
        request: Request<gw::SignInRequest>,
    ) -> Result<Response<gw::SignInResponse>, Status> {
        let address = request.remote_addr().map(|a| a.ip());
        let req = request.into_inner();
        self.limit(address, &req.user_name, "user name")?;
        let principal = self
            .tenants
            .clone()
            .check_credentials(pb::CheckCredentialsRequest {
                user_name: req.user_name,
                password: req.password,
                second_factor_code: req.second_factor_code,
            })
            .await
            .map_err(relay)?
            .into_inner()
            .principal
            .ok_or(Error::UserGone)?;
        let (access_token, expire_time) = self.token_for(&principal);
        tracing::info!(user_id = %principal.user_id, tenant_id = %principal.tenant_id, "signed in");
        Ok(Response::new(gw::SignInResponse {
            access_token,
            expire_time,
            password_change_required: principal.password_change_required,
            second_factor_enrollment_required: crate::guard::must_enroll_second_factor(
                self.second_factor_required,
                &principal,
            ),
            user_id: principal.user_id,
            tenant_id: principal.tenant_id,
        }))
    }

    async fn change_password(
        &self,
        request: Request<gw::ChangePasswordRequest>,
    ) -> Result<Response<gw::ChangePasswordResponse>, Status> {
        let principal = person(&request)?;
        let req = request.into_inner();
        let changed = self
            .tenants
            .clone()
            .change_password(pb::ChangePasswordRequest {
                user_id: principal.user_id,
                current_password: req.current_password,
                new_password: req.new_password,
            })
            .await
            .map_err(relay)?
            .into_inner()
            .principal
            .ok_or(Error::UserGone)?;
        let (access_token, expire_time) = self.token_for(&changed);
        Ok(Response::new(gw::ChangePasswordResponse {
            access_token,
            expire_time,
        }))
    }

    /// A service account's token is a user's token for its id: the gateway reads the account
    /// (roles, existence) on every call as it reads a user.
    async fn sign_in_service_account(
        &self,
        request: Request<gw::SignInServiceAccountRequest>,
    ) -> Result<Response<gw::SignInServiceAccountResponse>, Status> {
        let address = request.remote_addr().map(|a| a.ip());
        let req = request.into_inner();
        // The same limits as SignIn's: a secret is no easier to guess, and guessing it must
        // cost as much. (Client ids are UUIDs, user names have an "@": they share no bucket.)
        self.limit(address, &req.client_id, "client id")?;
        let principal = self
            .tenants
            .clone()
            .check_service_account_credentials(pb::CheckServiceAccountCredentialsRequest {
                client_id: req.client_id,
                client_secret: req.client_secret,
            })
            .await
            .map_err(relay)?
            .into_inner()
            .principal
            .ok_or(Error::UserGone)?;
        let (access_token, expire_time) = self.token_for(&principal);
        tracing::info!(service_account_id = %principal.user_id, tenant_id = %principal.tenant_id, "service account signed in");
        Ok(Response::new(gw::SignInServiceAccountResponse {
            access_token,
            expire_time,
            tenant_id: principal.tenant_id,
        }))
    }

    async fn begin_second_factor_enrollment(
        &self,
        request: Request<gw::BeginSecondFactorEnrollmentRequest>,
    ) -> Result<Response<gw::BeginSecondFactorEnrollmentResponse>, Status> {
        let principal = person(&request)?;
        let begun = self
            .tenants
            .clone()
            .begin_second_factor_enrollment(pb::BeginSecondFactorEnrollmentRequest {
                user_id: principal.user_id,
                current_password: request.into_inner().current_password,
            })
            .await
            .map_err(relay)?
            .into_inner();
        Ok(Response::new(gw::BeginSecondFactorEnrollmentResponse {
            secret: begun.secret,
            otpauth_uri: begun.otpauth_uri,
        }))
    }

    async fn confirm_second_factor_enrollment(
        &self,
        request: Request<gw::ConfirmSecondFactorEnrollmentRequest>,
    ) -> Result<Response<gw::ConfirmSecondFactorEnrollmentResponse>, Status> {
        let principal = person(&request)?;
        let enrolled = self
            .tenants
            .clone()
            .confirm_second_factor_enrollment(pb::ConfirmSecondFactorEnrollmentRequest {
                user_id: principal.user_id,
                code: request.into_inner().code,
            })
            .await
            .map_err(relay)?
            .into_inner()
            .principal
            .ok_or(Error::UserGone)?;
        // The token the user has works as well (the gateway reads the user on every call); a
        // new one saves a client from wondering.
        let (access_token, expire_time) = self.token_for(&enrolled);
        Ok(Response::new(gw::ConfirmSecondFactorEnrollmentResponse {
            access_token,
            expire_time,
        }))
    }

    async fn remove_second_factor(
        &self,
        request: Request<gw::RemoveSecondFactorRequest>,
    ) -> Result<Response<gw::RemoveSecondFactorResponse>, Status> {
        let principal = person(&request)?;
        let req = request.into_inner();
        self.tenants
            .clone()
            .remove_second_factor(pb::RemoveSecondFactorRequest {
                user_id: principal.user_id,
                current_password: req.current_password,
                code: req.code,
            })
            .await
            .map_err(relay)?;
        Ok(Response::new(gw::RemoveSecondFactorResponse {}))
    }

    async fn list_public_keys(
        &self,
        _: Request<gw::ListPublicKeysRequest>,
    ) -> Result<Response<gw::ListPublicKeysResponse>, Status> {
        let keys = self
            .tokens
            .public_keys()
            .iter()
            .map(|k| gw::PublicKey {
                kid: k.kid.clone(),
                kty: k.kty.into(),
                crv: k.crv.into(),
                x: k.x.clone(),
                r#use: k.key_use.into(),
                alg: k.alg.into(),
                signing: k.signing,
            })
            .collect();
        Ok(Response::new(gw::ListPublicKeysResponse { keys }))
    }
}
