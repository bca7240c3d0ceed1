//! The invitations domain: requests parsed once, at the edge, into types deeper code trusts;
//! an invitation as stored and its effective state; the cloud rules of a request.

use crate::error::Error;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_kit::time::micros;
use partnerhub_proto::invitations::{self as pb, InvitationKind, invitation};
use partnerhub_proto::types::Cloud;
use partnerhub_rules::delegation::{self, Grant};
use partnerhub_rules::roles::{self, Roles};
use std::time::Duration;
use uuid::Uuid;

/// The shortest `ttl` a request may name.
pub const MIN_TTL: Duration = Duration::from_secs(3600);
/// The longest `ttl` a request may name.
pub const MAX_TTL: Duration = Duration::from_secs(365 * 86_400);

/// The most line items a purchase offer carries.
pub const MAX_PURCHASE_LINE_ITEMS: usize = 20;

/// The kinds of invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ResellerRelationship,
    DelegatedAdmin,
    /// An indirect provider asks an enrolled indirect reseller to partner with it (seed 003).
    IndirectPartnership,
    /// An advisor's link to a free trial of one offer, for any number of customers (seed 002).
    Trial,
    /// An advisor's link to offers with licence counts, for any number of customers (seed 002).
    PurchaseOffer,
    /// A partner asks a customer to authorise it as partner of record and delegated admin,
    /// optionally with a trial or purchase offer (seed 000, the 21Vianet flow).
    PartnerOfRecord,
    /// Seed 001's "Partner": the customer gives the partner a user account in its tenant to
    /// work with its other services. Any enrolled partner asks; no admin roles.
    Collaborator,
    /// Seed 001's MPSA partner: the customer's MPSA partners see each other's purchases for
    /// it. Any enrolled partner asks; no admin roles.
    Mpsa,
    /// Seed 001's line-of-business partner: develops, sends and manages the customer's own
    /// apps. Any enrolled partner asks; no admin roles.
    LineOfBusiness,
}

impl Kind {
    /// The kind of a stored invitation; `None` for one this version does not know.
    pub fn of(kind: InvitationKind) -> Option<Kind> {
        match kind {
            InvitationKind::ResellerRelationship => Some(Kind::ResellerRelationship),
            InvitationKind::DelegatedAdmin => Some(Kind::DelegatedAdmin),
            InvitationKind::IndirectPartnership => Some(Kind::IndirectPartnership),
            InvitationKind::Trial => Some(Kind::Trial),
            InvitationKind::PurchaseOffer => Some(Kind::PurchaseOffer),
            InvitationKind::PartnerOfRecord => Some(Kind::PartnerOfRecord),
            InvitationKind::Collaborator => Some(Kind::Collaborator),
            InvitationKind::Mpsa => Some(Kind::Mpsa),
            InvitationKind::LineOfBusiness => Some(Kind::LineOfBusiness),
            InvitationKind::Unspecified => None,
        }
    }

    pub fn proto(self) -> InvitationKind {
        match self {
            Kind::ResellerRelationship => InvitationKind::ResellerRelationship,
            Kind::DelegatedAdmin => InvitationKind::DelegatedAdmin,
            Kind::IndirectPartnership => InvitationKind::IndirectPartnership,
            Kind::Trial => InvitationKind::Trial,
            Kind::PurchaseOffer => InvitationKind::PurchaseOffer,
            Kind::PartnerOfRecord => InvitationKind::PartnerOfRecord,
            Kind::Collaborator => InvitationKind::Collaborator,
            Kind::Mpsa => InvitationKind::Mpsa,
            Kind::LineOfBusiness => InvitationKind::LineOfBusiness,
        }
    }

