//! `RedeemInvitation`: accepting an invitation. The rules of [`crate::acceptance`] first, then
//! (unless only validating) the atomic use of the invitation.

use super::{Invitations, by_code, required_code};
use crate::acceptance::{self, Acceptor};
use crate::domain::{Invitation, Kind, Line};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::UniqueViolation;
use partnerhub_proto::invitations as pb;
use partnerhub_proto::tenants as tenants_pb;
use partnerhub_proto::types::{Cloud, Role};

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
        let ((code, tenant_id), request_id) = v.done(code.zip(tenant_id).zip(request_id))?;
        let tenant_id = tenant_id.to_string();
        let request_id = request_id.map(|r| r.to_string()).unwrap_or_default();
        let now = self.deps.clock.now();
        let row = by_code(&mut *self.conn().await?, code).await?;
        let who = Acceptor {
            tenant_id: &tenant_id,
            roles: roles.as_deref(),
        };
        let kind = acceptance::may_try(&row, &who, now)?;
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
        let plan = acceptance::plan(kind, &row, &accepting, &inviter);
        let invitation = if req.validate_only {
            row
        } else {
            self.redeem(code, &tenant_id, &request_id, now).await?
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

    /// Uses the invitation for the tenant, atomically: of two concurrent redeems of a
    /// single-use invitation exactly one wins; the same request id answers as the first call.
    async fn redeem(
        &self,
        code: &str,
        tenant_id: &str,
        request_id: &str,
        now: i64,
    ) -> Result<Invitation> {
        let tenant_id = tenant_id.to_string();
        let request_id = request_id.to_string();
        let mut tx = self.db.pool.begin().await?;
        let row = by_code(&mut tx, code).await?;
        // A retry by the same tenant with the same request id answers as the first call did,
        // with the invitation as it is now (the first call may have committed after `row` was
        // read: each statement sees what is committed when it runs).
        if let Some(seen) = store::redemption(&mut tx, &row.id, &tenant_id).await? {
            let current = store::by_id(&mut tx, &row.inviter_tenant_id, &row.id)
                .await?
                .ok_or(Error::InvitationNotFound)?;
            return retry_of(&current, &seen, &request_id);
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
                return retry_of(&current, &seen, &request_id);
            }
            return Err(current
                .state_at(now)
                .refusal()
                .unwrap_or(Error::AlreadyUsed));
        }
        match store::insert_redemption(&mut tx, &row.id, &tenant_id, &request_id, now).await {
            Ok(()) => {}
            Err(e) if e.is_unique_violation() => {
                // The same tenant redeemed a reusable invitation concurrently: answer with the
                // invitation as that redeem left it.
                drop(tx);
                let mut conn = self.conn().await?;
                let current = store::by_id(&mut conn, &row.inviter_tenant_id, &row.id)
                    .await?
                    .ok_or(Error::InvitationNotFound)?;
                return match store::redemption(&mut conn, &row.id, &tenant_id).await? {
                    Some(seen) => retry_of(&current, &seen, &request_id),
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
/// again if it is the same request (a retry); else, for a trial, the truth that the tenant has
/// this trial already (TRIAL_ALREADY_TAKEN), otherwise ALREADY_USED.
fn retry_of(row: &Invitation, seen: &str, request_id: &str) -> Result<Invitation> {
    if !request_id.is_empty() && seen == request_id {
        Ok(row.clone())
    } else if row.kind == Kind::Trial {
        Err(Error::TrialTaken)
    } else {
        Err(Error::AlreadyUsed)
    }
}
