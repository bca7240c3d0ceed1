//! What the workflows check about tenants and partners: reading them, the cloud and region
//! rules, and an indirect provider's reseller.

use super::Workflows;
use crate::error::relay;
use partnerhub_proto::gateway::Problem;
use partnerhub_proto::subscriptions::LineItemProblem;
use partnerhub_proto::tenants as pb;
use partnerhub_rules::partner;
use tonic::{Code, Status};
use tonic_types::StatusExt;

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

/// A tenant's partner types (none for a customer).
pub fn types(tenant: &pb::Tenant) -> &[i32] {
    tenant
        .partner
        .as_ref()
        .map_or(&[], |p| p.partner_types.as_slice())
}

/// One problem a review found, with what a submit answers when it is the first.
pub struct Found {
    pub problem: Problem,
    /// The refusal of the service that found it, answered as it is: the same code and reason
    /// as that service gives wherever the rule is met. `None` for the gateway's own findings.
    pub refusal: Option<Status>,
    /// Without a refusal, what a submit answers: INVALID_ARGUMENT for a badly shaped field,
    /// FAILED_PRECONDITION (or NOT_FOUND) for a rule about the world.
    pub code: Code,
}

impl Found {
    /// A badly shaped field.
    pub fn invalid(field: &str, description: String) -> Found {
        Found::ours(
            field,
            "INVALID_ARGUMENT",
            description,
            Code::InvalidArgument,
        )
    }

    /// A rule about the world, found at `field`.
    pub fn precondition(field: &str, reason: &str, description: String) -> Found {
        Found::ours(field, reason, description, Code::FailedPrecondition)
    }

    /// A problem another service found, which a submit answers with `refusal` when it is the
    /// first (`None`: with a generic problem of `reason`).
    pub fn theirs(
        field: &str,
        reason: &str,
        description: String,
        refusal: Option<Status>,
    ) -> Found {
        Found {
            problem: Problem {
                field: field.into(),
                description,
                reason: reason.into(),
            },
            refusal,
            code: Code::InvalidArgument,
        }
    }

    fn ours(field: &str, reason: &str, description: String, code: Code) -> Found {
        Found {
            code,
            ..Found::theirs(field, reason, description, None)
        }
    }

    /// A line item problem the subscriptions service found, answered by a submit with the code
    /// `PlaceOrder` gives it.
    pub fn line_item(problem: LineItemProblem) -> Found {
        let code = match Code::from_i32(problem.code) {
            Code::Ok | Code::Unknown => Code::InvalidArgument,
            code => code,
        };
        Found::ours(&problem.field, &problem.reason, problem.description, code)
    }
}

/// What stops `provider` from selling through `reseller` (seed 003): the provider must be an
/// indirect provider, and the relationships service must say it may sell through the reseller
/// (an active partnership, the partner agreement accepted). `field` names the reseller in the
/// request.
pub async fn reseller_problems(
    w: &Workflows,
    provider: &pb::Tenant,
    reseller_id: &str,
    field: &str,
) -> Result<Vec<Found>, Status> {
    if uuid::Uuid::parse_str(reseller_id).is_err() {
        return Ok(vec![Found::invalid(
            field,
            "must be the reseller's tenant id (a UUID) or its partner ID (MPN ID: 6 to 8 digits, \
             not starting with 0)"
                .into(),
        )]);
    }
    if !partner::sells_through_resellers(types(provider)) {
        return Ok(vec![Found::precondition(
            field,
            "NOT_INDIRECT_PROVIDER",
            "only an indirect provider sells through indirect resellers".into(),
        )]);
    }
    let refusal = w
        .sellers
        .seller_refusal(&provider.id, "", reseller_id)
        .await
        .map_err(|e| relay(e.status))?;
    // The relationships service's refusal, as one problem of the review.
    Ok(refusal
        .map(|status| {
            let reason = status
                .get_error_details()
                .error_info()
                .map(|info| info.reason.clone())
                .unwrap_or_default();
            let description = status.message().to_string();
            vec![Found::theirs(field, &reason, description, Some(status))]
        })
        .unwrap_or_default())
}