    /// The kind as the table spells it: its protobuf value name.
    pub fn name(self) -> &'static str {
        self.proto().as_str_name()
    }

    /// The kind a stored value name spells; `None` for one this version does not know.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::of(InvitationKind::from_str_name(name)?)
    }

    /// Whether the invitee is a customer (every kind but the indirect partnership, whose
    /// invitee is a partner).
    pub fn invites_customers(self) -> bool {
        self != Kind::IndirectPartnership
    }

    /// Who in the inviting partner sends (and revokes) it.
    pub fn senders(self) -> Roles {
        match self {
            Kind::ResellerRelationship
            | Kind::DelegatedAdmin
            | Kind::PartnerOfRecord
            | Kind::Collaborator
            | Kind::Mpsa
            | Kind::LineOfBusiness => roles::CUSTOMER_INVITERS,
            Kind::IndirectPartnership => roles::RESELLER_MANAGERS,
            Kind::Trial | Kind::PurchaseOffer => roles::OFFER_SENDERS,
        }
    }

    /// Whether any number of customers may accept it (TRIAL, PURCHASE_OFFER).
    pub fn reusable(self) -> bool {
        matches!(self, Kind::Trial | Kind::PurchaseOffer)
    }

    /// Whether only a partner holding PARTNER_TYPE_ADVISOR sends it.
    pub fn needs_advisor(self) -> bool {
        // A partner of record is an advisor's partner ID on the customer's subscriptions.
        matches!(
            self,
            Kind::Trial | Kind::PurchaseOffer | Kind::PartnerOfRecord
        )
    }

    /// Whether it asks only for a relationship that grants no admin roles (seed 001's
    /// collaborator, MPSA and line-of-business partners): it carries no delegated admin and no
    /// offers, and a customer's billing admin may accept it as well as its global admin.
    pub fn grants_no_admin_roles(self) -> bool {
        matches!(self, Kind::Collaborator | Kind::Mpsa | Kind::LineOfBusiness)
    }

    /// How many line items it carries: (fewest, most).
    pub fn line_item_bounds(self) -> (usize, usize) {
        match self {
            Kind::Trial => (1, 1),
            Kind::PurchaseOffer => (1, MAX_PURCHASE_LINE_ITEMS),
            Kind::PartnerOfRecord => (0, 1),
            Kind::ResellerRelationship
            | Kind::DelegatedAdmin
            | Kind::IndirectPartnership
            | Kind::Collaborator
            | Kind::Mpsa
            | Kind::LineOfBusiness => (0, 0),
        }
    }
}

/// One checked line item: an offer and a licence count (the offer's existence, cloud, trial
/// and bounds are checked with the subscriptions service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub offer_id: Uuid,
    pub quantity: i32,
}

/// The language of the e-mail draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    English,
    Swedish,
}

impl Locale {
    pub fn tag(self) -> &'static str {
        match self {
            Locale::English => "en",
            Locale::Swedish => "sv",
        }
    }

    /// The locale of a stored tag; `None` for one no writer writes.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        match tag {
            "en" => Some(Locale::English),
            "sv" => Some(Locale::Swedish),
            _ => None,
        }
    }
}

/// An invitation to create, before the inviter and invitee are checked with the tenants
/// service.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub kind: Kind,
    pub inviter_tenant_id: Uuid,
    pub invitee_tenant_id: Option<Uuid>,
    pub invitee_email: Option<String>,
    pub locale: Locale,
    pub delegated_admin: Option<Grant>,
    /// The offers (TRIAL: one; PURCHASE_OFFER: 1 to 20; PARTNER_OF_RECORD: 0 or 1).
    pub line_items: Vec<Line>,
    /// `None`: the service's default.
    pub ttl: Option<Duration>,
}

