//! One typed client per service that other servers ask, over a [`Peer`] (so every call carries
//! the request id, the trace and the caller's deadline). Each maps its service's answers once:
//! "there is none" becomes `None`, a rule's refusal comes back as the service's own status to
//! pass on, and any other failure is a [`PeerError`] (UNAVAILABLE when a retry may work).

use crate::telemetry::Peer;
use partnerhub_proto::relationships::relationship_internal_service_client::RelationshipInternalServiceClient;
use partnerhub_proto::relationships::{
    CheckSellerRequest, CheckSellerResponse, ListMpsaPartnersRequest,
};
use partnerhub_proto::subscriptions::subscription_internal_service_client::SubscriptionInternalServiceClient;
use partnerhub_proto::subscriptions::subscription_service_client::SubscriptionServiceClient;
use partnerhub_proto::subscriptions::{
    CheckLineItemsRequest, GetOfferRequest, LineItemProblem, Offer,
};
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use partnerhub_proto::tenants::{
    AnswerContactRequestRequest, BatchGetPartnerListingsRequest, BatchGetTenantsRequest,
    BatchGetUsersRequest, GetTenantRequest, ListAgreementsRequest, PartnerListing, Tenant,
    VerifyPartnerIdRequest, agreement,
};
use partnerhub_proto::types::{Cloud, LineItem};
use tonic::{Code, Status};

/// A call to another service that failed for a reason of its own (not a rule's refusal).
#[derive(Debug, thiserror::Error)]
#[error("the {service} service answered {:?}: {}", .status.code(), .status.message())]
pub struct PeerError {
    pub service: &'static str,
    pub status: Status,
}

impl PeerError {
    /// The service did not answer in time or at all: a retry may work.
    pub fn unavailable(&self) -> bool {
        matches!(
            self.status.code(),
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled
        )
    }
}

fn failed(service: &'static str) -> impl FnOnce(Status) -> PeerError {
    move |status| PeerError { service, status }
}

/// The tenants service.
#[derive(Debug, Clone)]
pub struct Tenants {
    public: TenantServiceClient<Peer>,
    internal: TenantInternalServiceClient<Peer>,
}

impl Tenants {
    pub fn new(peer: Peer) -> Self {
        Tenants {
            public: TenantServiceClient::new(peer.clone()),
            internal: TenantInternalServiceClient::new(peer),
        }
    }

    /// A tenant; `None` when there is none with that id.
    pub async fn tenant(&self, id: &str) -> Result<Option<Tenant>, PeerError> {
        let answer = self
            .public
            .clone()
            .get_tenant(GetTenantRequest {
                tenant_id: id.to_string(),
            })
            .await;
        match answer {
            Ok(response) => Ok(response.into_inner().tenant),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(failed("tenants")(status)),
        }
    }

    /// The tenants of these ids that exist, in one call.
    pub async fn tenants(&self, ids: &[String]) -> Result<Vec<Tenant>, PeerError> {
        Ok(self
            .internal
            .clone()
            .batch_get_tenants(BatchGetTenantsRequest {
                tenant_ids: ids.to_vec(),
            })
            .await
            .map_err(failed("tenants"))?
            .into_inner()
            .tenants)
    }

    /// The ids among `user_ids` of users of the tenant, in one call (ids of no user of the
    /// tenant are left out).
    pub async fn users_of(
        &self,
        tenant_id: &str,
        user_ids: &[String],
    ) -> Result<Vec<String>, PeerError> {
        Ok(self
            .internal
            .clone()
            .batch_get_users(BatchGetUsersRequest {
                tenant_id: tenant_id.to_string(),
                user_ids: user_ids.to_vec(),
            })
            .await
            .map_err(failed("tenants"))?
            .into_inner()
            .users
            .into_iter()
            .map(|u| u.id)
            .collect())
    }

