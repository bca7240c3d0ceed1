//! The subscriptions domain: requests parsed once, at the edge, into types deeper code trusts,
//! and the rules: what an offer may be, which line items a customer can order, and a
//! subscription's life (its states, the transitions between them, who may change it).
//! One type per entity ([`Offer`], [`Order`], [`Subscription`], [`Event`]): the store reads
//! them, [`crate::wire`] maps them to the contract's messages.

use crate::error::Error;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::subscriptions::{self as pb, subscription::State};
use partnerhub_proto::types::{self, BillingCycle, Cloud, TermDuration};
use partnerhub_rules::{cloud, country};
use uuid::Uuid;

mod product_keys;
pub use product_keys::{KeyRedeemed, KeyRedemption, MAX_KEYS, NewProductKeys, ProductKey};

/// The most line items one order (or check) may have.
pub const MAX_LINE_ITEMS: usize = 50;
/// The longest trial an offer may give.
pub const MAX_TRIAL_DAYS: i32 = 365;

/// Reasons of line item problems (`LineItemProblem.reason`, and `ErrorInfo.reason` of a
/// refused order).
pub const OFFER_NOT_FOUND: &str = "OFFER_NOT_FOUND";
pub const OFFER_NOT_IN_CLOUD: &str = "OFFER_NOT_IN_CLOUD";
pub const OFFER_NOT_IN_COUNTRY: &str = "OFFER_NOT_IN_COUNTRY";
pub const QUANTITY_OUT_OF_BOUNDS: &str = "QUANTITY_OUT_OF_BOUNDS";
pub const TRIAL_ALREADY_TAKEN: &str = "TRIAL_ALREADY_TAKEN";

/// Why a customer can't have a trial of `offer` again.
pub fn trial_taken(offer: &str) -> String {
    format!("the customer had a trial of {offer} before; an offer's trial is given once")
}
/// `ErrorInfo.reason` of advisor trials of an offer that has none.
pub const TRIAL_NOT_AVAILABLE: &str = "TRIAL_NOT_AVAILABLE";
/// One day in microseconds (trial lengths are in days).
pub const DAY_MICROS: i64 = 86_400_000_000;

// ---- money ----

/// A price: an ISO 4217 currency and a non-negative amount in units and nanos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub currency_code: String,
    pub units: i64,
    pub nanos: i32,
}

impl Price {
    pub fn parse(field: &str, money: Option<&types::Money>) -> Result<Self, Violations> {
        let Some(m) = money else {
            return Err(Violations::one(field, "is required"));
        };
        let mut v = Violations::new();
        let code = &m.currency_code;
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
            v.add(
                format!("{field}.currency_code"),
                "must be an ISO 4217 currency code in upper case, like \"EUR\"",
            );
        }
        if m.units < 0 {
            v.add(format!("{field}.units"), "must not be negative");
        }
        if !(0..1_000_000_000).contains(&m.nanos) {
            v.add(format!("{field}.nanos"), "must be 0 to 999999999");
        }
        v.check()?;
        Ok(Price {
            currency_code: code.clone(),
            units: m.units,
            nanos: m.nanos,
        })
    }
}

// ---- terms ----

/// `ErrorInfo.reason` of a line item (or conversion) naming a term the offer is not sold on.
pub const TERM_NOT_OFFERED: &str = "TERM_NOT_OFFERED";
/// The most terms an offer lists (every duration with every cycle is 3).
pub const MAX_TERMS: usize = 3;
/// The most offers an upgrade path lists.
pub const MAX_UPGRADES: usize = 20;

/// A term an offer is sold on and a subscription runs on: how long the commitment runs, and
/// how often it is billed. Always valid: an annual billing cycle only on an annual term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub duration: TermDuration,
    pub billing_cycle: BillingCycle,
}

impl Term {
    /// A monthly term billed monthly: what an offer created without terms is sold on.
    pub const MONTHLY: Term = Term {
        duration: TermDuration::Monthly,
        billing_cycle: BillingCycle::Monthly,
    };

    /// How long the term runs, in microseconds. Fixed lengths (30 and 365 days) rather than
    /// calendar months: simpler, and every backend and reader computes the same end.
    pub fn length(self) -> i64 {
        match self.duration {
            TermDuration::Annual => 365 * DAY_MICROS,
            TermDuration::Monthly | TermDuration::Unspecified => 30 * DAY_MICROS,
        }
    }

    /// A term as an offer's `terms[i]` gives it (`field` names it): both values required.
    pub fn parse(field: &str, term: &pb::Term) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let duration = v.take(term_duration(
            &format!("{field}.term_duration"),
            term.term_duration,
        ));
        let cycle = v.take(billing_cycle(
            &format!("{field}.billing_cycle"),
            term.billing_cycle,
        ));
        v.check()?;
        match (duration.flatten(), cycle.flatten()) {
            (Some(duration), Some(billing_cycle)) => {
                Term::new(&format!("{field}.billing_cycle"), duration, billing_cycle)
            }
            (None, _) => Err(Violations::one(
                format!("{field}.term_duration"),
                "is required: TERM_DURATION_MONTHLY or TERM_DURATION_ANNUAL",
            )),
            (_, None) => Err(Violations::one(
                format!("{field}.billing_cycle"),
                "is required: BILLING_CYCLE_MONTHLY or BILLING_CYCLE_ANNUAL",
            )),
        }
    }

    /// The term, if the cycle fits the duration (`cycle_field` names the cycle).
    fn new(
        cycle_field: &str,
        duration: TermDuration,
        billing_cycle: BillingCycle,
    ) -> Result<Self, Violations> {
        if duration == TermDuration::Monthly && billing_cycle == BillingCycle::Annual {
            return Err(Violations::one(
                cycle_field,
                "can't be BILLING_CYCLE_ANNUAL on a monthly term: an annual billing cycle needs an \
                 annual term",
            ));
        }
        Ok(Term {
            duration,
            billing_cycle,
        })
    }

    /// The term as stored: "TERM_DURATION_…:BILLING_CYCLE_…".
    pub fn encode(self) -> String {
        format!(
            "{}:{}",
            self.duration.as_str_name(),
            self.billing_cycle.as_str_name()
        )
    }

    /// A stored term, `None` if it isn't one.
    pub fn decode(text: &str) -> Option<Self> {
        let (d, c) = text.split_once(':')?;
        Term::new(
            "",
            TermDuration::from_str_name(d).filter(|d| *d != TermDuration::Unspecified)?,
            BillingCycle::from_str_name(c).filter(|c| *c != BillingCycle::Unspecified)?,
        )
        .ok()
    }

    pub fn to_proto(self) -> pb::Term {
        pb::Term {
            term_duration: self.duration as i32,
            billing_cycle: self.billing_cycle as i32,
        }
    }
}

/// An optional term duration (`None` for unspecified), or the field named.
pub fn term_duration(field: &str, value: i32) -> Result<Option<TermDuration>, Violations> {
    match TermDuration::try_from(value) {
        Ok(TermDuration::Unspecified) => Ok(None),
        Ok(d) => Ok(Some(d)),
        Err(_) => Err(Violations::one(
            field,
            "is not a term duration: TERM_DURATION_MONTHLY or TERM_DURATION_ANNUAL",
        )),
    }
}

/// An optional billing cycle (`None` for unspecified), or the field named.
pub fn billing_cycle(field: &str, value: i32) -> Result<Option<BillingCycle>, Violations> {
    match BillingCycle::try_from(value) {
        Ok(BillingCycle::Unspecified) => Ok(None),
        Ok(c) => Ok(Some(c)),
        Err(_) => Err(Violations::one(
            field,
            "is not a billing cycle: BILLING_CYCLE_MONTHLY or BILLING_CYCLE_ANNUAL",
        )),
    }
}

/// A term as a buyer asks for it: each part optional (the offer's first term fills in what is
/// not given). `at` is the prefix of its fields ("line_items[0]." or "").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TermChoice {
    pub duration: Option<TermDuration>,
    pub billing_cycle: Option<BillingCycle>,
}

impl TermChoice {
    pub fn parse(at: &str, duration: i32, cycle: i32) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let duration = v.take(term_duration(&format!("{at}term_duration"), duration));
        let billing_cycle = v.take(billing_cycle(&format!("{at}billing_cycle"), cycle));
        v.check()?;
        let choice = TermChoice {
            duration: duration.flatten(),
            billing_cycle: billing_cycle.flatten(),
        };
        if let (Some(d), Some(c)) = (choice.duration, choice.billing_cycle) {
            Term::new(&format!("{at}billing_cycle"), d, c)?;
        }
        Ok(choice)
    }

    /// The first of `offer`'s terms that fits the choice, or why none does: the field at fault
    /// (under `at`) and what the offer is sold on.
    pub fn pick(self, at: &str, offer: &OfferSpec) -> Result<Term, Problem> {
        let fits = |t: &&Term| {
            self.duration.is_none_or(|d| d == t.duration)
                && self.billing_cycle.is_none_or(|c| c == t.billing_cycle)
        };
        if let Some(term) = offer.terms.iter().find(fits) {
            return Ok(*term);
        }
        let duration_sold = self
            .duration
            .is_none_or(|d| offer.terms.iter().any(|t| t.duration == d));
        let field = if duration_sold {
            "billing_cycle"
        } else {
            "term_duration"
        };
        Err(Problem {
            field: format!("{at}{field}"),
            description: format!(
                "{} is not sold on that term; it is sold on {}",
                offer.display_name,
                offer
                    .terms
                    .iter()
                    .map(|t| t.encode().replace(':', " billed "))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            reason: TERM_NOT_OFFERED,
        })
    }
}

