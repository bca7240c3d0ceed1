//! Service requests and their rules: what a new request must hold, who sees a request, how a
//! note and a close move it along.

use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::support as pb;

pub use pb::service_request::{Severity, State};

/// The longest title.
const MAX_TITLE: usize = 200;
/// The longest description, note or resolution.
pub const MAX_TEXT: usize = 4000;

/// A stored service request, with its subscription's support contact as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    pub id: String,
    pub customer_tenant_id: String,
    /// "" for a request about the tenant.
    pub subscription_id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub state: State,
    pub contact_email: String,
    pub contact_phone: String,
    /// The partner that opened it for the customer; "" when the customer did.
    pub acting_partner_tenant_id: String,
    pub creator_user_id: String,
    /// The subscription's designated support contact, read with the request ("" for none).
    pub support_contact_tenant_id: String,
    pub resolution: String,
    pub closer_tenant_id: String,
    pub create_time: i64,
    pub update_time: i64,
    pub close_time: Option<i64>,
    pub version: i64,
}

/// A note on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: String,
    pub service_request_id: String,
    pub author_tenant_id: String,
    pub author_user_id: String,
    pub text: String,
    pub create_time: i64,
}

/// A request to open, as `CreateServiceRequest` names it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServiceRequest {
    pub customer_tenant_id: String,
    pub subscription_id: Option<String>,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub contact_email: String,
    pub contact_phone: String,
}

impl NewServiceRequest {
    /// Parses `service_request`, naming every bad field (`service_request.title`, ...).
    pub fn parse(request: Option<&pb::ServiceRequest>) -> Result<Self, Violations> {
        let Some(r) = request else {
            return Err(Violations::one("service_request", "is required"));
        };
        let mut v = Violations::new();
        let customer = v.take(fields::id(
            "service_request.customer_tenant_id",
            &r.customer_tenant_id,
        ));
        let subscription = v.take(fields::optional_id(
            "service_request.subscription_id",
            &r.subscription_id,
        ));
        let title = v.take(fields::text("service_request.title", &r.title, MAX_TITLE));
        let description = v.take(fields::paragraphs(
            "service_request.description",
            &r.description,
            MAX_TEXT,
        ));
        let severity = v.take(severity("service_request.severity", r.severity));
        let email = v.take(fields::optional_email(
            "service_request.contact_email",
            &r.contact_email,
        ));
        let phone = v.take(fields::optional_phone(
            "service_request.contact_phone",
            &r.contact_phone,
        ));
        let parsed = customer
            .zip(subscription)
            .zip(title.zip(description))
            .zip(severity.zip(email.zip(phone)));
        let (((customer, subscription), (title, description)), (severity, (email, phone))) =
            v.done(parsed)?;
        Ok(NewServiceRequest {
            customer_tenant_id: customer.to_string(),
            subscription_id: subscription.map(|s| s.to_string()),
            title,
            description,
            severity,
            contact_email: email.unwrap_or_default(),
            contact_phone: phone,
        })
    }

    /// The request as stored when `author_tenant_id`'s user `author_user_id` opens it at `now`:
    /// open, with the author's tenant as acting partner when it is not the customer.
    pub fn opened(
        self,
        id: String,
        author_tenant_id: &str,
        author_user_id: &str,
        now: i64,
    ) -> ServiceRequest {
        let acting = if author_tenant_id.is_empty() || author_tenant_id == self.customer_tenant_id {
            String::new()
        } else {
            author_tenant_id.to_string()
        };
        ServiceRequest {
            id,
            customer_tenant_id: self.customer_tenant_id,
            subscription_id: self.subscription_id.unwrap_or_default(),
            title: self.title,
            description: self.description,
            severity: self.severity,
            state: State::Open,
            contact_email: self.contact_email,
            contact_phone: self.contact_phone,
            acting_partner_tenant_id: acting,
            creator_user_id: author_user_id.to_string(),
            support_contact_tenant_id: String::new(),
            resolution: String::new(),
            closer_tenant_id: String::new(),
            create_time: now,
            update_time: now,
            close_time: None,
            version: 1,
        }
    }
}

/// A required severity.
fn severity(field: &str, value: i32) -> Result<Severity, Violations> {
    match Severity::try_from(value) {
        Ok(Severity::Unspecified) => Err(Violations::one(field, "is required")),
        Ok(s) => Ok(s),
        Err(_) => Err(Violations::one(field, "is not a severity")),
    }
}

