//! The relationships domain: requests parsed once, at the edge, into types deeper code trusts,
//! and the rules of a relationship's life (when delegated admin has expired, which roles a
//! partner holds in a customer tenant).

use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::relationships::{self as pb, RelationshipType, relationship::State};
use partnerhub_proto::types::Role;
use partnerhub_rules::delegation::{self, Grant};
use partnerhub_rules::roles::{self, Roles};

/// The most relationships one `CreateRelationships` may create.
pub const MAX_NEW_RELATIONSHIPS: usize = 100;

/// A relationship to create (or to reuse, when an active one of the same kind exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelationship {
    pub kind: RelationshipType,
    pub partner_tenant_id: String,
    pub client_tenant_id: String,
    /// INDIRECT_RESELLER only; "" otherwise.
    pub indirect_provider_tenant_id: String,
    /// DELEGATED_ADMIN only.
    pub grant: Option<Grant>,
    /// "" when it comes from no invitation.
    pub invitation_id: String,
}

impl NewRelationship {
    /// Parses `relationships[i]` of a `CreateRelationships`; `field` is that path.
    pub fn parse(field: &str, r: &pb::NewRelationship) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let at = |f: &str| format!("{field}.{f}");
        let kind = v.take(relationship_type(&at("type"), r.r#type));
        let partner = v.take(fields::id(&at("partner_tenant_id"), &r.partner_tenant_id));
        let client = v.take(fields::id(&at("client_tenant_id"), &r.client_tenant_id));
        if partner.is_some() && partner == client {
            v.add(at("client_tenant_id"), "must differ from partner_tenant_id");
        }
        let invitation = v.take(fields::optional_id(&at("invitation_id"), &r.invitation_id));
        let mut provider = String::new();
        let mut grant = None;
        match kind {
            Some(RelationshipType::IndirectReseller) => {
                let field = at("indirect_provider_tenant_id");
                if let Some(p) = v.take(fields::id(&field, &r.indirect_provider_tenant_id)) {
                    if Some(p) == partner || Some(p) == client {
                        v.add(
                            field,
                            "must be a third tenant: the provider the reseller sells under",
                        );
                    }
                    provider = p.to_string();
                }
            }
            Some(_) if !r.indirect_provider_tenant_id.is_empty() => v.add(
                at("indirect_provider_tenant_id"),
                "only an INDIRECT_RESELLER relationship names an indirect provider",
            ),
            _ => {}
        }
        match kind {
            Some(RelationshipType::DelegatedAdmin) => {
                grant = v.take(delegation::grant(
                    field,
                    &r.roles,
                    r.duration.as_ref(),
                    r.auto_extend,
                ));
            }
            Some(_) => {
                if !r.roles.is_empty() {
                    v.add(at("roles"), "only DELEGATED_ADMIN grants roles");
                }
                if r.duration.is_some() {
                    v.add(at("duration"), "only DELEGATED_ADMIN has a duration");
                }
                if r.auto_extend {
                    v.add(at("auto_extend"), "only DELEGATED_ADMIN extends itself");
                }
            }
            None => {}
        }
        v.check()?;
        match (kind, partner, client, invitation) {
            (Some(kind), Some(partner), Some(client), Some(invitation)) => Ok(NewRelationship {
                kind,
                partner_tenant_id: partner.to_string(),
                client_tenant_id: client.to_string(),
                indirect_provider_tenant_id: provider,
                grant,
                invitation_id: invitation.map(|i| i.to_string()).unwrap_or_default(),
            }),
            _ => Err(Violations::one(field, "is incomplete")),
        }
    }

    /// The roles to store: the grant's for delegated admin, none otherwise.
    pub fn roles(&self) -> &[Role] {
        self.grant
            .as_ref()
            .map(|g| g.roles.as_slice())
            .unwrap_or(&[])
    }

    /// Whether it extends itself at its end.
    pub fn auto_extend(&self) -> bool {
        self.grant.as_ref().is_some_and(|g| g.auto_extend)
    }

    /// The end a grant made at `now` has (microseconds), 0 for none.
    pub fn end_time(&self, now: i64) -> i64 {
        self.grant
            .as_ref()
            .and_then(|g| g.duration)
            .map(|d| now.saturating_add(partnerhub_kit::time::micros(d)))
            .unwrap_or(0)
    }
}

/// Parses the `relationships` of a `CreateRelationships`.
pub fn new_relationships(list: &[pb::NewRelationship]) -> Result<Vec<NewRelationship>, Violations> {
    if list.is_empty() {
        return Err(Violations::one(
            "relationships",
            "needs at least one relationship",
        ));
    }
    if list.len() > MAX_NEW_RELATIONSHIPS {
        return Err(Violations::one(
            "relationships",
            format!("must have at most {MAX_NEW_RELATIONSHIPS} relationships"),
        ));
    }
    let mut v = Violations::new();
    let parsed: Vec<_> = list
        .iter()
        .enumerate()
        .filter_map(|(i, r)| v.take(NewRelationship::parse(&format!("relationships[{i}]"), r)))
        .collect();
    v.check()?;
    Ok(parsed)
}

/// A required relationship type.
pub fn relationship_type(field: &str, raw: i32) -> Result<RelationshipType, Violations> {
    match RelationshipType::try_from(raw) {
        Ok(RelationshipType::Unspecified) => Err(Violations::one(field, "is required")),
        Ok(t) => Ok(t),
        Err(_) => Err(Violations::one(field, "is not a relationship type")),
    }
}

/// An optional relationship type filter: unset is `None`.
pub fn type_filter(field: &str, raw: i32) -> Result<Option<RelationshipType>, Violations> {
    match RelationshipType::try_from(raw) {
        Ok(RelationshipType::Unspecified) => Ok(None),
        Ok(t) => Ok(Some(t)),
        Err(_) => Err(Violations::one(field, "is not a relationship type")),
    }
}

/// An optional state filter: unset is `None`.
pub fn state_filter(field: &str, raw: i32) -> Result<Option<State>, Violations> {
    match State::try_from(raw) {
        Ok(State::Unspecified) => Ok(None),
        Ok(s) => Ok(Some(s)),
        Err(_) => Err(Violations::one(field, "is not a relationship state")),
    }
}

/// The filters of a `ListRelationships` (the tenant ids "" and the enums `None` for "any").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub partner_tenant_id: String,
    pub client_tenant_id: String,
    pub kind: Option<RelationshipType>,
    /// A state as readers see it: ACTIVE and EXPIRED are told apart by the end and the time.
    pub state: Option<State>,
}

