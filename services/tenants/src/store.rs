//! The tenants service's SQL: every statement it runs, one text for SQLite and PostgreSQL, and
//! how its rows decode into the domain's types. The tables keep enums as their protobuf value
//! names (bound, never spelled in the SQL), lists of them comma-separated, lists of text one a
//! line, flags as 0 or 1 and times as microseconds since the epoch.

use crate::domain::{
    Address, Agreement, AgreementType, Contact, Credentials, Kind, PartnerProfile, Principal,
    PublicContact, Secret, ServiceAccount, State, Tenant, User,
};
use crate::error::{Error, Result};
use partnerhub_kit::page::Page;
use partnerhub_kit::row::{enum_at, enums_at, flag_at, lines_at, names, optional_time_at, time_at};
use partnerhub_kit::time::{micros, now_micros};
use partnerhub_proto::tenants::CompanySize;
use partnerhub_proto::types::{Cloud, PartnerType, Role};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};
use std::time::{SystemTime, UNIX_EPOCH};

pub mod contact_requests;

// ---- encoding ----

/// A time as the tables keep it: microseconds since the epoch (negative before it).
fn micros_of(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => micros(since),
        Err(before) => -micros(before.duration()),
    }
}

/// The LIKE pattern that finds one name in a comma-separated list; empty for "no filter".
fn list_pattern(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!("%,{name},%")
    }
}

// ---- rows ----

/// The columns of a tenant row, as [`Tenant`]'s `FromRow` reads them.
macro_rules! tenant_columns {
    () => {
        "id, kind, display_name, cloud, country_code, domain_prefix, address_lines, locality, \
         administrative_area, postal_code, contact_first_name, contact_last_name, contact_email, \
         contact_phone, state, mpn_id, partner_types, listed, description, keywords, \
         public_phone, public_email, website, customer_sizes, version, create_time, update_time"
    };
}

impl FromRow<'_, AnyRow> for Tenant {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        let kind = enum_at(row, "kind", Kind::from_name)?;
        let partner = match kind {
            Kind::Partner => Some(PartnerProfile {
                mpn_id: row
                    .try_get::<Option<String>, _>("mpn_id")?
                    .unwrap_or_default(),
                partner_types: enums_at(row, "partner_types", PartnerType::from_str_name)?,
                listed: flag_at(row, "listed")?,
                description: row.try_get("description")?,
                keywords: lines_at(row, "keywords")?,
                public_contact: PublicContact {
                    phone: row.try_get("public_phone")?,
                    email: row.try_get("public_email")?,
                    website: row.try_get("website")?,
                },
                customer_sizes: enums_at(row, "customer_sizes", CompanySize::from_str_name)?,
            }),
            Kind::Customer => None,
        };
        Ok(Tenant {
            id: row.try_get("id")?,
            kind,
            display_name: row.try_get("display_name")?,
            cloud: enum_at(row, "cloud", Cloud::from_str_name)?,
            country_code: row.try_get("country_code")?,
            domain_prefix: row.try_get("domain_prefix")?,
            address: Address {
                lines: lines_at(row, "address_lines")?,
                locality: row.try_get("locality")?,
                administrative_area: row.try_get("administrative_area")?,
                postal_code: row.try_get("postal_code")?,
            },
            contact: Contact {
                first_name: row.try_get("contact_first_name")?,
                last_name: row.try_get("contact_last_name")?,
                email: row.try_get("contact_email")?,
                phone: row.try_get("contact_phone")?,
            },
            state: enum_at(row, "state", State::from_str_name)?,
            partner,
            version: row.try_get("version")?,
            create_time: time_at(row, "create_time")?,
            update_time: time_at(row, "update_time")?,
        })
    }
}

/// The columns of a user row, as [`User`]'s `FromRow` reads them.
macro_rules! user_columns {
    () => {
        "id, tenant_id, user_name, display_name, email, roles, password_change_required, version, \
         create_time, update_time, \
         CAST(CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS second_factor_enrolled"
    };
}