/// An optional enum filter: unset (0) is no filter, an unknown number a violation.
fn filter<E: TryFrom<i32> + Into<i32> + Copy>(
    field: &str,
    raw: i32,
) -> Result<Option<E>, Violations> {
    match E::try_from(raw) {
        Ok(e) if e.into() == 0 => Ok(None),
        Ok(e) => Ok(Some(e)),
        Err(_) => Err(Violations::one(field, "is not a known value")),
    }
}

/// What `ListServiceRequests` keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    /// The customer's requests ("" for any customer).
    pub customer_tenant_id: String,
    /// The partner's queue ("" for no partner filter).
    pub partner_tenant_id: String,
    pub state: Option<State>,
    pub severity: Option<Severity>,
}

impl RequestFilter {
    pub fn parse(req: &pb::ListServiceRequestsRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let customer = v.take(fields::optional_id(
            "customer_tenant_id",
            &req.customer_tenant_id,
        ));
        let partner = v.take(fields::optional_id(
            "partner_tenant_id",
            &req.partner_tenant_id,
        ));
        let state = v.take(filter::<State>("state", req.state));
        let severity = v.take(filter::<Severity>("severity", req.severity));
        let ((customer, partner), (state, severity)) =
            v.done(customer.zip(partner).zip(state.zip(severity)))?;
        if customer.is_none() && partner.is_none() {
            return Err(Violations::one(
                "customer_tenant_id",
                "one of customer_tenant_id, partner_tenant_id is required",
            ));
        }
        Ok(RequestFilter {
            customer_tenant_id: customer.map(|c| c.to_string()).unwrap_or_default(),
            partner_tenant_id: partner.map(|p| p.to_string()).unwrap_or_default(),
            state,
            severity,
        })
    }
}

impl ServiceRequest {
    /// Whether `tenant_id` sees the request: the customer, the acting partner, and the
    /// subscription's support contact as it is now. Nobody else (a partner never sees another
    /// partner's requests).
    pub fn is_visible_to(&self, tenant_id: &str) -> bool {
        !tenant_id.is_empty()
            && (tenant_id == self.customer_tenant_id
                || tenant_id == self.acting_partner_tenant_id
                || tenant_id == self.support_contact_tenant_id)
    }

    /// Whether the request is closed (and so final).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The request after `author_tenant_id` added a note at `now`: a partner's first answer
    /// moves an open request in progress; a customer's note changes no state.
    pub fn noted(&self, author_tenant_id: &str, now: i64) -> ServiceRequest {
        let state = if self.state == State::Open && author_tenant_id != self.customer_tenant_id {
            State::InProgress
        } else {
            self.state
        };
        ServiceRequest {
            state,
            update_time: now,
            ..self.clone()
        }
    }

