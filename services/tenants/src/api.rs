//! The handlers of `TenantService` and `TenantInternalService`: parse the request, apply the
//! rules, call the store, answer.

use crate::domain::{self, Authority, Kind, NewTenant, NewUser, TenantPatch, UserPatch};
use crate::error::{Error, Result};
use crate::password;
use crate::store::{self, TenantFilter, TenantRow, UserInsert, UserRow};
use partnerhub_kit::caller;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{Database, Replay, fingerprint, remember, replay};
use partnerhub_kit::time::now_micros;
use partnerhub_proto::tenants::tenant_internal_service_server::TenantInternalService;
use partnerhub_proto::tenants::tenant_service_server::TenantService;
use partnerhub_proto::{tenants as pb, types};
use sqlx::AnyConnection;
use std::time::Duration;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// Wrong passwords in a row that lock sign-in.
pub const MAX_FAILED_SIGN_INS: i64 = 5;
/// How long sign-in stays locked.
pub const LOCK_DURATION: Duration = Duration::from_secs(5 * 60);

/// The tenants service over its database.
#[derive(Debug, Clone)]
pub struct Tenants {
    db: Database,
}

/// A tenant with its first admin and the admin's temporary password ("" when a retry finds
/// that password changed already).
struct Created {
    tenant: TenantRow,
    admin: UserRow,
    temporary_password: String,
}

/// What a create did with its request id.
enum Outcome {
    Created(String),
    Replayed(String),
}

type Conn = sqlx::pool::PoolConnection<sqlx::Any>;

impl Tenants {
    pub fn new(db: Database) -> Self {
        Tenants { db }
    }

    async fn conn(&self) -> Result<Conn> {
        Ok(self.db.pool.acquire().await?)
    }

    /// Creates a tenant with its first global admin, once per request id. `field` names the
    /// tenant in the request ("partner", "customer"); `fingerprint` is the request's, without
    /// its request id.
    async fn create_tenant(
        &self,
        method: &str,
        kind: Kind,
        field: &str,
        tenant: Option<&pb::Tenant>,
        request_id: &str,
        fingerprint: String,
    ) -> Result<Created> {
        let mut v = Violations::new();
        let request_id = v.take(fields::request_id(request_id)).flatten();
        let new = v.take(NewTenant::parse(kind, tenant, field));
        let new = v.done(new)?;
        let temporary = password::temporary();
        let hash = password::hash_temporary(&temporary);
        let outcome = match self
            .insert_tenant(method, &new, request_id, &fingerprint, &hash)
            .await
        {
            // A concurrent twin with the same request id won the race: answer as a retry.
            Err(e @ (Error::MpnIdTaken(_) | Error::DomainPrefixTaken(_))) => {
                match self.seen(method, request_id, &fingerprint).await? {
                    Some(id) => Outcome::Replayed(id),
                    None => return Err(e),
                }
            }
            other => other?,
        };
        let mut conn = self.conn().await?;
        match outcome {
            Outcome::Created(id) => {
                let tenant = store::tenant(&mut conn, &id).await?;
                let admin = admin_of(&mut conn, &tenant).await?;
                Ok(Created {
                    tenant,
                    admin,
                    temporary_password: temporary,
                })
            }
            Outcome::Replayed(id) => {
                let tenant = store::tenant(&mut conn, &id).await?;
                let admin = admin_of(&mut conn, &tenant).await?;
                // The first temporary password was never stored in clear, so a retry can't show
                // it again: while it is unused, the retry replaces it with a new one.
                if admin.password_change_required != 0 {
                    store::set_password(&mut conn, &admin.id, &hash, true).await?;
                    let admin = admin_of(&mut conn, &tenant).await?;
                    Ok(Created {
                        tenant,
                        admin,
                        temporary_password: temporary,
                    })
                } else {
                    Ok(Created {
                        tenant,
                        admin,
                        temporary_password: String::new(),
                    })
                }
            }
        }
    }

