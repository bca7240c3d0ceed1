//! The offer catalogue: the offers shipped in `catalogue.json` (read once at start and upserted
//! by their fixed ids, so restarts never duplicate them), and the one check of line items
//! against it that `PlaceOrder` and `CheckLineItems` share.

use crate::domain::{self, LineItem, Offer, OfferSpec, Problem, Subscription, Term};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::status::Violations;
use partnerhub_proto::subscriptions as pb;
use partnerhub_proto::types::{self, BillingCycle, Cloud, TermDuration};
use serde::Deserialize;
use sqlx::AnyConnection;
use uuid::Uuid;

/// The catalogue shipped with the service.
pub const SHIPPED: &str = include_str!("../catalogue.json");

/// Why a catalogue file can't be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("the offer catalogue (catalogue.json) is not valid JSON of offers: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the offer catalogue (catalogue.json) has invalid offers: {0}")]
    Offers(Violations),
}

/// The file: `{"offers": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    offers: Vec<FileOffer>,
}

/// One offer as the file writes it: the cloud by its enum name, the price as a decimal text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOffer {
    id: String,
    cloud: String,
    display_name: String,
    description: String,
    min_quantity: i32,
    max_quantity: i32,
    trial_available: bool,
    trial_days: i32,
    unit_price: FilePrice,
    #[serde(default)]
    country_codes: Vec<String>,
    /// Empty: a monthly term billed monthly.
    #[serde(default)]
    terms: Vec<FileTerm>,
    /// Ids of other offers of the file.
    #[serde(default)]
    upgrade_offer_ids: Vec<String>,
}

/// A term as the file writes it: both values by their enum names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTerm {
    term_duration: String,
    billing_cycle: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePrice {
    currency_code: String,
    /// A decimal amount, e.g. "12.50".
    amount: String,
}

/// Parses a catalogue file into offers with their fixed ids. Every offer is checked as
/// `CreateOffer` checks one; ids must be UUIDs, each once.
pub fn parse(json: &str) -> Result<Vec<(String, OfferSpec)>, CatalogueError> {
    let file: File = serde_json::from_str(json)?;
    let mut v = Violations::new();
    let mut offers: Vec<(String, OfferSpec)> = Vec::with_capacity(file.offers.len());
    for (i, o) in file.offers.iter().enumerate() {
        let field = format!("offers[{i}]");
        let id = match Uuid::parse_str(&o.id) {
            Ok(id) => Some(id.to_string()),
            Err(_) => {
                v.add(format!("{field}.id"), "must be a UUID");
                None
            }
        };
        if let Some(id) = &id
            && offers.iter().any(|(seen, _)| seen == id)
        {
            v.add(format!("{field}.id"), "repeats another offer's id");
        }
        // An unknown name becomes a number no cloud has, which the offer check names.
        let cloud = Cloud::from_str_name(&o.cloud).map_or(-1, |c| c as i32);
        // A bad amount is named here; the offer check then sees a price of 0.
        let (units, nanos) = v
            .take(amount(
                &format!("{field}.unit_price.amount"),
                &o.unit_price.amount,
            ))
            .unwrap_or_default();
        let offer = pb::Offer {
            cloud,
            display_name: o.display_name.clone(),
            description: o.description.clone(),
            min_quantity: o.min_quantity,
            max_quantity: o.max_quantity,
            trial_available: o.trial_available,
            trial_days: o.trial_days,
            unit_price: Some(types::Money {
                currency_code: o.unit_price.currency_code.clone(),
                units,
                nanos,
            }),
            country_codes: o.country_codes.clone(),
            // Unknown names become numbers no enum has, which the offer check names.
            terms: o
                .terms
                .iter()
                .map(|t| pb::Term {
                    term_duration: TermDuration::from_str_name(&t.term_duration)
                        .map_or(-1, |d| d as i32),
                    billing_cycle: BillingCycle::from_str_name(&t.billing_cycle)
                        .map_or(-1, |c| c as i32),
                })
                .collect(),
            upgrade_offer_ids: o.upgrade_offer_ids.clone(),
            ..Default::default()
        };
        let spec = v.take(OfferSpec::parse(&field, Some(&offer)));
        if let (Some(id), Some(spec)) = (id, spec) {
            offers.push((id, spec));
        }
    }
    v.check().map_err(CatalogueError::Offers)?;
    // Upgrade paths lead to other offers of the file, in the same cloud.
    let mut v = Violations::new();
    for (i, (id, spec)) in offers.iter().enumerate() {
        let targets: Vec<(String, Option<Cloud>)> = spec
            .upgrade_offer_ids
            .iter()
            .map(|t| {
                let found = offers.iter().find(|(o, _)| o == t).map(|(_, o)| o.cloud);
                (t.clone(), found)
            })
            .collect();
        v.extend(domain::upgrade_path_problems(
            &format!("offers[{i}].upgrade_offer_ids"),
            id,
            spec.cloud,
            &targets,
        ));
    }
    v.check().map_err(CatalogueError::Offers)?;
    Ok(offers)
}

