//! The inviter's invitations: create (with its checks of the inviter, the invitee and the
//! offers), read, list and revoke.

use super::Invitations;
use crate::acceptance;
use crate::code;
use crate::domain::{self, Invitation, InvitationFilter, Kind, Line, NewInvitation, State};
use crate::draft::{self, Letter};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{Written, fingerprint, seen, write_once};
use partnerhub_proto::invitations as pb;
use partnerhub_proto::subscriptions as subscriptions_pb;
use partnerhub_proto::tenants as tenants_pb;
use partnerhub_proto::types::{Cloud, PartnerType, Role};
use partnerhub_rules::partner;
use uuid::Uuid;

/// The `request_ids` method name of creates.
const CREATE: &str = "CreateInvitation";

impl Invitations {
    /// The offers of an invitation's line items, in their order: each must exist in the
    /// catalogue, be sold in the inviter's cloud instance, have a licence count within its
    /// bounds (a trial: at most its maximum) and, for a trial, offer a trial. Every bad line is
    /// named at once (INVALID_ARGUMENT); an offer without a trial is OFFER_HAS_NO_TRIAL when
    /// nothing else is wrong.
    async fn check_offers(
        &self,
        kind: Kind,
        lines: &[Line],
        cloud: Cloud,
    ) -> Result<Vec<subscriptions_pb::Offer>> {
        let mut v = Violations::new();
        let mut no_trial = None;
        let mut offers = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let field = format!("invitation.line_items[{i}].offer_id");
            let Some(offer) = self.subscriptions.offer(&line.offer_id.to_string()).await? else {
                v.add(
                    field,
                    format!("no offer {} in the catalogue", line.offer_id),
                );
                continue;
            };
            if offer.cloud != cloud as i32 {
                let theirs = Cloud::try_from(offer.cloud).unwrap_or(Cloud::Unspecified);
                v.add(
                    field,
                    format!(
                        "{} is sold in {}, the inviter is in {}: offers are made only in the \
                         inviter's cloud instance",
                        offer.display_name,
                        theirs.as_str_name(),
                        cloud.as_str_name()
                    ),
                );
            } else if kind == Kind::Trial && !offer.trial_available && no_trial.is_none() {
                no_trial = Some(Error::offer_has_no_trial(field, &offer.display_name));
            }
            let fewest = if kind == Kind::Trial {
                1
            } else {
                offer.min_quantity
            };
            if !(fewest..=offer.max_quantity).contains(&line.quantity) {
                v.add(
                    format!("invitation.line_items[{i}].quantity"),
                    format!(
                        "must be {fewest} to {} licences for {} (was {})",
                        offer.max_quantity, offer.display_name, line.quantity
                    ),
                );
            }
            offers.push(offer);
        }
        v.check()?;
        if let Some(e) = no_trial {
            return Err(e);
        }
        Ok(offers)
    }

    /// Records (with `validate_only`, checks) that invitation `invitation_id` of `inviter`
    /// answers the contact request `request` (`invitee`: the customer it names, "" for none).
    /// The tenants service keeps the requests and decides; its refusal is passed on as it is.
    async fn answer_contact_request(
        &self,
        request: &str,
        inviter: &str,
        invitee: &str,
        invitation_id: &str,
        validate_only: bool,
    ) -> Result<()> {
        self.tenants
            .answer_contact_request(request, inviter, invitee, invitation_id, validate_only)
            .await?
            .map_err(|refusal| Error::Shared(partnerhub_kit::status::Shared::Refused(refusal)))
    }

    /// Creates an invitation for a caller holding `roles` (`None`: another service).
    pub(super) async fn create(
        &self,
        req: pb::CreateInvitationRequest,
        roles: Option<&[Role]>,
    ) -> Result<pb::CreateInvitationResponse> {
        let parsed = NewInvitation::parse(req.invitation.as_ref(), req.ttl.as_ref());
        let ids = fields::request_id(&req.request_id).and_then(|request_id| {
            let answering = req
                .invitation
                .as_ref()
                .map_or("", |i| &i.contact_request_id);
            fields::optional_id("invitation.contact_request_id", answering)
                .map(|answering| (request_id, answering.map(|id| id.to_string())))
        });
        let (new, (request_id, answering)) = match (parsed, ids) {
            (Ok(new), Ok(ids)) => (new, ids),
            (Err(Error::Invalid(mut v)), Err(more)) => {
                v.extend(more);
                return Err(Error::Invalid(v));
            }
            (Err(e), _) => return Err(e),
            (Ok(_), Err(v)) => return Err(v.into()),
        };
        if answering.is_some() && !new.kind.invites_customers() {
            return Err(Error::Invalid(Violations::one(
                "invitation.contact_request_id",
                "is only for invitations to customers: a customer's contact request is answered \
                 by asking it for a relationship",
            )));
        }
        acceptance::require("CreateInvitation", new.kind.senders(), roles)?;
        let fingerprint = fingerprint(&pb::CreateInvitationRequest {
            request_id: String::new(),
            ..req.clone()
        });
        // A reused request id is told before anything else is checked.
        seen::<Error>(&self.db, CREATE, request_id, &fingerprint).await?;
        let inviter_id = new.inviter_tenant_id.to_string();
        let inviter = self
            .tenants
            .tenant(&inviter_id)
            .await?
            .ok_or_else(|| Error::TenantNotFound(inviter_id.clone()))?;
        let profile = match &inviter.partner {
            Some(p) if is_active(&inviter, tenants_pb::tenant::Kind::Partner) => p,
            _ => return Err(Error::InviterNotAPartner(inviter_id)),
        };
        let cloud = match Cloud::try_from(inviter.cloud) {
            Ok(c) if c != Cloud::Unspecified => c,
            _ => {
                return Err(Error::inconsistent(format!(
                    "tenant {inviter_id} has no cloud instance"
                )));
            }
        };
        let types = &profile.partner_types;
        match new.kind {
            Kind::ResellerRelationship if !partner::resells(types) => {
                return Err(Error::InviterCannotResell(inviter_id));
            }
            Kind::IndirectPartnership if !partner::sells_through_resellers(types) => {
                return Err(Error::InviterNotIndirectProvider(inviter_id));
            }
            kind if kind.needs_advisor() && !partner::advises(types) => {
                return Err(Error::InviterNotAdvisor(inviter_id));
            }
            // Delegated admin, and seed 001's collaborator, MPSA and line-of-business partners:
            // any enrolled partner asks (seed 001 ties them to no partner type).
            _ => {}
        }
        if new.kind == Kind::ResellerRelationship
            && new.delegated_admin.is_none()
            && partnerhub_rules::cloud::requires_delegated_admin(cloud)
        {
            return Err(Error::delegated_admin_required(cloud.as_str_name()));
        }
        if let Some(invitee) = new.invitee_tenant_id {
            let invitee = invitee.to_string();
            if new.kind.invites_customers() {
                self.check_customer_invitee(&invitee, cloud).await?;
            } else {
                self.check_reseller_invitee(&invitee, cloud).await?;
            }
        }
        let offers = self.check_offers(new.kind, &new.line_items, cloud).await?;
        let invitee = new
            .invitee_tenant_id
            .map(|id| id.to_string())
            .unwrap_or_default();

        let now = self.deps.clock.now();
        let invitation = new.into_invitation(
            Uuid::now_v7().to_string(),
            cloud,
            self.deps.default_ttl,
            now,
        );
        let issued = code::of(&self.deps.key, &invitation.id);
        // Seed 001: the contact request it answers was sent to the inviter (and by the invitee,
        // if named): checked before anything is written, recorded once the invitation exists.
        // A retry records it again (nothing changes), so a call stopped between the two still
        // ends with the request answered.
        if let Some(answering) = &answering {
            self.answer_contact_request(answering, &inviter_id, &invitee, &invitation.id, true)
                .await?;
        }
        let written = write_once(&self.db, CREATE, request_id, &fingerprint, async |tx| {
            store::insert(tx, &invitation, &issued.hash).await?;
            Ok::<_, Error>(invitation.id.clone())
        })
        .await?;
        let (id, replayed) = match written {
            Written::New(id) => (id, false),
            Written::Earlier(id) => (id, true),
        };
        if let Some(answering) = &answering {
            self.answer_contact_request(answering, &inviter_id, &invitee, &id, false)
                .await?;
        }
        let mut conn = self.conn().await?;
        let row = store::by_id(&mut conn, &inviter_id, &id)
            .await?
            .ok_or(Error::InvitationNotFound)?;
        // A retry derives the first call's code again and shows it while it is the invitation's
        // and the invitation can still be used: a used, declined, revoked or expired
        // invitation's answer shows none, and so does a retry of a create whose code was not
        // derived with this key (made before keys, or under another key).
        let issued = if replayed {
            code::of(&self.deps.key, &id)
        } else {
            issued
        };
        let shown = !replayed
            || store::by_code_hash(&mut conn, &issued.hash)
                .await?
                .is_some_and(|by_code| by_code.id == row.id && row.state_at(now) == State::Pending);
        drop(conn);
        if !shown {
            return Ok(pb::CreateInvitationResponse {
                invitation: Some(row.to_proto(now)),
                url: String::new(),
                code: String::new(),
                email_draft: None,
            });
        }
        let url = code::link(self.deps.links.base(cloud), &issued.code);
        let offered: Vec<draft::Offered<'_>> = offers
            .iter()
            .zip(&invitation.line_items)
            .map(|(offer, line)| draft::Offered {
                name: &offer.display_name,
                quantity: line.quantity,
                trial_days: if offer.trial_available {
                    offer.trial_days
                } else {
                    0
                },
            })
            .collect();
        let email_draft = draft::compose(&Letter {
            locale: invitation.locale,
            kind: invitation.kind,
            partner_name: &inviter.display_name,
            mpn_id: &profile.mpn_id,
            delegated_admin: invitation.delegated_admin.as_ref(),
            offers: &offered,
            url: &url,
            expire_time: row.expire_time,
            invitee_email: &invitation.invitee_email,
        });
        Ok(pb::CreateInvitationResponse {
            invitation: Some(row.to_proto(now)),
            url,
            code: issued.code,
            email_draft: Some(email_draft),
        })
    }

    /// The invitee named in a create of a customer kind: an active customer in the inviter's
    /// cloud instance.
    async fn check_customer_invitee(&self, id: &str, cloud: Cloud) -> Result<()> {
        const FIELD: &str = "invitation.invitee_tenant_id";
        let Some(invitee) = self.tenants.tenant(id).await? else {
            return Err(Error::field(
                FIELD,
                "names no tenant; invite an existing customer",
            ));
        };
        if invitee.kind != tenants_pb::tenant::Kind::Customer as i32 {
            return Err(Error::NotACustomer(invitee.id));
        }
        if !is_active(&invitee, tenants_pb::tenant::Kind::Customer) {
            return Err(Error::field(FIELD, "is a customer that is not active yet"));
        }
        if invitee.cloud != cloud as i32 {
            return Err(cloud_mismatch(cloud, &invitee));
        }
        Ok(())
    }

    /// The invitee of an indirect partnership: an active partner enrolled as an indirect reseller,
    /// in the inviter's cloud instance (seed 003: resellers must be enrolled first).
    async fn check_reseller_invitee(&self, id: &str, cloud: Cloud) -> Result<()> {
        const FIELD: &str = "invitation.invitee_tenant_id";
        const ENROL: &str = "resellers must be enrolled as indirect resellers first";
        let Some(invitee) = self.tenants.tenant(id).await? else {
            return Err(Error::field(FIELD, format!("names no tenant; {ENROL}")));
        };
        let enrolled = invitee.kind == tenants_pb::tenant::Kind::Partner as i32
            && invitee
                .partner
                .as_ref()
                .is_some_and(|p| partner::holds(&p.partner_types, PartnerType::IndirectReseller));
        if !enrolled {
            return Err(Error::NotAnIndirectReseller(invitee.id));
        }
        if !is_active(&invitee, tenants_pb::tenant::Kind::Partner) {
            return Err(Error::field(
                FIELD,
                format!("is an indirect reseller that is not active yet; {ENROL}"),
            ));
        }
        if invitee.cloud != cloud as i32 {
            return Err(cloud_mismatch(cloud, &invitee));
        }
        Ok(())
    }

    pub(super) async fn get(
        &self,
        req: &pb::GetInvitationRequest,
    ) -> Result<pb::GetInvitationResponse> {
        let (inviter, id) = inviter_and_id(&req.inviter_tenant_id, &req.invitation_id)?;
        let now = self.deps.clock.now();
        let row = store::by_id(&mut *self.conn().await?, &inviter, &id)
            .await?
            .ok_or(Error::InvitationNotFound)?;
        Ok(pb::GetInvitationResponse {
            invitation: Some(row.to_proto(now)),
        })
    }

    pub(super) async fn list(
        &self,
        req: pb::ListInvitationsRequest,
    ) -> Result<pb::ListInvitationsResponse> {
        let mut v = Violations::new();
        let filter = InvitationFilter {
            inviter_tenant_id: v
                .take(fields::id("inviter_tenant_id", &req.inviter_tenant_id))
                .map(|t| t.to_string())
                .unwrap_or_default(),
            kind: v.take(domain::kind_filter(req.kind)).flatten(),
            state: v.take(domain::state_filter(req.state)).flatten(),
        };
        // The token's fingerprint is over the filters' value names ("" for any).
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "invitations",
            &[
                &filter.inviter_tenant_id,
                filter.kind.map_or("", |k| k.proto().as_str_name()),
                filter.state.map_or("", |s| s.proto().as_str_name()),
            ],
        ));
        let page = v.done(page).map_err(Error::from)?;
        let now = self.deps.clock.now();
        let rows = store::list(&mut *self.conn().await?, &filter, now, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.clone());
        Ok(pb::ListInvitationsResponse {
            invitations: rows.iter().map(|r| r.to_proto(now)).collect(),
            next_page_token,
        })
    }

    /// Revokes an invitation for a caller holding `roles` (`None`: another service) who may
    /// send its kind.
    pub(super) async fn revoke(
        &self,
        req: pb::RevokeInvitationRequest,
        roles: Option<&[Role]>,
    ) -> Result<Invitation> {
        let (inviter, id) = inviter_and_id(&req.inviter_tenant_id, &req.invitation_id)?;
        let now = self.deps.clock.now();
        let mut conn = self.conn().await?;
        if let Some(row) = store::by_id(&mut conn, &inviter, &id).await? {
            acceptance::require("RevokeInvitation", row.kind.senders(), roles)?;
        }
        let revoked = store::revoke(&mut conn, &inviter, &id, now).await?;
        let row = store::by_id(&mut conn, &inviter, &id)
            .await?
            .ok_or(Error::InvitationNotFound)?;
        if revoked {
            Ok(row)
        } else {
            Err(row.state_at(now).refusal().unwrap_or(Error::AlreadyUsed))
        }
    }
}

/// An invitee in another cloud instance than the inviter's.
fn cloud_mismatch(cloud: Cloud, invitee: &tenants_pb::Tenant) -> Error {
    Error::CloudMismatch {
        invitation: cloud.as_str_name(),
        tenant_id: invitee.id.clone(),
        tenant: partnerhub_rules::cloud::name(invitee.cloud),
    }
}

/// A tenant of `kind` that is active.
fn is_active(t: &tenants_pb::Tenant, kind: tenants_pb::tenant::Kind) -> bool {
    t.kind == kind as i32 && t.state == tenants_pb::tenant::State::Active as i32
}

/// The inviter and the invitation a read or a revoke names.
fn inviter_and_id(inviter: &str, id: &str) -> Result<(String, String)> {
    let mut v = Violations::new();
    let inviter = v.take(fields::id("inviter_tenant_id", inviter));
    let id = v.take(fields::id("invitation_id", id));
    let (inviter, id) = v.done(inviter.zip(id))?;
    Ok((inviter.to_string(), id.to_string()))
}
