//! Product keys (seed 002): the operator issues them (`CreateProductKeys`), a partner redeems
//! one for a customer (`RedeemProductKey`, the gateway's workflow of that name): the key marked
//! used and the subscription (with its order and CREATED event) written in one transaction.

use super::Subscriptions;
use crate::catalogue::CheckedLine;
use crate::domain::{KeyRedeemed, KeyRedemption, NewOrder, NewProductKeys, ProductKey};
use crate::error::{Error, Result};
use crate::product_key;
use crate::store::{self, product_keys};
use partnerhub_kit::store::{Written, fingerprint, write_once};
use partnerhub_proto::subscriptions as pb;
use partnerhub_proto::tenants::{agreement, tenant};
use partnerhub_proto::types::Cloud;
use uuid::Uuid;

/// The `request_ids` method names.
const CREATE_PRODUCT_KEYS: &str = "CreateProductKeys";
const REDEEM_PRODUCT_KEY: &str = "RedeemProductKey";

impl Subscriptions {
    pub(super) async fn create_product_keys(
        &self,
        req: pb::CreateProductKeysRequest,
    ) -> Result<pb::CreateProductKeysResponse> {
        let new = NewProductKeys::parse(&req)?;
        let fingerprint = fingerprint(&pb::CreateProductKeysRequest {
            request_id: String::new(),
            ..req
        });
        // A retry answers the keys the first call issued, without their values: they were
        // shown once and only their hashes were kept.
        if let Some(batch) = self
            .seen(CREATE_PRODUCT_KEYS, new.request_id, &fingerprint)
            .await?
        {
            return self.issued(&batch).await;
        }
        let offer = store::offer(&mut *self.conn().await?, &new.offer_id)
            .await?
            .ok_or_else(|| Error::OfferNotFound(new.offer_id.clone()))?;
        new.check_offer(&offer)?;
        let now = self.now();
        let batch = Uuid::now_v7().to_string();
        let keys: Vec<(String, ProductKey)> = (0..new.count)
            .map(|_| {
                let value = product_key::generate();
                let hash = product_key::hash(&value).unwrap_or_default();
                let key = new.key(Uuid::now_v7().to_string(), &batch, hash, now);
                (value, key)
            })
            .collect();
        let written = write_once(
            &self.db,
            CREATE_PRODUCT_KEYS,
            new.request_id,
            &fingerprint,
            async |tx| {
                for (_, key) in &keys {
                    product_keys::insert(tx, key).await?;
                }
                Ok::<_, Error>(batch.clone())
            },
        )
        .await?;
        match written {
            Written::New(_) => Ok(pb::CreateProductKeysResponse {
                product_keys: keys
                    .iter()
                    .map(|(value, key)| key.to_proto(Some(value)))
                    .collect(),
            }),
            Written::Earlier(batch) => self.issued(&batch).await,
        }
    }

    /// The keys of an earlier `CreateProductKeys`, as they are now, without their values.
    async fn issued(&self, batch: &str) -> Result<pb::CreateProductKeysResponse> {
        let keys = product_keys::batch(&mut *self.conn().await?, batch).await?;
        Ok(pb::CreateProductKeysResponse {
            product_keys: keys.iter().map(|k| k.to_proto(None)).collect(),
        })
    }