/// A non-negative decimal amount ("12.50") as units and nanos.
fn amount(field: &str, text: &str) -> Result<(i64, i32), Violations> {
    let bad = || Violations::one(field, "must be a decimal amount like \"12.50\"");
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) if digits(fraction) => (whole, fraction),
        Some(_) => return Err(bad()),
        None => (text, ""),
    };
    if !digits(whole) || fraction.len() > 9 {
        return Err(bad());
    }
    let units = whole.parse::<i64>().map_err(|_| bad())?;
    let nanos = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}")
            .parse::<i32>()
            .map_err(|_| bad())?
    };
    Ok((units, nanos))
}

/// Puts the catalogue's offers into the offers table, in one transaction: new ones are added,
/// known ones take the file's values (and keep their creation time).
pub async fn install(
    conn: &mut AnyConnection,
    offers: &[(String, OfferSpec)],
    now: i64,
) -> Result<()> {
    for (id, spec) in offers {
        store::put_offer(conn, id, spec, now, true).await?;
    }
    Ok(())
}

/// One line item, checked.
#[derive(Debug, Clone)]
pub struct CheckedLine {
    /// As asked (an order keeps what was asked; its subscriptions show the term chosen).
    pub item: LineItem,
    /// `None`: no such offer.
    pub offer: Option<Offer>,
    /// The term chosen; `None` when there is no offer or it isn't sold on the term asked for.
    pub term: Option<Term>,
    pub problems: Vec<Problem>,
}

impl CheckedLine {
    /// The offer and term of a line without problems.
    pub fn bought(&self) -> Result<(&Offer, Term)> {
        match (&self.offer, self.term) {
            (Some(offer), Some(term)) => Ok((offer, term)),
            _ => Err(Error::inconsistent(format!(
                "line item of {} without offer or term",
                self.item.offer_id
            ))),
        }
    }
}

/// Checks line items for a customer in `cloud` and `country`: each offer exists, is sold in
/// that cloud and country, on the term asked for (the offer's first where none is), and each
/// quantity is within the offer's bounds. The one check behind `PlaceOrder` and
/// `CheckLineItems`.
pub async fn check_line_items(
    conn: &mut AnyConnection,
    items: &[LineItem],
    cloud: Cloud,
    country: &str,
) -> Result<Vec<CheckedLine>> {
    let mut lines = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let offer = store::offer(conn, &item.offer_id).await?;
        let problems = domain::line_item_problems(i, item, offer.as_ref(), cloud, country);
        let term = offer
            .as_ref()
            .and_then(|o| item.term.pick("", &o.spec).ok());
        lines.push(CheckedLine {
            item: item.clone(),
            offer,
            term,
            problems,
        });
    }
    Ok(lines)
}

/// Every problem of the lines, in line order.
pub fn problems(lines: &[CheckedLine]) -> impl Iterator<Item = &Problem> {
    lines.iter().flat_map(|l| l.problems.iter())
}

/// Refuses lines with problems: the first problem's reason, and every problem's field.
pub fn refuse_problems(lines: &[CheckedLine]) -> Result<()> {
    let mut problems = problems(lines).peekable();
    let Some(first) = problems.peek() else {
        return Ok(());
    };
    let reason = first.reason;
    let mut violations = Violations::new();
    for p in problems {
        violations.add(p.field.clone(), p.description.clone());
    }
    Err(Error::Rejected { reason, violations })
}

