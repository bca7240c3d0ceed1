//! The handlers of `SubscriptionService` and `SubscriptionInternalService`: parse the request,
//! apply the rules, ask the tenants and relationships services what only they know, call the
//! store, answer. Every handler reads the time once per attempt, from the service's clock, so
//! one answer never mixes two "nows".
//!
//! Every write of events takes the event writers' row first (so cursors follow commit order
//! and writers never wait on each other in two orders), and bumps `events` after it commits:
//! that wakes the `WatchSubscriptionEvents` streams, each its own task reading the events
//! table after its last cursor (and every [`WATCH_POLL`] anyway, so nothing is missed).

use crate::Deps;
use crate::catalogue::{self, CheckedLine};
use crate::domain::{
    self, Action, AdvisorSubscriptions, EventType, NewOrder, NewSubscription, OfferFilter,
    OfferSpec, OrderFilter, SubscriptionFilter, SubscriptionPatch,
};
use crate::error::{Error, Result};
use crate::store::{self, Removed, SubscriptionRow, Values};
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{Database, fingerprint, remember, replay};
use partnerhub_kit::time::timestamp;
use partnerhub_proto::relationships::relationship_service_client::RelationshipServiceClient;
use partnerhub_proto::relationships::{self as rel, RelationshipType};
use partnerhub_proto::subscriptions::subscription::State;
use partnerhub_proto::subscriptions::subscription_internal_service_server::SubscriptionInternalService;
use partnerhub_proto::subscriptions::subscription_service_server::SubscriptionService;
use partnerhub_proto::subscriptions::{self as pb};
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use partnerhub_proto::tenants::{self as ten, agreement, tenant};
use partnerhub_proto::types::{Cloud, PartnerType};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::{Code, Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

/// The `request_ids` method names.
const CREATE_OFFER: &str = "CreateOffer";
const PLACE_ORDER: &str = "PlaceOrder";
const CREATE_ADVISOR_SUBSCRIPTIONS: &str = "CreateAdvisorSubscriptions";
/// How often a change is tried when a concurrent change of the same subscription committed
/// between its read and its write (each try reads again and checks again).
const WRITE_ATTEMPTS: usize = 3;
/// The header that carries a call's deadline (passed on to the services this one asks).
const GRPC_TIMEOUT: &str = "grpc-timeout";
/// Rows per page when this service reads another's list to the end.
const PEER_PAGE: i32 = 1000;
/// Events a watcher reads from the table at once.
const WATCH_PAGE: i64 = 256;
/// Events waiting for a watcher's client to take them; a client that doesn't read holds up its
/// own stream's task here and nothing else.
const WATCH_BUFFER: usize = 16;
/// How often a waiting watcher looks for events even without a wake-up (and for trials that
/// ended meanwhile).
pub const WATCH_POLL: Duration = Duration::from_secs(1);

/// The subscriptions service over its database.
#[derive(Debug, Clone)]
pub struct Subscriptions {
    db: Database,
    deps: Deps,
    /// Bumped after every commit that wrote events: wakes the watchers.
    events: Arc<watch::Sender<u64>>,
    /// Cancelled when the server shuts down: the watchers end their streams.
    shutdown: CancellationToken,
}

/// Who a watch stream is for: the partner's tenant id and partner ID.
#[derive(Debug, Clone)]
struct Watcher {
    tenant_id: String,
    mpn_id: String,
}

type WatchItem = Result<pb::WatchSubscriptionEventsResponse, Status>;
type WatchStream = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = WatchItem> + Send + 'static>>;

type Conn = sqlx::pool::PoolConnection<sqlx::Any>;

/// The deadline of the call being served, passed on to the calls it makes, so they give up
/// when the caller does.
#[derive(Debug, Clone, Default)]
struct Deadline(Option<AsciiMetadataValue>);

impl Deadline {
    fn of(metadata: &MetadataMap) -> Self {
        Deadline(metadata.get(GRPC_TIMEOUT).cloned())
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(timeout) = &self.0 {
            request.metadata_mut().insert(GRPC_TIMEOUT, timeout.clone());
        }
        request
    }
}

/// Who asks for a change of which subscription, and which version they read (if they say).
struct ChangeRequest {
    tenant_id: String,
    subscription_id: String,
    etag: Option<i64>,
}

impl ChangeRequest {
    /// Parses the tenant, the subscription id and the etag (each named by its field).
    fn parse(
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

impl Subscriptions {
    pub fn new(db: Database, deps: Deps) -> Self {
        Self::with_shutdown(db, deps, CancellationToken::new())
    }

    /// The service, whose watch streams end when `shutdown` is cancelled.
    pub fn with_shutdown(db: Database, deps: Deps, shutdown: CancellationToken) -> Self {
        Subscriptions {
            db,
            deps,
            events: Arc::new(watch::Sender::new(0)),
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

    // ---- offers ----

    async fn list_offers(&self, req: &pb::ListOffersRequest) -> Result<pb::ListOffersResponse> {
        let mut v = Violations::new();
        let filter = v.take(OfferFilter::parse(req));
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "offers",
            &[
                &req.cloud.to_string(),
                &req.country_code,
                &req.trial_available.to_string(),
            ],
        ));
        let (filter, page) = v.done(filter.zip(page))?;
        let offers = store::list_offers(&mut *self.conn().await?, &filter, &page).await?;
        let (offers, next_page_token) = page.finish(offers, |o| o.id.clone());
        Ok(pb::ListOffersResponse {
            offers: offers.iter().map(domain::Offer::to_proto).collect(),
            next_page_token,
        })
    }

    async fn get_offer(&self, req: &pb::GetOfferRequest) -> Result<pb::Offer> {
        let id = fields::id("offer_id", &req.offer_id)?.to_string();
        store::offer(&mut *self.conn().await?, &id)
            .await?
            .map(|o| o.to_proto())
            .ok_or(Error::OfferNotFound(id))
    }

    async fn create_offer(&self, req: pb::CreateOfferRequest) -> Result<pb::Offer> {
        let mut v = Violations::new();
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        let spec = v.take(OfferSpec::parse("offer", req.offer.as_ref()));
        let spec = v.done(spec)?;
        let fingerprint = fingerprint(&pb::CreateOfferRequest {
            request_id: String::new(),
            ..req
        });
        let id = match self.write_offer(&spec, request_id, &fingerprint).await {
            // A concurrent twin with the same request id committed first: answer as a retry.
            Err(e) if e.is_unique_violation() => self
                .seen(CREATE_OFFER, request_id, &fingerprint)
                .await?
                .ok_or(e)?,
            other => other?,
        };
        store::offer(&mut *self.conn().await?, &id)
            .await?
            .map(|o| o.to_proto())
            .ok_or_else(|| {
                Error::Inconsistent(format!("{CREATE_OFFER} made offer {id}, now missing"))
            })
    }

    async fn write_offer(
        &self,
        spec: &OfferSpec,
        request_id: Option<Uuid>,
        fingerprint: &str,
    ) -> Result<String> {
        let mut tx = self.db.pool.begin().await?;
        if let Some(rid) = request_id
            && let Some(id) = replay(&mut tx, CREATE_OFFER, rid, fingerprint)
                .await?
                .earlier()?
        {
            return Ok(id);
        }
        let id = Uuid::now_v7().to_string();
        store::put_offer(&mut tx, &id, spec, self.now(), false).await?;
        if let Some(rid) = request_id {
            remember(&mut tx, CREATE_OFFER, rid, fingerprint, &id).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// What an earlier call of `method` with this request id made, if any.
    async fn seen(
        &self,
        method: &str,
        request_id: Option<Uuid>,
        fingerprint: &str,
    ) -> Result<Option<String>> {
        let Some(rid) = request_id else {
            return Ok(None);
        };
        Ok(replay(&mut *self.conn().await?, method, rid, fingerprint)
            .await?
            .earlier()?)
    }

    // ---- line items ----

    async fn check_line_items(
        &self,
        req: &pb::CheckLineItemsRequest,
    ) -> Result<pb::CheckLineItemsResponse> {
        let mut v = Violations::new();
        let cloud = v.take(partnerhub_rules::cloud::required("cloud", req.cloud));
        let country = v.take(partnerhub_rules::country::code(
            "country_code",
            &req.country_code,
        ));
        let items = v.take(domain::line_items(&req.line_items));
        let ((cloud, country), items) = v.done(cloud.zip(country).zip(items))?;
        let lines =
            catalogue::check_line_items(&mut *self.conn().await?, &items, cloud, &country).await?;
        let now = self.now();
        Ok(pb::CheckLineItemsResponse {
            subscriptions: catalogue::drafts(&lines)
                .iter()
                .map(|s| s.to_proto(now))
                .collect(),
            problems: catalogue::problems(&lines).map(|p| p.to_proto()).collect(),
        })
    }

    // ---- orders ----

    async fn place_order(
        &self,
        req: pb::PlaceOrderRequest,
        deadline: &Deadline,
    ) -> Result<pb::PlaceOrderResponse> {
        let order = NewOrder::parse(&req)?;
        let fingerprint = fingerprint(&pb::PlaceOrderRequest {
            request_id: String::new(),
            ..req
        });
        // A retry of an order placed before answers that order, whatever changed since.
        if !order.validate_only
            && let Some(id) = self
                .seen(PLACE_ORDER, order.request_id, &fingerprint)
                .await?
        {
            return self.placed(&id).await;
        }
        // 1. The customer.
        let customer = self.tenant(&order.customer_tenant_id, deadline).await?;
        if customer.kind != tenant::Kind::Customer as i32 {
            return Err(Error::NotACustomer(order.customer_tenant_id));
        }
        // 2. The partner may sell to it.
        self.check_seller(
            &order.partner_tenant_id,
            &order.customer_tenant_id,
            deadline,
        )
        .await?;
        // 3. The customer agreement.
        if !self
            .has_accepted(
                &order.customer_tenant_id,
                agreement::Type::CustomerAgreement,
                deadline,
            )
            .await?
        {
            return Err(Error::AgreementNotAccepted(order.customer_tenant_id));
        }
        // 4. The indirect reseller.
        if !order.indirect_reseller_id.is_empty() {
            self.check_reseller(
                &order.partner_tenant_id,
                &order.indirect_reseller_id,
                deadline,
            )
            .await?;
        }
        // 5. The line items.
        let cloud = Cloud::try_from(customer.cloud).unwrap_or(Cloud::Unspecified);
        let lines = catalogue::check_line_items(
            &mut *self.conn().await?,
            &order.line_items,
            cloud,
            &customer.country_code,
        )
        .await?;
        let mut problems = catalogue::problems(&lines).peekable();
        if let Some(first) = problems.peek() {
            let reason = first.reason;
            let mut violations = Violations::new();
            for p in problems {
                violations.add(p.field.clone(), p.description.clone());
            }
            return Err(Error::Rejected { reason, violations });
        }
        if order.validate_only {
            let now = self.now();
            let subscriptions = new_subscriptions(&order, &lines, "", String::new)?;
            return Ok(pb::PlaceOrderResponse {
                order: Some(pb::Order {
                    id: String::new(),
                    customer_tenant_id: order.customer_tenant_id.clone(),
                    partner_tenant_id: order.partner_tenant_id.clone(),
                    indirect_reseller_id: order.indirect_reseller_id.clone(),
                    line_items: line_items_proto(&order),
                    subscription_ids: Vec::new(),
                    create_time: Some(timestamp(now)),
                }),
                subscriptions: subscriptions.iter().map(|s| s.to_proto(now)).collect(),
            });
        }
        let id = match self.write_order(&order, &lines, &fingerprint).await {
            // A concurrent twin with the same request id committed first: answer as a retry.
            Err(e) if e.is_unique_violation() => self
                .seen(PLACE_ORDER, order.request_id, &fingerprint)
                .await?
                .ok_or(e)?,
            other => other?,
        };
        self.placed(&id).await
    }

    /// Writes the order, its subscriptions and their CREATED events in one transaction;
    /// returns the order's id (an earlier one's, for a retry).
    async fn write_order(
        &self,
        order: &NewOrder,
        lines: &[CheckedLine],
        fingerprint: &str,
    ) -> Result<String> {
        let mut tx = self.db.pool.begin().await?;
        if let Some(rid) = order.request_id
            && let Some(id) = replay(&mut tx, PLACE_ORDER, rid, fingerprint)
                .await?
                .earlier()?
        {
            return Ok(id);
        }
        store::lock_events(&mut tx).await?;
        let now = self.now();
        let id = Uuid::now_v7().to_string();
        let subscriptions = new_subscriptions(order, lines, &id, || Uuid::now_v7().to_string())?;
        let ids: Vec<String> = subscriptions.iter().map(|s| s.id.clone()).collect();
        store::insert_order(&mut tx, &id, order, &ids, now).await?;
        for s in &subscriptions {
            store::insert_subscription(&mut tx, s, now).await?;
        }
        // The customer buys what it had a trial of: the trial ends (converted) with the order.
        let mut offers: Vec<&str> = order
            .line_items
            .iter()
            .map(|l| l.offer_id.as_str())
            .collect();
        offers.sort_unstable();
        offers.dedup();
        for offer in offers {
            for trial in store::open_trials(&mut tx, &order.customer_tenant_id, offer).await? {
                if let Some(row) = store::end_trial(&mut tx, &trial, now).await? {
                    store::append_event(
                        &mut tx,
                        EventType::TrialEnded,
                        &row,
                        &Removed::default(),
                        now,
                    )
                    .await?;
                }
            }
        }
        for s in &ids {
            let row = store::subscription(&mut tx, s)
                .await?
                .ok_or_else(|| Error::Inconsistent(format!("subscription {s} not written")))?;
            store::append_event(&mut tx, EventType::Created, &row, &Removed::default(), now)
                .await?;
        }
        if let Some(rid) = order.request_id {
            remember(&mut tx, PLACE_ORDER, rid, fingerprint, &id).await?;
        }
        tx.commit().await?;
        self.events_committed();
        Ok(id)
    }

    /// The answer to a placed order: the order and its subscriptions as they are now.
    async fn placed(&self, id: &str) -> Result<pb::PlaceOrderResponse> {
        self.sweep_trials().await?;
        let now = self.now();
        let mut conn = self.conn().await?;
        let order = store::order(&mut conn, id).await?.ok_or_else(|| {
            Error::Inconsistent(format!("{PLACE_ORDER} made order {id}, now missing"))
        })?;
        let mut subscriptions = Vec::new();
        for s in order.subscription_ids() {
            let row = store::subscription(&mut conn, &s)
                .await?
                .ok_or_else(|| Error::Inconsistent(format!("order {id} names {s}, now missing")))?;
            subscriptions.push(row.to_proto(now));
        }
        Ok(pb::PlaceOrderResponse {
            order: Some(order.to_proto()),
            subscriptions,
        })
    }

    async fn get_order(&self, req: &pb::GetOrderRequest) -> Result<pb::Order> {
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let id = v.take(fields::id("order_id", &req.order_id));
        let (tenant_id, id) = v.done(tenant_id.zip(id))?;
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        store::order(&mut *self.conn().await?, &id)
            .await?
            .filter(|o| o.is_visible_to(&tenant_id))
            .map(|o| o.to_proto())
            .ok_or(Error::OrderNotFound(id))
    }

    async fn list_orders(&self, req: &pb::ListOrdersRequest) -> Result<pb::ListOrdersResponse> {
        let mut v = Violations::new();
        let filter = v.take(OrderFilter::parse(req));
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "orders",
            &[&req.customer_tenant_id, &req.partner_tenant_id],
        ));
        let (filter, page) = v.done(filter.zip(page))?;
        let rows = store::list_orders(&mut *self.conn().await?, &filter, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |o| o.id.clone());
        Ok(pb::ListOrdersResponse {
            orders: rows.iter().map(store::OrderRow::to_proto).collect(),
            next_page_token,
        })
    }

    // ---- subscriptions ----

    async fn get_subscription(&self, req: &pb::GetSubscriptionRequest) -> Result<pb::Subscription> {
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let id = v.take(fields::id("subscription_id", &req.subscription_id));
        let (tenant_id, id) = v.done(tenant_id.zip(id))?;
        self.sweep_trials().await?;
        let now = self.now();
        let row = self
            .visible(&tenant_id.to_string(), &id.to_string())
            .await?;
        Ok(row.to_proto(now))
    }

    /// The subscription, if `tenant_id` may see it.
    async fn visible(&self, tenant_id: &str, id: &str) -> Result<SubscriptionRow> {
        store::subscription(&mut *self.conn().await?, id)
            .await?
            .filter(|s| s.is_visible_to(tenant_id))
            .ok_or_else(|| Error::SubscriptionNotFound(id.to_string()))
    }

    async fn list_subscriptions(
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
            ],
        ));
        let (filter, page) = v.done(filter.zip(page))?;
        self.sweep_trials().await?;
        let now = self.now();
        let rows = store::list_subscriptions(&mut *self.conn().await?, &filter, now, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |s| s.id.clone());
        Ok(pb::ListSubscriptionsResponse {
            subscriptions: rows.iter().map(|s| s.to_proto(now)).collect(),
            next_page_token,
        })
    }

    /// The subscription, if `tenant_id` may change it and it is still the version `etag`
    /// names: NOT_FOUND if the tenant can't see it, PERMISSION_DENIED if it only may see it,
    /// ABORTED if it changed since.
    async fn changeable(&self, change: &ChangeRequest) -> Result<SubscriptionRow> {
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

    async fn update_subscription(
        &self,
        req: pb::UpdateSubscriptionRequest,
        deadline: &Deadline,
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
        let (change, patch) = v.done(change.zip(patch))?;
        for _ in 0..WRITE_ATTEMPTS {
            let row = self.changeable(&change).await?;
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
            let next = self.patched(&row, &patch, deadline).await?;
            let before = row.values();
            let mut events = Vec::new();
            if next.quantity != before.quantity {
                events.push(EventType::QuantityChanged);
            }
            if next.partner_of_record_mpn_id != before.partner_of_record_mpn_id {
                events.push(EventType::PartnerOfRecordChanged);
            }
            if next.auto_renew != before.auto_renew
                || next.indirect_reseller_id != before.indirect_reseller_id
                || next.support_contact_tenant_id != before.support_contact_tenant_id
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

    /// The values `patch` gives the subscription, each checked: the quantity against the
    /// offer's bounds, a new reseller's partnership and agreement, the support contact against
    /// the parties, a partner of record against the tenants service.
    async fn patched(
        &self,
        row: &SubscriptionRow,
        patch: &SubscriptionPatch,
        deadline: &Deadline,
    ) -> Result<Values> {
        let mut next = row.values();
        if let Some(quantity) = patch.quantity
            && quantity != next.quantity
        {
            let offer = store::offer(&mut *self.conn().await?, &row.offer_id)
                .await?
                .ok_or_else(|| {
                    Error::Inconsistent(format!(
                        "subscription {} names offer {}, which is missing",
                        row.id, row.offer_id
                    ))
                })?;
            if let Some(description) = domain::quantity_out_of_bounds(quantity, &offer.spec) {
                return Err(Error::Rejected {
                    reason: domain::QUANTITY_OUT_OF_BOUNDS,
                    violations: Violations::one("subscription.quantity", description),
                });
            }
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
            self.check_reseller(billing, reseller, deadline).await?;
        }
        if let Some(mpn_id) = &patch.partner_of_record_mpn_id
            && *mpn_id != row.partner_of_record_mpn_id
        {
            if !mpn_id.is_empty() {
                let customer = self.tenant(&row.customer_tenant_id, deadline).await?;
                self.check_partner_of_record(mpn_id, customer.cloud, deadline)
                    .await?;
            }
            next.partner_of_record_mpn_id = mpn_id.clone();
        }
        Ok(next)
    }

    /// Writes `next` over `row` if nobody changed it since it was read, with one event of each
    /// kind in `events`; `None` if a concurrent change got there first.
    async fn write_change(
        &self,
        row: &SubscriptionRow,
        next: &Values,
        events: &[EventType],
        now: i64,
    ) -> Result<Option<pb::Subscription>> {
        let mut tx = self.db.pool.begin().await?;
        store::lock_events(&mut tx).await?;
        if !store::update_subscription(&mut tx, &row.id, row.version, next, now).await? {
            return Ok(None);
        }
        let after = store::subscription(&mut tx, &row.id)
            .await?
            .ok_or_else(|| Error::Inconsistent(format!("subscription {} vanished", row.id)))?;
        let removed = Removed {
            indirect_reseller_id: changed_from(
                &row.indirect_reseller_id,
                &after.indirect_reseller_id,
            ),
            partner_of_record_mpn_id: changed_from(
                &row.partner_of_record_mpn_id,
                &after.partner_of_record_mpn_id,
            ),
        };
        for kind in events {
            store::append_event(&mut tx, *kind, &after, &removed, now).await?;
        }
        tx.commit().await?;
        self.events_committed();
        Ok(Some(after.to_proto(now)))
    }

    /// Suspends, reactivates or cancels a subscription.
    async fn change_state(
        &self,
        change: ChangeRequest,
        action: Action,
    ) -> Result<pb::Subscription> {
        for _ in 0..WRITE_ATTEMPTS {
            let row = self.changeable(&change).await?;
            let now = self.now();
            let target = action.apply(row.state_at(now))?;
            let next = Values {
                state: target,
                ..row.values()
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

    async fn state_change(
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

    // ---- trials ----

    /// Ends the trials past their end that are still stored as trials: each becomes EXPIRED
    /// with one TRIAL_ENDED event, once (the state condition and the event writers' row make
    /// concurrent sweeps harmless). Runs before reads and watch pages; cheap when there is
    /// nothing to do.
    async fn sweep_trials(&self) -> Result<()> {
        let now = self.now();
        if !store::any_trial_past_end(&mut *self.conn().await?, now).await? {
            return Ok(());
        }
        let mut tx = self.db.pool.begin().await?;
        store::lock_events(&mut tx).await?;
        let mut ended = 0;
        for id in store::trials_past_end(&mut tx, now).await? {
            if let Some(row) = store::end_trial(&mut tx, &id, now).await? {
                store::append_event(
                    &mut tx,
                    EventType::TrialEnded,
                    &row,
                    &Removed::default(),
                    now,
                )
                .await?;
                ended += 1;
            }
        }
        tx.commit().await?;
        if ended > 0 {
            self.events_committed();
        }
        Ok(())
    }

    // ---- advisor subscriptions ----

    async fn create_advisor_subscriptions(
        &self,
        req: pb::CreateAdvisorSubscriptionsRequest,
        deadline: &Deadline,
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
        let customer = self.tenant(&new.customer_tenant_id, deadline).await?;
        if customer.kind != tenant::Kind::Customer as i32 {
            return Err(Error::NotACustomer(new.customer_tenant_id));
        }
        // 2. The advisor ("Check ID"): an advisor in the customer's cloud.
        self.check_partner_of_record(&new.partner_of_record_mpn_id, customer.cloud, deadline)
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
        let mut problems = catalogue::problems(&lines).peekable();
        if let Some(first) = problems.peek() {
            let reason = first.reason;
            let mut violations = Violations::new();
            for p in problems {
                violations.add(p.field.clone(), p.description.clone());
            }
            return Err(Error::Rejected { reason, violations });
        }
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
                return Err(Error::Rejected {
                    reason: domain::TRIAL_NOT_AVAILABLE,
                    violations,
                });
            }
        }
        let ids = match self.write_advisor(&new, &lines, &fingerprint).await {
            // A concurrent twin with the same request id committed first: answer as a retry.
            Err(e) if e.is_unique_violation() => self
                .seen(CREATE_ADVISOR_SUBSCRIPTIONS, new.request_id, &fingerprint)
                .await?
                .ok_or(e)?,
            other => other?,
        };
        self.advisor_created(&ids).await
    }

    /// Writes the advisor's subscriptions and their CREATED events in one transaction; returns
    /// their ids, comma-separated (an earlier call's, for a retry). A trial of an offer the
    /// customer had a trial of before, in any state, is TRIAL_ALREADY_TAKEN (checked under the
    /// event writers' row, so two concurrent calls can't both give it).
    async fn write_advisor(
        &self,
        new: &AdvisorSubscriptions,
        lines: &[CheckedLine],
        fingerprint: &str,
    ) -> Result<String> {
        let mut tx = self.db.pool.begin().await?;
        if let Some(rid) = new.request_id
            && let Some(ids) = replay(&mut tx, CREATE_ADVISOR_SUBSCRIPTIONS, rid, fingerprint)
                .await?
                .earlier()?
        {
            return Ok(ids);
        }
        store::lock_events(&mut tx).await?;
        let now = self.now();
        let mut subscriptions = Vec::with_capacity(lines.len());
        let mut taken = Violations::new();
        for (i, line) in lines.iter().enumerate() {
            let offer = line.offer.as_ref().ok_or_else(|| {
                Error::Inconsistent(format!("line item of {} without offer", line.item.offer_id))
            })?;
            let mut s = NewSubscription {
                id: Uuid::now_v7().to_string(),
                customer_tenant_id: new.customer_tenant_id.clone(),
                partner_of_record_mpn_id: new.partner_of_record_mpn_id.clone(),
                ..NewSubscription::paid(offer, line.item.quantity)
            };
            if new.trial {
                if store::had_trial(&mut tx, &new.customer_tenant_id, &offer.id).await? {
                    taken.add(
                        format!("line_items[{i}].offer_id"),
                        format!(
                            "the customer had a trial of {} before; an offer's trial is given once",
                            offer.spec.display_name
                        ),
                    );
                }
                s.state = State::Trial;
                s.auto_renew = false;
                s.trial_end_time =
                    now.saturating_add(i64::from(offer.spec.trial_days) * domain::DAY_MICROS);
            }
            subscriptions.push(s);
        }
        if !taken.is_empty() {
            return Err(Error::TrialAlreadyTaken { violations: taken });
        }
        for s in &subscriptions {
            store::insert_subscription(&mut tx, s, now).await?;
        }
        for s in &subscriptions {
            let row = store::subscription(&mut tx, &s.id)
                .await?
                .ok_or_else(|| Error::Inconsistent(format!("subscription {} not written", s.id)))?;
            store::append_event(&mut tx, EventType::Created, &row, &Removed::default(), now)
                .await?;
        }
        let ids = subscriptions
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(",");
        if let Some(rid) = new.request_id {
            remember(
                &mut tx,
                CREATE_ADVISOR_SUBSCRIPTIONS,
                rid,
                fingerprint,
                &ids,
            )
            .await?;
        }
        tx.commit().await?;
        self.events_committed();
        Ok(ids)
    }

    /// The advisor's subscriptions as they are now.
    async fn advisor_created(&self, ids: &str) -> Result<pb::CreateAdvisorSubscriptionsResponse> {
        self.sweep_trials().await?;
        let now = self.now();
        let mut conn = self.conn().await?;
        let mut subscriptions = Vec::new();
        for id in ids.split(',').filter(|i| !i.is_empty()) {
            let row = store::subscription(&mut conn, id).await?.ok_or_else(|| {
                Error::Inconsistent(format!(
                    "{CREATE_ADVISOR_SUBSCRIPTIONS} made {id}, now missing"
                ))
            })?;
            subscriptions.push(row.to_proto(now));
        }
        Ok(pb::CreateAdvisorSubscriptionsResponse { subscriptions })
    }

    // ---- watching ----

    /// Checks a `WatchSubscriptionEvents` and starts its stream's task: the partner (its
    /// partner ID read once, here) and where to start, fixed before the answer so that every
    /// event committed after the call returns is delivered.
    async fn watch(
        &self,
        req: &pb::WatchSubscriptionEventsRequest,
        deadline: &Deadline,
    ) -> Result<ReceiverStream<WatchItem>> {
        let mut v = Violations::new();
        let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
        let cursor = v.take(domain::decode_cursor("cursor", &req.cursor));
        let (partner, cursor) = v.done(partner.zip(cursor))?;
        let partner = partner.to_string();
        let tenant = self.tenant(&partner, deadline).await?;
        if tenant.kind != tenant::Kind::Partner as i32 {
            return Err(Error::NotAPartner(partner));
        }
        let watcher = Watcher {
            tenant_id: partner,
            mpn_id: tenant.partner.map(|p| p.mpn_id).unwrap_or_default(),
        };
        // Subscribe before reading the last cursor: a commit in between wakes the task.
        let wake = self.events.subscribe();
        let last = store::last_cursor(&mut *self.conn().await?).await?;
        let after = match cursor {
            None => last,
            Some(c) if c > last => {
                return Err(Error::field(
                    "cursor",
                    "is ahead of every event; send an event's `cursor` as received",
                ));
            }
            Some(c) => c,
        };
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        // In the call's span: the stream's log lines carry its request id.
        tokio::spawn(
            self.clone()
                .run_watch(watcher, after, wake, tx)
                .instrument(tracing::Span::current()),
        );
        Ok(ReceiverStream::new(rx))
    }

    /// One stream's task: reads the events after `after` page by page, sends those that concern
    /// the watcher, then waits for a wake-up (or the poll); ends when the client goes away or
    /// the server shuts down. A failure ends the stream with its status; the client resumes with
    /// its last cursor.
    async fn run_watch(
        self,
        watcher: Watcher,
        mut after: i64,
        mut wake: watch::Receiver<u64>,
        tx: mpsc::Sender<WatchItem>,
    ) {
        // A stream ended by the server stopping says so (UNAVAILABLE, SERVER_STOPPING), so the
        // client resumes from its last cursor rather than take the end for "done".
        let stopping = |tx: &mpsc::Sender<WatchItem>| {
            let _ = tx.try_send(Err(partnerhub_kit::server::stopping_status(
                "subscriptions",
            )));
        };
        loop {
            wake.borrow_and_update();
            match self.watch_pages(&watcher, &mut after, &tx).await {
                Ok(true) => {}
                Ok(false) => {
                    if self.shutdown.is_cancelled() {
                        stopping(&tx);
                    }
                    return;
                }
                Err(e) => {
                    tokio::select! {
                        _ = tx.send(Err(e.into())) => {}
                        _ = self.shutdown.cancelled() => {}
                    }
                    return;
                }
            }
            tokio::select! {
                changed = wake.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep(WATCH_POLL) => {}
                _ = tx.closed() => return,
                _ = self.shutdown.cancelled() => {
                    stopping(&tx);
                    return;
                }
            }
        }
    }

    /// Sends every event after `after` that concerns the watcher, moving `after` past each event
    /// read. `false`: the stream is over (client gone, or shutting down).
    async fn watch_pages(
        &self,
        watcher: &Watcher,
        after: &mut i64,
        tx: &mpsc::Sender<WatchItem>,
    ) -> Result<bool> {
        self.sweep_trials().await?;
        loop {
            // The connection goes back to the pool before sending: a slow client holds none.
            let page = store::events_after(&mut *self.conn().await?, *after, WATCH_PAGE).await?;
            let full = page.len() as i64 == WATCH_PAGE;
            for row in page {
                let cursor = row.cursor;
                if row.concerns(&watcher.tenant_id, &watcher.mpn_id) {
                    let event = row.to_proto().map_err(|e| {
                        Error::Inconsistent(format!(
                            "event {cursor} of {} does not decode: {e}",
                            row.subscription_id
                        ))
                    })?;
                    let item = Ok(pb::WatchSubscriptionEventsResponse { event: Some(event) });
                    tokio::select! {
                        sent = tx.send(item) => {
                            if sent.is_err() {
                                return Ok(false);
                            }
                        }
                        _ = self.shutdown.cancelled() => return Ok(false),
                    }
                }
                *after = cursor;
            }
            if !full {
                return Ok(true);
            }
        }
    }

    // ---- what other services know ----

    /// A tenant as the tenants service has it: TENANT_NOT_FOUND if there is none.
    async fn tenant(&self, id: &str, deadline: &Deadline) -> Result<ten::Tenant> {
        let answer = TenantServiceClient::new(self.deps.tenants.clone())
            .get_tenant(deadline.request(ten::GetTenantRequest {
                tenant_id: id.to_string(),
            }))
            .await;
        match answer {
            Ok(response) => response
                .into_inner()
                .tenant
                .ok_or_else(|| Error::TenantNotFound(id.to_string())),
            Err(status) if status.code() == Code::NotFound => {
                Err(Error::TenantNotFound(id.to_string()))
            }
            Err(status) => Err(Error::peer("tenants")(status)),
        }
    }

    /// Whether `tenant_id` has accepted an agreement of `kind` (a tenant the tenants service
    /// does not know has accepted nothing).
    async fn has_accepted(
        &self,
        tenant_id: &str,
        kind: agreement::Type,
        deadline: &Deadline,
    ) -> Result<bool> {
        let answer = TenantServiceClient::new(self.deps.tenants.clone())
            .list_agreements(deadline.request(ten::ListAgreementsRequest {
                tenant_id: tenant_id.to_string(),
                page_size: 1,
                page_token: String::new(),
                r#type: kind as i32,
            }))
            .await;
        match answer {
            Ok(response) => Ok(!response.into_inner().agreements.is_empty()),
            Err(status) if status.code() == Code::NotFound => Ok(false),
            Err(status) => Err(Error::peer("tenants")(status)),
        }
    }

    /// The partner may sell to the customer: an active RESELLER relationship of its own, or it
    /// is the indirect provider of an active INDIRECT_RESELLER relationship to the customer.
    async fn check_seller(&self, partner: &str, customer: &str, deadline: &Deadline) -> Result<()> {
        let mut client = RelationshipServiceClient::new(self.deps.relationships.clone());
        let mut page_token = String::new();
        loop {
            let page = client
                .list_relationships(deadline.request(rel::ListRelationshipsRequest {
                    page_size: PEER_PAGE,
                    page_token,
                    partner_tenant_id: String::new(),
                    client_tenant_id: customer.to_string(),
                    r#type: RelationshipType::Unspecified as i32,
                    state: rel::relationship::State::Active as i32,
                }))
                .await
                .map_err(Error::peer("relationships"))?
                .into_inner();
            let sells = page.relationships.iter().any(|r| {
                (r.r#type == RelationshipType::Reseller as i32 && r.partner_tenant_id == partner)
                    || (r.r#type == RelationshipType::IndirectReseller as i32
                        && r.indirect_provider_tenant_id == partner)
            });
            if sells {
                return Ok(());
            }
            if page.next_page_token.is_empty() {
                return Err(Error::NotResellerOfCustomer {
                    partner: partner.to_string(),
                    customer: customer.to_string(),
                });
            }
            page_token = page.next_page_token;
        }
    }

    /// The reseller may be named on the partner's subscriptions: an active INDIRECT_PARTNERSHIP
    /// of the partner (the provider) with it, and it accepted the partner agreement.
    async fn check_reseller(
        &self,
        partner: &str,
        reseller: &str,
        deadline: &Deadline,
    ) -> Result<()> {
        let refused = || Error::ResellerNotInPartnership {
            reseller: reseller.to_string(),
            partner: partner.to_string(),
        };
        // An advisor-sold subscription has no billing partner to be in a partnership with.
        if partner.is_empty() {
            return Err(refused());
        }
        let partnerships = RelationshipServiceClient::new(self.deps.relationships.clone())
            .list_relationships(deadline.request(rel::ListRelationshipsRequest {
                page_size: 1,
                page_token: String::new(),
                partner_tenant_id: partner.to_string(),
                client_tenant_id: reseller.to_string(),
                r#type: RelationshipType::IndirectPartnership as i32,
                state: rel::relationship::State::Active as i32,
            }))
            .await
            .map_err(Error::peer("relationships"))?
            .into_inner()
            .relationships;
        if partnerships.is_empty() {
            return Err(refused());
        }
        if !self
            .has_accepted(reseller, agreement::Type::PartnerAgreement, deadline)
            .await?
        {
            return Err(Error::ResellerAgreementNotAccepted(reseller.to_string()));
        }
        Ok(())
    }

    /// The partner ID belongs to an advisor in the customer's cloud ("Check ID").
    async fn check_partner_of_record(
        &self,
        mpn_id: &str,
        customer_cloud: i32,
        deadline: &Deadline,
    ) -> Result<()> {
        let answer = TenantServiceClient::new(self.deps.tenants.clone())
            .verify_partner_id(deadline.request(ten::VerifyPartnerIdRequest {
                mpn_id: mpn_id.to_string(),
            }))
            .await;
        let partner = match answer {
            Ok(response) => response.into_inner().partner,
            Err(status) if status.code() == Code::NotFound => None,
            Err(status) => return Err(Error::peer("tenants")(status)),
        }
        .ok_or_else(|| Error::PartnerIdNotFound(mpn_id.to_string()))?;
        if !partner
            .partner_types
            .contains(&(PartnerType::Advisor as i32))
        {
            return Err(Error::PartnerNotAdvisor(mpn_id.to_string()));
        }
        if partner.cloud != customer_cloud {
            let name = |c: i32| {
                Cloud::try_from(c)
                    .unwrap_or(Cloud::Unspecified)
                    .as_str_name()
            };
            return Err(Error::PartnerNotInCloud {
                mpn_id: mpn_id.to_string(),
                partner_cloud: name(partner.cloud),
                customer_cloud: name(customer_cloud),
            });
        }
        Ok(())
    }
}

/// The subscriptions an order makes, one per line, in order; `new_id` names each ("" when
/// nothing is written).
fn new_subscriptions(
    order: &NewOrder,
    lines: &[CheckedLine],
    order_id: &str,
    mut new_id: impl FnMut() -> String,
) -> Result<Vec<NewSubscription>> {
    lines
        .iter()
        .map(|line| {
            let offer = line.offer.as_ref().ok_or_else(|| {
                Error::Inconsistent(format!("line item of {} without offer", line.item.offer_id))
            })?;
            Ok(NewSubscription {
                id: new_id(),
                customer_tenant_id: order.customer_tenant_id.clone(),
                billing_partner_tenant_id: order.partner_tenant_id.clone(),
                indirect_reseller_id: order.indirect_reseller_id.clone(),
                support_contact_tenant_id: order.support_contact().to_string(),
                order_id: order_id.to_string(),
                ..NewSubscription::paid(offer, line.item.quantity)
            })
        })
        .collect()
}

/// The line items of an order as the contract has them.
fn line_items_proto(order: &NewOrder) -> Vec<partnerhub_proto::types::LineItem> {
    order
        .line_items
        .iter()
        .map(|i| partnerhub_proto::types::LineItem {
            offer_id: i.offer_id.clone(),
            quantity: i.quantity,
        })
        .collect()
}

/// `before` if a change replaced it, else "".
fn changed_from(before: &str, after: &str) -> String {
    if before != after {
        before.to_string()
    } else {
        String::new()
    }
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
        let deadline = Deadline::of(request.metadata());
        Ok(Response::new(
            self.place_order(request.into_inner(), &deadline).await?,
        ))
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
        let deadline = Deadline::of(request.metadata());
        let subscription = self
            .update_subscription(request.into_inner(), &deadline)
            .await?;
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
        let deadline = Deadline::of(request.metadata());
        let stream = self.watch(request.get_ref(), &deadline).await?;
        Ok(Response::new(Box::pin(stream)))
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
        let deadline = Deadline::of(request.metadata());
        Ok(Response::new(
            self.create_advisor_subscriptions(request.into_inner(), &deadline)
                .await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    //! The writes and their events, on the service's own database (SQLite, or PostgreSQL when
    //! `PARTNERHUB_TEST_DATABASE_URL` names a server). Nothing here asks another service: the
    //! channels lead nowhere.

    use super::*;
    use partnerhub_kit::time::Clock;
    use pb::subscription::State;
    use sqlx::Connection;

    /// Business Basic (worldwide, 1 to 300 licences) in the shipped catalogue.
    const BUSINESS_BASIC: &str = "01a1fc99-ee8a-7d8f-9a4d-a85439c0beee";

    struct TestDb {
        _dir: tempfile::TempDir,
        url: String,
        postgres: Option<(String, String)>,
    }

    impl TestDb {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("temporary folder");
            match std::env::var("PARTNERHUB_TEST_DATABASE_URL") {
                Ok(admin) if !admin.is_empty() => {
                    let name = format!("ph_unit_{}", Uuid::new_v4().simple());
                    let server = admin.rsplit_once('/').map_or(admin.as_str(), |(s, _)| s);
                    TestDb {
                        _dir: dir,
                        url: format!("{server}/{name}"),
                        postgres: Some((admin.clone(), name)),
                    }
                }
                _ => TestDb {
                    url: partnerhub_kit::store::sqlite_url(dir.path(), "subscriptions"),
                    _dir: dir,
                    postgres: None,
                },
            }
        }

        async fn drop_database(self) {
            if let Some((admin, name)) = self.postgres {
                let mut conn = sqlx::postgres::PgConnection::connect(&admin)
                    .await
                    .expect("PostgreSQL");
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .expect("drop the test database");
            }
        }
    }

    fn service(db: Database) -> Subscriptions {
        // Port 9 (discard): nothing answers there, and nothing here asks.
        let nowhere = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
        Subscriptions::new(
            db,
            Deps {
                clock: Clock::default(),
                tenants: nowhere.clone().into(),
                relationships: nowhere.into(),
            },
        )
    }

    async fn events(service: &Subscriptions, id: &str) -> Vec<(i64, String, pb::Subscription)> {
        store::events_of(&mut service.conn().await.expect("conn"), id)
            .await
            .expect("events")
            .iter()
            .map(|e| {
                let event = e.to_proto().expect("a subscription snapshot");
                (
                    e.cursor,
                    e.kind.clone(),
                    event.subscription.expect("snapshot"),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn every_change_writes_one_event_in_its_transaction() {
        let test = TestDb::new();
        let db = crate::open(&test.url).await.expect("open");
        // Opening again (a restart) installs the catalogue again without duplicates.
        let db = {
            db.pool.close().await;
            crate::open(&test.url).await.expect("reopen")
        };
        let service = service(db.clone());
        let offers = service
            .list_offers(&pb::ListOffersRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await
            .expect("ListOffers");
        let shipped = catalogue::parse(catalogue::SHIPPED).expect("catalogue");
        assert_eq!(offers.offers.len(), shipped.len());

        let (customer, partner) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
        let reseller = Uuid::now_v7().to_string();
        let order = NewOrder::parse(&pb::PlaceOrderRequest {
            customer_tenant_id: customer.clone(),
            partner_tenant_id: partner.clone(),
            indirect_reseller_id: reseller.clone(),
            reseller_is_support_contact: true,
            line_items: vec![partnerhub_proto::types::LineItem {
                offer_id: BUSINESS_BASIC.into(),
                quantity: 10,
            }],
            ..Default::default()
        })
        .expect("order");
        let lines = catalogue::check_line_items(
            &mut service.conn().await.expect("conn"),
            &order.line_items,
            Cloud::Worldwide,
            "SE",
        )
        .await
        .expect("check");
        let order_id = service
            .write_order(&order, &lines, "fingerprint")
            .await
            .expect("write the order");
        let placed = service.placed(&order_id).await.expect("placed");
        let id = placed.subscriptions[0].id.clone();

        let update = |mask: &[&str], s: pb::Subscription| pb::UpdateSubscriptionRequest {
            tenant_id: customer.clone(),
            subscription: Some(pb::Subscription {
                id: id.clone(),
                ..s
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: mask.iter().map(|p| p.to_string()).collect(),
            }),
        };
        let none = Deadline::default();
        let changed = service
            .update_subscription(
                update(
                    &["quantity", "auto_renew"],
                    pb::Subscription {
                        quantity: 12,
                        auto_renew: false,
                        ..Default::default()
                    },
                ),
                &none,
            )
            .await
            .expect("update");
        assert_eq!((changed.quantity, changed.auto_renew), (12, false));
        // Nothing changes: nothing is written.
        let same = service
            .update_subscription(
                update(
                    &["quantity"],
                    pb::Subscription {
                        quantity: 12,
                        ..Default::default()
                    },
                ),
                &none,
            )
            .await
            .expect("update to the same");
        assert_eq!(same.etag, changed.etag);
        // A refused change writes nothing.
        let refused = service
            .update_subscription(
                update(
                    &["quantity"],
                    pb::Subscription {
                        quantity: 301,
                        ..Default::default()
                    },
                ),
                &none,
            )
            .await
            .expect_err("301 licences");
        assert_eq!(
            partnerhub_kit::status::Fault::reason(&refused),
            "QUANTITY_OUT_OF_BOUNDS"
        );
        // The customer can't take the reseller off; the billing partner can, and the support
        // contact the reseller was falls back to the billing partner.
        let refused = service
            .update_subscription(
                update(&["indirect_reseller_id"], pb::Subscription::default()),
                &none,
            )
            .await
            .expect_err("the customer");
        assert_eq!(
            partnerhub_kit::status::Fault::reason(&refused),
            "SUBSCRIPTION_CHANGE_NOT_ALLOWED"
        );
        let cleared = service
            .update_subscription(
                pb::UpdateSubscriptionRequest {
                    tenant_id: partner.clone(),
                    ..update(&["indirect_reseller_id"], pb::Subscription::default())
                },
                &none,
            )
            .await
            .expect("clear the reseller");
        assert_eq!(cleared.indirect_reseller_id, "");
        assert_eq!(cleared.support_contact_tenant_id, partner);
        let change = |action| {
            let service = service.clone();
            let (customer, id) = (customer.clone(), id.clone());
            async move {
                service
                    .change_state(
                        ChangeRequest {
                            tenant_id: customer,
                            subscription_id: id,
                            etag: None,
                        },
                        action,
                    )
                    .await
            }
        };
        change(Action::Suspend).await.expect("suspend");
        assert!(change(Action::Suspend).await.is_err());
        change(Action::Reactivate).await.expect("reactivate");
        let cancelled = change(Action::Cancel).await.expect("cancel");

        let rows = store::events_of(&mut service.conn().await.expect("conn"), &id)
            .await
            .expect("events");
        let concerned: Vec<_> = rows
            .iter()
            .map(|e| {
                assert_eq!(e.subscription_id, id);
                assert_eq!(e.billing_partner_tenant_id, partner);
                assert_eq!(e.partner_of_record_mpn_id, "");
                assert_eq!(e.previous_partner_of_record_mpn_id, "");
                (
                    e.indirect_reseller_id.as_str(),
                    e.previous_indirect_reseller_id.as_str(),
                )
            })
            .collect();
        let r = reseller.as_str();
        assert_eq!(
            concerned,
            [
                (r, ""),
                (r, ""),
                (r, ""),
                ("", r),
                ("", ""),
                ("", ""),
                ("", "")
            ]
        );
        let events = events(&service, &id).await;
        let kinds: Vec<_> = events.iter().map(|(_, k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "TYPE_CREATED",
                "TYPE_QUANTITY_CHANGED",
                "TYPE_UPDATED",
                "TYPE_UPDATED",
                "TYPE_SUSPENDED",
                "TYPE_REACTIVATED",
                "TYPE_CANCELLED"
            ]
        );
        assert!(events.windows(2).all(|w| w[0].0 < w[1].0), "cursors grow");
        let states: Vec<_> = events.iter().map(|(_, _, s)| s.state).collect();
        assert_eq!(
            states,
            [
                State::Active,
                State::Active,
                State::Active,
                State::Active,
                State::Suspended,
                State::Active,
                State::Cancelled
            ]
            .map(|s| s as i32)
        );
        assert_eq!(events[0].2.quantity, 10);
        assert_eq!(events[1].2.quantity, 12);
        assert_eq!(events[0].2.support_contact_tenant_id, reseller);
        assert_eq!(events[6].2, cancelled);
        db.pool.close().await;
        test.drop_database().await;
    }

    #[tokio::test]
    async fn a_watch_task_ends_when_its_client_goes_or_the_server_shuts_down() {
        let test = TestDb::new();
        let db = crate::open(&test.url).await.expect("open");
        let nowhere = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
        let shutdown = CancellationToken::new();
        let service = Subscriptions::with_shutdown(
            db.clone(),
            Deps {
                clock: Clock::default(),
                tenants: nowhere.clone().into(),
                relationships: nowhere.into(),
            },
            shutdown.clone(),
        );
        let watcher = Watcher {
            tenant_id: Uuid::now_v7().to_string(),
            mpn_id: String::new(),
        };
        let start = |service: &Subscriptions| {
            let (tx, rx) = mpsc::channel(WATCH_BUFFER);
            let task = tokio::spawn(service.clone().run_watch(
                watcher.clone(),
                0,
                service.events.subscribe(),
                tx,
            ));
            (task, rx)
        };
        let patience = Duration::from_secs(10);
        // The client goes: the task notices while it waits.
        let (task, rx) = start(&service);
        drop(rx);
        tokio::time::timeout(patience, task)
            .await
            .expect("ends when the client goes")
            .expect("task");
        // The server shuts down: the stream says so (the client resumes elsewhere), then ends.
        let (task, mut rx) = start(&service);
        shutdown.cancel();
        tokio::time::timeout(patience, task)
            .await
            .expect("ends at shutdown")
            .expect("task");
        let status = rx.recv().await.expect("a last item").expect_err("a status");
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(rx.recv().await.is_none());
        db.pool.close().await;
        test.drop_database().await;
    }

    #[tokio::test]
    async fn a_trial_past_its_end_is_expired_in_every_read_and_list() {
        const DAY: i64 = 86_400_000_000;
        let test = TestDb::new();
        let db = crate::open(&test.url).await.expect("open");
        let service = service(db.clone());
        let mut conn = service.conn().await.expect("conn");
        let offer = store::offer(&mut conn, BUSINESS_BASIC)
            .await
            .expect("offer")
            .expect("Business Basic");
        let (customer, partner) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
        let now = service.now();
        let trial = |days: i64| NewSubscription {
            id: Uuid::now_v7().to_string(),
            customer_tenant_id: customer.clone(),
            billing_partner_tenant_id: partner.clone(),
            support_contact_tenant_id: partner.clone(),
            state: State::Trial,
            trial_end_time: now + days * DAY,
            ..NewSubscription::paid(&offer, 5)
        };
        let (short, long) = (trial(30), trial(60));
        store::insert_subscription(&mut conn, &short, now)
            .await
            .expect("insert");
        store::insert_subscription(&mut conn, &long, now)
            .await
            .expect("insert");
        drop(conn);
        let list = |state: State| {
            let service = service.clone();
            let customer = customer.clone();
            async move {
                service
                    .list_subscriptions(&pb::ListSubscriptionsRequest {
                        customer_tenant_id: customer,
                        state: state as i32,
                        ..Default::default()
                    })
                    .await
                    .expect("ListSubscriptions")
                    .subscriptions
                    .into_iter()
                    .map(|s| (s.id, s.state))
                    .collect::<Vec<_>>()
            }
        };
        let trial_state = State::Trial as i32;
        let expired_state = State::Expired as i32;
        assert_eq!(
            list(State::Trial).await,
            [
                (short.id.clone(), trial_state),
                (long.id.clone(), trial_state)
            ]
        );
        assert!(list(State::Expired).await.is_empty());

        service
            .deps
            .clock
            .advance(std::time::Duration::from_secs(31 * 86_400));
        assert_eq!(list(State::Trial).await, [(long.id.clone(), trial_state)]);
        assert_eq!(
            list(State::Expired).await,
            [(short.id.clone(), expired_state)]
        );
        assert_eq!(list(State::Unspecified).await.len(), 2);
        let got = service
            .get_subscription(&pb::GetSubscriptionRequest {
                tenant_id: partner.clone(),
                subscription_id: short.id.clone(),
            })
            .await
            .expect("GetSubscription");
        assert_eq!(got.state, expired_state);
        let by = |id: &str| ChangeRequest {
            tenant_id: customer.clone(),
            subscription_id: id.to_string(),
            etag: None,
        };
        let refused = service
            .change_state(by(&short.id), Action::Cancel)
            .await
            .expect_err("an expired trial can't be cancelled");
        assert!(
            matches!(refused, Error::InvalidTransition { current, .. } if current.contains("expired"))
        );
        let ended = service
            .update_subscription(
                pb::UpdateSubscriptionRequest {
                    tenant_id: customer.clone(),
                    subscription: Some(pb::Subscription {
                        id: short.id.clone(),
                        quantity: 6,
                        ..Default::default()
                    }),
                    update_mask: None,
                },
                &Deadline::default(),
            )
            .await
            .expect_err("an expired trial can't change");
        assert!(matches!(ended, Error::SubscriptionEnded(_)));
        // A trial still running can be cancelled.
        let cancelled = service
            .change_state(by(&long.id), Action::Cancel)
            .await
            .expect("cancel a running trial");
        assert_eq!(cancelled.state, State::Cancelled as i32);
        db.pool.close().await;
        test.drop_database().await;
    }
}
