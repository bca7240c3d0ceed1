//! Accepting an invitation: who may accept which kind, when, and what accepting creates.
//!
//! Every rule of it is here, in the order a refusal is reported; the handler (`api/redeem.rs`) only
//! reads what they look at (the invitation, both tenants, the offers) and uses the invitation.
//! The gateway carries out the answer, a [`Plan`].

use crate::domain::{Invitation, Kind, Line, State};
use crate::error::Error;
use crate::wire;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::relationships::{NewRelationship, RelationshipType};
use partnerhub_proto::subscriptions::CreateAdvisorSubscriptionsRequest;
use partnerhub_proto::tenants::{Tenant, agreement, tenant};
use partnerhub_proto::types::{LineItem, PartnerType, Role};
use partnerhub_rules::roles::{self, Roles};
use partnerhub_rules::{cloud, country, partner};

/// Who is accepting: the tenant, and the calling user's roles in it (`None`: a call from
/// another service, trusted as a global admin).
pub struct Acceptor<'a> {
    pub tenant_id: &'a str,
    pub roles: Option<&'a [Role]>,
}

/// What accepting an invitation creates, for the gateway to carry out.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub agreement: agreement::Type,
    pub relationships: Vec<NewRelationship>,
    /// The advisor's offers as subscriptions (no request id yet).
    pub advisor_subscriptions: Option<CreateAdvisorSubscriptionsRequest>,
    /// The advisor's partner ID to record on the customer's running subscriptions.
    pub record_partner_mpn_id: String,
}

/// Who in the invited tenant accepts an invitation: for an indirect partnership seed 003's
/// roles in the reseller; for a customer a global admin when it grants the partner admin roles
/// (seed 004), otherwise a global or billing admin (seed 001).
pub fn acceptors(invitation: &Invitation) -> Roles {
    if invitation.kind == Kind::IndirectPartnership {
        roles::RESELLER_MANAGERS
    } else if invitation.kind == Kind::DelegatedAdmin || invitation.delegated_admin.is_some() {
        roles::ADMIN_GRANTERS
    } else {
        roles::CUSTOMER_DECIDERS
    }
}

/// Who in the invited tenant declines an invitation: whoever could accept one like it that
/// grants nothing (turning down grants nothing either).
pub fn decliners(invitation: &Invitation) -> Roles {
    if invitation.kind == Kind::IndirectPartnership {
        roles::RESELLER_MANAGERS
    } else {
        roles::CUSTOMER_DECIDERS
    }
}

/// Refuses a caller holding none of `wanted` for `method`, naming them.
pub fn require(method: &'static str, wanted: Roles, held: Option<&[Role]>) -> Result<(), Error> {
    if held.is_none_or(|held| roles::holds_one(wanted, held)) {
        Ok(())
    } else {
        Err(Error::RoleRequired {
            method,
            roles: roles::names(wanted),
        })
    }
}

/// Before anything is read: the caller's roles, then the invitation's state. An invitation
/// this tenant accepted already passes (a retry; the redeem decides by request id).
pub fn may_try(invitation: &Invitation, who: &Acceptor<'_>, now: i64) -> Result<Kind, Error> {
    let kind = invitation.kind;
    require("AcceptInvitation", acceptors(invitation), who.roles)?;
    match invitation.state_at(now) {
        State::Accepted if invitation.responded_tenant_id == who.tenant_id => Ok(kind),
        state => state.refusal().map_or(Ok(kind), Err),
    }
}

