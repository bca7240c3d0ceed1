//! A partner creates a customer, optionally for one of its indirect resellers (seed 003): the
//! form's details and subscriptions are reviewed (nothing written), then submitted. Submitting
//! creates the customer (pending), its admin, the customer agreement the partner attests, the
//! relationships and the order, and only then activates the customer. Every step is idempotent
//! by an id derived from the request id, so a retry after a failure anywhere completes it once.
//! The submit is recorded before its first write and finished by a gateway if its call doesn't;
//! refused for good, the pending customer is released.

use super::journal::{Kind, Submitted};
use super::partners::{Found, reseller_problems, tenant, types};
use super::{Workflows, on_behalf, step_id};
use crate::error::{Error, relay};
use partnerhub_kit::status::Violations;
use partnerhub_proto::gateway as gw;
use partnerhub_proto::relationships::{self as rel, RelationshipType};
use partnerhub_proto::subscriptions as sub;
use partnerhub_proto::tenants::{self as pb, Principal};
use prost::Message;
use tonic::Status;

pub async fn run(
    w: &Workflows,
    who: &Principal,
    req: gw::CreateCustomerRequest,
) -> Result<gw::CreateCustomerResponse, Status> {
    // A submit needs a request id: it is what lets a retry after a failure finish the same
    // customer instead of tripping over the half-made one.
    let workflow = match partnerhub_kit::fields::request_id(&req.request_id) {
        Ok(Some(id)) => id,
        Ok(None) if req.validate_only => uuid::Uuid::new_v4(),
        Ok(None) => {
            return Err(Error::Invalid(Violations::one(
                "request_id",
                "is required to submit: a UUID, so that a retry completes the same customer",
            ))
            .into());
        }
        Err(v) => return Err(Error::Invalid(v).into()),
    };
    // The request as submitted, recorded for a gateway to run again.
    let submitted = req.clone();
    if !req.validate_only {
        // Its customer released, a failed workflow's review would not find it.
        w.refuse_if_failed(Kind::CreateCustomer, &workflow.to_string())
            .await?;
    }
    // The whole request, remembered with the customer step: a retry that changed anything is
    // told REQUEST_ID_REUSED by the review's first step, before anything else is checked.
    let fingerprint = partnerhub_kit::store::fingerprint(&gw::CreateCustomerRequest {
        request_id: String::new(),
        validate_only: false,
        ..req.clone()
    });
    let partner = tenant(w, &req.partner_tenant_id).await?;
    // The reseller as the form names it (tenant id or partner ID), resolved once: every step
    // below knows it by its tenant id (a tenant id needs no call).
    let req = if !partnerhub_rules::partner::is_partner_id(&req.indirect_reseller_id) {
        req
    } else {
        let (reseller, _) = w
            .directory
            .named(&req.indirect_reseller_id)
            .await
            .map_err(|e| relay(e.status))?;
        gw::CreateCustomerRequest {
            indirect_reseller_id: reseller,
            ..req
        }
    };
    let details = req.customer.clone().unwrap_or_default();
    let customer = pb::Tenant {
        display_name: details.display_name,
        domain_prefix: details.domain_prefix,
        address: details.address,
        contact: details.contact,
        country_code: details.country_code,
        cloud: details.cloud,
        ..Default::default()
    };
    let (preview, found) = review(w, &workflow, &fingerprint, &partner, &customer, &req).await?;

    let planned = relationships(&partner.id, "", &req.indirect_reseller_id);
    if req.validate_only {
        return Ok(gw::CreateCustomerResponse {
            review: Some(gw::CreateCustomerReview {
                customer: preview.customer,
                relationships: planned
                    .into_iter()
                    .map(|r| rel::Relationship {
                        r#type: r.r#type,
                        partner_tenant_id: r.partner_tenant_id,
                        indirect_provider_tenant_id: r.indirect_provider_tenant_id,
                        roles: r.roles,
                        ..Default::default()
                    })
                    .collect(),
                subscriptions: preview.subscriptions,
                problems: found.into_iter().map(|f| f.problem).collect(),
            }),
            ..Default::default()
        });
    }
    // A submit with problems answers as the rule that found the first one answers wherever
    // it is met: another service's refusal as it gave it, the gateway's own as bad input or a
    // precondition, listing every problem.
    if let Some(first) = found.first() {
        if let Some(refusal) = &first.refusal {
            return Err(relay(refusal.clone()));
        }
        let mut violations = Violations::new();
        for f in &found {
            violations.add(&f.problem.field, &f.problem.description);
        }
        return Err(Error::Problems {
            reason: first.problem.reason.clone(),
            code: first.code,
            violations,
        }
        .into());
    }

    let record = Submitted {
        kind: Kind::CreateCustomer,
        key: workflow.to_string(),
        request_id: &submitted.request_id,
        request: submitted.encode_to_vec(),
        who,
    };
    let writes = writes(w, who, workflow, fingerprint, &partner, customer, &req);
    w.recorded(record, writes).await
}

