//! The handlers of `TenantService` and `TenantInternalService`, one file per resource: parse
//! the request, apply the rules, call the store, answer. This file only routes each method to
//! its handler.

mod agreements;
mod contact_requests;
mod partners;
mod second_factor;
mod service_accounts;
mod sign_in;
mod tenants;
mod users;

pub use sign_in::{FIRST_WAIT, LOCK_DURATION, MAX_FAILED_SIGN_INS, wait_after};

use crate::domain::User;
use crate::error::{Error, Result};
use crate::{password, store};
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::secret_key::SecretKey;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::Database;
use partnerhub_proto::tenants as pb;
use partnerhub_proto::tenants::tenant_internal_service_server::TenantInternalService;
use partnerhub_proto::tenants::tenant_service_server::TenantService;
use sqlx::AnyConnection;
use tonic::{Request, Response, Status};

/// The tenants service over its database.
#[derive(Debug, Clone)]
pub struct Tenants {
    db: Database,
    /// The service's own key: created users' temporary passwords are derived from it.
    key: SecretKey,
    /// How often a customer may ask partners to contact it.
    contact_limit: crate::domain::ContactLimit,
}

type Conn = sqlx::pool::PoolConnection<sqlx::Any>;

impl Tenants {
    pub fn new(db: Database, key: SecretKey) -> Self {
        Tenants {
            db,
            key,
            contact_limit: crate::domain::ContactLimit::default(),
        }
    }

    /// The service with another limit on contact requests (a setting).
    pub fn with_contact_limit(self, contact_limit: crate::domain::ContactLimit) -> Self {
        Tenants {
            contact_limit,
            ..self
        }
    }

    async fn conn(&self) -> Result<Conn> {
        Ok(self.db.pool.acquire().await?)
    }

    /// The temporary password a create gives the user `user_id`, with its stored hash.
    fn created_password(&self, user_id: &str) -> (String, String) {
        let temporary = password::derived_temporary(&self.key, user_id);
        let hash = password::hash_temporary(&temporary);
        (temporary, hash)
    }

    /// What a retried create answers as `user`'s temporary password: the one the first answer
    /// gave while it is still the user's (not changed by the user, not reset since), else "".
    async fn password_again(&self, conn: &mut AnyConnection, user: &User) -> Result<String> {
        if !user.password_change_required {
            return Ok(String::new());
        }
        let Some(stored) = store::credentials_by_id(conn, &user.id).await? else {
            return Ok(String::new());
        };
        let (temporary, _) = self.created_password(&user.id);
        Ok(
            if password::is_stored_temporary(&temporary, &stored.password_hash) {
                temporary
            } else {
                String::new()
            },
        )
    }
}

