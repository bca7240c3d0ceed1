//! The e-mail draft that comes with a new invitation (seeds 003 and 004): a subject and a
//! plain-text body in the invitation's language, naming the partner, what it asks for, the link
//! and the expiry, plus a `mailto:` URL that opens it in an e-mail program. The partner may edit
//! the text but must keep the link.

use crate::domain::{Kind, Locale};
use partnerhub_kit::uri::percent_encode;
use partnerhub_proto::invitations as pb;
use partnerhub_proto::types::Role;
use partnerhub_rules::delegation::{EXTENSION, Grant};
use std::time::Duration;

/// What the draft speaks of.
pub struct Letter<'a> {
    pub locale: Locale,
    pub kind: Kind,
    pub partner_name: &'a str,
    pub mpn_id: &'a str,
    pub delegated_admin: Option<&'a Grant>,
    /// The offers, in the invitation's line item order (the trial's one, a purchase offer's
    /// list, a partner of record invitation's optional one).
    pub offers: &'a [Offered<'a>],
    pub url: &'a str,
    /// Microseconds since the epoch.
    pub expire_time: i64,
    /// Empty: the partner fills in the recipient.
    pub invitee_email: &'a str,
}

/// An offer the invitation carries, as the draft names it.
#[derive(Debug, Clone, Copy)]
pub struct Offered<'a> {
    /// The offer's name in the catalogue.
    pub name: &'a str,
    /// Licences.
    pub quantity: i32,
    /// Length of its trial in days; 0: no trial (or unknown).
    pub trial_days: i32,
}

/// Writes the draft.
pub fn compose(letter: &Letter<'_>) -> pb::EmailDraft {
    let (subject, body) = match letter.locale {
        Locale::English => english(letter),
        Locale::Swedish => swedish(letter),
    };
    let mailto_url = mailto(letter.invitee_email, &subject, &body);
    pb::EmailDraft {
        subject,
        body,
        mailto_url,
    }
}