/// The accepting tenant and the inviter: kinds, addressee, advisor, cloud, region, and the
/// government clouds' delegated admin.
pub fn check_tenants(
    kind: Kind,
    invitation: &Invitation,
    accepting: &Tenant,
    inviter: &Tenant,
) -> Result<(), Error> {
    if kind == Kind::IndirectPartnership {
        if accepting.kind != tenant::Kind::Partner as i32
            || !types(accepting).is_some_and(|t| partner::holds(t, PartnerType::IndirectReseller))
        {
            return Err(Error::NotAnIndirectReseller(accepting.id.clone()));
        }
    } else if accepting.kind != tenant::Kind::Customer as i32 {
        return Err(Error::NotACustomer(accepting.id.clone()));
    }
    if invitation.is_for_another(&accepting.id) {
        return Err(Error::ForAnotherTenant);
    }
    if kind.needs_advisor() && !types(inviter).is_some_and(partner::advises) {
        return Err(Error::InviterNotAdvisor(inviter.id.clone()));
    }
    if accepting.cloud != invitation.cloud as i32 {
        return Err(Error::CloudMismatch {
            invitation: invitation.cloud.as_str_name(),
            tenant_id: accepting.id.clone(),
            tenant: cloud::name(accepting.cloud),
        });
    }
    if kind == Kind::ResellerRelationship {
        if let Some((partner_region, customer_region)) =
            country::region_mismatch(&inviter.country_code, &accepting.country_code)
        {
            return Err(Error::RegionMismatch {
                partner: inviter.country_code.clone(),
                partner_region,
                customer: accepting.country_code.clone(),
                customer_region,
            });
        }
        if cloud::requires_delegated_admin(invitation.cloud) && invitation.delegated_admin.is_none()
        {
            return Err(Error::ResellerWithoutDelegatedAdmin(
                invitation.cloud.as_str_name(),
            ));
        }
    }
    Ok(())
}

/// Whether the advisor's offers must be checked against the accepting customer (its cloud and
/// country) before the invitation is used.
pub fn has_offers(kind: Kind, invitation: &Invitation) -> bool {
    kind.needs_advisor() && !invitation.line_items.is_empty()
}

/// The licence counts a customer asks for when accepting, as sent (`line_items[i]`): each offer
/// a UUID named once, each count at least 1. Whether the offers are the invitation's is
/// [`with_counts`]'s question, the offers' own bounds the catalogue's.
pub fn asked_counts(items: &[LineItem]) -> Result<Vec<Line>, Violations> {
    let mut v = Violations::new();
    let mut lines: Vec<Line> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("line_items[{i}].offer_id");
        let Some(offer_id) = v.take(fields::id(&field, &item.offer_id)) else {
            continue;
        };
        if lines.iter().any(|l| l.offer_id == offer_id) {
            v.add(field, "names an offer named before; give each offer once");
        }
        if item.quantity < 1 {
            v.add(
                format!("line_items[{i}].quantity"),
                "must be at least 1 licence",
            );
        }
        if !item.partner_of_record_mpn_id.is_empty() {
            v.add(
                format!("line_items[{i}].partner_of_record_mpn_id"),
                "must be unset: the advisor who sent the offer is its partner of record",
            );
        }
        if item.term_duration != 0 || item.billing_cycle != 0 {
            v.add(
                format!("line_items[{i}].term_duration"),
                "must be unset: an advisor's subscriptions start on the offer's first term",
            );
        }
        lines.push(Line {
            offer_id,
            quantity: item.quantity,
        });
    }
    v.check()?;
    Ok(lines)
}

/// The invitation's offers with the counts the customer asked for (seed 002: a purchase offer's
/// customer may buy more or fewer licences than offered); offers not named keep the partner's
/// count. Only a purchase offer's counts can be changed, and only for its own offers.
pub fn with_counts(
    kind: Kind,
    invitation: &Invitation,
    asked: &[Line],
) -> Result<Vec<Line>, Error> {
    if asked.is_empty() {
        return Ok(invitation.line_items.clone());
    }
    if kind != Kind::PurchaseOffer {
        return Err(Error::Invalid(Violations::one(
            "line_items",
            format!(
                "must be empty: only a purchase offer's licence counts can be changed, and this \
                 is {}",
                kind.name()
            ),
        )));
    }
    let mut v = Violations::new();
    for (i, line) in asked.iter().enumerate() {
        if !invitation
            .line_items
            .iter()
            .any(|l| l.offer_id == line.offer_id)
        {
            v.add(
                format!("line_items[{i}].offer_id"),
                format!(
                    "offer {} is not in this purchase offer; name only its offers",
                    line.offer_id
                ),
            );
        }
    }
    v.check()?;
    Ok(invitation
        .line_items
        .iter()
        .map(|offered| {
            asked
                .iter()
                .find(|l| l.offer_id == offered.offer_id)
                .unwrap_or(offered)
                .clone()
        })
        .collect())
}