impl From<Term> for TermChoice {
    fn from(term: Term) -> Self {
        TermChoice {
            duration: Some(term.duration),
            billing_cycle: Some(term.billing_cycle),
        }
    }
}

/// The terms of an offer (`field` names the list): 1 to [`MAX_TERMS`], each once; none given
/// is one monthly term billed monthly.
fn offer_terms(field: &str, terms: &[pb::Term]) -> Result<Vec<Term>, Violations> {
    if terms.is_empty() {
        return Ok(vec![Term::MONTHLY]);
    }
    if terms.len() > MAX_TERMS {
        return Err(Violations::one(
            field,
            format!("must have at most {MAX_TERMS} terms"),
        ));
    }
    let mut v = Violations::new();
    let mut parsed: Vec<Term> = Vec::with_capacity(terms.len());
    for (i, t) in terms.iter().enumerate() {
        let at = format!("{field}[{i}]");
        match v.take(Term::parse(&at, t)) {
            Some(term) if parsed.contains(&term) => v.add(at, "repeats an earlier term"),
            Some(term) => parsed.push(term),
            None => {}
        }
    }
    v.check()?;
    Ok(parsed)
}

/// The upgrade path of an offer (`field` names the list): up to [`MAX_UPGRADES`] offer ids,
/// each once. Whether they exist, differ from the offer and share its cloud is checked against
/// the catalogue ([`upgrade_path_problems`]).
fn upgrade_ids(field: &str, ids: &[String]) -> Result<Vec<String>, Violations> {
    if ids.len() > MAX_UPGRADES {
        return Err(Violations::one(
            field,
            format!("must have at most {MAX_UPGRADES} offers"),
        ));
    }
    let mut v = Violations::new();
    let mut parsed: Vec<String> = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let at = format!("{field}[{i}]");
        match v.take(fields::id(&at, id)).map(|id| id.to_string()) {
            Some(id) if parsed.contains(&id) => v.add(at, "repeats an earlier offer"),
            Some(id) => parsed.push(id),
            None => {}
        }
    }
    v.check()?;
    Ok(parsed)
}

/// What is wrong with the upgrade path of an offer `id` of `cloud` (`field` names the list),
/// given the targets as found (`None`: no such offer): each must exist, be another offer and
/// be of the same cloud.
pub fn upgrade_path_problems(
    field: &str,
    id: &str,
    cloud: Cloud,
    targets: &[(String, Option<Cloud>)],
) -> Violations {
    let mut v = Violations::new();
    for (i, (target, found)) in targets.iter().enumerate() {
        let at = format!("{field}[{i}]");
        match found {
            _ if target == id => v.add(at, "names the offer itself; an upgrade is to another"),
            None => v.add(at, format!("no offer {target} in the catalogue")),
            Some(c) if *c != cloud => v.add(
                at,
                format!(
                    "is an offer of {}; an upgrade stays in the offer's cloud {}",
                    c.as_str_name(),
                    cloud.as_str_name()
                ),
            ),
            Some(_) => {}
        }
    }
    v
}

// ---- offers ----

/// What an offer is: everything but its id and creation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferSpec {
    pub cloud: Cloud,
    pub display_name: String,
    pub description: String,
    pub min_quantity: i32,
    pub max_quantity: i32,
    pub trial_available: bool,
    /// 0 without a trial.
    pub trial_days: i32,
    pub unit_price: Price,
    /// Empty: every country. An offer of a sovereign cloud always lists that cloud's country.
    pub country_codes: Vec<String>,
    /// At least one; the first is a line item's default.
    pub terms: Vec<Term>,
    /// The offers a subscription may be upgraded to (same cloud, not itself).
    pub upgrade_offer_ids: Vec<String>,
}

impl OfferSpec {
    /// Parses an offer (of `CreateOffer`, or of the catalogue file); `field` names it.
    pub fn parse(field: &str, offer: Option<&pb::Offer>) -> Result<Self, Violations> {
        let Some(o) = offer else {
            return Err(Violations::one(field, "is required"));
        };
        let at = |f: &str| format!("{field}.{f}");
        let mut v = Violations::new();
        let cloud = v.take(cloud::required(&at("cloud"), o.cloud));
        let display_name = v.take(fields::text(&at("display_name"), &o.display_name, 200));
        let description = v.take(fields::text(&at("description"), &o.description, 2000));
        if o.min_quantity < 1 {
            v.add(at("min_quantity"), "must be at least 1");
        }
        if o.max_quantity < o.min_quantity.max(1) {
            v.add(at("max_quantity"), "must be at least min_quantity");
        }
        match (o.trial_available, o.trial_days) {
            (true, days) if !(1..=MAX_TRIAL_DAYS).contains(&days) => v.add(
                at("trial_days"),
                format!("must be 1 to {MAX_TRIAL_DAYS} when a trial is available"),
            ),
            (false, days) if days != 0 => v.add(
                at("trial_days"),
                "must be 0 when no trial is available (trial_available is false)",
            ),
            _ => {}
        }
        let unit_price = v.take(Price::parse(&at("unit_price"), o.unit_price.as_ref()));
        let terms = v.take(offer_terms(&at("terms"), &o.terms));
        let upgrade_offer_ids = v.take(upgrade_ids(&at("upgrade_offer_ids"), &o.upgrade_offer_ids));
        let mut country_codes = Vec::with_capacity(o.country_codes.len());
        for (i, code) in o.country_codes.iter().enumerate() {
            let f = format!("{field}.country_codes[{i}]");
            let Some(code) = v.take(country::code(&f, code)) else {
                continue;
            };
            if country_codes.contains(&code) {
                v.add(f, format!("repeats {code}"));
            } else if let Some(only) = cloud.and_then(cloud::country)
                && code != only
            {
                v.add(
                    f,
                    format!("is not served by this cloud instance; it serves {only} only"),
                );
            } else {
                country_codes.push(code);
            }
        }
        v.check()?;
        let cloud = cloud.ok_or_else(|| Violations::one(at("cloud"), "is required"))?;
        // "Every country" of a sovereign cloud is its one country: say so, so that filters
        // by country need not know the clouds.
        if country_codes.is_empty()
            && let Some(only) = cloud::country(cloud)
        {
            country_codes.push(only.to_string());
        }
        match (
            display_name,
            description,
            unit_price,
            terms,
            upgrade_offer_ids,
        ) {
            (
                Some(display_name),
                Some(description),
                Some(unit_price),
                Some(terms),
                Some(upgrade_offer_ids),
            ) => Ok(OfferSpec {
                cloud,
                display_name,
                description,
                min_quantity: o.min_quantity,
                max_quantity: o.max_quantity,
                trial_available: o.trial_available,
                trial_days: o.trial_days,
                unit_price,
                country_codes,
                terms,
                upgrade_offer_ids,
            }),
            _ => Err(Violations::one(field, "is incomplete")),
        }
    }

    /// Whether a customer in `country` can buy it (its cloud aside).
    pub fn sold_in_country(&self, country: &str) -> bool {
        self.country_codes.is_empty() || self.country_codes.iter().any(|c| c == country)
    }
}

/// An offer of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: String,
    pub spec: OfferSpec,
    pub create_time: i64,
}

/// The filters of a `ListOffers` (`None`, "" or `false` for "any").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferFilter {
    pub cloud: Option<Cloud>,
    pub country_code: String,
    pub trial_available: bool,
}

impl OfferFilter {
    pub fn parse(req: &pb::ListOffersRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let cloud = v.take(cloud::optional("cloud", req.cloud)).flatten();
        let country_code = v.take(country::optional_code("country_code", &req.country_code));
        v.check()?;
        Ok(OfferFilter {
            cloud,
            country_code: country_code.unwrap_or_default(),
            trial_available: req.trial_available,
        })
    }
}

// ---- line items ----

/// One line of an order: an offer (a UUID, not yet known to exist), a licence count, the
/// partner of record to give its subscription (a partner ID not yet verified; "" for none) and
/// the term asked for (the offer's first where not given; once checked, the term chosen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub offer_id: String,
    pub quantity: i32,
    pub partner_of_record_mpn_id: String,
    pub term: TermChoice,
}

/// Parses the `line_items` of an order or check: 1 to 50 lines, each offer id a UUID. Whether
/// the offers exist and fit the customer is [`line_item_problems`]'s question.
pub fn line_items(list: &[types::LineItem]) -> Result<Vec<LineItem>, Violations> {
    if list.is_empty() {
        return Err(Violations::one(
            "line_items",
            "needs at least one line item",
        ));
    }
    if list.len() > MAX_LINE_ITEMS {
        return Err(Violations::one(
            "line_items",
            format!("must have at most {MAX_LINE_ITEMS} line items"),
        ));
    }
    let mut v = Violations::new();
    let parsed = list
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let id = v.take(fields::id(
                &format!("line_items[{i}].offer_id"),
                &item.offer_id,
            ));
            let mpn_id = item.partner_of_record_mpn_id.trim();
            let mpn_id = if mpn_id.is_empty() {
                Some(String::new())
            } else {
                v.take(partner_id(
                    &format!("line_items[{i}].partner_of_record_mpn_id"),
                    mpn_id,
                ))
            };
            let term = v.take(TermChoice::parse(
                &format!("line_items[{i}]."),
                item.term_duration,
                item.billing_cycle,
            ));
            Some(LineItem {
                offer_id: id?.to_string(),
                quantity: item.quantity,
                partner_of_record_mpn_id: mpn_id?,
                term: term?,
            })
        })
        .collect();
    v.check()?;
    Ok(parsed)
}

