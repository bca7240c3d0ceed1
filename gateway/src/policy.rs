//! The authorization table: for each public method, who may call it.
//!
//! Read it as a table; the guard (`guard.rs`) applies it to every call and handlers never
//! re-derive permissions. A method that is not in the table is not served through the gateway.
//!
//! - `Anyone`: any signed-in user (and the operator).
//! - `Operator`: the platform operator only.
//! - `InTenant { field, roles, operator, delegated }`: the call acts in the tenant whose id is in
//!   request field `field`. Allowed for a user of that tenant holding one of `roles` (`ANY_USER`:
//!   any user of the tenant); for the operator when `operator`; and, when `delegated`, for a
//!   partner's agents through the partner's delegated admin (or advisor) relationship with that
//!   tenant: an `ADMIN_AGENT` holds the customer roles granted to the partner, a
//!   `HELPDESK_AGENT` only `HELPDESK_ADMIN` among them, other partner roles nothing.
//! - `OwnList { fields, roles }`: a list that one of `fields` must scope to the caller's own tenant
//!   (the operator may name any tenant).
//!
//! Shorthands below: `tenant(..)` = own users, operator and delegated agents; `delegable(..)` =
//! own users and delegated agents, not the operator (who must not make itself users it could
//! act as); `own(..)` = own users and the operator; `member(..)` = own users only (they sign or
//! decide for the tenant).
//!
//! What a role may do to whom (only a global admin makes or touches global admins; helpdesk
//! roles reset only non-admins' passwords) is the tenants service's rule, applied to the roles
//! the gateway passes on (`kit::caller::ROLES`).

use partnerhub_proto::types::Role;

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Any signed-in caller.
    Anyone,
    /// The platform operator only.
    Operator,
    /// A caller acting in the tenant named by `field`.
    InTenant {
        field: &'static str,
        roles: &'static [Role],
        operator: bool,
        delegated: bool,
    },
    /// A list scoped by one of `fields` to the caller's own tenant.
    OwnList {
        fields: &'static [&'static str],
        roles: &'static [Role],
    },
}

/// Any user of the tenant, whatever its roles.
pub const ANY_USER: &[Role] = &[];

const GLOBAL_ADMIN: &[Role] = &[Role::GlobalAdmin];
const USER_MANAGERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin];
const USER_READERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin, Role::HelpdeskAdmin];
const PASSWORD_RESETTERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin, Role::HelpdeskAdmin];
const BILLING_READERS: &[Role] = &[Role::GlobalAdmin, Role::BillingAdmin];
/// Customers' global and billing admins (seed 001), and the partner's own staff.
const RELATIONSHIP_READERS: &[Role] = &[
    Role::GlobalAdmin,
    Role::BillingAdmin,
    Role::AdminAgent,
    Role::SalesAgent,
    Role::HelpdeskAgent,
];
const RELATIONSHIP_ENDERS: &[Role] = &[Role::GlobalAdmin, Role::AdminAgent];
/// Who in a partner asks customers for relationships.
const INVITERS: &[Role] = &[Role::GlobalAdmin, Role::AdminAgent, Role::SalesAgent];
/// Who in a partner places orders and creates customers.
const SELLERS: &[Role] = &[Role::GlobalAdmin, Role::AdminAgent, Role::SalesAgent];
/// Who reads orders and subscriptions: customers' global and billing admins, partners' staff.
const PURCHASE_READERS: &[Role] = &[
    Role::GlobalAdmin,
    Role::BillingAdmin,
    Role::AdminAgent,
    Role::SalesAgent,
];
/// Who changes subscriptions (quantity, reseller, suspend, cancel).
const PURCHASE_MANAGERS: &[Role] = &[
    Role::GlobalAdmin,
    Role::BillingAdmin,
    Role::AdminAgent,
    Role::SalesAgent,
];

const fn tenant(field: &'static str, roles: &'static [Role]) -> Rule {
    Rule::InTenant {
        field,
        roles,
        operator: true,
        delegated: true,
    }
}

const fn delegable(field: &'static str, roles: &'static [Role]) -> Rule {
    Rule::InTenant {
        field,
        roles,
        operator: false,
        delegated: true,
    }
}

const fn own(field: &'static str, roles: &'static [Role]) -> Rule {
    Rule::InTenant {
        field,
        roles,
        operator: true,
        delegated: false,
    }
}

const fn member(field: &'static str, roles: &'static [Role]) -> Rule {
    Rule::InTenant {
        field,
        roles,
        operator: false,
        delegated: false,
    }
}

