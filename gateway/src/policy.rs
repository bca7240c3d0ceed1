//! The authorization table: for each public method, who may call it and whether its calls go in
//! the audit trail.
//!
//! Read it as a table; the guard (`guard.rs`) applies it to every call and handlers never
//! re-derive permissions. A method that is not in the table is not served through the gateway.
//!
//! Its columns: the method, its [`Rule`], and its [`Audit`]: `READ` (not recorded), `CHANGE`
//! (recorded, about no one resource) or `change(field)` (recorded, about the resource whose id is
//! in request field `field`). A new method is in the trail or not because its row says so, never
//! because of how its name starts.
//!
//! - `Anyone`: any signed-in user (and the operator).
//! - `Person`: any signed-in user, but neither the operator nor a service account: its own
//!   password and second factor.
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

use partnerhub_proto::{tenants as pb, types::Role};
use partnerhub_rules::roles;
use prost_reflect::{DynamicMessage, Value};

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Any signed-in caller.
    Anyone,
    /// A signed-in person: a user, neither the operator nor a service account (neither has a
    /// password or a second factor).
    Person,
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

/// Whether calls of a method go in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// A read: not recorded.
    Read,
    /// A change: recorded, with the id in request field `resource` (when named) as the resource
    /// it is about.
    Change { resource: Option<&'static str> },
}

const READ: Audit = Audit::Read;
const CHANGE: Audit = Audit::Change { resource: None };

const fn change(resource: &'static str) -> Audit {
    Audit::Change {
        resource: Some(resource),
    }
}

/// Any user of the tenant, whatever its roles.
pub const ANY_USER: &[Role] = &[];

const GLOBAL_ADMIN: &[Role] = &[Role::GlobalAdmin];
const USER_MANAGERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin];
const USER_READERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin, Role::HelpdeskAdmin];
const PASSWORD_RESETTERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin, Role::HelpdeskAdmin];
const BILLING_READERS: &[Role] = &[Role::GlobalAdmin, Role::BillingAdmin];
/// Who assigns a customer's licences to its users (M365: global and user admins; there is no
/// separate "license administrator" role here, see the README's licences section).
const LICENSE_MANAGERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin];
/// Customers' global and billing admins (seed 001), and the partner's own staff.
const RELATIONSHIP_READERS: &[Role] = &[
    Role::GlobalAdmin,
    Role::BillingAdmin,
    Role::AdminAgent,
    Role::SalesAgent,
    Role::HelpdeskAgent,
];
/// Who in a partner places orders and creates customers (seed 003's roles).
const SELLERS: &[Role] = roles::RESELLER_MANAGERS;
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

/// Who opens a customer's service requests: its global, billing and helpdesk admins (and
/// partners' agents holding one of them through delegated admin; an advisor relationship grants
/// helpdesk admin, seed 001's "manage support incidents").
const SUPPORT_OPENERS: &[Role] = &[Role::GlobalAdmin, Role::BillingAdmin, Role::HelpdeskAdmin];
/// Who reads and answers service requests in its own tenant's name: those, and a partner's
/// global admin, admin agents and helpdesk agents (seed 002's full and limited administration).
const SUPPORT_STAFF: &[Role] = &[
    Role::GlobalAdmin,
    Role::BillingAdmin,
    Role::HelpdeskAdmin,
    Role::AdminAgent,
    Role::HelpdeskAgent,
];
/// Who converts a trial: the customer's global and billing admins (an advisor's trial has no
/// billing partner, so no partner staff of its own converts it; delegated agents holding those
/// roles in the customer do).
const TRIAL_CONVERTERS: &[Role] = &[Role::GlobalAdmin, Role::BillingAdmin];

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

/// Methods that need no token, beside health and reflection: signing in, and the public keys
/// anyone may check a token with. Not in [`TABLE`].
pub const OPEN: &[&str] = &[
    "/partnerhub.gateway.v1.AuthService/SignIn",
    "/partnerhub.gateway.v1.AuthService/SignInServiceAccount",
    "/partnerhub.gateway.v1.AuthService/ListPublicKeys",
];

