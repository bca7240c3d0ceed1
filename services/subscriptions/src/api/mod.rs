//! The handlers of `SubscriptionService` and `SubscriptionInternalService`: parse the request,
//! apply the rules, ask the tenants and relationships services what only they know, call the
//! store, answer. Every handler reads the time once per attempt, from the service's clock, so
//! one answer never mixes two "nows".
//!
//! Every write of events takes the event writers' row first (so cursors follow commit order
//! and writers never wait on each other in two orders), and bumps `events` after it commits:
//! that wakes the `WatchSubscriptionEvents` streams, each its own task reading the events
//! table after its last cursor (and every [`WATCH_POLL`] anyway, so nothing is missed).
//!
//! The handlers are cut by resource: [`offers`] (and line item checks), [`orders`],
//! [`subscriptions`] (reads and changes), [`trials`] (converted), [`terms`] (the sweep of what
//! time ended, upgrades), [`advisor`] subscriptions, [`watch`] streams, [`licenses`] assigned to
//! users and [`product_keys`]; [`sellers`] asks the tenants and relationships services who may
//! sell what.

mod advisor;
mod licenses;
mod offers;
mod orders;
mod product_keys;
mod sellers;
mod subscriptions;
mod terms;
#[cfg(test)]
mod tests;
mod trials;
mod watch;

pub use watch::WATCH_POLL;

use crate::Deps;
use crate::domain::{Action, EventType, Removed, Subscription};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::peers;
use partnerhub_kit::store::Database;
use partnerhub_proto::subscriptions::subscription_internal_service_server::SubscriptionInternalService;
use partnerhub_proto::subscriptions::subscription_service_server::SubscriptionService;
use partnerhub_proto::subscriptions::{self as pb};
use prost::Message;
use sqlx::AnyConnection;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// The subscriptions service over its database.
#[derive(Debug, Clone)]
pub struct Subscriptions {
    db: Database,
    deps: Deps,
    tenants: peers::Tenants,
    relationships: peers::Relationships,
    /// Bumped after every commit that wrote events: wakes the watchers.
    events: Arc<tokio::sync::watch::Sender<u64>>,
    /// Cancelled when the server shuts down: the watchers end their streams.
    shutdown: CancellationToken,
}

type WatchItem = Result<pb::WatchSubscriptionEventsResponse, Status>;
type WatchStream = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = WatchItem> + Send + 'static>>;

type Conn = sqlx::pool::PoolConnection<sqlx::Any>;

impl Subscriptions {
    pub fn new(db: Database, deps: Deps) -> Self {
        Self::with_shutdown(db, deps, CancellationToken::new())
    }

    /// The service, whose watch streams end when `shutdown` is cancelled.
    pub fn with_shutdown(db: Database, deps: Deps, shutdown: CancellationToken) -> Self {
        Subscriptions {
            tenants: peers::Tenants::new(deps.tenants.clone()),
            relationships: peers::Relationships::new(deps.relationships.clone()),
            db,
            deps,
            events: Arc::new(tokio::sync::watch::Sender::new(0)),
            shutdown,
        }
    }

    /// After a commit that wrote events: wakes the watchers.
    fn events_committed(&self) {
        self.events.send_modify(|n| *n = n.wrapping_add(1));
    }

    async fn conn(&self) -> Result<Conn> {
        Ok(self.db.pool.acquire().await?)
    }

    fn now(&self) -> i64 {
        self.deps.clock.now()
    }

    /// What an earlier call of `method` with this request id made, if any
    /// ([`partnerhub_kit::store::seen`]).
    async fn seen(
        &self,
        method: &str,
        request_id: Option<Uuid>,
        fingerprint: &str,
    ) -> Result<Option<String>> {
        partnerhub_kit::store::seen(&self.db, method, request_id, fingerprint).await
    }
}

