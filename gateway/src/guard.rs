//! The gateway's front door: every call passes here first.
//!
//! It authenticates the caller (token → current principal), applies the authorization table
//! (`policy.rs`) to the decoded request, then hands the call to the gateway's own services
//! (auth, workflows) or forwards it, bytes unchanged, to the service that owns the method.

use crate::audit::{Draft, Trail};
use crate::error::{Error, relay};
use crate::licences::Release;
use crate::policy::{self, Audit, Rule, field_text};
pub use crate::policy::{Access, Caller};
use crate::token::{Claims, Refusal, Tokens};
use bytes::{Buf, Bytes};
use http_body::Frame;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use partnerhub_kit::caller;
use partnerhub_kit::status::Violations;
use partnerhub_kit::telemetry::Peer;
use partnerhub_proto::relationships::{
    self as rel, relationship_internal_service_client::RelationshipInternalServiceClient,
};
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::{tenants as pb, types::Role};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::body::Body;
use tonic::service::Routes;
use tower::{Service, ServiceExt};

/// The largest request message the gateway reads (as tonic's default).
const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// The services behind the gateway, by package.
#[derive(Clone)]
pub struct Backends {
    pub tenants: Peer,
    pub subscriptions: Peer,
    pub relationships: Peer,
    pub invitations: Peer,
}

impl Backends {
    fn for_method(&self, path: &str) -> Option<&Peer> {
        let package = path.strip_prefix("/partnerhub.")?.split('.').next()?;
        match package {
            "tenants" => Some(&self.tenants),
            // The support service runs in the subscriptions server (its module says why).
            "subscriptions" | "support" => Some(&self.subscriptions),
            "relationships" => Some(&self.relationships),
            "invitations" => Some(&self.invitations),
            _ => None,
        }
    }
}

struct State {
    tokens: Tokens,
    backends: Backends,
    inputs: HashMap<String, MessageDescriptor>,
    /// The server-streaming methods: their callers are checked again while the stream is open.
    streams: HashSet<String>,
    /// How often an open stream's caller is checked again.
    recheck: Duration,
    /// Partners' staff must enroll a second factor before anything else.
    second_factor_required: bool,
    trail: Trail,
}

/// The front service: guard, then dispatch.
#[derive(Clone)]
pub struct Front {
    routes: Routes,
    state: Arc<State>,
}