impl NewInvitation {
    /// Parses `CreateInvitation`'s invitation and ttl. Output-only fields are ignored.
    pub fn parse(
        invitation: Option<&pb::Invitation>,
        ttl: Option<&prost_types::Duration>,
    ) -> Result<Self, Error> {
        let Some(inv) = invitation else {
            return Err(Error::field("invitation", "is required"));
        };
        let mut v = Violations::new();
        let kind = match InvitationKind::try_from(inv.kind) {
            Ok(known) if known != InvitationKind::Unspecified => Kind::of(known),
            Ok(_) => {
                v.add(
                    "invitation.kind",
                    "is required: INVITATION_KIND_RESELLER_RELATIONSHIP, \
                     INVITATION_KIND_DELEGATED_ADMIN, INVITATION_KIND_INDIRECT_PARTNERSHIP, \
                     INVITATION_KIND_TRIAL, INVITATION_KIND_PURCHASE_OFFER, \
                     INVITATION_KIND_PARTNER_OF_RECORD, INVITATION_KIND_COLLABORATOR, \
                     INVITATION_KIND_MPSA or INVITATION_KIND_LINE_OF_BUSINESS",
                );
                None
            }
            Err(_) => {
                v.add("invitation.kind", "is not a known kind of invitation");
                None
            }
        };
        let inviter = v.take(fields::id(
            "invitation.inviter_tenant_id",
            &inv.inviter_tenant_id,
        ));
        let invitee = v.take(fields::optional_id(
            "invitation.invitee_tenant_id",
            &inv.invitee_tenant_id,
        ));
        if !inv.invitee_tenant_id.is_empty() && kind.is_some_and(Kind::reusable) {
            v.add(
                "invitation.invitee_tenant_id",
                "must be unset: trial invitations and purchase offers are links for any number \
                 of customers",
            );
        }
        if inv.invitee_tenant_id.is_empty() {
            match kind {
                Some(Kind::DelegatedAdmin) => v.add(
                    "invitation.invitee_tenant_id",
                    "is required: delegated admin is asked of an existing customer",
                ),
                Some(Kind::IndirectPartnership) => v.add(
                    "invitation.invitee_tenant_id",
                    "is required: the indirect reseller to partner with (resellers must be \
                     enrolled as indirect resellers first)",
                ),
                _ => {}
            }
        }
        if inviter.is_some() && inviter == invitee.flatten() {
            v.add(
                "invitation.invitee_tenant_id",
                "must not be the inviter itself",
            );
        }
        let invitee_email = v.take(fields::optional_email(
            "invitation.invitee_email",
            &inv.invitee_email,
        ));
        let locale = match inv.locale.trim() {
            "" | "en" => Some(Locale::English),
            "sv" => Some(Locale::Swedish),
            _ => {
                v.add("invitation.locale", "must be \"en\" or \"sv\"");
                None
            }
        };
        let delegated_admin = match &inv.delegated_admin {
            Some(_) if kind == Some(Kind::IndirectPartnership) => {
                v.add(
                    "invitation.delegated_admin",
                    "must be unset: an indirect partnership grants no delegated admin rights",
                );
                None
            }
            Some(_) if kind.is_some_and(Kind::grants_no_admin_roles) => {
                v.add(
                    "invitation.delegated_admin",
                    "must be unset: collaborator, MPSA and line-of-business relationships grant \
                     no admin roles; ask for delegated admin with a delegated admin invitation",
                );
                None
            }
            Some(d) => v
                .take(delegation::grant(
                    "invitation.delegated_admin",
                    &d.roles,
                    d.duration.as_ref(),
                    d.auto_extend,
                ))
                .map(Some),
            None if kind == Some(Kind::DelegatedAdmin) => {
                v.add(
                    "invitation.delegated_admin",
                    "is required for INVITATION_KIND_DELEGATED_ADMIN: the rights to ask for; \
                     send {} (no roles named) to ask for the classic roles, ROLE_GLOBAL_ADMIN and \
                     ROLE_HELPDESK_ADMIN",
                );
                None
            }
            None if kind == Some(Kind::PartnerOfRecord) => {
                v.add(
                    "invitation.delegated_admin",
                    "is required for INVITATION_KIND_PARTNER_OF_RECORD: the partner of record \
                     is authorised as delegated admin too; send {} (no roles named) to ask for \
                     the classic roles, ROLE_GLOBAL_ADMIN and ROLE_HELPDESK_ADMIN",
                );
                None
            }
            None => Some(None),
        };
        let line_items = match kind {
            Some(kind) => v.take(line_items(kind, &inv.line_items)),
            None if inv.line_items.is_empty() => Some(Vec::new()),
            None => {
                v.add(
                    "invitation.line_items",
                    "can't be checked without a known invitation.kind: only trial, purchase \
                     offer and partner of record invitations carry offers",
                );
                None
            }
        };
        let ttl = v.take(parse_ttl(ttl));
        v.check()?;
        match (
            kind,
            inviter,
            invitee,
            invitee_email,
            locale,
            delegated_admin,
            line_items,
            ttl,
        ) {
            (
                Some(kind),
                Some(inviter_tenant_id),
                Some(invitee_tenant_id),
                Some(invitee_email),
                Some(locale),
                Some(delegated_admin),
                Some(line_items),
                Some(ttl),
            ) => Ok(NewInvitation {
                kind,
                inviter_tenant_id,
                invitee_tenant_id,
                invitee_email,
                locale,
                delegated_admin,
                line_items,
                ttl,
            }),
            _ => Err(Error::field("invitation", "is incomplete")),
        }
    }
}

