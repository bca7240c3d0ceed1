//! The tenants service's SQL: every statement it runs, one text for SQLite and PostgreSQL.

use crate::domain::{self, Address, Contact, Kind, NewTenant, TenantPatch};
use crate::error::{Error, Result};
use partnerhub_kit::fields::etag_of;
use partnerhub_kit::page::Page;
use partnerhub_kit::time::{now_micros, timestamp};
use partnerhub_proto::{tenants as pb, types};
use sqlx::AnyConnection;

/// The columns of a tenant row, in [`TenantRow`]'s order.
macro_rules! tenant_columns {
    () => {
        "id, kind, display_name, cloud, country_code, domain_prefix, address_lines, locality, \
         administrative_area, postal_code, contact_first_name, contact_last_name, contact_email, \
         contact_phone, state, mpn_id, partner_types, listed, description, keywords, version, \
         create_time, update_time"
    };
}

/// The columns of a user row, in [`UserRow`]'s order.
macro_rules! user_columns {
    () => {
        "id, tenant_id, user_name, display_name, email, roles, password_change_required, version, \
         create_time, update_time"
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: String,
    pub kind: String,
    pub display_name: String,
    pub cloud: String,
    pub country_code: String,
    pub domain_prefix: String,
    pub address_lines: String,
    pub locality: String,
    pub administrative_area: String,
    pub postal_code: String,
    pub contact_first_name: String,
    pub contact_last_name: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub state: String,
    pub mpn_id: Option<String>,
    pub partner_types: String,
    pub listed: i64,
    pub description: String,
    pub keywords: String,
    pub version: i64,
    pub create_time: i64,
    pub update_time: i64,
}

impl TenantRow {
    pub fn kind(&self) -> Kind {
        kind_of(&self.kind)
    }

    pub fn is_active(&self) -> bool {
        self.state == pb::tenant::State::Active.as_str_name()
    }

    pub fn primary_domain(&self) -> String {
        format!("{}.{}", self.domain_prefix, domain::DOMAIN_SUFFIX)
    }

    pub fn partner_types(&self) -> Vec<i32> {
        partner_types_of(&self.partner_types)
    }

    fn keywords(&self) -> Vec<String> {
        split_lines(&self.keywords)
    }

    pub fn to_proto(&self) -> pb::Tenant {
        let partner = (self.kind() == Kind::Partner).then(|| pb::PartnerProfile {
            mpn_id: self.mpn_id.clone().unwrap_or_default(),
            partner_types: self.partner_types(),
            listed: self.listed != 0,
            description: self.description.clone(),
            keywords: self.keywords(),
        });
        pb::Tenant {
            id: self.id.clone(),
            kind: self.kind().proto() as i32,
            display_name: self.display_name.clone(),
            cloud: enum_value(&self.cloud, types::Cloud::from_str_name),
            country_code: self.country_code.clone(),
            domain_prefix: self.domain_prefix.clone(),
            primary_domain: self.primary_domain(),
            address: Some(types::PostalAddress {
                address_lines: split_lines(&self.address_lines),
                locality: self.locality.clone(),
                administrative_area: self.administrative_area.clone(),
                postal_code: self.postal_code.clone(),
            }),
            contact: Some(types::Contact {
                first_name: self.contact_first_name.clone(),
                last_name: self.contact_last_name.clone(),
                email: self.contact_email.clone(),
                phone: self.contact_phone.clone(),
            }),
            state: enum_value(&self.state, pb::tenant::State::from_str_name),
            partner,
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            etag: etag_of(self.version),
        }
    }

    pub fn to_listing(&self) -> pb::PartnerListing {
        pb::PartnerListing {
            tenant_id: self.id.clone(),
            display_name: self.display_name.clone(),
            mpn_id: self.mpn_id.clone().unwrap_or_default(),
            partner_types: self.partner_types(),
            cloud: enum_value(&self.cloud, types::Cloud::from_str_name),
            country_code: self.country_code.clone(),
            description: self.description.clone(),
            keywords: self.keywords(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub tenant_id: String,
    pub user_name: String,
    pub display_name: String,
    pub email: String,
    pub roles: String,
    pub password_change_required: i64,
    pub version: i64,
    pub create_time: i64,
    pub update_time: i64,
}

impl UserRow {
    pub fn roles(&self) -> Vec<i32> {
        roles_of(&self.roles)
    }

    pub fn is_global_admin(&self) -> bool {
        self.roles().contains(&(types::Role::GlobalAdmin as i32))
    }

    pub fn to_proto(&self) -> pb::User {
        pb::User {
            id: self.id.clone(),
            tenant_id: self.tenant_id.clone(),
            user_name: self.user_name.clone(),
            display_name: self.display_name.clone(),
            email: self.email.clone(),
            roles: self.roles(),
            password_change_required: self.password_change_required != 0,
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            etag: etag_of(self.version),
        }
    }
}

/// A user with what sign-in needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CredentialRow {
    pub id: String,
    pub password_hash: String,
    pub locked_until: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgreementRow {
    pub id: String,
    pub tenant_id: String,
    #[sqlx(rename = "type")]
    pub agreement_type: String,
    pub version: String,
    pub signer_first_name: String,
    pub signer_last_name: String,
    pub signer_email: String,
    pub signer_phone: String,
    pub accept_time: i64,
    pub accepted_by_user_id: String,
}

impl AgreementRow {
    pub fn to_proto(&self) -> pb::Agreement {
        pb::Agreement {
            id: self.id.clone(),
            tenant_id: self.tenant_id.clone(),
            r#type: enum_value(&self.agreement_type, pb::agreement::Type::from_str_name),
            version: self.version.clone(),
            signer: Some(types::Contact {
                first_name: self.signer_first_name.clone(),
                last_name: self.signer_last_name.clone(),
                email: self.signer_email.clone(),
                phone: self.signer_phone.clone(),
            }),
            accept_time: Some(timestamp(self.accept_time)),
            accepted_by_user_id: self.accepted_by_user_id.clone(),
        }
    }
}

/// Who is calling, as the gateway asks on every call: the user and the facts of their tenant,
/// read in one statement.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PrincipalRow {
    pub user_id: String,
    pub user_name: String,
    pub tenant_id: String,
    pub roles: String,
    pub password_change_required: i64,
    pub password_changed_at: i64,
    pub kind: String,
    pub state: String,
    pub cloud: String,
    pub country_code: String,
    pub partner_types: String,
}

impl PrincipalRow {
    pub fn to_proto(&self) -> pb::Principal {
        pb::Principal {
            user_id: self.user_id.clone(),
            user_name: self.user_name.clone(),
            tenant_id: self.tenant_id.clone(),
            tenant_kind: kind_of(&self.kind).proto() as i32,
            tenant_state: enum_value(&self.state, pb::tenant::State::from_str_name),
            roles: roles_of(&self.roles),
            password_change_required: self.password_change_required != 0,
            cloud: enum_value(&self.cloud, types::Cloud::from_str_name),
            country_code: self.country_code.clone(),
            partner_types: partner_types_of(&self.partner_types),
            password_change_time: partnerhub_kit::time::optional_timestamp(Some(
                self.password_changed_at,
            )),
        }
    }
}

pub async fn principal(conn: &mut AnyConnection, user_id: &str) -> Result<Option<PrincipalRow>> {
    Ok(sqlx::query_as(
        "SELECT u.id AS user_id, u.user_name, u.tenant_id, u.roles, u.password_change_required, \
         u.password_changed_at, t.kind, t.state, t.cloud, t.country_code, t.partner_types \
         FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await?)
}

fn kind_of(name: &str) -> Kind {
    if name == pb::tenant::Kind::Partner.as_str_name() {
        Kind::Partner
    } else {
        Kind::Customer
    }
}

fn roles_of(list: &str) -> Vec<i32> {
    split(list)
        .filter_map(types::Role::from_str_name)
        .map(|r| r as i32)
        .collect()
}

fn partner_types_of(list: &str) -> Vec<i32> {
    split(list)
        .filter_map(types::PartnerType::from_str_name)
        .map(|t| t as i32)
        .collect()
}

fn enum_value<E: Into<i32>>(name: &str, parse: impl Fn(&str) -> Option<E>) -> i32 {
    parse(name).map(Into::into).unwrap_or(0)
}

fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').filter(|s| !s.is_empty())
}

fn split_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// A comma-separated list of enum value names, as the tables keep roles and partner types.
pub fn join_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().collect::<Vec<_>>().join(",")
}

/// The LIKE pattern that finds one name in such a list; empty for "no filter".
pub fn list_pattern(name: Option<&str>) -> String {
    name.map(|n| format!("%,{n},%")).unwrap_or_default()
}

// ---- tenants ----

pub async fn get_tenant(conn: &mut AnyConnection, id: &str) -> Result<Option<TenantRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        tenant_columns!(),
        " FROM tenants WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The tenant, or TENANT_NOT_FOUND.
pub async fn tenant(conn: &mut AnyConnection, id: &str) -> Result<TenantRow> {
    get_tenant(conn, id)
        .await?
        .ok_or_else(|| Error::TenantNotFound(id.to_string()))
}

/// Takes the tenant's row lock for the rest of the transaction (PostgreSQL; SQLite has one
/// writer anyway), so checks like "is this the last global admin" can't race.
pub async fn lock_tenant(conn: &mut AnyConnection, id: &str) -> Result<()> {
    let done = sqlx::query("UPDATE tenants SET version = version WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::TenantNotFound(id.to_string()));
    }
    Ok(())
}

/// Refuses a new tenant whose partner ID or domain prefix another tenant holds.
pub async fn check_free(conn: &mut AnyConnection, t: &NewTenant) -> Result<()> {
    if let Some(p) = &t.partner {
        let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM tenants WHERE mpn_id = $1")
            .bind(&p.mpn_id)
            .fetch_optional(&mut *conn)
            .await?;
        if taken.is_some() {
            return Err(Error::MpnIdTaken(p.mpn_id.clone()));
        }
    }
    let taken: Option<(String,)> =
        sqlx::query_as("SELECT id FROM tenants WHERE domain_prefix = $1")
            .bind(&t.domain_prefix)
            .fetch_optional(&mut *conn)
            .await?;
    if taken.is_some() {
        return Err(Error::DomainPrefixTaken(t.domain_prefix.clone()));
    }
    Ok(())
}

pub async fn insert_tenant(conn: &mut AnyConnection, id: &str, t: &NewTenant) -> Result<()> {
    check_free(conn, t).await?;
    let partner = t.partner.as_ref();
    let now = now_micros();
    let state = match t.kind {
        // A customer waits for its creating workflow to finish (ActivateTenant).
        Kind::Customer => pb::tenant::State::Pending,
        Kind::Partner => pb::tenant::State::Active,
    };
    let description = partner.map(|p| p.description.as_str()).unwrap_or_default();
    let keywords = partner.map(|p| p.keywords.clone()).unwrap_or_default();
    let result = sqlx::query(
        "INSERT INTO tenants (id, kind, display_name, cloud, country_code, domain_prefix, \
         address_lines, locality, administrative_area, postal_code, contact_first_name, \
         contact_last_name, contact_email, contact_phone, state, mpn_id, partner_types, listed, \
         description, keywords, search_text, version, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, 1, $22, $22)",
    )
    .bind(id)
    .bind(t.kind.proto().as_str_name())
    .bind(&t.display_name)
    .bind(t.cloud.as_str_name())
    .bind(&t.country_code)
    .bind(&t.domain_prefix)
    .bind(t.address.lines.join("\n"))
    .bind(&t.address.locality)
    .bind(&t.address.administrative_area)
    .bind(&t.address.postal_code)
    .bind(&t.contact.first_name)
    .bind(&t.contact.last_name)
    .bind(&t.contact.email)
    .bind(&t.contact.phone)
    .bind(state.as_str_name())
    .bind(partner.map(|p| p.mpn_id.clone()))
    .bind(join_names(partner.iter().flat_map(|p| {
        p.partner_types.iter().map(|t| t.as_str_name())
    })))
    .bind(i64::from(partner.is_some_and(|p| p.listed)))
    .bind(description)
    .bind(keywords.join("\n"))
    .bind(domain::search_text(&t.display_name, description, &keywords))
    .bind(now)
    .execute(conn)
    .await;
    match result {
        Ok(_) => Ok(()),
        // A concurrent create took the partner ID or prefix between our check and insert.
        Err(e) if partnerhub_kit::store::is_unique_violation(&e) => {
            if e.to_string().contains("mpn_id") {
                Err(Error::MpnIdTaken(
                    partner.map(|p| p.mpn_id.clone()).unwrap_or_default(),
                ))
            } else {
                Err(Error::DomainPrefixTaken(t.domain_prefix.clone()))
            }
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn activate_tenant(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE tenants SET state = $2, version = version + 1, update_time = $3 \
         WHERE id = $1 AND state <> $2",
    )
    .bind(id)
    .bind(pb::tenant::State::Active.as_str_name())
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Filters of `ListTenants`, as stored text ("" for "any").
pub struct TenantFilter {
    pub kind: String,
    pub cloud: String,
    pub country_code: String,
    pub partner_type: String,
    pub state: String,
}

/// `ListTenants` with its kind filter as `kind = $2` or, unset, `$2 = ''`: a plain equality
/// lets a kind's page walk `tenants_by_kind_state`, where `($2 = '' OR kind = $2)` keeps SQLite
/// (and PostgreSQL's generic plans) walking all tenants by id.
macro_rules! list_tenants_sql {
    ($kind:literal) => {
        concat!(
            "SELECT ",
            tenant_columns!(),
            " FROM tenants WHERE id > $1 AND ",
            $kind,
            " AND ($3 = '' OR cloud = $3) AND ($4 = '' OR country_code = $4) \
             AND ($5 = '' OR (',' || partner_types || ',') LIKE $5) AND state = $6 \
             ORDER BY id LIMIT $7"
        )
    };
}

/// A page of `ListTenants`, oldest first. `f.state` is always set (the API defaults it to
/// active); without a kind the page walks tenants by id, which the default (active: most
/// tenants) fills quickly.
pub async fn list_tenants(
    conn: &mut AnyConnection,
    f: &TenantFilter,
    page: &Page,
) -> Result<Vec<TenantRow>> {
    let sql = if f.kind.is_empty() {
        list_tenants_sql!("$2 = ''")
    } else {
        list_tenants_sql!("kind = $2")
    };
    Ok(sqlx::query_as(sql)
        .bind(&page.after)
        .bind(&f.kind)
        .bind(&f.cloud)
        .bind(&f.country_code)
        .bind(list_pattern(
            (!f.partner_type.is_empty()).then_some(f.partner_type.as_str()),
        ))
        .bind(&f.state)
        .bind(page.limit())
        .fetch_all(conn)
        .await?)
}

pub async fn update_tenant(conn: &mut AnyConnection, t: &TenantRow, p: &TenantPatch) -> Result<()> {
    let display_name = p
        .display_name
        .clone()
        .unwrap_or_else(|| t.display_name.clone());
    let address = p.address.clone().unwrap_or_else(|| Address {
        lines: split_lines(&t.address_lines),
        locality: t.locality.clone(),
        administrative_area: t.administrative_area.clone(),
        postal_code: t.postal_code.clone(),
    });
    let contact = p.contact.clone().unwrap_or_else(|| Contact {
        first_name: t.contact_first_name.clone(),
        last_name: t.contact_last_name.clone(),
        email: t.contact_email.clone(),
        phone: t.contact_phone.clone(),
    });
    let description = p
        .description
        .clone()
        .unwrap_or_else(|| t.description.clone());
    let keywords = p.keywords.clone().unwrap_or_else(|| t.keywords());
    sqlx::query(
        "UPDATE tenants SET display_name = $2, address_lines = $3, locality = $4, \
         administrative_area = $5, postal_code = $6, contact_first_name = $7, \
         contact_last_name = $8, contact_email = $9, contact_phone = $10, listed = $11, \
         description = $12, keywords = $13, search_text = $14, version = version + 1, \
         update_time = $15 WHERE id = $1",
    )
    .bind(&t.id)
    .bind(&display_name)
    .bind(address.lines.join("\n"))
    .bind(&address.locality)
    .bind(&address.administrative_area)
    .bind(&address.postal_code)
    .bind(&contact.first_name)
    .bind(&contact.last_name)
    .bind(&contact.email)
    .bind(&contact.phone)
    .bind(p.listed.map(i64::from).unwrap_or(t.listed))
    .bind(&description)
    .bind(keywords.join("\n"))
    .bind(domain::search_text(&display_name, &description, &keywords))
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn partner_by_mpn_id(
    conn: &mut AnyConnection,
    mpn_id: &str,
) -> Result<Option<TenantRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        tenant_columns!(),
        " FROM tenants WHERE mpn_id = $1 AND kind = 'KIND_PARTNER' AND state = 'STATE_ACTIVE'"
    ))
    .bind(mpn_id)
    .fetch_optional(conn)
    .await?)
}

/// Filters of `SearchPartners`.
pub struct SearchFilter {
    pub country_code: String,
    pub cloud: String,
    pub partner_type: String,
    pub words: Vec<String>,
}

pub async fn search_partners(
    conn: &mut AnyConnection,
    f: &SearchFilter,
    page: &Page,
) -> Result<Vec<TenantRow>> {
    // A fixed number of word slots keeps the SQL text static; unused slots match anything.
    let mut patterns = f
        .words
        .iter()
        .map(|w| format!("%{}%", escape_like(w)))
        .collect::<Vec<_>>();
    patterns.resize(domain::MAX_QUERY_WORDS, "%".to_string());
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        tenant_columns!(),
        " FROM tenants WHERE kind = 'KIND_PARTNER' AND state = 'STATE_ACTIVE' AND listed = 1 \
         AND id > $1 AND ($2 = '' OR country_code = $2) AND ($3 = '' OR cloud = $3) \
         AND ($4 = '' OR (',' || partner_types || ',') LIKE $4) \
         AND search_text LIKE $5 ESCAPE '\\' AND search_text LIKE $6 ESCAPE '\\' \
         AND search_text LIKE $7 ESCAPE '\\' AND search_text LIKE $8 ESCAPE '\\' \
         AND search_text LIKE $9 ESCAPE '\\' ORDER BY id LIMIT $10"
    ))
    .bind(&page.after)
    .bind(&f.country_code)
    .bind(&f.cloud)
    .bind(list_pattern(
        (!f.partner_type.is_empty()).then_some(f.partner_type.as_str()),
    ))
    .bind(&patterns[0])
    .bind(&patterns[1])
    .bind(&patterns[2])
    .bind(&patterns[3])
    .bind(&patterns[4])
    .bind(page.limit())
    .fetch_all(conn)
    .await?)
}

