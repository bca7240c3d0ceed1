//! A tenant accepts a partner's invitation: a customer a reseller or delegated admin invitation
//! (seeds 004 and 001), an indirect reseller an indirect provider's partnership (seed 003), a
//! customer an advisor's offer (seeds 002 and 000).
//!
//! Orchestration only: the invitations service decides whether this caller may accept and what
//! accepting creates (`RedeemInvitation`); here the steps are carried out in order (the
//! agreement, the redeem, the relationships, the subscriptions), each keyed by the acceptance
//! so a retry finishes the work without doing a step twice. The acceptance is recorded before
//! its first write and finished by a gateway if its call doesn't.

use super::journal::{Kind, Submitted};
use super::{Workflows, on_behalf};
use crate::error::{Error, relay};
use partnerhub_kit::caller;
use partnerhub_kit::status::Violations;
use partnerhub_proto::gateway as gw;
use partnerhub_proto::invitations as inv;
use partnerhub_proto::relationships as rel;
use partnerhub_proto::subscriptions as sub;
use partnerhub_proto::tenants::{self as pb, Principal};
use partnerhub_proto::types::{Contact, Role};
use tonic::Status;

/// Names the acceptance of one invitation by one tenant; every step (the redeem, the
/// relationships, the subscriptions) is keyed by it, so a request id reused for another
/// invitation can't collide with the first.
const ACCEPT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5c0f1d2e_8a7b_4c3d_9e6f_a1b2c3d4e5f6);

pub async fn run(
    w: &Workflows,
    who: &Principal,
    req: gw::AcceptInvitationRequest,
) -> Result<gw::AcceptInvitationResponse, Status> {
    let redeem = |validate_only: bool, request_id: &str| {
        as_acceptor(
            inv::RedeemInvitationRequest {
                code: req.code.clone(),
                tenant_id: req.tenant_id.clone(),
                request_id: request_id.to_string(),
                validate_only,
                // The customer's licence counts: the invitations service checks them and
                // answers the subscriptions in them.
                line_items: req.line_items.clone(),
            },
            who,
        )
    };
    // The invitations service checks every rule of accepting and says what it creates; nothing
    // is used yet.
    let plan = w
        .invitations
        .clone()
        .redeem_invitation(redeem(true, &req.request_id))
        .await
        .map_err(relay)?
        .into_inner();
    let invitation = plan.invitation.as_ref().ok_or_else(|| {
        Status::internal("the invitations service answered without an invitation")
    })?;
    // A single-use invitation is accepted once per tenant, so any retry (whatever its request
    // id) finishes that one acceptance. A reusable one (an advisor's link) is keyed by the
    // request id too: a retry repeats it, a new request is a second use, which is refused. The
    // licence counts are not in the key: the redeem remembers them with it, so the same id
    // with other counts is REQUEST_ID_REUSED before anything is written.
    let key = if invitation.reusable {
        format!("{}\n{}\n{}", req.tenant_id, invitation.id, req.request_id)
    } else {
        format!("{}\n{}", req.tenant_id, invitation.id)
    };
    let step_id = uuid::Uuid::new_v5(&ACCEPT_NAMESPACE, key.as_bytes());
    let invitation_id = invitation.id.clone();
    // The agreement is checked now and recorded only once the invitation is ours: a call that
    // loses the invitation to another tenant leaves nothing behind.
    let agreement_type = pb::agreement::Type::try_from(plan.agreement_type)
        .unwrap_or(pb::agreement::Type::Unspecified);
    let to_accept = agreement_to_accept(w, &req, agreement_type).await?;
    let record = Submitted {
        kind: Kind::AcceptInvitation,
        key: step_id.to_string(),
        request_id: &req.request_id,
        request: prost::Message::encode_to_vec(&req),
        who,
    };
    let writes = async {
        // Use the invitation: of two tenants accepting one invitation at once, exactly one gets
        // past this line. A retry with the same request id passes again.
        let plan = w
            .invitations
            .clone()
            .redeem_invitation(redeem(false, &step_id.to_string()))
            .await
            .map_err(relay)?
            .into_inner();
        let agreement = match to_accept {
            Some(signer) => {
                accept_agreement(w, who, &req.tenant_id, agreement_type, signer).await?
            }
            None => None,
        };
        let relationships = w
            .relationships
            .clone()
            .create_relationships(rel::CreateRelationshipsRequest {
                relationships: plan.relationships,
                request_id: step_id.to_string(),
            })
            .await
            .map_err(relay)?
            .into_inner()
            .relationships;
        let mut subscriptions = Vec::new();
        if let Some(advisor) = plan.advisor_subscriptions {
            subscriptions = w
                .subscriptions_internal
                .clone()
                .create_advisor_subscriptions(sub::CreateAdvisorSubscriptionsRequest {
                    request_id: super::step_id(&step_id, "subscriptions"),
                    ..advisor
                })
                .await
                .map_err(relay)?
                .into_inner()
                .subscriptions;
        }
        if !plan.record_partner_mpn_id.is_empty() {
            subscriptions
                .extend(record_partner(w, who, &req.tenant_id, &plan.record_partner_mpn_id).await?);
        }
        tracing::info!(invitation = %invitation_id, tenant = %req.tenant_id, "invitation accepted");
        Ok::<_, Status>(gw::AcceptInvitationResponse {
            relationships,
            subscriptions,
            agreement,
        })
    };
    w.recorded(record, writes).await
}

