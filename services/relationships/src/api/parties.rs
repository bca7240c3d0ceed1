//! A customer's partners and a partner's customers: the pages of both lists, each row with the
//! relationships behind it and what the tenants service shows of the other party (a partner's
//! public profile, a customer's name).

use super::Relationships;
use crate::domain::Relationship;
use crate::error::Result;
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_proto::relationships::{self as pb, RelationshipType};
use partnerhub_proto::tenants::tenant::State as TenantState;
use partnerhub_proto::tenants::{PartnerListing, Tenant};
use partnerhub_proto::types::Role;
use std::collections::HashMap;

impl Relationships {
    pub(super) async fn list_partners_of_customer(
        &self,
        req: &pb::ListPartnersOfCustomerRequest,
    ) -> Result<pb::ListPartnersOfCustomerResponse> {
        let mut v = Violations::new();
        let customer = v.take(fields::id("customer_tenant_id", &req.customer_tenant_id));
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "partners of customer",
            &[&req.customer_tenant_id],
        ));
        let (customer, page) = v.done(customer.zip(page))?;
        let customer = customer.to_string();
        let now = self.now();
        let mut conn = self.conn().await?;
        let partners = store::partners_of_customer(&mut conn, &customer, now, &page).await?;
        let (partners, next_page_token) = page.finish(partners, String::clone);
        let Some(last) = partners.last() else {
            return Ok(pb::ListPartnersOfCustomerResponse::default());
        };
        let rows =
            store::active_with_partners(&mut conn, &customer, &page.after, last, now).await?;
        drop(conn);
        let mut by_partner: HashMap<&str, Vec<&Relationship>> = HashMap::new();
        for row in &rows {
            by_partner
                .entry(row.partner_tenant_id.as_str())
                .or_default()
                .push(row);
        }
        let mut listings: HashMap<String, PartnerListing> = self
            .tenants
            .partner_listings(&partners)
            .await?
            .into_iter()
            .map(|l| (l.tenant_id.clone(), l))
            .collect();
        let partners = partners
            .iter()
            // A partner whose last relationship ended between the two reads has no row.
            .filter_map(|p| by_partner.get(p.as_str()).map(|rows| (p, rows)))
            .map(|(p, rows)| customer_partner(p, listings.remove(p), rows, now))
            .collect();
        Ok(pb::ListPartnersOfCustomerResponse {
            partners,
            next_page_token,
        })
    }

    pub(super) async fn list_customers_of_partner(
        &self,
        req: &pb::ListCustomersOfPartnerRequest,
    ) -> Result<pb::ListCustomersOfPartnerResponse> {
        let mut v = Violations::new();
        let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
        let reseller = v.take(fields::optional_id(
            "indirect_reseller_id",
            &req.indirect_reseller_id,
        ));
        if let (Some(p), Some(Some(r))) = (partner, reseller)
            && p == r
        {
            v.add(
                "indirect_reseller_id",
                "must be one of the partner's indirect resellers, not the partner itself",
            );
        }
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "customers of partner",
            &[&req.partner_tenant_id, &req.indirect_reseller_id],
        ));
        let ((partner, reseller), page) = v.done(partner.zip(reseller).zip(page))?;
        let partner = partner.to_string();
        let reseller = reseller.map(|r| r.to_string()).unwrap_or_default();
        let now = self.now();
        let mut conn = self.conn().await?;
        let customers =
            store::customers_of_partner(&mut conn, &partner, &reseller, now, &page).await?;
        // The token continues after the last customer examined, whether or not it is shown.
        let (customers, next_page_token) = page.finish(customers, String::clone);
        let Some(last) = customers.last() else {
            return Ok(pb::ListCustomersOfPartnerResponse::default());
        };
        let rows =
            store::active_with_customers(&mut conn, &partner, &page.after, last, now).await?;
        drop(conn);
        let mut by_customer: HashMap<&str, Vec<&Relationship>> = HashMap::new();
        for row in &rows {
            by_customer
                .entry(row.client_tenant_id.as_str())
                .or_default()
                .push(row);
        }
        let tenants = self.tenants(&customers).await?;
        let customers = customers
            .iter()
            // Only customers that are ready: one a workflow is still creating (PENDING), or
            // one the tenants service does not know, is left out.
            .filter_map(|c| {
                tenants
                    .get(c)
                    .filter(|t| t.state == TenantState::Active as i32)
                    .map(|t| (c, t))
            })
            // A customer whose last relationship ended between the two reads has no row.
            .filter_map(|(c, t)| by_customer.get(c.as_str()).map(|rows| (c, t, rows)))
            .map(|(c, t, rows)| partner_customer(&partner, c, &t.display_name, rows, now))
            .collect();
        Ok(pb::ListCustomersOfPartnerResponse {
            customers,
            next_page_token,
        })
    }

    /// The tenants the tenants service knows of these ids, by id (one call). Without them
    /// there is no page to show: UNAVAILABLE.
    async fn tenants(&self, tenant_ids: &[String]) -> Result<HashMap<String, Tenant>> {
        Ok(self
            .tenants
            .tenants(tenant_ids)
            .await?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect())
    }
}