/// One thing wrong with a line item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub description: String,
    pub reason: &'static str,
}

/// What keeps line `index` from being ordered by a customer in `cloud` and `country`:
/// the offer (`None`: there is none with that id) must exist, be sold in the customer's cloud
/// and country, on the term asked for, and the quantity must be within its bounds.
pub fn line_item_problems(
    index: usize,
    item: &LineItem,
    offer: Option<&Offer>,
    cloud: Cloud,
    country: &str,
) -> Vec<Problem> {
    let mut problems = offer_problems(index, item, offer, cloud, country);
    if let Some(offer) = offer
        && let Err(problem) = item
            .term
            .pick(&format!("line_items[{index}]."), &offer.spec)
    {
        problems.push(problem);
    }
    problems
}

/// [`line_item_problems`] but the term's.
fn offer_problems(
    index: usize,
    item: &LineItem,
    offer: Option<&Offer>,
    cloud: Cloud,
    country: &str,
) -> Vec<Problem> {
    let offer_field = format!("line_items[{index}].offer_id");
    let Some(offer) = offer else {
        return vec![Problem {
            field: offer_field,
            description: format!("no offer {} in the catalogue", item.offer_id),
            reason: OFFER_NOT_FOUND,
        }];
    };
    let mut problems = Vec::new();
    let spec = &offer.spec;
    if spec.cloud != cloud {
        problems.push(Problem {
            field: offer_field,
            description: format!(
                "{} is sold in {}, not in the customer's {}",
                spec.display_name,
                spec.cloud.as_str_name(),
                cloud.as_str_name()
            ),
            reason: OFFER_NOT_IN_CLOUD,
        });
    } else if !spec.sold_in_country(country) {
        problems.push(Problem {
            field: offer_field,
            description: format!(
                "{} is not sold in the customer's country {country}; it is sold in {}",
                spec.display_name,
                spec.country_codes.join(", ")
            ),
            reason: OFFER_NOT_IN_COUNTRY,
        });
    }
    if let Some(description) = quantity_out_of_bounds(item.quantity, spec) {
        problems.push(Problem {
            field: format!("line_items[{index}].quantity"),
            description,
            reason: QUANTITY_OUT_OF_BOUNDS,
        });
    }
    problems
}

/// Why `quantity` licences of an offer can't be had, if they can't.
pub fn quantity_out_of_bounds(quantity: i32, spec: &OfferSpec) -> Option<String> {
    (!(spec.min_quantity..=spec.max_quantity).contains(&quantity)).then(|| {
        format!(
            "must be {} to {} licences for {} (was {quantity})",
            spec.min_quantity, spec.max_quantity, spec.display_name
        )
    })
}

// ---- orders ----

/// A `PlaceOrder`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub customer_tenant_id: String,
    pub partner_tenant_id: String,
    /// "" for none. As the request names it (its tenant id or partner ID) until
    /// [`NewOrder::with_reseller`] puts the tenant id.
    pub indirect_reseller_id: String,
    /// The reseller's partner ID, "" for none (set by [`NewOrder::with_reseller`]).
    pub indirect_reseller_mpn_id: String,
    pub line_items: Vec<LineItem>,
    pub reseller_is_support_contact: bool,
    pub validate_only: bool,
    pub request_id: Option<Uuid>,
}

impl NewOrder {
    pub fn parse(req: &pb::PlaceOrderRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let customer = v.take(fields::id("customer_tenant_id", &req.customer_tenant_id));
        let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
        if customer.is_some() && customer == partner {
            v.add("partner_tenant_id", "must differ from customer_tenant_id");
        }
        let reseller = v
            .take(reseller_named(
                "indirect_reseller_id",
                &req.indirect_reseller_id,
            ))
            .unwrap_or_default();
        if req.reseller_is_support_contact && req.indirect_reseller_id.is_empty() {
            v.add(
                "reseller_is_support_contact",
                "needs an indirect reseller: set indirect_reseller_id",
            );
        }
        let line_items = v.take(line_items(&req.line_items));
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        v.check()?;
        match (customer, partner, line_items) {
            (Some(customer), Some(partner), Some(line_items)) => Ok(NewOrder {
                customer_tenant_id: customer.to_string(),
                partner_tenant_id: partner.to_string(),
                indirect_reseller_id: reseller,
                indirect_reseller_mpn_id: String::new(),
                line_items,
                reseller_is_support_contact: req.reseller_is_support_contact,
                validate_only: req.validate_only,
                request_id,
            }),
            _ => Err(Violations::one("request", "is incomplete")),
        }
    }

    /// The order with its reseller's tenant id and partner ID, as the tenants service resolved
    /// the name the request gave: a third tenant, the reseller the partner sells through.
    pub fn with_reseller(self, tenant_id: String, mpn_id: String) -> Result<Self, Violations> {
        if !tenant_id.is_empty()
            && (tenant_id == self.partner_tenant_id || tenant_id == self.customer_tenant_id)
        {
            return Err(Violations::one(
                "indirect_reseller_id",
                "must be a third tenant: the reseller the partner sells through",
            ));
        }
        Ok(NewOrder {
            indirect_reseller_id: tenant_id,
            indirect_reseller_mpn_id: mpn_id,
            ..self
        })
    }

    /// The designated support contact of the order's subscriptions.
    pub fn support_contact(&self) -> &str {
        if self.reseller_is_support_contact {
            &self.indirect_reseller_id
        } else {
            &self.partner_tenant_id
        }
    }

    /// The subscription one of its lines makes: the line's licences of `offer` on the line's
    /// `term`, billed by the ordering partner, through its reseller if any, with the line's
    /// partner of record.
    pub fn subscription(
        &self,
        id: String,
        order_id: &str,
        (offer, term): (&Offer, Term),
        line: &LineItem,
        now: i64,
    ) -> Subscription {
        Subscription {
            id,
            customer_tenant_id: self.customer_tenant_id.clone(),
            billing_partner_tenant_id: self.partner_tenant_id.clone(),
            indirect_reseller_id: self.indirect_reseller_id.clone(),
            indirect_reseller_mpn_id: self.indirect_reseller_mpn_id.clone(),
            partner_of_record_mpn_id: line.partner_of_record_mpn_id.clone(),
            support_contact_tenant_id: self.support_contact().to_string(),
            order_id: order_id.to_string(),
            ..Subscription::paid(offer, line.quantity, term, now)
        }
    }
}

/// An order: who bought what for whom, and the subscriptions it made (one per line, in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// "" for one that is only checked, not placed.
    pub id: String,
    pub customer_tenant_id: String,
    pub partner_tenant_id: String,
    /// "" for none.
    pub indirect_reseller_id: String,
    pub line_items: Vec<LineItem>,
    pub subscription_ids: Vec<String>,
    pub create_time: i64,
}

impl Order {
    /// The order `new` makes at `now`, with its subscriptions' ids ("" and none: only checked).
    pub fn placed(new: &NewOrder, id: String, subscription_ids: Vec<String>, now: i64) -> Self {
        Order {
            id,
            customer_tenant_id: new.customer_tenant_id.clone(),
            partner_tenant_id: new.partner_tenant_id.clone(),
            indirect_reseller_id: new.indirect_reseller_id.clone(),
            line_items: new.line_items.clone(),
            subscription_ids,
            create_time: now,
        }
    }

    /// Whether `tenant_id` may read it: the customer, the partner or the indirect reseller.
    pub fn is_visible_to(&self, tenant_id: &str) -> bool {
        [
            &self.customer_tenant_id,
            &self.partner_tenant_id,
            &self.indirect_reseller_id,
        ]
        .iter()
        .any(|t| !t.is_empty() && *t == tenant_id)
    }

    /// Whether one of `partners` (the customer's MPSA partners) placed or resold it.
    pub fn is_made_by_any_of(&self, partners: &[String]) -> bool {
        made_by(
            partners,
            &self.partner_tenant_id,
            &self.indirect_reseller_id,
        )
    }
}

/// A `CreateAdvisorSubscriptions`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisorSubscriptions {
    pub customer_tenant_id: String,
    pub partner_of_record_mpn_id: String,
    pub line_items: Vec<LineItem>,
    pub trial: bool,
    pub request_id: Option<Uuid>,
}

impl AdvisorSubscriptions {
    pub fn parse(req: &pb::CreateAdvisorSubscriptionsRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let customer = v.take(fields::id("customer_tenant_id", &req.customer_tenant_id));
        let mpn_id = v.take(partner_id(
            "partner_of_record_mpn_id",
            req.partner_of_record_mpn_id.trim(),
        ));
        let line_items = v.take(line_items(&req.line_items));
        if req.trial
            && let Some(items) = &line_items
        {
            // One trial per offer and customer: a request can't ask for two.
            for (i, item) in items.iter().enumerate() {
                if let Some(first) = items[..i].iter().position(|o| o.offer_id == item.offer_id) {
                    v.add(
                        format!("line_items[{i}].offer_id"),
                        format!(
                            "repeats line_items[{first}].offer_id; a customer gets one trial of an offer"
                        ),
                    );
                }
            }
        }
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        v.check()?;
        match (customer, mpn_id, line_items) {
            (Some(customer), Some(mpn_id), Some(line_items)) => Ok(AdvisorSubscriptions {
                customer_tenant_id: customer.to_string(),
                partner_of_record_mpn_id: mpn_id,
                line_items,
                trial: req.trial,
                request_id,
            }),
            _ => Err(Violations::one("request", "is incomplete")),
        }
    }
}