/// A handler's answer as tonic wants it.
fn answer<T>(result: Result<T>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl TenantService for Tenants {
    async fn create_partner(
        &self,
        request: Request<pb::CreatePartnerRequest>,
    ) -> Result<Response<pb::CreatePartnerResponse>, Status> {
        answer(tenants::create_partner(self, request).await)
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::GetTenantResponse>, Status> {
        answer(tenants::get_tenant(self, request).await)
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        answer(tenants::list_tenants(self, request).await)
    }

    async fn update_tenant(
        &self,
        request: Request<pb::UpdateTenantRequest>,
    ) -> Result<Response<pb::UpdateTenantResponse>, Status> {
        answer(tenants::update_tenant(self, request).await)
    }

    async fn verify_partner_id(
        &self,
        request: Request<pb::VerifyPartnerIdRequest>,
    ) -> Result<Response<pb::VerifyPartnerIdResponse>, Status> {
        answer(partners::verify_partner_id(self, request).await)
    }

    async fn search_partners(
        &self,
        request: Request<pb::SearchPartnersRequest>,
    ) -> Result<Response<pb::SearchPartnersResponse>, Status> {
        answer(partners::search_partners(self, request).await)
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        answer(users::create_user(self, request).await)
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        answer(users::get_user(self, request).await)
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        answer(users::list_users(self, request).await)
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        answer(users::update_user(self, request).await)
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        answer(users::delete_user(self, request).await)
    }

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        answer(users::reset_password(self, request).await)
    }

    async fn reset_second_factor(
        &self,
        request: Request<pb::ResetSecondFactorRequest>,
    ) -> Result<Response<pb::ResetSecondFactorResponse>, Status> {
        answer(second_factor::reset(self, request).await)
    }

    async fn accept_agreement(
        &self,
        request: Request<pb::AcceptAgreementRequest>,
    ) -> Result<Response<pb::AcceptAgreementResponse>, Status> {
        answer(agreements::accept_agreement(self, request).await)
    }

    async fn list_agreements(
        &self,
        request: Request<pb::ListAgreementsRequest>,
    ) -> Result<Response<pb::ListAgreementsResponse>, Status> {
        answer(agreements::list_agreements(self, request).await)
    }

    async fn create_service_account(
        &self,
        request: Request<pb::CreateServiceAccountRequest>,
    ) -> Result<Response<pb::CreateServiceAccountResponse>, Status> {
        answer(service_accounts::create_service_account(self, request).await)
    }

    async fn get_service_account(
        &self,
        request: Request<pb::GetServiceAccountRequest>,
    ) -> Result<Response<pb::GetServiceAccountResponse>, Status> {
        answer(service_accounts::get_service_account(self, request).await)
    }

    async fn list_service_accounts(
        &self,
        request: Request<pb::ListServiceAccountsRequest>,
    ) -> Result<Response<pb::ListServiceAccountsResponse>, Status> {
        answer(service_accounts::list_service_accounts(self, request).await)
    }

    async fn update_service_account(
        &self,
        request: Request<pb::UpdateServiceAccountRequest>,
    ) -> Result<Response<pb::UpdateServiceAccountResponse>, Status> {
        answer(service_accounts::update_service_account(self, request).await)
    }

    async fn delete_service_account(
        &self,
        request: Request<pb::DeleteServiceAccountRequest>,
    ) -> Result<Response<pb::DeleteServiceAccountResponse>, Status> {
        answer(service_accounts::delete_service_account(self, request).await)
    }

    async fn add_service_account_secret(
        &self,
        request: Request<pb::AddServiceAccountSecretRequest>,
    ) -> Result<Response<pb::AddServiceAccountSecretResponse>, Status> {
        answer(service_accounts::add_service_account_secret(self, request).await)
    }

    async fn delete_service_account_secret(
        &self,
        request: Request<pb::DeleteServiceAccountSecretRequest>,
    ) -> Result<Response<pb::DeleteServiceAccountSecretResponse>, Status> {
        answer(service_accounts::delete_service_account_secret(self, request).await)
    }

    async fn contact_partners(
        &self,
        request: Request<pb::ContactPartnersRequest>,
    ) -> Result<Response<pb::ContactPartnersResponse>, Status> {
        answer(contact_requests::contact_partners(self, request).await)
    }

    async fn list_contact_requests(
        &self,
        request: Request<pb::ListContactRequestsRequest>,
    ) -> Result<Response<pb::ListContactRequestsResponse>, Status> {
        answer(contact_requests::list_contact_requests(self, request).await)
    }
}

#[tonic::async_trait]
impl TenantInternalService for Tenants {
    async fn create_customer_tenant(
        &self,
        request: Request<pb::CreateCustomerTenantRequest>,
    ) -> Result<Response<pb::CreateCustomerTenantResponse>, Status> {
        answer(tenants::create_customer_tenant(self, request).await)
    }

    async fn activate_tenant(
        &self,
        request: Request<pb::ActivateTenantRequest>,
    ) -> Result<Response<pb::ActivateTenantResponse>, Status> {
        answer(tenants::activate_tenant(self, request).await)
    }

    async fn release_customer_tenant(
        &self,
        request: Request<pb::ReleaseCustomerTenantRequest>,
    ) -> Result<Response<pb::ReleaseCustomerTenantResponse>, Status> {
        answer(tenants::release_customer_tenant(self, request).await)
    }

    async fn batch_get_tenants(
        &self,
        request: Request<pb::BatchGetTenantsRequest>,
    ) -> Result<Response<pb::BatchGetTenantsResponse>, Status> {
        answer(tenants::batch_get_tenants(self, request).await)
    }

    async fn batch_get_partner_listings(
        &self,
        request: Request<pb::BatchGetPartnerListingsRequest>,
    ) -> Result<Response<pb::BatchGetPartnerListingsResponse>, Status> {
        answer(partners::batch_get_partner_listings(self, request).await)
    }

    async fn batch_get_users(
        &self,
        request: Request<pb::BatchGetUsersRequest>,
    ) -> Result<Response<pb::BatchGetUsersResponse>, Status> {
        answer(users::batch_get_users(self, request).await)
    }

    async fn check_credentials(
        &self,
        request: Request<pb::CheckCredentialsRequest>,
    ) -> Result<Response<pb::CheckCredentialsResponse>, Status> {
        answer(sign_in::check_credentials(self, request).await)
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        answer(sign_in::change_password(self, request).await)
    }

    async fn begin_second_factor_enrollment(
        &self,
        request: Request<pb::BeginSecondFactorEnrollmentRequest>,
    ) -> Result<Response<pb::BeginSecondFactorEnrollmentResponse>, Status> {
        answer(second_factor::begin(self, request).await)
    }

    async fn confirm_second_factor_enrollment(
        &self,
        request: Request<pb::ConfirmSecondFactorEnrollmentRequest>,
    ) -> Result<Response<pb::ConfirmSecondFactorEnrollmentResponse>, Status> {
        answer(second_factor::confirm(self, request).await)
    }

    async fn remove_second_factor(
        &self,
        request: Request<pb::RemoveSecondFactorRequest>,
    ) -> Result<Response<pb::RemoveSecondFactorResponse>, Status> {
        answer(second_factor::remove(self, request).await)
    }

    async fn get_principal(
        &self,
        request: Request<pb::GetPrincipalRequest>,
    ) -> Result<Response<pb::GetPrincipalResponse>, Status> {
        answer(sign_in::get_principal(self, request).await)
    }

    async fn check_service_account_credentials(
        &self,
        request: Request<pb::CheckServiceAccountCredentialsRequest>,
    ) -> Result<Response<pb::CheckServiceAccountCredentialsResponse>, Status> {
        answer(service_accounts::check_service_account_credentials(self, request).await)
    }

    async fn answer_contact_request(
        &self,
        request: Request<pb::AnswerContactRequestRequest>,
    ) -> Result<Response<pb::AnswerContactRequestResponse>, Status> {
        answer(contact_requests::answer_contact_request(self, request).await)
    }
}

/// Refuses a write whose etag is not the current version's.
fn check_etag(what: &'static str, sent: Option<i64>, current: i64) -> Result<()> {
    match sent {
        Some(v) if v != current => Err(Error::StaleEtag {
            what,
            sent: fields::etag_of(v),
            current: fields::etag_of(current),
        }),
        _ => Ok(()),
    }
}

/// One tenant's records, a page at a time, filtered by one enum (users by role, agreements by
/// type): the tenant id, the filter as the tables spell it ("" for any) and the page, every bad
/// field named at once.
fn tenant_page<E: Copy + TryFrom<i32> + Into<i32>>(
    what: &str,
    tenant_id: &str,
    filter: (&str, i32, fn(&E) -> &'static str),
    page_size: i32,
    page_token: &str,
) -> Result<(String, &'static str, Page)> {
    let mut v = Violations::new();
    let tenant_id = v
        .take(fields::id("tenant_id", tenant_id))
        .map(|t| t.to_string())
        .unwrap_or_default();
    let (field, raw, name) = filter;
    let filter = enum_filter(&mut v, field, raw, name);
    let page = v.take(Page::parse(
        page_size,
        page_token,
        what,
        &[&tenant_id, filter],
    ));
    Ok((tenant_id, filter, v.done(page)?))
}

/// An optional enum filter as the tables spell it: unset (0) is "", an unknown number a
/// violation.
fn enum_filter<E: Copy + TryFrom<i32> + Into<i32>>(
    v: &mut Violations,
    field: &str,
    raw: i32,
    name: fn(&E) -> &'static str,
) -> &'static str {
    match E::try_from(raw) {
        Ok(e) if e.into() == 0 => "",
        Ok(e) => name(&e),
        Err(_) => {
            v.add(field, "is not a known value");
            ""
        }
    }
}