/// The table: full method path → rule, audit.
#[rustfmt::skip]
pub static TABLE: &[(&str, Rule, Audit)] = &[
    // partnerhub.gateway.v1.AuthService (SignIn, SignInServiceAccount and ListPublicKeys need no
    // token: `OPEN`).
    // The signed-in user's own password and second factor.
    ("/partnerhub.gateway.v1.AuthService/ChangePassword", Rule::Person, CHANGE),
    ("/partnerhub.gateway.v1.AuthService/BeginSecondFactorEnrollment", Rule::Person, CHANGE),
    ("/partnerhub.gateway.v1.AuthService/ConfirmSecondFactorEnrollment", Rule::Person, CHANGE),
    ("/partnerhub.gateway.v1.AuthService/RemoveSecondFactor", Rule::Person, CHANGE),
    // partnerhub.gateway.v1.WorkflowService
    // Which roles accept depends on the invitation (the reseller's seed 003 roles for a
    // partnership; a global admin for one that grants admin roles, a global or billing admin
    // otherwise): the union here, and the invitations service names the kind's in its refusal.
    ("/partnerhub.gateway.v1.WorkflowService/AcceptInvitation", member("tenant_id", roles::ANY_INVITEE), change("tenant_id")),
    ("/partnerhub.gateway.v1.WorkflowService/CreateCustomer", member("partner_tenant_id", SELLERS), change("partner_tenant_id")),
    ("/partnerhub.gateway.v1.WorkflowService/AddSubscriptions", member("partner_tenant_id", SELLERS), change("customer_tenant_id")),
    // The customer's global or billing admin, or the billing partner's staff (the subscriptions
    // service checks which tenant may change the subscription); not the operator: choosing a
    // partner of record is the customer's or its partner's business, and the workflow acts on
    // behalf of a user.
    ("/partnerhub.gateway.v1.WorkflowService/SetPartnerOfRecord", delegable("tenant_id", PURCHASE_MANAGERS), change("subscription_id")),
    // Every tenant's unfinished workflows: the operator's view.
    ("/partnerhub.gateway.v1.WorkflowService/ListUnfinishedWorkflows", Rule::Operator, READ),
    // Seed 002: a partner's sellers redeem a product key for a customer they may sell to (the
    // subscriptions service asks the relationships service, as for AddSubscriptions).
    ("/partnerhub.gateway.v1.WorkflowService/RedeemProductKey", member("partner_tenant_id", SELLERS), change("customer_tenant_id")),
    // partnerhub.gateway.v1.AuditService: a tenant's global admin reads its trail.
    ("/partnerhub.gateway.v1.AuditService/ListAuditEvents", own("tenant_id", GLOBAL_ADMIN), READ),
    // partnerhub.tenants.v1.TenantService
    ("/partnerhub.tenants.v1.TenantService/CreatePartner", Rule::Operator, CHANGE),
    ("/partnerhub.tenants.v1.TenantService/GetTenant", tenant("tenant_id", ANY_USER), READ),
    ("/partnerhub.tenants.v1.TenantService/ListTenants", Rule::Operator, READ),
    ("/partnerhub.tenants.v1.TenantService/UpdateTenant", tenant("tenant.id", GLOBAL_ADMIN), change("tenant.id")),
    ("/partnerhub.tenants.v1.TenantService/VerifyPartnerId", Rule::Anyone, READ),
    ("/partnerhub.tenants.v1.TenantService/SearchPartners", Rule::Anyone, READ),
    ("/partnerhub.tenants.v1.TenantService/CreateUser", delegable("tenant_id", USER_MANAGERS), change("tenant_id")),
    ("/partnerhub.tenants.v1.TenantService/GetUser", tenant("tenant_id", USER_READERS), READ),
    ("/partnerhub.tenants.v1.TenantService/ListUsers", tenant("tenant_id", USER_READERS), READ),
    ("/partnerhub.tenants.v1.TenantService/UpdateUser", delegable("tenant_id", USER_MANAGERS), change("user.id")),
    ("/partnerhub.tenants.v1.TenantService/DeleteUser", delegable("tenant_id", USER_MANAGERS), change("user_id")),
    ("/partnerhub.tenants.v1.TenantService/ResetPassword", delegable("tenant_id", PASSWORD_RESETTERS), change("user_id")),
    // Not helpdesk roles: a password reset plus a second-factor reset would hand over a user.
    ("/partnerhub.tenants.v1.TenantService/ResetSecondFactor", delegable("tenant_id", USER_MANAGERS), change("user_id")),
    ("/partnerhub.tenants.v1.TenantService/AcceptAgreement", member("tenant_id", roles::CUSTOMER_DECIDERS), change("tenant_id")),
    ("/partnerhub.tenants.v1.TenantService/ListAgreements", tenant("tenant_id", BILLING_READERS), READ),
    // Service accounts: a tenant's global admin (delegated admin agents holding the customer's
    // global admin role too, as for users; never the operator, who must not make itself callers).
    ("/partnerhub.tenants.v1.TenantService/CreateServiceAccount", delegable("tenant_id", GLOBAL_ADMIN), change("tenant_id")),
    ("/partnerhub.tenants.v1.TenantService/GetServiceAccount", tenant("tenant_id", GLOBAL_ADMIN), READ),
    ("/partnerhub.tenants.v1.TenantService/ListServiceAccounts", tenant("tenant_id", GLOBAL_ADMIN), READ),
    ("/partnerhub.tenants.v1.TenantService/UpdateServiceAccount", delegable("tenant_id", GLOBAL_ADMIN), change("service_account.id")),
    ("/partnerhub.tenants.v1.TenantService/DeleteServiceAccount", delegable("tenant_id", GLOBAL_ADMIN), change("service_account_id")),
    ("/partnerhub.tenants.v1.TenantService/AddServiceAccountSecret", delegable("tenant_id", GLOBAL_ADMIN), change("service_account_id")),
    ("/partnerhub.tenants.v1.TenantService/DeleteServiceAccountSecret", delegable("tenant_id", GLOBAL_ADMIN), change("service_account_id")),
    // Seed 001: a customer's global or billing admin asks partners to contact it ("Innan du
    // börjar"); the partner's staff who invite customers read the requests and answer them.
    ("/partnerhub.tenants.v1.TenantService/ContactPartners", member("customer_tenant_id", roles::CUSTOMER_DECIDERS), change("customer_tenant_id")),
    ("/partnerhub.tenants.v1.TenantService/ListContactRequests", own("partner_tenant_id", roles::CUSTOMER_INVITERS), READ),
    // partnerhub.relationships.v1.RelationshipService
    ("/partnerhub.relationships.v1.RelationshipService/ListRelationships",
        Rule::OwnList { fields: &["partner_tenant_id", "client_tenant_id"], roles: RELATIONSHIP_READERS }, READ),
    ("/partnerhub.relationships.v1.RelationshipService/GetRelationship", own("tenant_id", RELATIONSHIP_READERS), READ),
    ("/partnerhub.relationships.v1.RelationshipService/ListPartnersOfCustomer", own("customer_tenant_id", BILLING_READERS), READ),
    ("/partnerhub.relationships.v1.RelationshipService/ListCustomersOfPartner", own("partner_tenant_id", RELATIONSHIP_READERS), READ),
    ("/partnerhub.relationships.v1.RelationshipService/RemoveAdminRoles", member("customer_tenant_id", roles::CUSTOMER_DECIDERS), change("customer_tenant_id")),
    // The relationships service applies the type's roles (seed 003's for a partnership).
    ("/partnerhub.relationships.v1.RelationshipService/TerminateRelationship", member("tenant_id", roles::ANY_RELATIONSHIP_ENDER), change("relationship_id")),
    // partnerhub.invitations.v1.InvitationService
    // The invitations service applies the kind's roles (rules::roles).
    ("/partnerhub.invitations.v1.InvitationService/CreateInvitation", member("invitation.inviter_tenant_id", roles::INVITATION_SENDERS), change("invitation.inviter_tenant_id")),
    ("/partnerhub.invitations.v1.InvitationService/GetInvitation", own("inviter_tenant_id", roles::INVITATION_SENDERS), READ),
    ("/partnerhub.invitations.v1.InvitationService/ListInvitations", own("inviter_tenant_id", roles::INVITATION_SENDERS), READ),
    ("/partnerhub.invitations.v1.InvitationService/PreviewInvitation", Rule::Anyone, READ),
    ("/partnerhub.invitations.v1.InvitationService/DeclineInvitation", member("tenant_id", roles::ANY_INVITEE), change("tenant_id")),
    ("/partnerhub.invitations.v1.InvitationService/RevokeInvitation", member("inviter_tenant_id", roles::INVITATION_SENDERS), change("invitation_id")),
    // partnerhub.subscriptions.v1.SubscriptionService
    ("/partnerhub.subscriptions.v1.SubscriptionService/ListOffers", Rule::Anyone, READ),
    ("/partnerhub.subscriptions.v1.SubscriptionService/GetOffer", Rule::Anyone, READ),
    ("/partnerhub.subscriptions.v1.SubscriptionService/CreateOffer", Rule::Operator, change("offer.id")),
    ("/partnerhub.subscriptions.v1.SubscriptionService/PlaceOrder", member("partner_tenant_id", SELLERS), change("customer_tenant_id")),
    ("/partnerhub.subscriptions.v1.SubscriptionService/GetOrder", tenant("tenant_id", PURCHASE_READERS), READ),
    // A partner names itself as `mpsa_partner_tenant_id` to read a customer's MPSA partners'
    // purchases; whether it is one is the relationships service's rule, which the subscriptions
    // service asks (also for GetOrder and GetSubscription).
    ("/partnerhub.subscriptions.v1.SubscriptionService/ListOrders",
        Rule::OwnList { fields: &["customer_tenant_id", "partner_tenant_id", "mpsa_partner_tenant_id"], roles: PURCHASE_READERS }, READ),
    ("/partnerhub.subscriptions.v1.SubscriptionService/GetSubscription", tenant("tenant_id", PURCHASE_READERS), READ),
    ("/partnerhub.subscriptions.v1.SubscriptionService/ListSubscriptions",
        Rule::OwnList { fields: &["customer_tenant_id", "billing_partner_tenant_id", "indirect_reseller_id", "mpsa_partner_tenant_id"], roles: PURCHASE_READERS }, READ),
    ("/partnerhub.subscriptions.v1.SubscriptionService/UpdateSubscription", tenant("tenant_id", PURCHASE_MANAGERS), change("subscription.id")),
    ("/partnerhub.subscriptions.v1.SubscriptionService/SuspendSubscription", tenant("tenant_id", PURCHASE_MANAGERS), change("subscription_id")),
    ("/partnerhub.subscriptions.v1.SubscriptionService/ReactivateSubscription", tenant("tenant_id", PURCHASE_MANAGERS), change("subscription_id")),
    ("/partnerhub.subscriptions.v1.SubscriptionService/CancelSubscription", tenant("tenant_id", PURCHASE_MANAGERS), change("subscription_id")),
    ("/partnerhub.subscriptions.v1.SubscriptionService/WatchSubscriptionEvents", own("partner_tenant_id", PURCHASE_READERS), READ),
    // partnerhub.support.v1.SupportService (served by the subscriptions server). A customer's
    // admins open its requests, and partners' agents on its behalf through delegated admin or
    // advisor. Reading, answering and closing are in the reader's own tenant's name (a partner
    // never acts as the customer here), and the support service shows a tenant only what it may
    // see: the customer all its own; a partner those it is support contact or acting partner of.
    ("/partnerhub.support.v1.SupportService/CreateServiceRequest", delegable("service_request.customer_tenant_id", SUPPORT_OPENERS), change("service_request.customer_tenant_id")),
    ("/partnerhub.support.v1.SupportService/GetServiceRequest", own("tenant_id", SUPPORT_STAFF), READ),
    ("/partnerhub.support.v1.SupportService/ListServiceRequests",
        Rule::OwnList { fields: &["customer_tenant_id", "partner_tenant_id"], roles: SUPPORT_STAFF }, READ),
    ("/partnerhub.support.v1.SupportService/AddServiceRequestNote", member("tenant_id", SUPPORT_STAFF), change("service_request_id")),
    ("/partnerhub.support.v1.SupportService/CloseServiceRequest", member("tenant_id", SUPPORT_STAFF), change("service_request_id")),
    // Licences are assigned in the customer's tenant: its admins, or a partner's agents
    // holding the role there through delegated admin (seed 004), not the operator.
    ("/partnerhub.subscriptions.v1.SubscriptionService/AssignLicenses", delegable("tenant_id", LICENSE_MANAGERS), change("subscription_id")),
    ("/partnerhub.subscriptions.v1.SubscriptionService/RemoveLicenses", delegable("tenant_id", LICENSE_MANAGERS), change("subscription_id")),
    ("/partnerhub.subscriptions.v1.SubscriptionService/ListLicenseAssignments", tenant("tenant_id", LICENSE_MANAGERS), READ),
    // Seed 002: the operator issues product keys (it keeps the catalogue).
    ("/partnerhub.subscriptions.v1.SubscriptionService/CreateProductKeys", Rule::Operator, change("offer_id")),
    // Seed 003's "upgrade existing ones": who changes subscriptions (the subscriptions service
    // checks the tenant is the customer or the billing partner).
    ("/partnerhub.subscriptions.v1.SubscriptionService/UpgradeSubscription", tenant("tenant_id", PURCHASE_MANAGERS), change("subscription_id")),
    ("/partnerhub.subscriptions.v1.SubscriptionService/ConvertTrial", tenant("tenant_id", TRIAL_CONVERTERS), change("subscription_id")),
];