fn english(l: &Letter<'_>) -> (String, String) {
    let partner = l.partner_name;
    let (subject, asks) = match l.kind {
        Kind::ResellerRelationship => (
            format!("{partner} invites you to a reseller relationship"),
            format!(
                "{partner} (partner ID {}) invites your organisation to a reseller \
                 relationship. As your reseller, {partner} can sell you subscriptions and bill \
                 you for them.",
                l.mpn_id
            ),
        ),
        Kind::DelegatedAdmin => (
            format!("{partner} asks for delegated admin rights"),
            format!(
                "{partner} (partner ID {}) asks for delegated admin rights in your \
                 organisation, to manage your services for you.",
                l.mpn_id
            ),
        ),
        Kind::IndirectPartnership => (
            format!("{partner} invites you to become its indirect reseller"),
            format!(
                "{partner} (partner ID {}), an indirect provider, invites your company to \
                 become its indirect reseller. Once you accept, you and {partner} can serve \
                 customers together: {partner} can add new customers and subscriptions for you, \
                 submit orders on behalf of your customers and name you as the reseller on \
                 their subscriptions.",
                l.mpn_id
            ),
        ),
        Kind::Trial => {
            let (name, terms) = match l.offers.first() {
                Some(o) => (o.name, trial_terms(o, Locale::English)),
                None => ("a subscription", String::new()),
            };
            (
                format!("{partner} offers you a free trial of {name}"),
                format!(
                    "{partner} (partner ID {}), a subscription advisor, offers your \
                     organisation a free trial of {name}{terms}. {}",
                    l.mpn_id,
                    advisor_role(partner, Locale::English)
                ),
            )
        }
        Kind::PurchaseOffer => (
            format!("{partner} sends you a purchase offer"),
            format!(
                "{partner} (partner ID {}), a subscription advisor, offers your organisation \
                 these subscriptions:\n\n{}\n\nYou can change the number of licences when you \
                 buy. {}",
                l.mpn_id,
                offer_list(l.offers, Locale::English),
                advisor_role(partner, Locale::English)
            ),
        ),
        Kind::PartnerOfRecord => {
            let mut asks = format!(
                "{partner} (partner ID {}) asks your organisation to authorise {partner} as \
                 partner of record for your subscriptions, and as your delegated admin. As \
                 partner of record, {partner} is told of changes to your subscriptions and \
                 helps you with them; as delegated admin, {partner} can manage your services \
                 for you.",
                l.mpn_id
            );
            if let Some(o) = l.offers.first() {
                asks.push_str(&format!(
                    " The offer also comes with {} of {}: once you have authorised {partner}, \
                     you create the trial or subscription.",
                    licences(o.quantity, Locale::English),
                    o.name
                ));
            }
            (
                format!("{partner} asks you to authorise it as partner of record"),
                asks,
            )
        }
        Kind::Collaborator => (
            format!("{partner} asks to work with you as your partner"),
            format!(
                "{partner} (partner ID {}) asks your organisation to work with it as your \
                 partner: you give {partner} a user account in your organisation, and \
                 {partner} works with your other services for you. This gives {partner} no \
                 admin roles; your administrators decide what the account may do.",
                l.mpn_id
            ),
        ),
        Kind::Mpsa => (
            format!("{partner} asks to be your MPSA partner"),
            format!(
                "{partner} (partner ID {}) asks your organisation to add it as a partner under \
                 the Microsoft Products & Services Agreement (MPSA). Your MPSA partners see each \
                 other's purchases for your organisation, and no one else's. This gives \
                 {partner} no admin roles.",
                l.mpn_id
            ),
        ),
        Kind::LineOfBusiness => (
            format!("{partner} asks to be your line-of-business partner"),
            format!(
                "{partner} (partner ID {}) asks your organisation to add it as a \
                 line-of-business partner: {partner} can develop, send and manage \
                 line-of-business apps made for your organisation. This gives {partner} no \
                 admin roles.",
                l.mpn_id
            ),
        ),
    };
    let mut body = format!("Hello,\n\n{asks}\n\n");
    if let Some(grant) = l.delegated_admin {
        let roles = list(
            grant.roles.iter().map(|r| role_name(*r, Locale::English)),
            "and",
        );
        let lead = match l.kind {
            Kind::ResellerRelationship | Kind::Trial | Kind::PurchaseOffer => {
                format!("{partner} also asks for delegated admin rights")
            }
            // The last four never carry delegated admin (NewInvitation::parse).
            Kind::DelegatedAdmin
            | Kind::IndirectPartnership
            | Kind::Collaborator
            | Kind::Mpsa
            | Kind::LineOfBusiness => "The rights asked for".to_string(),
            Kind::PartnerOfRecord => "The delegated admin rights asked for".to_string(),
        };
        let term = match grant.duration {
            Some(d) if grant.auto_extend => format!(
                "for {} from your acceptance, extended by {} at a time until you remove them",
                span(d, Locale::English),
                span(EXTENSION, Locale::English)
            ),
            Some(d) => format!("for {} from your acceptance", span(d, Locale::English)),
            None => "with no end date, until you remove them".to_string(),
        };
        body.push_str(&format!(
            "{lead}: {roles}, {term}. You can remove them at any time.\n\n"
        ));
    }
    let who = if l.kind.grants_no_admin_roles() {
        "a global or billing administrator"
    } else {
        "a global administrator"
    };
    let (whose, agreement) = if l.kind.invites_customers() {
        (
            "your organisation",
            " If your organisation has not accepted the customer agreement yet, it is asked to \
             accept it too.",
        )
    } else {
        ("your company", "")
    };
    body.push_str(&format!(
        "To accept, {who} of {whose} opens this link and follows the steps:\n\n{}\n\nThe invitation can be accepted until {}.{agreement}\n\n\
         Kind regards,\n{partner}\n",
        l.url,
        date_time(l.expire_time, Locale::English)
    ));
    (subject, body)
}