impl NewInvitation {
    /// The invitation it makes, pending until `ttl` (or `default_ttl`) from `now`; `cloud` is
    /// the inviter's.
    pub fn into_invitation(
        self,
        id: String,
        cloud: Cloud,
        default_ttl: Duration,
        now: i64,
    ) -> Invitation {
        let ttl = self.ttl.unwrap_or(default_ttl);
        Invitation {
            id,
            kind: self.kind,
            inviter_tenant_id: self.inviter_tenant_id.to_string(),
            invitee_tenant_id: self
                .invitee_tenant_id
                .map(|u| u.to_string())
                .unwrap_or_default(),
            invitee_email: self.invitee_email.unwrap_or_default(),
            locale: self.locale,
            cloud,
            delegated_admin: self.delegated_admin,
            line_items: self.line_items,
            state: State::Pending,
            reusable: self.kind.reusable(),
            use_count: 0,
            responded_tenant_id: String::new(),
            expire_time: now.saturating_add(micros(ttl)),
            create_time: now,
            update_time: now,
        }
    }
}

/// The line items of a kind: as many as it carries, each offer id a UUID named once, each
/// quantity at least 1 (the offer's own bounds are checked against the catalogue later).
fn line_items(
    kind: Kind,
    items: &[partnerhub_proto::types::LineItem],
) -> Result<Vec<Line>, Violations> {
    const FIELD: &str = "invitation.line_items";
    let (fewest, most) = kind.line_item_bounds();
    let count = match kind {
        Kind::Trial => "must have exactly one line item: the trial offer".to_string(),
        Kind::PurchaseOffer => format!(
            "must have 1 to {MAX_PURCHASE_LINE_ITEMS} line items: the offers and their licence counts"
        ),
        Kind::PartnerOfRecord => {
            "may have at most one line item: a trial or purchase offer".to_string()
        }
        Kind::ResellerRelationship
        | Kind::DelegatedAdmin
        | Kind::IndirectPartnership
        | Kind::Collaborator
        | Kind::Mpsa
        | Kind::LineOfBusiness => "must be empty: only trial, purchase offer and partner of \
                                   record invitations carry offers"
            .to_string(),
    };
    if items.len() < fewest || items.len() > most {
        return Err(Violations::one(FIELD, count));
    }
    let mut v = Violations::new();
    let mut lines: Vec<Line> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let offer_id = v.take(fields::id(
            &format!("{FIELD}[{i}].offer_id"),
            &item.offer_id,
        ));
        if let Some(id) = offer_id
            && lines.iter().any(|l| l.offer_id == id)
        {
            v.add(
                format!("{FIELD}[{i}].offer_id"),
                "names an offer named before; give each offer once, with its total licence count",
            );
        }
        if item.quantity < 1 {
            v.add(
                format!("{FIELD}[{i}].quantity"),
                "must be at least 1 licence",
            );
        }
        if !item.partner_of_record_mpn_id.is_empty() {
            v.add(
                format!("{FIELD}[{i}].partner_of_record_mpn_id"),
                "must be empty: the advisor that sends the invitation becomes the partner of \
                 record of what it offers",
            );
        }
        if item.term_duration != 0 || item.billing_cycle != 0 {
            v.add(
                format!("{FIELD}[{i}].term_duration"),
                "must be unset: an advisor's subscriptions start on the offer's first term",
            );
        }
        if let Some(offer_id) = offer_id {
            lines.push(Line {
                offer_id,
                quantity: item.quantity,
            });
        }
    }
    v.check()?;
    Ok(lines)
}