/// One row of the "Partner relationships" page: the partner with its public profile (from the
/// tenants service; `None` if it has none), every type it holds (in enum order), the roles of
/// its delegated admin, and the relationships behind them.
fn customer_partner(
    partner_tenant_id: &str,
    listing: Option<PartnerListing>,
    rows: &[&Relationship],
    now: i64,
) -> pb::CustomerPartner {
    let mut types: Vec<RelationshipType> = rows.iter().map(|r| r.kind).collect();
    types.sort_by_key(|t| *t as i32);
    types.dedup();
    let mut delegated_roles: Vec<Role> = rows
        .iter()
        .filter(|r| r.kind == RelationshipType::DelegatedAdmin)
        .flat_map(|r| r.roles.iter().copied())
        .collect();
    delegated_roles.sort_by_key(|r| *r as i32);
    delegated_roles.dedup();
    pb::CustomerPartner {
        partner_tenant_id: partner_tenant_id.to_string(),
        partner_display_name: listing
            .as_ref()
            .map(|l| l.display_name.clone())
            .unwrap_or_default(),
        types: types.into_iter().map(|t| t as i32).collect(),
        delegated_roles: delegated_roles.into_iter().map(|r| r as i32).collect(),
        relationships: rows.iter().map(|r| r.to_proto(now)).collect(),
        partner: listing,
    }
}

/// One row of a partner's customer list. `rows` are the partner's own active relationships
/// with the customer and the INDIRECT_RESELLER relationships under it (the partner as indirect
/// provider). Types in enum order (INDIRECT_RESELLER for either), the partner's own delegated
/// admin roles, and the resellers selling to the customer under the partner, sorted.
fn partner_customer(
    partner_tenant_id: &str,
    customer_tenant_id: &str,
    display_name: &str,
    rows: &[&Relationship],
    now: i64,
) -> pb::PartnerCustomer {
    let mut types: Vec<RelationshipType> = rows.iter().map(|r| r.kind).collect();
    types.sort_by_key(|t| *t as i32);
    types.dedup();
    let mut delegated_roles: Vec<Role> = rows
        .iter()
        .filter(|r| {
            r.kind == RelationshipType::DelegatedAdmin && r.partner_tenant_id == partner_tenant_id
        })
        .flat_map(|r| r.roles.iter().copied())
        .collect();
    delegated_roles.sort_by_key(|r| *r as i32);
    delegated_roles.dedup();
    let mut indirect_reseller_ids: Vec<String> = rows
        .iter()
        .filter(|r| {
            r.kind == RelationshipType::IndirectReseller
                && r.indirect_provider_tenant_id == partner_tenant_id
        })
        .map(|r| r.partner_tenant_id.clone())
        .collect();
    indirect_reseller_ids.sort();
    indirect_reseller_ids.dedup();
    pb::PartnerCustomer {
        customer_tenant_id: customer_tenant_id.to_string(),
        customer_display_name: display_name.to_string(),
        types: types.into_iter().map(|t| t as i32).collect(),
        delegated_roles: delegated_roles.into_iter().map(|r| r as i32).collect(),
        indirect_reseller_ids,
        relationships: rows.iter().map(|r| r.to_proto(now)).collect(),
    }
}
