//! Who is calling, as the gateway tells the services behind it.
//!
//! The gateway authenticates the caller, strips any of these headers a client sent, and sets
//! them on every call it forwards. Services are reachable only from the gateway (loopback or
//! the NetworkPolicy of deploy/), so they trust these headers for records such as "accepted by".

/// The signed-in user's id; absent for the operator.
pub const USER_ID: &str = "x-partnerhub-user-id";
/// The signed-in user's tenant; absent for the operator.
pub const TENANT_ID: &str = "x-partnerhub-tenant-id";

/// The calling user's id, or "" when the gateway named none (the operator, or a direct call).
pub fn user_id<T>(request: &tonic::Request<T>) -> String {
    request
        .metadata()
        .get(USER_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}