/// The redeem on behalf of `who`, with the caller's roles, which decide what it may accept.
fn as_acceptor<T>(message: T, who: &Principal) -> tonic::Request<T> {
    let mut request = on_behalf(message, who);
    let roles: Vec<&str> = who
        .roles
        .iter()
        .filter_map(|r| Role::try_from(*r).ok())
        .map(|r| r.as_str_name())
        .collect();
    if let Ok(value) = roles.join(",").parse() {
        request.metadata_mut().insert(caller::ROLES, value);
    }
    request
}

/// Seed 000's 21Vianet flow: the authorised partner becomes partner of record on each of the
/// customer's subscriptions that are still running. Setting the same partner again changes
/// nothing, so a retry is harmless.
async fn record_partner(
    w: &Workflows,
    who: &Principal,
    customer: &str,
    mpn_id: &str,
) -> Result<Vec<sub::Subscription>, Status> {
    let mut changed = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = w
            .subscriptions
            .clone()
            .list_subscriptions(sub::ListSubscriptionsRequest {
                customer_tenant_id: customer.to_string(),
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .map_err(relay)?
            .into_inner();
        for s in page.subscriptions {
            let running = matches!(
                sub::subscription::State::try_from(s.state),
                Ok(sub::subscription::State::Active
                    | sub::subscription::State::Trial
                    | sub::subscription::State::Suspended)
            );
            if !running || s.partner_of_record_mpn_id == mpn_id {
                continue;
            }
            let updated = w
                .subscriptions
                .clone()
                .update_subscription(on_behalf(
                    sub::UpdateSubscriptionRequest {
                        tenant_id: customer.to_string(),
                        subscription: Some(sub::Subscription {
                            id: s.id,
                            partner_of_record_mpn_id: mpn_id.to_string(),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["partner_of_record_mpn_id".into()],
                        }),
                    },
                    who,
                ))
                .await
                .map_err(relay)?
                .into_inner();
            changed.extend(updated.subscription);
        }
        if page.next_page_token.is_empty() {
            return Ok(changed);
        }
        page_token = page.next_page_token;
    }
}

/// The agreement the accepting tenant needs (customer or partner agreement): `None` when
/// accepted before; the signer to record it with when it is to be accepted in this call;
/// AGREEMENT_NOT_ACCEPTED otherwise.
async fn agreement_to_accept(
    w: &Workflows,
    req: &gw::AcceptInvitationRequest,
    agreement_type: pb::agreement::Type,
) -> Result<Option<Contact>, Status> {
    let accepted = w
        .tenants
        .clone()
        .list_agreements(pb::ListAgreementsRequest {
            tenant_id: req.tenant_id.clone(),
            page_size: 1,
            page_token: String::new(),
            r#type: agreement_type as i32,
        })
        .await
        .map_err(relay)?
        .into_inner();
    if !accepted.agreements.is_empty() {
        return Ok(None);
    }
    let signer = req
        .agreement_signer
        .clone()
        .ok_or(Error::AgreementNotAccepted)?;
    // Checked before the invitation is used, so a bad signer can't leave it used up.
    let mut v = Violations::new();
    for (field, value) in [
        ("agreement_signer.first_name", &signer.first_name),
        ("agreement_signer.last_name", &signer.last_name),
    ] {
        if value.trim().is_empty() {
            v.add(field, "is required");
        }
    }
    v.take(partnerhub_kit::fields::email(
        "agreement_signer.email",
        &signer.email,
    ));
    v.check().map_err(Error::Invalid)?;
    Ok(Some(signer))
}

async fn accept_agreement(
    w: &Workflows,
    who: &Principal,
    tenant_id: &str,
    agreement_type: pb::agreement::Type,
    signer: Contact,
) -> Result<Option<pb::Agreement>, Status> {
    let answer = w
        .tenants
        .clone()
        .accept_agreement(on_behalf(
            pb::AcceptAgreementRequest {
                tenant_id: tenant_id.to_string(),
                r#type: agreement_type as i32,
                signer: Some(signer),
            },
            who,
        ))
        .await
        .map_err(|status| relay(agreement_field(status)))?
        .into_inner();
    Ok(answer.agreement)
}

/// The tenants service names the signer's fields `signer.*`; in this request they are
/// `agreement_signer.*`.
fn agreement_field(status: Status) -> Status {
    use tonic_types::StatusExt;
    if status.code() != tonic::Code::InvalidArgument {
        return status;
    }
    let details = status.get_error_details();
    let Some(bad) = details.bad_request() else {
        return status;
    };
    let mut v = Violations::new();
    for f in &bad.field_violations {
        v.add(
            f.field.replacen("signer", "agreement_signer", 1),
            f.description.clone(),
        );
    }
    Error::Invalid(v).into()
}
