//! Who is calling, as the gateway tells the services behind it.
//!
//! The gateway authenticates the caller, strips any of these headers a client sent, and sets
//! them on every call it forwards. Services trust these headers for records such as "accepted
//! by" because every call to a service must carry an assertion made with the internal key over
//! them and the method ([`crate::internal_call`]): only the gateway and the services hold that
//! key, so reaching a service's port is not enough to speak for a user.

/// The signed-in user's id; absent for the operator.
pub const USER_ID: &str = "x-partnerhub-user-id";
/// The signed-in user's tenant; absent for the operator.
pub const TENANT_ID: &str = "x-partnerhub-tenant-id";
/// The roles the caller holds in the tenant the call acts in, comma-separated role names (its
/// own roles, or for a partner's agent the delegated ones; `ROLE_PLATFORM_OPERATOR` for the
/// operator). Absent on calls between services, which act for the system.
pub const ROLES: &str = "x-partnerhub-roles";

/// The calling user's id, or "" when the gateway named none (the operator, or a direct call).
pub fn user_id<T>(request: &tonic::Request<T>) -> String {
    header(request, USER_ID)
}

/// The calling user's own tenant, or "" when the gateway named none (the operator, or a direct
/// call). For a partner's agent acting in a customer through delegated admin, the partner.
pub fn tenant_id<T>(request: &tonic::Request<T>) -> String {
    header(request, TENANT_ID)
}

/// A header's text, "" when absent or not text.
fn header<T>(request: &tonic::Request<T>, name: &str) -> String {
    request
        .metadata()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The caller's roles in the tenant the call acts in, or `None` for a call from another service
/// (no gateway header), which is trusted: its assertion proves it came from a server holding
/// the internal key, with no roles header.
pub fn roles<T>(request: &tonic::Request<T>) -> Option<Vec<partnerhub_proto::types::Role>> {
    let header = request.metadata().get(ROLES)?.to_str().ok()?;
    Some(
        header
            .split(',')
            .filter_map(partnerhub_proto::types::Role::from_str_name)
            .collect(),
    )
}
