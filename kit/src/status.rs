//! One conversion from a service's error enum to `tonic::Status`.
//!
//! Every error carries `ErrorInfo { reason, domain }`; bad input also carries `BadRequest`
//! field violations, and "try later" errors `RetryInfo`. Internal failures are logged here and
//! reach the caller only as "internal error", so no SQL or secret leaks out.

use std::time::Duration;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub use partnerhub_rules::field::{Violation, Violations};

use crate::peers::PeerError;
use crate::store::RequestIdReused;

/// Where a service's error enum keeps bad input and the shared failures; written by
/// [`service_errors!`](crate::service_errors).
pub trait Variants {
    /// The bad input, if this is it.
    fn invalid(&self) -> Option<&Violations>;
    /// The failure every service shares that this is, if it is one: it then answers for itself
    /// (code, reason, details), so a service's own arms cover only its own variants.
    fn shared(&self) -> Option<&Shared>;
}

/// What a service error tells about itself; [`to_status`] turns it into a `tonic::Status`.
pub trait Fault: std::error::Error {
    /// The gRPC code.
    fn code(&self) -> Code;
    /// A stable, UPPER_SNAKE reason for `ErrorInfo` (clients switch on it, not on messages).
    fn reason(&self) -> &str;
    /// The request fields at fault, for `BadRequest` (by default those of the bad input).
    fn violations(&self) -> &[Violation] {
        self.variants()
            .and_then(Variants::invalid)
            .map_or(&[], Violations::as_slice)
    }
    /// The values the refusal is about (tenant id, offer id, roles, ...), for
    /// `ErrorInfo.metadata` (AIP-193), so that clients need not parse messages. Keys are
    /// lowerCamelCase; the field of a bad input is added as `field` without being listed here.
    fn metadata(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// When to try again, for `RetryInfo`.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
    /// Another service's refusal to pass on as it is (code, message, details in its domain).
    fn relayed(&self) -> Option<&Status> {
        None
    }
    /// Its bad input and shared failures, for a service's error enum.
    fn variants(&self) -> Option<&dyn Variants> {
        None
    }
}

/// What can go wrong in every service the same way: its database, a service it asks, a
/// request id reused for another request. Each service's error enum holds it as one variant
/// (see [`service_errors!`](crate::service_errors)), so the arms are written once, here.
#[derive(Debug, thiserror::Error)]
pub enum Shared {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// A rule another service answers for refused the call (its FAILED_PRECONDITION), passed on.
    #[error("{}", .0.message())]
    Refused(Status),
    #[error("invalid request: {0}")]
    RequestIdReused(Violations),
    /// What the service stored contradicts itself (a bug, or a hand-edited database).
    #[error("stored data is inconsistent: {0}")]
    Inconsistent(String),
}

impl From<RequestIdReused> for Shared {
    fn from(reused: RequestIdReused) -> Self {
        Shared::RequestIdReused(reused.violations())
    }
}

impl Shared {
    /// A unique-constraint violation: a concurrent write got there first.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Shared::Database(e) if crate::store::is_unique_violation(e))
    }

    fn unavailable(&self) -> bool {
        match self {
            Shared::Database(e) => database_code(e) == Code::Unavailable,
            Shared::Peer(e) => e.unavailable(),
            Shared::Refused(_) | Shared::RequestIdReused(_) | Shared::Inconsistent(_) => false,
        }
    }
}

impl Fault for Shared {
    fn code(&self) -> Code {
        match self {
            _ if self.unavailable() => Code::Unavailable,
            Shared::Refused(status) => status.code(),
            Shared::RequestIdReused(_) => Code::InvalidArgument,
            Shared::Database(_) | Shared::Peer(_) | Shared::Inconsistent(_) => Code::Internal,
        }
    }

    fn reason(&self) -> &str {
        match self {
            Shared::Database(_) if self.unavailable() => "DATABASE_UNAVAILABLE",
            Shared::Peer(_) if self.unavailable() => "SERVICE_UNAVAILABLE",
            Shared::RequestIdReused(_) => "REQUEST_ID_REUSED",
            Shared::Refused(_)
            | Shared::Database(_)
            | Shared::Peer(_)
            | Shared::Inconsistent(_) => "INTERNAL",
        }
    }