/// The filters of a `ListOrders`, as stored text ("" for "any").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub customer_tenant_id: String,
    pub partner_tenant_id: String,
    /// The partner reading as one of the customer's MPSA partners; "" for none.
    pub mpsa_partner_tenant_id: String,
    /// Only orders made by these partners ([`made_by_any_of`]); "" for any. Set from the
    /// relationships service's answer when `mpsa_partner_tenant_id` is.
    pub made_by: String,
}

impl OrderFilter {
    pub fn parse(req: &pb::ListOrdersRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        if req.customer_tenant_id.is_empty() && req.partner_tenant_id.is_empty() {
            v.add(
                "customer_tenant_id",
                "is required unless partner_tenant_id is set: name the customer, the partner or both",
            );
        }
        let customer = v.take(fields::optional_id(
            "customer_tenant_id",
            &req.customer_tenant_id,
        ));
        let partner = v.take(fields::optional_id(
            "partner_tenant_id",
            &req.partner_tenant_id,
        ));
        let mpsa = v.take(mpsa_partner(
            &req.mpsa_partner_tenant_id,
            &req.customer_tenant_id,
        ));
        v.check()?;
        Ok(OrderFilter {
            customer_tenant_id: id_text(customer),
            partner_tenant_id: id_text(partner),
            mpsa_partner_tenant_id: id_text(mpsa),
            made_by: String::new(),
        })
    }
}

/// `mpsa_partner_tenant_id` of a list: optional, and only with the customer it reads.
fn mpsa_partner(value: &str, customer: &str) -> Result<Option<Uuid>, Violations> {
    let id = fields::optional_id("mpsa_partner_tenant_id", value)?;
    if id.is_some() && customer.is_empty() {
        return Err(Violations::one(
            "customer_tenant_id",
            "is required with mpsa_partner_tenant_id: the customer whose MPSA partners' purchases \
             to read",
        ));
    }
    Ok(id)
}

/// Seed 001's MPSA partners see each other's purchases: the partners whose purchases a read
/// shows, as the store matches them (",a,b,": each id between commas; ids are UUIDs, so
/// neither "," nor a LIKE wildcard occurs in one). At least the reader is in `partners`.
pub fn made_by_any_of(partners: &[String]) -> String {
    format!(",{},", partners.join(","))
}

/// Whether one of `partners` made a purchase: placed (or bills) it, or resold it as its
/// indirect reseller. The SQL of `store::list_orders` and `store::list_subscriptions` says the
/// same with [`made_by_any_of`]; keep them in step.
fn made_by(partners: &[String], partner: &str, reseller: &str) -> bool {
    partners
        .iter()
        .any(|p| !p.is_empty() && (p == partner || p == reseller))
}

fn id_text(id: Option<Option<Uuid>>) -> String {
    id.flatten().map(|i| i.to_string()).unwrap_or_default()
}

// ---- subscriptions ----

/// A subscription: stored, or a draft (made by a check, or about to be written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// "" for a draft only checked, not created.
    pub id: String,
    pub customer_tenant_id: String,
    pub offer_id: String,
    pub offer_display_name: String,
    pub quantity: i32,
    /// As stored: a trial past its end is TRIAL until a sweep stores it EXPIRED; readers
    /// want [`Subscription::state_at`].
    pub state: State,
    pub auto_renew: bool,
    /// "" for an advisor's subscription (no partner bills it).
    pub billing_partner_tenant_id: String,
    pub indirect_reseller_id: String,
    /// The reseller's partner ID ("Reseller (MPN ID)"), kept with its tenant id when it is set
    /// (partner IDs never change); "" for none.
    pub indirect_reseller_mpn_id: String,
    pub partner_of_record_mpn_id: String,
    pub support_contact_tenant_id: String,
    pub order_id: String,
    /// A trial's end; `None` unless a trial (or a trial converted: when it was).
    pub trial_end_time: Option<i64>,
    /// The term it is bought on; `None` for a trial.
    pub term: Option<Term>,
    /// The term as stored (0 without a term): a term past its end has renewed or expired
    /// whether or not a sweep stored that yet; readers want [`Subscription::at`].
    pub term_start_time: i64,
    pub term_end_time: i64,
    pub create_time: i64,
    pub update_time: i64,
    /// Guards every change and makes the etag; 0 for a draft (not stored: no etag). A stored
    /// subscription starts at 1.
    pub version: i64,
    /// Licences assigned to users; never more than `quantity` (the store guards it).
    pub assigned_licenses: i32,
}

impl Subscription {
    /// A paid subscription to an offer on `term`, as an order (or a check) makes it at `now`;
    /// a draft whose ids and parties the caller sets.
    pub fn paid(offer: &Offer, quantity: i32, term: Term, now: i64) -> Self {
        Subscription {
            id: String::new(),
            customer_tenant_id: String::new(),
            offer_id: offer.id.clone(),
            offer_display_name: offer.spec.display_name.clone(),
            quantity,
            state: State::Active,
            auto_renew: true,
            billing_partner_tenant_id: String::new(),
            indirect_reseller_id: String::new(),
            indirect_reseller_mpn_id: String::new(),
            partner_of_record_mpn_id: String::new(),
            support_contact_tenant_id: String::new(),
            order_id: String::new(),
            trial_end_time: None,
            term: Some(term),
            term_start_time: now,
            term_end_time: now.saturating_add(term.length()),
            create_time: now,
            update_time: now,
            version: 0,
            assigned_licenses: 0,
        }
    }

    /// A trial of an offer, as an advisor's trial invitation makes it at `now`.
    pub fn trial(offer: &Offer, quantity: i32, now: i64) -> Self {
        Subscription {
            state: State::Trial,
            auto_renew: false,
            trial_end_time: Some(now.saturating_add(i64::from(offer.spec.trial_days) * DAY_MICROS)),
            term: None,
            term_start_time: 0,
            term_end_time: 0,
            ..Subscription::paid(offer, quantity, Term::MONTHLY, now)
        }
    }

    /// Its state at `now` (see [`state_at`]; and a term past its end without auto-renew has
    /// expired).
    pub fn state_at(&self, now: i64) -> State {
        if self.lapsed_at(now) {
            State::Expired
        } else {
            state_at(self.state, self.trial_end_time, now)
        }
    }

    /// Whether its term runs on at `now` as stored: active or suspended with a term (a
    /// suspension stops the use, not the commitment).
    fn in_term(&self) -> bool {
        matches!(self.state, State::Active | State::Suspended) && self.term_end_time != 0
    }

    /// Whether its term ended without auto-renew by `now` (`store`'s SQL filters say the same:
    /// keep them in step).
    fn lapsed_at(&self, now: i64) -> bool {
        self.in_term() && !self.auto_renew && self.term_end_time <= now
    }

    /// Its current term at `now`, start and end: with auto-renew, each term that ended was
    /// followed by the next. As stored otherwise.
    pub fn term_at(&self, now: i64) -> (i64, i64) {
        let (start, end) = (self.term_start_time, self.term_end_time);
        let Some(length) = self.term.map(Term::length).filter(|l| *l > 0) else {
            return (start, end);
        };
        if !self.in_term() || !self.auto_renew || end > now {
            return (start, end);
        }
        let passed = (now - end) / length + 1;
        let start = end.saturating_add((passed - 1).saturating_mul(length));
        (start, start.saturating_add(length))
    }

    /// The subscription as a reader sees it at `now`: its state and current term derived.
    pub fn at(&self, now: i64) -> Subscription {
        let (term_start_time, term_end_time) = self.term_at(now);
        Subscription {
            state: self.state_at(now),
            term_start_time,
            term_end_time,
            ..self.clone()
        }
    }

    /// What a sweep stores once its term ended by `now` (stored as active or suspended, term
    /// end passed): renewed with RENEWED, or expired with TERM_ENDED. `None` if it hasn't.
    pub fn term_ended(&self, now: i64) -> Option<(Subscription, EventType)> {
        if !self.in_term() || self.term_end_time > now {
            return None;
        }
        let kind = if self.auto_renew {
            EventType::Renewed
        } else {
            EventType::TermEnded
        };
        Some((self.at(now), kind))
    }

    /// When licences can no longer be removed in its current term at `now` (the term's start
    /// plus the `window`); `None` for a subscription not in a term (a trial is not paid for).
    pub fn removal_window_close(&self, now: i64, window: i64) -> Option<i64> {
        if self.term.is_none() || !self.in_term() {
            return None;
        }
        let (start, _) = self.term_at(now);
        Some(start.saturating_add(window))
    }

    /// Whether `tenant_id` may read it: the customer, the billing partner, the indirect
    /// reseller or the support contact.
    pub fn is_visible_to(&self, tenant_id: &str) -> bool {
        self.may_change(tenant_id)
            || [&self.indirect_reseller_id, &self.support_contact_tenant_id]
                .iter()
                .any(|t| !t.is_empty() && *t == tenant_id)
    }

    /// Whether one of `partners` (the customer's MPSA partners) bills or resells it.
    pub fn is_made_by_any_of(&self, partners: &[String]) -> bool {
        made_by(
            partners,
            &self.billing_partner_tenant_id,
            &self.indirect_reseller_id,
        )
    }

    /// Licences that can be assigned at `now`: what the quantity leaves, while the
    /// subscription takes assignments ([`takes_assignments`]); none otherwise.
    pub fn available_licenses(&self, now: i64) -> i32 {
        if takes_assignments(self.state_at(now)) {
            self.quantity.saturating_sub(self.assigned_licenses).max(0)
        } else {
            0
        }
    }