impl FromRow<'_, AnyRow> for User {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(User {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            user_name: row.try_get("user_name")?,
            display_name: row.try_get("display_name")?,
            email: row.try_get("email")?,
            roles: enums_at(row, "roles", Role::from_str_name)?,
            password_change_required: flag_at(row, "password_change_required")?,
            second_factor_enrolled: flag_at(row, "second_factor_enrolled")?,
            version: row.try_get("version")?,
            create_time: time_at(row, "create_time")?,
            update_time: time_at(row, "update_time")?,
        })
    }
}

/// The columns of an agreement row, as [`Agreement`]'s `FromRow` reads them.
macro_rules! agreement_columns {
    () => {
        "id, tenant_id, type, version, signer_first_name, signer_last_name, signer_email, \
         signer_phone, accept_time, accepted_by_user_id"
    };
}

impl FromRow<'_, AnyRow> for Agreement {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Agreement {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            agreement_type: enum_at(row, "type", AgreementType::from_str_name)?,
            version: row.try_get("version")?,
            signer: Contact {
                first_name: row.try_get("signer_first_name")?,
                last_name: row.try_get("signer_last_name")?,
                email: row.try_get("signer_email")?,
                phone: row.try_get("signer_phone")?,
            },
            accept_time: time_at(row, "accept_time")?,
            accepted_by_user_id: row.try_get("accepted_by_user_id")?,
        })
    }
}

// The gateway asks on every call: the enums decode from borrowed text, without a copy.
impl FromRow<'_, AnyRow> for Principal {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Principal {
            user_id: row.try_get("user_id")?,
            user_name: row.try_get("user_name")?,
            tenant_id: row.try_get("tenant_id")?,
            roles: enums_at(row, "roles", Role::from_str_name)?,
            password_change_required: flag_at(row, "password_change_required")?,
            password_changed_at: optional_time_at(row, "password_changed_at")?,
            second_factor_enrolled: flag_at(row, "second_factor_enrolled")?,
            tenant_kind: enum_at(row, "kind", Kind::from_name)?,
            tenant_state: enum_at(row, "state", State::from_str_name)?,
            cloud: enum_at(row, "cloud", Cloud::from_str_name)?,
            country_code: row.try_get("country_code")?,
            partner_types: enums_at(row, "partner_types", PartnerType::from_str_name)?,
            service_account: false,
        })
    }
}

impl FromRow<'_, AnyRow> for Credentials {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Credentials {
            user_id: row.try_get("id")?,
            user_name: row.try_get("user_name")?,
            password_hash: row.try_get("password_hash")?,
            locked_until: optional_time_at(row, "locked_until")?,
            totp_secret: row.try_get("totp_secret")?,
            totp_last_step: row.try_get("totp_last_step")?,
        })
    }
}

/// Who is calling, with the facts of their tenant: a user, in one statement, or else a
/// service account, in a second (users, the common callers, pay nothing for accounts).
pub async fn principal(conn: &mut AnyConnection, user_id: &str) -> Result<Option<Principal>> {
    let user: Option<Principal> = sqlx::query_as(
        "SELECT u.id AS user_id, u.user_name, u.tenant_id, u.roles, u.password_change_required, \
         u.password_changed_at, \
         CAST(CASE WHEN u.totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS second_factor_enrolled, \
         t.kind, t.state, t.cloud, t.country_code, t.partner_types \
         FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    if user.is_some() {
        return Ok(user);
    }
    service_account_principal(conn, user_id).await
}

/// A service account as the gateway sees a caller: its display name as the name, never a
/// password to change, and its token revocation time as the time tokens before are void.
pub async fn service_account_principal(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<Principal>> {
    let account: Option<Principal> = sqlx::query_as(
        "SELECT a.id AS user_id, a.display_name AS user_name, a.tenant_id, a.roles, \
         CAST(0 AS BIGINT) AS password_change_required, \
         CAST(0 AS BIGINT) AS second_factor_enrolled, \
         a.tokens_revoked_at AS password_changed_at, t.kind, t.state, t.cloud, t.country_code, \
         t.partner_types \
         FROM service_accounts a JOIN tenants t ON t.id = a.tenant_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(account.map(|p| Principal {
        service_account: true,
        ..p
    }))
}

