//! What the gateway itself answers besides success (errors of the services behind it pass
//! through unchanged).

use partnerhub_kit::status::{self, Fault, Violation, Violations};
use std::time::Duration;
use tonic::{Code, Status};

/// `ErrorInfo.domain` of the gateway's own errors.
pub const DOMAIN: &str = "gateway.partnerhub";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sign in first: send \"authorization: Bearer <token>\" (AuthService.SignIn gives one)")]
    TokenMissing,
    #[error("the access token is not valid; sign in again")]
    TokenInvalid,
    #[error("the access token has expired; sign in again")]
    TokenExpired,
    #[error("the signed-in user no longer exists; sign in again")]
    UserGone,
    #[error("the password changed after this token was issued; sign in again")]
    TokenOutdated,
    #[error(
        "change your password first (AuthService.ChangePassword): you signed in with a temporary one"
    )]
    PasswordChangeRequired,
    #[error(
        "enroll a second factor first (AuthService.BeginSecondFactorEnrollment, then \
         ConfirmSecondFactorEnrollment): this deployment requires one of partners' staff"
    )]
    SecondFactorEnrollmentRequired,
    #[error("your tenant is not active yet")]
    TenantNotActive,
    #[error("{0} is an internal method; it is not served through the gateway")]
    InternalMethod(String),
    #[error("{0} is not served through the gateway")]
    NotServed(String),
    #[error("{0} is for the platform operator only")]
    OperatorOnly(String),
    #[error("the operator can't call {0}; a user of the tenant must")]
    NotForOperator(String),
    #[error("{method} in this tenant needs one of these roles: {roles}")]
    RoleRequired { method: String, roles: String },
    #[error("you have no access to tenant {0}")]
    NoAccessToTenant(String),
    #[error(
        "{method} in this customer needs one of these roles: {roles}; through your partner's delegated admin you hold: {held}"
    )]
    DelegatedRoleRequired {
        method: String,
        roles: String,
        held: String,
    },
    #[error("too many sign-ins from this {by}; try again in {} s", .retry.as_secs().max(1))]
    SignInRateLimited { by: &'static str, retry: Duration },
    #[error("the operator has no password to change")]
    OperatorHasNoPassword,
    #[error("a service account has no password; it signs in with its secrets")]
    ServiceAccountHasNoPassword,
    #[error(
        "the customer has not accepted the customer agreement: send agreement_signer (the person who accepts it) with the acceptance"
    )]
    AgreementNotAccepted,
    /// Everything a review found wrong; the first problem's reason names the error.
    #[error("the request has problems: {violations}")]
    Problems {
        reason: String,
        /// INVALID_ARGUMENT for bad input; FAILED_PRECONDITION (or NOT_FOUND, for a partner ID
        /// no partner holds) for a rule about the world.
        code: Code,
        violations: Violations,
    },
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("the request is not a well-formed gRPC message: {0}")]
    Malformed(String),
    #[error("{0} is unavailable right now; try again")]
    Unavailable(&'static str),
    #[error("no answer within the deadline")]
    DeadlinePassed,
    #[error(
        "the workflow could not be finished within {} s of its submission, and what it had made \
         was undone; submit it again with a new request_id",
        .0.as_secs()
    )]
    WorkflowAbandoned(Duration),
    #[error("the gateway's database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Fault for Error {
    fn code(&self) -> Code {
        match self {
            Error::TokenMissing
            | Error::TokenInvalid
            | Error::TokenExpired
            | Error::TokenOutdated
            | Error::UserGone => Code::Unauthenticated,
            Error::PasswordChangeRequired
            | Error::SecondFactorEnrollmentRequired
            | Error::TenantNotActive
            | Error::OperatorHasNoPassword
            | Error::ServiceAccountHasNoPassword
            | Error::AgreementNotAccepted => Code::FailedPrecondition,
            Error::Problems { code, .. } => *code,
            Error::InternalMethod(_)
            | Error::OperatorOnly(_)
            | Error::NotForOperator(_)
            | Error::RoleRequired { .. }
            | Error::DelegatedRoleRequired { .. }
            | Error::NoAccessToTenant(_) => Code::PermissionDenied,
            Error::NotServed(_) => Code::Unimplemented,
            Error::Invalid(_) | Error::Malformed(_) => Code::InvalidArgument,
            Error::Unavailable(_) => Code::Unavailable,
            Error::SignInRateLimited { .. } => Code::ResourceExhausted,
            Error::DeadlinePassed => Code::DeadlineExceeded,
            Error::WorkflowAbandoned(_) => Code::Aborted,
            Error::Database(e) => status::database_code(e),
        }
    }

    fn reason(&self) -> &str {
        match self {
            Error::TokenMissing => "TOKEN_MISSING",
            Error::TokenInvalid => "TOKEN_INVALID",
            Error::TokenExpired => "TOKEN_EXPIRED",
            Error::UserGone => "USER_NOT_FOUND",
            Error::TokenOutdated => "TOKEN_OUTDATED",
            Error::PasswordChangeRequired => "PASSWORD_CHANGE_REQUIRED",
            Error::SecondFactorEnrollmentRequired => "SECOND_FACTOR_ENROLLMENT_REQUIRED",
            Error::TenantNotActive => "TENANT_NOT_ACTIVE",
            Error::InternalMethod(_) => "INTERNAL_METHOD",
            Error::NotServed(_) => "METHOD_NOT_SERVED",
            Error::OperatorOnly(_) => "OPERATOR_ONLY",
            Error::NotForOperator(_) => "NOT_FOR_OPERATOR",
            Error::RoleRequired { .. } | Error::DelegatedRoleRequired { .. } => "ROLE_REQUIRED",
            Error::NoAccessToTenant(_) => "NO_ACCESS_TO_TENANT",
            Error::OperatorHasNoPassword => "OPERATOR_HAS_NO_PASSWORD",
            Error::ServiceAccountHasNoPassword => "SERVICE_ACCOUNT_HAS_NO_PASSWORD",
            Error::AgreementNotAccepted => "AGREEMENT_NOT_ACCEPTED",
            Error::Problems { reason, .. } => reason,
            Error::Invalid(_) => "INVALID_ARGUMENT",
            Error::Malformed(_) => "MALFORMED_REQUEST",
            Error::Unavailable(_) => "SERVICE_UNAVAILABLE",
            Error::SignInRateLimited { .. } => "SIGN_IN_RATE_LIMITED",
            Error::DeadlinePassed => "DEADLINE_EXCEEDED",
            Error::WorkflowAbandoned(_) => "WORKFLOW_ABANDONED",
            Error::Database(e) if status::database_code(e) == Code::Unavailable => {
                "DATABASE_UNAVAILABLE"
            }
            Error::Database(_) => "INTERNAL",
        }
    }

    fn violations(&self) -> &[Violation] {
        match self {
            Error::Invalid(v) | Error::Problems { violations: v, .. } => v.as_slice(),
            _ => &[],
        }
    }

    fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            Error::RoleRequired { roles, .. } => vec![("roles", roles.clone())],
            Error::DelegatedRoleRequired { roles, held, .. } => {
                vec![("roles", roles.clone()), ("heldRoles", held.clone())]
            }
            Error::NoAccessToTenant(id) => vec![("tenantId", id.clone())],
            Error::SignInRateLimited { by, .. } => vec![("limitedBy", by.to_string())],
            _ => Vec::new(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Unavailable(_) => Some(status::RETRY_UNAVAILABLE),
            Error::Database(e) if status::database_code(e) == Code::Unavailable => {
                Some(status::RETRY_UNAVAILABLE)
            }
            // Whole seconds, rounded up: trying again at once would be refused again.
            Error::SignInRateLimited { retry, .. } => Some(Duration::from_secs(
                retry.as_secs() + u64::from(retry.subsec_nanos() > 0),
            )),
            _ => None,
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        status::to_status(&e, DOMAIN)
    }
}