    /// Whether `tenant_id` may change it: the customer or the billing partner.
    pub fn may_change(&self, tenant_id: &str) -> bool {
        [&self.customer_tenant_id, &self.billing_partner_tenant_id]
            .iter()
            .any(|t| !t.is_empty() && *t == tenant_id)
    }
}

// ---- events ----

/// An event's cursor as the contract hands it out: opaque (URL-safe base64 of the sequence
/// number), so that clients only send back what they were given.
pub fn encode_cursor(sequence: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("e{sequence}"))
}

/// A `cursor` of `WatchSubscriptionEvents`: `None` when empty (from now on), else the sequence
/// number to resume after.
pub fn decode_cursor(field: &str, cursor: &str) -> Result<Option<i64>, Violations> {
    use base64::Engine;
    if cursor.is_empty() {
        return Ok(None);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix('e').and_then(|n| n.parse::<i64>().ok()))
        .filter(|n| *n >= 0)
        .map(Some)
        .ok_or_else(|| {
            Violations::one(
                field,
                "is not a cursor this service handed out; send an event's `cursor` as received, \
                 or nothing to watch from now on",
            )
        })
}

/// A subscription's state at `now`. A trial past its end has EXPIRED, whether or not a sweep
/// stored that yet, so every read derives it here (and `store`'s SQL filters say the same:
/// keep them in step; there, a trial without an end has ended too).
pub fn state_at(stored: State, trial_end_time: Option<i64>, now: i64) -> State {
    if stored == State::Trial && trial_end_time.is_none_or(|end| end <= now) {
        State::Expired
    } else {
        stored
    }
}

/// The state in words, for messages.
pub fn state_words(state: State) -> &'static str {
    match state {
        State::Trial => "a trial",
        State::Active => "active",
        State::Suspended => "suspended",
        State::Cancelled => "cancelled",
        State::Expired => "expired (a trial, or a term without auto-renew, that ended)",
        State::Unspecified => "in no known state",
    }
}

/// Whether the subscription has ended for good (nothing about it can change any more).
pub fn is_ended(state: State) -> bool {
    matches!(state, State::Cancelled | State::Expired)
}

/// A change of state a tenant asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Suspend,
    Reactivate,
    Cancel,
}

impl Action {
    /// The state the subscription moves to from `current`, or INVALID_TRANSITION naming the
    /// current state and what is allowed.
    pub fn apply(self, current: State) -> Result<State, Error> {
        let (allowed, target, verb, rule): (&[State], State, _, _) = match self {
            Action::Suspend => (
                &[State::Active],
                State::Suspended,
                "suspend",
                "only an active subscription can be suspended",
            ),
            Action::Reactivate => (
                &[State::Suspended],
                State::Active,
                "reactivate",
                "only a suspended subscription can be reactivated",
            ),
            Action::Cancel => (
                &[State::Trial, State::Active, State::Suspended],
                State::Cancelled,
                "cancel",
                "only a trial, active or suspended subscription can be cancelled",
            ),
        };
        if allowed.contains(&current) {
            Ok(target)
        } else {
            Err(Error::InvalidTransition {
                action: verb,
                current: state_words(current),
                allowed: rule,
            })
        }
    }

    /// The event the change makes.
    pub fn event(self) -> EventType {
        match self {
            Action::Suspend => EventType::Suspended,
            Action::Reactivate => EventType::Reactivated,
            Action::Cancel => EventType::Cancelled,
        }
    }
}

// ---- terms: removing licences, upgrades, trials converted ----

/// Partner Center's cancellation window: licences may be removed (and a paid subscription
/// cancelled) only within this long after its term started. A setting; this is its default.
pub const DEFAULT_CANCELLATION_WINDOW: std::time::Duration =
    std::time::Duration::from_secs(168 * 3600);

/// Whether lowering `row`'s licences to `quantity` at `now` is still allowed: adding is,
/// always; removing only until the cancellation `window` after its current term started
/// (CANCELLATION_WINDOW_CLOSED, saying when it closed and when the term ends). A subscription
/// without a term (a trial) has no window. A small rule of its own, so that other quantity
/// rules sit beside it.
pub fn check_removal(
    row: &Subscription,
    quantity: i32,
    now: i64,
    window: i64,
) -> Result<(), Error> {
    if quantity >= row.quantity {
        return Ok(());
    }
    match row.removal_window_close(now, window) {
        Some(close) if now >= close => Err(Error::CancellationWindowClosed {
            window_close_time: close,
            term_end_time: row.term_at(now).1,
        }),
        _ => Ok(()),
    }
}

/// `row` moved to offer `to` from its offer `from`, at `now`, for a customer in `country`:
/// only an active subscription (a trial is converted first: a trial of the target would
/// otherwise be had without the one-trial-per-offer rule), only to an offer on `from`'s
/// upgrade path (NOT_AN_UPGRADE), sold in the customer's country, on the subscription's term,
/// within whose bounds its licences fit. Same id, licences, term and parties.
pub fn upgrade(
    row: &Subscription,
    from: &Offer,
    to: &Offer,
    country: &str,
    now: i64,
) -> Result<Subscription, Error> {
    let state = row.state_at(now);
    if state != State::Active {
        return Err(Error::InvalidTransition {
            action: "upgrade",
            current: state_words(state),
            allowed: "only an active subscription can be upgraded (convert a trial first)",
        });
    }
    if !from.spec.upgrade_offer_ids.contains(&to.id) {
        return Err(Error::NotAnUpgrade {
            from: from.spec.display_name.clone(),
            to: to.id.clone(),
        });
    }
    let unfit = |reason, message: String| Err(Error::UpgradeUnfit { reason, message });
    if !to.spec.sold_in_country(country) {
        return unfit(
            OFFER_NOT_IN_COUNTRY,
            format!(
                "{} is not sold in the customer's country {country}",
                to.spec.display_name
            ),
        );
    }
    if let Some(description) = quantity_out_of_bounds(row.quantity, &to.spec) {
        return unfit(
            QUANTITY_OUT_OF_BOUNDS,
            format!("the subscription's licences don't fit: {description}"),
        );
    }
    if let Some(term) = row.term
        && !to.spec.terms.contains(&term)
    {
        return unfit(
            TERM_NOT_OFFERED,
            format!(
                "{} is not sold on the subscription's term ({})",
                to.spec.display_name,
                term.encode().replace(':', " billed ")
            ),
        );
    }
    Ok(Subscription {
        offer_id: to.id.clone(),
        offer_display_name: to.spec.display_name.clone(),
        ..row.clone()
    })
}

/// A `ConvertTrial`'s choices, parsed: the term (the offer's first where not given) and the
/// licences (`None`: the trial's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    pub term: TermChoice,
    pub quantity: Option<i32>,
}

impl Conversion {
    pub fn parse(req: &pb::ConvertTrialRequest) -> Result<Self, Violations> {
        let term = TermChoice::parse("", req.term_duration, req.billing_cycle)?;
        if req.quantity < 0 {
            return Err(Violations::one(
                "quantity",
                "must not be negative; 0 keeps the trial's licences",
            ));
        }
        Ok(Conversion {
            term,
            quantity: (req.quantity != 0).then_some(req.quantity),
        })
    }

    /// The trial `row` of `offer` turned into a paid, active subscription at `now`: on the
    /// term chosen (TERM_NOT_OFFERED), with the licences asked for (QUANTITY_OUT_OF_BOUNDS),
    /// renewing; its trial ends now (and was had: the offer's trial is not given again).
    pub fn apply(self, row: &Subscription, offer: &Offer, now: i64) -> Result<Subscription, Error> {
        let state = row.state_at(now);
        if state != State::Trial {
            return Err(Error::InvalidTransition {
                action: "convert",
                current: state_words(state),
                allowed: "only a running trial can be converted; buy the offer with an order",
            });
        }
        let term = self
            .term
            .pick("", &offer.spec)
            .map_err(|p| Error::Rejected {
                reason: p.reason,
                violations: Violations::one(p.field, p.description),
            })?;
        let quantity = self.quantity.unwrap_or(row.quantity);
        if let Some(description) = quantity_out_of_bounds(quantity, &offer.spec) {
            return Err(Error::Rejected {
                reason: QUANTITY_OUT_OF_BOUNDS,
                violations: Violations::one("quantity", description),
            });
        }
        Ok(Subscription {
            state: State::Active,
            auto_renew: true,
            quantity,
            trial_end_time: Some(now),
            term: Some(term),
            term_start_time: now,
            term_end_time: now.saturating_add(term.length()),
            ..row.clone()
        })
    }
}

pub use pb::subscription_event::Type as EventType;

/// One recorded change of a subscription, for `WatchSubscriptionEvents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Only grows, in commit order.
    pub cursor: i64,
    pub kind: EventType,
    pub subscription_id: String,
    /// The partners concerned after the change.
    pub billing_partner_tenant_id: String,
    pub indirect_reseller_id: String,
    pub partner_of_record_mpn_id: String,
    /// What the change took off the subscription.
    pub removed: Removed,
    /// The subscription after the change, as the contract encodes it (sent as stored).
    pub subscription: Vec<u8>,
    pub event_time: i64,
}