impl ListFilter {
    pub fn parse(req: &pb::ListRelationshipsRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        if req.partner_tenant_id.is_empty() && req.client_tenant_id.is_empty() {
            v.add(
                "partner_tenant_id",
                "is required unless client_tenant_id is set: name the partner, the client or both",
            );
        }
        let partner = v.take(fields::optional_id(
            "partner_tenant_id",
            &req.partner_tenant_id,
        ));
        let client = v.take(fields::optional_id(
            "client_tenant_id",
            &req.client_tenant_id,
        ));
        let kind = v.take(type_filter("type", req.r#type));
        let state = v.take(state_filter("state", req.state));
        v.check()?;
        let name = |id: Option<Option<uuid::Uuid>>| {
            id.flatten().map(|i| i.to_string()).unwrap_or_default()
        };
        Ok(ListFilter {
            partner_tenant_id: name(partner),
            client_tenant_id: name(client),
            kind: kind.flatten(),
            state: state.flatten(),
        })
    }
}

/// A relationship as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relationship {
    pub id: String,
    pub kind: RelationshipType,
    pub partner_tenant_id: String,
    pub client_tenant_id: String,
    /// As stored: ACTIVE or TERMINATED. Readers want [`Relationship::state_at`].
    pub state: State,
    /// INDIRECT_RESELLER only; "" otherwise.
    pub indirect_provider_tenant_id: String,
    /// DELEGATED_ADMIN only: the roles granted, in enum order.
    pub roles: Vec<Role>,
    /// 0 for no end.
    pub end_time: i64,
    pub auto_extend: bool,
    /// "" when it came from no invitation.
    pub invitation_id: String,
    pub create_time: i64,
    pub update_time: i64,
    /// 0 while not terminated.
    pub terminate_time: i64,
}

impl Relationship {
    /// The state every read shows at `now` (see [`state_at`]).
    pub fn state_at(&self, now: i64) -> State {
        state_at(self.state, self.end_time, self.auto_extend, now)
    }

