//! Everything the invitations service can answer besides success.

use partnerhub_kit::status::{Fault, Shared, Variants, Violation, Violations};
use tonic::Code;

/// `ErrorInfo.domain` of this service's errors.
pub const DOMAIN: &str = "invitations.partnerhub";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error(
        "in the Germany and US government clouds a reseller relationship must include delegated \
         admin; set invitation.delegated_admin ({{}} asks for the classic roles, ROLE_GLOBAL_ADMIN \
         and ROLE_HELPDESK_ADMIN)"
    )]
    DelegatedAdminRequired(Violations),
    #[error("{0}")]
    OfferHasNoTrial(Violations),
    // Says nothing more: a wrong code must not tell whether something exists.
    #[error("invitation not found")]
    InvitationNotFound,
    #[error("tenant {0} not found")]
    TenantNotFound(String),
    #[error("tenant {0} is not an active partner; only partners send invitations")]
    InviterNotAPartner(String),
    #[error(
        "partner {0} is not an indirect provider; only indirect providers partner with indirect \
         resellers"
    )]
    InviterNotIndirectProvider(String),
    #[error(
        "partner {0} is not a subscription advisor; only advisors send trial invitations, \
         purchase offers and partner of record invitations"
    )]
    InviterNotAdvisor(String),
    #[error(
        "partner {0} can't resell: only direct and indirect providers sell to and bill \
         customers; ask for delegated admin instead, or work through an indirect provider"
    )]
    InviterCannotResell(String),
    #[error(
        "tenant {0} is not a customer; only a customer accepts or declines this kind of \
         invitation"
    )]
    NotACustomer(String),
    #[error(
        "tenant {0} is not a partner enrolled as an indirect reseller; only those take part in \
         an indirect partnership (resellers must be enrolled as indirect resellers first)"
    )]
    NotAnIndirectReseller(String),
    #[error("{method} needs {roles} for this invitation")]
    RoleRequired { method: &'static str, roles: String },
    #[error(
        "the invitation is for the {invitation} cloud and tenant {tenant_id} is in the {tenant} \
         cloud; relationships never cross clouds"
    )]
    CloudMismatch {
        invitation: &'static str,
        tenant_id: String,
        tenant: &'static str,
    },
    #[error(
        "a reseller relationship needs the partner in the customer's country or region (UN \
         M49): the partner is in {partner} ({partner_region}), the customer in {customer} \
         ({customer_region})"
    )]
    RegionMismatch {
        partner: String,
        partner_region: &'static str,
        customer: String,
        customer_region: &'static str,
    },
    #[error(
        "in the {0} cloud a reseller relationship must include delegated admin; ask the partner \
         for a new invitation"
    )]
    ResellerWithoutDelegatedAdmin(&'static str),
    /// The advisor's offers can't be had by this customer (sold elsewhere, out of bounds); the
    /// first problem's reason names the error.
    #[error("the invitation's offers can't be bought by this customer: {violations}")]
    OffersNotAvailable {
        reason: String,
        violations: Violations,
    },
    #[error("the invitation has expired; the partner must send a new invitation")]
    Expired,
    #[error("the invitation was revoked by the partner; a new invitation must be sent")]
    Revoked,
    #[error("the invitation was declined; a new invitation must be sent")]
    Declined,
    #[error("the invitation has been used already; a new invitation must be sent")]
    AlreadyUsed,
    #[error(
        "your tenant took this trial with this link already; an offer's trial is given once (the \
         advisor can send a purchase offer instead)"
    )]
    TrialTaken,
    #[error(
        "the invitation is for another tenant; the partner must send a new invitation to yours"
    )]
    ForAnotherTenant,
    #[error("a reusable invitation can't be declined; it is open to any number of customers")]
    Reusable,
    #[error(transparent)]
    Shared(#[from] Shared),
}

partnerhub_kit::service_errors!(Error, domain: DOMAIN, invalid: Error::Invalid, shared: Error::Shared);

impl Error {
    /// A reseller invitation without delegated admin in a cloud that needs it.
    pub fn delegated_admin_required(cloud: &str) -> Self {
        Error::DelegatedAdminRequired(Violations::one(
            "invitation.delegated_admin",
            format!("is required: in {cloud} a reseller relationship must include delegated admin"),
        ))
    }

    /// A line item whose offer has no trial.
    pub fn offer_has_no_trial(field: impl Into<String>, offer_name: &str) -> Self {
        Error::OfferHasNoTrial(Violations::one(
            field,
            format!(
                "{offer_name} has no trial; choose an offer with a trial, or send a purchase offer"
            ),
        ))
    }
}

