//! Everything the subscriptions service can answer besides success.

use crate::domain;
use partnerhub_kit::status::{Fault, Shared, Variants, Violation, Violations};
use tonic::Code;

/// `ErrorInfo.domain` of this service's errors.
pub const DOMAIN: &str = "subscriptions.partnerhub";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    /// Bad input with a reason of its own (the line items' first problem, or a quantity out of
    /// the offer's bounds); every field at fault is in `violations`.
    #[error("invalid request: {violations}")]
    Rejected {
        reason: &'static str,
        violations: Violations,
    },
    #[error("offer {0} not found")]
    OfferNotFound(String),
    #[error("order {0} not found")]
    OrderNotFound(String),
    #[error("subscription {0} not found")]
    SubscriptionNotFound(String),
    #[error("tenant {0} not found")]
    TenantNotFound(String),
    #[error("tenant {0} is not a customer; orders are placed for customers")]
    NotACustomer(String),
    #[error("tenant {0} is not a partner; only partners watch subscription events")]
    NotAPartner(String),
    #[error("the customer already had a trial: {violations}")]
    TrialAlreadyTaken { violations: Violations },
    /// A trial of an offer that has none: a fact of the catalogue, not of the request's shape.
    #[error("no trial to give: {violations}")]
    NoTrial { violations: Violations },
    #[error(
        "the customer {0} has not accepted the customer agreement; it must accept it before a \
         partner can buy for it"
    )]
    AgreementNotAccepted(String),
    #[error(
        "this tenant may not make this change to subscription {0}: the customer or the billing \
         partner changes a subscription, and only the billing partner its indirect reseller and \
         support contact"
    )]
    ChangeNotAllowed(String),
    #[error(
        "the subscription changed since it was read (etag {sent}, now {current}); read it again"
    )]
    StaleEtag { sent: String, current: String },
    #[error("the subscription changed while this change was made; read it again and retry")]
    Contended,
    #[error("the subscription is {0}; an ended subscription can't be changed")]
    SubscriptionEnded(&'static str),
    #[error("can't {action} a subscription that is {current}; {allowed}")]
    InvalidTransition {
        action: &'static str,
        current: &'static str,
        allowed: &'static str,
    },
    #[error("no partner holds the partner ID {0}")]
    PartnerIdNotFound(String),
    #[error(
        "the partner with partner ID {0} is not a subscription advisor (PARTNER_TYPE_ADVISOR); \
         only advisors are partners of record"
    )]
    PartnerNotAdvisor(String),
    #[error(
        "the partner with partner ID {mpn_id} is in {partner_cloud}, the customer in {customer_cloud}"
    )]
    PartnerNotInCloud {
        mpn_id: String,
        partner_cloud: &'static str,
        customer_cloud: &'static str,
    },
    #[error(
        "subscription {0} was sold by an advisor: it has no billing partner to sell through an \
         indirect reseller"
    )]
    NoBillingPartner(String),
    #[error(
        "{assigned} licences of this subscription are assigned to users; its quantity can't go \
         below that (requested {requested}): remove licences first"
    )]
    LicensesAssigned { assigned: i32, requested: i32 },
    #[error(
        "not enough licences: the subscription has {quantity}, {assigned} assigned, {available} \
         available, and this needs {requested} more; raise the quantity or remove licences first"
    )]
    NotEnoughLicenses {
        quantity: i32,
        assigned: i32,
        available: i32,
        requested: i32,
    },
    #[error(
        "subscription {id} is {state}; only an active subscription or a trial takes new licence \
         assignments"
    )]
    NotAssignable { id: String, state: &'static str },
    #[error(
        "licences of subscription {0} are assigned in its customer's tenant: name the customer \
         as tenant_id"
    )]
    NotTheCustomer(String),
    /// Users named that are no users of the customer.
    #[error("no such users in the customer: {violations}")]
    UsersNotFound { violations: Violations },
    /// Users named that hold no licence of the subscription.
    #[error("these users hold no licence of the subscription: {violations}")]
    LicensesNotAssigned { violations: Violations },
    #[error("no product key like this one was issued")]
    ProductKeyNotFound,
    #[error("this product key was redeemed before; a key works once")]
    ProductKeyAlreadyRedeemed,
    #[error(
        "licences can be removed only in the first days of a term (the cancellation window), \
         and this term's window closed at {}; add licences at any time, or remove them within \
         the window of the next term, which starts at {}",
        rfc3339(*window_close_time),
        rfc3339(*term_end_time)
    )]
    CancellationWindowClosed {
        window_close_time: i64,
        term_end_time: i64,
    },
    #[error("offer {to} is not on the upgrade path of {from}")]
    NotAnUpgrade { from: String, to: String },
    /// A target on the upgrade path that the subscription doesn't fit: `reason` says why.
    #[error("can't upgrade to this offer: {message}")]
    UpgradeUnfit {
        reason: &'static str,
        message: String,
    },
    #[error(transparent)]
    Shared(#[from] Shared),
}