/// An optional `ttl`: 1 hour to 365 days.
fn parse_ttl(ttl: Option<&prost_types::Duration>) -> Result<Option<Duration>, Violations> {
    let Some(d) = ttl else {
        return Ok(None);
    };
    let bad = || {
        Violations::one(
            "ttl",
            "must be between 1 hour (3600s) and 365 days (31536000s)",
        )
    };
    let (Ok(seconds), Ok(nanos)) = (u64::try_from(d.seconds), u32::try_from(d.nanos)) else {
        return Err(bad());
    };
    if nanos >= 1_000_000_000 {
        return Err(bad());
    }
    let d = Duration::new(seconds, nanos);
    if d < MIN_TTL || d > MAX_TTL {
        return Err(bad());
    }
    Ok(Some(d))
}

/// An invitation as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub kind: Kind,
    pub inviter_tenant_id: String,
    /// The only tenant that may use it; "" for any tenant of the kind invited.
    pub invitee_tenant_id: String,
    /// "" for none.
    pub invitee_email: String,
    pub locale: Locale,
    /// The inviter's cloud instance: relationships never cross it.
    pub cloud: Cloud,
    pub delegated_admin: Option<Grant>,
    /// The offers (TRIAL, PURCHASE_OFFER and PARTNER_OF_RECORD only).
    pub line_items: Vec<Line>,
    /// As stored: PENDING, ACCEPTED, DECLINED or REVOKED. Readers want [`Invitation::state_at`].
    pub state: State,
    pub reusable: bool,
    pub use_count: i64,
    /// The tenant that accepted or declined it; "" until one did.
    pub responded_tenant_id: String,
    pub expire_time: i64,
    pub create_time: i64,
    pub update_time: i64,
}

impl Invitation {
    /// The state every read shows at `now` (microseconds): a pending one past its expiry has
    /// expired.
    pub fn state_at(&self, now: i64) -> State {
        if self.state == State::Pending && self.expire_time <= now {
            State::Expired
        } else {
            self.state
        }
    }

    /// Whether only a tenant other than `tenant_id` may use it.
    pub fn is_for_another(&self, tenant_id: &str) -> bool {
        !self.invitee_tenant_id.is_empty() && self.invitee_tenant_id != tenant_id
    }
}

/// Where an invitation is in its life, as every read sees it: a stored PENDING past its
/// expiry is EXPIRED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Accepted,
    Declined,
    Revoked,
    Expired,
}

impl State {
    /// The state of a contract value; `None` for UNSPECIFIED.
    pub fn of(state: invitation::State) -> Option<State> {
        match state {
            invitation::State::Pending => Some(State::Pending),
            invitation::State::Accepted => Some(State::Accepted),
            invitation::State::Declined => Some(State::Declined),
            invitation::State::Revoked => Some(State::Revoked),
            invitation::State::Expired => Some(State::Expired),
            invitation::State::Unspecified => None,
        }
    }