/// The table: full method path → rule.
#[rustfmt::skip]
pub static TABLE: &[(&str, Rule)] = &[
    // partnerhub.gateway.v1.AuthService (SignIn needs no token and is not listed).
    ("/partnerhub.gateway.v1.AuthService/ChangePassword", Rule::Anyone),
    // partnerhub.gateway.v1.WorkflowService
    // A global admin; for an advisor's trial or purchase offer also a billing admin (the
    // workflow tells the kinds apart).
    ("/partnerhub.gateway.v1.WorkflowService/AcceptInvitation", member("tenant_id", BILLING_READERS)),
    ("/partnerhub.gateway.v1.WorkflowService/CreateCustomer", member("partner_tenant_id", SELLERS)),
    ("/partnerhub.gateway.v1.WorkflowService/AddSubscriptions", member("partner_tenant_id", SELLERS)),
    // The customer's global or billing admin, or the billing partner's staff (the subscriptions
    // service checks which tenant may change the subscription).
    ("/partnerhub.gateway.v1.WorkflowService/SetPartnerOfRecord", tenant("tenant_id", PURCHASE_MANAGERS)),
    // partnerhub.gateway.v1.AuditService: a tenant's global admin reads its trail.
    ("/partnerhub.gateway.v1.AuditService/ListAuditEvents", own("tenant_id", GLOBAL_ADMIN)),
    // partnerhub.tenants.v1.TenantService
    ("/partnerhub.tenants.v1.TenantService/CreatePartner", Rule::Operator),
    ("/partnerhub.tenants.v1.TenantService/GetTenant", tenant("tenant_id", ANY_USER)),
    ("/partnerhub.tenants.v1.TenantService/ListTenants", Rule::Operator),
    ("/partnerhub.tenants.v1.TenantService/UpdateTenant", tenant("tenant.id", GLOBAL_ADMIN)),
    ("/partnerhub.tenants.v1.TenantService/VerifyPartnerId", Rule::Anyone),
    ("/partnerhub.tenants.v1.TenantService/SearchPartners", Rule::Anyone),
    ("/partnerhub.tenants.v1.TenantService/CreateUser", delegable("tenant_id", USER_MANAGERS)),
    ("/partnerhub.tenants.v1.TenantService/GetUser", tenant("tenant_id", USER_READERS)),
    ("/partnerhub.tenants.v1.TenantService/ListUsers", tenant("tenant_id", USER_READERS)),
    ("/partnerhub.tenants.v1.TenantService/UpdateUser", delegable("tenant_id", USER_MANAGERS)),
    ("/partnerhub.tenants.v1.TenantService/DeleteUser", delegable("tenant_id", USER_MANAGERS)),
    ("/partnerhub.tenants.v1.TenantService/ResetPassword", delegable("tenant_id", PASSWORD_RESETTERS)),
    ("/partnerhub.tenants.v1.TenantService/AcceptAgreement", member("tenant_id", GLOBAL_ADMIN)),
    ("/partnerhub.tenants.v1.TenantService/ListAgreements", tenant("tenant_id", BILLING_READERS)),
    // partnerhub.relationships.v1.RelationshipService
    ("/partnerhub.relationships.v1.RelationshipService/ListRelationships",
        Rule::OwnList { fields: &["partner_tenant_id", "client_tenant_id"], roles: RELATIONSHIP_READERS }),
    ("/partnerhub.relationships.v1.RelationshipService/GetRelationship", own("tenant_id", RELATIONSHIP_READERS)),
    ("/partnerhub.relationships.v1.RelationshipService/ListPartnersOfCustomer", own("customer_tenant_id", BILLING_READERS)),
    ("/partnerhub.relationships.v1.RelationshipService/ListCustomersOfPartner", own("partner_tenant_id", RELATIONSHIP_READERS)),
    ("/partnerhub.relationships.v1.RelationshipService/RemoveAdminRoles", member("customer_tenant_id", GLOBAL_ADMIN)),
    ("/partnerhub.relationships.v1.RelationshipService/TerminateRelationship", member("tenant_id", RELATIONSHIP_ENDERS)),
    // partnerhub.invitations.v1.InvitationService
    ("/partnerhub.invitations.v1.InvitationService/CreateInvitation", member("invitation.inviter_tenant_id", INVITERS)),
    ("/partnerhub.invitations.v1.InvitationService/GetInvitation", own("inviter_tenant_id", INVITERS)),
    ("/partnerhub.invitations.v1.InvitationService/ListInvitations", own("inviter_tenant_id", INVITERS)),
    ("/partnerhub.invitations.v1.InvitationService/PreviewInvitation", Rule::Anyone),
    ("/partnerhub.invitations.v1.InvitationService/DeclineInvitation", member("tenant_id", GLOBAL_ADMIN)),
    ("/partnerhub.invitations.v1.InvitationService/RevokeInvitation", member("inviter_tenant_id", INVITERS)),
    // partnerhub.subscriptions.v1.SubscriptionService
    ("/partnerhub.subscriptions.v1.SubscriptionService/ListOffers", Rule::Anyone),
    ("/partnerhub.subscriptions.v1.SubscriptionService/GetOffer", Rule::Anyone),
    ("/partnerhub.subscriptions.v1.SubscriptionService/CreateOffer", Rule::Operator),
    ("/partnerhub.subscriptions.v1.SubscriptionService/PlaceOrder", member("partner_tenant_id", SELLERS)),
    ("/partnerhub.subscriptions.v1.SubscriptionService/GetOrder", tenant("tenant_id", PURCHASE_READERS)),
    ("/partnerhub.subscriptions.v1.SubscriptionService/ListOrders",
        Rule::OwnList { fields: &["customer_tenant_id", "partner_tenant_id"], roles: PURCHASE_READERS }),
    ("/partnerhub.subscriptions.v1.SubscriptionService/GetSubscription", tenant("tenant_id", PURCHASE_READERS)),
    ("/partnerhub.subscriptions.v1.SubscriptionService/ListSubscriptions",
        Rule::OwnList { fields: &["customer_tenant_id", "billing_partner_tenant_id", "indirect_reseller_id"], roles: PURCHASE_READERS }),
    ("/partnerhub.subscriptions.v1.SubscriptionService/UpdateSubscription", tenant("tenant_id", PURCHASE_MANAGERS)),
    ("/partnerhub.subscriptions.v1.SubscriptionService/SuspendSubscription", tenant("tenant_id", PURCHASE_MANAGERS)),
    ("/partnerhub.subscriptions.v1.SubscriptionService/ReactivateSubscription", tenant("tenant_id", PURCHASE_MANAGERS)),
    ("/partnerhub.subscriptions.v1.SubscriptionService/CancelSubscription", tenant("tenant_id", PURCHASE_MANAGERS)),
    ("/partnerhub.subscriptions.v1.SubscriptionService/WatchSubscriptionEvents", own("partner_tenant_id", PURCHASE_READERS)),
];

