//! Product keys (seed 002): the operator issues them for an offer, a partner redeems one for a
//! customer. The requests parsed, and the rules: what a batch may be, and whether a key fits a
//! customer. How a key's value is made and kept is [`crate::product_key`].

use super::{
    LineItem, OFFER_NOT_IN_CLOUD, OFFER_NOT_IN_COUNTRY, Offer, TermChoice, quantity_out_of_bounds,
};
use crate::error::Error;
use crate::product_key;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::subscriptions as pb;
use partnerhub_proto::types::Cloud;
use partnerhub_rules::country;
use uuid::Uuid;

/// The most keys one `CreateProductKeys` issues.
pub const MAX_KEYS: i32 = 1000;

/// A `CreateProductKeys`, parsed (the offer not yet known to exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProductKeys {
    pub offer_id: String,
    pub count: usize,
    pub quantity: i32,
    /// "" for any of the offer's countries.
    pub country_code: String,
    pub request_id: Option<Uuid>,
}

impl NewProductKeys {
    pub fn parse(req: &pb::CreateProductKeysRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let offer = v.take(fields::id("offer_id", &req.offer_id));
        let count = usize::try_from(req.count)
            .ok()
            .filter(|n| (1..=MAX_KEYS as usize).contains(n));
        if count.is_none() {
            v.add(
                "count",
                format!("must be 1 to {MAX_KEYS} (was {})", req.count),
            );
        }
        if req.quantity < 1 {
            v.add("quantity", "must be at least 1 licence");
        }
        let country_code = v.take(country::optional_code("country_code", &req.country_code));
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        v.check()?;
        match (offer, count, country_code) {
            (Some(offer), Some(count), Some(country_code)) => Ok(NewProductKeys {
                offer_id: offer.to_string(),
                count,
                quantity: req.quantity,
                country_code,
                request_id,
            }),
            _ => Err(Violations::one("request", "is incomplete")),
        }
    }

    /// The batch fits its offer: the licences within the offer's bounds, the country one the
    /// offer is sold in.
    pub fn check_offer(&self, offer: &Offer) -> Result<(), Error> {
        if let Some(description) = quantity_out_of_bounds(self.quantity, &offer.spec) {
            return Err(Error::Rejected {
                reason: super::QUANTITY_OUT_OF_BOUNDS,
                violations: Violations::one("quantity", description),
            });
        }
        if !self.country_code.is_empty() && !offer.spec.sold_in_country(&self.country_code) {
            return Err(Error::Rejected {
                reason: OFFER_NOT_IN_COUNTRY,
                violations: Violations::one(
                    "country_code",
                    format!(
                        "{} is not sold in {}; it is sold in {}",
                        offer.spec.display_name,
                        self.country_code,
                        offer.spec.country_codes.join(", ")
                    ),
                ),
            });
        }
        Ok(())
    }

    /// The key `id` of batch `batch_id`, stored by the hash of its value, issued at `now`.
    pub fn key(&self, id: String, batch_id: &str, key_hash: String, now: i64) -> ProductKey {
        ProductKey {
            id,
            batch_id: batch_id.to_string(),
            key_hash,
            offer_id: self.offer_id.clone(),
            quantity: self.quantity,
            country_code: self.country_code.clone(),
            create_time: now,
            redemption: None,
        }
    }
}

/// An issued key (its value is never kept: only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductKey {
    pub id: String,
    /// The `CreateProductKeys` call that issued it.
    pub batch_id: String,
    pub key_hash: String,
    pub offer_id: String,
    pub quantity: i32,
    /// "" for any of the offer's countries.
    pub country_code: String,
    pub create_time: i64,
    /// `None` until redeemed.
    pub redemption: Option<KeyRedeemed>,
}

/// What redeeming a key made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRedeemed {
    pub partner_tenant_id: String,
    pub customer_tenant_id: String,
    pub order_id: String,
    pub subscription_id: String,
    pub redeem_time: i64,
}

impl ProductKey {
    /// The order line the key buys.
    pub fn line_item(&self) -> LineItem {
        LineItem {
            offer_id: self.offer_id.clone(),
            quantity: self.quantity,
            partner_of_record_mpn_id: String::new(),
            term: TermChoice::default(),
        }
    }

    /// Why a customer in `cloud` and `country` can't have the key's subscription of `offer`,
    /// if it can't: the offer is sold in another cloud, or the key (or its offer) in other
    /// countries. Answered as an order's line is for the same facts (INVALID_ARGUMENT with the
    /// same reason), naming the key as the field at fault.
    pub fn refusal_for(&self, offer: &Offer, cloud: Cloud, country: &str) -> Option<Error> {
        let spec = &offer.spec;
        if spec.cloud != cloud {
            return Some(not_for_customer(
                OFFER_NOT_IN_CLOUD,
                format!(
                    "the key is for {}, sold in {}, not in the customer's {}",
                    spec.display_name,
                    spec.cloud.as_str_name(),
                    cloud.as_str_name()
                ),
            ));
        }
        let sold_in = if self.country_code.is_empty() {
            spec.sold_in_country(country)
        } else {
            self.country_code == country
        };
        if !sold_in {
            let countries = if self.country_code.is_empty() {
                spec.country_codes.join(", ")
            } else {
                self.country_code.clone()
            };
            return Some(not_for_customer(
                OFFER_NOT_IN_COUNTRY,
                format!(
                    "the key is sold for use in {countries}, not in the customer's country \
                     {country}"
                ),
            ));
        }
        None
    }
}

/// A key that doesn't fit the customer, for `reason`.
fn not_for_customer(reason: &'static str, why: String) -> Error {
    Error::Rejected {
        reason,
        violations: Violations::one("product_key", why),
    }
}

/// A `RedeemProductKey`, parsed: the key as the hash it is stored by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRedemption {
    pub partner_tenant_id: String,
    pub customer_tenant_id: String,
    pub key_hash: String,
    pub request_id: Option<Uuid>,
}

impl KeyRedemption {
    pub fn parse(req: &pb::RedeemProductKeyRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let customer = v.take(fields::id("customer_tenant_id", &req.customer_tenant_id));
        let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
        if customer.is_some() && customer == partner {
            v.add("partner_tenant_id", "must differ from customer_tenant_id");
        }
        let key_hash = product_key::hash(&req.product_key);
        if key_hash.is_none() {
            v.add(
                "product_key",
                "must be a product key: 25 letters and digits in five groups of five, like \
                 7K3QD-M2XWP-9HTRV-C4N8B-ZJ6FY",
            );
        }
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        v.check()?;
        match (customer, partner, key_hash) {
            (Some(customer), Some(partner), Some(key_hash)) => Ok(KeyRedemption {
                partner_tenant_id: partner.to_string(),
                customer_tenant_id: customer.to_string(),
                key_hash,
                request_id,
            }),
            _ => Err(Violations::one("request", "is incomplete")),
        }
    }
}
