//! Everything `SupportService` can answer besides success, in its own domain.

use partnerhub_kit::status::{Fault, Shared, Variants, Violations};
use tonic::Code;

/// `ErrorInfo.domain` of the support service's errors.
pub const DOMAIN: &str = "support.partnerhub";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    /// Also a request the reading tenant may not see: ids don't leak.
    #[error("service request {0} not found")]
    ServiceRequestNotFound(String),
    /// Also a subscription of another customer.
    #[error("subscription {0} not found among the customer's subscriptions")]
    SubscriptionNotFound(String),
    #[error("service request {0} is closed; closing is final: open a new request")]
    Closed(String),
    #[error(
        "the service request changed since it was read (etag {sent}, now {current}); read it again"
    )]
    StaleEtag { sent: String, current: String },
    #[error("the service request changed while this change was made; read it again and retry")]
    Contended,
    #[error(transparent)]
    Shared(#[from] Shared),
}

partnerhub_kit::service_errors!(Error, domain: DOMAIN, invalid: Error::Invalid, shared: Error::Shared);

impl Fault for Error {
    fn code(&self) -> Code {
        match self {
            Error::Invalid(_) => Code::InvalidArgument,
            Error::ServiceRequestNotFound(_) | Error::SubscriptionNotFound(_) => Code::NotFound,
            Error::Closed(_) => Code::FailedPrecondition,
            Error::StaleEtag { .. } | Error::Contended => Code::Aborted,
            Error::Shared(e) => e.code(),
        }
    }

    fn reason(&self) -> &str {
        match self {
            Error::Invalid(_) => "INVALID_ARGUMENT",
            Error::ServiceRequestNotFound(_) => "SERVICE_REQUEST_NOT_FOUND",
            Error::SubscriptionNotFound(_) => "SUBSCRIPTION_NOT_FOUND",
            Error::Closed(_) => "SERVICE_REQUEST_CLOSED",
            Error::StaleEtag { .. } | Error::Contended => "ETAG_MISMATCH",
            Error::Shared(e) => e.reason(),
        }
    }

    fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            Error::ServiceRequestNotFound(id) | Error::Closed(id) => {
                vec![("serviceRequestId", id.clone())]
            }
            Error::SubscriptionNotFound(id) => vec![("subscriptionId", id.clone())],
            Error::StaleEtag { current, .. } => vec![("etag", current.clone())],
            _ => Vec::new(),
        }
    }

    fn variants(&self) -> Option<&dyn Variants> {
        Some(self)
    }
}