// ---- tenants ----

pub async fn get_tenant(conn: &mut AnyConnection, id: &str) -> Result<Option<Tenant>> {
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
pub async fn tenant(conn: &mut AnyConnection, id: &str) -> Result<Tenant> {
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
pub async fn check_free(
    conn: &mut AnyConnection,
    domain_prefix: &str,
    partner: Option<&PartnerProfile>,
) -> Result<()> {
    if let Some(p) = partner {
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
            .bind(domain_prefix)
            .fetch_optional(&mut *conn)
            .await?;
    if taken.is_some() {
        return Err(Error::domain_prefix_taken(domain_prefix));
    }
    Ok(())
}

pub async fn insert_tenant(conn: &mut AnyConnection, t: &Tenant) -> Result<()> {
    check_free(conn, &t.domain_prefix, t.partner.as_ref()).await?;
    let statement = sqlx::query(
        "INSERT INTO tenants (id, kind, cloud, country_code, domain_prefix, state, mpn_id, \
         partner_types, version, create_time, update_time, display_name, address_lines, locality, \
         administrative_area, postal_code, contact_first_name, contact_last_name, contact_email, \
         contact_phone, listed, description, keywords, search_text, public_phone, public_email, \
         website, customer_sizes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)",
    )
    .bind(&t.id)
    .bind(t.kind.name())
    .bind(t.cloud.as_str_name())
    .bind(&t.country_code)
    .bind(&t.domain_prefix)
    .bind(t.state.as_str_name())
    .bind(t.partner.as_ref().map(|p| p.mpn_id.as_str()))
    .bind(
        t.partner
            .as_ref()
            .map(|p| names(&p.partner_types, PartnerType::as_str_name))
            .unwrap_or_default(),
    )
    .bind(t.version)
    .bind(micros_of(t.create_time))
    .bind(micros_of(t.update_time));
    match bind_editable(statement, t).execute(conn).await {
        Ok(_) => Ok(()),
        // A concurrent create took the partner ID or prefix between our check and insert.
        Err(e) if partnerhub_kit::store::is_unique_violation(&e) => match &t.partner {
            Some(p) if e.to_string().contains("mpn_id") => Err(Error::MpnIdTaken(p.mpn_id.clone())),
            _ => Err(Error::domain_prefix_taken(&t.domain_prefix)),
        },
        Err(e) => Err(e.into()),
    }
}

type Statement<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds what `UpdateTenant` may change, in the one order the insert and the update list them:
/// display name, address, contact, then the partner's listing, the text search looks in and
/// the partner's public contact details (a customer's listing and details are empty).
fn bind_editable<'q>(statement: Statement<'q>, t: &Tenant) -> Statement<'q> {
    let partner = t.partner.as_ref();
    statement
        .bind(&t.display_name)
        .bind(t.address.lines.join("\n"))
        .bind(&t.address.locality)
        .bind(&t.address.administrative_area)
        .bind(&t.address.postal_code)
        .bind(&t.contact.first_name)
        .bind(&t.contact.last_name)
        .bind(&t.contact.email)
        .bind(&t.contact.phone)
        .bind(i64::from(partner.is_some_and(|p| p.listed)))
        .bind(partner.map_or("", |p| p.description.as_str()))
        .bind(partner.map(|p| p.keywords.join("\n")).unwrap_or_default())
        .bind(t.search_text())
        .bind(partner.map_or("", |p| p.public_contact.phone.as_str()))
        .bind(partner.map_or("", |p| p.public_contact.email.as_str()))
        .bind(partner.map_or("", |p| p.public_contact.website.as_str()))
        .bind(
            partner
                .map(|p| names(&p.customer_sizes, CompanySize::as_str_name))
                .unwrap_or_default(),
        )
}

pub async fn activate_tenant(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE tenants SET state = $2, version = version + 1, update_time = $3 \
         WHERE id = $1 AND state <> $2",
    )
    .bind(id)
    .bind(State::Active.as_str_name())
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a tenant with everything of its own: users, agreements, service accounts and their
/// secrets (a pending customer a workflow gave up; the caller checked it is one).
pub async fn delete_tenant(conn: &mut AnyConnection, id: &str) -> Result<()> {
    for statement in [
        "DELETE FROM service_account_secrets WHERE service_account_id IN \
         (SELECT id FROM service_accounts WHERE tenant_id = $1)",
        "DELETE FROM service_accounts WHERE tenant_id = $1",
        "DELETE FROM agreements WHERE tenant_id = $1",
        "DELETE FROM users WHERE tenant_id = $1",
        "DELETE FROM tenants WHERE id = $1",
    ] {
        sqlx::query(statement).bind(id).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Filters of `ListTenants`, as the tables spell them ("" for "any").
pub struct TenantFilter {
    pub kind: &'static str,
    pub cloud: &'static str,
    pub country_code: String,
    pub partner_type: &'static str,
    pub state: &'static str,
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
) -> Result<Vec<Tenant>> {
    let sql = if f.kind.is_empty() {
        list_tenants_sql!("$2 = ''")
    } else {
        list_tenants_sql!("kind = $2")
    };
    Ok(sqlx::query_as(sql)
        .bind(&page.after)
        .bind(f.kind)
        .bind(f.cloud)
        .bind(&f.country_code)
        .bind(list_pattern(f.partner_type))
        .bind(f.state)
        .bind(page.limit())
        .fetch_all(conn)
        .await?)
}

/// Writes what `UpdateTenant` may change.
pub async fn update_tenant(conn: &mut AnyConnection, t: &Tenant) -> Result<()> {
    let statement = sqlx::query(
        "UPDATE tenants SET display_name = $2, address_lines = $3, locality = $4, \
         administrative_area = $5, postal_code = $6, contact_first_name = $7, \
         contact_last_name = $8, contact_email = $9, contact_phone = $10, listed = $11, \
         description = $12, keywords = $13, search_text = $14, public_phone = $15, \
         public_email = $16, website = $17, customer_sizes = $18, version = version + 1, \
         update_time = $19 WHERE id = $1",
    )
    .bind(&t.id);
    bind_editable(statement, t)
        .bind(now_micros())
        .execute(conn)
        .await?;
    Ok(())
}

/// An active partner by its partner ID.
pub async fn partner_by_mpn_id(conn: &mut AnyConnection, mpn_id: &str) -> Result<Option<Tenant>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        tenant_columns!(),
        " FROM tenants WHERE mpn_id = $1 AND kind = $2 AND state = $3"
    ))
    .bind(mpn_id)
    .bind(Kind::Partner.name())
    .bind(State::Active.as_str_name())
    .fetch_optional(conn)
    .await?)
}

