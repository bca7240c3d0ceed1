//! The contract's messages for the domain's types: how an offer, an order, a subscription, an
//! event and a line item problem go out on the wire. Requests come in through the domain's
//! `parse` functions.

use crate::domain::{
    self, Event, LicenseAssignment, LineItem, Offer, Order, Price, Problem, Subscription,
};
use partnerhub_kit::fields;
use partnerhub_kit::time::{optional_timestamp, timestamp};
use partnerhub_proto::subscriptions as pb;
use partnerhub_proto::types;
use prost::Message;

impl Price {
    pub fn to_proto(&self) -> types::Money {
        types::Money {
            currency_code: self.currency_code.clone(),
            units: self.units,
            nanos: self.nanos,
        }
    }
}

impl Offer {
    pub fn to_proto(&self) -> pb::Offer {
        let s = &self.spec;
        pb::Offer {
            id: self.id.clone(),
            cloud: s.cloud as i32,
            display_name: s.display_name.clone(),
            description: s.description.clone(),
            min_quantity: s.min_quantity,
            max_quantity: s.max_quantity,
            trial_available: s.trial_available,
            trial_days: s.trial_days,
            unit_price: Some(s.unit_price.to_proto()),
            country_codes: s.country_codes.clone(),
            create_time: Some(timestamp(self.create_time)),
            terms: s.terms.iter().map(|t| t.to_proto()).collect(),
            upgrade_offer_ids: s.upgrade_offer_ids.clone(),
        }
    }
}

impl LineItem {
    pub fn to_proto(&self) -> types::LineItem {
        types::LineItem {
            offer_id: self.offer_id.clone(),
            quantity: self.quantity,
            partner_of_record_mpn_id: self.partner_of_record_mpn_id.clone(),
            term_duration: self.term.duration.map_or(0, |d| d as i32),
            billing_cycle: self.term.billing_cycle.map_or(0, |c| c as i32),
        }
    }
}

impl Problem {
    pub fn to_proto(&self) -> pb::LineItemProblem {
        pb::LineItemProblem {
            field: self.field.clone(),
            description: self.description.clone(),
            reason: self.reason.to_string(),
            code: tonic::Code::InvalidArgument as i32,
        }
    }
}

impl Order {
    pub fn to_proto(&self) -> pb::Order {
        pb::Order {
            id: self.id.clone(),
            customer_tenant_id: self.customer_tenant_id.clone(),
            partner_tenant_id: self.partner_tenant_id.clone(),
            indirect_reseller_id: self.indirect_reseller_id.clone(),
            line_items: self.line_items.iter().map(LineItem::to_proto).collect(),
            subscription_ids: self.subscription_ids.clone(),
            create_time: Some(timestamp(self.create_time)),
        }
    }
}

impl Subscription {
    /// The subscription as a reader sees it at `now` (a trial past its end has expired, a term
    /// past its end renewed or expired).
    pub fn to_proto(&self, now: i64) -> pb::Subscription {
        let (term_start, term_end) = self.term_at(now);
        let term_time = |t: i64| (self.term.is_some() && t != 0).then(|| timestamp(t));
        pb::Subscription {
            id: self.id.clone(),
            customer_tenant_id: self.customer_tenant_id.clone(),
            offer_id: self.offer_id.clone(),
            offer_display_name: self.offer_display_name.clone(),
            quantity: self.quantity,
            state: self.state_at(now) as i32,
            auto_renew: self.auto_renew,
            billing_partner_tenant_id: self.billing_partner_tenant_id.clone(),
            indirect_reseller_id: self.indirect_reseller_id.clone(),
            indirect_reseller_mpn_id: self.indirect_reseller_mpn_id.clone(),
            partner_of_record_mpn_id: self.partner_of_record_mpn_id.clone(),
            support_contact_tenant_id: self.support_contact_tenant_id.clone(),
            order_id: self.order_id.clone(),
            trial_end_time: optional_timestamp(self.trial_end_time),
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            // A draft is not stored: it has no version to name.
            etag: if self.version == 0 {
                String::new()
            } else {
                fields::etag_of(self.version)
            },
            assigned_licenses: self.assigned_licenses,
            available_licenses: self.available_licenses(now),
            term_duration: self.term.map_or(0, |t| t.duration as i32),
            billing_cycle: self.term.map_or(0, |t| t.billing_cycle as i32),
            term_start_time: term_time(term_start),
            term_end_time: term_time(term_end),
        }
    }
}

impl LicenseAssignment {
    /// The assignment as a reader sees it at `now`: usable or not by its subscription's state.
    pub fn to_proto(&self, now: i64) -> pb::LicenseAssignment {
        let state = domain::state_at(self.subscription_state, self.trial_end_time, now);
        pb::LicenseAssignment {
            subscription_id: self.subscription_id.clone(),
            user_id: self.user_id.clone(),
            customer_tenant_id: self.customer_tenant_id.clone(),
            offer_id: self.offer_id.clone(),
            offer_display_name: self.offer_display_name.clone(),
            state: domain::license_state(state) as i32,
            create_time: Some(timestamp(self.create_time)),
        }
    }
}

impl Event {
    /// The event as `WatchSubscriptionEvents` sends it; an error if its stored subscription
    /// does not decode.
    pub fn to_proto(&self) -> Result<pb::SubscriptionEvent, prost::DecodeError> {
        Ok(pb::SubscriptionEvent {
            cursor: crate::domain::encode_cursor(self.cursor),
            r#type: self.kind as i32,
            subscription: Some(pb::Subscription::decode(self.subscription.as_slice())?),
            event_time: Some(timestamp(self.event_time)),
        })
    }
}

impl crate::domain::ProductKey {
    /// The key as the contract shows it, with its value only when `value` is given (the first
    /// answer of `CreateProductKeys`).
    pub fn to_proto(&self, value: Option<&str>) -> pb::ProductKey {
        let redeemed = self.redemption.as_ref();
        pb::ProductKey {
            id: self.id.clone(),
            key: value.unwrap_or_default().to_string(),
            offer_id: self.offer_id.clone(),
            quantity: self.quantity,
            country_code: self.country_code.clone(),
            create_time: Some(timestamp(self.create_time)),
            subscription_id: redeemed
                .map(|r| r.subscription_id.clone())
                .unwrap_or_default(),
            redeem_time: redeemed.map(|r| timestamp(r.redeem_time)),
        }
    }
}
