//! Orders: place one (its subscriptions and their events in one transaction), read and list them.

use super::{Subscriptions, record_created, trials};
use crate::catalogue::{self, CheckedLine};
use crate::domain::{NewOrder, Order, OrderFilter, Subscription};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{Written, fingerprint, write_once};
use partnerhub_proto::subscriptions as pb;
use partnerhub_proto::tenants::{agreement, tenant};
use partnerhub_proto::types::Cloud;
use partnerhub_rules::partner::is_partner_id;
use sqlx::AnyConnection;
use uuid::Uuid;

/// The `request_ids` method name of `PlaceOrder`.
pub(super) const PLACE_ORDER: &str = "PlaceOrder";

impl Subscriptions {
    pub(super) async fn place_order(
        &self,
        req: pb::PlaceOrderRequest,
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
        // The reseller as the request names it, resolved once: one named by its partner ID is
        // resolved to its tenant first; one named by its tenant id has its partner ID read
        // alongside the checks below (no extra wait on the way).
        let by_partner_id = is_partner_id(&order.indirect_reseller_id);
        let (reseller, reseller_mpn_id) = if by_partner_id {
            self.reseller_named(&order.indirect_reseller_id).await?
        } else {
            (order.indirect_reseller_id.clone(), String::new())
        };
        let order = order.with_reseller(reseller, reseller_mpn_id)?;
        // The customer, whether the partner may sell to it (and through the reseller), and
        // its agreement: asked at once, judged in that order.
        // A reseller named by tenant id is read with the customer, in one call.
        let reseller_to_read = if by_partner_id {
            ""
        } else {
            order.indirect_reseller_id.as_str()
        };
        let (read, seller, accepted) = tokio::join!(
            self.customer_and_reseller(&order.customer_tenant_id, reseller_to_read),
            self.check_seller(
                &order.partner_tenant_id,
                &order.customer_tenant_id,
                &order.indirect_reseller_id,
            ),
            self.has_accepted(
                &order.customer_tenant_id,
                agreement::Type::CustomerAgreement
            ),
        );
        let (customer, read_mpn_id) = read?;
        let reseller_mpn_id: Result<String> = Ok(if by_partner_id {
            order.indirect_reseller_mpn_id.clone()
        } else {
            read_mpn_id
        });
        if customer.kind != tenant::Kind::Customer as i32 {
            return Err(Error::NotACustomer(order.customer_tenant_id));
        }
        seller?;
        if !accepted? {
            return Err(Error::AgreementNotAccepted(order.customer_tenant_id));
        }
        let order = NewOrder {
            indirect_reseller_mpn_id: reseller_mpn_id?,
            ..order
        };
        // 5. The line items.
        let cloud = Cloud::try_from(customer.cloud).unwrap_or(Cloud::Unspecified);
        let lines = catalogue::check_line_items(
            &mut *self.conn().await?,
            &order.line_items,
            cloud,
            &customer.country_code,
        )
        .await?;
        catalogue::refuse_problems(&lines)?;
        // Seed 000: a partner of record named "when you buy", verified as SetPartnerOfRecord
        // verifies it; the first line's refusal is the answer.
        if let Some((_, refusal)) = self
            .partner_of_record_refusals(&order.line_items, customer.cloud)
            .await?
            .into_iter()
            .next()
        {
            return Err(refusal);
        }
        if order.validate_only {
            let now = self.now();
            let subscriptions = new_subscriptions(&order, &lines, "", now, String::new)?;
            return Ok(pb::PlaceOrderResponse {
                order: Some(Order::placed(&order, String::new(), Vec::new(), now).to_proto()),
                subscriptions: subscriptions.iter().map(|s| s.to_proto(now)).collect(),
            });
        }
        let written = write_once(
            &self.db,
            PLACE_ORDER,
            order.request_id,
            &fingerprint,
            async |tx| self.write_order(tx, &order, &lines).await,
        )
        .await?;
        if let Written::New(_) = written {
            self.events_committed();
        }
        let id = written.resource();
        self.placed(&id).await
    }