    /// The request closed by `closer_tenant_id` at `now` with `resolution`.
    pub fn closed(&self, closer_tenant_id: &str, resolution: String, now: i64) -> ServiceRequest {
        ServiceRequest {
            state: State::Closed,
            resolution,
            closer_tenant_id: closer_tenant_id.to_string(),
            update_time: now,
            close_time: Some(now),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUSTOMER: &str = "0190f6a4-5a5e-7cc0-9a7b-1c2d3e4f5a6b";
    const RESELLER: &str = "0190f6a4-5a5e-7cc0-9a7b-1c2d3e4f5a6c";
    const PROVIDER: &str = "0190f6a4-5a5e-7cc0-9a7b-1c2d3e4f5a6d";

    fn proto() -> pb::ServiceRequest {
        pb::ServiceRequest {
            customer_tenant_id: CUSTOMER.into(),
            title: "Mail is down".into(),
            description: "Nobody receives mail since 9:00".into(),
            severity: Severity::Critical as i32,
            ..Default::default()
        }
    }

    fn fields_of(v: Violations) -> Vec<String> {
        v.as_slice().iter().map(|v| v.field.clone()).collect()
    }

    #[test]
    fn a_new_request_names_every_bad_field() {
        assert!(NewServiceRequest::parse(Some(&proto())).is_ok());
        let lines = pb::ServiceRequest {
            description: "Since 9:00:\r\n- no mail\n\t- no calendar".into(),
            ..proto()
        };
        assert_eq!(
            NewServiceRequest::parse(Some(&lines)).unwrap().description,
            "Since 9:00:\n- no mail\n\t- no calendar"
        );
        let bad = pb::ServiceRequest {
            customer_tenant_id: "x".into(),
            subscription_id: "y".into(),
            title: " ".into(),
            description: String::new(),
            severity: 0,
            contact_email: "nope".into(),
            contact_phone: "call me".into(),
            ..Default::default()
        };
        assert_eq!(
            fields_of(NewServiceRequest::parse(Some(&bad)).unwrap_err()),
            [
                "service_request.customer_tenant_id",
                "service_request.subscription_id",
                "service_request.title",
                "service_request.description",
                "service_request.severity",
                "service_request.contact_email",
                "service_request.contact_phone",
            ]
        );
        assert_eq!(
            fields_of(NewServiceRequest::parse(None).unwrap_err()),
            ["service_request"]
        );
        let unknown = pb::ServiceRequest {
            severity: 99,
            ..proto()
        };
        assert_eq!(
            fields_of(NewServiceRequest::parse(Some(&unknown)).unwrap_err()),
            ["service_request.severity"]
        );
    }

    #[test]
    fn a_partner_opening_for_the_customer_is_its_acting_partner() {
        let new = NewServiceRequest::parse(Some(&proto())).unwrap();
        let by_customer = new.clone().opened("r".into(), CUSTOMER, "u", 1);
        assert_eq!(by_customer.acting_partner_tenant_id, "");
        assert_eq!(by_customer.state, State::Open);
        let by_partner = new.opened("r".into(), RESELLER, "a", 1);
        assert_eq!(by_partner.acting_partner_tenant_id, RESELLER);
    }

    #[test]
    fn the_customer_the_acting_partner_and_the_support_contact_see_it_nobody_else() {
        let mut r =
            NewServiceRequest::parse(Some(&proto()))
                .unwrap()
                .opened("r".into(), CUSTOMER, "u", 1);
        r.support_contact_tenant_id = RESELLER.into();
        assert!(r.is_visible_to(CUSTOMER));
        assert!(r.is_visible_to(RESELLER));
        assert!(!r.is_visible_to(PROVIDER));
        assert!(!r.is_visible_to(""));
        r.support_contact_tenant_id = String::new();
        assert!(!r.is_visible_to(RESELLER));
        r.acting_partner_tenant_id = PROVIDER.into();
        assert!(r.is_visible_to(PROVIDER));
    }

    #[test]
    fn a_partners_first_note_puts_it_in_progress_and_closing_is_final() {
        let r =
            NewServiceRequest::parse(Some(&proto()))
                .unwrap()
                .opened("r".into(), CUSTOMER, "u", 1);
        assert_eq!(r.noted(CUSTOMER, 2).state, State::Open);
        let answered = r.noted(RESELLER, 2);
        assert_eq!(answered.state, State::InProgress);
        assert_eq!(answered.noted(CUSTOMER, 3).state, State::InProgress);
        let closed = answered.closed(CUSTOMER, "Fixed".into(), 4);
        assert!(closed.is_closed());
        assert_eq!(closed.close_time, Some(4));
        assert_eq!(closed.closer_tenant_id, CUSTOMER);
    }

    #[test]
    fn lists_need_a_customer_or_a_partner() {
        let none = pb::ListServiceRequestsRequest::default();
        assert_eq!(
            fields_of(RequestFilter::parse(&none).unwrap_err()),
            ["customer_tenant_id"]
        );
        let queue = pb::ListServiceRequestsRequest {
            partner_tenant_id: RESELLER.into(),
            state: State::Open as i32,
            ..Default::default()
        };
        let f = RequestFilter::parse(&queue).unwrap();
        assert_eq!(f.partner_tenant_id, RESELLER);
        assert_eq!(f.state, Some(State::Open));
        assert_eq!(f.severity, None);
        let bad = pb::ListServiceRequestsRequest {
            partner_tenant_id: RESELLER.into(),
            severity: 42,
            ..Default::default()
        };
        assert_eq!(
            fields_of(RequestFilter::parse(&bad).unwrap_err()),
            ["severity"]
        );
    }
}
