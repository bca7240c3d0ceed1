//! Licences assigned to users (seeds 000, 001, 004): `AssignLicenses`, `RemoveLicenses`,
//! `ListLicenseAssignments`, and the release of a deleted user's licences.
//!
//! A subscription's quantity is its number of licences; users of its customer hold them. The
//! count assigned lives on the subscription row (`assigned_licenses`), changed in the
//! transaction that adds or removes assignments, so reads show it for free and one guarded
//! UPDATE ([`store::take_licenses`]) keeps a race from assigning more than the quantity.
//! Every change bumps the subscription's version: an `UpdateSubscription` that read the count
//! before a concurrent assignment tries again and sees it.

use super::Subscriptions;
use crate::domain::{self, LicenseChange, LicenseFilter, Subscription};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{fingerprint, write_once};
use partnerhub_proto::subscriptions as pb;

impl Subscriptions {
    pub(super) async fn assign_licenses(
        &self,
        req: pb::AssignLicensesRequest,
    ) -> Result<pb::AssignLicensesResponse> {
        let mut v = Violations::new();
        let change = v.take(LicenseChange::parse(
            &req.tenant_id,
            &req.subscription_id,
            &req.user_ids,
        ));
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        let change = v.done(change)?;
        let fingerprint = fingerprint(&pb::AssignLicensesRequest {
            request_id: String::new(),
            ..req
        });
        // A retry answers with what the first call left, without checking again.
        if self
            .seen("AssignLicenses", request_id, &fingerprint)
            .await?
            .is_none()
        {
            let row = self.customers_subscription(&change).await?;
            let now = self.now();
            let state = row.state_at(now);
            if !domain::takes_assignments(state) {
                return Err(Error::NotAssignable {
                    id: row.id,
                    state: domain::state_words(state),
                });
            }
            self.check_users(&change).await?;
            write_once(
                &self.db,
                "AssignLicenses",
                request_id,
                &fingerprint,
                async |tx| {
                    let added = store::insert_assignments(
                        tx,
                        &row.id,
                        &row.customer_tenant_id,
                        &change.user_ids,
                        now,
                    )
                    .await?;
                    if added > 0 && !store::take_licenses(tx, &row.id, added, now).await? {
                        return Err(self.why_not_taken(tx, &row.id, added, now).await);
                    }
                    Ok(row.id.clone())
                },
            )
            .await?;
        }
        self.assignments_answer(&change).await
    }

    /// Why the guarded count refused `added` more licences (read in the same transaction):
    /// the subscription stopped taking assignments, or the licences are not enough.
    async fn why_not_taken(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
        added: i32,
        now: i64,
    ) -> Error {
        match store::subscription(conn, id).await {
            Ok(Some(row)) if !domain::takes_assignments(row.state_at(now)) => {
                Error::NotAssignable {
                    state: domain::state_words(row.state_at(now)),
                    id: row.id,
                }
            }
            Ok(Some(row)) => Error::NotEnoughLicenses {
                quantity: row.quantity,
                assigned: row.assigned_licenses,
                available: row.available_licenses(now),
                requested: added,
            },
            Ok(None) => Error::SubscriptionNotFound(id.to_string()),
            Err(e) => e,
        }
    }

    /// The assignments of the users a change named, with the subscription after it.
    async fn assignments_answer(
        &self,
        change: &LicenseChange,
    ) -> Result<pb::AssignLicensesResponse> {
        let now = self.now();
        let mut conn = self.conn().await?;
        let mut assignments = Vec::with_capacity(change.user_ids.len());
        for user_id in &change.user_ids {
            if let Some(a) = store::assignment(&mut conn, &change.subscription_id, user_id).await? {
                assignments.push(a.to_proto(now));
            }
        }
        let subscription = store::subscription(&mut conn, &change.subscription_id)
            .await?
            .ok_or_else(|| Error::SubscriptionNotFound(change.subscription_id.clone()))?;
        Ok(pb::AssignLicensesResponse {
            assignments,
            subscription: Some(subscription.to_proto(now)),
        })
    }