/// Filters of `SearchPartners`, as the tables spell them ("" for "any").
pub struct SearchFilter {
    pub country_code: String,
    pub cloud: &'static str,
    pub partner_type: &'static str,
    pub words: Vec<String>,
    /// A `CompanySize` name.
    pub customer_size: &'static str,
    /// In lower case.
    pub locality: String,
}

/// A page of listed, active partners, oldest first.
pub async fn search_partners(
    conn: &mut AnyConnection,
    f: &SearchFilter,
    page: &Page,
) -> Result<Vec<Tenant>> {
    // A fixed number of word slots keeps the SQL text static; unused slots match anything.
    let mut patterns = f
        .words
        .iter()
        .map(|w| format!("%{}%", escape_like(w)))
        .collect::<Vec<_>>();
    patterns.resize(crate::domain::MAX_QUERY_WORDS, "%".to_string());
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        tenant_columns!(),
        " FROM tenants WHERE kind = $1 AND state = $2 AND listed = 1 \
         AND id > $3 AND ($4 = '' OR country_code = $4) AND ($5 = '' OR cloud = $5) \
         AND ($6 = '' OR (',' || partner_types || ',') LIKE $6) \
         AND search_text LIKE $7 ESCAPE '\\' AND search_text LIKE $8 ESCAPE '\\' \
         AND search_text LIKE $9 ESCAPE '\\' AND search_text LIKE $10 ESCAPE '\\' \
         AND search_text LIKE $11 ESCAPE '\\' \
         AND ($13 = '' OR (',' || customer_sizes || ',') LIKE $13) \
         AND ($14 = '' OR LOWER(locality) = $14) ORDER BY id LIMIT $12"
    ))
    .bind(Kind::Partner.name())
    .bind(State::Active.as_str_name())
    .bind(&page.after)
    .bind(&f.country_code)
    .bind(f.cloud)
    .bind(list_pattern(f.partner_type))
    .bind(&patterns[0])
    .bind(&patterns[1])
    .bind(&patterns[2])
    .bind(&patterns[3])
    .bind(&patterns[4])
    .bind(page.limit())
    .bind(list_pattern(f.customer_size))
    .bind(&f.locality)
    .fetch_all(conn)
    .await?)
}