/// A service's error, passed on to the caller as it was (code, message and details), without
/// the transport headers that came with it.
///
/// Every answer a service gives carries its `ErrorInfo`; a status without details was made by
/// the transport: the service unreachable, or gone in the middle of the call (a crash, a
/// restart, a cut connection), which the client library reports as UNKNOWN, INTERNAL,
/// CANCELLED or UNAVAILABLE. All of those are UNAVAILABLE with `RetryInfo` to the caller, who
/// can then tell that a retry is safe (workflows carry request ids) — except the end of the
/// caller's own deadline, which is DEADLINE_EXCEEDED as the gateway's own timer says.
pub fn relay(status: Status) -> Status {
    if status.details().is_empty() {
        if matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded)
            && partnerhub_kit::telemetry::deadline_passed()
        {
            return Error::DeadlinePassed.into();
        }
        if matches!(
            status.code(),
            Code::Unavailable
                | Code::Unknown
                | Code::Internal
                | Code::Cancelled
                | Code::DeadlineExceeded
        ) {
            tracing::warn!(error = %status, "service unreachable or gone mid-call");
            return Error::Unavailable("a service behind the gateway").into();
        }
    }
    Status::with_details(
        status.code(),
        status.message(),
        status.details().to_vec().into(),
    )
}