impl Fault for Error {
    fn code(&self) -> Code {
        match self {
            Error::Invalid(_) => Code::InvalidArgument,
            // Rules about the world found at a field: the offer has no trial, the cloud needs
            // delegated admin.
            Error::DelegatedAdminRequired(_) | Error::OfferHasNoTrial(_) => {
                Code::FailedPrecondition
            }
            Error::InvitationNotFound | Error::TenantNotFound(_) => Code::NotFound,
            Error::RoleRequired { .. } => Code::PermissionDenied,
            Error::InviterNotAPartner(_)
            | Error::InviterNotIndirectProvider(_)
            | Error::InviterNotAdvisor(_)
            | Error::InviterCannotResell(_)
            | Error::NotACustomer(_)
            | Error::NotAnIndirectReseller(_)
            | Error::CloudMismatch { .. }
            | Error::RegionMismatch { .. }
            | Error::ResellerWithoutDelegatedAdmin(_)
            | Error::OffersNotAvailable { .. }
            | Error::Expired
            | Error::Revoked
            | Error::Declined
            | Error::AlreadyUsed
            | Error::TrialTaken
            | Error::ForAnotherTenant
            | Error::Reusable => Code::FailedPrecondition,
            Error::Shared(e) => e.code(),
        }
    }

    fn reason(&self) -> &str {
        match self {
            Error::Invalid(_) => "INVALID_ARGUMENT",
            Error::DelegatedAdminRequired(_) => "DELEGATED_ADMIN_REQUIRED",
            Error::OfferHasNoTrial(_) => "OFFER_HAS_NO_TRIAL",
            Error::InvitationNotFound => "INVITATION_NOT_FOUND",
            Error::TenantNotFound(_) => "TENANT_NOT_FOUND",
            Error::InviterNotAPartner(_) => "INVITER_NOT_A_PARTNER",
            Error::InviterNotIndirectProvider(_) => "INVITER_NOT_INDIRECT_PROVIDER",
            Error::InviterNotAdvisor(_) => "INVITER_NOT_ADVISOR",
            Error::InviterCannotResell(_) => "INVITER_CANNOT_RESELL",
            Error::NotACustomer(_) => "NOT_A_CUSTOMER",
            Error::NotAnIndirectReseller(_) => "NOT_AN_INDIRECT_RESELLER",
            Error::RoleRequired { .. } => "ROLE_REQUIRED",
            Error::CloudMismatch { .. } => "CLOUD_MISMATCH",
            Error::RegionMismatch { .. } => "REGION_MISMATCH",
            Error::ResellerWithoutDelegatedAdmin(_) => "DELEGATED_ADMIN_REQUIRED",
            Error::OffersNotAvailable { reason, .. } => reason,
            Error::Expired => "INVITATION_EXPIRED",
            Error::Revoked => "INVITATION_REVOKED",
            Error::Declined => "INVITATION_DECLINED",
            Error::AlreadyUsed => "INVITATION_ALREADY_USED",
            // The subscriptions service's reason for the same rule, wherever it is met.
            Error::TrialTaken => "TRIAL_ALREADY_TAKEN",
            Error::ForAnotherTenant => "INVITATION_FOR_ANOTHER_TENANT",
            Error::Reusable => "INVITATION_REUSABLE",
            Error::Shared(e) => e.reason(),
        }
    }

    fn violations(&self) -> &[Violation] {
        match self {
            Error::Invalid(v)
            | Error::DelegatedAdminRequired(v)
            | Error::OfferHasNoTrial(v)
            | Error::OffersNotAvailable { violations: v, .. } => v.as_slice(),
            _ => &[],
        }
    }

    fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            Error::TenantNotFound(id)
            | Error::NotACustomer(id)
            | Error::NotAnIndirectReseller(id)
            | Error::CloudMismatch { tenant_id: id, .. } => vec![("tenantId", id.clone())],
            Error::InviterNotAPartner(id)
            | Error::InviterNotIndirectProvider(id)
            | Error::InviterNotAdvisor(id)
            | Error::InviterCannotResell(id) => vec![("inviterTenantId", id.clone())],
            Error::RoleRequired { roles, .. } => vec![("roles", roles.clone())],
            Error::ResellerWithoutDelegatedAdmin(cloud) => vec![("cloud", cloud.to_string())],
            Error::RegionMismatch {
                partner, customer, ..
            } => vec![
                ("partnerCountryCode", partner.clone()),
                ("customerCountryCode", customer.clone()),
            ],
            _ => Vec::new(),
        }
    }

    fn variants(&self) -> Option<&dyn Variants> {
        Some(self)
    }
}