impl Event {
    /// Whether the event concerns a partner (its tenant id, and its partner ID if it has one):
    /// it bills the subscription, is its indirect reseller or its partner of record, after the
    /// change or until the change removed it.
    pub fn concerns(&self, tenant_id: &str, mpn_id: &str) -> bool {
        let is = |t: &String| !t.is_empty() && t == tenant_id;
        let is_mpn = |m: &String| !mpn_id.is_empty() && m == mpn_id;
        is(&self.billing_partner_tenant_id)
            || is(&self.indirect_reseller_id)
            || is(&self.removed.indirect_reseller_id)
            || is_mpn(&self.partner_of_record_mpn_id)
            || is_mpn(&self.removed.partner_of_record_mpn_id)
    }
}

/// What a change removed from a subscription, so that the partner it concerned hears of it
/// ("" for what stayed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub indirect_reseller_id: String,
    pub partner_of_record_mpn_id: String,
}

impl Removed {
    /// What the change from `before` to `after` took off.
    pub fn between(before: &Subscription, after: &Subscription) -> Self {
        let replaced = |b: &String, a: &String| if b != a { b.clone() } else { String::new() };
        Removed {
            indirect_reseller_id: replaced(
                &before.indirect_reseller_id,
                &after.indirect_reseller_id,
            ),
            partner_of_record_mpn_id: replaced(
                &before.partner_of_record_mpn_id,
                &after.partner_of_record_mpn_id,
            ),
        }
    }
}

/// The paths `UpdateSubscription` may change.
pub const SUBSCRIPTION_PATHS: &[&str] = &[
    "quantity",
    "auto_renew",
    "indirect_reseller_id",
    "partner_of_record_mpn_id",
    "support_contact_tenant_id",
];

/// The changes an `UpdateSubscription` asks for (`Some` for each path in the mask). An empty
/// id or partner ID clears that field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionPatch {
    pub quantity: Option<i32>,
    pub auto_renew: Option<bool>,
    /// As the request names it (tenant id or partner ID) until the handler resolves it.
    pub indirect_reseller_id: Option<String>,
    /// The new reseller's partner ID, once resolved ("" for none).
    pub indirect_reseller_mpn_id: String,
    pub partner_of_record_mpn_id: Option<String>,
    pub support_contact_tenant_id: Option<String>,
}

impl SubscriptionPatch {
    /// Parses the subscription and mask of an `UpdateSubscription`. Without a mask, the paths
    /// whose value is set (non-zero, non-empty, true) are changed (AIP-134).
    pub fn parse(
        s: &pb::Subscription,
        mask: Option<&prost_types::FieldMask>,
    ) -> Result<Self, Violations> {
        let paths = fields::update_mask(mask, SUBSCRIPTION_PATHS, || {
            let mut set = Vec::new();
            if s.quantity != 0 {
                set.push("quantity");
            }
            if s.auto_renew {
                set.push("auto_renew");
            }
            if !s.indirect_reseller_id.is_empty() {
                set.push("indirect_reseller_id");
            }
            if !s.partner_of_record_mpn_id.is_empty() {
                set.push("partner_of_record_mpn_id");
            }
            if !s.support_contact_tenant_id.is_empty() {
                set.push("support_contact_tenant_id");
            }
            set
        })?;
        let mut v = Violations::new();
        let mut patch = SubscriptionPatch::default();
        let optional_id = |v: &mut Violations, field: &str, value: &str| {
            v.take(fields::optional_id(field, value))
                .map(|id| id.map(|i| i.to_string()).unwrap_or_default())
        };
        for path in &paths {
            match path.as_str() {
                "quantity" => patch.quantity = Some(s.quantity),
                "auto_renew" => patch.auto_renew = Some(s.auto_renew),
                "indirect_reseller_id" => {
                    patch.indirect_reseller_id = v.take(reseller_named(
                        "subscription.indirect_reseller_id",
                        &s.indirect_reseller_id,
                    ))
                }
                "support_contact_tenant_id" => {
                    patch.support_contact_tenant_id = optional_id(
                        &mut v,
                        "subscription.support_contact_tenant_id",
                        &s.support_contact_tenant_id,
                    )
                }
                "partner_of_record_mpn_id" => {
                    let value = s.partner_of_record_mpn_id.trim();
                    patch.partner_of_record_mpn_id = if value.is_empty() {
                        Some(String::new())
                    } else {
                        v.take(partner_id("subscription.partner_of_record_mpn_id", value))
                    }
                }
                _ => {}
            }
        }
        v.check()?;
        Ok(patch)
    }
}

/// A reseller as a request names it: "" for none, its tenant id (a UUID, normalised) or its
/// partner ID (MPN ID), which the tenants service resolves to the tenant.
pub fn reseller_named(field: &str, value: &str) -> Result<String, Violations> {
    let value = value.trim();
    if partnerhub_rules::partner::is_partner_id(value) {
        return Ok(value.to_string());
    }
    match fields::optional_id(field, value) {
        Ok(id) => Ok(id.map(|i| i.to_string()).unwrap_or_default()),
        Err(_) => Err(Violations::one(
            field,
            "must be the reseller's tenant id (a UUID) or its partner ID (MPN ID: 6 to 8 \
             digits, not starting with 0)",
        )),
    }
}

/// A partner ID (MPN ID): 6 to 8 digits, not starting with 0 (as the tenants service issues
/// them).
pub fn partner_id(field: &str, value: &str) -> Result<String, Violations> {
    if partnerhub_rules::partner::is_partner_id(value) {
        Ok(value.to_string())
    } else {
        Err(Violations::one(
            field,
            "must be a partner ID: 6 to 8 digits, not starting with 0",
        ))
    }
}

/// The filters of a `ListSubscriptions` ("" or `None` for "any").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFilter {
    pub customer_tenant_id: String,
    pub billing_partner_tenant_id: String,
    pub indirect_reseller_id: String,
    pub state: Option<State>,
    /// The partner reading as one of the customer's MPSA partners; "" for none.
    pub mpsa_partner_tenant_id: String,
    /// Only subscriptions made by these partners ([`made_by_any_of`]); "" for any. Set from the
    /// relationships service's answer when `mpsa_partner_tenant_id` is.
    pub made_by: String,
}

impl SubscriptionFilter {
    pub fn parse(req: &pb::ListSubscriptionsRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        if req.customer_tenant_id.is_empty()
            && req.billing_partner_tenant_id.is_empty()
            && req.indirect_reseller_id.is_empty()
        {
            v.add(
                "customer_tenant_id",
                "is required unless billing_partner_tenant_id or indirect_reseller_id is set",
            );
        }
        let customer = v.take(fields::optional_id(
            "customer_tenant_id",
            &req.customer_tenant_id,
        ));
        let partner = v.take(fields::optional_id(
            "billing_partner_tenant_id",
            &req.billing_partner_tenant_id,
        ));
        let reseller = v.take(fields::optional_id(
            "indirect_reseller_id",
            &req.indirect_reseller_id,
        ));
        let state = match State::try_from(req.state) {
            Ok(State::Unspecified) => None,
            Ok(s) => Some(s),
            Err(_) => {
                v.add("state", "is not a subscription state");
                None
            }
        };
        let mpsa = v.take(mpsa_partner(
            &req.mpsa_partner_tenant_id,
            &req.customer_tenant_id,
        ));
        v.check()?;
        Ok(SubscriptionFilter {
            customer_tenant_id: id_text(customer),
            billing_partner_tenant_id: id_text(partner),
            indirect_reseller_id: id_text(reseller),
            state,
            mpsa_partner_tenant_id: id_text(mpsa),
            made_by: String::new(),
        })
    }
}

// ---- licences ----

/// The most users one `AssignLicenses` or `RemoveLicenses` names: a page of an admin's user
/// list, and a bounded transaction.
pub const MAX_LICENSE_USERS: usize = 100;

/// Reasons of the licence rules' refusals (`ErrorInfo.reason`).
pub const NOT_ENOUGH_LICENSES: &str = "NOT_ENOUGH_LICENSES";
pub const LICENSES_ASSIGNED: &str = "LICENSES_ASSIGNED";

/// Whether a subscription in `state` takes new assignments: only an active one or a trial.
pub fn takes_assignments(state: State) -> bool {
    matches!(state, State::Active | State::Trial)
}

/// Whether a licence of a subscription in `state` can be used: as [`takes_assignments`]; a
/// suspended subscription's licences stay assigned but can't be used.
pub fn license_state(state: State) -> pb::license_assignment::State {
    if takes_assignments(state) {
        pb::license_assignment::State::Active
    } else {
        pb::license_assignment::State::Suspended
    }
}

/// The quantity rule of licences: a subscription's quantity can't go below the licences
/// assigned (the caller removes licences first). FAILED_PRECONDITION with both numbers.
pub fn check_quantity_covers_assigned(requested: i32, assigned: i32) -> Result<(), Error> {
    if requested < assigned {
        Err(Error::LicensesAssigned {
            assigned,
            requested,
        })
    } else {
        Ok(())
    }
}

/// A licence a user holds, with what a reader sees of its subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseAssignment {
    pub subscription_id: String,
    pub user_id: String,
    pub customer_tenant_id: String,
    pub offer_id: String,
    pub offer_display_name: String,
    /// The subscription's state as stored, and its trial's end (to derive the state at a time).
    pub subscription_state: State,
    pub trial_end_time: Option<i64>,
    pub create_time: i64,
}

/// An `AssignLicenses` or `RemoveLicenses`: who acts, on which subscription, for which users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseChange {
    pub tenant_id: String,
    pub subscription_id: String,
    /// As named, without repeats.
    pub user_ids: Vec<String>,
}

