//! Seed 001's contact requests: a customer asks partners it found to contact it
//! (`ContactPartners`); each partner lists the requests sent to it (`ListContactRequests`) and
//! answers one with an invitation (the internal `AnswerContactRequest`, which the invitations
//! service calls).

use super::{Tenants, tenants};
use crate::domain::{self, ContactRequest, Kind, LIMIT_WINDOW, NewContactRequest};
use crate::error::{Error, Result};
use crate::store::contact_requests as store;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{Written, fingerprint, write_once};
use partnerhub_proto::tenants as pb;
use tonic::Request;
use uuid::Uuid;

pub(super) async fn contact_partners(
    svc: &Tenants,
    request: Request<pb::ContactPartnersRequest>,
) -> Result<pb::ContactPartnersResponse> {
    let req = request.into_inner();
    let new = NewContactRequest::parse(&req)?;
    let fingerprint = fingerprint(&pb::ContactPartnersRequest {
        request_id: String::new(),
        ..req
    });
    check_parties(svc, &new).await?;
    let written = write_once(
        &svc.db,
        "ContactPartners",
        new.request_id,
        &fingerprint,
        async |tx| {
            // One customer's requests one at a time, so that two at once can't both pass the
            // limit: each takes the customer's row first.
            crate::store::lock_tenant(tx, &new.customer_tenant_id).await?;
            let now = domain::now();
            let sent = store::sent_since(tx, &new.customer_tenant_id, now - LIMIT_WINDOW).await?;
            if let Some(wait) = svc
                .contact_limit
                .wait(sent, new.partner_tenant_ids.len(), now)
            {
                return Err(Error::ContactLimit(wait));
            }
            let group = Uuid::now_v7().to_string();
            for partner in &new.partner_tenant_ids {
                let copy = new.to(Uuid::now_v7().to_string(), &group, partner, now);
                store::insert(tx, &copy).await?;
            }
            Ok(group)
        },
    )
    .await?;
    let group = match written {
        Written::New(id) | Written::Earlier(id) => id,
    };
    let sent = store::group(&mut *svc.conn().await?, &group).await?;
    Ok(pb::ContactPartnersResponse {
        contact_requests: sent.into_iter().map(ContactRequest::into).collect(),
    })
}

/// The customer is an active customer, and every partner one it could have found with
/// `SearchPartners`: an active, listed partner of its cloud. A partner it could not have found
/// is answered as unknown (NOT_FOUND), so the call tells nothing of unlisted partners.
async fn check_parties(svc: &Tenants, new: &NewContactRequest) -> Result<()> {
    let mut ids = Vec::with_capacity(new.partner_tenant_ids.len() + 1);
    ids.push(new.customer_tenant_id.clone());
    ids.extend(new.partner_tenant_ids.iter().cloned());
    let found = tenants::tenants_of(svc, &ids).await?;
    let of = |id: &str| found.iter().find(|t| t.id == id);
    let customer = of(&new.customer_tenant_id)
        .ok_or_else(|| Error::TenantNotFound(new.customer_tenant_id.clone()))?;
    if customer.kind != Kind::Customer || !customer.is_active() {
        return Err(Error::NotACustomer(customer.id.clone()));
    }
    for id in &new.partner_tenant_ids {
        let findable = of(id).is_some_and(|p| {
            p.is_active()
                && p.cloud == customer.cloud
                && p.partner.as_ref().is_some_and(|profile| profile.listed)
        });
        if !findable {
            return Err(Error::TenantNotFound(id.clone()));
        }
    }
    Ok(())
}

pub(super) async fn list_contact_requests(
    svc: &Tenants,
    request: Request<pb::ListContactRequestsRequest>,
) -> Result<pb::ListContactRequestsResponse> {
    let req = request.get_ref();
    let mut v = Violations::new();
    let partner = v
        .take(fields::id("partner_tenant_id", &req.partner_tenant_id))
        .map(|id| id.to_string())
        .unwrap_or_default();
    let page = v.take(Page::parse(
        req.page_size,
        &req.page_token,
        "contact requests",
        &[&partner],
    ));
    let page = v.done(page)?;
    let rows = store::of_partner(&mut *svc.conn().await?, &partner, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |r| r.id.clone());
    Ok(pb::ListContactRequestsResponse {
        contact_requests: rows.into_iter().map(ContactRequest::into).collect(),
        next_page_token,
    })
}

pub(super) async fn answer_contact_request(
    svc: &Tenants,
    request: Request<pb::AnswerContactRequestRequest>,
) -> Result<pb::AnswerContactRequestResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let id = v.take(fields::id("contact_request_id", &req.contact_request_id));
    let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
    let customer = v.take(fields::optional_id(
        "customer_tenant_id",
        &req.customer_tenant_id,
    ));
    let invitation = v.take(fields::id("invitation_id", &req.invitation_id));
    let (((id, partner), customer), invitation) =
        v.done(id.zip(partner).zip(customer).zip(invitation))?;
    let (id, invitation) = (id.to_string(), invitation.to_string());
    let mut tx = svc.db.pool.begin().await?;
    // Another partner's request, or one from another customer than the invitee, is answered
    // as unknown: a partner learns nothing of requests not sent to it.
    let mut found = store::by_id(&mut tx, &id)
        .await?
        .filter(|r| {
            r.partner_tenant_id == partner.to_string()
                && customer.is_none_or(|c| c.to_string() == r.customer_tenant_id)
        })
        .ok_or_else(|| Error::ContactRequestNotFound(id.clone()))?;
    if found.invitation_id == invitation {
        return Ok(answered(found));
    }
    if !found.invitation_id.is_empty() {
        return Err(Error::ContactRequestAnswered(id));
    }
    let now = domain::now();
    if !req.validate_only {
        if !store::answer(&mut tx, &id, &invitation, now).await? {
            return Err(Error::ContactRequestAnswered(id));
        }
        tx.commit().await?;
    }
    found.invitation_id = invitation;
    found.answer_time = Some(now);
    Ok(answered(found))
}

fn answered(request: ContactRequest) -> pb::AnswerContactRequestResponse {
    pb::AnswerContactRequestResponse {
        contact_request: Some(request.into()),
    }
}
