//! Advisor subscriptions: paid or trial subscriptions an advisor (partner of record) creates.

use super::{Subscriptions, record_created};
use crate::catalogue::{self, CheckedLine};
use crate::domain::{self, AdvisorSubscriptions, Subscription};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{Written, fingerprint, write_once};
use partnerhub_proto::subscriptions as pb;
use partnerhub_proto::tenants::tenant;
use partnerhub_proto::types::Cloud;
use sqlx::AnyConnection;
use uuid::Uuid;

/// The `request_ids` method name of `CreateAdvisorSubscriptions`.
const CREATE_ADVISOR_SUBSCRIPTIONS: &str = "CreateAdvisorSubscriptions";

impl Subscriptions {
    pub(super) async fn create_advisor_subscriptions(
        &self,
        req: pb::CreateAdvisorSubscriptionsRequest,
    ) -> Result<pb::CreateAdvisorSubscriptionsResponse> {
        let new = AdvisorSubscriptions::parse(&req)?;
        let fingerprint = fingerprint(&pb::CreateAdvisorSubscriptionsRequest {
            request_id: String::new(),
            ..req
        });
        // A retry answers what the first call made, whatever changed since.
        if let Some(ids) = self
            .seen(CREATE_ADVISOR_SUBSCRIPTIONS, new.request_id, &fingerprint)
            .await?
        {
            return self.advisor_created(&ids).await;
        }
        // 1. The customer.
        let customer = self.tenant(&new.customer_tenant_id).await?;
        if customer.kind != tenant::Kind::Customer as i32 {
            return Err(Error::NotACustomer(new.customer_tenant_id));
        }
        // 2. The advisor ("Check ID"): an advisor in the customer's cloud.
        self.check_partner_of_record(&new.partner_of_record_mpn_id, customer.cloud)
            .await?;
        // 3. The line items, as for orders.
        let cloud = Cloud::try_from(customer.cloud).unwrap_or(Cloud::Unspecified);
        let lines = catalogue::check_line_items(
            &mut *self.conn().await?,
            &new.line_items,
            cloud,
            &customer.country_code,
        )
        .await?;
        catalogue::refuse_problems(&lines)?;
        // 4. Trials of offers that have one.
        if new.trial {
            let mut violations = Violations::new();
            for (i, line) in lines.iter().enumerate() {
                if let Some(offer) = &line.offer
                    && !offer.spec.trial_available
                {
                    violations.add(
                        format!("line_items[{i}].offer_id"),
                        format!("{} has no trial", offer.spec.display_name),
                    );
                }
            }
            if !violations.is_empty() {
                return Err(Error::NoTrial { violations });
            }
        }
        let written = write_once(
            &self.db,
            CREATE_ADVISOR_SUBSCRIPTIONS,
            new.request_id,
            &fingerprint,
            async |tx| self.write_advisor(tx, &new, &lines).await,
        )
        .await?;
        if let Written::New(_) = written {
            self.events_committed();
        }
        let ids = written.resource();
        self.advisor_created(&ids).await
    }

    /// Writes the advisor's subscriptions and their CREATED events in one transaction; returns
    /// their ids, comma-separated (an earlier call's, for a retry). A trial of an offer the
    /// customer had a trial of before, in any state, is TRIAL_ALREADY_TAKEN (checked under the
    /// event writers' row, so two concurrent calls can't both give it).
    async fn write_advisor(
        &self,
        tx: &mut AnyConnection,
        new: &AdvisorSubscriptions,
        lines: &[CheckedLine],
    ) -> Result<String> {
        store::lock_events(tx).await?;
        let now = self.now();
        let mut subscriptions = Vec::with_capacity(lines.len());
        let mut taken = Violations::new();
        for (i, line) in lines.iter().enumerate() {
            // A purchase offer's subscriptions start on the offer's first term.
            let (offer, term) = line.bought()?;
            let made = if new.trial {
                if store::had_trial(tx, &new.customer_tenant_id, &offer.id).await? {
                    taken.add(
                        format!("line_items[{i}].offer_id"),
                        domain::trial_taken(&offer.spec.display_name),
                    );
                }
                Subscription::trial(offer, line.item.quantity, now)
            } else {
                Subscription::paid(offer, line.item.quantity, term, now)
            };
            subscriptions.push(Subscription {
                id: Uuid::now_v7().to_string(),
                customer_tenant_id: new.customer_tenant_id.clone(),
                partner_of_record_mpn_id: new.partner_of_record_mpn_id.clone(),
                ..made
            });
        }
        if !taken.is_empty() {
            return Err(Error::TrialAlreadyTaken { violations: taken });
        }
        for s in &subscriptions {
            store::insert_subscription(tx, s).await?;
        }
        let ids: Vec<String> = subscriptions.iter().map(|s| s.id.clone()).collect();
        record_created(tx, &ids, now).await?;
        let ids = ids.join(",");
        Ok(ids)
    }

    /// The advisor's subscriptions as they are now.
    async fn advisor_created(&self, ids: &str) -> Result<pb::CreateAdvisorSubscriptionsResponse> {
        self.sweep().await?;
        let now = self.now();
        let mut conn = self.conn().await?;
        let mut subscriptions = Vec::new();
        for id in ids.split(',').filter(|i| !i.is_empty()) {
            let subscription = store::subscription(&mut conn, id).await?.ok_or_else(|| {
                Error::inconsistent(format!(
                    "{CREATE_ADVISOR_SUBSCRIPTIONS} made {id}, now missing"
                ))
            })?;
            subscriptions.push(subscription.to_proto(now));
        }
        Ok(pb::CreateAdvisorSubscriptionsResponse { subscriptions })
    }
}