impl LicenseChange {
    pub fn parse(
        tenant_id: &str,
        subscription_id: &str,
        user_ids: &[String],
    ) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let tenant = v.take(fields::id("tenant_id", tenant_id));
        let subscription = v.take(fields::id("subscription_id", subscription_id));
        let users = v.take(user_ids_of(user_ids));
        v.done(tenant.zip(subscription).zip(users))
            .map(|((t, s), users)| LicenseChange {
                tenant_id: t.to_string(),
                subscription_id: s.to_string(),
                user_ids: users,
            })
    }
}

/// `user_ids`: 1 to [`MAX_LICENSE_USERS`] user ids, each a UUID named once.
fn user_ids_of(ids: &[String]) -> Result<Vec<String>, Violations> {
    let mut v = Violations::new();
    if ids.is_empty() {
        v.add("user_ids", "is required: name at least one user");
    }
    if ids.len() > MAX_LICENSE_USERS {
        v.add(
            "user_ids",
            format!(
                "names {} users; at most {MAX_LICENSE_USERS} at once",
                ids.len()
            ),
        );
        return Err(v);
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let field = format!("user_ids[{i}]");
        if let Some(id) = v.take(fields::id(&field, id)).map(|u| u.to_string()) {
            if out.contains(&id) {
                v.add(
                    field,
                    "names a user named before in the list; name each user once",
                );
            } else {
                out.push(id);
            }
        }
    }
    v.check()?;
    Ok(out)
}

/// The filters of a `ListLicenseAssignments`: the customer, and its subscription or its user
/// (or both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseFilter {
    pub tenant_id: String,
    /// "" for any.
    pub subscription_id: String,
    /// "" for any.
    pub user_id: String,
}