/// The subscriptions the lines without problems would make at `now` (drafts: no ids, parties
/// but the partner of record not set).
pub fn drafts(lines: &[CheckedLine], now: i64) -> Vec<Subscription> {
    lines
        .iter()
        .filter(|l| l.problems.is_empty())
        .filter_map(|l| {
            l.bought().ok().map(|(o, term)| Subscription {
                partner_of_record_mpn_id: l.item.partner_of_record_mpn_id.clone(),
                ..Subscription::paid(o, l.item.quantity, term, now)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_parses_and_covers_every_cloud() {
        let offers = parse(SHIPPED).expect("the shipped catalogue is valid");
        assert!((10..=14).contains(&offers.len()), "{} offers", offers.len());
        for cloud in [
            Cloud::Worldwide,
            Cloud::Germany,
            Cloud::China21vianet,
            Cloud::UsGovernment,
        ] {
            let of_cloud: Vec<_> = offers.iter().filter(|(_, o)| o.cloud == cloud).collect();
            assert!(!of_cloud.is_empty(), "{cloud:?} has offers");
            if let Some(only) = partnerhub_rules::cloud::country(cloud) {
                assert!(of_cloud.iter().all(|(_, o)| o.country_codes == [only]));
            }
        }
        let currency = |cloud| {
            offers
                .iter()
                .filter(|(_, o)| o.cloud == cloud)
                .all(|(_, o)| {
                    o.unit_price.currency_code
                        == match cloud {
                            Cloud::Germany => "EUR",
                            Cloud::China21vianet => "CNY",
                            _ => "USD",
                        }
                })
        };
        assert!(currency(Cloud::Germany) && currency(Cloud::China21vianet));
        assert!(currency(Cloud::UsGovernment) && currency(Cloud::Worldwide));
    }

    #[test]
    fn a_bad_catalogue_is_refused_with_every_fault_named() {
        assert!(matches!(parse("{"), Err(CatalogueError::Json(_))));
        assert!(matches!(
            parse(r#"{"offers": [], "extra": 1}"#),
            Err(CatalogueError::Json(_))
        ));
        let bad = r#"{"offers": [
            {"id": "nope", "cloud": "CLOUD_MARS", "display_name": "", "description": "d",
             "min_quantity": 5, "max_quantity": 1, "trial_available": false, "trial_days": 0,
             "unit_price": {"currency_code": "EUR", "amount": "1,5"}}
        ]}"#;
        let Err(CatalogueError::Offers(v)) = parse(bad) else {
            panic!("a bad offer is refused");
        };
        let fields: Vec<_> = v.as_slice().iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "offers[0].id",
                "offers[0].unit_price.amount",
                "offers[0].cloud",
                "offers[0].display_name",
                "offers[0].max_quantity",
            ]
        );
    }

    #[test]
    fn upgrade_paths_lead_to_other_offers_of_the_file_in_the_same_cloud() {
        let offers = parse(SHIPPED).expect("the shipped catalogue is valid");
        let named = |name: &str| {
            offers
                .iter()
                .find(|(_, o)| o.display_name == name && o.cloud == Cloud::Worldwide)
                .unwrap_or_else(|| panic!("{name}"))
        };
        let (standard, premium) = (named("Business Standard"), named("Business Premium"));
        assert_eq!(
            named("Business Basic").1.upgrade_offer_ids,
            [standard.0.clone(), premium.0.clone()]
        );
        assert!(offers.iter().all(|(_, o)| !o.terms.is_empty()));
        let offer = |id: &str, cloud: &str, upgrades: &str| {
            format!(
                r#"{{"id": "{id}", "cloud": "{cloud}", "display_name": "n", "description": "d",
                   "min_quantity": 1, "max_quantity": 1, "trial_available": false,
                   "trial_days": 0, "unit_price": {{"currency_code": "EUR", "amount": "1"}},
                   "terms": [{{"term_duration": "TERM_DURATION_ANNUAL",
                               "billing_cycle": "BILLING_CYCLE_ANNUAL"}}],
                   "upgrade_offer_ids": [{upgrades}]}}"#
            )
        };
        let (a, b) = (
            "01a1fc99-0000-7000-8000-000000000001",
            "01a1fc99-0000-7000-8000-000000000002",
        );
        let bad = format!(
            r#"{{"offers": [{}, {}]}}"#,
            offer(
                a,
                "CLOUD_WORLDWIDE",
                &format!("\"{b}\", \"{a}\", \"{}\"", Uuid::nil())
            ),
            offer(b, "CLOUD_GERMANY", "")
        );
        let Err(CatalogueError::Offers(v)) = parse(&bad) else {
            panic!("bad upgrade paths are refused");
        };
        let fields: Vec<_> = v.as_slice().iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "offers[0].upgrade_offer_ids[0]",
                "offers[0].upgrade_offer_ids[1]",
                "offers[0].upgrade_offer_ids[2]"
            ]
        );
    }

    #[test]
    fn amounts_are_decimal_texts() {
        assert_eq!(amount("a", "12.50").unwrap(), (12, 500_000_000));
        assert_eq!(amount("a", "0").unwrap(), (0, 0));
        assert_eq!(amount("a", "3.000000001").unwrap(), (3, 1));
        for bad in ["", "-1", "1.", ".5", "1.2.3", "1e3", "1.0000000001"] {
            assert!(amount("a", bad).is_err(), "{bad}");
        }
    }
}
