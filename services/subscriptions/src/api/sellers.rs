//! What other services know: the tenant, its agreements, who may sell to a customer, who may
//! resell for a partner, and whether a partner ID is an advisor's.

use super::{Deadline, Subscriptions};
use crate::error::{Error, Result};
use partnerhub_proto::relationships::relationship_service_client::RelationshipServiceClient;
use partnerhub_proto::relationships::{self as rel, RelationshipType};
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use partnerhub_proto::tenants::{self as ten, agreement};
use partnerhub_proto::types::{Cloud, PartnerType};
use tonic::Code;

/// Rows per page when this service reads another's list to the end.
const PEER_PAGE: i32 = 1000;

impl Subscriptions {
    /// A tenant as the tenants service has it: TENANT_NOT_FOUND if there is none.
    pub(super) async fn tenant(&self, id: &str, deadline: &Deadline) -> Result<ten::Tenant> {
        let answer = TenantServiceClient::new(self.deps.tenants.clone())
            .get_tenant(deadline.request(ten::GetTenantRequest {
                tenant_id: id.to_string(),
            }))
            .await;
        match answer {
            Ok(response) => response
                .into_inner()
                .tenant
                .ok_or_else(|| Error::TenantNotFound(id.to_string())),
            Err(status) if status.code() == Code::NotFound => {
                Err(Error::TenantNotFound(id.to_string()))
            }
            Err(status) => Err(Error::peer("tenants")(status)),
        }
    }

    /// Whether `tenant_id` has accepted an agreement of `kind` (a tenant the tenants service
    /// does not know has accepted nothing).
    pub(super) async fn has_accepted(
        &self,
        tenant_id: &str,
        kind: agreement::Type,
        deadline: &Deadline,
    ) -> Result<bool> {
        let answer = TenantServiceClient::new(self.deps.tenants.clone())
            .list_agreements(deadline.request(ten::ListAgreementsRequest {
                tenant_id: tenant_id.to_string(),
                page_size: 1,
                page_token: String::new(),
                r#type: kind as i32,
            }))
            .await;
        match answer {
            Ok(response) => Ok(!response.into_inner().agreements.is_empty()),
            Err(status) if status.code() == Code::NotFound => Ok(false),
            Err(status) => Err(Error::peer("tenants")(status)),
        }
    }

    /// The partner may sell to the customer: an active RESELLER relationship of its own, or it
    /// is the indirect provider of an active INDIRECT_RESELLER relationship to the customer.
    pub(super) async fn check_seller(
        &self,
        partner: &str,
        customer: &str,
        deadline: &Deadline,
    ) -> Result<()> {
        let mut client = RelationshipServiceClient::new(self.deps.relationships.clone());
        let mut page_token = String::new();
        loop {
            let page = client
                .list_relationships(deadline.request(rel::ListRelationshipsRequest {
                    page_size: PEER_PAGE,
                    page_token,
                    partner_tenant_id: String::new(),
                    client_tenant_id: customer.to_string(),
                    r#type: RelationshipType::Unspecified as i32,
                    state: rel::relationship::State::Active as i32,
                }))
                .await
                .map_err(Error::peer("relationships"))?
                .into_inner();
            let sells = page.relationships.iter().any(|r| {
                (r.r#type == RelationshipType::Reseller as i32 && r.partner_tenant_id == partner)
                    || (r.r#type == RelationshipType::IndirectReseller as i32
                        && r.indirect_provider_tenant_id == partner)
            });
            if sells {
                return Ok(());
            }
            if page.next_page_token.is_empty() {
                return Err(Error::NotResellerOfCustomer {
                    partner: partner.to_string(),
                    customer: customer.to_string(),
                });
            }
            page_token = page.next_page_token;
        }
    }

    /// The reseller may be named on the partner's subscriptions: an active INDIRECT_PARTNERSHIP
    /// of the partner (the provider) with it, and it accepted the partner agreement.
    pub(super) async fn check_reseller(
        &self,
        partner: &str,
        reseller: &str,
        deadline: &Deadline,
    ) -> Result<()> {
        let refused = || Error::ResellerNotInPartnership {
            reseller: reseller.to_string(),
            partner: partner.to_string(),
        };
        // An advisor-sold subscription has no billing partner to be in a partnership with.
        if partner.is_empty() {
            return Err(refused());
        }
        let partnerships = RelationshipServiceClient::new(self.deps.relationships.clone())
            .list_relationships(deadline.request(rel::ListRelationshipsRequest {
                page_size: 1,
                page_token: String::new(),
                partner_tenant_id: partner.to_string(),
                client_tenant_id: reseller.to_string(),
                r#type: RelationshipType::IndirectPartnership as i32,
                state: rel::relationship::State::Active as i32,
            }))
            .await
            .map_err(Error::peer("relationships"))?
            .into_inner()
            .relationships;
        if partnerships.is_empty() {
            return Err(refused());
        }
        if !self
            .has_accepted(reseller, agreement::Type::PartnerAgreement, deadline)
            .await?
        {
            return Err(Error::ResellerAgreementNotAccepted(reseller.to_string()));
        }
        Ok(())
    }

    /// The partner ID belongs to an advisor in the customer's cloud ("Check ID").
    pub(super) async fn check_partner_of_record(
        &self,
        mpn_id: &str,
        customer_cloud: i32,
        deadline: &Deadline,
    ) -> Result<()> {
        let answer = TenantServiceClient::new(self.deps.tenants.clone())
            .verify_partner_id(deadline.request(ten::VerifyPartnerIdRequest {
                mpn_id: mpn_id.to_string(),
            }))
            .await;
        let partner = match answer {
            Ok(response) => response.into_inner().partner,
            Err(status) if status.code() == Code::NotFound => None,
            Err(status) => return Err(Error::peer("tenants")(status)),
        }
        .ok_or_else(|| Error::PartnerIdNotFound(mpn_id.to_string()))?;
        if !partner
            .partner_types
            .contains(&(PartnerType::Advisor as i32))
        {
            return Err(Error::PartnerNotAdvisor(mpn_id.to_string()));
        }
        if partner.cloud != customer_cloud {
            let name = |c: i32| {
                Cloud::try_from(c)
                    .unwrap_or(Cloud::Unspecified)
                    .as_str_name()
            };
            return Err(Error::PartnerNotInCloud {
                mpn_id: mpn_id.to_string(),
                partner_cloud: name(partner.cloud),
                customer_cloud: name(customer_cloud),
            });
        }
        Ok(())
    }
}
