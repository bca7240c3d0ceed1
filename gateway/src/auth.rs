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
        self.limiter
            .take(address, &req.user_name)
            .map_err(|limited| match limited {
                Limited::Address(retry) => Error::SignInRateLimited {
                    by: "client address",
                    retry,
                },
                Limited::UserName(retry) => Error::SignInRateLimited {
                    by: "user name",
                    retry,
                },
            })?;
        let principal = self
            .tenants
            .clone()
            .check_credentials(pb::CheckCredentialsRequest {
                user_name: req.user_name,
                password: req.password,
            })
            .await
            .map_err(relay)?
            .into_inner()
            .principal
            .ok_or(Error::UserGone)?;
        let (access_token, exp) = self
            .tokens
            .issue_user(&principal.user_id, &principal.tenant_id);
        tracing::info!(user_id = %principal.user_id, tenant_id = %principal.tenant_id, "signed in");
        Ok(Response::new(gw::SignInResponse {
            access_token,
            expire_time: expire_time(exp),
            password_change_required: principal.password_change_required,
            user_id: principal.user_id,
            tenant_id: principal.tenant_id,
        }))
    }

    async fn change_password(
        &self,
        request: Request<gw::ChangePasswordRequest>,
    ) -> Result<Response<gw::ChangePasswordResponse>, Status> {
        let Some(Caller::User(principal)) = request.extensions().get::<Caller>().cloned() else {
            return Err(Error::OperatorHasNoPassword.into());
        };
        if principal.service_account {
            return Err(Error::ServiceAccountHasNoPassword.into());
        }
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
        let (access_token, exp) = self.tokens.issue_user(&changed.user_id, &changed.tenant_id);
        Ok(Response::new(gw::ChangePasswordResponse {
            access_token,
            expire_time: expire_time(exp),
        }))
    }

    /// A service account's token is a user's token for its id: the gateway reads the account
    /// (roles, existence) on every call as it reads a user.
    async fn sign_in_service_account(
        &self,
        request: Request<gw::SignInServiceAccountRequest>,
    ) -> Result<Response<gw::SignInServiceAccountResponse>, Status> {
        let req = request.into_inner();
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
        let (access_token, exp) = self
            .tokens
            .issue_user(&principal.user_id, &principal.tenant_id);
        tracing::info!(service_account_id = %principal.user_id, tenant_id = %principal.tenant_id, "service account signed in");
        Ok(Response::new(gw::SignInServiceAccountResponse {
            access_token,
            expire_time: expire_time(exp),
            tenant_id: principal.tenant_id,
        }))
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