    async fn insert_tenant(
        &self,
        method: &str,
        new: &NewTenant,
        request_id: Option<Uuid>,
        fingerprint: &str,
        hash: &str,
    ) -> Result<Outcome> {
        let mut tx = self.db.pool.begin().await?;
        if let Some(rid) = request_id
            && let Some(id) = replay(&mut tx, method, rid, fingerprint).await?.earlier()?
        {
            return Ok(Outcome::Replayed(id));
        }
        let tenant_id = Uuid::now_v7().to_string();
        store::insert_tenant(&mut tx, &tenant_id, new).await?;
        let user_name = format!("admin@{}.{}", new.domain_prefix, domain::DOMAIN_SUFFIX);
        let admin = UserInsert {
            tenant_id: &tenant_id,
            user_name: &user_name,
            display_name: "Administrator",
            email: &new.contact.email,
            roles: &[types::Role::GlobalAdmin],
            password_hash: hash,
        };
        store::insert_user(&mut tx, &Uuid::now_v7().to_string(), &admin).await?;
        if let Some(rid) = request_id {
            remember(&mut tx, method, rid, fingerprint, &tenant_id).await?;
        }
        tx.commit().await?;
        Ok(Outcome::Created(tenant_id))
    }

    /// The resource an earlier request with this id created, if any.
    async fn seen(
        &self,
        method: &str,
        request_id: Option<Uuid>,
        fingerprint: &str,
    ) -> Result<Option<String>> {
        let Some(rid) = request_id else {
            return Ok(None);
        };
        Ok(replay(&mut *self.conn().await?, method, rid, fingerprint)
            .await?
            .earlier()?)
    }

    async fn principal(&self, conn: &mut AnyConnection, user_id: &str) -> Result<pb::Principal> {
        store::principal(conn, user_id)
            .await?
            .map(|row| row.to_proto())
            .ok_or_else(|| Error::UserNotFound(user_id.to_string()))
    }