fn escape_like(word: &str) -> String {
    word.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

// ---- users ----

/// Inserts a new user with its password hash; refuses a taken user name.
pub async fn insert_user(conn: &mut AnyConnection, u: &User, password_hash: &str) -> Result<()> {
    let taken: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE user_name = $1")
        .bind(&u.user_name)
        .fetch_optional(&mut *conn)
        .await?;
    if taken.is_some() {
        return Err(Error::UserNameTaken(u.user_name.clone()));
    }
    let result = sqlx::query(
        "INSERT INTO users (id, tenant_id, user_name, display_name, email, roles, password_hash, \
         password_change_required, failed_sign_ins, locked_until, version, create_time, \
         update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9, $10, $11)",
    )
    .bind(&u.id)
    .bind(&u.tenant_id)
    .bind(&u.user_name)
    .bind(&u.display_name)
    .bind(&u.email)
    .bind(names(&u.roles, Role::as_str_name))
    .bind(password_hash)
    .bind(i64::from(u.password_change_required))
    .bind(u.version)
    .bind(micros_of(u.create_time))
    .bind(micros_of(u.update_time))
    .execute(conn)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if partnerhub_kit::store::is_unique_violation(&e) => {
            Err(Error::UserNameTaken(u.user_name.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn get_user(conn: &mut AnyConnection, tenant_id: &str, id: &str) -> Result<Option<User>> {
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
pub async fn user(conn: &mut AnyConnection, tenant_id: &str, id: &str) -> Result<User> {
    get_user(conn, tenant_id, id)
        .await?
        .ok_or_else(|| Error::UserNotFound(id.to_string()))
}

pub async fn user_by_name(conn: &mut AnyConnection, user_name: &str) -> Result<Option<User>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE user_name = $1"
    ))
    .bind(user_name)
    .fetch_optional(conn)
    .await?)
}

/// A page of the tenant's users, oldest first; `role` ("" for any) is a role name.
pub async fn list_users(
    conn: &mut AnyConnection,
    tenant_id: &str,
    role: &str,
    page: &Page,
) -> Result<Vec<User>> {
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
    .bind(list_pattern(Role::GlobalAdmin.as_str_name()))
    .fetch_one(conn)
    .await?;
    Ok(n)
}

/// Writes what `UpdateUser` may change.
pub async fn update_user(conn: &mut AnyConnection, u: &User) -> Result<()> {
    sqlx::query(
        "UPDATE users SET display_name = $2, email = $3, roles = $4, version = version + 1, \
         update_time = $5 WHERE id = $1",
    )
    .bind(&u.id)
    .bind(&u.display_name)
    .bind(&u.email)
    .bind(names(&u.roles, Role::as_str_name))
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

/// The columns of a user row [`Credentials`]' `FromRow` reads.
macro_rules! credential_columns {
    () => {
        "id, user_name, password_hash, locked_until, totp_secret, totp_last_step"
    };
}

/// What sign-in checks of the user with that name.
pub async fn credentials_by_name(
    conn: &mut AnyConnection,
    user_name: &str,
) -> Result<Option<Credentials>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        credential_columns!(),
        " FROM users WHERE user_name = $1"
    ))
    .bind(user_name)
    .fetch_optional(conn)
    .await?)
}

