//! Seed 001's "Hitta en partner": a customer asks partners it found to contact it
//! (`ContactPartners`), each partner lists the requests sent to it (`ListContactRequests`) and
//! answers with an invitation. The requests parsed, and the rule that keeps the form from being
//! used to spam partners: a daily limit per customer.

use super::{Contact, contact};
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::tenants as pb;
use std::time::{Duration, SystemTime};
use uuid::Uuid;

/// The most partners one request names.
pub const MAX_PARTNERS: usize = 10;
/// The longest description of the customer's needs.
pub const MAX_NEEDS_CHARS: usize = 2000;
/// The window the daily limit counts in.
pub const LIMIT_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// How much one customer may ask in [`LIMIT_WINDOW`]: a setting (`--contact-requests-per-day`,
/// `--contact-partners-per-day`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactLimit {
    /// `ContactPartners` calls.
    pub requests: u32,
    /// Partners contacted, all calls together.
    pub partners: u32,
}

impl Default for ContactLimit {
    /// Enough for a customer comparing a few partners, a few times a day; too little to spam.
    fn default() -> Self {
        ContactLimit {
            requests: 5,
            partners: 10,
        }
    }
}

/// What a customer sent in the window before now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentLately {
    pub requests: u32,
    pub partners: u32,
    /// When the oldest of them was sent (`None`: nothing was).
    pub oldest: Option<SystemTime>,
}

impl ContactLimit {
    /// How long a customer that sent `sent` waits before it may contact `more` partners at
    /// `now`; `None` when it may now. The wait ends when the oldest request leaves the window
    /// (enough room may free up only later: the answer then is asked again).
    pub fn wait(&self, sent: SentLately, more: usize, now: SystemTime) -> Option<Duration> {
        let more = u32::try_from(more).unwrap_or(u32::MAX);
        let over = sent.requests.saturating_add(1) > self.requests
            || sent.partners.saturating_add(more) > self.partners;
        if !over {
            return None;
        }
        let frees_at = sent.oldest.map_or(now, |t| t + LIMIT_WINDOW);
        Some(
            frees_at
                .duration_since(now)
                .unwrap_or_default()
                .max(Duration::from_secs(1)),
        )
    }
}

/// A `ContactPartners`, parsed (the partners not yet known to be listed ones).
#[derive(Debug, Clone)]
pub struct NewContactRequest {
    pub customer_tenant_id: String,
    /// As named, each once.
    pub partner_tenant_ids: Vec<String>,
    pub needs: String,
    pub contact: Contact,
    pub request_id: Option<Uuid>,
}

impl NewContactRequest {
    pub fn parse(req: &pb::ContactPartnersRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let customer = v.take(fields::id("customer_tenant_id", &req.customer_tenant_id));
        if req.partner_tenant_ids.is_empty() || req.partner_tenant_ids.len() > MAX_PARTNERS {
            v.add(
                "partner_tenant_ids",
                format!("must name 1 to {MAX_PARTNERS} partners"),
            );
        }
        let mut partners: Vec<String> = Vec::with_capacity(req.partner_tenant_ids.len());
        for (i, raw) in req.partner_tenant_ids.iter().enumerate() {
            let field = format!("partner_tenant_ids[{i}]");
            let Some(id) = v.take(fields::id(&field, raw)).map(|id| id.to_string()) else {
                continue;
            };
            if partners.contains(&id) {
                v.add(
                    field,
                    "repeats a partner named before; name each partner once",
                );
            } else if customer.is_some_and(|c| c.to_string() == id) {
                v.add(field, "is the customer itself");
            } else {
                partners.push(id);
            }
        }
        let needs = v.take(fields::text("needs", &req.needs, MAX_NEEDS_CHARS));
        let contact = v.take(contact("contact", req.contact.as_ref()));
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        v.check()?;
        match (customer, needs, contact) {
            (Some(customer), Some(needs), Some(contact)) => Ok(NewContactRequest {
                customer_tenant_id: customer.to_string(),
                partner_tenant_ids: partners,
                needs,
                contact,
                request_id,
            }),
            _ => Err(Violations::one("request", "is incomplete")),
        }
    }

    /// The copy partner `partner_tenant_id` gets, sent at `now` as part of `group_id`.
    pub fn to(
        &self,
        id: String,
        group_id: &str,
        partner_tenant_id: &str,
        now: SystemTime,
    ) -> ContactRequest {
        ContactRequest {
            id,
            group_id: group_id.to_string(),
            customer_tenant_id: self.customer_tenant_id.clone(),
            customer_display_name: String::new(),
            partner_tenant_id: partner_tenant_id.to_string(),
            needs: self.needs.clone(),
            contact: self.contact.clone(),
            invitation_id: String::new(),
            create_time: now,
            answer_time: None,
        }
    }
}

/// One partner's copy of a customer's request to be contacted.
#[derive(Debug, Clone)]
pub struct ContactRequest {
    pub id: String,
    /// The `ContactPartners` call that sent it (one per call, shared by its copies).
    pub group_id: String,
    pub customer_tenant_id: String,
    /// As the customer is named now (read with the request).
    pub customer_display_name: String,
    pub partner_tenant_id: String,
    pub needs: String,
    pub contact: Contact,
    /// The invitation that answered it; "" until one does.
    pub invitation_id: String,
    pub create_time: SystemTime,
    pub answer_time: Option<SystemTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(requests: u32, partners: u32, hours_ago: u64, now: SystemTime) -> SentLately {
        SentLately {
            requests,
            partners,
            oldest: Some(now - Duration::from_secs(hours_ago * 3600)),
        }
    }

    #[test]
    fn a_customer_waits_when_either_daily_count_would_be_passed() {
        let limit = ContactLimit::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(limit.wait(sent(0, 0, 0, now), 10, now), None);
        assert_eq!(limit.wait(sent(4, 8, 3, now), 2, now), None);
        // A sixth call, or an eleventh partner: wait until the oldest is a day old.
        let wait = limit
            .wait(sent(5, 5, 3, now), 1, now)
            .expect("too many calls");
        assert_eq!(wait, Duration::from_secs(21 * 3600));
        assert!(limit.wait(sent(1, 9, 3, now), 2, now).is_some());
        assert!(limit.wait(sent(0, 0, 0, now), 11, now).is_some());
    }
}
