//! Subscriptions: read and list them, change them (update, suspend, reactivate, cancel), and
//! the one way every change is written.

use super::{Subscriptions, record_event};
use crate::domain::{
    self, Action, EventType, Offer, Removed, Subscription, SubscriptionFilter, SubscriptionPatch,
};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{Written, write_once};
use partnerhub_proto::subscriptions::{self as pb, subscription::State};
use sqlx::AnyConnection;
use uuid::Uuid;

/// How often a change is tried when a concurrent change of the same subscription committed
/// between its read and its write (each try reads again and checks again).
pub(super) const WRITE_ATTEMPTS: usize = 3;

impl Subscriptions {
    pub(super) async fn get_subscription(
        &self,
        req: &pb::GetSubscriptionRequest,
    ) -> Result<pb::Subscription> {
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let id = v.take(fields::id("subscription_id", &req.subscription_id));
        let (tenant_id, id) = v.done(tenant_id.zip(id))?;
        self.sweep().await?;
        let now = self.now();
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        let Some(subscription) = store::subscription(&mut *self.conn().await?, &id).await? else {
            return Err(Error::SubscriptionNotFound(id));
        };
        // Seed 001: the customer's MPSA partners also read each other's (reading only).
        if subscription.is_visible_to(&tenant_id)
            || subscription.is_made_by_any_of(
                &self
                    .mpsa_partners_seen_by(&subscription.customer_tenant_id, &tenant_id)
                    .await?,
            )
        {
            return Ok(subscription.to_proto(now));
        }
        Err(Error::SubscriptionNotFound(id))
    }

    /// The subscription, if `tenant_id` may see it.
    async fn visible(&self, tenant_id: &str, id: &str) -> Result<Subscription> {
        store::subscription(&mut *self.conn().await?, id)
            .await?
            .filter(|s| s.is_visible_to(tenant_id))
            .ok_or_else(|| Error::SubscriptionNotFound(id.to_string()))
    }