    async fn create_user(
        &self,
        req: pb::CreateUserRequest,
        authority: Authority,
    ) -> Result<(UserRow, String)> {
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        let new = v.take(NewUser::parse(req.user.as_ref()));
        let (tenant_id, new) = v.done(tenant_id.zip(new))?;
        let asked: Vec<types::Role> = new
            .roles
            .iter()
            .filter_map(|r| types::Role::try_from(*r).ok())
            .collect();
        authority.check_assign_roles(&asked)?;
        let tenant_id = tenant_id.to_string();
        let fingerprint = fingerprint(&pb::CreateUserRequest {
            request_id: String::new(),
            ..req
        });
        let temporary = password::temporary();
        let hash = password::hash_temporary(&temporary);

        let mut tx = self.db.pool.begin().await?;
        if let Some(rid) = request_id
            && let Some(user_id) = replay(&mut tx, "CreateUser", rid, &fingerprint)
                .await?
                .earlier()?
        {
            drop(tx);
            return self
                .replay_user(&tenant_id, &user_id, temporary, &hash)
                .await;
        }
        let tenant = store::tenant(&mut tx, &tenant_id).await?;
        if !tenant.is_active() {
            return Err(Error::TenantNotActive);
        }
        let mut v = Violations::new();
        let roles = v.take(domain::roles("user.roles", &new.roles, tenant.kind()));
        let primary = tenant.primary_domain();
        if new.given_domain.as_ref().is_some_and(|d| *d != primary) {
            v.add(
                "user.user_name",
                format!("must end with @{primary}, the tenant's domain"),
            );
        }
        v.check()?;
        let user_name = format!("{}@{primary}", new.local_name);
        let user_id = Uuid::now_v7().to_string();
        let insert = UserInsert {
            tenant_id: &tenant_id,
            user_name: &user_name,
            display_name: &new.display_name,
            email: &new.email,
            roles: &roles.unwrap_or_default(),
            password_hash: &hash,
        };
        match store::insert_user(&mut tx, &user_id, &insert).await {
            Ok(()) => {}
            Err(e @ Error::UserNameTaken(_)) => {
                drop(tx);
                return match self.seen("CreateUser", request_id, &fingerprint).await? {
                    Some(id) => self.replay_user(&tenant_id, &id, temporary, &hash).await,
                    None => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
        if let Some(rid) = request_id {
            remember(&mut tx, "CreateUser", rid, &fingerprint, &user_id).await?;
        }
        tx.commit().await?;
        let user = store::user(&mut *self.conn().await?, &tenant_id, &user_id).await?;
        Ok((user, temporary))
    }

    async fn replay_user(
        &self,
        tenant_id: &str,
        user_id: &str,
        temporary: String,
        hash: &str,
    ) -> Result<(UserRow, String)> {
        let mut conn = self.conn().await?;
        let user = store::user(&mut conn, tenant_id, user_id).await?;
        if user.password_change_required == 0 {
            return Ok((user, String::new()));
        }
        store::set_password(&mut conn, user_id, hash, true).await?;
        Ok((store::user(&mut conn, tenant_id, user_id).await?, temporary))
    }

    async fn update_user(
        &self,
        req: pb::UpdateUserRequest,
        authority: Authority,
    ) -> Result<UserRow> {
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let user = req.user.unwrap_or_default();
        let user_id = v.take(fields::id("user.id", &user.id));
        let etag = v.take(fields::etag("user.etag", &user.etag)).flatten();
        let patch = v.take(UserPatch::parse(&user, req.update_mask.as_ref()));
        let ((tenant_id, user_id), patch) = v.done(tenant_id.zip(user_id).zip(patch))?;
        let (tenant_id, user_id) = (tenant_id.to_string(), user_id.to_string());
        let mut tx = self.db.pool.begin().await?;
        store::lock_tenant(&mut tx, &tenant_id).await?;
        let tenant = store::tenant(&mut tx, &tenant_id).await?;
        let row = store::user(&mut tx, &tenant_id, &user_id).await?;
        check_etag("user", etag, row.version)?;
        authority.check_manage(&row.roles())?;
        let roles = match &patch.roles {
            Some(raw) => domain::roles("user.roles", raw, tenant.kind())?,
            None => row
                .roles()
                .into_iter()
                .filter_map(|r| types::Role::try_from(r).ok())
                .collect(),
        };
        let before = row.roles();
        let changed: Vec<types::Role> = types_changed(&before, &roles);
        authority.check_assign_roles(&changed)?;
        if row.is_global_admin()
            && !roles.contains(&types::Role::GlobalAdmin)
            && store::count_global_admins(&mut tx, &tenant_id).await? <= 1
        {
            return Err(Error::LastGlobalAdmin(row.user_name));
        }
        store::update_user(
            &mut tx,
            &user_id,
            patch.display_name.as_deref().unwrap_or(&row.display_name),
            patch.email.as_deref().unwrap_or(&row.email),
            &store::join_names(roles.iter().map(|r| r.as_str_name())),
        )
        .await?;
        let updated = store::user(&mut tx, &tenant_id, &user_id).await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn delete_user(&self, req: pb::DeleteUserRequest, authority: Authority) -> Result<()> {
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let user_id = v.take(fields::id("user_id", &req.user_id));
        let etag = v.take(fields::etag("etag", &req.etag)).flatten();
        let (tenant_id, user_id) = v.done(tenant_id.zip(user_id))?;
        let (tenant_id, user_id) = (tenant_id.to_string(), user_id.to_string());
        let mut tx = self.db.pool.begin().await?;
        store::lock_tenant(&mut tx, &tenant_id).await?;
        let row = store::user(&mut tx, &tenant_id, &user_id).await?;
        check_etag("user", etag, row.version)?;
        authority.check_manage(&row.roles())?;
        if row.is_global_admin() && store::count_global_admins(&mut tx, &tenant_id).await? <= 1 {
            return Err(Error::LastGlobalAdmin(row.user_name));
        }
        store::delete_user(&mut tx, &user_id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_tenant(&self, req: pb::UpdateTenantRequest) -> Result<TenantRow> {
        let Some(t) = req.tenant else {
            return Err(Error::field("tenant", "is required"));
        };
        let mut v = Violations::new();
        let id = v.take(fields::id("tenant.id", &t.id));
        let etag = v.take(fields::etag("tenant.etag", &t.etag)).flatten();
        let patch = v.take(TenantPatch::parse(&t, req.update_mask.as_ref()));
        let (id, patch) = v.done(id.zip(patch))?;
        let id = id.to_string();
        let mut tx = self.db.pool.begin().await?;
        store::lock_tenant(&mut tx, &id).await?;
        let row = store::tenant(&mut tx, &id).await?;
        if patch.touches_partner() && row.kind() != Kind::Partner {
            return Err(Error::field(
                "update_mask",
                "partner.* fields belong to partners; this tenant is a customer",
            ));
        }
        check_etag("tenant", etag, row.version)?;
        store::update_tenant(&mut tx, &row, &patch).await?;
        let updated = store::tenant(&mut tx, &id).await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn accept_agreement(
        &self,
        req: pb::AcceptAgreementRequest,
        user_id: String,
    ) -> Result<store::AgreementRow> {
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let agreement_type = match pb::agreement::Type::try_from(req.r#type) {
            Ok(pb::agreement::Type::Unspecified) => {
                v.add("type", "is required");
                None
            }
            Ok(t) => Some(t),
            Err(_) => {
                v.add("type", "is not an agreement type");
                None
            }
        };
        let signer = v.take(domain::contact("signer", req.signer.as_ref()));
        let ((tenant_id, agreement_type), signer) =
            v.done(tenant_id.zip(agreement_type).zip(signer))?;
        let tenant_id = tenant_id.to_string();
        let mut conn = self.conn().await?;
        let tenant = store::tenant(&mut conn, &tenant_id).await?;
        let expected = tenant.kind().agreement();
        if agreement_type != expected {
            return Err(Error::field(
                "type",
                format!(
                    "this tenant accepts {}, not {}",
                    expected.as_str_name(),
                    agreement_type.as_str_name()
                ),
            ));
        }
        let version = match agreement_type {
            pb::agreement::Type::PartnerAgreement => domain::PARTNER_AGREEMENT_VERSION,
            _ => domain::CUSTOMER_AGREEMENT_VERSION,
        };
        let type_name = agreement_type.as_str_name();
        // No transaction: a unique violation would abort a PostgreSQL transaction, and here it
        // only means the same signer accepted a moment ago.
        if let Some(found) =
            store::find_agreement(&mut conn, &tenant_id, type_name, version, &signer).await?
        {
            return Ok(found);
        }
        let id = Uuid::now_v7().to_string();
        store::insert_agreement(
            &mut conn, &id, &tenant_id, type_name, version, &signer, &user_id,
        )
        .await?;
        store::find_agreement(&mut conn, &tenant_id, type_name, version, &signer)
            .await?
            .ok_or_else(|| Error::TenantNotFound(tenant_id))
    }

    async fn check_credentials(&self, req: pb::CheckCredentialsRequest) -> Result<pb::Principal> {
        let user_name = req.user_name.trim().to_lowercase();
        let mut v = Violations::new();
        if user_name.is_empty() {
            v.add("user_name", "is required");
        } else if user_name.chars().any(char::is_control) || user_name.len() > 320 {
            v.add("user_name", "is not a user name");
        }
        if req.password.is_empty() {
            v.add("password", "is required");
        }
        v.check()?;
        let found = store::credentials_by_name(&mut *self.conn().await?, &user_name).await?;
        let now = now_micros();
        let Some(cred) = found else {
            // Take as long as a wrong password does, so user names can't be probed by timing.
            password::verify(req.password, None).await?;
            return Err(Error::InvalidCredentials);
        };
        if cred.locked_until > now {
            return Err(Error::Locked(remaining(cred.locked_until, now)));
        }
        if !password::verify(req.password, Some(cred.password_hash)).await? {
            let lock_until = now + partnerhub_kit::time::micros(LOCK_DURATION);
            let locked = store::record_failed_sign_in(
                &mut *self.conn().await?,
                &cred.id,
                MAX_FAILED_SIGN_INS,
                lock_until,
            )
            .await?;
            return Err(if locked > now {
                Error::Locked(remaining(locked, now))
            } else {
                Error::InvalidCredentials
            });
        }
        let mut conn = self.conn().await?;
        store::clear_failed_sign_ins(&mut conn, &cred.id).await?;
        let principal = self.principal(&mut conn, &cred.id).await?;
        if principal.tenant_state != pb::tenant::State::Active as i32 {
            return Err(Error::TenantNotActive);
        }
        Ok(principal)
    }

    async fn change_password(&self, req: pb::ChangePasswordRequest) -> Result<pb::Principal> {
        let mut v = Violations::new();
        let user_id = v.take(fields::id("user_id", &req.user_id));
        if req.current_password.is_empty() {
            v.add("current_password", "is required");
        }
        v.take(password::check_policy("new_password", &req.new_password));
        if !req.new_password.is_empty() && req.new_password == req.current_password {
            v.add("new_password", "must differ from the current password");
        }
        v.check()?;
        let user_id = user_id.map(|u| u.to_string()).unwrap_or_default();
        let cred = store::credentials_by_id(&mut *self.conn().await?, &user_id)
            .await?
            .ok_or_else(|| Error::UserNotFound(user_id.clone()))?;
        if !password::verify(req.current_password, Some(cred.password_hash)).await? {
            return Err(Error::field(
                "current_password",
                "is not the user's current password",
            ));
        }
        let hash = password::hash(req.new_password).await?;
        let mut conn = self.conn().await?;
        store::set_password(&mut conn, &user_id, &hash, false).await?;
        self.principal(&mut conn, &user_id).await
    }
}

/// The roles in one list and not the other (given or taken).
fn types_changed(before: &[i32], after: &[types::Role]) -> Vec<types::Role> {
    let after_raw: Vec<i32> = after.iter().map(|r| *r as i32).collect();
    let taken = before
        .iter()
        .filter(|r| !after_raw.contains(r))
        .filter_map(|r| types::Role::try_from(*r).ok());
    let given = after
        .iter()
        .copied()
        .filter(|r| !before.contains(&(*r as i32)));
    taken.chain(given).collect()
}

fn remaining(until: i64, now: i64) -> Duration {
    Duration::from_micros(u64::try_from(until - now).unwrap_or(0))
}

fn check_etag(what: &'static str, sent: Option<i64>, current: i64) -> Result<()> {
    match sent {
        Some(v) if v != current => Err(Error::StaleEtag {
            what,
            sent: fields::etag_of(v),
            current: fields::etag_of(current),
        }),
        _ => Ok(()),
    }
}

/// The first global admin a create made: "admin@" + the tenant's domain.
async fn admin_of(conn: &mut AnyConnection, tenant: &TenantRow) -> Result<UserRow> {
    let name = format!("admin@{}", tenant.primary_domain());
    store::user_by_name(conn, &name)
        .await?
        .ok_or(Error::UserNotFound(name))
}

/// An optional enum filter: unset is "", an unknown number is a violation.
fn enum_filter<E: Copy + PartialEq>(
    v: &mut Violations,
    field: &str,
    raw: i32,
    parse: impl Fn(i32) -> Option<E>,
    unspecified: E,
    name: impl Fn(E) -> &'static str,
) -> String {
    match parse(raw) {
        Some(e) if e == unspecified => String::new(),
        Some(e) => name(e).to_string(),
        None => {
            v.add(field, "is not a known value");
            String::new()
        }
    }
}

#[tonic::async_trait]
impl TenantService for Tenants {
    async fn create_partner(
        &self,
        request: Request<pb::CreatePartnerRequest>,
    ) -> Result<Response<pb::CreatePartnerResponse>, Status> {
        let req = request.into_inner();
        let fingerprint = fingerprint(&pb::CreatePartnerRequest {
            request_id: String::new(),
            ..req.clone()
        });
        let created = self
            .create_tenant(
                "CreatePartner",
                Kind::Partner,
                "partner",
                req.partner.as_ref(),
                &req.request_id,
                fingerprint,
            )
            .await?;
        Ok(Response::new(pb::CreatePartnerResponse {
            partner: Some(created.tenant.to_proto()),
            admin_user: Some(created.admin.to_proto()),
            temporary_password: created.temporary_password,
        }))
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::GetTenantResponse>, Status> {
        let id = fields::id("tenant_id", &request.get_ref().tenant_id).map_err(Error::from)?;
        let tenant = store::tenant(&mut *self.conn().await?, &id.to_string()).await?;
        Ok(Response::new(pb::GetTenantResponse {
            tenant: Some(tenant.to_proto()),
        }))
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let filter = TenantFilter {
            kind: enum_filter(
                &mut v,
                "kind",
                req.kind,
                |r| pb::tenant::Kind::try_from(r).ok(),
                pb::tenant::Kind::Unspecified,
                |e| e.as_str_name(),
            ),
            cloud: enum_filter(
                &mut v,
                "cloud",
                req.cloud,
                |r| types::Cloud::try_from(r).ok(),
                types::Cloud::Unspecified,
                |e| e.as_str_name(),
            ),
            country_code: v
                .take(partnerhub_rules::country::optional_code(
                    "country_code",
                    &req.country_code,
                ))
                .unwrap_or_default(),
            partner_type: enum_filter(
                &mut v,
                "partner_type",
                req.partner_type,
                |r| types::PartnerType::try_from(r).ok(),
                types::PartnerType::Unspecified,
                |e| e.as_str_name(),
            ),
            state: match enum_filter(
                &mut v,
                "state",
                req.state,
                |r| pb::tenant::State::try_from(r).ok(),
                pb::tenant::State::Unspecified,
                |e| e.as_str_name(),
            ) {
                s if s.is_empty() => pb::tenant::State::Active.as_str_name().to_string(),
                s => s,
            },
        };
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "tenants",
            &[
                &filter.kind,
                &filter.cloud,
                &filter.country_code,
                &filter.partner_type,
                &filter.state,
            ],
        ));
        let page = v.done(page).map_err(Error::from)?;
        let rows = store::list_tenants(&mut *self.conn().await?, &filter, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |t| t.id.clone());
        Ok(Response::new(pb::ListTenantsResponse {
            tenants: rows.iter().map(TenantRow::to_proto).collect(),
            next_page_token,
        }))
    }

    async fn update_tenant(
        &self,
        request: Request<pb::UpdateTenantRequest>,
    ) -> Result<Response<pb::UpdateTenantResponse>, Status> {
        let tenant = self.update_tenant(request.into_inner()).await?;
        Ok(Response::new(pb::UpdateTenantResponse {
            tenant: Some(tenant.to_proto()),
        }))
    }

    async fn verify_partner_id(
        &self,
        request: Request<pb::VerifyPartnerIdRequest>,
    ) -> Result<Response<pb::VerifyPartnerIdResponse>, Status> {
        let mpn_id =
            domain::mpn_id("mpn_id", request.get_ref().mpn_id.trim()).map_err(Error::from)?;
        let partner = store::partner_by_mpn_id(&mut *self.conn().await?, &mpn_id)
            .await?
            .ok_or(Error::PartnerIdNotFound(mpn_id))?;
        Ok(Response::new(pb::VerifyPartnerIdResponse {
            partner: Some(partner.to_listing()),
        }))
    }

    async fn search_partners(
        &self,
        request: Request<pb::SearchPartnersRequest>,
    ) -> Result<Response<pb::SearchPartnersResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let filter = store::SearchFilter {
            country_code: v
                .take(partnerhub_rules::country::optional_code(
                    "country_code",
                    &req.country_code,
                ))
                .unwrap_or_default(),
            cloud: enum_filter(
                &mut v,
                "cloud",
                req.cloud,
                |r| types::Cloud::try_from(r).ok(),
                types::Cloud::Unspecified,
                |e| e.as_str_name(),
            ),
            partner_type: enum_filter(
                &mut v,
                "partner_type",
                req.partner_type,
                |r| types::PartnerType::try_from(r).ok(),
                types::PartnerType::Unspecified,
                |e| e.as_str_name(),
            ),
            words: v
                .take(domain::query_words("query", &req.query))
                .unwrap_or_default(),
        };
        let words = filter.words.join(" ");
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "partners",
            &[
                &filter.country_code,
                &filter.cloud,
                &filter.partner_type,
                &words,
            ],
        ));
        let page = v.done(page).map_err(Error::from)?;
        let rows = store::search_partners(&mut *self.conn().await?, &filter, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |t| t.id.clone());
        Ok(Response::new(pb::SearchPartnersResponse {
            partners: rows.iter().map(TenantRow::to_listing).collect(),
            next_page_token,
        }))
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let authority = Authority::new(caller::roles(&request));
        let (user, temporary_password) = self.create_user(request.into_inner(), authority).await?;
        Ok(Response::new(pb::CreateUserResponse {
            user: Some(user.to_proto()),
            temporary_password,
        }))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let req = request.get_ref();
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let user_id = v.take(fields::id("user_id", &req.user_id));
        let (tenant_id, user_id) = v.done(tenant_id.zip(user_id)).map_err(Error::from)?;
        let user = store::user(
            &mut *self.conn().await?,
            &tenant_id.to_string(),
            &user_id.to_string(),
        )
        .await?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(user.to_proto()),
        }))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let tenant_id = v
            .take(fields::id("tenant_id", &req.tenant_id))
            .map(|t| t.to_string())
            .unwrap_or_default();
        let role = enum_filter(
            &mut v,
            "role",
            req.role,
            |r| types::Role::try_from(r).ok(),
            types::Role::Unspecified,
            |e| e.as_str_name(),
        );
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "users",
            &[&tenant_id, &role],
        ));
        let page = v.done(page).map_err(Error::from)?;
        let mut conn = self.conn().await?;
        store::tenant(&mut conn, &tenant_id).await?;
        let rows = store::list_users(
            &mut conn,
            &tenant_id,
            (!role.is_empty()).then_some(role.as_str()),
            &page,
        )
        .await?;
        let (rows, next_page_token) = page.finish(rows, |u| u.id.clone());
        Ok(Response::new(pb::ListUsersResponse {
            users: rows.iter().map(UserRow::to_proto).collect(),
            next_page_token,
        }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let authority = Authority::new(caller::roles(&request));
        let user = self.update_user(request.into_inner(), authority).await?;
        Ok(Response::new(pb::UpdateUserResponse {
            user: Some(user.to_proto()),
        }))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let authority = Authority::new(caller::roles(&request));
        self.delete_user(request.into_inner(), authority).await?;
        Ok(Response::new(pb::DeleteUserResponse {}))
    }

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        let req = request.get_ref();
        let mut v = Violations::new();
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let user_id = v.take(fields::id("user_id", &req.user_id));
        let (tenant_id, user_id) = v.done(tenant_id.zip(user_id)).map_err(Error::from)?;
        let (tenant_id, user_id) = (tenant_id.to_string(), user_id.to_string());
        let target = store::user(&mut *self.conn().await?, &tenant_id, &user_id).await?;
        Authority::new(caller::roles(&request)).check_manage(&target.roles())?;
        let temporary = password::temporary();
        let hash = password::hash_temporary(&temporary);
        let mut conn = self.conn().await?;
        store::set_password(&mut conn, &user_id, &hash, true).await?;
        let user = store::user(&mut conn, &tenant_id, &user_id).await?;
        Ok(Response::new(pb::ResetPasswordResponse {
            user: Some(user.to_proto()),
            temporary_password: temporary,
        }))
    }

    async fn accept_agreement(
        &self,
        request: Request<pb::AcceptAgreementRequest>,
    ) -> Result<Response<pb::AcceptAgreementResponse>, Status> {
        let user_id = caller::user_id(&request);
        let agreement = self.accept_agreement(request.into_inner(), user_id).await?;
        Ok(Response::new(pb::AcceptAgreementResponse {
            agreement: Some(agreement.to_proto()),
        }))
    }

    async fn list_agreements(
        &self,
        request: Request<pb::ListAgreementsRequest>,
    ) -> Result<Response<pb::ListAgreementsResponse>, Status> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let tenant_id = v
            .take(fields::id("tenant_id", &req.tenant_id))
            .map(|t| t.to_string())
            .unwrap_or_default();
        let agreement_type = enum_filter(
            &mut v,
            "type",
            req.r#type,
            |r| pb::agreement::Type::try_from(r).ok(),
            pb::agreement::Type::Unspecified,
            |e| e.as_str_name(),
        );
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "agreements",
            &[&tenant_id, &agreement_type],
        ));
        let page = v.done(page).map_err(Error::from)?;
        let mut conn = self.conn().await?;
        store::tenant(&mut conn, &tenant_id).await?;
        let rows = store::list_agreements(&mut conn, &tenant_id, &agreement_type, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |a| a.id.clone());
        Ok(Response::new(pb::ListAgreementsResponse {
            agreements: rows.iter().map(store::AgreementRow::to_proto).collect(),
            next_page_token,
        }))
    }
}

