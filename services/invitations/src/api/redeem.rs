//! `RedeemInvitation`: accepting an invitation. The rules of [`crate::acceptance`] first, then
//! (unless only validating) the atomic use of the invitation.

use super::{Invitations, by_code, required_code};
use crate::acceptance::{self, Acceptor};
use crate::domain::{Invitation, Kind, Line};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{UniqueViolation, fingerprint, remember, replay, seen};
use partnerhub_proto::invitations as pb;
use partnerhub_proto::tenants as tenants_pb;
use partnerhub_proto::types::{Cloud, Role};
use sqlx::AnyConnection;
use uuid::Uuid;

/// The method a redeem's request id and fingerprint are remembered under.
const REDEEM: &str = "RedeemInvitation";

/// What a redeem's request id stands for: the invitation, the tenant and the licence counts
/// asked for (sorted by offer, so the order they were sent in doesn't matter).
struct Request {
    id: Option<Uuid>,
    fingerprint: String,
}

impl Invitations {
    /// Accepting an invitation: every rule of [`acceptance`] first, then (unless only
    /// validating) the atomic use of the invitation; the answer says what accepting creates.
    pub(super) async fn accept(
        &self,
        req: pb::RedeemInvitationRequest,
        roles: Option<Vec<Role>>,
    ) -> Result<pb::RedeemInvitationResponse> {
        let mut v = Violations::new();
        let code = v.take(required_code(req.code.trim()));
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let request_id = v.take(fields::request_id(&req.request_id));
        let asked = v.take(acceptance::asked_counts(&req.line_items));
        let (((code, tenant_id), request_id), asked) =
            v.done(code.zip(tenant_id).zip(request_id).zip(asked))?;
        let tenant_id = tenant_id.to_string();
        let mut sorted = asked.clone();
        sorted.sort_by_key(|l| l.offer_id);
        let request = Request {
            id: request_id,
            fingerprint: fingerprint(&pb::RedeemInvitationRequest {
                code: code.to_string(),
                tenant_id: tenant_id.clone(),
                line_items: sorted.iter().map(Line::to_proto).collect(),
                ..Default::default()
            }),
        };
        // A reused request id is told before anything else is checked.
        if !req.validate_only {
            seen::<Error>(&self.db, REDEEM, request.id, &request.fingerprint).await?;
        }
        let now = self.deps.clock.now();
        let row = by_code(&mut *self.conn().await?, code).await?;
        let who = Acceptor {
            tenant_id: &tenant_id,
            roles: roles.as_deref(),
        };
        let kind = acceptance::may_try(&row, &who, now)?;
        let lines = acceptance::with_counts(kind, &row, &asked)?;
        let accepting = self
            .tenants
            .tenant(&tenant_id)
            .await?
            .ok_or_else(|| Error::TenantNotFound(tenant_id.clone()))?;
        let inviter = self
            .tenants
            .tenant(&row.inviter_tenant_id)
            .await?
            .ok_or_else(|| Error::TenantNotFound(row.inviter_tenant_id.clone()))?;
        acceptance::check_tenants(kind, &row, &accepting, &inviter)?;
        // A tenant that used this reusable link before: the redeem below tells a retry (same
        // request id) from a second use, so the offers are not asked about again (a retry's
        // trial exists already, and is no reason to refuse it).
        let used_before = row.reusable
            && store::redemption(&mut *self.conn().await?, &row.id, &tenant_id)
                .await?
                .is_some();
        if acceptance::has_offers(kind, &row) && !used_before {
            self.check_offers_for(&accepting, &row).await?;
        }
        if !asked.is_empty() {
            self.check_counts_for(&accepting, &asked).await?;
        }
        let plan = acceptance::plan(kind, &row, &lines, &accepting, &inviter);
        let invitation = if req.validate_only {
            row
        } else {
            self.redeem(code, &tenant_id, &request, now).await?
        };
        Ok(pb::RedeemInvitationResponse {
            invitation: Some(invitation.to_proto(now)),
            agreement_type: plan.agreement as i32,
            relationships: plan.relationships,
            advisor_subscriptions: plan.advisor_subscriptions,
            record_partner_mpn_id: plan.record_partner_mpn_id,
        })
    }

    /// An advisor's offers, checked against the accepting customer's cloud and country by the
    /// subscriptions service's catalogue.
    async fn check_offers_for(
        &self,
        customer: &tenants_pb::Tenant,
        row: &Invitation,
    ) -> Result<()> {
        let cloud = Cloud::try_from(customer.cloud).unwrap_or(Cloud::Unspecified);
        let items = row.line_items.iter().map(Line::to_proto).collect();
        // A trial also must be one the customer never had: checked before the link is used, so a
        // refused trial is no use of it.
        let trial_for = (row.kind == Kind::Trial).then_some(customer.id.as_str());
        let problems = self
            .subscriptions
            .line_item_problems(cloud, &customer.country_code, items, trial_for)
            .await?;
        let Some(first) = problems.first() else {
            return Ok(());
        };
        let mut violations = Violations::new();
        for p in &problems {
            violations.add(
                p.field.replacen("line_items", "invitation.line_items", 1),
                &p.description,
            );
        }
        Err(Error::OffersNotAvailable {
            reason: first.reason.clone(),
            violations,
        })
    }