    pub(super) async fn list_subscriptions(
        &self,
        req: &pb::ListSubscriptionsRequest,
    ) -> Result<pb::ListSubscriptionsResponse> {
        let mut v = Violations::new();
        let filter = v.take(SubscriptionFilter::parse(req));
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "subscriptions",
            &[
                &req.customer_tenant_id,
                &req.billing_partner_tenant_id,
                &req.indirect_reseller_id,
                &req.state.to_string(),
                &req.mpsa_partner_tenant_id,
            ],
        ));
        let (mut filter, page) = v.done(filter.zip(page))?;
        filter.made_by = self
            .mpsa_made_by(&filter.customer_tenant_id, &filter.mpsa_partner_tenant_id)
            .await?;
        self.sweep().await?;
        let now = self.now();
        let subscriptions =
            store::list_subscriptions(&mut *self.conn().await?, &filter, now, &page).await?;
        let (subscriptions, next_page_token) = page.finish(subscriptions, |s| s.id.clone());
        Ok(pb::ListSubscriptionsResponse {
            subscriptions: subscriptions.iter().map(|s| s.to_proto(now)).collect(),
            next_page_token,
        })
    }

    /// The subscription as it is now (after a change), as the contract shows it.
    pub(super) async fn current(&self, id: &str) -> Result<pb::Subscription> {
        self.sweep().await?;
        let now = self.now();
        store::subscription(&mut *self.conn().await?, id)
            .await?
            .map(|s| s.to_proto(now))
            .ok_or_else(|| Error::inconsistent(format!("subscription {id} vanished")))
    }

    /// The offer a subscription is of (it always exists: offers are never removed).
    pub(super) async fn offer_of(&self, row: &Subscription) -> Result<Offer> {
        store::offer(&mut *self.conn().await?, &row.offer_id)
            .await?
            .ok_or_else(|| {
                Error::inconsistent(format!(
                    "subscription {} names offer {}, which is missing",
                    row.id, row.offer_id
                ))
            })
    }

    /// The cancellation window, in microseconds.
    fn cancellation_window(&self) -> i64 {
        partnerhub_kit::time::micros(self.deps.cancellation_window)
    }

    /// The subscription, if `tenant_id` may change it and it is still the version `etag`
    /// names: NOT_FOUND if the tenant can't see it, PERMISSION_DENIED if it only may see it,
    /// ABORTED if it changed since.
    pub(super) async fn changeable(&self, change: &ChangeRequest) -> Result<Subscription> {
        let row = self
            .visible(&change.tenant_id, &change.subscription_id)
            .await?;
        if !row.may_change(&change.tenant_id) {
            return Err(Error::ChangeNotAllowed(row.id));
        }
        match change.etag {
            Some(sent) if sent != row.version => Err(Error::StaleEtag {
                sent: fields::etag_of(sent),
                current: fields::etag_of(row.version),
            }),
            _ => Ok(row),
        }
    }

    pub(super) async fn update_subscription(
        &self,
        req: pb::UpdateSubscriptionRequest,
    ) -> Result<pb::Subscription> {
        let Some(s) = req.subscription.as_ref() else {
            return Err(Error::field("subscription", "is required"));
        };
        let mut v = Violations::new();
        let change = ChangeRequest::parse(
            &mut v,
            &req.tenant_id,
            ("subscription.id", &s.id),
            ("subscription.etag", &s.etag),
        );
        let patch = v.take(SubscriptionPatch::parse(s, req.update_mask.as_ref()));
        let (change, mut patch) = v.done(change.zip(patch))?;
        // A new reseller as the request names it (tenant id or partner ID), resolved once.
        if let Some(name) = patch.indirect_reseller_id.take() {
            let (reseller, mpn_id) = self.reseller_named(&name).await?;
            patch.indirect_reseller_id = Some(reseller);
            patch.indirect_reseller_mpn_id = mpn_id;
        }
        // A term that ended is renewed (or expired) before it is changed.
        self.sweep().await?;
        for _ in 0..WRITE_ATTEMPTS {
            let row = self.changeable(&change).await?;
            // An advisor's subscription has no billing partner to sell through a reseller,
            // whoever asks.
            if patch
                .indirect_reseller_id
                .as_ref()
                .is_some_and(|r| !r.is_empty() && *r != row.indirect_reseller_id)
                && row.billing_partner_tenant_id.is_empty()
            {
                return Err(Error::NoBillingPartner(row.id));
            }
            // Who sells it through whom, and who supports it, is the billing partner's to say.
            if (patch.indirect_reseller_id.is_some() || patch.support_contact_tenant_id.is_some())
                && row.billing_partner_tenant_id != change.tenant_id
            {
                return Err(Error::ChangeNotAllowed(row.id));
            }
            let now = self.now();
            let state = row.state_at(now);
            if domain::is_ended(state) {
                return Err(Error::SubscriptionEnded(domain::state_words(state)));
            }
            let next = self.patched(&row, &patch).await?;
            let mut events = Vec::new();
            if next.quantity != row.quantity {
                events.push(EventType::QuantityChanged);
            }
            if next.partner_of_record_mpn_id != row.partner_of_record_mpn_id {
                events.push(EventType::PartnerOfRecordChanged);
            }
            if next.auto_renew != row.auto_renew
                || next.indirect_reseller_id != row.indirect_reseller_id
                || next.support_contact_tenant_id != row.support_contact_tenant_id
            {
                events.push(EventType::Updated);
            }
            if events.is_empty() {
                return Ok(row.to_proto(now));
            }
            if let Some(updated) = self.write_change(&row, &next, &events, now).await? {
                return Ok(updated);
            }
        }
        Err(Error::Contended)
    }

    /// The subscription as `patch` leaves it, each value checked: the quantity against the
    /// offer's bounds, a new reseller's partnership and agreement, the support contact against
    /// the parties, a partner of record against the tenants service.
    async fn patched(&self, row: &Subscription, patch: &SubscriptionPatch) -> Result<Subscription> {
        let mut next = row.clone();
        if let Some(quantity) = patch.quantity
            && quantity != next.quantity
        {
            let offer = self.offer_of(row).await?;
            if let Some(description) = domain::quantity_out_of_bounds(quantity, &offer.spec) {
                return Err(Error::Rejected {
                    reason: domain::QUANTITY_OUT_OF_BOUNDS,
                    violations: Violations::one("subscription.quantity", description),
                });
            }
            domain::check_quantity_covers_assigned(quantity, row.assigned_licenses)?;
            domain::check_removal(row, quantity, self.now(), self.cancellation_window())?;
            next.quantity = quantity;
        }
        if let Some(auto_renew) = patch.auto_renew {
            next.auto_renew = auto_renew;
        }
        let billing = &row.billing_partner_tenant_id;
        let new_reseller = patch
            .indirect_reseller_id
            .as_ref()
            .filter(|r| **r != row.indirect_reseller_id);
        if let Some(reseller) = new_reseller {
            // The reseller leaves: a support contact that was the reseller falls back to the
            // billing partner.
            if !row.indirect_reseller_id.is_empty()
                && next.support_contact_tenant_id == row.indirect_reseller_id
            {
                next.support_contact_tenant_id = billing.clone();
            }
            next.indirect_reseller_id = reseller.clone();
            next.indirect_reseller_mpn_id = patch.indirect_reseller_mpn_id.clone();
        }
        if let Some(contact) = &patch.support_contact_tenant_id {
            let contact = if contact.is_empty() { billing } else { contact };
            let is_reseller =
                !next.indirect_reseller_id.is_empty() && *contact == next.indirect_reseller_id;
            if *contact != *billing && !is_reseller {
                return Err(Error::field(
                    "subscription.support_contact_tenant_id",
                    "must be the subscription's indirect reseller or its billing partner",
                ));
            }
            next.support_contact_tenant_id = contact.clone();
        }
        if let Some(reseller) = new_reseller.filter(|r| !r.is_empty()) {
            self.check_seller(billing, "", reseller).await?;
        }
        if let Some(mpn_id) = &patch.partner_of_record_mpn_id
            && *mpn_id != row.partner_of_record_mpn_id
        {
            if !mpn_id.is_empty() {
                let customer = self.tenant(&row.customer_tenant_id).await?;
                self.check_partner_of_record(mpn_id, customer.cloud).await?;
            }
            next.partner_of_record_mpn_id = mpn_id.clone();
        }
        Ok(next)
    }

    /// Writes `next` over `row` (the version it was read at) if nobody changed it since, with
    /// one event of each kind in `events`; `None` if a concurrent change got there first.
    async fn write_change(
        &self,
        row: &Subscription,
        next: &Subscription,
        events: &[EventType],
        now: i64,
    ) -> Result<Option<pb::Subscription>> {
        let mut tx = self.db.pool.begin().await?;
        let Some(after) = change_in(&mut tx, row, next, events, now).await? else {
            return Ok(None);
        };
        tx.commit().await?;
        self.events_committed();
        Ok(Some(after.to_proto(now)))
    }

    /// [`Self::write_change`] with one event, done at most once per request id (AIP-155): a
    /// retry answers the subscription as it is now. `None` if a concurrent change got there
    /// first.
    pub(super) async fn write_change_once(
        &self,
        method: &str,
        (request_id, fingerprint): (Option<Uuid>, &str),
        row: &Subscription,
        next: &Subscription,
        event: EventType,
        now: i64,
    ) -> Result<Option<pb::Subscription>> {
        let written =
            write_once(
                &self.db,
                method,
                request_id,
                fingerprint,
                async |tx| match change_in(tx, row, next, &[event], now).await? {
                    Some(after) => Ok(after.id),
                    None => Err(Error::Contended),
                },
            )
            .await;
        let id = match written {
            Err(Error::Contended) => return Ok(None),
            Err(e) => return Err(e),
            Ok(Written::New(id)) => {
                self.events_committed();
                id
            }
            Ok(Written::Earlier(id)) => id,
        };
        self.current(&id).await.map(Some)
    }

    /// Suspends, reactivates or cancels a subscription.
    pub(super) async fn change_state(
        &self,
        change: ChangeRequest,
        action: Action,
    ) -> Result<pb::Subscription> {
        self.sweep().await?;
        for _ in 0..WRITE_ATTEMPTS {
            let row = self.changeable(&change).await?;
            let now = self.now();
            let target = action.apply(row.state_at(now))?;
            // A paid subscription is cancelled as its licences are removed: within the
            // cancellation window (after it, auto-renew is turned off instead).
            if action == Action::Cancel {
                domain::check_removal(&row, 0, now, self.cancellation_window())?;
            }
            let next = Subscription {
                state: target,
                ..row.clone()
            };
            if let Some(updated) = self
                .write_change(&row, &next, &[action.event()], now)
                .await?
            {
                return Ok(updated);
            }
        }
        Err(Error::Contended)
    }

    pub(super) async fn state_change(
        &self,
        tenant_id: &str,
        subscription_id: &str,
        etag: &str,
        action: Action,
    ) -> Result<pb::Subscription> {
        let mut v = Violations::new();
        let change = ChangeRequest::parse(
            &mut v,
            tenant_id,
            ("subscription_id", subscription_id),
            ("etag", etag),
        );
        let change = v.done(change)?;
        self.change_state(change, action).await
    }
}