#[tonic::async_trait]
impl TenantInternalService for Tenants {
    async fn create_customer_tenant(
        &self,
        request: Request<pb::CreateCustomerTenantRequest>,
    ) -> Result<Response<pb::CreateCustomerTenantResponse>, Status> {
        let req = request.into_inner();
        if req.validate_only {
            let new = NewTenant::parse(Kind::Customer, req.customer.as_ref(), "customer")
                .map_err(Error::from)?;
            let request_id = fields::request_id(&req.request_id).map_err(Error::from)?;
            let mut conn = self.conn().await?;
            // A workflow retrying its review after its create went through: the prefix is its own.
            if let Some(rid) = request_id {
                let as_created = pb::CreateCustomerTenantRequest {
                    request_id: String::new(),
                    validate_only: false,
                    ..req.clone()
                };
                if let Replay::Same(id) = replay(
                    &mut conn,
                    "CreateCustomerTenant",
                    rid,
                    &fingerprint(&as_created),
                )
                .await
                .map_err(Error::from)?
                {
                    let tenant = store::tenant(&mut conn, &id).await?;
                    return Ok(Response::new(pb::CreateCustomerTenantResponse {
                        customer: Some(tenant.to_proto()),
                        admin_user: None,
                        temporary_password: String::new(),
                    }));
                }
            }
            store::check_free(&mut conn, &new).await?;
            return Ok(Response::new(pb::CreateCustomerTenantResponse {
                customer: Some(new.preview()),
                admin_user: None,
                temporary_password: String::new(),
            }));
        }
        let fingerprint = fingerprint(&pb::CreateCustomerTenantRequest {
            request_id: String::new(),
            ..req.clone()
        });
        let created = self
            .create_tenant(
                "CreateCustomerTenant",
                Kind::Customer,
                "customer",
                req.customer.as_ref(),
                &req.request_id,
                fingerprint,
            )
            .await?;
        Ok(Response::new(pb::CreateCustomerTenantResponse {
            customer: Some(created.tenant.to_proto()),
            admin_user: Some(created.admin.to_proto()),
            temporary_password: created.temporary_password,
        }))
    }