impl LicenseFilter {
    pub fn parse(req: &pb::ListLicenseAssignmentsRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let tenant = v.take(fields::id("tenant_id", &req.tenant_id));
        if req.subscription_id.is_empty() && req.user_id.is_empty() {
            v.add("subscription_id", "is required unless user_id is set");
        }
        let subscription = v.take(fields::optional_id("subscription_id", &req.subscription_id));
        let user = v.take(fields::optional_id("user_id", &req.user_id));
        v.done(tenant).map(|t| LicenseFilter {
            tenant_id: t.to_string(),
            subscription_id: id_text(subscription),
            user_id: id_text(user),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(cloud: Cloud, countries: &[&str]) -> pb::Offer {
        pb::Offer {
            cloud: cloud as i32,
            display_name: "Business Basic".into(),
            description: "Mail and office apps".into(),
            min_quantity: 1,
            max_quantity: 300,
            trial_available: true,
            trial_days: 30,
            unit_price: Some(types::Money {
                currency_code: "EUR".into(),
                units: 5,
                nanos: 600_000_000,
            }),
            country_codes: countries.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        }
    }

    fn fields_of(err: Violations) -> Vec<String> {
        err.as_slice().iter().map(|v| v.field.clone()).collect()
    }

    #[test]
    fn a_sovereign_offer_is_sold_in_its_country_only() {
        let spec = OfferSpec::parse("offer", Some(&offer(Cloud::Germany, &[]))).unwrap();
        assert_eq!(spec.country_codes, ["DE"]);
        let err = OfferSpec::parse("offer", Some(&offer(Cloud::Germany, &["AT"]))).unwrap_err();
        assert_eq!(fields_of(err), ["offer.country_codes[0]"]);
        let worldwide = OfferSpec::parse("offer", Some(&offer(Cloud::Worldwide, &[]))).unwrap();
        assert!(worldwide.sold_in_country("SE"));
    }

    #[test]
    fn an_offer_names_every_bad_field() {
        let mut o = offer(Cloud::Worldwide, &["SE", "SE", "se"]);
        o.cloud = 0;
        o.display_name = " ".into();
        o.min_quantity = 0;
        o.max_quantity = -1;
        o.trial_days = 0;
        o.unit_price = Some(types::Money {
            currency_code: "eur".into(),
            units: -1,
            nanos: 0,
        });
        let err = OfferSpec::parse("offer", Some(&o)).unwrap_err();
        assert_eq!(
            fields_of(err),
            [
                "offer.cloud",
                "offer.display_name",
                "offer.min_quantity",
                "offer.max_quantity",
                "offer.trial_days",
                "offer.unit_price.currency_code",
                "offer.unit_price.units",
                "offer.country_codes[1]",
                "offer.country_codes[2]",
            ]
        );
    }

    #[test]
    fn line_items_are_checked_for_cloud_country_and_bounds() {
        let spec = OfferSpec::parse("offer", Some(&offer(Cloud::Worldwide, &["SE"]))).unwrap();
        let o = Offer {
            id: "o".into(),
            spec,
            create_time: 0,
        };
        let item = |quantity| LineItem {
            offer_id: "o".into(),
            quantity,
            partner_of_record_mpn_id: String::new(),
            term: TermChoice::default(),
        };
        assert!(line_item_problems(0, &item(5), Some(&o), Cloud::Worldwide, "SE").is_empty());
        let reasons = |p: Vec<Problem>| p.iter().map(|p| p.reason).collect::<Vec<_>>();
        assert_eq!(
            reasons(line_item_problems(
                0,
                &item(5),
                None,
                Cloud::Worldwide,
                "SE"
            )),
            [OFFER_NOT_FOUND]
        );
        assert_eq!(
            reasons(line_item_problems(
                0,
                &item(301),
                Some(&o),
                Cloud::Germany,
                "DE"
            )),
            [OFFER_NOT_IN_CLOUD, QUANTITY_OUT_OF_BOUNDS]
        );
        let p = line_item_problems(2, &item(0), Some(&o), Cloud::Worldwide, "NO");
        assert_eq!(
            reasons(p.clone()),
            [OFFER_NOT_IN_COUNTRY, QUANTITY_OUT_OF_BOUNDS]
        );
        assert_eq!(p[1].field, "line_items[2].quantity");
        assert!(p[1].description.contains("1 to 300"));
    }

    #[test]
    fn a_reseller_is_named_by_tenant_id_or_partner_id_and_must_be_a_third_tenant() {
        let id = Uuid::now_v7().to_string();
        assert_eq!(reseller_named("r", "").unwrap(), "");
        assert_eq!(reseller_named("r", &id.to_uppercase()).unwrap(), id);
        assert_eq!(reseller_named("r", " 4567890 ").unwrap(), "4567890");
        for bad in ["0456789", "12345", "skolit"] {
            assert_eq!(fields_of(reseller_named("r", bad).unwrap_err()), ["r"]);
        }
        let order = NewOrder::parse(&pb::PlaceOrderRequest {
            customer_tenant_id: Uuid::now_v7().to_string(),
            partner_tenant_id: id.clone(),
            indirect_reseller_id: "4567890".into(),
            line_items: vec![types::LineItem {
                offer_id: Uuid::now_v7().to_string(),
                quantity: 1,
                partner_of_record_mpn_id: "7777777".into(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(order.indirect_reseller_id, "4567890");
        assert_eq!(order.line_items[0].partner_of_record_mpn_id, "7777777");
        // The partner ID named the ordering partner itself.
        assert_eq!(
            fields_of(
                order
                    .clone()
                    .with_reseller(id.clone(), "3456789".into())
                    .unwrap_err()
            ),
            ["indirect_reseller_id"]
        );
        let resolved = order
            .with_reseller(Uuid::now_v7().to_string(), "4567890".into())
            .unwrap();
        assert_eq!(resolved.indirect_reseller_mpn_id, "4567890");
    }

    #[test]
    fn orders_need_one_to_fifty_lines_of_uuids() {
        assert_eq!(fields_of(line_items(&[]).unwrap_err()), ["line_items"]);
        let many = vec![types::LineItem::default(); MAX_LINE_ITEMS + 1];
        assert_eq!(fields_of(line_items(&many).unwrap_err()), ["line_items"]);
        let bad = [types::LineItem {
            offer_id: "nope".into(),
            quantity: 1,
            partner_of_record_mpn_id: "0123".into(),
            ..Default::default()
        }];
        assert_eq!(
            fields_of(line_items(&bad).unwrap_err()),
            [
                "line_items[0].offer_id",
                "line_items[0].partner_of_record_mpn_id"
            ]
        );
    }

    fn term(duration: TermDuration, billing_cycle: BillingCycle) -> Term {
        Term {
            duration,
            billing_cycle,
        }
    }

    #[test]
    fn a_term_is_picked_from_the_offers_terms_or_the_field_at_fault_is_named() {
        let mut spec = OfferSpec::parse("offer", Some(&offer(Cloud::Worldwide, &[]))).unwrap();
        assert_eq!(
            spec.terms,
            [Term::MONTHLY],
            "no terms: monthly billed monthly"
        );
        let annual_monthly = term(TermDuration::Annual, BillingCycle::Monthly);
        let annual_annual = term(TermDuration::Annual, BillingCycle::Annual);
        spec.terms = vec![annual_monthly, annual_annual];
        let pick = |d: i32, c: i32, spec: &OfferSpec| {
            TermChoice::parse("l.", d, c).unwrap().pick("l.", spec)
        };
        assert_eq!(pick(0, 0, &spec).unwrap(), annual_monthly);
        assert_eq!(
            pick(0, BillingCycle::Annual as i32, &spec).unwrap(),
            annual_annual
        );
        let p = pick(TermDuration::Monthly as i32, 0, &spec).unwrap_err();
        assert_eq!(
            (p.field.as_str(), p.reason),
            ("l.term_duration", TERM_NOT_OFFERED)
        );
        spec.terms = vec![annual_monthly];
        let p = pick(
            TermDuration::Annual as i32,
            BillingCycle::Annual as i32,
            &spec,
        )
        .unwrap_err();
        assert_eq!(p.field, "l.billing_cycle");
        assert_eq!(
            fields_of(TermChoice::parse("l.", 1, 2).unwrap_err()),
            ["l.billing_cycle"]
        );
        assert_eq!(
            fields_of(TermChoice::parse("l.", 9, -1).unwrap_err()),
            ["l.term_duration", "l.billing_cycle"]
        );
        for t in [Term::MONTHLY, annual_monthly, annual_annual] {
            assert_eq!(Term::decode(&t.encode()), Some(t));
        }
        assert_eq!(
            Term::decode("TERM_DURATION_MONTHLY:BILLING_CYCLE_ANNUAL"),
            None
        );
    }

    fn paid(term: Term, auto_renew: bool) -> Subscription {
        let spec = OfferSpec::parse("offer", Some(&offer(Cloud::Worldwide, &[]))).unwrap();
        let o = Offer {
            id: "o".into(),
            spec,
            create_time: 0,
        };
        Subscription {
            quantity: 10,
            auto_renew,
            ..Subscription::paid(&o, 10, term, 1_000)
        }
    }

    #[test]
    fn a_term_renews_or_expires_at_its_end_whether_or_not_a_sweep_stored_it() {
        let month = 30 * DAY_MICROS;
        let renewing = paid(Term::MONTHLY, true);
        assert_eq!(renewing.term_at(1_000 + month - 1), (1_000, 1_000 + month));
        assert_eq!(
            renewing.term_at(1_000 + month),
            (1_000 + month, 1_000 + 2 * month)
        );
        // Three terms later, still one current term.
        let late = 1_000 + 3 * month + 5;
        assert_eq!(
            renewing.term_at(late),
            (1_000 + 3 * month, 1_000 + 4 * month)
        );
        assert_eq!(renewing.state_at(late), State::Active);
        let (stored, kind) = renewing.term_ended(late).unwrap();
        assert_eq!(
            (stored.term_start_time, kind),
            (1_000 + 3 * month, EventType::Renewed)
        );
        assert!(stored.term_ended(late).is_none(), "once");

        let lapsing = paid(Term::MONTHLY, false);
        assert_eq!(lapsing.state_at(1_000 + month - 1), State::Active);
        assert_eq!(lapsing.state_at(1_000 + month), State::Expired);
        let (stored, kind) = lapsing.term_ended(1_000 + month).unwrap();
        assert_eq!((stored.state, kind), (State::Expired, EventType::TermEnded));
        assert!(stored.term_ended(1_000 + 2 * month).is_none(), "once");
        let suspended = Subscription {
            state: State::Suspended,
            ..lapsing.clone()
        };
        assert_eq!(suspended.state_at(1_000 + month), State::Expired);
    }

    #[test]
    fn licences_are_removed_only_within_the_window_of_the_current_term() {
        let window = 7 * DAY_MICROS;
        let s = paid(Term::MONTHLY, true);
        assert!(check_removal(&s, 9, 1_000 + window - 1, window).is_ok());
        assert!(
            check_removal(&s, 11, 1_000 + window, window).is_ok(),
            "adding"
        );
        let closed = check_removal(&s, 9, 1_000 + window, window).unwrap_err();
        assert!(matches!(
            closed,
            Error::CancellationWindowClosed { window_close_time, term_end_time }
                if window_close_time == 1_000 + window && term_end_time == 1_000 + 30 * DAY_MICROS
        ));
        // The next term opens the next window.
        assert!(check_removal(&s, 9, 1_000 + 30 * DAY_MICROS + 1, window).is_ok());
        let trial = Subscription {
            state: State::Trial,
            term: None,
            term_start_time: 0,
            term_end_time: 0,
            trial_end_time: Some(i64::MAX),
            ..s
        };
        assert!(check_removal(&trial, 1, i64::MAX - 1, window).is_ok());
    }

    #[test]
    fn cursors_are_opaque_and_checked() {
        for n in [0, 1, 42, i64::MAX] {
            assert_eq!(decode_cursor("cursor", &encode_cursor(n)).unwrap(), Some(n));
        }
        assert_eq!(decode_cursor("cursor", "").unwrap(), None);
        for bad in ["42", "!!", "ZTEy=", "ZS0x", "ZXg"] {
            assert_eq!(
                fields_of(decode_cursor("cursor", bad).unwrap_err()),
                ["cursor"],
                "{bad}"
            );
        }
    }

    #[test]
    fn a_trial_past_its_end_has_expired() {
        assert_eq!(state_at(State::Trial, Some(101), 100), State::Trial);
        assert_eq!(state_at(State::Trial, Some(100), 100), State::Expired);
        assert_eq!(state_at(State::Active, None, 100), State::Active);
        assert!(is_ended(State::Expired) && is_ended(State::Cancelled));
        assert!(!is_ended(State::Suspended));
    }

    #[test]
    fn transitions_follow_the_state_machine() {
        assert_eq!(
            Action::Suspend.apply(State::Active).unwrap(),
            State::Suspended
        );
        assert_eq!(
            Action::Reactivate.apply(State::Suspended).unwrap(),
            State::Active
        );
        for from in [State::Trial, State::Active, State::Suspended] {
            assert_eq!(Action::Cancel.apply(from).unwrap(), State::Cancelled);
        }
        for (action, from) in [
            (Action::Suspend, State::Trial),
            (Action::Suspend, State::Suspended),
            (Action::Reactivate, State::Active),
            (Action::Cancel, State::Cancelled),
            (Action::Cancel, State::Expired),
        ] {
            let err = action.apply(from).unwrap_err();
            assert!(
                matches!(err, Error::InvalidTransition { .. }),
                "{action:?} {from:?}"
            );
        }
        let message = Action::Suspend
            .apply(State::Cancelled)
            .unwrap_err()
            .to_string();
        assert!(message.contains("cancelled") && message.contains("only an active"));
    }

    #[test]
    fn a_patch_takes_the_masked_paths_and_checks_them() {
        let s = pb::Subscription {
            quantity: 7,
            partner_of_record_mpn_id: "0123".into(),
            ..Default::default()
        };
        let mask = |paths: &[&str]| prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        };
        let patch = SubscriptionPatch::parse(&s, Some(&mask(&["quantity", "auto_renew"]))).unwrap();
        assert_eq!(patch.quantity, Some(7));
        assert_eq!(patch.auto_renew, Some(false));
        assert_eq!(patch.partner_of_record_mpn_id, None);
        let err = SubscriptionPatch::parse(&s, None).unwrap_err();
        assert_eq!(fields_of(err), ["subscription.partner_of_record_mpn_id"]);
        let cleared = SubscriptionPatch::parse(
            &pb::Subscription::default(),
            Some(&mask(&["partner_of_record_mpn_id", "indirect_reseller_id"])),
        )
        .unwrap();
        assert_eq!(cleared.partner_of_record_mpn_id.as_deref(), Some(""));
        assert_eq!(cleared.indirect_reseller_id.as_deref(), Some(""));
        let err = SubscriptionPatch::parse(&s, Some(&mask(&["state"]))).unwrap_err();
        assert_eq!(fields_of(err), ["update_mask.paths[0]"]);
    }

    #[test]
    fn an_mpsa_read_names_its_customer_and_sees_what_mpsa_partners_bought_or_resold() {
        let customer = Uuid::now_v7().to_string();
        let reader = Uuid::now_v7().to_string();
        let req = pb::ListSubscriptionsRequest {
            mpsa_partner_tenant_id: reader.clone(),
            billing_partner_tenant_id: Uuid::now_v7().to_string(),
            ..Default::default()
        };
        assert_eq!(
            fields_of(SubscriptionFilter::parse(&req).unwrap_err()),
            ["customer_tenant_id"]
        );
        let req = pb::ListOrdersRequest {
            customer_tenant_id: customer.clone(),
            mpsa_partner_tenant_id: "nope".into(),
            ..Default::default()
        };
        assert_eq!(
            fields_of(OrderFilter::parse(&req).unwrap_err()),
            ["mpsa_partner_tenant_id"]
        );
        let req = pb::ListOrdersRequest {
            customer_tenant_id: customer.clone(),
            mpsa_partner_tenant_id: reader.clone(),
            ..Default::default()
        };
        let filter = OrderFilter::parse(&req).unwrap();
        assert_eq!(filter.mpsa_partner_tenant_id, reader);
        assert!(
            filter.made_by.is_empty(),
            "set only from the relationships service"
        );

        let other = Uuid::now_v7().to_string();
        let partners = vec![reader.clone(), other.clone()];
        assert_eq!(made_by_any_of(&partners), format!(",{reader},{other},"));
        let order = |partner: &str, reseller: &str| Order {
            id: "o".into(),
            customer_tenant_id: customer.clone(),
            partner_tenant_id: partner.into(),
            indirect_reseller_id: reseller.into(),
            line_items: Vec::new(),
            subscription_ids: Vec::new(),
            create_time: 0,
        };
        let stranger = Uuid::now_v7().to_string();
        assert!(order(&other, "").is_made_by_any_of(&partners));
        assert!(order(&stranger, &other).is_made_by_any_of(&partners));
        assert!(!order(&stranger, "").is_made_by_any_of(&partners));
        assert!(!order(&other, "").is_made_by_any_of(&[]));
    }
}
