//! The handlers of `RelationshipService` and `RelationshipInternalService`: parse the request,
//! apply the rules, call the store, answer. Every handler reads the time once, from the
//! service's clock, so one answer never mixes two "nows".

mod sellers;

use crate::Deps;
use crate::domain::{self, ListFilter, Relationship};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{Database, fingerprint, remember, replay};
use partnerhub_proto::relationships::relationship_internal_service_server::RelationshipInternalService;
use partnerhub_proto::relationships::relationship_service_server::RelationshipService;
use partnerhub_proto::relationships::{self as pb, RelationshipType, relationship::State};
use partnerhub_proto::tenants::tenant::State as TenantState;
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::{BatchGetTenantsRequest, Tenant};
use partnerhub_proto::types::Role;
use std::collections::HashMap;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// The `request_ids` method name of `CreateRelationships`.
const CREATE: &str = "CreateRelationships";
/// How often `CreateRelationships` tries again when a concurrent create of the same
/// relationship committed first (the next try finds and reuses it).
const CREATE_ATTEMPTS: usize = 3;

/// The relationships service over its database.
#[derive(Debug, Clone)]
pub struct Relationships {
    db: Database,
    deps: Deps,
}

type Conn = sqlx::pool::PoolConnection<sqlx::Any>;

impl Relationships {
    pub fn new(db: Database, deps: Deps) -> Self {
        Relationships { db, deps }
    }

    async fn conn(&self) -> Result<Conn> {
        Ok(self.db.pool.acquire().await?)
    }

    fn now(&self) -> i64 {
        self.deps.clock.now()
    }