impl Front {
    /// `routes` are the gateway's own services with health and reflection; an open stream's
    /// caller is checked again every `recheck`.
    pub fn new(
        routes: Routes,
        tokens: Tokens,
        backends: Backends,
        trail: Trail,
        options: &crate::Options,
    ) -> Result<Self, prost_reflect::DescriptorError> {
        let pool = DescriptorPool::decode(partnerhub_proto::PUBLIC_DESCRIPTORS)?;
        let inputs = pool
            .services()
            .flat_map(|s| {
                s.methods()
                    .map(|m| (format!("/{}/{}", s.full_name(), m.name()), m.input()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let streams = pool
            .services()
            .flat_map(|s| {
                s.methods()
                    .filter(|m| m.is_server_streaming())
                    .map(|m| format!("/{}/{}", s.full_name(), m.name()))
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(Front {
            routes,
            state: Arc::new(State {
                tokens,
                backends,
                inputs,
                streams,
                recheck: options.stream_recheck,
                second_factor_required: options.require_second_factor,
                trail,
            }),
        })
    }
}

impl Service<http::Request<Body>> for Front {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let routes = self.routes.clone();
        let state = self.state.clone();
        Box::pin(async move {
            let path = request.uri().path().to_string();
            let (request, draft, again) = match state.admit(request).await {
                Ok(admitted) => admitted,
                Err(Refused { status, draft }) => {
                    tracing::debug!(method = %path, code = ?status.code(), "refused at the gateway");
                    if let Some(draft) = draft {
                        state.trail.record(draft, status.code()).await;
                    }
                    return Ok(status.into_http());
                }
            };
            let release = request.extensions().get::<Release>().cloned();
            let response = match state.backends.for_method(&path) {
                Some(channel) => {
                    let forward = channel.clone().oneshot(request);
                    let answer = match release {
                        Some(release) => {
                            let subscriptions = state.backends.subscriptions.clone();
                            release.around(forward, subscriptions).await
                        }
                        None => Some(forward.await),
                    };
                    match answer {
                        Some(Ok(response)) => response,
                        Some(Err(e)) => {
                            let error = partnerhub_kit::telemetry::causes(&e);
                            tracing::warn!(method = %path, %error, "service unreachable");
                            tonic::Status::from(Error::Unavailable("the service")).into_http()
                        }
                        None => tonic::Status::from(Error::Unavailable("the service")).into_http(),
                    }
                }
                None => match routes.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
            };
            Ok(match (draft, again) {
                (Some(draft), _) => state.trail.answer(draft, response).await,
                (None, Some(again)) => state.watched(response, again),
                (None, None) => response,
            })
        })
    }
}

/// What checking a streaming call's caller again needs: the token's claims (checked once: a
/// stream outliving its token goes on) and the request the table was applied to.
struct Again {
    claims: Claims,
    path: String,
    rule: Rule,
    message: DynamicMessage,
}

/// A call the gateway refused, with its audit record when the caller was known.
struct Refused {
    status: tonic::Status,
    draft: Option<Draft>,
}

impl<E: Into<tonic::Status>> From<E> for Refused {
    fn from(e: E) -> Self {
        Refused {
            status: e.into(),
            draft: None,
        }
    }
}

/// Calls that need no token: health, reflection and `policy::OPEN` (sign-in, public keys).
fn open_to_all(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.")
        || path.starts_with("/grpc.reflection.")
        || policy::OPEN.contains(&path)
}

impl State {
    /// Checks the call; gives it back ready to forward with its audit record to be (changes
    /// only), or the refusal.
    async fn admit(
        &self,
        request: http::Request<Body>,
    ) -> Result<(http::Request<Body>, Option<Draft>, Option<Again>), Refused> {
        let (mut parts, body) = request.into_parts();
        // Only the gateway says who is calling.
        parts.headers.remove(caller::USER_ID);
        parts.headers.remove(caller::TENANT_ID);
        parts.headers.remove(caller::ROLES);
        let path = parts.uri.path().to_string();
        if open_to_all(&path) {
            return Ok((http::Request::from_parts(parts, body), None, None));
        }
        let Some((rule, audit)) = policy::lookup(&path) else {
            return Err(if path.contains("InternalService/") {
                Error::InternalMethod(path).into()
            } else {
                Error::NotServed(path).into()
            });
        };
        let claims = self.claims(&parts.headers)?;
        let caller = self.caller(&claims).await?;
        set_up_if_required(&caller, &path, self.second_factor_required)?;
        let bytes = read_body(body).await?;
        let message = self.decode(&path, &bytes)?;
        let draft = |access: Option<&Access>| match audit {
            Audit::Read => None,
            Audit::Change { resource } => {
                Some(Draft::new(&path, &caller, access, &message, resource))
            }
        };
        let access = match self.authorize(&path, rule, &caller, &message).await {
            Ok(access) => access,
            Err(status) => {
                // An attempt on another tenant is that tenant's to see: recorded as made there
                // (through no relationship; nothing was granted), so the caller's tenant finds it
                // among what its users did and the target among what happened in it.
                let attempted = rule.named_tenant(&message).map(|tenant_id| Access {
                    tenant_id,
                    ..Access::default()
                });
                let draft = draft(attempted.as_ref());
                return Err(Refused { status, draft });
            }
        };
        let draft = draft(Some(&access));
        parts.headers.remove(http::header::AUTHORIZATION);
        if let Caller::User(p) = &caller {
            for (name, value) in [
                (caller::USER_ID, &p.user_id),
                (caller::TENANT_ID, &p.tenant_id),
            ] {
                if let Ok(v) = http::HeaderValue::from_str(value) {
                    parts.headers.insert(name, v);
                }
            }
        }
        let roles = access
            .roles
            .iter()
            .map(|r| r.as_str_name())
            .collect::<Vec<_>>()
            .join(",");
        if let Ok(v) = http::HeaderValue::from_str(&roles) {
            parts.headers.insert(caller::ROLES, v);
        }
        if let Some(release) = Release::after(&path, &message) {
            parts.extensions.insert(release);
        }
        parts.extensions.insert(caller);
        parts.extensions.insert(access);
        let again = self.streams.contains(&path).then(|| Again {
            claims,
            path,
            rule,
            message,
        });
        Ok((
            http::Request::from_parts(parts, Body::new(Full::new(bytes))),
            draft,
            again,
        ))
    }

    /// The claims of the call's bearer token.
    fn claims(&self, headers: &http::HeaderMap) -> Result<Claims, tonic::Status> {
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Error::TokenMissing)?;
        Ok(self.tokens.check(token).map_err(|r| match r {
            Refusal::Expired => Error::TokenExpired,
            Refusal::Invalid => Error::TokenInvalid,
        })?)
    }

    /// Who the claims name, as they are now.
    async fn caller(&self, claims: &Claims) -> Result<Caller, tonic::Status> {
        if claims.op {
            return Ok(Caller::Operator);
        }
        // The current principal, not the token's memory of it: a deleted user or a removed role
        // takes effect at once.
        let mut tenants = TenantInternalServiceClient::new(self.backends.tenants.clone());
        let principal = tenants
            .get_principal(pb::GetPrincipalRequest {
                user_id: claims.sub.clone(),
            })
            .await
            .map_err(|s| match s.code() {
                tonic::Code::NotFound | tonic::Code::InvalidArgument => Error::UserGone.into(),
                _ => relay(s),
            })?
            .into_inner()
            .principal
            .ok_or(Error::UserGone)?;
        // A password change or reset ends the sessions before it.
        let changed = principal
            .password_change_time
            .map(|t| {
                t.seconds
                    .saturating_mul(1_000_000)
                    .saturating_add(i64::from(t.nanos / 1_000))
            })
            .unwrap_or(0);
        if claims.iat_us < changed {
            return Err(Error::TokenOutdated.into());
        }
        if principal.tenant_state != pb::tenant::State::Active as i32 {
            return Err(Error::TenantNotActive.into());
        }
        Ok(Caller::User(principal))
    }

    /// A streaming call's caller and access, checked again: the refusal a new call would get
    /// (the user deleted, its role or the partner's delegated access gone, its password changed).
    async fn check_again(&self, again: &Again) -> Result<(), tonic::Status> {
        let caller = self.caller(&again.claims).await?;
        set_up_if_required(&caller, &again.path, self.second_factor_required)?;
        self.authorize(&again.path, again.rule, &caller, &again.message)
            .await
            .map(drop)
    }

    /// Passes a streaming answer on, checking its caller again every `recheck`: once a new call
    /// would be refused, the stream ends with that refusal, and the call to the service is
    /// dropped (cancelling it there). A check that can't be made (tenants unreachable) lets the
    /// stream go on to the next check.
    fn watched(
        self: Arc<Self>,
        response: http::Response<Body>,
        again: Again,
    ) -> http::Response<Body> {
        let (parts, mut body) = response.into_parts();
        let (frames, received) =
            tokio::sync::mpsc::channel::<Result<Frame<Bytes>, tonic::Status>>(1);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(self.recheck);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                tokio::select! {
                    frame = body.frame() => {
                        let frame = match frame {
                            None => break,
                            Some(Ok(frame)) => frame,
                            Some(Err(error)) => {
                                // The service went away mid-stream (the transport's error,
                                // not an answer): UNAVAILABLE, call again from the last cursor.
                                tracing::warn!(method = %again.path, %error, "stream's service gone");
                                let _ = frames.send(Ok(ending(Error::Unavailable("the service").into()))).await;
                                break;
                            }
                        };
                        if frames.send(Ok(frame)).await.is_err() {
                            break;
                        }
                    }
                    _ = every.tick() => {
                        match self.check_again(&again).await {
                            Err(status) if !is_transient(&status) => {
                                tracing::info!(method = %again.path, code = ?status.code(),
                                    "stream ended: its caller would be refused now");
                                let _ = frames.send(Ok(ending(status))).await;
                                break;
                            }
                            _ => {}
                        }
                    }
                    () = frames.closed() => break,
                }
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(received);
        http::Response::from_parts(parts, Body::new(StreamBody::new(stream)))
    }

    fn decode(&self, path: &str, bytes: &Bytes) -> Result<DynamicMessage, tonic::Status> {
        let input = self
            .inputs
            .get(path)
            .ok_or_else(|| Error::NotServed(path.to_string()))?;
        let mut frame = bytes.clone();
        if frame.len() < 5 {
            return Err(Error::Malformed("no message".into()).into());
        }
        let compressed = frame.get_u8();
        let len = frame.get_u32() as usize;
        if compressed != 0 {
            return Err(Error::Malformed("compressed requests are not supported".into()).into());
        }
        if len != frame.len() {
            return Err(Error::Malformed("expected exactly one message".into()).into());
        }
        let message = DynamicMessage::decode(input.clone(), frame)
            .map_err(|e| tonic::Status::from(Error::Malformed(e.to_string())))?;
        if has_long_list(&message) {
            let mut too_long = Violations::new();
            long_lists(&message, "", &mut too_long);
            return Err(Error::Invalid(too_long).into());
        }
        Ok(message)
    }
}

/// The most items a list in a request may hold. No method needs more (250 countries, a page of
/// 1,000); a bound keeps what one call can make a service do bounded too.
pub const MAX_LIST_ITEMS: usize = 1000;

/// Whether a list in `message` (at any depth) is longer than [`MAX_LIST_ITEMS`]: the check
/// every call makes, without building a field path.
fn has_long_list(message: &DynamicMessage) -> bool {
    message.fields().any(|(_, value)| match value {
        prost_reflect::Value::List(items) => {
            items.len() > MAX_LIST_ITEMS
                || items.iter().any(|item| match item {
                    prost_reflect::Value::Message(inner) => has_long_list(inner),
                    _ => false,
                })
        }
        prost_reflect::Value::Message(inner) => has_long_list(inner),
        _ => false,
    })
}

/// Adds a violation for every list in `message` (at any depth) longer than [`MAX_LIST_ITEMS`].
fn long_lists(message: &DynamicMessage, prefix: &str, violations: &mut Violations) {
    for (field, value) in message.fields() {
        let path = format!("{prefix}{}", field.name());
        match value {
            prost_reflect::Value::List(items) => {
                if items.len() > MAX_LIST_ITEMS {
                    violations.add(
                        &path,
                        format!("holds {} items; at most {MAX_LIST_ITEMS}", items.len()),
                    );
                }
                for (i, item) in items.iter().enumerate().take(MAX_LIST_ITEMS) {
                    if let prost_reflect::Value::Message(inner) = item {
                        long_lists(inner, &format!("{path}[{i}]."), violations);
                    }
                }
            }
            prost_reflect::Value::Message(inner) => {
                long_lists(inner, &format!("{path}."), violations)
            }
            _ => {}
        }
    }
}

/// The trailers that end a stream with `status`.
fn ending(status: tonic::Status) -> Frame<Bytes> {
    let mut trailers = http::HeaderMap::new();
    // Only a status whose message can't be a header fails here; it ends the stream all the same.
    let _ = status.add_header(&mut trailers);
    Frame::trailers(trailers)
}

/// A user who must change its password may call nothing but `ChangePassword`; one who must
/// enroll a second factor (see [`must_enroll_second_factor`]) nothing but enrolling it and
/// `ChangePassword`.
fn set_up_if_required(
    caller: &Caller,
    path: &str,
    second_factor_required: bool,
) -> Result<(), Error> {
    const CHANGE_PASSWORD: &str = "/partnerhub.gateway.v1.AuthService/ChangePassword";
    const ENROLL: [&str; 3] = [
        CHANGE_PASSWORD,
        "/partnerhub.gateway.v1.AuthService/BeginSecondFactorEnrollment",
        "/partnerhub.gateway.v1.AuthService/ConfirmSecondFactorEnrollment",
    ];
    let Caller::User(p) = caller else {
        return Ok(());
    };
    if p.password_change_required && path != CHANGE_PASSWORD {
        return Err(Error::PasswordChangeRequired);
    }
    if must_enroll_second_factor(second_factor_required, p) && !ENROLL.contains(&path) {
        return Err(Error::SecondFactorEnrollmentRequired);
    }
    Ok(())
}

/// Whether `p` must enroll a second factor before anything else: where the deployment requires
/// one (`--require-second-factor`), every person on a partner's staff, that is, a partner
/// tenant's user holding any role (admins and agents: they act in customers' tenants, as
/// Partner Center requires MFA of partners). Service accounts have no second factor: their
/// secret is their only credential.
pub fn must_enroll_second_factor(required: bool, p: &pb::Principal) -> bool {
    required
        && !p.service_account
        && !p.second_factor_enrolled
        && p.tenant_kind == pb::tenant::Kind::Partner as i32
        && !p.roles.is_empty()
}

/// A refusal that says nothing about the caller: the check could not be made.
fn is_transient(status: &tonic::Status) -> bool {
    use tonic::Code::*;
    matches!(
        status.code(),
        Unavailable
            | DeadlineExceeded
            | Cancelled
            | Internal
            | Unknown
            | ResourceExhausted
            | Aborted
    )
}

async fn read_body(body: Body) -> Result<Bytes, tonic::Status> {
    Limited::new(body, MAX_MESSAGE + 5)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| Error::Malformed(format!("can't read the request: {e}")).into())
}

fn role_names(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str_name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A required tenant id in a request field.
fn target(message: &DynamicMessage, field: &str) -> Result<String, Error> {
    let target = field_text(message, field);
    if target.is_empty() {
        return Err(Error::Invalid(Violations::one(field, "is required")));
    }
    if uuid::Uuid::parse_str(&target).is_err() {
        return Err(Error::Invalid(Violations::one(field, "must be a UUID")));
    }
    Ok(target)
}

impl State {
    /// Applies a rule to a caller and the decoded request.
    async fn authorize(
        &self,
        path: &str,
        rule: Rule,
        caller: &Caller,
        message: &DynamicMessage,
    ) -> Result<Access, tonic::Status> {
        let method = path.rsplit('/').next().unwrap_or(path).to_string();
        let own_tenant = match caller {
            Caller::User(p) => p.tenant_id.clone(),
            Caller::Operator => String::new(),
        };
        let own = Access {
            tenant_id: own_tenant.clone(),
            through: Vec::new(),
            roles: caller.roles(),
        };
        match rule {
            Rule::Anyone => Ok(own),
            Rule::Person => match caller {
                Caller::Operator => Err(Error::OperatorHasNoPassword.into()),
                Caller::User(p) if p.service_account => {
                    Err(Error::ServiceAccountHasNoPassword.into())
                }
                Caller::User(_) => Ok(own),
            },
            Rule::Operator => match caller {
                Caller::Operator => Ok(own),
                Caller::User(_) => Err(Error::OperatorOnly(method).into()),
            },
            Rule::OwnList { fields, roles } => {
                let named: Vec<(&str, String)> = fields
                    .iter()
                    .map(|f| (*f, field_text(message, f)))
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                if named.is_empty() {
                    return Err(Error::Invalid(Violations::one(
                        fields[0],
                        format!("one of {} is required", fields.join(", ")),
                    ))
                    .into());
                }
                for (field, value) in &named {
                    if uuid::Uuid::parse_str(value).is_err() {
                        return Err(
                            Error::Invalid(Violations::one(*field, "must be a UUID")).into()
                        );
                    }
                }
                match caller {
                    Caller::Operator => Ok(own),
                    Caller::User(_) if !named.iter().any(|(_, v)| *v == own_tenant) => {
                        // Lists show a tenant's own records only: naming only other tenants is
                        // asking for someone else's.
                        Err(Error::NoAccessToTenant(named[0].1.clone()).into())
                    }
                    Caller::User(_) if policy::satisfies(roles, &caller.roles()) => Ok(own),
                    Caller::User(_) => Err(Error::RoleRequired {
                        method,
                        roles: role_names(roles),
                    }
                    .into()),
                }
            }
            Rule::InTenant {
                field,
                roles,
                operator,
                delegated,
            } => {
                let target = target(message, field)?;
                let access = Access {
                    tenant_id: target.clone(),
                    through: Vec::new(),
                    roles: caller.roles(),
                };
                match caller {
                    Caller::Operator if operator => Ok(access),
                    Caller::Operator => Err(Error::NotForOperator(method).into()),
                    Caller::User(p) if p.tenant_id == target => {
                        if policy::satisfies(roles, &caller.roles()) {
                            Ok(access)
                        } else {
                            Err(Error::RoleRequired {
                                method,
                                roles: role_names(roles),
                            }
                            .into())
                        }
                    }
                    Caller::User(p)
                        if delegated && p.tenant_kind == pb::tenant::Kind::Partner as i32 =>
                    {
                        self.delegated(p, &caller.roles(), &target, roles, method)
                            .await
                    }
                    Caller::User(_) => Err(Error::NoAccessToTenant(target).into()),
                }
            }
        }
    }

    /// A partner's user acting in a customer tenant through the partner's relationships.
    async fn delegated(
        &self,
        principal: &pb::Principal,
        held: &[Role],
        customer: &str,
        roles: &[Role],
        method: String,
    ) -> Result<Access, tonic::Status> {
        let answer = RelationshipInternalServiceClient::new(self.backends.relationships.clone())
            .check_access(rel::CheckAccessRequest {
                partner_tenant_id: principal.tenant_id.clone(),
                customer_tenant_id: customer.to_string(),
            })
            .await
            .map_err(relay)?
            .into_inner();
        let granted: Vec<Role> = answer
            .roles
            .iter()
            .filter_map(|r| Role::try_from(*r).ok())
            .collect();
        let effective = policy::delegated_roles(held, &granted);
        if effective.is_empty() {
            return Err(Error::NoAccessToTenant(customer.to_string()).into());
        }
        if !policy::satisfies(roles, &effective) {
            return Err(Error::DelegatedRoleRequired {
                method,
                roles: role_names(roles),
                held: role_names(&effective),
            }
            .into());
        }
        Ok(Access {
            tenant_id: customer.to_string(),
            through: answer.relationships.into_iter().map(|r| r.id).collect(),
            roles: effective,
        })
    }
}