/// Writes `next` over `row` (the version it was read at) in `tx`, under the event writers' row,
/// with one event of each kind in `events`: the subscription after the change, or `None` if a
/// concurrent change got there first.
async fn change_in(
    tx: &mut AnyConnection,
    row: &Subscription,
    next: &Subscription,
    events: &[EventType],
    now: i64,
) -> Result<Option<Subscription>> {
    store::lock_events(tx).await?;
    if !store::update_subscription(tx, next, now).await? {
        return Ok(None);
    }
    // A cancelled subscription's licences go (a suspended one's stay, unusable).
    if next.state == State::Cancelled {
        store::release_all_licenses(tx, &row.id).await?;
    }
    let after = store::subscription(tx, &row.id)
        .await?
        .ok_or_else(|| Error::inconsistent(format!("subscription {} vanished", row.id)))?;
    let removed = Removed::between(row, &after);
    for kind in events {
        record_event(tx, *kind, &after, &removed, now).await?;
    }
    Ok(Some(after))
}

/// Who asks for a change of which subscription, and which version they read (if they say).
pub(super) struct ChangeRequest {
    pub(super) tenant_id: String,
    pub(super) subscription_id: String,
    pub(super) etag: Option<i64>,
}

impl ChangeRequest {
    /// Parses the tenant, the subscription id and the etag (each named by its field).
    pub(super) fn parse(
        v: &mut Violations,
        tenant_id: &str,
        (id_field, id): (&str, &str),
        (etag_field, etag): (&str, &str),
    ) -> Option<Self> {
        let tenant = v.take(fields::id("tenant_id", tenant_id));
        let id = v.take(fields::id(id_field, id));
        let etag = v.take(fields::etag(etag_field, etag)).flatten();
        tenant.zip(id).map(|(t, i)| ChangeRequest {
            tenant_id: t.to_string(),
            subscription_id: i.to_string(),
            etag,
        })
    }
}