    async fn list_relationships(
        &self,
        req: pb::ListRelationshipsRequest,
    ) -> Result<pb::ListRelationshipsResponse> {
        let mut v = Violations::new();
        let filter = v.take(ListFilter::parse(&req));
        // The token's fingerprint is over the filters as sent: a next page asks the same.
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "relationships",
            &[
                &req.partner_tenant_id,
                &req.client_tenant_id,
                &req.r#type.to_string(),
                &req.state.to_string(),
            ],
        ));
        let (filter, page) = v.done(filter.zip(page))?;
        let now = self.now();
        let rows = store::list(&mut *self.conn().await?, &filter, now, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.clone());
        Ok(pb::ListRelationshipsResponse {
            relationships: rows.iter().map(|r| r.to_proto(now)).collect(),
            next_page_token,
        })
    }

    /// The relationship, if `tenant_id` may see it (a party or the indirect provider).
    async fn get_relationship(&self, req: &pb::GetRelationshipRequest) -> Result<pb::Relationship> {
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let id = v.take(fields::id("relationship_id", &req.relationship_id));
        let (tenant_id, id) = v.done(tenant_id.zip(id))?;
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        let now = self.now();
        store::get(&mut *self.conn().await?, &id)
            .await?
            .filter(|r| r.is_visible_to(&tenant_id))
            .map(|r| r.to_proto(now))
            .ok_or(Error::RelationshipNotFound(id))
    }

    async fn list_partners_of_customer(
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
        let names = self.display_names(&partners).await?;
        let partners = partners
            .iter()
            // A partner whose last relationship ended between the two reads has no row.
            .filter_map(|p| by_partner.get(p.as_str()).map(|rows| (p, rows)))
            .map(|(p, rows)| customer_partner(p, names.get(p), rows, now))
            .collect();
        Ok(pb::ListPartnersOfCustomerResponse {
            partners,
            next_page_token,
        })
    }

    async fn list_customers_of_partner(
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

    /// The tenants' display names, from the tenants service (one call). Without them there is
    /// no page to show: UNAVAILABLE.
    async fn display_names(&self, tenant_ids: &[String]) -> Result<HashMap<String, String>> {
        Ok(self
            .tenants(tenant_ids)
            .await?
            .into_iter()
            .map(|(id, t)| (id, t.display_name))
            .collect())
    }

    /// The tenants the tenants service knows of these ids, by id (one call). Without them
    /// there is no page to show: UNAVAILABLE.
    async fn tenants(&self, tenant_ids: &[String]) -> Result<HashMap<String, Tenant>> {
        let request = Request::new(BatchGetTenantsRequest {
            tenant_ids: tenant_ids.to_vec(),
        });
        let answer = TenantInternalServiceClient::new(self.deps.tenants.clone())
            .batch_get_tenants(request)
            .await
            .map_err(|s| Error::TenantsUnavailable(format!("{:?}: {}", s.code(), s.message())))?;
        Ok(answer
            .into_inner()
            .tenants
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect())
    }

    async fn remove_admin_roles(
        &self,
        req: &pb::RemoveAdminRolesRequest,
    ) -> Result<pb::RemoveAdminRolesResponse> {
        let mut v = Violations::new();
        let customer = v.take(fields::id("customer_tenant_id", &req.customer_tenant_id));
        let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
        let (customer, partner) = v.done(customer.zip(partner))?;
        let (customer, partner) = (customer.to_string(), partner.to_string());
        let now = self.now();
        let mut tx = self.db.pool.begin().await?;
        let removed = store::terminate_delegated_admin(&mut tx, &partner, &customer, now).await?;
        let remaining = store::active_between(&mut tx, &partner, &customer, now).await?;
        tx.commit().await?;
        Ok(pb::RemoveAdminRolesResponse {
            removed: removed.iter().map(|r| r.to_proto(now)).collect(),
            remaining: remaining.iter().map(|r| r.to_proto(now)).collect(),
        })
    }

    async fn terminate_relationship(
        &self,
        req: &pb::TerminateRelationshipRequest,
    ) -> Result<pb::Relationship> {
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let id = v.take(fields::id("relationship_id", &req.relationship_id));
        let (tenant_id, id) = v.done(tenant_id.zip(id))?;
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        let now = self.now();
        let mut tx = self.db.pool.begin().await?;
        let row = store::get(&mut tx, &id)
            .await?
            .filter(|r| r.is_party(&tenant_id))
            .ok_or_else(|| Error::RelationshipNotFound(id.clone()))?;
        // Terminated or expired: it has ended already; answer it as it is.
        if row.state_at(now) != State::Active {
            return Ok(row.to_proto(now));
        }
        if row.kind == RelationshipType::Reseller && row.client_tenant_id == tenant_id {
            return Err(Error::CustomerCannotEndReseller);
        }
        // Only this row changes: ending an INDIRECT_PARTNERSHIP leaves the reseller's customers
        // and every delegated admin as they are.
        store::terminate(&mut tx, &id, now).await?;
        let row = store::get(&mut tx, &id)
            .await?
            .ok_or_else(|| Error::RelationshipNotFound(id.clone()))?;
        tx.commit().await?;
        Ok(row.to_proto(now))
    }

    async fn create_relationships(
        &self,
        req: pb::CreateRelationshipsRequest,
    ) -> Result<Vec<pb::Relationship>> {
        let mut v = Violations::new();
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        let new = v.take(domain::new_relationships(&req.relationships));
        let new = v.done(new)?;
        let fingerprint = fingerprint(&pb::CreateRelationshipsRequest {
            request_id: String::new(),
            ..req
        });
        let mut attempt = 0;
        let ids = loop {
            attempt += 1;
            match self
                .write_relationships(&new, request_id, &fingerprint)
                .await
            {
                Ok(ids) => break ids,
                Err(e) if e.is_unique_violation() => {
                    // A concurrent twin with the same request id committed first: answer as
                    // a retry. Otherwise a concurrent create of the same relationship did, and
                    // the next attempt reuses it.
                    if let Some(ids) = self.seen(request_id, &fingerprint).await? {
                        break ids;
                    }
                    if attempt >= CREATE_ATTEMPTS {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let now = self.now();
        let mut conn = self.conn().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            let row = store::get(&mut conn, id).await?.ok_or_else(|| {
                Error::Inconsistent(format!("{CREATE} recorded relationship {id}, now missing"))
            })?;
            out.push(row.to_proto(now));
        }
        Ok(out)
    }

    /// Creates or reuses each relationship in one transaction; returns their ids in order.
    async fn write_relationships(
        &self,
        new: &[domain::NewRelationship],
        request_id: Option<Uuid>,
        fingerprint: &str,
    ) -> Result<Vec<String>> {
        let mut tx = self.db.pool.begin().await?;
        if let Some(rid) = request_id
            && let Some(ids) = replay(&mut tx, CREATE, rid, fingerprint).await?.earlier()?
        {
            return Ok(split_ids(&ids));
        }
        let now = self.now();
        let mut ids = Vec::with_capacity(new.len());
        for r in new {
            let id = match store::find_active(&mut tx, r, now).await? {
                Some(found) => {
                    // Delegated admin asked for again is a new grant on the same relationship.
                    if let Some(grant) = &r.grant {
                        store::regrant(
                            &mut tx,
                            &found.id,
                            grant,
                            r.end_time(now),
                            &r.invitation_id,
                            now,
                        )
                        .await?;
                    }
                    found.id
                }
                None => {
                    let id = Uuid::now_v7().to_string();
                    store::insert(&mut tx, &id, r, now).await?;
                    id
                }
            };
            ids.push(id);
        }
        if let Some(rid) = request_id {
            remember(&mut tx, CREATE, rid, fingerprint, &ids.join(",")).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// The relationships an earlier `CreateRelationships` with this request id created, if any.
    async fn seen(
        &self,
        request_id: Option<Uuid>,
        fingerprint: &str,
    ) -> Result<Option<Vec<String>>> {
        let Some(rid) = request_id else {
            return Ok(None);
        };
        let earlier = replay(&mut *self.conn().await?, CREATE, rid, fingerprint)
            .await?
            .earlier()?;
        Ok(earlier.map(|ids| split_ids(&ids)))
    }

    async fn check_access(&self, req: &pb::CheckAccessRequest) -> Result<pb::CheckAccessResponse> {
        let mut v = Violations::new();
        let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
        let customer = v.take(fields::id("customer_tenant_id", &req.customer_tenant_id));
        let (partner, customer) = v.done(partner.zip(customer))?;
        let now = self.now();
        let rows = store::active_between(
            &mut *self.conn().await?,
            &partner.to_string(),
            &customer.to_string(),
            now,
        )
        .await?;
        let granting: Vec<_> = rows
            .into_iter()
            .filter(|r| domain::grants_access(r.kind))
            .collect();
        let roles = domain::access_roles(granting.iter().map(|r| (r.kind, r.roles.clone())));
        Ok(pb::CheckAccessResponse {
            roles: roles.into_iter().map(|r| r as i32).collect(),
            relationships: granting.iter().map(|r| r.to_proto(now)).collect(),
        })
    }
}

/// The ids `remember` recorded for a `CreateRelationships`, comma-joined.
fn split_ids(ids: &str) -> Vec<String> {
    ids.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// One row of the "Partner relationships" page: the partner, every type it holds (in enum
/// order), the roles of its delegated admin, and the relationships behind them.
fn customer_partner(
    partner_tenant_id: &str,
    display_name: Option<&String>,
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
        partner_display_name: display_name.cloned().unwrap_or_default(),
        types: types.into_iter().map(|t| t as i32).collect(),
        delegated_roles: delegated_roles.into_iter().map(|r| r as i32).collect(),
        relationships: rows.iter().map(|r| r.to_proto(now)).collect(),
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

#[tonic::async_trait]
impl RelationshipService for Relationships {
    async fn list_relationships(
        &self,
        request: Request<pb::ListRelationshipsRequest>,
    ) -> Result<Response<pb::ListRelationshipsResponse>, Status> {
        Ok(Response::new(
            self.list_relationships(request.into_inner()).await?,
        ))
    }

    async fn get_relationship(
        &self,
        request: Request<pb::GetRelationshipRequest>,
    ) -> Result<Response<pb::GetRelationshipResponse>, Status> {
        let relationship = self.get_relationship(request.get_ref()).await?;
        Ok(Response::new(pb::GetRelationshipResponse {
            relationship: Some(relationship),
        }))
    }

    async fn list_partners_of_customer(
        &self,
        request: Request<pb::ListPartnersOfCustomerRequest>,
    ) -> Result<Response<pb::ListPartnersOfCustomerResponse>, Status> {
        Ok(Response::new(
            self.list_partners_of_customer(request.get_ref()).await?,
        ))
    }

    async fn list_customers_of_partner(
        &self,
        request: Request<pb::ListCustomersOfPartnerRequest>,
    ) -> Result<Response<pb::ListCustomersOfPartnerResponse>, Status> {
        Ok(Response::new(
            self.list_customers_of_partner(request.get_ref()).await?,
        ))
    }

    async fn remove_admin_roles(
        &self,
        request: Request<pb::RemoveAdminRolesRequest>,
    ) -> Result<Response<pb::RemoveAdminRolesResponse>, Status> {
        Ok(Response::new(
            self.remove_admin_roles(request.get_ref()).await?,
        ))
    }

    async fn terminate_relationship(
        &self,
        request: Request<pb::TerminateRelationshipRequest>,
    ) -> Result<Response<pb::TerminateRelationshipResponse>, Status> {
        let relationship = self.terminate_relationship(request.get_ref()).await?;
        Ok(Response::new(pb::TerminateRelationshipResponse {
            relationship: Some(relationship),
        }))
    }
}

#[tonic::async_trait]
impl RelationshipInternalService for Relationships {
    async fn create_relationships(
        &self,
        request: Request<pb::CreateRelationshipsRequest>,
    ) -> Result<Response<pb::CreateRelationshipsResponse>, Status> {
        let relationships = self.create_relationships(request.into_inner()).await?;
        Ok(Response::new(pb::CreateRelationshipsResponse {
            relationships,
        }))
    }

    async fn check_access(
        &self,
        request: Request<pb::CheckAccessRequest>,
    ) -> Result<Response<pb::CheckAccessResponse>, Status> {
        Ok(Response::new(self.check_access(request.get_ref()).await?))
    }

    async fn check_seller(
        &self,
        request: Request<pb::CheckSellerRequest>,
    ) -> Result<Response<pb::CheckSellerResponse>, Status> {
        Ok(Response::new(self.check_seller(request.get_ref()).await?))
    }
}