    pub fn proto(self) -> invitation::State {
        match self {
            State::Pending => invitation::State::Pending,
            State::Accepted => invitation::State::Accepted,
            State::Declined => invitation::State::Declined,
            State::Revoked => invitation::State::Revoked,
            State::Expired => invitation::State::Expired,
        }
    }

    /// The state as the table spells it: its protobuf value name.
    pub fn name(self) -> &'static str {
        self.proto().as_str_name()
    }

    /// The state a stored value name spells; `None` for UNSPECIFIED or an unknown name.
    pub fn from_name(name: &str) -> Option<State> {
        State::of(invitation::State::from_str_name(name)?)
    }

    /// Why an invitation in this state can't be used (declined, revoked, redeemed); `None`
    /// while it is pending.
    pub fn refusal(self) -> Option<Error> {
        match self {
            State::Pending => None,
            State::Accepted => Some(Error::AlreadyUsed),
            State::Declined => Some(Error::Declined),
            State::Revoked => Some(Error::Revoked),
            State::Expired => Some(Error::Expired),
        }
    }
}

/// A state filter (`None`: any).
pub fn state_filter(raw: i32) -> Result<Option<State>, Violations> {
    match invitation::State::try_from(raw) {
        Ok(s) => Ok(State::of(s)),
        Err(_) => Err(Violations::one("state", "is not a known state")),
    }
}

/// A kind filter (`None`: any).
pub fn kind_filter(raw: i32) -> Result<Option<Kind>, Violations> {
    match InvitationKind::try_from(raw) {
        Ok(k) => Ok(Kind::of(k)),
        Err(_) => Err(Violations::one("kind", "is not a known kind of invitation")),
    }
}

/// The filters of `ListInvitations`.
pub struct InvitationFilter {
    pub inviter_tenant_id: String,
    pub kind: Option<Kind>,
    /// A state as readers see it: PENDING and EXPIRED are told apart by `expire_time`.
    pub state: Option<State>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use partnerhub_proto::types::Role;

    fn seconds(s: i64) -> prost_types::Duration {
        prost_types::Duration {
            seconds: s,
            nanos: 0,
        }
    }

    fn reseller() -> pb::Invitation {
        pb::Invitation {
            kind: InvitationKind::ResellerRelationship as i32,
            inviter_tenant_id: Uuid::now_v7().to_string(),
            ..Default::default()
        }
    }

    fn fields_of(e: Error) -> Vec<String> {
        match e {
            Error::Invalid(v) => v.as_slice().iter().map(|v| v.field.clone()).collect(),
            other => panic!("not a violation: {other}"),
        }
    }

    #[test]
    fn a_reseller_invitation_needs_only_kind_and_inviter() {
        let new = NewInvitation::parse(Some(&reseller()), None).unwrap();
        assert_eq!(new.kind, Kind::ResellerRelationship);
        assert_eq!(new.locale, Locale::English);
        assert!(new.delegated_admin.is_none() && new.ttl.is_none());
    }

    #[test]
    fn every_bad_field_is_named() {
        let inv = pb::Invitation {
            kind: 0,
            inviter_tenant_id: "nope".into(),
            invitee_tenant_id: "also nope".into(),
            invitee_email: "not an address".into(),
            locale: "de".into(),
            delegated_admin: Some(pb::DelegatedAdminRequest {
                roles: vec![Role::AdminAgent as i32],
                duration: None,
                auto_extend: false,
            }),
            line_items: vec![Default::default()],
            ..Default::default()
        };
        let fields = fields_of(NewInvitation::parse(Some(&inv), Some(&seconds(60))).unwrap_err());
        for f in [
            "invitation.kind",
            "invitation.inviter_tenant_id",
            "invitation.invitee_tenant_id",
            "invitation.invitee_email",
            "invitation.locale",
            "invitation.delegated_admin.roles[0]",
            "invitation.line_items",
            "ttl",
        ] {
            assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
        }
    }