fn swedish(l: &Letter<'_>) -> (String, String) {
    let partner = l.partner_name;
    let (subject, asks) = match l.kind {
        Kind::ResellerRelationship => (
            format!("{partner} bjuder in er till en återförsäljarrelation"),
            format!(
                "{partner} (partner-ID {}) bjuder in er organisation till en \
                 återförsäljarrelation. Som er återförsäljare kan {partner} sälja prenumerationer \
                 till er och fakturera er för dem.",
                l.mpn_id
            ),
        ),
        Kind::DelegatedAdmin => (
            format!("{partner} ber om delegerad administratörsbehörighet"),
            format!(
                "{partner} (partner-ID {}) ber om delegerad administratörsbehörighet i er \
                 organisation, för att kunna hantera era tjänster åt er.",
                l.mpn_id
            ),
        ),
        Kind::IndirectPartnership => (
            format!("{partner} bjuder in er att bli indirekt återförsäljare"),
            format!(
                "{partner} (partner-ID {}), indirekt leverantör, bjuder in ert företag att bli \
                 indirekt återförsäljare för {partner}. När ni har accepterat kan ni och \
                 {partner} betjäna kunder tillsammans: {partner} kan lägga till nya kunder och \
                 prenumerationer åt er, lägga beställningar för era kunder och ange er som \
                 återförsäljare på deras prenumerationer.",
                l.mpn_id
            ),
        ),
        Kind::Trial => {
            let (name, terms) = match l.offers.first() {
                Some(o) => (o.name, trial_terms(o, Locale::Swedish)),
                None => ("en prenumeration", String::new()),
            };
            (
                format!("{partner} erbjuder er en kostnadsfri utvärdering av {name}"),
                format!(
                    "{partner} (partner-ID {}), abonnemangsrådgivare, erbjuder er organisation \
                     en kostnadsfri utvärdering av {name}{terms}. {}",
                    l.mpn_id,
                    advisor_role(partner, Locale::Swedish)
                ),
            )
        }
        Kind::PurchaseOffer => (
            format!("{partner} skickar ett köperbjudande till er"),
            format!(
                "{partner} (partner-ID {}), abonnemangsrådgivare, erbjuder er organisation \
                 följande prenumerationer:\n\n{}\n\nNi kan ändra antalet licenser när ni \
                 köper. {}",
                l.mpn_id,
                offer_list(l.offers, Locale::Swedish),
                advisor_role(partner, Locale::Swedish)
            ),
        ),
        Kind::PartnerOfRecord => {
            let mut asks = format!(
                "{partner} (partner-ID {}) ber er organisation att auktorisera {partner} som \
                 partner för posten för era prenumerationer och som delegerad administratör. \
                 Som partner för posten får {partner} veta om ändringar i era prenumerationer \
                 och hjälper er med dem; som delegerad administratör kan {partner} hantera era \
                 tjänster åt er.",
                l.mpn_id
            );
            if let Some(o) = l.offers.first() {
                asks.push_str(&format!(
                    " Erbjudandet omfattar också {} av {}: när ni har auktoriserat {partner} \
                     skapar ni utvärderings- eller prenumerationskontot.",
                    licences(o.quantity, Locale::Swedish),
                    o.name
                ));
            }
            (
                format!("{partner} ber er auktorisera dem som partner för posten"),
                asks,
            )
        }
        Kind::Collaborator => (
            format!("{partner} vill samarbeta med er som partner"),
            format!(
                "{partner} (partner-ID {}) ber att få samarbeta med er organisation som \
                 partner: ni ger {partner} ett användarkonto i er organisation, och {partner} \
                 arbetar med era övriga tjänster åt er. {partner} får inga \
                 administratörsroller; era administratörer bestämmer vad kontot får göra.",
                l.mpn_id
            ),
        ),
        Kind::Mpsa => (
            format!("{partner} vill bli er MPSA-partner"),
            format!(
                "{partner} (partner-ID {}) ber att få bli partner till er organisation inom \
                 Microsoft Products & Services Agreement (MPSA). Era MPSA-partner ser varandras \
                 inköp för er organisation, men inga andras. {partner} får inga \
                 administratörsroller.",
                l.mpn_id
            ),
        ),
        Kind::LineOfBusiness => (
            format!("{partner} vill bli er partner för verksamhetsprogram (LOB)"),
            format!(
                "{partner} (partner-ID {}) ber att få bli partner för verksamhetsprogram (LOB) \
                 till er organisation: {partner} kan utveckla, skicka och hantera LOB-program \
                 som är gjorda för er organisation. {partner} får inga administratörsroller.",
                l.mpn_id
            ),
        ),
    };
    let mut body = format!("Hej!\n\n{asks}\n\n");
    if let Some(grant) = l.delegated_admin {
        let roles = list(
            grant.roles.iter().map(|r| role_name(*r, Locale::Swedish)),
            "och",
        );
        let lead = match l.kind {
            Kind::ResellerRelationship | Kind::Trial | Kind::PurchaseOffer => {
                format!("{partner} ber också om delegerad administratörsbehörighet")
            }
            Kind::DelegatedAdmin
            | Kind::IndirectPartnership
            | Kind::Collaborator
            | Kind::Mpsa
            | Kind::LineOfBusiness => "Behörigheten som efterfrågas".to_string(),
            Kind::PartnerOfRecord => {
                "Den delegerade administratörsbehörighet som efterfrågas".to_string()
            }
        };
        let term = match grant.duration {
            Some(d) if grant.auto_extend => format!(
                "i {} från att ni accepterar, och förlängs med {} i taget tills ni tar bort den",
                span(d, Locale::Swedish),
                span(EXTENSION, Locale::Swedish)
            ),
            Some(d) => format!("i {} från att ni accepterar", span(d, Locale::Swedish)),
            None => "utan slutdatum, tills ni tar bort den".to_string(),
        };
        body.push_str(&format!(
            "{lead}: {roles}, {term}. Ni kan ta bort behörigheten när som helst.\n\n"
        ));
    }
    let who = if l.kind.grants_no_admin_roles() {
        "en global administratör eller faktureringsadministratör"
    } else {
        "en global administratör"
    };
    let (whose, agreement) = if l.kind.invites_customers() {
        (
            "er organisation",
            " Om er organisation inte har godkänt kundavtalet än ombeds ni att godkänna det \
             samtidigt.",
        )
    } else {
        ("ert företag", "")
    };
    body.push_str(&format!(
        "För att acceptera öppnar {who} i {whose} den här länken och följer stegen:\n\n{}\n\nInbjudan kan accepteras fram till {}.{agreement}\n\n\
         Med vänliga hälsningar\n{partner}\n",
        l.url,
        date_time(l.expire_time, Locale::Swedish)
    ));
    (subject, body)
}

