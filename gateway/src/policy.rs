//! The authorization table: for each public method, who may call it.
//!
//! Read it as a table; the guard (`guard.rs`) applies it to every call and handlers never
//! re-derive permissions. A method that is not in the table is not served through the gateway.
//!
//! - `Anyone`: any signed-in user (and the operator).
//! - `Operator`: the platform operator only.
//! - `InTenant { field, roles, operator }`: the call acts in the tenant whose id is in request
//!   field `field`. Allowed for a user of that tenant holding one of `roles` (`ANY_USER`: any
//!   user of the tenant), and for the operator when `operator` is true. Delegated access (a
//!   partner's agents acting in a customer tenant) is decided by the same `roles`, applied to the
//!   roles the partner holds there.

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
    },
}

/// Any user of the tenant, whatever its roles.
pub const ANY_USER: &[Role] = &[];

const GLOBAL_ADMIN: &[Role] = &[Role::GlobalAdmin];
const USER_MANAGERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin];
const USER_READERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin, Role::HelpdeskAdmin];
const PASSWORD_RESETTERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin, Role::HelpdeskAdmin];
const AGREEMENT_READERS: &[Role] = &[Role::GlobalAdmin, Role::BillingAdmin];

const fn in_tenant(field: &'static str, roles: &'static [Role]) -> Rule {
    Rule::InTenant {
        field,
        roles,
        operator: true,
    }
}

/// The table: full method path → rule.
pub static TABLE: &[(&str, Rule)] = &[
    // partnerhub.gateway.v1.AuthService (SignIn needs no token and is not listed).
    (
        "/partnerhub.gateway.v1.AuthService/ChangePassword",
        Rule::Anyone,
    ),
    // partnerhub.tenants.v1.TenantService
    (
        "/partnerhub.tenants.v1.TenantService/CreatePartner",
        Rule::Operator,
    ),
    (
        "/partnerhub.tenants.v1.TenantService/GetTenant",
        in_tenant("tenant_id", ANY_USER),
    ),
    (
        "/partnerhub.tenants.v1.TenantService/ListTenants",
        Rule::Operator,
    ),
    (
        "/partnerhub.tenants.v1.TenantService/UpdateTenant",
        in_tenant("tenant.id", GLOBAL_ADMIN),
    ),
    (
        "/partnerhub.tenants.v1.TenantService/VerifyPartnerId",
        Rule::Anyone,
    ),
    (
        "/partnerhub.tenants.v1.TenantService/SearchPartners",
        Rule::Anyone,
    ),
    (
        "/partnerhub.tenants.v1.TenantService/CreateUser",
        in_tenant("tenant_id", USER_MANAGERS),
    ),
    (
        "/partnerhub.tenants.v1.TenantService/GetUser",
        in_tenant("tenant_id", USER_READERS),
    ),
    (
        "/partnerhub.tenants.v1.TenantService/ListUsers",
        in_tenant("tenant_id", USER_READERS),
    ),
    (
        "/partnerhub.tenants.v1.TenantService/UpdateUser",
        in_tenant("tenant_id", USER_MANAGERS),
    ),
    (
        "/partnerhub.tenants.v1.TenantService/DeleteUser",
        in_tenant("tenant_id", USER_MANAGERS),
    ),
    (
        "/partnerhub.tenants.v1.TenantService/ResetPassword",
        in_tenant("tenant_id", PASSWORD_RESETTERS),
    ),
    // Only the tenant's own global admin signs for it; the operator can't.
    (
        "/partnerhub.tenants.v1.TenantService/AcceptAgreement",
        Rule::InTenant {
            field: "tenant_id",
            roles: GLOBAL_ADMIN,
            operator: false,
        },
    ),
    (
        "/partnerhub.tenants.v1.TenantService/ListAgreements",
        in_tenant("tenant_id", AGREEMENT_READERS),
    ),
];

/// The rule of a method, if the gateway serves it.
pub fn rule(method: &str) -> Option<Rule> {
    TABLE.iter().find(|(m, _)| *m == method).map(|(_, r)| *r)
}

/// Whether a user holding `held` satisfies `roles` (`ANY_USER` is satisfied by anyone).
pub fn satisfies(roles: &[Role], held: &[Role]) -> bool {
    roles.is_empty() || roles.iter().any(|r| held.contains(r))
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
            if let Rule::InTenant { field, .. } = rule {
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
    fn every_tenant_service_method_is_governed() {
        let pool = DescriptorPool::decode(partnerhub_proto::PUBLIC_DESCRIPTORS).unwrap();
        let service = pool
            .get_service_by_name("partnerhub.tenants.v1.TenantService")
            .unwrap();
        for m in service.methods() {
            let path = format!("/{}/{}", service.full_name(), m.name());
            assert!(rule(&path).is_some(), "{path} has no rule");
        }
    }
}