    async fn activate_tenant(
        &self,
        request: Request<pb::ActivateTenantRequest>,
    ) -> Result<Response<pb::ActivateTenantResponse>, Status> {
        let id = fields::id("tenant_id", &request.get_ref().tenant_id)
            .map_err(Error::from)?
            .to_string();
        let mut conn = self.conn().await?;
        store::tenant(&mut conn, &id).await?;
        store::activate_tenant(&mut conn, &id).await?;
        let tenant = store::tenant(&mut conn, &id).await?;
        Ok(Response::new(pb::ActivateTenantResponse {
            tenant: Some(tenant.to_proto()),
        }))
    }

    async fn check_credentials(
        &self,
        request: Request<pb::CheckCredentialsRequest>,
    ) -> Result<Response<pb::CheckCredentialsResponse>, Status> {
        let principal = self.check_credentials(request.into_inner()).await?;
        Ok(Response::new(pb::CheckCredentialsResponse {
            principal: Some(principal),
        }))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let principal = self.change_password(request.into_inner()).await?;
        Ok(Response::new(pb::ChangePasswordResponse {
            principal: Some(principal),
        }))
    }

    async fn batch_get_tenants(
        &self,
        request: Request<pb::BatchGetTenantsRequest>,
    ) -> Result<Response<pb::BatchGetTenantsResponse>, Status> {
        let ids = &request.get_ref().tenant_ids;
        if ids.len() > 1000 {
            return Err(Error::field("tenant_ids", "must have at most 1000 ids").into());
        }
        let mut v = Violations::new();
        for (i, id) in ids.iter().enumerate() {
            v.take(fields::id(&format!("tenant_ids[{i}]"), id));
        }
        v.check().map_err(Error::from)?;
        let mut conn = self.conn().await?;
        let mut tenants = Vec::with_capacity(ids.len());
        // One indexed read per id keeps the SQL static; a page of a list is at most 1000 ids.
        for id in ids {
            if let Some(t) = store::get_tenant(&mut conn, id).await? {
                tenants.push(t.to_proto());
            }
        }
        Ok(Response::new(pb::BatchGetTenantsResponse { tenants }))
    }

    async fn get_principal(
        &self,
        request: Request<pb::GetPrincipalRequest>,
    ) -> Result<Response<pb::GetPrincipalResponse>, Status> {
        let id = fields::id("user_id", &request.get_ref().user_id)
            .map_err(Error::from)?
            .to_string();
        let principal = self.principal(&mut *self.conn().await?, &id).await?;
        Ok(Response::new(pb::GetPrincipalResponse {
            principal: Some(principal),
        }))
    }
}