/// Records one change of `after` (the subscription as the change left it), with the
/// subscription its watchers are sent: as a reader sees it at `now`.
async fn record_event(
    conn: &mut AnyConnection,
    kind: EventType,
    after: &Subscription,
    removed: &Removed,
    now: i64,
) -> Result<()> {
    let snapshot = after.to_proto(now).encode_to_vec();
    store::append_event(conn, kind, after, removed, &snapshot, now).await
}

/// Records the CREATED event of each subscription just written, as it was stored.
async fn record_created(conn: &mut AnyConnection, ids: &[String], now: i64) -> Result<()> {
    for id in ids {
        let created = store::subscription(conn, id)
            .await?
            .ok_or_else(|| Error::inconsistent(format!("subscription {id} not written")))?;
        record_event(conn, EventType::Created, &created, &Removed::default(), now).await?;
    }
    Ok(())
}

#[tonic::async_trait]
impl SubscriptionService for Subscriptions {
    async fn list_offers(
        &self,
        request: Request<pb::ListOffersRequest>,
    ) -> Result<Response<pb::ListOffersResponse>, Status> {
        Ok(Response::new(self.list_offers(request.get_ref()).await?))
    }

    async fn get_offer(
        &self,
        request: Request<pb::GetOfferRequest>,
    ) -> Result<Response<pb::GetOfferResponse>, Status> {
        let offer = self.get_offer(request.get_ref()).await?;
        Ok(Response::new(pb::GetOfferResponse { offer: Some(offer) }))
    }

    async fn create_offer(
        &self,
        request: Request<pb::CreateOfferRequest>,
    ) -> Result<Response<pb::CreateOfferResponse>, Status> {
        let offer = self.create_offer(request.into_inner()).await?;
        Ok(Response::new(pb::CreateOfferResponse {
            offer: Some(offer),
        }))
    }

    async fn place_order(
        &self,
        request: Request<pb::PlaceOrderRequest>,
    ) -> Result<Response<pb::PlaceOrderResponse>, Status> {
        Ok(Response::new(self.place_order(request.into_inner()).await?))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let order = self.get_order(request.get_ref()).await?;
        Ok(Response::new(pb::GetOrderResponse { order: Some(order) }))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        Ok(Response::new(self.list_orders(request.get_ref()).await?))
    }

    async fn get_subscription(
        &self,
        request: Request<pb::GetSubscriptionRequest>,
    ) -> Result<Response<pb::GetSubscriptionResponse>, Status> {
        let subscription = self.get_subscription(request.get_ref()).await?;
        Ok(Response::new(pb::GetSubscriptionResponse {
            subscription: Some(subscription),
        }))
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        Ok(Response::new(
            self.list_subscriptions(request.get_ref()).await?,
        ))
    }

    async fn update_subscription(
        &self,
        request: Request<pb::UpdateSubscriptionRequest>,
    ) -> Result<Response<pb::UpdateSubscriptionResponse>, Status> {
        let subscription = self.update_subscription(request.into_inner()).await?;
        Ok(Response::new(pb::UpdateSubscriptionResponse {
            subscription: Some(subscription),
        }))
    }

    async fn suspend_subscription(
        &self,
        request: Request<pb::SuspendSubscriptionRequest>,
    ) -> Result<Response<pb::SuspendSubscriptionResponse>, Status> {
        let r = request.get_ref();
        let subscription = self
            .state_change(&r.tenant_id, &r.subscription_id, &r.etag, Action::Suspend)
            .await?;
        Ok(Response::new(pb::SuspendSubscriptionResponse {
            subscription: Some(subscription),
        }))
    }

    async fn reactivate_subscription(
        &self,
        request: Request<pb::ReactivateSubscriptionRequest>,
    ) -> Result<Response<pb::ReactivateSubscriptionResponse>, Status> {
        let r = request.get_ref();
        let subscription = self
            .state_change(
                &r.tenant_id,
                &r.subscription_id,
                &r.etag,
                Action::Reactivate,
            )
            .await?;
        Ok(Response::new(pb::ReactivateSubscriptionResponse {
            subscription: Some(subscription),
        }))
    }