    /// The licence counts a purchase offer's customer asked for, within each offer's minimum
    /// and maximum in the catalogue. (The offers are the invitation's, checked for this customer
    /// by [`Self::check_offers_for`]; only the counts are new.)
    async fn check_counts_for(&self, customer: &tenants_pb::Tenant, asked: &[Line]) -> Result<()> {
        let cloud = Cloud::try_from(customer.cloud).unwrap_or(Cloud::Unspecified);
        let items = asked.iter().map(Line::to_proto).collect();
        let problems = self
            .subscriptions
            .line_item_problems(cloud, &customer.country_code, items, None)
            .await?;
        let mut v = Violations::new();
        for p in problems.iter().filter(|p| p.field.ends_with(".quantity")) {
            v.add(p.field.clone(), &p.description);
        }
        Ok(v.check()?)
    }

    /// Uses the invitation for the tenant, atomically: of two concurrent redeems of a
    /// single-use invitation exactly one wins; the same request id answers as the first call.
    async fn redeem(
        &self,
        code: &str,
        tenant_id: &str,
        request: &Request,
        now: i64,
    ) -> Result<Invitation> {
        let tenant_id = tenant_id.to_string();
        let request_id = request.id.map(|r| r.to_string()).unwrap_or_default();
        let mut tx = self.db.pool.begin().await?;
        let row = by_code(&mut tx, code).await?;
        // A retry by the same tenant with the same request id answers as the first call did,
        // with the invitation as it is now (the first call may have committed after `row` was
        // read: each statement sees what is committed when it runs).
        if let Some(seen) = store::redemption(&mut tx, &row.id, &tenant_id).await? {
            let current = store::by_id(&mut tx, &row.inviter_tenant_id, &row.id)
                .await?
                .ok_or(Error::InvitationNotFound)?;
            return retry_of(&mut tx, &current, &seen, request).await;
        }
        if row.is_for_another(&tenant_id) {
            return Err(Error::ForAnotherTenant);
        }
        if !store::redeem(&mut tx, &row, &tenant_id, now).await? {
            // Not usable any more. A concurrent twin of this very call may have just won:
            // then this is its retry.
            let current = store::by_id(&mut tx, &row.inviter_tenant_id, &row.id)
                .await?
                .ok_or(Error::InvitationNotFound)?;
            if let Some(seen) = store::redemption(&mut tx, &row.id, &tenant_id).await? {
                return retry_of(&mut tx, &current, &seen, request).await;
            }
            return Err(current
                .state_at(now)
                .refusal()
                .unwrap_or(Error::AlreadyUsed));
        }
        match store::insert_redemption(&mut tx, &row.id, &tenant_id, &request_id, now).await {
            Ok(()) => {
                if let Some(rid) = request.id {
                    remember(&mut tx, REDEEM, rid, &request.fingerprint, &row.id).await?;
                }
            }
            Err(e) if e.is_unique_violation() => {
                // The same tenant redeemed a reusable invitation concurrently: answer with the
                // invitation as that redeem left it.
                drop(tx);
                let mut conn = self.conn().await?;
                let current = store::by_id(&mut conn, &row.inviter_tenant_id, &row.id)
                    .await?
                    .ok_or(Error::InvitationNotFound)?;
                return match store::redemption(&mut conn, &row.id, &tenant_id).await? {
                    Some(seen) => retry_of(&mut conn, &current, &seen, request).await,
                    None => Err(Error::AlreadyUsed),
                };
            }
            Err(e) => return Err(e),
        }
        let redeemed = store::by_id(&mut tx, &row.inviter_tenant_id, &row.id)
            .await?
            .ok_or(Error::InvitationNotFound)?;
        tx.commit().await?;
        Ok(redeemed)
    }
}

/// The answer to a redeem by a tenant that redeemed the invitation before: the invitation
/// again if it is the same request (a retry), REQUEST_ID_REUSED if its id came with other
/// licence counts; else, for a trial, the truth that the tenant has this trial already
/// (TRIAL_ALREADY_TAKEN), otherwise ALREADY_USED.
async fn retry_of(
    conn: &mut AnyConnection,
    row: &Invitation,
    seen: &str,
    request: &Request,
) -> Result<Invitation> {
    let Some(rid) = request.id.filter(|rid| seen == rid.to_string()) else {
        return Err(if row.kind == Kind::Trial {
            Error::TrialTaken
        } else {
            Error::AlreadyUsed
        });
    };
    replay(conn, REDEEM, rid, &request.fingerprint)
        .await?
        .earlier()?;
    Ok(row.clone())
}
