//! What the workflows check about tenants and partners: reading them, the cloud and region
//! rules, and an indirect provider's reseller.

use super::Workflows;
use crate::error::relay;
use partnerhub_proto::gateway::Problem;
use partnerhub_proto::relationships::{self as rel, RelationshipType};
use partnerhub_proto::tenants as pb;
use partnerhub_proto::types::PartnerType;
use tonic::Status;

/// Reads a tenant from the tenants service.
pub async fn tenant(w: &Workflows, id: &str) -> Result<pb::Tenant, Status> {
    w.tenants
        .clone()
        .get_tenant(pb::GetTenantRequest {
            tenant_id: id.to_string(),
        })
        .await
        .map_err(relay)?
        .into_inner()
        .tenant
        .ok_or_else(|| Status::internal("the tenants service answered without a tenant"))
}

/// Whether a partner holds a partner type.
pub fn is(partner: &pb::Tenant, kind: PartnerType) -> bool {
    partner
        .partner
        .as_ref()
        .is_some_and(|p| p.partner_types.contains(&(kind as i32)))
}

fn problem(field: &str, reason: &str, description: String) -> Problem {
    Problem {
        field: field.into(),
        description,
        reason: reason.into(),
    }
}

/// What stops `provider` from selling through `reseller` (seed 003): the provider is an
/// indirect provider, the two are in an active partnership, and the reseller accepted the
/// partner agreement. `field` names the reseller in the request.
pub async fn reseller_problems(
    w: &Workflows,
    provider: &pb::Tenant,
    reseller_id: &str,
    field: &str,
) -> Result<Vec<Problem>, Status> {
    if uuid::Uuid::parse_str(reseller_id).is_err() {
        return Ok(vec![problem(
            field,
            "INVALID_ARGUMENT",
            "must be a UUID".into(),
        )]);
    }
    if !is(provider, PartnerType::IndirectProvider) {
        return Ok(vec![problem(
            field,
            "NOT_INDIRECT_PROVIDER",
            "only an indirect provider sells through indirect resellers".into(),
        )]);
    }
    let partnerships = w
        .relationships_public
        .clone()
        .list_relationships(rel::ListRelationshipsRequest {
            partner_tenant_id: provider.id.clone(),
            client_tenant_id: reseller_id.to_string(),
            r#type: RelationshipType::IndirectPartnership as i32,
            state: rel::relationship::State::Active as i32,
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .map_err(relay)?
        .into_inner()
        .relationships;
    if partnerships.is_empty() {
        return Ok(vec![problem(
            field,
            "RESELLER_NOT_IN_PARTNERSHIP",
            "is not one of your indirect resellers (no active indirect partnership)".into(),
        )]);
    }
    let agreements = w
        .tenants
        .clone()
        .list_agreements(pb::ListAgreementsRequest {
            tenant_id: reseller_id.to_string(),
            page_size: 1,
            page_token: String::new(),
            r#type: pb::agreement::Type::PartnerAgreement as i32,
        })
        .await
        .map_err(relay)?
        .into_inner()
        .agreements;
    if agreements.is_empty() {
        return Ok(vec![problem(
            field,
            "RESELLER_AGREEMENT_NOT_ACCEPTED",
            "the reseller has not accepted the partner agreement".into(),
        )]);
    }
    Ok(Vec::new())
}
