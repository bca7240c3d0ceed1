//! The handlers of `InvitationService` and `InvitationInternalService`: parse the request,
//! apply the rules, call the store (and the tenants service), answer.

use crate::Deps;
use crate::acceptance::{self, Acceptor};
use crate::code;
use crate::domain::{self, Kind, Line, NewInvitation};
use crate::draft::{self, Letter};
use crate::error::{Error, Result};
use crate::store::{self, InvitationFilter, InvitationInsert, InvitationRow};
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{
    Database, RequestIdReused, fingerprint, is_unique_violation, remember, replay,
};
use partnerhub_kit::time::micros;
use partnerhub_proto::invitations::invitation_internal_service_server::InvitationInternalService;
use partnerhub_proto::invitations::invitation_service_server::InvitationService;
use partnerhub_proto::invitations::{self as pb, InvitationKind};
use partnerhub_proto::subscriptions::{
    self as subscriptions_pb,
    subscription_internal_service_client::SubscriptionInternalServiceClient,
    subscription_service_client::SubscriptionServiceClient,
};
use partnerhub_proto::tenants::{self as tenants_pb, tenant_service_client::TenantServiceClient};
use partnerhub_proto::types::{Cloud, PartnerType, Role};
use sqlx::AnyConnection;

use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

/// The `request_ids` method name of creates.
const CREATE: &str = "CreateInvitation";

/// The service over its database.
#[derive(Debug, Clone)]
pub struct Invitations {
    db: Database,
    deps: Deps,
}

type Conn = sqlx::pool::PoolConnection<sqlx::Any>;

/// What a create did with its request id.
enum Outcome {
    /// A new invitation.
    Created(String),
    /// A retry of an earlier create: its invitation, with the new code when it was still
    /// usable (otherwise the code stays as it was, and the answer shows none).
    Replayed { id: String, new_code: bool },
}

impl Invitations {
    pub fn new(db: Database, deps: Deps) -> Self {
        Invitations { db, deps }
    }

    async fn conn(&self) -> Result<Conn> {
        Ok(self.db.pool.acquire().await?)
    }

    /// A tenant as the tenants service has it; `None` if there is none with that id.
    async fn tenant(&self, id: &str) -> Result<Option<tenants_pb::Tenant>> {
        let request = Request::new(tenants_pb::GetTenantRequest {
            tenant_id: id.to_string(),
        });
        match TenantServiceClient::new(self.deps.tenants.clone())
            .get_tenant(request)
            .await
        {
            Ok(response) => Ok(response.into_inner().tenant),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(Error::Tenants(status)),
        }
    }