/// A time as people and `ErrorInfo.metadata` read it (RFC 3339, UTC).
fn rfc3339(micros: i64) -> String {
    partnerhub_kit::time::timestamp(micros).to_string()
}

partnerhub_kit::service_errors!(Error, domain: DOMAIN, invalid: Error::Invalid, shared: Error::Shared);

impl Fault for Error {
    fn code(&self) -> Code {
        match self {
            Error::Invalid(_) | Error::Rejected { .. } => Code::InvalidArgument,
            Error::OfferNotFound(_)
            | Error::OrderNotFound(_)
            | Error::SubscriptionNotFound(_)
            | Error::TenantNotFound(_)
            | Error::PartnerIdNotFound(_)
            | Error::UsersNotFound { .. }
            | Error::LicensesNotAssigned { .. }
            | Error::ProductKeyNotFound => Code::NotFound,
            Error::NotACustomer(_)
            | Error::NotAPartner(_)
            | Error::TrialAlreadyTaken { .. }
            | Error::AgreementNotAccepted(_)
            | Error::SubscriptionEnded(_)
            | Error::InvalidTransition { .. }
            | Error::NoTrial { .. }
            | Error::PartnerNotAdvisor(_)
            | Error::PartnerNotInCloud { .. }
            | Error::NoBillingPartner(_)
            | Error::LicensesAssigned { .. }
            | Error::NotEnoughLicenses { .. }
            | Error::NotAssignable { .. }
            | Error::ProductKeyAlreadyRedeemed
            | Error::CancellationWindowClosed { .. }
            | Error::NotAnUpgrade { .. }
            | Error::UpgradeUnfit { .. } => Code::FailedPrecondition,
            Error::ChangeNotAllowed(_) | Error::NotTheCustomer(_) => Code::PermissionDenied,
            Error::StaleEtag { .. } | Error::Contended => Code::Aborted,
            Error::Shared(e) => e.code(),
        }
    }

