//! The invitations domain: requests parsed once, at the edge, into types deeper code trusts;
//! an invitation's effective state; the cloud rules of a request.

use crate::error::Error;
use partnerhub_kit::delegation::{self, Grant};
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::invitations::{self as pb, InvitationKind, invitation};
use partnerhub_proto::types::Cloud;
use std::time::Duration;
use uuid::Uuid;

/// The shortest `ttl` a request may name.
pub const MIN_TTL: Duration = Duration::from_secs(3600);
/// The longest `ttl` a request may name.
pub const MAX_TTL: Duration = Duration::from_secs(365 * 86_400);

/// The kinds this service issues so far. The others answer UNIMPLEMENTED
/// (INVITATION_KIND_NOT_AVAILABLE) until their issues land.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ResellerRelationship,
    DelegatedAdmin,
    /// An indirect provider asks an enrolled indirect reseller to partner with it (seed 003).
    IndirectPartnership,
}

impl Kind {
    pub fn proto(self) -> InvitationKind {
        match self {
            Kind::ResellerRelationship => InvitationKind::ResellerRelationship,
            Kind::DelegatedAdmin => InvitationKind::DelegatedAdmin,
            Kind::IndirectPartnership => InvitationKind::IndirectPartnership,
        }
    }

    /// Whether the invitee is a customer (reseller relationship, delegated admin) rather than
    /// a partner (indirect partnership).
    pub fn invites_customers(self) -> bool {
        matches!(self, Kind::ResellerRelationship | Kind::DelegatedAdmin)
    }

    /// Whether any number of customers may accept it (TRIAL, PURCHASE_OFFER, later).
    pub fn reusable(self) -> bool {
        false
    }
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

    /// A stored tag; anything else is English, the default.
    pub fn from_tag(tag: &str) -> Locale {
        if tag == "sv" {
            Locale::Swedish
        } else {
            Locale::English
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
            Ok(InvitationKind::ResellerRelationship) => Some(Kind::ResellerRelationship),
            Ok(InvitationKind::DelegatedAdmin) => Some(Kind::DelegatedAdmin),
            Ok(InvitationKind::IndirectPartnership) => Some(Kind::IndirectPartnership),
            Ok(InvitationKind::Unspecified) => {
                v.add(
                    "invitation.kind",
                    "is required: INVITATION_KIND_RESELLER_RELATIONSHIP, \
                     INVITATION_KIND_DELEGATED_ADMIN or INVITATION_KIND_INDIRECT_PARTNERSHIP",
                );
                None
            }
            Ok(other) => return Err(Error::KindNotAvailable(other.as_str_name())),
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
                    "is required for INVITATION_KIND_DELEGATED_ADMIN: the roles to ask for",
                );
                None
            }
            None => Some(None),
        };
        if !inv.line_items.is_empty() {
            v.add(
                "invitation.line_items",
                "must be empty: reseller relationship, delegated admin and indirect partnership \
                 invitations carry no offers",
            );
        }
        let ttl = v.take(parse_ttl(ttl));
        v.check()?;
        match (
            kind,
            inviter,
            invitee,
            invitee_email,
            locale,
            delegated_admin,
            ttl,
        ) {
            (
                Some(kind),
                Some(inviter_tenant_id),
                Some(invitee_tenant_id),
                Some(invitee_email),
                Some(locale),
                Some(delegated_admin),
                Some(ttl),
            ) => Ok(NewInvitation {
                kind,
                inviter_tenant_id,
                invitee_tenant_id,
                invitee_email,
                locale,
                delegated_admin,
                ttl,
            }),
            _ => Err(Error::field("invitation", "is incomplete")),
        }
    }
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

/// In these clouds a reseller relationship must come with delegated admin (seed 004).
pub fn requires_delegated_admin(cloud: Cloud) -> bool {
    matches!(cloud, Cloud::Germany | Cloud::UsGovernment)
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
    /// The effective state of a stored state at `now` (microseconds).
    pub fn effective(stored: &str, expire_time: i64, now: i64) -> State {
        match invitation::State::from_str_name(stored) {
            Some(invitation::State::Accepted) => State::Accepted,
            Some(invitation::State::Declined) => State::Declined,
            Some(invitation::State::Revoked) => State::Revoked,
            Some(invitation::State::Pending) if expire_time > now => State::Pending,
            _ => State::Expired,
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

/// The stored text of a state filter ("" for any).
pub fn state_filter(raw: i32) -> Result<String, Violations> {
    match invitation::State::try_from(raw) {
        Ok(invitation::State::Unspecified) => Ok(String::new()),
        Ok(s) => Ok(s.as_str_name().to_string()),
        Err(_) => Err(Violations::one("state", "is not a known state")),
    }
}

/// The stored text of a kind filter ("" for any).
pub fn kind_filter(raw: i32) -> Result<String, Violations> {
    match InvitationKind::try_from(raw) {
        Ok(InvitationKind::Unspecified) => Ok(String::new()),
        Ok(k) => Ok(k.as_str_name().to_string()),
        Err(_) => Err(Violations::one("kind", "is not a known kind of invitation")),
    }
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

    #[test]
    fn later_kinds_are_not_available() {
        let inv = pb::Invitation {
            kind: InvitationKind::Trial as i32,
            ..reseller()
        };
        assert!(matches!(
            NewInvitation::parse(Some(&inv), None),
            Err(Error::KindNotAvailable("INVITATION_KIND_TRIAL"))
        ));
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
        assert_eq!(State::effective("STATE_PENDING", 10, 9), State::Pending);
        assert_eq!(State::effective("STATE_PENDING", 10, 10), State::Expired);
        assert_eq!(State::effective("STATE_REVOKED", 10, 11), State::Revoked);
        assert_eq!(State::effective("STATE_ACCEPTED", 10, 11), State::Accepted);
    }
}