/// What a submit writes, once the review found no problem.
async fn writes(
    w: &Workflows,
    who: &Principal,
    workflow: uuid::Uuid,
    fingerprint: String,
    partner: &pb::Tenant,
    customer: pb::Tenant,
    req: &gw::CreateCustomerRequest,
) -> Result<gw::CreateCustomerResponse, Status> {
    // 1. The customer, pending until everything else exists, with its first admin.
    let created = w
        .tenants_internal
        .clone()
        .create_customer_tenant(pb::CreateCustomerTenantRequest {
            customer: Some(customer),
            request_id: step_id(&workflow, "customer"),
            validate_only: false,
            workflow_fingerprint: fingerprint,
        })
        .await
        .map_err(relay)?
        .into_inner();
    let customer = created
        .customer
        .ok_or_else(|| Status::internal("the tenants service answered without a customer"))?;
    // 2. The customer agreement, which the partner attests the customer accepted.
    w.tenants
        .clone()
        .accept_agreement(on_behalf(
            pb::AcceptAgreementRequest {
                tenant_id: customer.id.clone(),
                r#type: pb::agreement::Type::CustomerAgreement as i32,
                signer: req.agreement_signer.clone(),
            },
            who,
        ))
        .await
        .map_err(relay)?;
    // 3. The relationships: reseller and delegated admin for the partner; for a reseller also
    // the indirect reseller relationship and its delegated admin.
    let relationships = w
        .relationships
        .clone()
        .create_relationships(rel::CreateRelationshipsRequest {
            relationships: relationships(&partner.id, &customer.id, &req.indirect_reseller_id),
            request_id: step_id(&workflow, "relationships"),
        })
        .await
        .map_err(relay)?
        .into_inner()
        .relationships;
    // 4. The order.
    let (order, subscriptions) = if req.line_items.is_empty() {
        (None, Vec::new())
    } else {
        let placed = w
            .subscriptions
            .clone()
            .place_order(on_behalf(
                sub::PlaceOrderRequest {
                    customer_tenant_id: customer.id.clone(),
                    partner_tenant_id: partner.id.clone(),
                    indirect_reseller_id: req.indirect_reseller_id.clone(),
                    line_items: req.line_items.clone(),
                    reseller_is_support_contact: false,
                    validate_only: false,
                    request_id: step_id(&workflow, "order"),
                },
                who,
            ))
            .await
            .map_err(relay)?
            .into_inner();
        (placed.order, placed.subscriptions)
    };
    // 5. Now the customer is complete: activate it.
    let active = w
        .tenants_internal
        .clone()
        .activate_tenant(pb::ActivateTenantRequest {
            tenant_id: customer.id.clone(),
        })
        .await
        .map_err(relay)?
        .into_inner()
        .tenant;
    tracing::info!(customer = %customer.id, partner = %partner.id, "customer created");
    Ok(gw::CreateCustomerResponse {
        customer: active,
        subscriptions,
        order,
        relationships,
        admin_user_name: created.admin_user.map(|u| u.user_name).unwrap_or_default(),
        temporary_password: created.temporary_password,
        review: None,
    })
}

/// Releases the pending customer of the workflow known by `key` (its request id), if its first
/// step made one: its domain prefix is free again.
pub async fn release(w: &Workflows, key: &str) -> Result<(), Status> {
    let workflow = uuid::Uuid::parse_str(key)
        .map_err(|_| Status::internal("a recorded CreateCustomer is known by its request id"))?;
    let released = w
        .tenants_internal
        .clone()
        .release_customer_tenant(pb::ReleaseCustomerTenantRequest {
            request_id: step_id(&workflow, "customer"),
        })
        .await;
    match released {
        Ok(answer) => {
            let tenant = answer.into_inner().tenant_id;
            if !tenant.is_empty() {
                tracing::info!(customer = %tenant, "customer of a failed workflow released");
            }
            Ok(())
        }
        // Active: the workflow had finished; nothing to undo.
        Err(status) if status.code() == tonic::Code::FailedPrecondition => {
            tracing::warn!(error = %status, "customer of a failed workflow not released");
            Ok(())
        }
        Err(status) => Err(relay(status)),
    }
}

/// The relationships a new customer gets.
fn relationships(partner: &str, customer: &str, reseller: &str) -> Vec<rel::NewRelationship> {
    let new = |kind: RelationshipType, from: &str| rel::NewRelationship {
        r#type: kind as i32,
        partner_tenant_id: from.to_string(),
        client_tenant_id: customer.to_string(),
        ..Default::default()
    };
    let mut wanted = vec![
        new(RelationshipType::Reseller, partner),
        new(RelationshipType::DelegatedAdmin, partner),
    ];
    if !reseller.is_empty() {
        wanted.push(rel::NewRelationship {
            indirect_provider_tenant_id: partner.to_string(),
            ..new(RelationshipType::IndirectReseller, reseller)
        });
        wanted.push(new(RelationshipType::DelegatedAdmin, reseller));
    }
    wanted
}

