//! The relationships themselves: list, read, create (or reuse) and terminate.

use super::Relationships;
use crate::domain::{self, ListFilter};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{UniqueViolation, fingerprint, write_once};
use partnerhub_proto::relationships::{self as pb, RelationshipType, relationship::State};
use partnerhub_proto::types::Role;
use sqlx::AnyConnection;
use uuid::Uuid;

/// The `request_ids` method name of `CreateRelationships`.
const CREATE: &str = "CreateRelationships";
/// How often `CreateRelationships` tries again when a concurrent create of the same
/// relationship committed first (the next try finds and reuses it).
const CREATE_ATTEMPTS: usize = 3;

impl Relationships {
    pub(super) async fn list_relationships(
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
    pub(super) async fn get_relationship(
        &self,
        req: &pb::GetRelationshipRequest,
    ) -> Result<pb::Relationship> {
        let (tenant_id, id) = tenant_and_id(&req.tenant_id, &req.relationship_id)?;
        let now = self.now();
        store::get(&mut *self.conn().await?, &id)
            .await?
            .filter(|r| r.is_visible_to(&tenant_id))
            .map(|r| r.to_proto(now))
            .ok_or(Error::RelationshipNotFound(id))
    }

    /// Ends a relationship for one of its parties, the caller holding `roles` there (`None`:
    /// another service) one of those that end its type.
    pub(super) async fn terminate_relationship(
        &self,
        req: &pb::TerminateRelationshipRequest,
        roles: Option<&[Role]>,
    ) -> Result<pb::Relationship> {
        let (tenant_id, id) = tenant_and_id(&req.tenant_id, &req.relationship_id)?;
        let now = self.now();
        let mut tx = self.db.pool.begin().await?;
        let row = store::get(&mut tx, &id)
            .await?
            .filter(|r| r.is_party(&tenant_id))
            .ok_or_else(|| Error::RelationshipNotFound(id.clone()))?;
        if let Some(held) = roles
            && !partnerhub_rules::roles::holds_one(row.enders(), held)
        {
            return Err(Error::RoleRequired {
                roles: partnerhub_rules::roles::names(row.enders()),
            });
        }
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

    pub(super) async fn create_relationships(
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
            let now = self.now();
            let written = write_once(&self.db, CREATE, request_id, &fingerprint, async |tx| {
                Ok::<_, Error>(write_relationships(tx, &new, now).await?.join(","))
            })
            .await;
            match written {
                Ok(written) => break split_ids(&written.resource()),
                // A concurrent create of the same relationship (by another request) committed
                // first: the next attempt finds and reuses it.
                Err(e) if e.is_unique_violation() && attempt < CREATE_ATTEMPTS => {}
                Err(e) => return Err(e),
            }
        };
        let now = self.now();
        let mut conn = self.conn().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            let row = store::get(&mut conn, id).await?.ok_or_else(|| {
                Error::inconsistent(format!("{CREATE} recorded relationship {id}, now missing"))
            })?;
            out.push(row.to_proto(now));
        }
        Ok(out)
    }
}

/// Creates or reuses each relationship in `tx`; returns their ids in order.
async fn write_relationships(
    tx: &mut AnyConnection,
    new: &[domain::NewRelationship],
    now: i64,
) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(new.len());
    for r in new {
        if r.grant.is_some() {
            store::retire_expired(tx, r, now).await?;
        }
        let id = match store::find_active(tx, r, now).await? {
            Some(found) => {
                // Delegated admin asked for again is a new grant on the same relationship.
                if let Some(grant) = &r.grant {
                    store::regrant(tx, &found.id, grant, r.end_time(now), &r.invitation_id, now)
                        .await?;
                }
                found.id
            }
            None => {
                let id = Uuid::now_v7().to_string();
                store::insert(tx, &id, r, now).await?;
                id
            }
        };
        ids.push(id);
    }
    Ok(ids)
}

/// The tenant asking and the relationship it names (a read or a termination).
fn tenant_and_id(tenant_id: &str, id: &str) -> Result<(String, String)> {
    let mut v = Violations::new();
    let tenant_id = v.take(fields::id("tenant_id", tenant_id));
    let id = v.take(fields::id("relationship_id", id));
    let (tenant_id, id) = v.done(tenant_id.zip(id))?;
    Ok((tenant_id.to_string(), id.to_string()))
}

/// The ids `remember` recorded for a `CreateRelationships`, comma-joined.
fn split_ids(ids: &str) -> Vec<String> {
    ids.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