/// What a password change checks of the user with that id.
pub async fn credentials_by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<Credentials>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        credential_columns!(),
        " FROM users WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Counts a wrong password; returns the wrong passwords in a row so far.
pub async fn record_failed_sign_in(conn: &mut AnyConnection, id: &str) -> Result<i64> {
    let row = sqlx::query(
        "UPDATE users SET failed_sign_ins = failed_sign_ins + 1 WHERE id = $1 \
         RETURNING failed_sign_ins",
    )
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("failed_sign_ins")?)
}

/// Makes sign-in of the user wait until `until` (no password is checked before).
pub async fn set_sign_in_wait(conn: &mut AnyConnection, id: &str, until: SystemTime) -> Result<()> {
    sqlx::query("UPDATE users SET locked_until = $2 WHERE id = $1")
        .bind(id)
        .bind(micros_of(until))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn clear_failed_sign_ins(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("UPDATE users SET failed_sign_ins = 0, locked_until = 0 WHERE id = $1 AND failed_sign_ins <> 0")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes `secret` the user's second factor-to-be, until confirmed (replacing any before).
pub async fn set_pending_second_factor(
    conn: &mut AnyConnection,
    id: &str,
    secret: &str,
) -> Result<()> {
    sqlx::query("UPDATE users SET totp_pending = $2 WHERE id = $1")
        .bind(id)
        .bind(secret)
        .execute(conn)
        .await?;
    Ok(())
}

/// The user's second factor-to-be, if enrollment began.
pub async fn pending_second_factor(conn: &mut AnyConnection, id: &str) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT totp_pending FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(row.and_then(|(pending,)| pending))
}

/// Makes the pending secret `secret` the user's second factor, its code of `step` used. False
/// when another enrollment replaced it meanwhile.
pub async fn confirm_second_factor(
    conn: &mut AnyConnection,
    id: &str,
    secret: &str,
    step: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $3, \
         version = version + 1, update_time = $4 WHERE id = $1 AND totp_pending = $2",
    )
    .bind(id)
    .bind(secret)
    .bind(step)
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that the user's code of `step` was used; false if that step (or a later one) was
/// used already, by a concurrent sign-in say: each code works once.
pub async fn use_second_factor_step(conn: &mut AnyConnection, id: &str, step: i64) -> Result<bool> {
    let done =
        sqlx::query("UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2")
            .bind(id)
            .bind(step)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes the user's second factor (and any enrollment under way).
pub async fn remove_second_factor(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_pending = NULL, version = version + 1, \
         update_time = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

// ---- agreements ----

/// The acceptance of `version` of `agreement_type` by the same signer, if there is one.
pub async fn find_agreement(
    conn: &mut AnyConnection,
    tenant_id: &str,
    agreement_type: AgreementType,
    version: &str,
    signer: &Contact,
) -> Result<Option<Agreement>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        agreement_columns!(),
        " FROM agreements WHERE tenant_id = $1 AND type = $2 AND version = $3 \
         AND signer_email = $4 AND signer_first_name = $5 AND signer_last_name = $6"
    ))
    .bind(tenant_id)
    .bind(agreement_type.as_str_name())
    .bind(version)
    .bind(&signer.email)
    .bind(&signer.first_name)
    .bind(&signer.last_name)
    .fetch_optional(conn)
    .await?)
}

