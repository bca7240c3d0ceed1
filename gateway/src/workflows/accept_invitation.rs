//! A tenant accepts a partner's invitation: a customer a reseller or delegated admin invitation
//! (seeds 004 and 001), an indirect reseller an indirect provider's partnership (seed 003).
//! Check the caller, the cloud, the region, the agreement; use the invitation; create the
//! relationships.

use super::partners::{is, tenant};
use super::{Workflows, on_behalf};
use crate::error::{Error, relay};
use partnerhub_kit::status::Violations;
use partnerhub_proto::gateway as gw;
use partnerhub_proto::invitations::{self as inv, InvitationKind, invitation::State};
use partnerhub_proto::relationships::{self as rel, RelationshipType};
use partnerhub_proto::subscriptions as sub;
use partnerhub_proto::tenants::{self as pb, Principal};
use partnerhub_proto::types::{Cloud, Contact, PartnerType, Role};
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
    let code = req.code.trim().to_string();
    if code.is_empty() {
        return Err(Error::Invalid(Violations::one("code", "is required")).into());
    }
    // The request id only has to be well-formed: see ACCEPT_NAMESPACE.
    partnerhub_kit::fields::request_id(&req.request_id).map_err(Error::Invalid)?;

    let invitation = w
        .invitations
        .clone()
        .lookup_invitation(inv::LookupInvitationRequest { code: code.clone() })
        .await
        .map_err(relay)?
        .into_inner()
        .invitation
        .ok_or_else(|| {
            Status::internal("the invitations service answered without an invitation")
        })?;
    let kind = InvitationKind::try_from(invitation.kind).unwrap_or(InvitationKind::Unspecified);
    let partnership = kind == InvitationKind::IndirectPartnership;
    // Seed 002: an advisor's trial or purchase offer may be accepted by a global or billing
    // admin; everything else by a global admin only (the table lets both kinds through).
    let advisor_offer = matches!(kind, InvitationKind::Trial | InvitationKind::PurchaseOffer);
    let partner_of_record = kind == InvitationKind::PartnerOfRecord;
    let global_admin = who.roles.contains(&(Role::GlobalAdmin as i32));
    if kind == InvitationKind::Unspecified {
        return Err(Error::KindNotAvailable(kind.as_str_name().to_string()).into());
    }
    if !advisor_offer && !global_admin {
        return Err(Error::RoleRequired {
            method: "AcceptInvitation".into(),
            roles: Role::GlobalAdmin.as_str_name().into(),
        }
        .into());
    }
    usable(&invitation, &req.tenant_id)?;
    // A single-use invitation is accepted once per tenant, so any retry (whatever its request
    // id) finishes that one acceptance. A reusable one (an advisor's link) is keyed by the
    // request id too: a retry repeats it, a new request is a second use, which is refused.
    let key = if invitation.reusable {
        format!("{}\n{}\n{}", req.tenant_id, invitation.id, req.request_id)
    } else {
        format!("{}\n{}", req.tenant_id, invitation.id)
    };
    let step_id = uuid::Uuid::new_v5(&ACCEPT_NAMESPACE, key.as_bytes()).to_string();

    // The accepting tenant: a customer, or for a partnership the indirect reseller.
    let customer = tenant(w, &req.tenant_id).await?;
    let partner = tenant(w, &invitation.inviter_tenant_id).await?;
    if partnership {
        if customer.kind != pb::tenant::Kind::Partner as i32
            || !is(&customer, PartnerType::IndirectReseller)
        {
            return Err(Error::NotAnIndirectReseller.into());
        }
    } else if customer.kind != pb::tenant::Kind::Customer as i32 {
        return Err(Error::NotACustomer.into());
    }
    if !invitation.invitee_tenant_id.is_empty() && invitation.invitee_tenant_id != req.tenant_id {
        return Err(Error::InvitationForAnotherTenant.into());
    }
    if (advisor_offer || partner_of_record) && !is(&partner, PartnerType::Advisor) {
        return Err(Error::InviterNotAdvisor.into());
    }
    if customer.cloud != invitation.cloud {
        return Err(Error::CloudMismatch {
            invitation: partnerhub_rules::cloud::name(invitation.cloud).to_string(),
            tenant: partnerhub_rules::cloud::name(customer.cloud).to_string(),
        }
        .into());
    }
    if kind == InvitationKind::ResellerRelationship {
        if let Some((partner_region, customer_region)) = partnerhub_rules::country::region_mismatch(
            &partner.country_code,
            &customer.country_code,
        ) {
            return Err(Error::RegionMismatch {
                partner: partner.country_code.clone(),
                partner_region,
                customer: customer.country_code.clone(),
                customer_region,
            }
            .into());
        }
        let cloud = Cloud::try_from(customer.cloud).unwrap_or(Cloud::Unspecified);
        if matches!(cloud, Cloud::Germany | Cloud::UsGovernment)
            && invitation.delegated_admin.is_none()
        {
            return Err(Error::DelegatedAdminRequired(
                partnerhub_rules::cloud::name(customer.cloud).to_string(),
            )
            .into());
        }
    }
    // The agreement is checked now and recorded only once the invitation is ours: a call that
    // loses the invitation to another tenant leaves nothing behind.
    let agreement_type = if partnership {
        pb::agreement::Type::PartnerAgreement
    } else {
        pb::agreement::Type::CustomerAgreement
    };
    let to_accept = agreement_to_accept(w, &req, agreement_type).await?;
    // An advisor's offers are checked against this customer before the invitation is used.
    if (advisor_offer || partner_of_record) && !invitation.line_items.is_empty() {
        let checked = w
            .subscriptions_internal
            .clone()
            .check_line_items(sub::CheckLineItemsRequest {
                cloud: customer.cloud,
                country_code: customer.country_code.clone(),
                line_items: invitation.line_items.clone(),
            })
            .await
            .map_err(relay)?
            .into_inner();
        if let Some(first) = checked.problems.first() {
            let mut violations = Violations::new();
            for p in &checked.problems {
                violations.add(
                    p.field.replacen("line_items", "invitation.line_items", 1),
                    &p.description,
                );
            }
            return Err(Error::OffersNotAvailable {
                reason: first.reason.clone(),
                violations,
            }
            .into());
        }
    }

    // Use the invitation first: of two tenants accepting one invitation at once, exactly one
    // gets past this line. A retry with the same request id passes again.
    w.invitations
        .clone()
        .redeem_invitation(inv::RedeemInvitationRequest {
            code,
            tenant_id: req.tenant_id.clone(),
            request_id: step_id.clone(),
        })
        .await
        .map_err(relay)?;
    let agreement = match to_accept {
        Some(signer) => accept_agreement(w, who, &req.tenant_id, agreement_type, signer).await?,
        None => None,
    };

    let mut wanted = Vec::new();
    if advisor_offer || partner_of_record {
        wanted.push(rel::NewRelationship {
            r#type: RelationshipType::Advisor as i32,
            partner_tenant_id: partner.id.clone(),
            client_tenant_id: customer.id.clone(),
            invitation_id: invitation.id.clone(),
            ..Default::default()
        });
    }
    if partnership {
        wanted.push(rel::NewRelationship {
            r#type: RelationshipType::IndirectPartnership as i32,
            partner_tenant_id: partner.id.clone(),
            client_tenant_id: customer.id.clone(),
            invitation_id: invitation.id.clone(),
            ..Default::default()
        });
    }
    if kind == InvitationKind::ResellerRelationship {
        wanted.push(rel::NewRelationship {
            r#type: RelationshipType::Reseller as i32,
            partner_tenant_id: partner.id.clone(),
            client_tenant_id: customer.id.clone(),
            invitation_id: invitation.id.clone(),
            ..Default::default()
        });
    }
    // With an advisor's offer, delegated admin comes only when a global admin accepts.
    let grant = invitation.delegated_admin.as_ref().filter(|_| global_admin);
    if let Some(grant) = grant {
        wanted.push(rel::NewRelationship {
            r#type: RelationshipType::DelegatedAdmin as i32,
            partner_tenant_id: partner.id.clone(),
            client_tenant_id: customer.id.clone(),
            roles: grant.roles.clone(),
            duration: grant.duration,
            auto_extend: grant.auto_extend,
            invitation_id: invitation.id.clone(),
            ..Default::default()
        });
    }
    let relationships = w
        .relationships
        .clone()
        .create_relationships(rel::CreateRelationshipsRequest {
            relationships: wanted,
            request_id: step_id.clone(),
        })
        .await
        .map_err(relay)?
        .into_inner()
        .relationships;
    let mpn_id = partner
        .partner
        .as_ref()
        .map(|p| p.mpn_id.clone())
        .unwrap_or_default();
    let mut subscriptions = Vec::new();
    if (advisor_offer || partner_of_record) && !invitation.line_items.is_empty() {
        // The offers that came with it, with the advisor as partner of record. (A partner of
        // record invitation's offer is taken as a purchase.)
        let step = uuid::Uuid::parse_str(&step_id)
            .map(|u| super::step_id(&u, "subscriptions"))
            .unwrap_or_default();
        subscriptions = w
            .subscriptions_internal
            .clone()
            .create_advisor_subscriptions(sub::CreateAdvisorSubscriptionsRequest {
                customer_tenant_id: customer.id.clone(),
                partner_of_record_mpn_id: mpn_id.clone(),
                line_items: invitation.line_items.clone(),
                trial: kind == InvitationKind::Trial,
                request_id: step,
            })
            .await
            .map_err(relay)?
            .into_inner()
            .subscriptions;
    }
    if partner_of_record {
        subscriptions.extend(record_partner(w, who, &customer.id, &mpn_id).await?);
    }
    tracing::info!(invitation = %invitation.id, customer = %customer.id, partner = %partner.id, "invitation accepted");
    Ok(gw::AcceptInvitationResponse {
        relationships,
        subscriptions,
        agreement,
    })
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

/// Refuses an invitation that can no longer be accepted, unless this tenant accepted it
/// already (then this is a retry, and the redeem step decides by request id).
fn usable(invitation: &inv::Invitation, tenant_id: &str) -> Result<(), Error> {
    let state = State::try_from(invitation.state).unwrap_or(State::Unspecified);
    let (reason, what) = match state {
        State::Pending => return Ok(()),
        State::Accepted if invitation.responded_tenant_id == tenant_id => return Ok(()),
        State::Accepted => ("INVITATION_ALREADY_USED", "was accepted already"),
        State::Declined => ("INVITATION_DECLINED", "was declined"),
        State::Revoked => ("INVITATION_REVOKED", "was revoked by the partner"),
        State::Expired => ("INVITATION_EXPIRED", "has expired"),
        State::Unspecified => ("INVITATION_NOT_USABLE", "can't be used"),
    };
    Err(Error::InvitationNotUsable {
        reason,
        message: format!("this invitation {what}; ask the partner to send a new one"),
    })
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
