//! One conversion from a service's error enum to `tonic::Status`.
//!
//! Every error carries `ErrorInfo { reason, domain }`; bad input also carries `BadRequest`
//! field violations, and "try later" errors `RetryInfo`. Internal failures are logged here and
//! reach the caller only as "internal error", so no SQL or secret leaks out.

use std::time::Duration;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub use partnerhub_rules::field::{Violation, Violations};

/// What a service error tells about itself; [`to_status`] turns it into a `tonic::Status`.
pub trait Fault: std::error::Error {
    /// The gRPC code.
    fn code(&self) -> Code;
    /// A stable, UPPER_SNAKE reason for `ErrorInfo` (clients switch on it, not on messages).
    fn reason(&self) -> &str;
    /// The request fields at fault, for `BadRequest`.
    fn violations(&self) -> &[Violation] {
        &[]
    }
    /// When to try again, for `RetryInfo`.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// The one conversion. `domain` names the service ("tenants.partnerhub").
pub fn to_status<E: Fault + ?Sized>(error: &E, domain: &str) -> Status {
    let code = error.code();
    let message = match code {
        Code::Internal | Code::Unknown | Code::DataLoss => {
            tracing::error!(error = %error, domain, "internal error");
            "internal error; the details are in the server log".to_string()
        }
        Code::Unavailable => {
            tracing::warn!(error = %error, domain, "unavailable");
            error.to_string()
        }
        _ => error.to_string(),
    };
    let mut details = ErrorDetails::new();
    details.set_error_info(error.reason(), domain, std::collections::HashMap::new());
    let violations = error.violations();
    if !violations.is_empty() {
        details.set_bad_request(
            violations
                .iter()
                .map(|v| tonic_types::FieldViolation::new(&v.field, &v.description))
                .collect::<Vec<_>>(),
        );
    }
    if let Some(delay) = error.retry_after() {
        details.set_retry_info(Some(delay));
    }
    Status::with_error_details(code, message, details)
}

/// How long a client should wait before retrying after `UNAVAILABLE`.
pub const RETRY_UNAVAILABLE: Duration = Duration::from_secs(1);

/// The gRPC code for a database failure: `UNAVAILABLE` when the database can't be reached (a
/// retry may work), `INTERNAL` otherwise.
pub fn database_code(error: &sqlx::Error) -> Code {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            Code::Unavailable
        }
        _ => Code::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("bad: {0}")]
    struct Bad(Violations);

    impl Fault for Bad {
        fn code(&self) -> Code {
            Code::InvalidArgument
        }
        fn reason(&self) -> &'static str {
            "INVALID_ARGUMENT"
        }
        fn violations(&self) -> &[Violation] {
            self.0.as_slice()
        }
    }

    #[test]
    fn a_status_carries_reason_domain_and_every_field() {
        let mut v = Violations::new();
        v.add("a", "is missing");
        v.add("b.c", "is too long");
        let status = to_status(&Bad(v), "test.partnerhub");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "bad: a: is missing; b.c: is too long");
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(info.domain, "test.partnerhub");
        let fields: Vec<_> = details
            .bad_request()
            .expect("bad request")
            .field_violations
            .iter()
            .map(|f| f.field.clone())
            .collect();
        assert_eq!(fields, ["a", "b.c"]);
    }
}