    /// The public profiles of the partners of these ids, in one call (customers and unknown
    /// ids are left out).
    pub async fn partner_listings(&self, ids: &[String]) -> Result<Vec<PartnerListing>, PeerError> {
        Ok(self
            .internal
            .clone()
            .batch_get_partner_listings(BatchGetPartnerListingsRequest {
                tenant_ids: ids.to_vec(),
            })
            .await
            .map_err(failed("tenants"))?
            .into_inner()
            .partners)
    }

    /// A partner's public profile; `None` when there is no partner with that id.
    pub async fn partner_listing(&self, id: &str) -> Result<Option<PartnerListing>, PeerError> {
        Ok(self
            .partner_listings(std::slice::from_ref(&id.to_string()))
            .await?
            .into_iter()
            .next())
    }

    /// Seed 001: records `invitation_id` as the answer of `partner` to a customer's contact
    /// request (`customer`: the invitee, "" when the invitation names none); with
    /// `validate_only`, only checks it may. The tenants service's refusal (NOT_FOUND
    /// `CONTACT_REQUEST_NOT_FOUND`, FAILED_PRECONDITION `CONTACT_REQUEST_ANSWERED`), to pass on as
    /// it is, in `Err`.
    pub async fn answer_contact_request(
        &self,
        contact_request_id: &str,
        partner: &str,
        customer: &str,
        invitation_id: &str,
        validate_only: bool,
    ) -> Result<Result<(), Status>, PeerError> {
        let answer = self
            .internal
            .clone()
            .answer_contact_request(AnswerContactRequestRequest {
                contact_request_id: contact_request_id.to_string(),
                partner_tenant_id: partner.to_string(),
                customer_tenant_id: customer.to_string(),
                invitation_id: invitation_id.to_string(),
                validate_only,
            })
            .await;
        match answer {
            Ok(_) => Ok(Ok(())),
            Err(status) if matches!(status.code(), Code::NotFound | Code::FailedPrecondition) => {
                Ok(Err(status))
            }
            Err(status) => Err(failed("tenants")(status)),
        }
    }

    /// Whether a tenant accepted an agreement of `kind` (one the service does not know accepted
    /// nothing).
    pub async fn has_accepted(
        &self,
        tenant_id: &str,
        kind: agreement::Type,
    ) -> Result<bool, PeerError> {
        let answer = self
            .public
            .clone()
            .list_agreements(ListAgreementsRequest {
                tenant_id: tenant_id.to_string(),
                page_size: 1,
                page_token: String::new(),
                r#type: kind as i32,
            })
            .await;
        match answer {
            Ok(response) => Ok(!response.into_inner().agreements.is_empty()),
            Err(status) if status.code() == Code::NotFound => Ok(false),
            Err(status) => Err(failed("tenants")(status)),
        }
    }

    /// The tenant a request names by its tenant id or its partner ID (MPN ID), as (tenant id,
    /// partner ID): the partner ID is "" for a customer or a tenant id no partner has. A
    /// partner ID no partner holds names no tenant: the nil UUID, which no tenant has, so that
    /// whoever checks the tenant next answers as for any unknown tenant id. Anything else is
    /// left as it is, for the caller's own check of the field.
    pub async fn named(&self, id_or_mpn: &str) -> Result<(String, String), PeerError> {
        if partnerhub_rules::partner::is_partner_id(id_or_mpn) {
            return Ok(match self.partner_with_id(id_or_mpn).await? {
                Some(partner) => (partner.tenant_id, partner.mpn_id),
                None => (uuid::Uuid::nil().to_string(), String::new()),
            });
        }
        let Ok(id) = uuid::Uuid::parse_str(id_or_mpn) else {
            return Ok((id_or_mpn.to_string(), String::new()));
        };
        let id = id.to_string();
        let mpn_id = self
            .partner_listing(&id)
            .await?
            .map(|p| p.mpn_id)
            .unwrap_or_default();
        Ok((id, mpn_id))
    }

    /// The partner with a partner ID (MPN ID); `None` when there is none.
    pub async fn partner_with_id(&self, mpn_id: &str) -> Result<Option<PartnerListing>, PeerError> {
        let answer = self
            .public
            .clone()
            .verify_partner_id(VerifyPartnerIdRequest {
                mpn_id: mpn_id.to_string(),
            })
            .await;
        match answer {
            Ok(response) => Ok(response.into_inner().partner),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(failed("tenants")(status)),
        }
    }
}