/// "1 licence" / "25 licenser".
fn licences(n: i32, locale: Locale) -> String {
    let word = match (locale, n == 1) {
        (Locale::English, true) => "licence",
        (Locale::English, false) => "licences",
        (Locale::Swedish, true) => "licens",
        (Locale::Swedish, false) => "licenser",
    };
    format!("{n} {word}")
}

/// " for 30 days, with 25 licences" / " i 30 dagar, med 25 licenser".
fn trial_terms(o: &Offered<'_>, locale: Locale) -> String {
    let days = u64::try_from(o.trial_days).unwrap_or(0);
    let length = (days > 0).then(|| span(Duration::from_secs(days * 86_400), locale));
    match (locale, length) {
        (Locale::English, Some(length)) => {
            format!(" for {length}, with {}", licences(o.quantity, locale))
        }
        (Locale::English, None) => format!(" with {}", licences(o.quantity, locale)),
        (Locale::Swedish, Some(length)) => {
            format!(" i {length}, med {}", licences(o.quantity, locale))
        }
        (Locale::Swedish, None) => format!(" med {}", licences(o.quantity, locale)),
    }
}

/// One line per offer: "- Business Basic: 25 licences".
fn offer_list(offers: &[Offered<'_>], locale: Locale) -> String {
    offers
        .iter()
        .map(|o| format!("- {}: {}", o.name, licences(o.quantity, locale)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What accepting an advisor's invitation makes the advisor (the ADVISOR relationship).
fn advisor_role(partner: &str, locale: Locale) -> String {
    match locale {
        Locale::English => format!(
            "When you accept, {partner} becomes your subscription advisor: it helps you with \
             sales, support and technical questions, and can reset passwords and manage support \
             incidents for you."
        ),
        Locale::Swedish => format!(
            "När ni accepterar blir {partner} er abonnemangsrådgivare: {partner} hjälper er med \
             försäljning, support och teknik, och kan återställa lösenord och hantera \
             supportärenden åt er."
        ),
    }
}

/// A customer role in words.
fn role_name(role: Role, locale: Locale) -> &'static str {
    match (role, locale) {
        (Role::GlobalAdmin, Locale::English) => "Global administrator",
        (Role::BillingAdmin, Locale::English) => "Billing administrator",
        (Role::UserAdmin, Locale::English) => "User administrator",
        (Role::HelpdeskAdmin, Locale::English) => "Helpdesk (password) administrator",
        (Role::GlobalAdmin, Locale::Swedish) => "global administratör",
        (Role::BillingAdmin, Locale::Swedish) => "faktureringsadministratör",
        (Role::UserAdmin, Locale::Swedish) => "användaradministratör",
        (Role::HelpdeskAdmin, Locale::Swedish) => "lösenordsadministratör",
        // Grants hold customer roles only (partnerhub_rules::delegation::GRANTABLE).
        (other, _) => other.as_str_name(),
    }
}

/// "a, b and c".
fn list<'a>(items: impl Iterator<Item = &'a str>, and: &str) -> String {
    let items: Vec<&str> = items.collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} {and} {last}", rest.join(", ")),
    }
}