/// Records an acceptance; `false` if the same signer's acceptance exists already.
pub async fn insert_agreement(conn: &mut AnyConnection, a: &Agreement) -> Result<bool> {
    let result = sqlx::query(
        "INSERT INTO agreements (id, tenant_id, type, version, signer_first_name, \
         signer_last_name, signer_email, signer_phone, accept_time, accepted_by_user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&a.id)
    .bind(&a.tenant_id)
    .bind(a.agreement_type.as_str_name())
    .bind(&a.version)
    .bind(&a.signer.first_name)
    .bind(&a.signer.last_name)
    .bind(&a.signer.email)
    .bind(&a.signer.phone)
    .bind(micros_of(a.accept_time))
    .bind(&a.accepted_by_user_id)
    .execute(conn)
    .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) if partnerhub_kit::store::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A page of the tenant's agreements, oldest first; `agreement_type` ("" for any) is a name.
pub async fn list_agreements(
    conn: &mut AnyConnection,
    tenant_id: &str,
    agreement_type: &str,
    page: &Page,
) -> Result<Vec<Agreement>> {
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

// ---- service accounts ----

/// The columns of a service account row, as [`ServiceAccount`]'s `FromRow` reads them.
macro_rules! service_account_columns {
    () => {
        "id, tenant_id, display_name, roles, version, create_time, update_time"
    };
}

/// An account without its secrets; [`with_secrets`] adds them.
impl FromRow<'_, AnyRow> for ServiceAccount {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(ServiceAccount {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            display_name: row.try_get("display_name")?,
            roles: enums_at(row, "roles", Role::from_str_name)?,
            secrets: Vec::new(),
            version: row.try_get("version")?,
            create_time: time_at(row, "create_time")?,
            update_time: time_at(row, "update_time")?,
        })
    }
}

/// A secret row: the secret, the account it belongs to and its stored hash.
struct SecretRow {
    account_id: String,
    secret: Secret,
    hash: String,
}

impl FromRow<'_, AnyRow> for SecretRow {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(SecretRow {
            account_id: row.try_get("service_account_id")?,
            secret: Secret {
                id: row.try_get("id")?,
                create_time: time_at(row, "create_time")?,
                expire_time: optional_time_at(row, "expire_time")?,
            },
            hash: row.try_get("secret_hash")?,
        })
    }
}

/// Fills in the secrets of `accounts`, the tenant's in id order, in one statement: the secrets
/// of the tenant's accounts from the first to the last (a page of a list, or one account).
async fn with_secrets(
    conn: &mut AnyConnection,
    tenant_id: &str,
    mut accounts: Vec<ServiceAccount>,
) -> Result<Vec<ServiceAccount>> {
    let (Some(first), Some(last)) = (accounts.first(), accounts.last()) else {
        return Ok(accounts);
    };
    let rows: Vec<SecretRow> = sqlx::query_as(
        "SELECT s.id, s.service_account_id, s.secret_hash, s.expire_time, s.create_time \
         FROM service_account_secrets s JOIN service_accounts a ON a.id = s.service_account_id \
         WHERE a.tenant_id = $1 AND s.service_account_id >= $2 AND s.service_account_id <= $3 \
         ORDER BY s.id",
    )
    .bind(tenant_id)
    .bind(first.id.clone())
    .bind(last.id.clone())
    .fetch_all(conn)
    .await?;
    for row in rows {
        if let Some(a) = accounts.iter_mut().find(|a| a.id == row.account_id) {
            a.secrets.push(row.secret);
        }
    }
    Ok(accounts)
}

pub async fn insert_service_account(conn: &mut AnyConnection, a: &ServiceAccount) -> Result<()> {
    sqlx::query(
        "INSERT INTO service_accounts (id, tenant_id, display_name, roles, tokens_revoked_at, \
         version, create_time, update_time) VALUES ($1, $2, $3, $4, 0, $5, $6, $7)",
    )
    .bind(&a.id)
    .bind(&a.tenant_id)
    .bind(&a.display_name)
    .bind(names(&a.roles, Role::as_str_name))
    .bind(a.version)
    .bind(micros_of(a.create_time))
    .bind(micros_of(a.update_time))
    .execute(conn)
    .await?;
    Ok(())
}