    fn reason(&self) -> &str {
        match self {
            Error::Invalid(_) => "INVALID_ARGUMENT",
            Error::Rejected { reason, .. } => reason,
            Error::OfferNotFound(_) => "OFFER_NOT_FOUND",
            Error::OrderNotFound(_) => "ORDER_NOT_FOUND",
            Error::SubscriptionNotFound(_) => "SUBSCRIPTION_NOT_FOUND",
            Error::TenantNotFound(_) => "TENANT_NOT_FOUND",
            Error::NotACustomer(_) => "NOT_A_CUSTOMER",
            Error::NotAPartner(_) => "NOT_A_PARTNER",
            Error::TrialAlreadyTaken { .. } => domain::TRIAL_ALREADY_TAKEN,
            Error::NoTrial { .. } => domain::TRIAL_NOT_AVAILABLE,
            Error::AgreementNotAccepted(_) => "AGREEMENT_NOT_ACCEPTED",
            Error::ChangeNotAllowed(_) => "SUBSCRIPTION_CHANGE_NOT_ALLOWED",
            Error::StaleEtag { .. } | Error::Contended => "ETAG_MISMATCH",
            Error::SubscriptionEnded(_) => "SUBSCRIPTION_ENDED",
            Error::InvalidTransition { .. } => "INVALID_TRANSITION",
            Error::PartnerIdNotFound(_) => "PARTNER_ID_NOT_FOUND",
            Error::PartnerNotAdvisor(_) => "PARTNER_NOT_ADVISOR",
            Error::PartnerNotInCloud { .. } => "PARTNER_NOT_IN_CLOUD",
            Error::NoBillingPartner(_) => "NO_BILLING_PARTNER",
            Error::LicensesAssigned { .. } => domain::LICENSES_ASSIGNED,
            Error::NotEnoughLicenses { .. } => domain::NOT_ENOUGH_LICENSES,
            Error::NotAssignable { .. } => "SUBSCRIPTION_NOT_ASSIGNABLE",
            Error::NotTheCustomer(_) => "LICENSES_OF_CUSTOMER_ONLY",
            Error::UsersNotFound { .. } => "USER_NOT_FOUND",
            Error::LicensesNotAssigned { .. } => "LICENSE_NOT_ASSIGNED",
            Error::ProductKeyNotFound => "PRODUCT_KEY_NOT_FOUND",
            Error::ProductKeyAlreadyRedeemed => "PRODUCT_KEY_ALREADY_REDEEMED",
            Error::CancellationWindowClosed { .. } => "CANCELLATION_WINDOW_CLOSED",
            Error::NotAnUpgrade { .. } => "NOT_AN_UPGRADE",
            Error::UpgradeUnfit { reason, .. } => reason,
            Error::Shared(e) => e.reason(),
        }
    }

    fn violations(&self) -> &[Violation] {
        match self {
            Error::Invalid(v) => v.as_slice(),
            Error::Rejected { violations, .. }
            | Error::TrialAlreadyTaken { violations }
            | Error::NoTrial { violations }
            | Error::UsersNotFound { violations }
            | Error::LicensesNotAssigned { violations } => violations.as_slice(),
            _ => &[],
        }
    }

    fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            Error::OfferNotFound(id) => vec![("offerId", id.clone())],
            Error::OrderNotFound(id) => vec![("orderId", id.clone())],
            Error::SubscriptionNotFound(id)
            | Error::ChangeNotAllowed(id)
            | Error::NoBillingPartner(id)
            | Error::NotAssignable { id, .. }
            | Error::NotTheCustomer(id) => vec![("subscriptionId", id.clone())],
            Error::LicensesAssigned {
                assigned,
                requested,
            } => vec![
                ("assigned", assigned.to_string()),
                ("requested", requested.to_string()),
            ],
            Error::NotEnoughLicenses {
                quantity,
                assigned,
                available,
                requested,
            } => vec![
                ("quantity", quantity.to_string()),
                ("assigned", assigned.to_string()),
                ("available", available.to_string()),
                ("requested", requested.to_string()),
            ],
            Error::TenantNotFound(id) | Error::NotACustomer(id) | Error::NotAPartner(id) => {
                vec![("tenantId", id.clone())]
            }
            Error::AgreementNotAccepted(id) => vec![("customerTenantId", id.clone())],
            Error::PartnerIdNotFound(mpn)
            | Error::PartnerNotAdvisor(mpn)
            | Error::PartnerNotInCloud { mpn_id: mpn, .. } => vec![("mpnId", mpn.clone())],
            Error::StaleEtag { current, .. } => vec![("etag", current.clone())],
            Error::CancellationWindowClosed {
                window_close_time,
                term_end_time,
            } => vec![
                ("windowCloseTime", rfc3339(*window_close_time)),
                ("termEndTime", rfc3339(*term_end_time)),
            ],
            Error::NotAnUpgrade { to, .. } => vec![("targetOfferId", to.clone())],
            _ => Vec::new(),
        }
    }

    fn variants(&self) -> Option<&dyn Variants> {
        Some(self)
    }
}