/// The subscriptions service's catalogue.
#[derive(Debug, Clone)]
pub struct Subscriptions {
    public: SubscriptionServiceClient<Peer>,
    internal: SubscriptionInternalServiceClient<Peer>,
}

impl Subscriptions {
    pub fn new(peer: Peer) -> Self {
        Subscriptions {
            public: SubscriptionServiceClient::new(peer.clone()),
            internal: SubscriptionInternalServiceClient::new(peer),
        }
    }

    /// An offer; `None` when the catalogue has none with that id.
    pub async fn offer(&self, id: &str) -> Result<Option<Offer>, PeerError> {
        let answer = self
            .public
            .clone()
            .get_offer(GetOfferRequest {
                offer_id: id.to_string(),
            })
            .await;
        match answer {
            Ok(response) => Ok(response.into_inner().offer),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(failed("subscriptions")(status)),
        }
    }

    /// What stops a customer in `cloud` and `country_code` from buying these line items (none:
    /// it may); for a trial (`trial_for`: the customer), also the offers it had a trial of.
    pub async fn line_item_problems(
        &self,
        cloud: Cloud,
        country_code: &str,
        line_items: Vec<LineItem>,
        trial_for: Option<&str>,
    ) -> Result<Vec<LineItemProblem>, PeerError> {
        Ok(self
            .internal
            .clone()
            .check_line_items(CheckLineItemsRequest {
                cloud: cloud as i32,
                country_code: country_code.to_string(),
                line_items,
                trial_customer_tenant_id: trial_for.unwrap_or_default().to_string(),
            })
            .await
            .map_err(failed("subscriptions"))?
            .into_inner()
            .problems)
    }
}

/// The relationships service's rules.
#[derive(Debug, Clone)]
pub struct Relationships {
    internal: RelationshipInternalServiceClient<Peer>,
}

impl Relationships {
    pub fn new(peer: Peer) -> Self {
        Relationships {
            internal: RelationshipInternalServiceClient::new(peer),
        }
    }

    /// Whether `partner` may sell to `customer` ("" for none) through `reseller` ("" for none):
    /// `None` when it may, else the relationships service's refusal (FAILED_PRECONDITION with
    /// its reason), to pass on as it is.
    pub async fn seller_refusal(
        &self,
        partner: &str,
        customer: &str,
        reseller: &str,
    ) -> Result<Option<Status>, PeerError> {
        let answer = self
            .internal
            .clone()
            .check_seller(CheckSellerRequest {
                partner_tenant_id: partner.to_string(),
                customer_tenant_id: customer.to_string(),
                indirect_reseller_id: reseller.to_string(),
            })
            .await;
        match answer {
            Ok(response) => {
                let CheckSellerResponse {} = response.into_inner();
                Ok(None)
            }
            Err(status) if status.code() == Code::FailedPrecondition => Ok(Some(status)),
            Err(status) => Err(failed("relationships")(status)),
        }
    }

    /// The customer's MPSA partners, whose purchases for it `partner` may read (`partner` among
    /// them), or the relationships service's refusal (FAILED_PRECONDITION, NOT_MPSA_PARTNER,
    /// when `partner` is not one of them), to pass on as it is.
    pub async fn mpsa_partners(
        &self,
        customer: &str,
        partner: &str,
    ) -> Result<Result<Vec<String>, Status>, PeerError> {
        let answer = self
            .internal
            .clone()
            .list_mpsa_partners(ListMpsaPartnersRequest {
                customer_tenant_id: customer.to_string(),
                partner_tenant_id: partner.to_string(),
            })
            .await;
        match answer {
            Ok(response) => Ok(Ok(response.into_inner().partner_tenant_ids)),
            Err(status) if status.code() == Code::FailedPrecondition => Ok(Err(status)),
            Err(status) => Err(failed("relationships")(status)),
        }
    }
}
