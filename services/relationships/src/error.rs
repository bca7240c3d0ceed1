//! Everything the relationships service can answer besides success.

use partnerhub_kit::status::{self, Fault, Violation, Violations};
use partnerhub_kit::store::RequestIdReused;
use std::time::Duration;
use tonic::Code;

/// `ErrorInfo.domain` of this service's errors.
pub const DOMAIN: &str = "relationships.partnerhub";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("invalid request: {0}")]
    RequestIdReused(Violations),
    #[error("relationship {0} not found")]
    RelationshipNotFound(String),
    #[error(
        "a customer can't end a reseller relationship; the reseller must end it (the customer \
         can remove the reseller's admin roles instead)"
    )]
    CustomerCannotEndReseller,
    #[error(
        "the partner {partner} has no reseller relationship with the customer {customer} (neither \
         its own nor as the indirect provider of the customer's reseller)"
    )]
    NotResellerOfCustomer { partner: String, customer: String },
    #[error(
        "the indirect reseller {reseller} is not in an active partnership with the partner \
         {partner}"
    )]
    ResellerNotInPartnership { reseller: String, partner: String },
    #[error("the indirect reseller {0} has not accepted the partner agreement")]
    ResellerAgreementNotAccepted(String),
    #[error("the tenants service did not answer: {0}")]
    TenantsUnavailable(String),
    #[error("stored data is inconsistent: {0}")]
    Inconsistent(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Error {
    /// One bad field.
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::Invalid(Violations::one(field, description))
    }

    /// A unique-constraint violation: a concurrent write got there first.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::Database(e) if partnerhub_kit::store::is_unique_violation(e))
    }
}

impl From<Violations> for Error {
    fn from(v: Violations) -> Self {
        Error::Invalid(v)
    }
}

impl Fault for Error {
    fn code(&self) -> Code {
        match self {
            Error::Invalid(_) | Error::RequestIdReused(_) => Code::InvalidArgument,
            Error::RelationshipNotFound(_) => Code::NotFound,
            Error::CustomerCannotEndReseller
            | Error::NotResellerOfCustomer { .. }
            | Error::ResellerNotInPartnership { .. }
            | Error::ResellerAgreementNotAccepted(_) => Code::FailedPrecondition,
            Error::TenantsUnavailable(_) => Code::Unavailable,
            Error::Inconsistent(_) => Code::Internal,
            Error::Database(e) => status::database_code(e),
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "INVALID_ARGUMENT",
            Error::RequestIdReused(_) => "REQUEST_ID_REUSED",
            Error::RelationshipNotFound(_) => "RELATIONSHIP_NOT_FOUND",
            Error::CustomerCannotEndReseller => "RESELLER_RELATIONSHIP_CUSTOMER_CANNOT_END",
            Error::NotResellerOfCustomer { .. } => "NOT_RESELLER_OF_CUSTOMER",
            Error::ResellerNotInPartnership { .. } => "RESELLER_NOT_IN_PARTNERSHIP",
            Error::ResellerAgreementNotAccepted(_) => "RESELLER_AGREEMENT_NOT_ACCEPTED",
            Error::TenantsUnavailable(_) => "SERVICE_UNAVAILABLE",
            Error::Database(e) if status::database_code(e) == Code::Unavailable => {
                "DATABASE_UNAVAILABLE"
            }
            Error::Inconsistent(_) | Error::Database(_) => "INTERNAL",
        }
    }

    fn violations(&self) -> &[Violation] {
        match self {
            Error::Invalid(v) | Error::RequestIdReused(v) => v.as_slice(),
            _ => &[],
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::TenantsUnavailable(_) => Some(status::RETRY_UNAVAILABLE),
            Error::Database(e) if status::database_code(e) == Code::Unavailable => {
                Some(status::RETRY_UNAVAILABLE)
            }
            _ => None,
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        status::to_status(&e, DOMAIN)
    }
}

/// Handlers' result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<RequestIdReused> for Error {
    fn from(reused: RequestIdReused) -> Self {
        Error::RequestIdReused(reused.violations())
    }
}