impl Rule {
    /// The tenant a call says it acts in: the id in an `InTenant` rule's field, when it is one
    /// (a UUID). A list or a call about no one tenant names none.
    pub fn named_tenant(&self, message: &DynamicMessage) -> Option<String> {
        match self {
            Rule::InTenant { field, .. } => {
                Some(field_text(message, field)).filter(|t| uuid::Uuid::parse_str(t).is_ok())
            }
            Rule::Anyone | Rule::Person | Rule::Operator | Rule::OwnList { .. } => None,
        }
    }
}

/// The rule and audit of a method, if the gateway serves it.
pub fn lookup(method: &str) -> Option<(Rule, Audit)> {
    TABLE
        .iter()
        .find(|(m, _, _)| *m == method)
        .map(|(_, rule, audit)| (*rule, *audit))
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

/// Who is calling; put in the request's extensions for the gateway's own handlers.
#[derive(Debug, Clone)]
pub enum Caller {
    Operator,
    User(pb::Principal),
}

impl Caller {
    pub fn roles(&self) -> Vec<Role> {
        match self {
            Caller::Operator => vec![Role::PlatformOperator],
            Caller::User(p) => p
                .roles
                .iter()
                .filter_map(|r| Role::try_from(*r).ok())
                .collect(),
        }
    }
}

/// Where an admitted call acts, and through which relationships when delegated. Put in the
/// request's extensions next to the [`Caller`].
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The tenant the call acts in ("" for calls not about one tenant).
    pub tenant_id: String,
    /// The relationships that grant a partner's agent access to a customer; empty when the
    /// caller acts in its own tenant.
    pub through: Vec<String>,
    /// The roles the caller holds there (delegated ones for an agent).
    pub roles: Vec<Role>,
}