    /// Whether `tenant_id` is the partner or the client.
    /// Who in a party ends it: seed 003's roles for an indirect-reseller partnership, a global
    /// admin or admin agent for any other relationship.
    pub fn enders(&self) -> Roles {
        if self.kind == RelationshipType::IndirectPartnership {
            roles::RESELLER_MANAGERS
        } else {
            roles::RELATIONSHIP_ENDERS
        }
    }

    pub fn is_party(&self, tenant_id: &str) -> bool {
        self.partner_tenant_id == tenant_id || self.client_tenant_id == tenant_id
    }

    /// Whether `tenant_id` may read it: a party, or the indirect provider of an indirect
    /// reseller.
    pub fn is_visible_to(&self, tenant_id: &str) -> bool {
        self.is_party(tenant_id)
            || (!self.indirect_provider_tenant_id.is_empty()
                && self.indirect_provider_tenant_id == tenant_id)
    }

    /// The end it shows at `now` (`None`: no end). A terminated grant stopped extending when
    /// it ended.
    pub fn shown_end(&self, now: i64) -> Option<i64> {
        let at = if self.state == State::Terminated {
            self.terminate_time
        } else {
            now
        };
        shown_end(self.end_time, self.auto_extend, at)
    }
}

/// A relationship's state at `now`, from its `stored` state. A delegated admin (the only kind
/// with an end) without auto-extend has EXPIRED once its end is reached, though it stays stored
/// ACTIVE until a new grant between the same parties replaces it: that grant stores it EXPIRED,
/// so at most one row per parties is stored ACTIVE (a unique index holds it, see
/// `store::retire_expired`). `store`'s SQL filters (`active_at!`, `expired_at!`) say the same;
/// keep them in step.
pub fn state_at(stored: State, end_time: i64, auto_extend: bool, now: i64) -> State {
    if matches!(stored, State::Terminated | State::Expired) {
        stored
    } else if end_time != 0 && !auto_extend && end_time <= now {
        State::Expired
    } else {
        State::Active
    }
}

/// The end a relationship shows at `at`: an auto-extending grant has moved on by whole
/// extensions. `None` for no end.
pub fn shown_end(end_time: i64, auto_extend: bool, at: i64) -> Option<i64> {
    delegation::effective_end((end_time != 0).then_some(end_time), auto_extend, at)
}

/// The customer roles a partner holds through its active relationships with a customer
/// (`(type, granted roles)` each): every delegated admin role, and helpdesk admin through an
/// advisor relationship. Sorted by enum number, without repeats.
pub fn access_roles(active: impl IntoIterator<Item = (RelationshipType, Vec<Role>)>) -> Vec<Role> {
    let mut roles = Vec::new();
    for (kind, granted) in active {
        match kind {
            RelationshipType::DelegatedAdmin => roles.extend(granted),
            RelationshipType::Advisor => roles.push(Role::HelpdeskAdmin),
            _ => {}
        }
    }
    roles.sort_by_key(|r| *r as i32);
    roles.dedup();
    roles
}

/// Whether a relationship of this type gives a partner access in the customer tenant.
pub fn grants_access(kind: RelationshipType) -> bool {
    matches!(
        kind,
        RelationshipType::DelegatedAdmin | RelationshipType::Advisor
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0190f6a4-5a5e-7cc0-9a7b-1c2d3e4f5a6b";
    const B: &str = "0190f6a4-5a5e-7cc0-9a7b-1c2d3e4f5a6c";
    const C: &str = "0190f6a4-5a5e-7cc0-9a7b-1c2d3e4f5a6d";

    fn new(kind: RelationshipType) -> pb::NewRelationship {
        pb::NewRelationship {
            r#type: kind as i32,
            partner_tenant_id: A.into(),
            client_tenant_id: B.into(),
            ..Default::default()
        }
    }

    fn fields_of(err: Violations) -> Vec<String> {
        err.as_slice().iter().map(|v| v.field.clone()).collect()
    }

    #[test]
    fn delegated_admin_without_roles_is_the_classic_grant() {
        let parsed = NewRelationship::parse("r", &new(RelationshipType::DelegatedAdmin)).unwrap();
        assert_eq!(parsed.roles(), delegation::DEFAULT_ROLES);
        assert_eq!(parsed.end_time(5), 0);
    }

    #[test]
    fn only_delegated_admin_carries_a_grant() {
        let mut r = new(RelationshipType::Reseller);
        r.roles = vec![Role::UserAdmin as i32];
        r.duration = Some(prost_types::Duration {
            seconds: 86_400,
            nanos: 0,
        });
        r.auto_extend = true;
        r.indirect_provider_tenant_id = C.into();
        let err = NewRelationship::parse("r", &r).unwrap_err();
        assert_eq!(
            fields_of(err),
            [
                "r.indirect_provider_tenant_id",
                "r.roles",
                "r.duration",
                "r.auto_extend"
            ]
        );
    }

    #[test]
    fn an_indirect_reseller_names_a_third_tenant_as_provider() {
        let mut r = new(RelationshipType::IndirectReseller);
        assert_eq!(
            fields_of(NewRelationship::parse("r", &r).unwrap_err()),
            ["r.indirect_provider_tenant_id"]
        );
        r.indirect_provider_tenant_id = A.into();
        assert!(NewRelationship::parse("r", &r).is_err());
        r.indirect_provider_tenant_id = C.into();
        assert_eq!(
            NewRelationship::parse("r", &r)
                .unwrap()
                .indirect_provider_tenant_id,
            C
        );
    }

    #[test]
    fn parties_must_be_two_tenants_and_the_type_known() {
        let mut r = new(RelationshipType::Reseller);
        r.client_tenant_id = A.into();
        assert_eq!(
            fields_of(NewRelationship::parse("r", &r).unwrap_err()),
            ["r.client_tenant_id"]
        );
        r.r#type = 99;
        r.client_tenant_id = "nope".into();
        assert_eq!(
            fields_of(NewRelationship::parse("r", &r).unwrap_err()),
            ["r.type", "r.client_tenant_id"]
        );
    }

    #[test]
    fn delegated_admin_expires_unless_it_extends_itself() {
        let active = State::Active;
        assert_eq!(state_at(active, 0, false, 100), State::Active);
        assert_eq!(state_at(active, 101, false, 100), State::Active);
        assert_eq!(state_at(active, 100, false, 100), State::Expired);
        assert_eq!(state_at(active, 100, true, 100), State::Active);
        assert_eq!(
            state_at(State::Terminated, 0, false, 100),
            State::Terminated
        );
        // Stored EXPIRED once a new grant replaced it: expired whatever the clock says.
        assert_eq!(state_at(State::Expired, 100, false, 50), State::Expired);
        assert_eq!(shown_end(0, false, 100), None);
        assert!(shown_end(100, true, 100).is_some_and(|end| end > 100));
    }

    #[test]
    fn advisors_hold_helpdesk_admin_and_delegated_admin_its_roles() {
        let roles = access_roles([
            (RelationshipType::Reseller, vec![]),
            (RelationshipType::Advisor, vec![]),
            (
                RelationshipType::DelegatedAdmin,
                vec![Role::UserAdmin, Role::HelpdeskAdmin],
            ),
            (RelationshipType::DelegatedAdmin, vec![Role::GlobalAdmin]),
        ]);
        assert_eq!(
            roles,
            [Role::GlobalAdmin, Role::UserAdmin, Role::HelpdeskAdmin]
        );
        assert!(access_roles([(RelationshipType::Reseller, vec![])]).is_empty());
    }
}