    pub(super) async fn remove_licenses(
        &self,
        req: &pb::RemoveLicensesRequest,
    ) -> Result<pb::RemoveLicensesResponse> {
        let change = LicenseChange::parse(&req.tenant_id, &req.subscription_id, &req.user_ids)?;
        let row = self.customers_subscription(&change).await?;
        let now = self.now();
        let mut tx = self.db.pool.begin().await?;
        let missing = store::remove_assignments(&mut tx, &row.id, &change.user_ids, now).await?;
        if !missing.is_empty() {
            let mut violations = Violations::new();
            for (i, id) in change.user_ids.iter().enumerate() {
                if missing.contains(id) {
                    violations.add(
                        format!("user_ids[{i}]"),
                        "holds no licence of this subscription",
                    );
                }
            }
            return Err(Error::LicensesNotAssigned { violations });
        }
        let after = store::subscription(&mut tx, &row.id)
            .await?
            .ok_or_else(|| Error::SubscriptionNotFound(row.id.clone()))?;
        tx.commit().await?;
        Ok(pb::RemoveLicensesResponse {
            subscription: Some(after.to_proto(now)),
        })
    }

    pub(super) async fn list_license_assignments(
        &self,
        req: &pb::ListLicenseAssignmentsRequest,
    ) -> Result<pb::ListLicenseAssignmentsResponse> {
        let mut v = Violations::new();
        let filter = v.take(LicenseFilter::parse(req));
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "license_assignments",
            &[&req.tenant_id, &req.subscription_id, &req.user_id],
        ));
        let (filter, page) = v.done(filter.zip(page))?;
        let mut conn = self.conn().await?;
        if !filter.subscription_id.is_empty() {
            // A subscription of another customer (or none) is not found, rather than empty.
            store::subscription(&mut conn, &filter.subscription_id)
                .await?
                .filter(|s| s.customer_tenant_id == filter.tenant_id)
                .ok_or_else(|| Error::SubscriptionNotFound(filter.subscription_id.clone()))?;
        }
        let rows = store::list_assignments(&mut conn, &filter, &page).await?;
        let by_subscription = !filter.subscription_id.is_empty();
        let (rows, next_page_token) = page.finish(rows, |a| {
            if by_subscription {
                a.user_id.clone()
            } else {
                a.subscription_id.clone()
            }
        });
        let now = self.now();
        Ok(pb::ListLicenseAssignmentsResponse {
            assignments: rows.iter().map(|a| a.to_proto(now)).collect(),
            next_page_token,
        })
    }

    /// Releases the licences of a user the tenants service no longer has; nothing while it
    /// still has the user (so any call, at any time, is safe).
    pub(super) async fn release_deleted_user_licenses(
        &self,
        req: &pb::ReleaseDeletedUserLicensesRequest,
    ) -> Result<pb::ReleaseDeletedUserLicensesResponse> {
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let user_id = v.take(fields::id("user_id", &req.user_id));
        let (tenant_id, user_id) = v.done(tenant_id.zip(user_id))?;
        let (tenant_id, user_id) = (tenant_id.to_string(), user_id.to_string());
        let exists = !self
            .tenants
            .users_of(&tenant_id, std::slice::from_ref(&user_id))
            .await?
            .is_empty();
        if exists {
            return Ok(pb::ReleaseDeletedUserLicensesResponse { released_count: 0 });
        }
        let mut tx = self.db.pool.begin().await?;
        let released =
            store::release_user_licenses(&mut tx, &tenant_id, &user_id, self.now()).await?;
        tx.commit().await?;
        Ok(pb::ReleaseDeletedUserLicensesResponse {
            released_count: released,
        })
    }

    /// The subscription a licence change is about, if the acting tenant is its customer:
    /// NOT_FOUND if it can't see it, PERMISSION_DENIED if it is another party of it (licences
    /// are the customer's: a partner's agents act in the customer through delegated admin).
    async fn customers_subscription(&self, change: &LicenseChange) -> Result<Subscription> {
        let row = store::subscription(&mut *self.conn().await?, &change.subscription_id)
            .await?
            .filter(|s| s.is_visible_to(&change.tenant_id))
            .ok_or_else(|| Error::SubscriptionNotFound(change.subscription_id.clone()))?;
        if row.customer_tenant_id != change.tenant_id {
            return Err(Error::NotTheCustomer(row.id));
        }
        Ok(row)
    }

    /// Every user named is a user of the customer (the tenants service owns users): else
    /// USER_NOT_FOUND naming each one that is not.
    async fn check_users(&self, change: &LicenseChange) -> Result<()> {
        let known = self
            .tenants
            .users_of(&change.tenant_id, &change.user_ids)
            .await?;
        let mut violations = Violations::new();
        for (i, id) in change.user_ids.iter().enumerate() {
            if !known.contains(id) {
                violations.add(format!("user_ids[{i}]"), "is not a user of the customer");
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::UsersNotFound { violations })
        }
    }
}