/// What would be created, as far as it can be known before writing.
#[derive(Default)]
struct Preview {
    customer: Option<pb::Tenant>,
    subscriptions: Vec<sub::Subscription>,
}

/// The review: every problem with the request, each naming its field and reason.
async fn review(
    w: &Workflows,
    workflow: &uuid::Uuid,
    fingerprint: &str,
    partner: &pb::Tenant,
    customer: &pb::Tenant,
    req: &gw::CreateCustomerRequest,
) -> Result<(Preview, Vec<Found>), Status> {
    let mut problems = Vec::new();
    let mut preview = Preview::default();
    if !partnerhub_rules::partner::resells(types(partner)) {
        problems.push(Found::precondition(
            "partner_tenant_id",
            "PARTNER_CANNOT_RESELL",
            "only a direct or indirect provider creates customers and bills them".into(),
        ));
    }

    // The customer's details, as the tenants service checks them (nothing is written).
    match w
        .tenants_internal
        .clone()
        .create_customer_tenant(pb::CreateCustomerTenantRequest {
            customer: Some(customer.clone()),
            // With the create step's id, a retry's review knows the customer as its own.
            request_id: step_id(workflow, "customer"),
            validate_only: true,
            workflow_fingerprint: fingerprint.to_string(),
        })
        .await
    {
        Ok(answer) => preview.customer = answer.into_inner().customer,
        Err(status) => problems.extend(problems_of(&status)?),
    }
    if customer.cloud != 0 && customer.cloud != partner.cloud {
        problems.push(Found::precondition(
            "customer.cloud",
            "CLOUD_MISMATCH",
            format!(
                "must be your cloud, {}: relationships never cross clouds",
                partnerhub_rules::cloud::name(partner.cloud)
            ),
        ));
    }
    if !customer.country_code.is_empty()
        && let Some((partner_region, customer_region)) = partnerhub_rules::country::region_mismatch(
            &partner.country_code,
            &customer.country_code,
        )
    {
        problems.push(Found::precondition(
            "customer.country_code",
            "REGION_MISMATCH",
            format!(
                "a reseller sells in its own country or region (UN M49): you are in {} ({partner_region}), the customer in {} ({customer_region})",
                partner.country_code, customer.country_code
            ),
        ));
    }
    if !req.indirect_reseller_id.is_empty() {
        problems.extend(
            reseller_problems(
                w,
                partner,
                &req.indirect_reseller_id,
                "indirect_reseller_id",
            )
            .await?,
        );
    }
    match &req.agreement_signer {
        None => problems.push(Found::precondition(
            "agreement_signer",
            "AGREEMENT_NOT_ACCEPTED",
            "is required: the person at the customer who accepted the customer agreement".into(),
        )),
        Some(signer) => {
            for (field, value) in [
                ("agreement_signer.first_name", &signer.first_name),
                ("agreement_signer.last_name", &signer.last_name),
            ] {
                if value.trim().is_empty() {
                    problems.push(Found::invalid(field, "is required".into()));
                }
            }
            if let Err(v) = partnerhub_kit::fields::email("agreement_signer.email", &signer.email) {
                problems.extend(
                    v.as_slice()
                        .iter()
                        .map(|v| Found::invalid(&v.field, v.description.clone())),
                );
            }
        }
    }
    if !req.line_items.is_empty() {
        let checked = w
            .subscriptions_internal
            .clone()
            .check_line_items(sub::CheckLineItemsRequest {
                cloud: customer.cloud,
                country_code: customer.country_code.clone(),
                line_items: req.line_items.clone(),
                trial_customer_tenant_id: String::new(),
            })
            .await
            .map_err(relay)?
            .into_inner();
        preview.subscriptions = checked.subscriptions;
        // As PlaceOrder refuses them: bad line items (INVALID_ARGUMENT), a partner of record
        // that fails "Check ID" (NOT_FOUND, FAILED_PRECONDITION).
        problems.extend(checked.problems.into_iter().map(Found::line_item));
    }
    Ok((preview, problems))
}

/// A refusal of the tenants service as review problems (its fields are named like ours:
/// `customer.*`); anything but a refusal of the input (a reused request id among them) is
/// passed on as the error it is.
fn problems_of(status: &Status) -> Result<Vec<Found>, Status> {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    let reason = details
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default();
    match status.code() {
        tonic::Code::InvalidArgument if reason == "INVALID_ARGUMENT" => Ok(details
            .bad_request()
            .map(|b| {
                b.field_violations
                    .iter()
                    .map(|v| Found::invalid(&v.field, v.description.clone()))
                    .collect()
            })
            .unwrap_or_default()),
        tonic::Code::AlreadyExists => Ok(vec![Found::theirs(
            "customer.domain_prefix",
            &reason,
            status.message().to_string(),
            Some(status.clone()),
        )]),
        _ => Err(relay(status.clone())),
    }
}