    /// An offer as the subscriptions service's catalogue has it; `None` if there is none with
    /// that id.
    async fn offer(&self, id: &str) -> Result<Option<subscriptions_pb::Offer>> {
        let request = Request::new(subscriptions_pb::GetOfferRequest {
            offer_id: id.to_string(),
        });
        match SubscriptionServiceClient::new(self.deps.subscriptions.clone())
            .get_offer(request)
            .await
        {
            Ok(response) => Ok(response.into_inner().offer),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(Error::Subscriptions(status)),
        }
    }

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
            let Some(offer) = self.offer(&line.offer_id.to_string()).await? else {
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

    async fn create(
        &self,
        req: pb::CreateInvitationRequest,
    ) -> Result<pb::CreateInvitationResponse> {
        let parsed = NewInvitation::parse(req.invitation.as_ref(), req.ttl.as_ref());
        let (new, request_id) = match (parsed, fields::request_id(&req.request_id)) {
            (Ok(new), Ok(request_id)) => (new, request_id),
            (Err(Error::Invalid(mut v)), Err(more)) => {
                v.extend(more);
                return Err(Error::Invalid(v));
            }
            (Err(e), _) => return Err(e),
            (Ok(_), Err(v)) => return Err(v.into()),
        };
        let inviter_id = new.inviter_tenant_id.to_string();
        let inviter = self
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
                return Err(Error::Tenants(Status::internal(format!(
                    "tenant {inviter_id} has no cloud instance"
                ))));
            }
        };
        let holds = |t: PartnerType| profile.partner_types.contains(&(t as i32));
        match new.kind {
            // Reselling is selling to and billing the customer: providers do, advisors and
            // indirect resellers (who sell through a provider) don't.
            Kind::ResellerRelationship
                if !holds(PartnerType::DirectProvider) && !holds(PartnerType::IndirectProvider) =>
            {
                return Err(Error::InviterCannotResell(inviter_id));
            }
            Kind::IndirectPartnership if !holds(PartnerType::IndirectProvider) => {
                return Err(Error::InviterNotIndirectProvider(inviter_id));
            }
            // Trials, purchase offers and partner of record are the subscription advisor's
            // (seeds 002 and 000).
            kind if kind.needs_advisor() && !holds(PartnerType::Advisor) => {
                return Err(Error::InviterNotAdvisor(inviter_id));
            }
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
        let line_items = Line::encode(&new.line_items);

        let issued = code::issue();
        let fingerprint = fingerprint(&pb::CreateInvitationRequest {
            request_id: String::new(),
            ..req
        });
        let now = self.deps.clock.now();
        let ttl = new.ttl.unwrap_or(self.deps.default_ttl);
        let invitee_tenant_id = new
            .invitee_tenant_id
            .map(|u| u.to_string())
            .unwrap_or_default();
        let invitee_email = new.invitee_email.clone().unwrap_or_default();
        let id = Uuid::now_v7().to_string();
        let insert = InvitationInsert {
            id: &id,
            kind: new.kind.proto(),
            inviter_tenant_id: &inviter_id,
            invitee_tenant_id: &invitee_tenant_id,
            invitee_email: &invitee_email,
            locale: new.locale.tag(),
            cloud,
            delegated_admin: new.delegated_admin.as_ref(),
            line_items: &line_items,
            code_hash: &issued.hash,
            reusable: new.kind.reusable(),
            expire_time: now.saturating_add(micros(ttl)),
            now,
        };
        // A second round only when a concurrent twin with the same request id won the race:
        // it then answers as a retry.
        let mut outcome = None;
        for _ in 0..2 {
            outcome = self.insert(&insert, request_id, &fingerprint).await?;
            if outcome.is_some() {
                break;
            }
        }
        let (id, new_code) = match outcome {
            Some(Outcome::Created(id)) => (id, true),
            Some(Outcome::Replayed { id, new_code }) => (id, new_code),
            None => return Err(RequestIdReused.into()),
        };
        let row = store::by_id(&mut *self.conn().await?, &inviter_id, &id)
            .await?
            .ok_or(Error::InvitationNotFound)?;
        if !new_code {
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
            .zip(&new.line_items)
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
            locale: new.locale,
            kind: new.kind,
            partner_name: &inviter.display_name,
            mpn_id: &profile.mpn_id,
            delegated_admin: new.delegated_admin.as_ref(),
            offers: &offered,
            url: &url,
            expire_time: row.expire_time,
            invitee_email: &invitee_email,
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
        let Some(invitee) = self.tenant(id).await? else {
            return Err(Error::field(
                FIELD,
                "names no tenant; invite an existing customer",
            ));
        };
        if invitee.kind != tenants_pb::tenant::Kind::Customer as i32 {
            return Err(Error::field(
                FIELD,
                "is a partner; only a customer tenant can be invited",
            ));
        }
        if !is_active(&invitee, tenants_pb::tenant::Kind::Customer) {
            return Err(Error::field(FIELD, "is a customer that is not active yet"));
        }
        if invitee.cloud != cloud as i32 {
            let theirs = Cloud::try_from(invitee.cloud).unwrap_or(Cloud::Unspecified);
            return Err(Error::field(
                FIELD,
                format!(
                    "is a customer in {}, the inviter is in {}: relationships never cross cloud instances",
                    theirs.as_str_name(),
                    cloud.as_str_name()
                ),
            ));
        }
        Ok(())
    }

    /// The invitee of an indirect partnership: an active partner enrolled as an indirect reseller,
    /// in the inviter's cloud instance (seed 003: resellers must be enrolled first).
    async fn check_reseller_invitee(&self, id: &str, cloud: Cloud) -> Result<()> {
        const FIELD: &str = "invitation.invitee_tenant_id";
        const ENROL: &str = "resellers must be enrolled as indirect resellers first";
        let Some(invitee) = self.tenant(id).await? else {
            return Err(Error::field(FIELD, format!("names no tenant; {ENROL}")));
        };
        if invitee.kind != tenants_pb::tenant::Kind::Partner as i32 {
            return Err(Error::field(
                FIELD,
                format!("is a customer, not an indirect reseller; {ENROL}"),
            ));
        }
        let enrolled = invitee.partner.as_ref().is_some_and(|p| {
            p.partner_types
                .contains(&(PartnerType::IndirectReseller as i32))
        });
        if !enrolled {
            return Err(Error::field(
                FIELD,
                format!("is a partner that is not enrolled as an indirect reseller; {ENROL}"),
            ));
        }
        if !is_active(&invitee, tenants_pb::tenant::Kind::Partner) {
            return Err(Error::field(
                FIELD,
                format!("is an indirect reseller that is not active yet; {ENROL}"),
            ));
        }
        if invitee.cloud != cloud as i32 {
            let theirs = Cloud::try_from(invitee.cloud).unwrap_or(Cloud::Unspecified);
            return Err(Error::field(
                FIELD,
                format!(
                    "is an indirect reseller in {}, the inviter is in {}: relationships never \
                     cross cloud instances ({ENROL}, in the inviter's cloud)",
                    theirs.as_str_name(),
                    cloud.as_str_name()
                ),
            ));
        }
        Ok(())
    }

    /// Inserts the invitation (or finds the one an earlier call with this request id made), in
    /// one transaction with the request id. `None`: a concurrent call with the same request id
    /// committed first; try again to answer as its retry.
    async fn insert(
        &self,
        insert: &InvitationInsert<'_>,
        request_id: Option<Uuid>,
        fingerprint: &str,
    ) -> Result<Option<Outcome>> {
        let mut tx = self.db.pool.begin().await?;
        if let Some(rid) = request_id
            && let Some(id) = replay(&mut tx, CREATE, rid, fingerprint).await?.earlier()?
        {
            let new_code = store::replace_code(&mut tx, &id, insert.code_hash, insert.now).await?;
            tx.commit().await?;
            return Ok(Some(Outcome::Replayed { id, new_code }));
        }
        store::insert(&mut tx, insert).await?;
        if let Some(rid) = request_id {
            match remember(&mut tx, CREATE, rid, fingerprint, insert.id).await {
                Ok(()) => {}
                Err(e) if is_unique_violation(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit().await?;
        Ok(Some(Outcome::Created(insert.id.to_string())))
    }

    async fn decline(&self, req: pb::DeclineInvitationRequest) -> Result<()> {
        let mut v = Violations::new();
        let code = v.take(required_code(&req.code));
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let (code, tenant_id) = v.done(code.zip(tenant_id))?;
        let tenant_id = tenant_id.to_string();
        let now = self.deps.clock.now();
        let mut conn = self.conn().await?;
        let row = by_code(&mut conn, code).await?;
        if row.is_reusable() {
            return Err(Error::Reusable);
        }
        if row.is_for_another(&tenant_id) {
            return Err(Error::ForAnotherTenant);
        }
        if let Some(refusal) = row.state(now).refusal() {
            return Err(refusal);
        }
        // An indirect partnership names its invitee (checked above). The customer kinds may be
        // open to any customer, but only to customers: a partner can't decline them. (The
        // reusable kinds can't be declined at all.)
        if matches!(
            row.kind(),
            InvitationKind::ResellerRelationship
                | InvitationKind::DelegatedAdmin
                | InvitationKind::PartnerOfRecord
        ) {
            // Not holding the connection across the call to the tenants service.
            drop(conn);
            let tenant = self
                .tenant(&tenant_id)
                .await?
                .ok_or_else(|| Error::TenantNotFound(tenant_id.clone()))?;
            if tenant.kind != tenants_pb::tenant::Kind::Customer as i32 {
                return Err(Error::NotACustomer(tenant_id));
            }
            conn = self.conn().await?;
        }
        if store::decline(&mut conn, &row.id, &tenant_id, now).await? {
            return Ok(());
        }
        // Changed since it was read (accepted, revoked or declined a moment ago).
        Err(self.refusal(&mut conn, &row, now).await)
    }

    async fn revoke(&self, req: pb::RevokeInvitationRequest) -> Result<InvitationRow> {
        let (inviter, id) = inviter_and_id(&req.inviter_tenant_id, &req.invitation_id)?;
        let now = self.deps.clock.now();
        let mut conn = self.conn().await?;
        let revoked = store::revoke(&mut conn, &inviter, &id, now).await?;
        let row = store::by_id(&mut conn, &inviter, &id)
            .await?
            .ok_or(Error::InvitationNotFound)?;
        if revoked {
            Ok(row)
        } else {
            Err(row.state(now).refusal().unwrap_or(Error::AlreadyUsed))
        }
    }

    /// Accepting an invitation: every rule of [`acceptance`] first, then (unless only
    /// validating) the atomic use of the invitation; the answer says what accepting creates.
    async fn accept(
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
            .tenant(&tenant_id)
            .await?
            .ok_or_else(|| Error::TenantNotFound(tenant_id.clone()))?;
        let inviter = self
            .tenant(&row.inviter_tenant_id)
            .await?
            .ok_or_else(|| Error::TenantNotFound(row.inviter_tenant_id.clone()))?;
        acceptance::check_tenants(kind, &row, &accepting, &inviter)?;
        if acceptance::has_offers(kind, &row) {
            self.check_offers_for(&accepting, &row).await?;
        }
        let plan = acceptance::plan(kind, &row, &who, &accepting, &inviter);
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
        row: &InvitationRow,
    ) -> Result<()> {
        let request = Request::new(subscriptions_pb::CheckLineItemsRequest {
            cloud: customer.cloud,
            country_code: customer.country_code.clone(),
            line_items: row.line_items(),
        });
        let checked = SubscriptionInternalServiceClient::new(self.deps.subscriptions.clone())
            .check_line_items(request)
            .await
            .map_err(Error::Subscriptions)?
            .into_inner();
        let Some(first) = checked.problems.first() else {
            return Ok(());
        };
        let mut violations = Violations::new();
        for p in &checked.problems {
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
    ) -> Result<InvitationRow> {
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
            return Err(current.state(now).refusal().unwrap_or(Error::AlreadyUsed));
        }
        match store::insert_redemption(&mut tx, &row.id, &tenant_id, &request_id, now).await {
            Ok(()) => {}
            Err(Error::Database(e)) if is_unique_violation(&e) => {
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

    /// Why an invitation that changed since `row` was read can't be used now.
    async fn refusal(&self, conn: &mut Conn, row: &InvitationRow, now: i64) -> Error {
        match store::by_id(conn, &row.inviter_tenant_id, &row.id).await {
            Ok(Some(current)) => current.state(now).refusal().unwrap_or(Error::AlreadyUsed),
            Ok(None) => Error::InvitationNotFound,
            Err(e) => e,
        }
    }
}

/// The invitation a code belongs to. An unknown and a malformed code answer alike.
async fn by_code(conn: &mut AnyConnection, code: &str) -> Result<InvitationRow> {
    let hash = code::lookup_hash(code).ok_or(Error::InvitationNotFound)?;
    store::by_code_hash(conn, &hash)
        .await?
        .ok_or(Error::InvitationNotFound)
}

/// A tenant of `kind` that is active.
fn is_active(t: &tenants_pb::Tenant, kind: tenants_pb::tenant::Kind) -> bool {
    t.kind == kind as i32 && t.state == tenants_pb::tenant::State::Active as i32
}

/// The answer to a redeem by a tenant that redeemed the invitation before: the invitation
/// again if it is the same request (a retry), else ALREADY_USED.
fn retry_of(row: &InvitationRow, seen: &str, request_id: &str) -> Result<InvitationRow> {
    if !request_id.is_empty() && seen == request_id {
        Ok(row.clone())
    } else {
        Err(Error::AlreadyUsed)
    }
}

/// A code as sent: required; whether it is well-formed is not told apart from whether it
/// exists (both are INVITATION_NOT_FOUND).
fn required_code(code: &str) -> Result<&str, Violations> {
    if code.is_empty() {
        Err(Violations::one(
            "code",
            "is required: the code from the link",
        ))
    } else {
        Ok(code)
    }
}

fn inviter_and_id(inviter: &str, id: &str) -> Result<(String, String)> {
    let mut v = Violations::new();
    let inviter = v.take(fields::id("inviter_tenant_id", inviter));
    let id = v.take(fields::id("invitation_id", id));
    let (inviter, id) = v.done(inviter.zip(id))?;
    Ok((inviter.to_string(), id.to_string()))
}

#[tonic::async_trait]
impl InvitationService for Invitations {
    async fn create_invitation(
        &self,
        request: Request<pb::CreateInvitationRequest>,
    ) -> Result<Response<pb::CreateInvitationResponse>, Status> {
        let created = self.create(request.into_inner()).await?;
        Ok(Response::new(created))
    }

    async fn get_invitation(
        &self,
        request: Request<pb::GetInvitationRequest>,
    ) -> Result<Response<pb::GetInvitationResponse>, Status> {
        let req = request.get_ref();
        let (inviter, id) = inviter_and_id(&req.inviter_tenant_id, &req.invitation_id)?;
        let now = self.deps.clock.now();
        let row = store::by_id(&mut *self.conn().await?, &inviter, &id)
            .await?
            .ok_or(Error::InvitationNotFound)?;
        Ok(Response::new(pb::GetInvitationResponse {
            invitation: Some(row.to_proto(now)),
        }))
    }

    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Result<Response<pb::ListInvitationsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let filter = InvitationFilter {
            inviter_tenant_id: v
                .take(fields::id("inviter_tenant_id", &req.inviter_tenant_id))
                .map(|t| t.to_string())
                .unwrap_or_default(),
            kind: v.take(domain::kind_filter(req.kind)).unwrap_or_default(),
            state: v.take(domain::state_filter(req.state)).unwrap_or_default(),
        };
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "invitations",
            &[&filter.inviter_tenant_id, &filter.kind, &filter.state],
        ));
        let page = v.done(page).map_err(Error::from)?;
        let now = self.deps.clock.now();
        let rows = store::list(&mut *self.conn().await?, &filter, now, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.clone());
        Ok(Response::new(pb::ListInvitationsResponse {
            invitations: rows.iter().map(|r| r.to_proto(now)).collect(),
            next_page_token,
        }))
    }

    async fn preview_invitation(
        &self,
        request: Request<pb::PreviewInvitationRequest>,
    ) -> Result<Response<pb::PreviewInvitationResponse>, Status> {
        let code = required_code(&request.get_ref().code).map_err(Error::from)?;
        let now = self.deps.clock.now();
        let row = by_code(&mut *self.conn().await?, code).await?;
        let inviter = self
            .tenant(&row.inviter_tenant_id)
            .await?
            .unwrap_or_default();
        Ok(Response::new(pb::PreviewInvitationResponse {
            preview: Some(pb::InvitationPreview {
                kind: row.kind() as i32,
                inviter_tenant_id: row.inviter_tenant_id.clone(),
                inviter_display_name: inviter.display_name,
                inviter_mpn_id: inviter.partner.map(|p| p.mpn_id).unwrap_or_default(),
                delegated_admin: row.delegated_admin(),
                line_items: row.line_items(),
                expire_time: Some(partnerhub_kit::time::timestamp(row.expire_time)),
                state: row.state(now).proto() as i32,
                cloud: row.cloud() as i32,
            }),
        }))
    }

    async fn decline_invitation(
        &self,
        request: Request<pb::DeclineInvitationRequest>,
    ) -> Result<Response<pb::DeclineInvitationResponse>, Status> {
        self.decline(request.into_inner()).await?;
        Ok(Response::new(pb::DeclineInvitationResponse {}))
    }

    async fn revoke_invitation(
        &self,
        request: Request<pb::RevokeInvitationRequest>,
    ) -> Result<Response<pb::RevokeInvitationResponse>, Status> {
        let now = self.deps.clock.now();
        let row = self.revoke(request.into_inner()).await?;
        Ok(Response::new(pb::RevokeInvitationResponse {
            invitation: Some(row.to_proto(now)),
        }))
    }
}

#[tonic::async_trait]
impl InvitationInternalService for Invitations {
    async fn lookup_invitation(
        &self,
        request: Request<pb::LookupInvitationRequest>,
    ) -> Result<Response<pb::LookupInvitationResponse>, Status> {
        let code = required_code(&request.get_ref().code).map_err(Error::from)?;
        let now = self.deps.clock.now();
        let row = by_code(&mut *self.conn().await?, code).await?;
        Ok(Response::new(pb::LookupInvitationResponse {
            invitation: Some(row.to_proto(now)),
        }))
    }

    async fn redeem_invitation(
        &self,
        request: Request<pb::RedeemInvitationRequest>,
    ) -> Result<Response<pb::RedeemInvitationResponse>, Status> {
        let roles = partnerhub_kit::caller::roles(&request);
        let answer = self.accept(request.into_inner(), roles).await?;
        Ok(Response::new(answer))
    }
}