/// A length of time in whole days (or hours, when not whole days).
fn span(d: Duration, locale: Locale) -> String {
    let secs = d.as_secs();
    let (n, unit) = if secs.is_multiple_of(86_400) {
        (secs / 86_400, ("day", "days", "dag", "dagar"))
    } else {
        (secs.div_ceil(3600), ("hour", "hours", "timme", "timmar"))
    };
    let word = match (locale, n == 1) {
        (Locale::English, true) => unit.0,
        (Locale::English, false) => unit.1,
        (Locale::Swedish, true) => unit.2,
        (Locale::Swedish, false) => unit.3,
    };
    format!("{n} {word}")
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_SV: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];

/// "1 May 2026, 14:03 UTC" / "1 maj 2026 kl. 14:03 UTC".
fn date_time(micros: i64, locale: Locale) -> String {
    let secs = micros.div_euclid(1_000_000);
    let (year, month, day) = civil_date(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    let (hour, minute) = (of_day / 3600, of_day % 3600 / 60);
    let index = usize::try_from(month.saturating_sub(1))
        .unwrap_or(0)
        .min(11);
    match locale {
        Locale::English => format!(
            "{day} {} {year}, {hour:02}:{minute:02} UTC",
            MONTHS_EN[index]
        ),
        Locale::Swedish => format!(
            "{day} {} {year} kl. {hour:02}:{minute:02} UTC",
            MONTHS_SV[index]
        ),
    }
}

/// The (year, month, day) of a day counted from 1970-01-01 (proleptic Gregorian calendar;
/// Howard Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `mailto:<to>?subject=…&body=…` (RFC 6068): line breaks become CRLF, everything but RFC 3986
/// unreserved characters is percent-encoded (UTF-8).
fn mailto(to: &str, subject: &str, body: &str) -> String {
    let body = body.replace("\r\n", "\n").replace('\n', "\r\n");
    format!(
        "mailto:{}?subject={}&body={}",
        percent_encode(to, b"@"),
        percent_encode(subject, b""),
        percent_encode(&body, b"")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter<'a>(locale: Locale, grant: Option<&'a Grant>) -> Letter<'a> {
        Letter {
            locale,
            kind: Kind::ResellerRelationship,
            partner_name: "Fabrikam AB",
            mpn_id: "1234567",
            delegated_admin: grant,
            offers: &[],
            url: "https://admin.example/partner-invitation?code=abc",
            // 2026-05-01T14:03:00Z
            expire_time: 1_777_644_180_000_000,
            invitee_email: "maja@example.com",
        }
    }

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(19_723), (2024, 1, 1));
        assert_eq!(civil_date(19_782), (2024, 2, 29));
        assert_eq!(civil_date(-1), (1969, 12, 31));
        assert_eq!(
            date_time(1_777_644_180_000_000, Locale::English),
            "1 May 2026, 14:03 UTC"
        );
        assert_eq!(
            date_time(1_777_644_180_000_000, Locale::Swedish),
            "1 maj 2026 kl. 14:03 UTC"
        );
    }

    #[test]
    fn the_draft_names_the_partner_what_is_asked_the_link_and_the_expiry() {
        let grant = Grant {
            roles: vec![Role::GlobalAdmin, Role::HelpdeskAdmin],
            duration: Some(Duration::from_secs(730 * 86_400)),
            auto_extend: false,
        };
        let en = compose(&letter(Locale::English, Some(&grant)));
        assert!(en.subject.contains("Fabrikam AB"));
        for part in [
            "Fabrikam AB (partner ID 1234567)",
            "reseller relationship",
            "Global administrator and Helpdesk (password) administrator",
            "for 730 days",
            "https://admin.example/partner-invitation?code=abc",
            "1 May 2026",
        ] {
            assert!(en.body.contains(part), "{part} in {}", en.body);
        }
        let sv = compose(&letter(Locale::Swedish, Some(&grant)));
        for part in [
            "återförsäljarrelation",
            "global administratör och lösenordsadministratör",
            "730 dagar",
            "https://admin.example/partner-invitation?code=abc",
            "1 maj 2026",
        ] {
            assert!(sv.body.contains(part), "{part} in {}", sv.body);
        }
        let plain = compose(&letter(Locale::English, None));
        assert!(!plain.body.contains("delegated admin"));
    }

    #[test]
    fn an_indirect_partnership_draft_asks_the_reseller_to_partner_with_the_provider() {
        let mut l = letter(Locale::English, None);
        l.kind = Kind::IndirectPartnership;
        let en = compose(&l);
        assert_eq!(
            en.subject,
            "Fabrikam AB invites you to become its indirect reseller"
        );
        for part in [
            "Fabrikam AB (partner ID 1234567), an indirect provider",
            "become its indirect reseller",
            "add new customers and subscriptions for you",
            "https://admin.example/partner-invitation?code=abc",
            "can be accepted until 1 May 2026, 14:03 UTC",
        ] {
            assert!(en.body.contains(part), "{part} in {}", en.body);
        }
        assert!(!en.body.contains("customer agreement"), "{}", en.body);
        l.locale = Locale::Swedish;
        let sv = compose(&l);
        assert!(
            sv.subject.contains("indirekt återförsäljare"),
            "{}",
            sv.subject
        );
        for part in [
            "indirekt leverantör",
            "indirekt återförsäljare för Fabrikam AB",
            "https://admin.example/partner-invitation?code=abc",
            "fram till 1 maj 2026 kl. 14:03 UTC",
        ] {
            assert!(sv.body.contains(part), "{part} in {}", sv.body);
        }
        assert!(!sv.body.contains("kundavtalet"), "{}", sv.body);
    }

    const BASIC: Offered<'static> = Offered {
        name: "Business Basic",
        quantity: 25,
        trial_days: 30,
    };
    const EXCHANGE: Offered<'static> = Offered {
        name: "Exchange Online Plan 1",
        quantity: 1,
        trial_days: 0,
    };

    #[test]
    fn an_advisors_drafts_name_the_offers_and_licence_counts() {
        let offers = [BASIC];
        let mut l = letter(Locale::English, None);
        l.kind = Kind::Trial;
        l.offers = &offers;
        let en = compose(&l);
        assert_eq!(
            en.subject,
            "Fabrikam AB offers you a free trial of Business Basic"
        );
        for part in [
            "free trial of Business Basic for 30 days, with 25 licences",
            "subscription advisor",
            "https://admin.example/partner-invitation?code=abc",
            "1 May 2026, 14:03 UTC",
        ] {
            assert!(en.body.contains(part), "{part} in {}", en.body);
        }
        l.locale = Locale::Swedish;
        let sv = compose(&l);
        assert_eq!(
            sv.subject,
            "Fabrikam AB erbjuder er en kostnadsfri utvärdering av Business Basic"
        );
        assert!(
            sv.body.contains("i 30 dagar, med 25 licenser"),
            "{}",
            sv.body
        );

        let offers = [BASIC, EXCHANGE];
        let mut l = letter(Locale::English, None);
        l.kind = Kind::PurchaseOffer;
        l.offers = &offers;
        let en = compose(&l);
        for part in [
            "- Business Basic: 25 licences\n- Exchange Online Plan 1: 1 licence\n",
            "change the number of licences",
        ] {
            assert!(en.body.contains(part), "{part} in {}", en.body);
        }
        l.locale = Locale::Swedish;
        let sv = compose(&l);
        assert!(sv.subject.contains("köperbjudande"), "{}", sv.subject);
        assert!(
            sv.body
                .contains("- Business Basic: 25 licenser\n- Exchange Online Plan 1: 1 licens\n"),
            "{}",
            sv.body
        );
    }

    #[test]
    fn a_partner_of_record_draft_asks_for_authorisation_and_delegated_admin() {
        let grant = Grant {
            roles: vec![Role::GlobalAdmin, Role::HelpdeskAdmin],
            duration: None,
            auto_extend: false,
        };
        let offers = [BASIC];
        let mut l = letter(Locale::English, Some(&grant));
        l.kind = Kind::PartnerOfRecord;
        l.offers = &offers;
        let en = compose(&l);
        assert_eq!(
            en.subject,
            "Fabrikam AB asks you to authorise it as partner of record"
        );
        for part in [
            "authorise Fabrikam AB as partner of record for your subscriptions",
            "delegated admin",
            "25 licences of Business Basic",
            "Global administrator and Helpdesk (password) administrator",
        ] {
            assert!(en.body.contains(part), "{part} in {}", en.body);
        }
        l.locale = Locale::Swedish;
        l.offers = &[];
        let sv = compose(&l);
        for part in [
            "partner för posten",
            "delegerad administratör",
            "global administratör och lösenordsadministratör",
        ] {
            assert!(sv.body.contains(part), "{part} in {}", sv.body);
        }
        assert!(!sv.body.contains("Erbjudandet omfattar"), "{}", sv.body);
    }

    #[test]
    fn seed_001s_other_partners_drafts_say_what_accepting_grants_and_who_accepts() {
        for (kind, subject, says, sv_says) in [
            (
                Kind::Collaborator,
                "Fabrikam AB asks to work with you as your partner",
                "you give Fabrikam AB a user account in your organisation",
                "ett användarkonto i er organisation",
            ),
            (
                Kind::Mpsa,
                "Fabrikam AB asks to be your MPSA partner",
                "Your MPSA partners see each other's purchases for your organisation",
                "Era MPSA-partner ser varandras inköp",
            ),
            (
                Kind::LineOfBusiness,
                "Fabrikam AB asks to be your line-of-business partner",
                "develop, send and manage line-of-business apps",
                "utveckla, skicka och hantera LOB-program",
            ),
        ] {
            let mut l = letter(Locale::English, None);
            l.kind = kind;
            let en = compose(&l);
            assert_eq!(en.subject, subject);
            for part in [
                says,
                "Fabrikam AB (partner ID 1234567)",
                "no admin roles",
                "a global or billing administrator of your organisation opens this link",
                "https://admin.example/partner-invitation?code=abc",
                "customer agreement",
            ] {
                assert!(en.body.contains(part), "{part} in {}", en.body);
            }
            l.locale = Locale::Swedish;
            let sv = compose(&l);
            for part in [
                sv_says,
                "inga administratörsroller",
                "en global administratör eller faktureringsadministratör i er organisation",
            ] {
                assert!(sv.body.contains(part), "{part} in {}", sv.body);
            }
        }
        // The kinds that grant admin roles still ask a global administrator.
        let en = compose(&letter(Locale::English, None));
        assert!(en.body.contains("To accept, a global administrator of"));
    }

    #[test]
    fn mailto_urls_encode_everything_but_unreserved_characters() {
        assert_eq!(
            mailto("maja@example.com", "Hej då & välkommen", "a\nb?"),
            "mailto:maja@example.com?subject=Hej%20d%C3%A5%20%26%20v%C3%A4lkommen&body=a%0D%0Ab%3F"
        );
        let draft = compose(&letter(Locale::English, None));
        assert!(
            draft
                .mailto_url
                .starts_with("mailto:maja@example.com?subject=")
        );
        assert!(draft.mailto_url.contains(&percent_encode(
            "https://admin.example/partner-invitation?code=abc",
            b""
        )));
    }
}