    #[test]
    fn delegated_admin_kind_needs_an_invitee_and_roles() {
        let inv = pb::Invitation {
            kind: InvitationKind::DelegatedAdmin as i32,
            ..reseller()
        };
        let fields = fields_of(NewInvitation::parse(Some(&inv), None).unwrap_err());
        assert_eq!(
            fields,
            ["invitation.invitee_tenant_id", "invitation.delegated_admin"]
        );
    }

    #[test]
    fn an_indirect_partnership_names_its_reseller_and_asks_for_nothing_else() {
        let inv = pb::Invitation {
            kind: InvitationKind::IndirectPartnership as i32,
            delegated_admin: Some(pb::DelegatedAdminRequest::default()),
            line_items: vec![Default::default()],
            ..reseller()
        };
        let fields = fields_of(NewInvitation::parse(Some(&inv), None).unwrap_err());
        assert_eq!(
            fields,
            [
                "invitation.invitee_tenant_id",
                "invitation.delegated_admin",
                "invitation.line_items"
            ]
        );
        let inv = pb::Invitation {
            kind: InvitationKind::IndirectPartnership as i32,
            invitee_tenant_id: Uuid::now_v7().to_string(),
            ..reseller()
        };
        let new = NewInvitation::parse(Some(&inv), None).unwrap();
        assert_eq!(new.kind, Kind::IndirectPartnership);
        assert!(!new.kind.reusable() && !new.kind.invites_customers());
        assert!(new.delegated_admin.is_none());
    }

    fn advisor(kind: InvitationKind, items: &[(&str, i32)]) -> pb::Invitation {
        pb::Invitation {
            kind: kind as i32,
            line_items: items
                .iter()
                .map(|(id, q)| partnerhub_proto::types::LineItem {
                    offer_id: (*id).to_string(),
                    quantity: *q,
                    ..Default::default()
                })
                .collect(),
            ..reseller()
        }
    }

    #[test]
    fn a_trial_is_one_offer_for_any_number_of_customers() {
        let offer = Uuid::now_v7().to_string();
        let new =
            NewInvitation::parse(Some(&advisor(InvitationKind::Trial, &[(&offer, 25)])), None)
                .unwrap();
        assert_eq!(new.kind, Kind::Trial);
        assert!(new.kind.reusable() && new.kind.needs_advisor());
        assert_eq!(new.line_items.len(), 1);
        for items in [vec![], vec![(offer.as_str(), 1), (offer.as_str(), 2)]] {
            let fields = fields_of(
                NewInvitation::parse(Some(&advisor(InvitationKind::Trial, &items)), None)
                    .unwrap_err(),
            );
            assert_eq!(fields, ["invitation.line_items"]);
        }
        let mut named = advisor(InvitationKind::Trial, &[("nope", 0)]);
        named.invitee_tenant_id = Uuid::now_v7().to_string();
        assert_eq!(
            fields_of(NewInvitation::parse(Some(&named), None).unwrap_err()),
            [
                "invitation.invitee_tenant_id",
                "invitation.line_items[0].offer_id",
                "invitation.line_items[0].quantity"
            ]
        );
        // The advisor's subscriptions start on the offer's first term: none is chosen here.
        let mut termed = advisor(InvitationKind::Trial, &[(&offer, 25)]);
        termed.line_items[0].billing_cycle = partnerhub_proto::types::BillingCycle::Annual as i32;
        assert_eq!(
            fields_of(NewInvitation::parse(Some(&termed), None).unwrap_err()),
            ["invitation.line_items[0].term_duration"]
        );
    }

