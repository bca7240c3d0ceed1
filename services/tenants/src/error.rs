//! Everything the tenants service can answer besides success.

use partnerhub_kit::status::{Fault, Shared, Variants, Violations};
use std::time::Duration;
use tonic::Code;

/// `ErrorInfo.domain` of this service's errors.
pub const DOMAIN: &str = "tenants.partnerhub";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("tenant {0} not found")]
    TenantNotFound(String),
    #[error("user {0} not found in this tenant")]
    UserNotFound(String),
    #[error("service account {0} not found in this tenant")]
    ServiceAccountNotFound(String),
    #[error("the service account has no secret {0}")]
    SecretNotFound(String),
    #[error(
        "the service account has {} secrets already, the most it may hold; delete one first",
        crate::domain::MAX_SECRETS
    )]
    SecretLimitReached,
    #[error("no partner holds the partner ID {0}")]
    PartnerIdNotFound(String),
    #[error("the partner ID {0} belongs to another partner already")]
    MpnIdTaken(String),
    /// ALREADY_EXISTS wherever it is met, also when other fields are bad too: `violations`
    /// names the prefix's field ("" from the store, which doesn't know it) and theirs.
    #[error("the domain prefix {prefix:?} is taken; choose another")]
    DomainPrefixTaken {
        prefix: String,
        violations: Violations,
    },
    #[error("the user name {0} is taken")]
    UserNameTaken(String),
    #[error("{what} changed since it was read (etag {sent}, now {current}); read it again")]
    StaleEtag {
        what: &'static str,
        sent: String,
        current: String,
    },
    #[error("{0} is the tenant's last global admin; make another user global admin first")]
    LastGlobalAdmin(String),
    #[error("{0}")]
    AdminRoleRequired(String),
    #[error("user name or password is incorrect")]
    InvalidCredentials,
    #[error("too many wrong passwords in a row: sign-in waits; try again in {} s", .0.as_secs().max(1))]
    Locked(Duration),
    #[error("the user has a second factor: send the code its authenticator app shows")]
    SecondFactorRequired,
    #[error("the one-time code is wrong, expired or used already")]
    InvalidSecondFactor,
    #[error("the user has a second factor already; remove it first")]
    SecondFactorEnrolled,
    #[error("the user has no second factor")]
    NoSecondFactor,
    #[error("no second-factor enrollment is under way: call BeginSecondFactorEnrollment first")]
    NoSecondFactorEnrollment,
    #[error("the tenant is not active yet")]
    TenantNotActive,
    #[error("tenant {0} is active: only a pending customer is released")]
    TenantActive(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("tenant {0} is not an active customer; only customers ask partners to contact them")]
    NotACustomer(String),
    #[error(
        "this customer has asked to be contacted as often today as it may (by default 5 times \
         and 10 partners a day); try again in {} s",
        .0.as_secs().max(1)
    )]
    ContactLimit(Duration),
    #[error("contact request {0} not found among those sent to this partner")]
    ContactRequestNotFound(String),
    #[error("contact request {0} was answered with another invitation already")]
    ContactRequestAnswered(String),
    #[error(transparent)]
    Shared(#[from] Shared),
}

partnerhub_kit::service_errors!(
    Error,
    domain: DOMAIN,
    invalid: Error::Invalid,
    shared: Error::Shared,
    taken: Error::MpnIdTaken(_) | Error::DomainPrefixTaken { .. } | Error::UserNameTaken(_)
);

impl Error {
    /// A taken domain prefix, before anyone knows in which request field.
    pub fn domain_prefix_taken(prefix: &str) -> Error {
        Error::DomainPrefixTaken {
            prefix: prefix.to_string(),
            violations: Violations::new(),
        }
    }
}

impl Fault for Error {
    fn code(&self) -> Code {
        match self {
            Error::Invalid(_) => Code::InvalidArgument,
            Error::TenantNotFound(_)
            | Error::UserNotFound(_)
            | Error::PartnerIdNotFound(_)
            | Error::ServiceAccountNotFound(_)
            | Error::SecretNotFound(_)
            | Error::ContactRequestNotFound(_) => Code::NotFound,
            Error::ContactRequestAnswered(_) => Code::FailedPrecondition,
            Error::SecretLimitReached => Code::FailedPrecondition,
            Error::MpnIdTaken(_) | Error::DomainPrefixTaken { .. } | Error::UserNameTaken(_) => {
                Code::AlreadyExists
            }
            Error::StaleEtag { .. } => Code::Aborted,
            Error::LastGlobalAdmin(_) | Error::TenantNotActive | Error::TenantActive(_) => {
                Code::FailedPrecondition
            }
            Error::InvalidCredentials
            | Error::SecondFactorRequired
            | Error::InvalidSecondFactor => Code::Unauthenticated,
            Error::SecondFactorEnrolled
            | Error::NoSecondFactor
            | Error::NoSecondFactorEnrollment => Code::FailedPrecondition,
            Error::AdminRoleRequired(_) => Code::PermissionDenied,
            Error::Locked(_) | Error::ContactLimit(_) => Code::ResourceExhausted,
            Error::NotACustomer(_) => Code::FailedPrecondition,
            Error::Hashing(_) => Code::Internal,
            Error::Shared(e) => e.code(),
        }
    }