/// The tenant's service account with its secrets, or SERVICE_ACCOUNT_NOT_FOUND.
pub async fn service_account(
    conn: &mut AnyConnection,
    tenant_id: &str,
    id: &str,
) -> Result<ServiceAccount> {
    let found: Option<ServiceAccount> = sqlx::query_as(concat!(
        "SELECT ",
        service_account_columns!(),
        " FROM service_accounts WHERE id = $1 AND tenant_id = $2"
    ))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?;
    let found = found.ok_or_else(|| Error::ServiceAccountNotFound(id.to_string()))?;
    let mut accounts = with_secrets(conn, tenant_id, vec![found]).await?;
    accounts
        .pop()
        .ok_or_else(|| Error::ServiceAccountNotFound(id.to_string()))
}

/// A page of the tenant's service accounts with their secrets, oldest first.
pub async fn list_service_accounts(
    conn: &mut AnyConnection,
    tenant_id: &str,
    page: &Page,
) -> Result<Vec<ServiceAccount>> {
    let accounts = sqlx::query_as(concat!(
        "SELECT ",
        service_account_columns!(),
        " FROM service_accounts WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(tenant_id)
    .bind(&page.after)
    .bind(page.limit())
    .fetch_all(&mut *conn)
    .await?;
    with_secrets(conn, tenant_id, accounts).await
}

/// Writes what `UpdateServiceAccount` may change.
pub async fn update_service_account(conn: &mut AnyConnection, a: &ServiceAccount) -> Result<()> {
    sqlx::query(
        "UPDATE service_accounts SET display_name = $2, roles = $3, version = version + 1, \
         update_time = $4 WHERE id = $1",
    )
    .bind(&a.id)
    .bind(&a.display_name)
    .bind(names(&a.roles, Role::as_str_name))
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes an account and its secrets.
pub async fn delete_service_account(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM service_account_secrets WHERE service_account_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM service_accounts WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Adds a secret (its stored hash) to an account and counts the change on the account.
pub async fn insert_secret(
    conn: &mut AnyConnection,
    account_id: &str,
    secret: &Secret,
    secret_hash: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO service_account_secrets (id, service_account_id, secret_hash, expire_time, \
         create_time) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&secret.id)
    .bind(account_id)
    .bind(secret_hash)
    .bind(secret.expire_time.map_or(0, micros_of))
    .bind(micros_of(secret.create_time))
    .execute(&mut *conn)
    .await?;
    touch_service_account(conn, account_id, None).await
}

/// Deletes a secret of an account; with `revoke_tokens_at`, the account's tokens issued before
/// that time stop working too.
pub async fn delete_secret(
    conn: &mut AnyConnection,
    account_id: &str,
    secret_id: &str,
    revoke_tokens_at: Option<i64>,
) -> Result<()> {
    sqlx::query("DELETE FROM service_account_secrets WHERE id = $1 AND service_account_id = $2")
        .bind(secret_id)
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    touch_service_account(conn, account_id, revoke_tokens_at).await
}

/// A new version of the account (its secrets changed), optionally revoking its tokens.
async fn touch_service_account(
    conn: &mut AnyConnection,
    id: &str,
    revoke_tokens_at: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "UPDATE service_accounts SET version = version + 1, update_time = $2, \
         tokens_revoked_at = CASE WHEN $3 = 0 THEN tokens_revoked_at ELSE $3 END WHERE id = $1",
    )
    .bind(id)
    .bind(now_micros())
    .bind(revoke_tokens_at.unwrap_or(0))
    .execute(conn)
    .await?;
    Ok(())
}

/// The secrets of the account `id` (any tenant) with their stored hashes, for sign-in.
pub async fn secrets_for_sign_in(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Vec<(Secret, String)>> {
    let rows: Vec<SecretRow> = sqlx::query_as(
        "SELECT id, service_account_id, secret_hash, expire_time, create_time \
         FROM service_account_secrets WHERE service_account_id = $1",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.secret, r.hash)).collect())
}

/// The stored hash of one secret, if the account has it.
pub async fn secret_hash(
    conn: &mut AnyConnection,
    account_id: &str,
    secret_id: &str,
) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT secret_hash FROM service_account_secrets \
         WHERE id = $1 AND service_account_id = $2",
    )
    .bind(secret_id)
    .bind(account_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(h,)| h))
}