    /// Writes the order, its subscriptions and their CREATED events in `tx`; returns the
    /// order's id.
    pub(super) async fn write_order(
        &self,
        tx: &mut AnyConnection,
        order: &NewOrder,
        lines: &[CheckedLine],
    ) -> Result<String> {
        store::lock_events(tx).await?;
        let now = self.now();
        let id = Uuid::now_v7().to_string();
        let subscriptions =
            new_subscriptions(order, lines, &id, now, || Uuid::now_v7().to_string())?;
        let ids: Vec<String> = subscriptions.iter().map(|s| s.id.clone()).collect();
        store::insert_order(tx, &Order::placed(order, id.clone(), ids.clone(), now)).await?;
        for s in &subscriptions {
            store::insert_subscription(tx, s).await?;
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
            let open = store::open_trials(tx, &order.customer_tenant_id, offer).await?;
            trials::end_trials(tx, &open, now).await?;
        }
        record_created(tx, &ids, now).await?;
        Ok(id)
    }

    /// The answer to a placed order: the order and its subscriptions as they are now.
    pub(super) async fn placed(&self, id: &str) -> Result<pb::PlaceOrderResponse> {
        self.sweep().await?;
        let now = self.now();
        let mut conn = self.conn().await?;
        let order = store::order(&mut conn, id).await?.ok_or_else(|| {
            Error::inconsistent(format!("{PLACE_ORDER} made order {id}, now missing"))
        })?;
        let mut subscriptions = Vec::new();
        for s in &order.subscription_ids {
            let subscription = store::subscription(&mut conn, s)
                .await?
                .ok_or_else(|| Error::inconsistent(format!("order {id} names {s}, now missing")))?;
            subscriptions.push(subscription.to_proto(now));
        }
        Ok(pb::PlaceOrderResponse {
            order: Some(order.to_proto()),
            subscriptions,
        })
    }

    pub(super) async fn get_order(&self, req: &pb::GetOrderRequest) -> Result<pb::Order> {
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let id = v.take(fields::id("order_id", &req.order_id));
        let (tenant_id, id) = v.done(tenant_id.zip(id))?;
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        let Some(order) = store::order(&mut *self.conn().await?, &id).await? else {
            return Err(Error::OrderNotFound(id));
        };
        if order.is_visible_to(&tenant_id)
            || order.is_made_by_any_of(
                &self
                    .mpsa_partners_seen_by(&order.customer_tenant_id, &tenant_id)
                    .await?,
            )
        {
            return Ok(order.to_proto());
        }
        Err(Error::OrderNotFound(id))
    }

    pub(super) async fn list_orders(
        &self,
        req: &pb::ListOrdersRequest,
    ) -> Result<pb::ListOrdersResponse> {
        let mut v = Violations::new();
        let filter = v.take(OrderFilter::parse(req));
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "orders",
            &[
                &req.customer_tenant_id,
                &req.partner_tenant_id,
                &req.mpsa_partner_tenant_id,
            ],
        ));
        let (mut filter, page) = v.done(filter.zip(page))?;
        filter.made_by = self
            .mpsa_made_by(&filter.customer_tenant_id, &filter.mpsa_partner_tenant_id)
            .await?;
        let orders = store::list_orders(&mut *self.conn().await?, &filter, &page).await?;
        let (orders, next_page_token) = page.finish(orders, |o| o.id.clone());
        Ok(pb::ListOrdersResponse {
            orders: orders.iter().map(Order::to_proto).collect(),
            next_page_token,
        })
    }
}

/// The subscriptions an order makes at `now`, one per line, in order; `new_id` names each (""
/// when nothing is written).
fn new_subscriptions(
    order: &NewOrder,
    lines: &[CheckedLine],
    order_id: &str,
    now: i64,
    mut new_id: impl FnMut() -> String,
) -> Result<Vec<Subscription>> {
    lines
        .iter()
        .map(|line| Ok(order.subscription(new_id(), order_id, line.bought()?, &line.item, now)))
        .collect()
}