    fn violations(&self) -> &[Violation] {
        match self {
            Shared::RequestIdReused(v) => v.as_slice(),
            _ => &[],
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        self.unavailable().then_some(RETRY_UNAVAILABLE)
    }

    fn relayed(&self) -> Option<&Status> {
        match self {
            Shared::Refused(status) => Some(status),
            _ => None,
        }
    }
}

/// What every service's error enum needs besides its own variants, written once: `$invalid`
/// holds bad input ([`Violations`], with `Error::field` for one bad field), `$shared` the
/// [`Shared`] failures; the `From` conversions let `?` turn either into the enum, its
/// [`UniqueViolation`](crate::store::UniqueViolation) tells a lost race with a twin, and it
/// becomes a `tonic::Status` in `$domain`. Also the handlers' `Result`.
///
/// `$taken` (optional) names the service's own variants that a unique constraint turns into
/// ("the user name is taken"): a write that fails with one of them may have lost a race to its
/// twin, so [`write_once`](crate::store::write_once) looks for the twin's answer.
#[macro_export]
macro_rules! service_errors {
    ($error:ty, domain: $domain:expr, invalid: $invalid:path, shared: $shared:path $(, taken: $taken:pat)?) => {
        impl $error {
            /// Stored data that contradicts itself: INTERNAL, with `what` in the log only.
            pub fn inconsistent(what: impl Into<String>) -> Self {
                $shared($crate::status::Shared::Inconsistent(what.into()))
            }

            /// One bad field.
            pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
                $invalid($crate::status::Violations::one(field, description))
            }
        }
        impl From<$crate::status::Violations> for $error {
            fn from(v: $crate::status::Violations) -> Self {
                $invalid(v)
            }
        }
        impl From<sqlx::Error> for $error {
            fn from(e: sqlx::Error) -> Self {
                $shared($crate::status::Shared::Database(e))
            }
        }
        impl From<$crate::peers::PeerError> for $error {
            fn from(e: $crate::peers::PeerError) -> Self {
                $shared($crate::status::Shared::Peer(e))
            }
        }
        impl From<$crate::store::RequestIdReused> for $error {
            fn from(reused: $crate::store::RequestIdReused) -> Self {
                $shared(reused.into())
            }
        }
        impl $crate::status::Variants for $error {
            fn invalid(&self) -> Option<&$crate::status::Violations> {
                match self {
                    $invalid(v) => Some(v),
                    _ => None,
                }
            }
            fn shared(&self) -> Option<&$crate::status::Shared> {
                match self {
                    $shared(shared) => Some(shared),
                    _ => None,
                }
            }
        }
        impl From<$error> for tonic::Status {
            fn from(e: $error) -> Self {
                $crate::status::to_status(&e, $domain)
            }
        }
        /// Handlers' result type.
        pub type Result<T, E = $error> = std::result::Result<T, E>;
        impl $crate::store::UniqueViolation for $error {
            fn is_unique_violation(&self) -> bool {
                $(if matches!(self, $taken) {
                    return true;
                })?
                matches!(self, $shared(shared) if shared.is_unique_violation())
            }
        }
    };
}

/// The one conversion. `domain` names the service ("tenants.partnerhub").
pub fn to_status<E: Fault + ?Sized>(error: &E, domain: &str) -> Status {
    match error.variants().and_then(Variants::shared) {
        Some(shared) => status_of(shared, domain),
        None => status_of(error, domain),
    }
}

fn status_of<E: Fault + ?Sized>(error: &E, domain: &str) -> Status {
    if let Some(status) = error.relayed() {
        return Status::with_details(
            status.code(),
            status.message(),
            status.details().to_vec().into(),
        );
    }
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
    let all = error.violations();
    // Bounded, so that an answer always fits the HTTP/2 header limits of every hop (trailers
    // carry it): the first violations, each cut short, and how many there were in all.
    let violations: Vec<(&str, &str)> = all
        .iter()
        .take(MAX_VIOLATIONS)
        .map(|v| (cut(&v.field, MAX_TEXT), cut(&v.description, MAX_TEXT)))
        .collect();
    let mut metadata: std::collections::HashMap<String, String> = error
        .metadata()
        .into_iter()
        .map(|(k, v)| (k.to_string(), cut(&v, MAX_TEXT).to_string()))
        .collect();
    if let Some((field, _)) = violations.first() {
        metadata.insert("field".into(), field.to_string());
    }
    if all.len() > MAX_VIOLATIONS {
        metadata.insert("violationCount".into(), all.len().to_string());
    }
    details.set_error_info(error.reason(), domain, metadata);
    if code == Code::FailedPrecondition && !violations.is_empty() {
        // A rule about the world, found at a field: AIP-193's detail for it.
        details.set_precondition_failure(
            violations
                .iter()
                .map(|(field, description)| {
                    tonic_types::PreconditionViolation::new(error.reason(), *field, *description)
                })
                .collect::<Vec<_>>(),
        );
    } else if !violations.is_empty() {
        details.set_bad_request(
            violations
                .iter()
                .map(|(field, description)| tonic_types::FieldViolation::new(*field, *description))
                .collect::<Vec<_>>(),
        );
    }
    if let Some(delay) = error.retry_after() {
        details.set_retry_info(Some(delay));
    }
    let message = if message.len() > MAX_MESSAGE || all.len() > MAX_VIOLATIONS {
        let problems = match all.len() {
            0 | 1 => String::new(),
            n => format!(" ({n} problems in all)"),
        };
        format!("{}…{problems}", cut(&message, MAX_MESSAGE))
    } else {
        message
    };
    Status::with_error_details(code, message, details)
}