/// What accepting creates: the relationships of the kind (with delegated admin only when a
/// global admin accepts), an advisor's offers as subscriptions (in `lines`, the counts the
/// customer chose: [`with_counts`]), the partner of record.
pub fn plan(
    kind: Kind,
    invitation: &Invitation,
    lines: &[Line],
    accepting: &Tenant,
    inviter: &Tenant,
) -> Plan {
    let new = |r#type: RelationshipType| NewRelationship {
        r#type: r#type as i32,
        partner_tenant_id: inviter.id.clone(),
        client_tenant_id: accepting.id.clone(),
        invitation_id: invitation.id.clone(),
        ..Default::default()
    };
    let mut relationships = Vec::new();
    match kind {
        Kind::Trial | Kind::PurchaseOffer | Kind::PartnerOfRecord => {
            relationships.push(new(RelationshipType::Advisor));
        }
        Kind::IndirectPartnership => relationships.push(new(RelationshipType::IndirectPartnership)),
        Kind::ResellerRelationship => relationships.push(new(RelationshipType::Reseller)),
        Kind::Collaborator => relationships.push(new(RelationshipType::Collaborator)),
        Kind::Mpsa => relationships.push(new(RelationshipType::Mpsa)),
        Kind::LineOfBusiness => relationships.push(new(RelationshipType::LineOfBusiness)),
        Kind::DelegatedAdmin => {}
    }
    // Only a global admin got this far with a grant (`acceptors`).
    if let Some(grant) = invitation
        .delegated_admin
        .as_ref()
        .map(wire::delegated_admin)
    {
        relationships.push(NewRelationship {
            roles: grant.roles,
            duration: grant.duration,
            auto_extend: grant.auto_extend,
            ..new(RelationshipType::DelegatedAdmin)
        });
    }
    let mpn_id = inviter
        .partner
        .as_ref()
        .map(|p| p.mpn_id.clone())
        .unwrap_or_default();
    // A partner of record invitation's offer is taken as a purchase.
    let advisor_subscriptions =
        has_offers(kind, invitation).then(|| CreateAdvisorSubscriptionsRequest {
            customer_tenant_id: accepting.id.clone(),
            partner_of_record_mpn_id: mpn_id.clone(),
            line_items: lines.iter().map(Line::to_proto).collect(),
            trial: kind == Kind::Trial,
            request_id: String::new(),
        });
    Plan {
        agreement: if kind == Kind::IndirectPartnership {
            agreement::Type::PartnerAgreement
        } else {
            agreement::Type::CustomerAgreement
        },
        relationships,
        advisor_subscriptions,
        record_partner_mpn_id: if kind == Kind::PartnerOfRecord {
            mpn_id
        } else {
            String::new()
        },
    }
}