fn escape_like(word: &str) -> String {
    word.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

// ---- users ----

/// A user to insert: names already checked, password already hashed.
pub struct UserInsert<'a> {
    pub tenant_id: &'a str,
    pub user_name: &'a str,
    pub display_name: &'a str,
    pub email: &'a str,
    pub roles: &'a [types::Role],
    pub password_hash: &'a str,
}

pub async fn insert_user(conn: &mut AnyConnection, id: &str, u: &UserInsert<'_>) -> Result<()> {
    let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE user_name = $1")
        .bind(u.user_name)
        .fetch_optional(&mut *conn)
        .await?;
    if taken.is_some() {
        return Err(Error::UserNameTaken(u.user_name.to_string()));
    }
    let now = now_micros();
    let result = sqlx::query(
        "INSERT INTO users (id, tenant_id, user_name, display_name, email, roles, password_hash, \
         password_change_required, failed_sign_ins, locked_until, version, create_time, \
         update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 0, 0, 1, $8, $8)",
    )
    .bind(id)
    .bind(u.tenant_id)
    .bind(u.user_name)
    .bind(u.display_name)
    .bind(u.email)
    .bind(join_names(u.roles.iter().map(|r| r.as_str_name())))
    .bind(u.password_hash)
    .bind(now)
    .execute(conn)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if partnerhub_kit::store::is_unique_violation(&e) => {
            Err(Error::UserNameTaken(u.user_name.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn get_user(
    conn: &mut AnyConnection,
    tenant_id: &str,
    id: &str,
) -> Result<Option<UserRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = $1 AND tenant_id = $2"
    ))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?)
}