/// The rule of a method, if the gateway serves it.
pub fn rule(method: &str) -> Option<Rule> {
    TABLE.iter().find(|(m, _)| *m == method).map(|(_, r)| *r)
}

/// Whether a user holding `held` satisfies `roles` (`ANY_USER` is satisfied by anyone).
pub fn satisfies(roles: &[Role], held: &[Role]) -> bool {
    roles.is_empty() || roles.iter().any(|r| held.contains(r))
}

/// The customer roles a partner user holds in a customer tenant where the partner was granted
/// `granted` (DOMAIN.md: an admin agent gets the granted roles, a helpdesk agent only the
/// helpdesk admin role among them, anyone else nothing).
pub fn delegated_roles(partner_roles: &[Role], granted: &[Role]) -> Vec<Role> {
    if partner_roles.contains(&Role::AdminAgent) {
        granted.to_vec()
    } else if partner_roles.contains(&Role::HelpdeskAgent) && granted.contains(&Role::HelpdeskAdmin)
    {
        vec![Role::HelpdeskAdmin]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;

    #[test]
    fn every_entry_names_a_real_public_method_and_field() {
        let pool = DescriptorPool::decode(partnerhub_proto::PUBLIC_DESCRIPTORS).unwrap();
        for (method, rule) in TABLE {
            let (service, name) = method[1..].split_once('/').unwrap();
            let service = pool
                .get_service_by_name(service)
                .unwrap_or_else(|| panic!("{method}"));
            let m = service
                .methods()
                .find(|m| m.name() == name)
                .unwrap_or_else(|| panic!("{method}"));
            let fields: &[&str] = match rule {
                Rule::InTenant { field, .. } => std::slice::from_ref(field),
                Rule::OwnList { fields, .. } => fields,
                _ => &[],
            };
            for field in fields {
                let mut message = m.input();
                let mut parts = field.split('.').peekable();
                while let Some(part) = parts.next() {
                    let f = message
                        .get_field_by_name(part)
                        .unwrap_or_else(|| panic!("{method}: {field}"));
                    if parts.peek().is_some() {
                        message = f.kind().as_message().unwrap().clone();
                    }
                }
            }
        }
    }

    #[test]
    fn agents_get_what_the_partner_was_granted_as_their_role_allows() {
        let granted = [Role::GlobalAdmin, Role::HelpdeskAdmin];
        assert_eq!(delegated_roles(&[Role::AdminAgent], &granted), granted);
        assert_eq!(
            delegated_roles(&[Role::HelpdeskAgent], &granted),
            [Role::HelpdeskAdmin]
        );
        assert!(delegated_roles(&[Role::HelpdeskAgent], &[Role::UserAdmin]).is_empty());
        assert!(delegated_roles(&[Role::SalesAgent, Role::GlobalAdmin], &granted).is_empty());
    }

    #[test]
    fn every_public_method_is_governed() {
        let pool = DescriptorPool::decode(partnerhub_proto::PUBLIC_DESCRIPTORS).unwrap();
        let mut checked = 0;
        for service in pool
            .services()
            .filter(|s| s.full_name().starts_with("partnerhub."))
        {
            for m in service.methods().filter(|m| m.name() != "SignIn") {
                let path = format!("/{}/{}", service.full_name(), m.name());
                assert!(rule(&path).is_some(), "{path} has no rule");
                checked += 1;
            }
        }
        assert_eq!(
            checked,
            TABLE.len(),
            "every rule names a public method, and once"
        );
    }
}