    fn reason(&self) -> &str {
        match self {
            Error::Invalid(_) => "INVALID_ARGUMENT",
            Error::TenantNotFound(_) => "TENANT_NOT_FOUND",
            Error::UserNotFound(_) => "USER_NOT_FOUND",
            Error::PartnerIdNotFound(_) => "PARTNER_ID_NOT_FOUND",
            Error::ServiceAccountNotFound(_) => "SERVICE_ACCOUNT_NOT_FOUND",
            Error::SecretNotFound(_) => "SECRET_NOT_FOUND",
            Error::SecretLimitReached => "SECRET_LIMIT_REACHED",
            Error::MpnIdTaken(_) => "MPN_ID_TAKEN",
            Error::DomainPrefixTaken { .. } => "DOMAIN_PREFIX_TAKEN",
            Error::UserNameTaken(_) => "USER_NAME_TAKEN",
            Error::StaleEtag { .. } => "ETAG_MISMATCH",
            Error::LastGlobalAdmin(_) => "LAST_GLOBAL_ADMIN",
            Error::InvalidCredentials => "INVALID_CREDENTIALS",
            Error::SecondFactorRequired => "SECOND_FACTOR_REQUIRED",
            Error::InvalidSecondFactor => "INVALID_SECOND_FACTOR",
            Error::SecondFactorEnrolled => "SECOND_FACTOR_ENROLLED",
            Error::NoSecondFactor => "NO_SECOND_FACTOR",
            Error::NoSecondFactorEnrollment => "NO_SECOND_FACTOR_ENROLLMENT",
            Error::AdminRoleRequired(_) => "ADMIN_ROLE_REQUIRED",
            Error::Locked(_) => "SIGN_IN_LOCKED",
            Error::NotACustomer(_) => "NOT_A_CUSTOMER",
            Error::ContactRequestNotFound(_) => "CONTACT_REQUEST_NOT_FOUND",
            Error::ContactRequestAnswered(_) => "CONTACT_REQUEST_ANSWERED",
            Error::ContactLimit(_) => "CONTACT_LIMIT",
            Error::TenantNotActive => "TENANT_NOT_ACTIVE",
            Error::TenantActive(_) => "TENANT_ACTIVE",
            Error::Hashing(_) => "INTERNAL",
            Error::Shared(e) => e.reason(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Locked(d) | Error::ContactLimit(d) => Some(*d),
            _ => None,
        }
    }

    fn violations(&self) -> &[partnerhub_kit::status::Violation] {
        match self {
            Error::Invalid(v) | Error::DomainPrefixTaken { violations: v, .. } => v.as_slice(),
            _ => &[],
        }
    }

    fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            Error::TenantNotFound(id) | Error::TenantActive(id) | Error::NotACustomer(id) => {
                vec![("tenantId", id.clone())]
            }
            Error::UserNotFound(id) => vec![("userId", id.clone())],
            Error::ContactRequestNotFound(id) | Error::ContactRequestAnswered(id) => {
                vec![("contactRequestId", id.clone())]
            }
            Error::ServiceAccountNotFound(id) => vec![("serviceAccountId", id.clone())],
            Error::SecretNotFound(id) => vec![("secretId", id.clone())],
            Error::PartnerIdNotFound(mpn) | Error::MpnIdTaken(mpn) => {
                vec![("mpnId", mpn.clone())]
            }
            Error::DomainPrefixTaken { prefix, .. } => vec![("domainPrefix", prefix.clone())],
            Error::UserNameTaken(name) => vec![("userName", name.clone())],
            Error::LastGlobalAdmin(user) => vec![("user", user.clone())],
            Error::StaleEtag { current, .. } => vec![("etag", current.clone())],
            _ => Vec::new(),
        }
    }

    fn variants(&self) -> Option<&dyn Variants> {
        Some(self)
    }
}