/// The user of that tenant, or USER_NOT_FOUND.
pub async fn user(conn: &mut AnyConnection, tenant_id: &str, id: &str) -> Result<UserRow> {
    get_user(conn, tenant_id, id)
        .await?
        .ok_or_else(|| Error::UserNotFound(id.to_string()))
}

pub async fn user_by_name(conn: &mut AnyConnection, user_name: &str) -> Result<Option<UserRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE user_name = $1"
    ))
    .bind(user_name)
    .fetch_optional(conn)
    .await?)
}

pub async fn list_users(
    conn: &mut AnyConnection,
    tenant_id: &str,
    role: Option<&str>,
    page: &Page,
) -> Result<Vec<UserRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE tenant_id = $1 AND id > $2 \
         AND ($3 = '' OR (',' || roles || ',') LIKE $3) ORDER BY id LIMIT $4"
    ))
    .bind(tenant_id)
    .bind(&page.after)
    .bind(list_pattern(role))
    .bind(page.limit())
    .fetch_all(conn)
    .await?)
}

/// How many global admins the tenant has.
pub async fn count_global_admins(conn: &mut AnyConnection, tenant_id: &str) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND (',' || roles || ',') LIKE $2",
    )
    .bind(tenant_id)
    .bind(list_pattern(Some(types::Role::GlobalAdmin.as_str_name())))
    .fetch_one(conn)
    .await?;
    Ok(n)
}