    #[test]
    fn a_purchase_offer_has_one_to_twenty_distinct_offers() {
        let ids: Vec<String> = (0..21).map(|_| Uuid::now_v7().to_string()).collect();
        let items: Vec<(&str, i32)> = ids.iter().map(|i| (i.as_str(), 5)).collect();
        let new = NewInvitation::parse(
            Some(&advisor(InvitationKind::PurchaseOffer, &items[..20])),
            None,
        )
        .unwrap();
        assert_eq!(new.line_items.len(), 20);
        for bad in [&items[..0], &items[..]] {
            assert_eq!(
                fields_of(
                    NewInvitation::parse(Some(&advisor(InvitationKind::PurchaseOffer, bad)), None)
                        .unwrap_err()
                ),
                ["invitation.line_items"]
            );
        }
        let twice = [items[0], items[1], items[0]];
        assert_eq!(
            fields_of(
                NewInvitation::parse(Some(&advisor(InvitationKind::PurchaseOffer, &twice)), None)
                    .unwrap_err()
            ),
            ["invitation.line_items[2].offer_id"]
        );
    }

    #[test]
    fn a_partner_of_record_invitation_asks_for_delegated_admin_and_at_most_one_offer() {
        let a = Uuid::now_v7().to_string();
        let b = Uuid::now_v7().to_string();
        let inv = advisor(InvitationKind::PartnerOfRecord, &[(&a, 1), (&b, 1)]);
        assert_eq!(
            fields_of(NewInvitation::parse(Some(&inv), None).unwrap_err()),
            ["invitation.delegated_admin", "invitation.line_items"]
        );
        let mut inv = advisor(InvitationKind::PartnerOfRecord, &[]);
        inv.delegated_admin = Some(pb::DelegatedAdminRequest::default());
        inv.invitee_tenant_id = Uuid::now_v7().to_string();
        let new = NewInvitation::parse(Some(&inv), None).unwrap();
        assert_eq!(new.kind, Kind::PartnerOfRecord);
        assert!(!new.kind.reusable() && new.kind.invites_customers());
        assert!(new.line_items.is_empty() && new.delegated_admin.is_some());
    }

    #[test]
    fn seed_001s_other_partners_ask_for_no_admin_roles_and_no_offers() {
        for kind in [
            InvitationKind::Collaborator,
            InvitationKind::Mpsa,
            InvitationKind::LineOfBusiness,
        ] {
            let inv = pb::Invitation {
                kind: kind as i32,
                ..reseller()
            };
            let new = NewInvitation::parse(Some(&inv), None).unwrap();
            assert_eq!(new.kind.proto(), kind);
            assert!(new.kind.grants_no_admin_roles() && new.kind.invites_customers());
            assert!(!new.kind.reusable() && !new.kind.needs_advisor());
            let mut asking = advisor(kind, &[(&Uuid::now_v7().to_string(), 1)]);
            asking.delegated_admin = Some(pb::DelegatedAdminRequest::default());
            assert_eq!(
                fields_of(NewInvitation::parse(Some(&asking), None).unwrap_err()),
                ["invitation.delegated_admin", "invitation.line_items"]
            );
        }
        assert!(!Kind::ResellerRelationship.grants_no_admin_roles());
    }

    #[test]
    fn ttls_run_from_an_hour_to_a_year() {
        assert!(parse_ttl(Some(&seconds(3600))).is_ok());
        assert!(parse_ttl(Some(&seconds(365 * 86_400))).is_ok());
        for bad in [0, 3599, 365 * 86_400 + 1, -3600] {
            assert!(parse_ttl(Some(&seconds(bad))).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_pending_invitation_past_its_expiry_is_expired() {
        let mut inv = NewInvitation::parse(Some(&reseller()), None)
            .unwrap()
            .into_invitation("i".into(), Cloud::Worldwide, MIN_TTL, 0);
        inv.expire_time = 10;
        assert_eq!(inv.state_at(9), State::Pending);
        assert_eq!(inv.state_at(10), State::Expired);
        inv.state = State::Revoked;
        assert_eq!(inv.state_at(11), State::Revoked);
        inv.state = State::Accepted;
        assert_eq!(inv.state_at(11), State::Accepted);
    }
}