/// A partner's types; `None` for a customer.
fn types(t: &Tenant) -> Option<&[i32]> {
    t.partner.as_ref().map(|p| p.partner_types.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Locale;
    use partnerhub_proto::invitations::InvitationKind;
    use partnerhub_proto::tenants::PartnerProfile;
    use partnerhub_proto::types::Cloud;
    use partnerhub_rules::delegation::Grant;

    const NOW: i64 = 1_000;
    const CUSTOMER: &str = "c";

    fn invitation(kind: InvitationKind) -> Invitation {
        let kind = Kind::of(kind).unwrap();
        Invitation {
            id: "i".into(),
            kind,
            inviter_tenant_id: "p".into(),
            invitee_tenant_id: String::new(),
            invitee_email: String::new(),
            locale: Locale::English,
            cloud: Cloud::Worldwide,
            delegated_admin: None,
            line_items: Vec::new(),
            state: State::Pending,
            reusable: kind.reusable(),
            use_count: 0,
            responded_tenant_id: String::new(),
            expire_time: NOW + 1,
            create_time: 0,
            update_time: 0,
        }
    }

    fn with_delegated_admin(mut row: Invitation) -> Invitation {
        row.delegated_admin = Some(Grant {
            roles: vec![Role::GlobalAdmin],
            duration: None,
            auto_extend: false,
        });
        row
    }

    fn customer(country: &str) -> Tenant {
        Tenant {
            id: CUSTOMER.into(),
            kind: tenant::Kind::Customer as i32,
            cloud: Cloud::Worldwide as i32,
            country_code: country.into(),
            ..Default::default()
        }
    }

    fn partner(id: &str, types: &[PartnerType]) -> Tenant {
        Tenant {
            id: id.into(),
            kind: tenant::Kind::Partner as i32,
            cloud: Cloud::Worldwide as i32,
            country_code: "SE".into(),
            partner: Some(PartnerProfile {
                mpn_id: "1234567".into(),
                partner_types: types.iter().map(|t| *t as i32).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn who(roles: &[Role]) -> Acceptor<'_> {
        Acceptor {
            tenant_id: CUSTOMER,
            roles: Some(roles),
        }
    }

    fn reason(e: Error) -> String {
        use partnerhub_kit::status::Fault;
        e.reason().to_string()
    }

    /// The refusal's message, for a caller holding `roles`.
    fn refusal(row: &Invitation, roles: &[Role]) -> Option<String> {
        may_try(row, &who(roles), NOW).err().map(|e| {
            let told = e.to_string();
            assert_eq!(reason(e), "ROLE_REQUIRED", "{told}");
            told
        })
    }

    #[test]
    fn a_global_admin_accepts_admin_roles_and_a_billing_admin_everything_else() {
        let billing = [Role::BillingAdmin];
        let global = [Role::GlobalAdmin];
        // Seed 001: a global or billing admin takes a partner that grants no admin roles.
        let reseller = invitation(InvitationKind::ResellerRelationship);
        for kind in [
            InvitationKind::ResellerRelationship,
            InvitationKind::Trial,
            InvitationKind::PurchaseOffer,
            InvitationKind::PartnerOfRecord,
        ] {
            assert!(may_try(&invitation(kind), &who(&billing), NOW).is_ok());
            assert!(may_try(&invitation(kind), &who(&global), NOW).is_ok());
        }
        // Seed 004: admin roles need a global admin, and the refusal says so.
        for row in [
            invitation(InvitationKind::DelegatedAdmin),
            with_delegated_admin(reseller.clone()),
            with_delegated_admin(invitation(InvitationKind::Trial)),
        ] {
            let told = refusal(&row, &billing).expect("refused");
            assert!(told.contains("needs ROLE_GLOBAL_ADMIN for"), "{told}");
            assert!(may_try(&row, &who(&global), NOW).is_ok());
        }
        // A user admin is told the roles that would do for this invitation.
        let told = refusal(&reseller, &[Role::UserAdmin]).expect("refused");
        assert!(
            told.contains("ROLE_GLOBAL_ADMIN or ROLE_BILLING_ADMIN"),
            "{told}"
        );
        // Seed 003: the reseller's user management admin accepts a partnership.
        let partnership = invitation(InvitationKind::IndirectPartnership);
        assert!(may_try(&partnership, &who(&[Role::UserAdmin]), NOW).is_ok());
        assert!(refusal(&partnership, &billing).is_some());
        // Another service's call is trusted.
        let trusted = Acceptor {
            tenant_id: CUSTOMER,
            roles: None,
        };
        assert!(may_try(&with_delegated_admin(reseller), &trusted, NOW).is_ok());
    }

    #[test]
    fn a_used_invitation_serves_only_the_tenant_that_accepted_it() {
        let admin = [Role::GlobalAdmin];
        let mut row = invitation(InvitationKind::DelegatedAdmin);
        row.state = State::Accepted;
        row.responded_tenant_id = CUSTOMER.into();
        assert!(may_try(&row, &who(&admin), NOW).is_ok());
        row.responded_tenant_id = "other".into();
        assert_eq!(
            may_try(&row, &who(&admin), NOW).map_err(reason),
            Err("INVITATION_ALREADY_USED".into())
        );
        // Declined by this very tenant is still declined.
        row.state = State::Declined;
        row.responded_tenant_id = CUSTOMER.into();
        assert_eq!(
            may_try(&row, &who(&admin), NOW).map_err(reason),
            Err("INVITATION_DECLINED".into())
        );
        let expired = invitation(InvitationKind::DelegatedAdmin);
        assert_eq!(
            may_try(&expired, &who(&admin), NOW + 1).map_err(reason),
            Err("INVITATION_EXPIRED".into())
        );
    }

    #[test]
    fn the_accepting_tenant_must_be_of_the_kind_invited() {
        let provider = partner("p", &[PartnerType::DirectProvider]);
        let reseller = partner(CUSTOMER, &[PartnerType::IndirectReseller]);
        let row = invitation(InvitationKind::DelegatedAdmin);
        assert_eq!(
            check_tenants(Kind::DelegatedAdmin, &row, &reseller, &provider).map_err(reason),
            Err("NOT_A_CUSTOMER".into())
        );
        let row = invitation(InvitationKind::IndirectPartnership);
        assert_eq!(
            check_tenants(Kind::IndirectPartnership, &row, &customer("SE"), &provider)
                .map_err(reason),
            Err("NOT_AN_INDIRECT_RESELLER".into())
        );
        assert!(check_tenants(Kind::IndirectPartnership, &row, &reseller, &provider).is_ok());
        let mut addressed = invitation(InvitationKind::DelegatedAdmin);
        addressed.invitee_tenant_id = "someone else".into();
        assert_eq!(
            check_tenants(Kind::DelegatedAdmin, &addressed, &customer("SE"), &provider)
                .map_err(reason),
            Err("INVITATION_FOR_ANOTHER_TENANT".into())
        );
    }

    #[test]
    fn an_advisors_offer_comes_from_an_advisor() {
        let row = invitation(InvitationKind::Trial);
        let provider = partner("p", &[PartnerType::DirectProvider]);
        let advisor = partner("p", &[PartnerType::Advisor]);
        assert_eq!(
            check_tenants(Kind::Trial, &row, &customer("SE"), &provider).map_err(reason),
            Err("INVITER_NOT_ADVISOR".into())
        );
        assert!(check_tenants(Kind::Trial, &row, &customer("SE"), &advisor).is_ok());
    }

    #[test]
    fn relationships_never_cross_clouds_and_a_reseller_stays_in_its_region() {
        let provider = partner("p", &[PartnerType::DirectProvider]);
        let row = invitation(InvitationKind::ResellerRelationship);
        let mut german = customer("DE");
        german.cloud = Cloud::Germany as i32;
        assert_eq!(
            check_tenants(Kind::ResellerRelationship, &row, &german, &provider).map_err(reason),
            Err("CLOUD_MISMATCH".into())
        );
        assert!(
            check_tenants(Kind::ResellerRelationship, &row, &customer("DE"), &provider).is_ok()
        );
        let far = check_tenants(Kind::ResellerRelationship, &row, &customer("US"), &provider)
            .unwrap_err();
        assert!(far.to_string().contains("Europe") && far.to_string().contains("Americas"));
        assert_eq!(reason(far), "REGION_MISMATCH");
        // Delegated admin needs no region.
        let admin = invitation(InvitationKind::DelegatedAdmin);
        assert!(check_tenants(Kind::DelegatedAdmin, &admin, &customer("US"), &provider).is_ok());
    }

    #[test]
    fn in_the_government_clouds_a_reseller_relationship_needs_delegated_admin() {
        let mut provider = partner("p", &[PartnerType::DirectProvider]);
        provider.cloud = Cloud::UsGovernment as i32;
        provider.country_code = "US".into();
        let mut agency = customer("US");
        agency.cloud = Cloud::UsGovernment as i32;
        let mut row = invitation(InvitationKind::ResellerRelationship);
        row.cloud = Cloud::UsGovernment;
        assert_eq!(
            check_tenants(Kind::ResellerRelationship, &row, &agency, &provider).map_err(reason),
            Err("DELEGATED_ADMIN_REQUIRED".into())
        );
        let row = with_delegated_admin(row);
        assert!(check_tenants(Kind::ResellerRelationship, &row, &agency, &provider).is_ok());
    }

    #[test]
    fn each_kind_creates_its_relationships() {
        let types = |plan: &Plan| -> Vec<RelationshipType> {
            plan.relationships
                .iter()
                .map(|r| RelationshipType::try_from(r.r#type).unwrap())
                .collect()
        };
        let provider = partner("p", &[PartnerType::DirectProvider]);
        let c = customer("SE");
        let reseller = with_delegated_admin(invitation(InvitationKind::ResellerRelationship));
        let plan = plan(Kind::ResellerRelationship, &reseller, &[], &c, &provider);
        assert_eq!(
            types(&plan),
            [RelationshipType::Reseller, RelationshipType::DelegatedAdmin]
        );
        assert_eq!(plan.agreement, agreement::Type::CustomerAgreement);
        assert_eq!(plan.relationships[1].roles, [Role::GlobalAdmin as i32]);
        assert_eq!(plan.relationships[0].partner_tenant_id, "p");
        assert_eq!(plan.relationships[0].client_tenant_id, CUSTOMER);
        assert_eq!(plan.relationships[0].invitation_id, "i");
        assert!(plan.advisor_subscriptions.is_none() && plan.record_partner_mpn_id.is_empty());

        let partnership = invitation(InvitationKind::IndirectPartnership);
        let r = partner(CUSTOMER, &[PartnerType::IndirectReseller]);
        let plan = super::plan(Kind::IndirectPartnership, &partnership, &[], &r, &provider);
        assert_eq!(types(&plan), [RelationshipType::IndirectPartnership]);
        assert_eq!(plan.agreement, agreement::Type::PartnerAgreement);
    }

    #[test]
    fn seed_001s_other_partners_are_accepted_by_a_global_or_billing_admin_and_grant_no_roles() {
        let provider = partner("p", &[PartnerType::IndirectReseller]);
        for (kind, made) in [
            (InvitationKind::Collaborator, RelationshipType::Collaborator),
            (InvitationKind::Mpsa, RelationshipType::Mpsa),
            (
                InvitationKind::LineOfBusiness,
                RelationshipType::LineOfBusiness,
            ),
        ] {
            let row = invitation(kind);
            for roles in [[Role::GlobalAdmin], [Role::BillingAdmin]] {
                assert!(
                    may_try(&row, &who(&roles), NOW).is_ok(),
                    "{kind:?} {roles:?}"
                );
            }
            let kind = row.kind;
            // Any partner asks, a customer in its cloud accepts, wherever it is.
            assert!(check_tenants(kind, &row, &customer("US"), &provider).is_ok());
            let mut german = customer("DE");
            german.cloud = Cloud::Germany as i32;
            assert_eq!(
                check_tenants(kind, &row, &german, &provider).map_err(reason),
                Err("CLOUD_MISMATCH".into())
            );
            let plan = plan(kind, &row, &[], &customer("SE"), &provider);
            assert_eq!(plan.relationships.len(), 1);
            assert_eq!(plan.relationships[0].r#type, made as i32);
            assert!(plan.relationships[0].roles.is_empty());
            assert_eq!(plan.agreement, agreement::Type::CustomerAgreement);
        }
    }

    #[test]
    fn an_advisors_offer_is_taken_with_its_subscriptions_and_partner_of_record() {
        let advisor = partner("p", &[PartnerType::Advisor]);
        let mut trial = with_delegated_admin(invitation(InvitationKind::Trial));
        trial.line_items = vec![Line {
            offer_id: uuid::Uuid::from_u128(1),
            quantity: 1,
        }];
        let global = plan(
            Kind::Trial,
            &trial,
            &trial.line_items,
            &customer("SE"),
            &advisor,
        );
        assert_eq!(global.relationships.len(), 2);
        assert_eq!(
            global.relationships[0].r#type,
            RelationshipType::Advisor as i32
        );
        let subs = global.advisor_subscriptions.expect("the offers");
        assert!(subs.trial);
        assert_eq!(subs.partner_of_record_mpn_id, "1234567");
        assert_eq!(subs.customer_tenant_id, CUSTOMER);

        // Seed 002: a purchase offer's customer buys fewer licences of one offer; the other
        // keeps the partner's count. Only a purchase offer's own offers can be changed.
        let line = |n: u128, quantity| Line {
            offer_id: uuid::Uuid::from_u128(n),
            quantity,
        };
        let mut offer = invitation(InvitationKind::PurchaseOffer);
        offer.line_items = vec![line(1, 40), line(2, 5)];
        assert_eq!(
            with_counts(Kind::PurchaseOffer, &offer, &[line(1, 25)]).ok(),
            Some(vec![line(1, 25), line(2, 5)])
        );
        assert_eq!(
            with_counts(Kind::PurchaseOffer, &offer, &[]).ok(),
            Some(offer.line_items.clone())
        );
        let field = |e: Error| {
            use partnerhub_kit::status::Fault;
            e.violations()
                .iter()
                .map(|v| v.field.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            with_counts(Kind::PurchaseOffer, &offer, &[line(2, 6), line(3, 1)]).map_err(field),
            Err(vec!["line_items[1].offer_id".to_string()])
        );
        assert_eq!(
            with_counts(Kind::Trial, &trial, &[line(1, 1)]).map_err(field),
            Err(vec!["line_items".to_string()])
        );

        // As sent: each offer a UUID named once, each count at least 1.
        let sent = |offer_id: &str, quantity| LineItem {
            offer_id: offer_id.into(),
            quantity,
            ..Default::default()
        };
        let one = uuid::Uuid::from_u128(1).to_string();
        let fields = |v: Violations| -> Vec<String> {
            v.as_slice().iter().map(|v| v.field.clone()).collect()
        };
        assert_eq!(
            asked_counts(&[sent(&one, 0), sent(&one, 3), sent("x", 1)]).map_err(fields),
            Err(vec![
                "line_items[0].quantity".to_string(),
                "line_items[1].offer_id".to_string(),
                "line_items[2].offer_id".to_string(),
            ])
        );
        assert_eq!(asked_counts(&[sent(&one, 25)]), Ok(vec![line(1, 25)]));

        let record = invitation(InvitationKind::PartnerOfRecord);
        let plan = plan(
            Kind::PartnerOfRecord,
            &record,
            &[],
            &customer("SE"),
            &advisor,
        );
        assert_eq!(plan.record_partner_mpn_id, "1234567");
        assert!(plan.advisor_subscriptions.is_none());
    }
}