    pub(super) async fn redeem_product_key(
        &self,
        req: pb::RedeemProductKeyRequest,
    ) -> Result<pb::RedeemProductKeyResponse> {
        let redemption = KeyRedemption::parse(&req)?;
        let fingerprint = fingerprint(&pb::RedeemProductKeyRequest {
            request_id: String::new(),
            ..req
        });
        // A retry of a redemption answers what it made, even though the key is used now.
        if let Some(order) = self
            .seen(REDEEM_PRODUCT_KEY, redemption.request_id, &fingerprint)
            .await?
        {
            return self.redeemed(&order).await;
        }
        let key = product_keys::by_hash(&mut *self.conn().await?, &redemption.key_hash)
            .await?
            .ok_or(Error::ProductKeyNotFound)?;
        if key.redemption.is_some() {
            return Err(Error::ProductKeyAlreadyRedeemed);
        }
        let order = NewOrder {
            customer_tenant_id: redemption.customer_tenant_id.clone(),
            partner_tenant_id: redemption.partner_tenant_id.clone(),
            indirect_reseller_id: String::new(),
            indirect_reseller_mpn_id: String::new(),
            line_items: vec![key.line_item()],
            reseller_is_support_contact: false,
            validate_only: false,
            request_id: redemption.request_id,
        };
        let line = self.key_line(&key, &order).await?;
        let written = write_once(
            &self.db,
            REDEEM_PRODUCT_KEY,
            redemption.request_id,
            &fingerprint,
            async |tx| {
                let order_id = self
                    .write_order(tx, &order, std::slice::from_ref(&line))
                    .await?;
                let subscription_id = store::order(tx, &order_id)
                    .await?
                    .and_then(|o| o.subscription_ids.into_iter().next())
                    .ok_or_else(|| Error::inconsistent(format!("order {order_id} not written")))?;
                let made = KeyRedeemed {
                    partner_tenant_id: order.partner_tenant_id.clone(),
                    customer_tenant_id: order.customer_tenant_id.clone(),
                    order_id: order_id.clone(),
                    subscription_id,
                    redeem_time: self.now(),
                };
                // Another redemption of the key committed since it was read: this one is
                // refused and its order rolled back.
                if !product_keys::redeem(tx, &key.id, &made).await? {
                    return Err(Error::ProductKeyAlreadyRedeemed);
                }
                Ok(order_id)
            },
        )
        .await?;
        if let Written::New(_) = written {
            self.events_committed();
        }
        self.redeemed(&written.resource()).await
    }

    /// The order line `key` buys for the order's customer, after the checks an order gets: the
    /// customer exists, the partner may sell to it (the relationships service's rule, as for
    /// `PlaceOrder`), it accepted the customer agreement, and the key fits its cloud and
    /// country.
    async fn key_line(&self, key: &ProductKey, order: &NewOrder) -> Result<CheckedLine> {
        let (customer, seller, accepted) = tokio::join!(
            self.tenant(&order.customer_tenant_id),
            self.check_seller(&order.partner_tenant_id, &order.customer_tenant_id, ""),
            self.has_accepted(
                &order.customer_tenant_id,
                agreement::Type::CustomerAgreement
            ),
        );
        let customer = customer?;
        if customer.kind != tenant::Kind::Customer as i32 {
            return Err(Error::NotACustomer(order.customer_tenant_id.clone()));
        }
        seller?;
        if !accepted? {
            return Err(Error::AgreementNotAccepted(
                order.customer_tenant_id.clone(),
            ));
        }
        let offer = store::offer(&mut *self.conn().await?, &key.offer_id)
            .await?
            .ok_or_else(|| Error::inconsistent(format!("key {} of no offer", key.id)))?;
        let cloud = Cloud::try_from(customer.cloud).unwrap_or(Cloud::Unspecified);
        if let Some(refusal) = key.refusal_for(&offer, cloud, &customer.country_code) {
            return Err(refusal);
        }
        // A key's subscription is on the offer's first term, as a line item that names none.
        let item = key.line_item();
        let term = item.term.pick("", &offer.spec).ok();
        Ok(CheckedLine {
            item,
            offer: Some(offer),
            term,
            problems: Vec::new(),
        })
    }

    /// The answer to a redemption: its order and subscription as they are now.
    async fn redeemed(&self, order: &str) -> Result<pb::RedeemProductKeyResponse> {
        let placed = self.placed(order).await?;
        Ok(pb::RedeemProductKeyResponse {
            order: placed.order,
            subscription: placed.subscriptions.into_iter().next(),
        })
    }
}