    async fn cancel_subscription(
        &self,
        request: Request<pb::CancelSubscriptionRequest>,
    ) -> Result<Response<pb::CancelSubscriptionResponse>, Status> {
        let r = request.get_ref();
        let subscription = self
            .state_change(&r.tenant_id, &r.subscription_id, &r.etag, Action::Cancel)
            .await?;
        Ok(Response::new(pb::CancelSubscriptionResponse {
            subscription: Some(subscription),
        }))
    }

    async fn watch_subscription_events(
        &self,
        request: Request<pb::WatchSubscriptionEventsRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let stream = self.watch(request.get_ref()).await?;
        Ok(Response::new(Box::pin(stream)))
    }

    async fn assign_licenses(
        &self,
        request: Request<pb::AssignLicensesRequest>,
    ) -> Result<Response<pb::AssignLicensesResponse>, Status> {
        Ok(Response::new(
            self.assign_licenses(request.into_inner()).await?,
        ))
    }

    async fn remove_licenses(
        &self,
        request: Request<pb::RemoveLicensesRequest>,
    ) -> Result<Response<pb::RemoveLicensesResponse>, Status> {
        Ok(Response::new(
            self.remove_licenses(request.get_ref()).await?,
        ))
    }

    async fn list_license_assignments(
        &self,
        request: Request<pb::ListLicenseAssignmentsRequest>,
    ) -> Result<Response<pb::ListLicenseAssignmentsResponse>, Status> {
        Ok(Response::new(
            self.list_license_assignments(request.get_ref()).await?,
        ))
    }
    async fn create_product_keys(
        &self,
        request: Request<pb::CreateProductKeysRequest>,
    ) -> Result<Response<pb::CreateProductKeysResponse>, Status> {
        Ok(Response::new(
            self.create_product_keys(request.into_inner()).await?,
        ))
    }
    async fn upgrade_subscription(
        &self,
        request: Request<pb::UpgradeSubscriptionRequest>,
    ) -> Result<Response<pb::UpgradeSubscriptionResponse>, Status> {
        let subscription = self.upgrade_subscription(request.into_inner()).await?;
        Ok(Response::new(pb::UpgradeSubscriptionResponse {
            subscription: Some(subscription),
        }))
    }

    async fn convert_trial(
        &self,
        request: Request<pb::ConvertTrialRequest>,
    ) -> Result<Response<pb::ConvertTrialResponse>, Status> {
        let subscription = self.convert_trial(request.into_inner()).await?;
        Ok(Response::new(pb::ConvertTrialResponse {
            subscription: Some(subscription),
        }))
    }
}

#[tonic::async_trait]
impl SubscriptionInternalService for Subscriptions {
    async fn check_line_items(
        &self,
        request: Request<pb::CheckLineItemsRequest>,
    ) -> Result<Response<pb::CheckLineItemsResponse>, Status> {
        Ok(Response::new(
            self.check_line_items(request.get_ref()).await?,
        ))
    }

    async fn create_advisor_subscriptions(
        &self,
        request: Request<pb::CreateAdvisorSubscriptionsRequest>,
    ) -> Result<Response<pb::CreateAdvisorSubscriptionsResponse>, Status> {
        Ok(Response::new(
            self.create_advisor_subscriptions(request.into_inner())
                .await?,
        ))
    }

    async fn release_deleted_user_licenses(
        &self,
        request: Request<pb::ReleaseDeletedUserLicensesRequest>,
    ) -> Result<Response<pb::ReleaseDeletedUserLicensesResponse>, Status> {
        Ok(Response::new(
            self.release_deleted_user_licenses(request.get_ref())
                .await?,
        ))
    }
    async fn redeem_product_key(
        &self,
        request: Request<pb::RedeemProductKeyRequest>,
    ) -> Result<Response<pb::RedeemProductKeyResponse>, Status> {
        Ok(Response::new(
            self.redeem_product_key(request.into_inner()).await?,
        ))
    }
}
