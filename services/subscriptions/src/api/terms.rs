//! Terms: the lazy sweep that stores what time did (trials and terms that ended), and
//! upgrades along an offer's upgrade path.

use super::subscriptions::ChangeRequest;
use super::{Subscriptions, record_event, trials};
use crate::domain::{self, EventType, Removed};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::fingerprint;
use partnerhub_proto::subscriptions as pb;
use sqlx::AnyConnection;

/// The `request_ids` method name of `UpgradeSubscription`.
const UPGRADE_SUBSCRIPTION: &str = "UpgradeSubscription";

impl Subscriptions {
    /// Stores what time did: each trial past its end becomes EXPIRED with one TRIAL_ENDED
    /// event; each term past its end renews (auto-renew: one RENEWED event, however many
    /// terms passed) or expires (one TERM_ENDED event). Once each: the stored state and end
    /// conditions and the event writers' row make concurrent sweeps harmless. Runs before
    /// reads, changes and watch pages (reads derive the same anyway); one cheap statement when
    /// there is nothing to do.
    pub(super) async fn sweep(&self) -> Result<()> {
        let now = self.now();
        if !store::any_past_end(&mut *self.conn().await?, now).await? {
            return Ok(());
        }
        let mut tx = self.db.pool.begin().await?;
        store::lock_events(&mut tx).await?;
        let trials = store::trials_past_end(&mut tx, now).await?;
        let mut ended = trials::end_trials(&mut tx, &trials, now).await?;
        let terms = store::terms_past_end(&mut tx, now).await?;
        ended += end_terms(&mut tx, &terms, now).await?;
        tx.commit().await?;
        if ended > 0 {
            self.events_committed();
        }
        Ok(())
    }

    /// Moves an active subscription to an offer on its offer's upgrade path, with one
    /// UPGRADED event. Same id, licences, term and parties (and so whatever is kept by
    /// subscription id, such as licence assignments).
    pub(super) async fn upgrade_subscription(
        &self,
        req: pb::UpgradeSubscriptionRequest,
    ) -> Result<pb::Subscription> {
        let mut v = Violations::new();
        let change = ChangeRequest::parse(
            &mut v,
            &req.tenant_id,
            ("subscription_id", &req.subscription_id),
            ("etag", &req.etag),
        );
        let target = v.take(fields::id("target_offer_id", &req.target_offer_id));
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        let (change, target) = v.done(change.zip(target))?;
        let fingerprint = fingerprint(&pb::UpgradeSubscriptionRequest {
            request_id: String::new(),
            ..req
        });
        if let Some(id) = self
            .seen(UPGRADE_SUBSCRIPTION, request_id, &fingerprint)
            .await?
        {
            return self.current(&id).await;
        }
        self.sweep().await?;
        let row = self.changeable(&change).await?;
        let target = target.to_string();
        let to = store::offer(&mut *self.conn().await?, &target)
            .await?
            .ok_or(Error::OfferNotFound(target))?;
        let from = self.offer_of(&row).await?;
        let customer = self.tenant(&row.customer_tenant_id).await?;
        let now = self.now();
        let next = domain::upgrade(&row, &from, &to, &customer.country_code, now)?;
        self.write_change_once(
            UPGRADE_SUBSCRIPTION,
            (request_id, &fingerprint),
            &row,
            &next,
            EventType::Upgraded,
            now,
        )
        .await?
        .ok_or(Error::Contended)
    }
}

/// Renews or expires the subscriptions `ids` whose stored term ended by `now`, each with its
/// one event (under the event writers' row the caller took); how many it changed.
async fn end_terms(conn: &mut AnyConnection, ids: &[String], now: i64) -> Result<usize> {
    let mut ended = 0;
    for id in ids {
        let Some(row) = store::subscription(conn, id).await? else {
            continue;
        };
        let Some((next, kind)) = row.term_ended(now) else {
            continue;
        };
        // Under the event writers' row no other change can come between the read and this.
        if !store::update_subscription(conn, &next, now).await? {
            continue;
        }
        let after = store::subscription(conn, id)
            .await?
            .ok_or_else(|| Error::inconsistent(format!("subscription {id} vanished")))?;
        record_event(conn, kind, &after, &Removed::default(), now).await?;
        ended += 1;
    }
    Ok(ended)
}