pub async fn update_user(
    conn: &mut AnyConnection,
    id: &str,
    display_name: &str,
    email: &str,
    roles: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE users SET display_name = $2, email = $3, roles = $4, version = version + 1, \
         update_time = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(display_name)
    .bind(email)
    .bind(roles)
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_user(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets a new password hash; `temporary` makes the user change it at the next sign-in. Lifts
/// any sign-in lock.
pub async fn set_password(
    conn: &mut AnyConnection,
    id: &str,
    password_hash: &str,
    temporary: bool,
) -> Result<()> {
    sqlx::query(
        "UPDATE users SET password_hash = $2, password_change_required = $3, failed_sign_ins = 0, \
         locked_until = 0, version = version + 1, update_time = $4, password_changed_at = $4 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(password_hash)
    .bind(i64::from(temporary))
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn credentials_by_name(
    conn: &mut AnyConnection,
    user_name: &str,
) -> Result<Option<CredentialRow>> {
    Ok(
        sqlx::query_as("SELECT id, password_hash, locked_until FROM users WHERE user_name = $1")
            .bind(user_name)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn credentials_by_id(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<CredentialRow>> {
    Ok(
        sqlx::query_as("SELECT id, password_hash, locked_until FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Counts a wrong password; the `limit`-th in a row locks sign-in until `lock_until` (and
/// starts the count again). Returns the lock's end, or 0 if not locked.
pub async fn record_failed_sign_in(
    conn: &mut AnyConnection,
    id: &str,
    limit: i64,
    lock_until: i64,
) -> Result<i64> {
    let (locked_until,): (i64,) = sqlx::query_as(
        "UPDATE users SET \
           locked_until = CASE WHEN failed_sign_ins + 1 >= $2 THEN $3 ELSE locked_until END, \
           failed_sign_ins = CASE WHEN failed_sign_ins + 1 >= $2 THEN 0 ELSE failed_sign_ins + 1 END \
         WHERE id = $1 RETURNING locked_until",
    )
    .bind(id)
    .bind(limit)
    .bind(lock_until)
    .fetch_one(conn)
    .await?;
    Ok(locked_until)
}

pub async fn clear_failed_sign_ins(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("UPDATE users SET failed_sign_ins = 0, locked_until = 0 WHERE id = $1 AND failed_sign_ins <> 0")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

// ---- agreements ----

macro_rules! agreement_columns {
    () => {
        "id, tenant_id, type, version, signer_first_name, signer_last_name, signer_email, \
         signer_phone, accept_time, accepted_by_user_id"
    };
}

/// The acceptance of `version` of `kind` by the same signer, if there is one.
pub async fn find_agreement(
    conn: &mut AnyConnection,
    tenant_id: &str,
    agreement_type: &str,
    version: &str,
    signer: &Contact,
) -> Result<Option<AgreementRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        agreement_columns!(),
        " FROM agreements WHERE tenant_id = $1 AND type = $2 AND version = $3 \
         AND signer_email = $4 AND signer_first_name = $5 AND signer_last_name = $6"
    ))
    .bind(tenant_id)
    .bind(agreement_type)
    .bind(version)
    .bind(&signer.email)
    .bind(&signer.first_name)
    .bind(&signer.last_name)
    .fetch_optional(conn)
    .await?)
}

/// Records an acceptance; `false` if the same signer's acceptance exists already.
pub async fn insert_agreement(
    conn: &mut AnyConnection,
    id: &str,
    tenant_id: &str,
    agreement_type: &str,
    version: &str,
    signer: &Contact,
    user_id: &str,
) -> Result<bool> {
    let result = sqlx::query(
        "INSERT INTO agreements (id, tenant_id, type, version, signer_first_name, \
         signer_last_name, signer_email, signer_phone, accept_time, accepted_by_user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(agreement_type)
    .bind(version)
    .bind(&signer.first_name)
    .bind(&signer.last_name)
    .bind(&signer.email)
    .bind(&signer.phone)
    .bind(now_micros())
    .bind(user_id)
    .execute(conn)
    .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) if partnerhub_kit::store::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub async fn list_agreements(
    conn: &mut AnyConnection,
    tenant_id: &str,
    agreement_type: &str,
    page: &Page,
) -> Result<Vec<AgreementRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        agreement_columns!(),
        " FROM agreements WHERE tenant_id = $1 AND id > $2 AND ($3 = '' OR type = $3) \
         ORDER BY id LIMIT $4"
    ))
    .bind(tenant_id)
    .bind(&page.after)
    .bind(agreement_type)
    .bind(page.limit())
    .fetch_all(conn)
    .await?)
}
