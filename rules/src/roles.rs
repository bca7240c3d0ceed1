//! Who may do what, as the seeds name the roles. The gateway's authorization table uses these
//! sets for its rows; where the answer depends on the request (which kind of invitation, which
//! type of relationship), the gateway admits the union and the owning service applies the set
//! for this request, so a refusal names the roles that would be accepted for it.
//!
//! | Set | Seed | Who | For |
//! |---|---|---|---|
//! | [`RESELLER_MANAGERS`] | 003 "Lämpliga roller" | global admin, user management admin, admin agent, sales agent | indirect-reseller partnerships (invite, accept, end), customers for a reseller, their subscriptions |
//! | [`CUSTOMER_INVITERS`] | 000, 001 | global admin, admin agent, sales agent | asking a customer for a relationship (reseller, delegated admin, partner of record, collaborator, MPSA, line of business) |
//! | [`OFFER_SENDERS`] | 002 | global admin, admin agent ("full administration"), helpdesk agent ("limited administration"), sales agent | trial invitations and purchase offers |
//! | [`CUSTOMER_DECIDERS`] | 001 "Innan du börjar" | global admin, billing admin | accepting the customer agreement and invitations that grant no admin roles, removing a partner's admin roles |
//! | [`ADMIN_GRANTERS`] | 004 | global admin | accepting an invitation that grants admin roles |
//! | [`RELATIONSHIP_ENDERS`] | 001 | global admin, admin agent | ending a customer relationship |
//!
//! The unions the gateway admits where the service chooses: [`INVITATION_SENDERS`],
//! [`ANY_INVITEE`], [`ANY_RELATIONSHIP_ENDER`].

use partnerhub_proto::types::Role;

/// A set of roles, any one of which is enough.
pub type Roles = &'static [Role];

/// Seed 003: manage indirect-reseller partnerships, add customers for a reseller and
/// subscriptions for them (and the orders that carries).
pub const RESELLER_MANAGERS: Roles = &[
    Role::GlobalAdmin,
    Role::UserAdmin,
    Role::AdminAgent,
    Role::SalesAgent,
];
/// Ask a customer for a relationship: reseller, delegated admin, partner of record, and seed
/// 001's collaborator, MPSA and line of business.
pub const CUSTOMER_INVITERS: Roles = &[Role::GlobalAdmin, Role::AdminAgent, Role::SalesAgent];
/// Seed 002: a user given "full" or "limited" administration of the supported companies sends
/// trial invitations and purchase offers; so do the partner's global admin and sales agents.
pub const OFFER_SENDERS: Roles = &[
    Role::GlobalAdmin,
    Role::AdminAgent,
    Role::HelpdeskAgent,
    Role::SalesAgent,
];
/// Anyone who sends some kind of invitation: the gateway admits these to the invitation
/// methods, the invitations service applies the kind's set.
pub const INVITATION_SENDERS: Roles = &[
    Role::GlobalAdmin,
    Role::UserAdmin,
    Role::AdminAgent,
    Role::SalesAgent,
    Role::HelpdeskAgent,
];
/// Seed 001: the customer's global or billing admin reviews partners, accepts the customer
/// agreement and invitations that grant no admin roles, and removes a partner's admin roles.
pub const CUSTOMER_DECIDERS: Roles = &[Role::GlobalAdmin, Role::BillingAdmin];
/// Seed 004: only a global admin accepts an invitation that grants a partner admin roles.
pub const ADMIN_GRANTERS: Roles = &[Role::GlobalAdmin];
/// End a customer relationship: the customer's or the partner's global admin, a partner's admin
/// agent.
pub const RELATIONSHIP_ENDERS: Roles = &[Role::GlobalAdmin, Role::AdminAgent];
/// Anyone who ends some type of relationship: the gateway admits these, the relationships
/// service applies the type's set.
pub const ANY_RELATIONSHIP_ENDER: Roles = &[
    Role::GlobalAdmin,
    Role::UserAdmin,
    Role::AdminAgent,
    Role::SalesAgent,
];

/// Anyone who accepts or declines some kind of invitation: the gateway admits these, the
/// invitations service applies the kind's set (the reseller's seed 003 roles for a
/// partnership, the customer's global admin for admin roles, its global or billing admin
/// otherwise).
pub const ANY_INVITEE: Roles = &[
    Role::GlobalAdmin,
    Role::BillingAdmin,
    Role::UserAdmin,
    Role::AdminAgent,
    Role::SalesAgent,
];

/// Whether a user holding `held` holds one of `wanted`.
pub fn holds_one(wanted: &[Role], held: &[Role]) -> bool {
    wanted.iter().any(|r| held.contains(r))
}

/// The roles of a set as a refusal names them: "ROLE_GLOBAL_ADMIN or ROLE_BILLING_ADMIN".
pub fn names(roles: &[Role]) -> String {
    let names: Vec<&str> = roles.iter().map(|r| r.as_str_name()).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(union: &[Role], parts: &[Roles]) {
        for part in parts {
            for role in *part {
                assert!(union.contains(role), "{role:?}");
            }
        }
        for role in union {
            assert!(parts.iter().any(|p| p.contains(role)), "{role:?}");
        }
    }

    #[test]
    fn the_gateway_admits_exactly_the_union_of_the_sets_a_service_chooses_from() {
        covers(
            INVITATION_SENDERS,
            &[RESELLER_MANAGERS, CUSTOMER_INVITERS, OFFER_SENDERS],
        );
        covers(
            ANY_RELATIONSHIP_ENDER,
            &[RESELLER_MANAGERS, RELATIONSHIP_ENDERS],
        );
        covers(
            ANY_INVITEE,
            &[RESELLER_MANAGERS, ADMIN_GRANTERS, CUSTOMER_DECIDERS],
        );
    }

    #[test]
    fn seed_003_lets_the_user_management_admin_and_the_sales_agent_manage_resellers() {
        for role in [
            Role::GlobalAdmin,
            Role::UserAdmin,
            Role::AdminAgent,
            Role::SalesAgent,
        ] {
            assert!(holds_one(RESELLER_MANAGERS, &[role]), "{role:?}");
        }
        assert!(!holds_one(RESELLER_MANAGERS, &[Role::HelpdeskAgent]));
    }

    #[test]
    fn seed_002_lets_full_and_limited_administration_send_offers() {
        assert!(holds_one(OFFER_SENDERS, &[Role::AdminAgent]));
        assert!(holds_one(OFFER_SENDERS, &[Role::HelpdeskAgent]));
        assert!(!holds_one(OFFER_SENDERS, &[Role::BillingAdmin]));
    }

    #[test]
    fn refusals_name_the_roles_in_words() {
        assert_eq!(names(ADMIN_GRANTERS), "ROLE_GLOBAL_ADMIN");
        assert_eq!(
            names(CUSTOMER_DECIDERS),
            "ROLE_GLOBAL_ADMIN or ROLE_BILLING_ADMIN"
        );
        assert_eq!(
            names(CUSTOMER_INVITERS),
            "ROLE_GLOBAL_ADMIN, ROLE_ADMIN_AGENT or ROLE_SALES_AGENT"
        );
    }
}
