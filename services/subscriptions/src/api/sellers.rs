//! What other services know, asked through their typed clients: the tenant, its agreements,
//! who may sell to a customer and through which reseller, whose purchases for a customer a
//! partner may read (the relationships service's rules), and whether a partner ID is an
//! advisor's.

use super::Subscriptions;
use crate::domain::{self, LineItem};
use crate::error::{Error, Result};
use partnerhub_kit::status::Shared;
use partnerhub_proto::tenants::{self as ten, agreement};

impl Subscriptions {
    /// A tenant as the tenants service has it: TENANT_NOT_FOUND if there is none.
    pub(super) async fn tenant(&self, id: &str) -> Result<ten::Tenant> {
        self.tenants
            .tenant(id)
            .await?
            .ok_or_else(|| Error::TenantNotFound(id.to_string()))
    }

    /// The customer, and the partner ID of the reseller with tenant id `reseller` ("" for
    /// none, or a reseller that is no partner): one call to the tenants service either way.
    pub(super) async fn customer_and_reseller(
        &self,
        customer: &str,
        reseller: &str,
    ) -> Result<(ten::Tenant, String)> {
        if reseller.is_empty() {
            return Ok((self.tenant(customer).await?, String::new()));
        }
        let read = self
            .tenants
            .tenants(&[customer.to_string(), reseller.to_string()])
            .await?;
        let of = |id: &str| read.iter().find(|t| t.id == id);
        let customer = of(customer)
            .cloned()
            .ok_or_else(|| Error::TenantNotFound(customer.to_string()))?;
        let mpn_id = of(reseller)
            .and_then(|t| t.partner.as_ref())
            .map(|p| p.mpn_id.clone())
            .unwrap_or_default();
        Ok((customer, mpn_id))
    }

    /// Whether `tenant_id` has accepted an agreement of `kind`.
    pub(super) async fn has_accepted(
        &self,
        tenant_id: &str,
        kind: agreement::Type,
    ) -> Result<bool> {
        Ok(self.tenants.has_accepted(tenant_id, kind).await?)
    }

    /// The partner may sell to the customer ("" for none) and through the indirect reseller (""
    /// for none). The relationships service decides; its refusal (NOT_RESELLER_OF_CUSTOMER,
    /// RESELLER_NOT_IN_PARTNERSHIP, RESELLER_AGREEMENT_NOT_ACCEPTED) is passed on as it is.
    pub(super) async fn check_seller(
        &self,
        partner: &str,
        customer: &str,
        reseller: &str,
    ) -> Result<()> {
        match self
            .relationships
            .seller_refusal(partner, customer, reseller)
            .await?
        {
            None => Ok(()),
            Some(refusal) => Err(Error::Shared(Shared::Refused(refusal))),
        }
    }

    /// Seed 001: the customer's MPSA partners, whose purchases for it `reader` may read as one
    /// of them. The relationships service decides; its refusal (NOT_MPSA_PARTNER) is passed on
    /// as it is.
    ///
    /// As a list filter's `made_by` ([`domain::made_by_any_of`]): "" (any) when no `reader` is
    /// named.
    pub(super) async fn mpsa_made_by(&self, customer: &str, reader: &str) -> Result<String> {
        if reader.is_empty() {
            return Ok(String::new());
        }
        match self.relationships.mpsa_partners(customer, reader).await? {
            Ok(partners) => Ok(domain::made_by_any_of(&partners)),
            Err(refusal) => Err(Error::Shared(Shared::Refused(refusal))),
        }
    }

    /// The same for reading one order or subscription of the customer that `reader` can't see
    /// otherwise: none when `reader` is not one of its MPSA partners (the purchase stays
    /// unseen).
    pub(super) async fn mpsa_partners_seen_by(
        &self,
        customer: &str,
        reader: &str,
    ) -> Result<Vec<String>> {
        if customer == reader {
            return Ok(Vec::new());
        }
        Ok(self
            .relationships
            .mpsa_partners(customer, reader)
            .await?
            .unwrap_or_default())
    }

    /// The reseller a request names by its tenant id or its partner ID ("" for none), as its
    /// tenant id and partner ID. A partner ID no partner holds resolves to a tenant id no tenant
    /// has, so the seller check answers as for any unknown reseller.
    pub(super) async fn reseller_named(&self, name: &str) -> Result<(String, String)> {
        if name.is_empty() {
            return Ok((String::new(), String::new()));
        }
        Ok(self.tenants.named(name).await?)
    }

    /// The lines whose partner of record fails "Check ID" for a customer in `customer_cloud`:
    /// each line's index with the refusal `SetPartnerOfRecord` gives for that partner ID.
    pub(super) async fn partner_of_record_refusals(
        &self,
        lines: &[LineItem],
        customer_cloud: i32,
    ) -> Result<Vec<(usize, Error)>> {
        let mut refusals = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.partner_of_record_mpn_id.is_empty() {
                continue;
            }
            match self
                .check_partner_of_record(&line.partner_of_record_mpn_id, customer_cloud)
                .await
            {
                Ok(()) => {}
                Err(
                    refusal @ (Error::PartnerIdNotFound(_)
                    | Error::PartnerNotAdvisor(_)
                    | Error::PartnerNotInCloud { .. }),
                ) => refusals.push((i, refusal)),
                Err(other) => return Err(other),
            }
        }
        Ok(refusals)
    }

    /// The partner ID belongs to an advisor in the customer's cloud ("Check ID").
    pub(super) async fn check_partner_of_record(
        &self,
        mpn_id: &str,
        customer_cloud: i32,
    ) -> Result<()> {
        let partner = self
            .tenants
            .partner_with_id(mpn_id)
            .await?
            .ok_or_else(|| Error::PartnerIdNotFound(mpn_id.to_string()))?;
        if !partnerhub_rules::partner::advises(&partner.partner_types) {
            return Err(Error::PartnerNotAdvisor(mpn_id.to_string()));
        }
        if partner.cloud != customer_cloud {
            return Err(Error::PartnerNotInCloud {
                mpn_id: mpn_id.to_string(),
                partner_cloud: partnerhub_rules::cloud::name(partner.cloud),
                customer_cloud: partnerhub_rules::cloud::name(customer_cloud),
            });
        }
        Ok(())
    }
}