/// The text of a (possibly nested, dotted) field; "" when unset.
pub fn field_text(message: &DynamicMessage, path: &str) -> String {
    let mut current = message.clone();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = match current.get_field_by_name(part) {
            Some(v) => v.into_owned(),
            None => return String::new(),
        };
        match (value, parts.peek().is_some()) {
            (Value::Message(m), true) => current = m,
            (Value::String(s), false) => return s,
            _ => return String::new(),
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;

    /// The method of a table entry, from the public descriptors.
    fn method(pool: &DescriptorPool, path: &str) -> prost_reflect::MethodDescriptor {
        let (service, name) = path[1..].split_once('/').unwrap();
        let service = pool
            .get_service_by_name(service)
            .unwrap_or_else(|| panic!("{path}"));
        service
            .methods()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("{path}"))
    }

    /// The (possibly nested, dotted) field of a request, failing the test if it has none.
    fn field(
        input: prost_reflect::MessageDescriptor,
        path: &str,
    ) -> prost_reflect::FieldDescriptor {
        let mut message = input;
        let mut parts = path.split('.').peekable();
        loop {
            let part = parts.next().unwrap();
            let f = message
                .get_field_by_name(part)
                .unwrap_or_else(|| panic!("{}: no {path}", message.full_name()));
            if parts.peek().is_none() {
                return f;
            }
            message = f.kind().as_message().unwrap().clone();
        }
    }

    #[test]
    fn every_entry_names_a_real_public_method_and_field() {
        let pool = DescriptorPool::decode(partnerhub_proto::PUBLIC_DESCRIPTORS).unwrap();
        for (path, rule, _) in TABLE {
            let input = method(&pool, path).input();
            let fields: &[&str] = match rule {
                Rule::InTenant { field, .. } => std::slice::from_ref(field),
                Rule::OwnList { fields, .. } => fields,
                _ => &[],
            };
            for name in fields {
                field(input.clone(), name);
            }
        }
    }

    #[test]
    fn every_audited_resource_is_a_string_field_of_the_request() {
        let pool = DescriptorPool::decode(partnerhub_proto::PUBLIC_DESCRIPTORS).unwrap();
        for (path, _, audit) in TABLE {
            if let Audit::Change {
                resource: Some(resource),
            } = audit
            {
                let f = field(method(&pool, path).input(), resource);
                assert!(
                    f.kind() == prost_reflect::Kind::String && !f.is_list(),
                    "{path}: {resource} is no id"
                );
            }
        }
    }

    #[test]
    fn reads_are_not_audited_and_changes_are() {
        let pool = DescriptorPool::decode(partnerhub_proto::PUBLIC_DESCRIPTORS).unwrap();
        for (path, _, audit) in TABLE {
            let m = method(&pool, path);
            let name = m.name();
            // AIP-131/132 reads; a request that carries a request id (AIP-155) is a write.
            let read = ["Get", "List"].iter().any(|verb| name.starts_with(verb));
            let write = ["Create", "Update", "Delete"]
                .iter()
                .any(|verb| name.starts_with(verb))
                || m.input().get_field_by_name("request_id").is_some();
            if read {
                assert_eq!(*audit, Audit::Read, "{path}");
            }
            if write {
                assert_ne!(*audit, Audit::Read, "{path}");
            }
        }
        let audited = |path: &str| lookup(path).map(|(_, audit)| audit);
        // Reads whose names are no standard verb.
        for name in [
            "tenants.v1.TenantService/VerifyPartnerId",
            "tenants.v1.TenantService/SearchPartners",
            "invitations.v1.InvitationService/PreviewInvitation",
            "subscriptions.v1.SubscriptionService/WatchSubscriptionEvents",
        ] {
            assert_eq!(audited(&format!("/partnerhub.{name}")), Some(Audit::Read));
        }
        // Changes whose names are no standard verb, with the resource each is about.
        for (name, resource) in [
            ("gateway.v1.AuthService/ChangePassword", None),
            (
                "gateway.v1.WorkflowService/AcceptInvitation",
                Some("tenant_id"),
            ),
            (
                "gateway.v1.WorkflowService/AddSubscriptions",
                Some("customer_tenant_id"),
            ),
            (
                "gateway.v1.WorkflowService/SetPartnerOfRecord",
                Some("subscription_id"),
            ),
            (
                "gateway.v1.WorkflowService/RedeemProductKey",
                Some("customer_tenant_id"),
            ),
            ("tenants.v1.TenantService/ResetPassword", Some("user_id")),
            (
                "tenants.v1.TenantService/ContactPartners",
                Some("customer_tenant_id"),
            ),
            (
                "tenants.v1.TenantService/AcceptAgreement",
                Some("tenant_id"),
            ),
            (
                "relationships.v1.RelationshipService/RemoveAdminRoles",
                Some("customer_tenant_id"),
            ),
            (
                "relationships.v1.RelationshipService/TerminateRelationship",
                Some("relationship_id"),
            ),
            (
                "invitations.v1.InvitationService/DeclineInvitation",
                Some("tenant_id"),
            ),
            (
                "invitations.v1.InvitationService/RevokeInvitation",
                Some("invitation_id"),
            ),
            (
                "subscriptions.v1.SubscriptionService/PlaceOrder",
                Some("customer_tenant_id"),
            ),
            (
                "subscriptions.v1.SubscriptionService/SuspendSubscription",
                Some("subscription_id"),
            ),
            (
                "subscriptions.v1.SubscriptionService/ReactivateSubscription",
                Some("subscription_id"),
            ),
            (
                "subscriptions.v1.SubscriptionService/CancelSubscription",
                Some("subscription_id"),
            ),
            (
                "support.v1.SupportService/AddServiceRequestNote",
                Some("service_request_id"),
            ),
            (
                "support.v1.SupportService/CloseServiceRequest",
                Some("service_request_id"),
            ),
            (
                "subscriptions.v1.SubscriptionService/AssignLicenses",
                Some("subscription_id"),
            ),
            (
                "subscriptions.v1.SubscriptionService/RemoveLicenses",
                Some("subscription_id"),
            ),
            (
                "subscriptions.v1.SubscriptionService/UpgradeSubscription",
                Some("subscription_id"),
            ),
            (
                "subscriptions.v1.SubscriptionService/ConvertTrial",
                Some("subscription_id"),
            ),
        ] {
            assert_eq!(
                audited(&format!("/partnerhub.{name}")),
                Some(Audit::Change { resource }),
                "{name}"
            );
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
            for m in service.methods() {
                let path = format!("/{}/{}", service.full_name(), m.name());
                if OPEN.contains(&path.as_str()) {
                    assert!(lookup(&path).is_none(), "{path} is open and has a rule");
                    continue;
                }
                assert!(lookup(&path).is_some(), "{path} has no rule");
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
