//! Everything the relationships service can answer besides success.

use partnerhub_kit::status::{Fault, Shared, Variants, Violations};
use tonic::Code;

/// `ErrorInfo.domain` of this service's errors.
pub const DOMAIN: &str = "relationships.partnerhub";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("relationship {0} not found")]
    RelationshipNotFound(String),
    #[error(
        "a customer can't end a reseller relationship; the reseller must end it (the customer \
         can remove the reseller's admin roles instead)"
    )]
    CustomerCannotEndReseller,
    #[error("TerminateRelationship needs {roles} for this relationship")]
    RoleRequired { roles: String },
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
    #[error(
        "the partner {partner} is not an MPSA partner of the customer {customer}; only a \
         customer's MPSA partners see each other's purchases for it"
    )]
    NotMpsaPartner { partner: String, customer: String },
    #[error(transparent)]
    Shared(#[from] Shared),
}

partnerhub_kit::service_errors!(Error, domain: DOMAIN, invalid: Error::Invalid, shared: Error::Shared);

impl Fault for Error {
    fn code(&self) -> Code {
        match self {
            Error::Invalid(_) => Code::InvalidArgument,
            Error::RelationshipNotFound(_) => Code::NotFound,
            Error::RoleRequired { .. } => Code::PermissionDenied,
            Error::CustomerCannotEndReseller
            | Error::NotResellerOfCustomer { .. }
            | Error::ResellerNotInPartnership { .. }
            | Error::ResellerAgreementNotAccepted(_)
            | Error::NotMpsaPartner { .. } => Code::FailedPrecondition,
            Error::Shared(e) => e.code(),
        }
    }

    fn reason(&self) -> &str {
        match self {
            Error::Invalid(_) => "INVALID_ARGUMENT",
            Error::RelationshipNotFound(_) => "RELATIONSHIP_NOT_FOUND",
            Error::CustomerCannotEndReseller => "RESELLER_RELATIONSHIP_CUSTOMER_CANNOT_END",
            Error::RoleRequired { .. } => "ROLE_REQUIRED",
            Error::NotResellerOfCustomer { .. } => "NOT_RESELLER_OF_CUSTOMER",
            Error::ResellerNotInPartnership { .. } => "RESELLER_NOT_IN_PARTNERSHIP",
            Error::ResellerAgreementNotAccepted(_) => "RESELLER_AGREEMENT_NOT_ACCEPTED",
            Error::NotMpsaPartner { .. } => "NOT_MPSA_PARTNER",
            Error::Shared(e) => e.reason(),
        }
    }

    fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            Error::RelationshipNotFound(id) => vec![("relationshipId", id.clone())],
            Error::RoleRequired { roles } => vec![("roles", roles.clone())],
            Error::NotResellerOfCustomer { partner, customer } => vec![
                ("partnerTenantId", partner.clone()),
                ("customerTenantId", customer.clone()),
            ],
            Error::ResellerNotInPartnership { reseller, partner } => vec![
                ("indirectResellerId", reseller.clone()),
                ("partnerTenantId", partner.clone()),
            ],
            Error::ResellerAgreementNotAccepted(reseller) => {
                vec![("indirectResellerId", reseller.clone())]
            }
            _ => Vec::new(),
        }
    }

    fn variants(&self) -> Option<&dyn Variants> {
        Some(self)
    }
}