/// The most field violations an error lists (`violationCount` in `ErrorInfo.metadata` says
/// how many there were): a request with thousands of bad values must not get an answer too big
/// for the HTTP/2 header limits between the servers (16 KiB by default).
pub const MAX_VIOLATIONS: usize = 20;
/// The longest field name, description or metadata value an error repeats (input can be long).
const MAX_TEXT: usize = 256;
/// The longest message an error carries.
const MAX_MESSAGE: usize = 1024;

/// `text`, at most `max` bytes of it (on a character boundary).
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
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

    #[test]
    fn thousands_of_violations_give_an_answer_that_fits_any_header_limit() {
        let mut v = Violations::new();
        for i in 0..3000 {
            v.add(
                format!("country_codes[{i}]"),
                format!("{} is no country", "Z".repeat(1000)),
            );
        }
        let status = to_status(&Bad(v), "test.partnerhub");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().ends_with("… (3000 problems in all)"),
            "{}",
            status.message()
        );
        assert!(status.message().len() < 1100);
        let details = status.get_error_details();
        let violations = &details.bad_request().expect("bad request").field_violations;
        assert_eq!(violations.len(), MAX_VIOLATIONS);
        assert_eq!(violations[0].field, "country_codes[0]");
        assert!(violations.iter().all(|v| v.description.len() <= 256));
        let info = details.error_info().expect("error info");
        assert_eq!(info.metadata["violationCount"], "3000");
        // Message and details together, as the trailers carry them, well inside 16 KiB.
        assert!(status.message().len() + status.details().len() < 8 * 1024);
    }

    #[test]
    fn a_shared_failure_answers_for_itself() {
        let peer_down = Shared::Peer(PeerError {
            service: "tenants",
            status: Status::unavailable("connection refused"),
        });
        let status = to_status(&peer_down, "test.partnerhub");
        assert_eq!(status.code(), Code::Unavailable);
        let details = status.get_error_details();
        assert_eq!(details.error_info().unwrap().reason, "SERVICE_UNAVAILABLE");
        assert_eq!(
            details.retry_info().unwrap().retry_delay,
            Some(RETRY_UNAVAILABLE)
        );

        let peer_broken = Shared::Peer(PeerError {
            service: "tenants",
            status: Status::internal("oops"),
        });
        let status = to_status(&peer_broken, "test.partnerhub");
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("oops"), "no detail leaks out");

        let reused = to_status(&Shared::from(RequestIdReused), "test.partnerhub");
        assert_eq!(reused.code(), Code::InvalidArgument);
        let details = reused.get_error_details();
        assert_eq!(details.error_info().unwrap().reason, "REQUEST_ID_REUSED");
        assert_eq!(
            details.bad_request().unwrap().field_violations[0].field,
            "request_id"
        );
    }

    #[test]
    fn another_services_refusal_passes_on_as_it_is() {
        let mut details = ErrorDetails::new();
        details.set_error_info(
            "NOT_RESELLER_OF_CUSTOMER",
            "relationships.partnerhub",
            std::collections::HashMap::new(),
        );
        let refusal = Status::with_error_details(Code::FailedPrecondition, "no reseller", details);
        let status = to_status(&Shared::Refused(refusal), "subscriptions.partnerhub");
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(status.message(), "no reseller");
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.reason, "NOT_RESELLER_OF_CUSTOMER");
        assert_eq!(info.domain, "relationships.partnerhub");
    }
}
