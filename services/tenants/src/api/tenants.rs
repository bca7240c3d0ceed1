//! Tenants: `CreatePartner`, `GetTenant`, `ListTenants`, `UpdateTenant`, and the internal
//! `CreateCustomerTenant`, `ActivateTenant`, `ReleaseCustomerTenant`, `BatchGetTenants`.

use super::{Tenants, check_etag, enum_filter};
use crate::domain::{self, Kind, NewTenant, State, Tenant, TenantPatch, User};
use crate::error::{Error, Result};
use crate::store::{self, TenantFilter};
use crate::wire;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{Written, fingerprint, made_by, replay, write_once};
use partnerhub_proto::{tenants as pb, types};
use sqlx::AnyConnection;
use tonic::Request;
use uuid::Uuid;

/// A tenant with its first admin and the admin's temporary password ("" when a retry finds
/// that password changed or reset already).
struct Created {
    tenant: Tenant,
    admin: User,
    temporary_password: String,
}

pub(super) async fn create_partner(
    svc: &Tenants,
    request: Request<pb::CreatePartnerRequest>,
) -> Result<pb::CreatePartnerResponse> {
    let req = request.into_inner();
    let fingerprint = fingerprint(&pb::CreatePartnerRequest {
        request_id: String::new(),
        ..req.clone()
    });
    let created = create_tenant(
        svc,
        "CreatePartner",
        Kind::Partner,
        req.partner.as_ref(),
        &req.request_id,
        fingerprint,
    )
    .await?;
    Ok(pb::CreatePartnerResponse {
        partner: Some(created.tenant.into()),
        admin_user: Some(created.admin.into()),
        temporary_password: created.temporary_password,
    })
}

pub(super) async fn create_customer_tenant(
    svc: &Tenants,
    request: Request<pb::CreateCustomerTenantRequest>,
) -> Result<pb::CreateCustomerTenantResponse> {
    let req = request.into_inner();
    // The request as a create stores it: without its request id, and never "validate only".
    let fingerprint = fingerprint(&pb::CreateCustomerTenantRequest {
        request_id: String::new(),
        validate_only: false,
        ..req.clone()
    });
    if req.validate_only {
        return validate_customer_tenant(svc, &req, &fingerprint).await;
    }
    let created = create_tenant(
        svc,
        CREATE_CUSTOMER_TENANT,
        Kind::Customer,
        req.customer.as_ref(),
        &req.request_id,
        fingerprint,
    )
    .await?;
    Ok(pb::CreateCustomerTenantResponse {
        customer: Some(created.tenant.into()),
        admin_user: Some(created.admin.into()),
        temporary_password: created.temporary_password,
    })
}

/// `CreateCustomerTenant` with `validate_only`: the customer as it would be created, or, for a
/// workflow retrying its review after its create went through, the customer it created.
async fn validate_customer_tenant(
    svc: &Tenants,
    req: &pb::CreateCustomerTenantRequest,
    fingerprint: &str,
) -> Result<pb::CreateCustomerTenantResponse> {
    let request_id = fields::request_id(&req.request_id)?;
    let mut conn = svc.conn().await?;
    // A reused request id is told first, before the fields and the domain prefix (which the
    // earlier request may have taken itself).
    let customer = match request_id {
        Some(rid) => match replay(&mut conn, CREATE_CUSTOMER_TENANT, rid, fingerprint)
            .await?
            .earlier()?
        {
            Some(id) => Some(store::tenant(&mut conn, &id).await?.into()),
            None => None,
        },
        None => None,
    };
    let customer = match customer {
        Some(created) => created,
        None => {
            let new = match NewTenant::parse(Kind::Customer, req.customer.as_ref(), "customer") {
                Ok(new) => new,
                Err(v) => {
                    return Err(refused(&mut conn, req.customer.as_ref(), "customer", v).await);
                }
            };
            store::check_free(&mut conn, &new.domain_prefix, new.partner.as_ref())
                .await
                .map_err(|e| in_field(e, "customer"))?;
            wire::preview(&new)
        }
    };
    Ok(pb::CreateCustomerTenantResponse {
        customer: Some(customer),
        admin_user: None,
        temporary_password: String::new(),
    })
}

/// Creates a tenant with its first global admin, once per request id. `fingerprint` is the
/// request's, without its request id.
async fn create_tenant(
    svc: &Tenants,
    method: &str,
    kind: Kind,
    tenant: Option<&pb::Tenant>,
    request_id: &str,
    fingerprint: String,
) -> Result<Created> {
    let field = match kind {
        Kind::Partner => "partner",
        Kind::Customer => "customer",
    };
    let mut v = Violations::new();
    let request_id = v.take(fields::request_id(request_id)).flatten();
    let new = v.take(NewTenant::parse(kind, tenant, field));
    let new = match v.done(new) {
        Ok(new) => new,
        Err(v) => return Err(refused(&mut *svc.conn().await?, tenant, field, v).await),
    };
    let written = write_once(&svc.db, method, request_id, &fingerprint, async |tx| {
        let now = domain::now();
        let tenant = Tenant::create(Uuid::now_v7().to_string(), new, now);
        store::insert_tenant(tx, &tenant).await?;
        let admin = User::first_admin(Uuid::now_v7().to_string(), &tenant, now);
        let (_, hash) = svc.created_password(&admin.id);
        store::insert_user(tx, &admin, &hash).await?;
        Ok::<_, Error>(tenant.id)
    })
    .await
    .map_err(|e| in_field(e, field))?;
    let mut conn = svc.conn().await?;
    let (id, replayed) = match written {
        Written::New(id) => (id, false),
        Written::Earlier(id) => (id, true),
    };
    let tenant = store::tenant(&mut conn, &id).await?;
    let admin = admin_of(&mut conn, &tenant).await?;
    // The password is derived from the admin's id, never stored in clear: a retry (also one
    // racing the first call) derives the same one and answers it while it is unchanged.
    let temporary_password = if replayed {
        svc.password_again(&mut conn, &admin).await?
    } else {
        svc.created_password(&admin.id).0
    };
    Ok(Created {
        tenant,
        admin,
        temporary_password,
    })
}

/// The answer to a new tenant with bad fields `v`: a taken domain prefix answers as it does
/// wherever it is met (ALREADY_EXISTS `DOMAIN_PREFIX_TAKEN`), naming the other bad fields too;
/// otherwise the bad input it is. `field` names the tenant in the request.
async fn refused(
    conn: &mut AnyConnection,
    tenant: Option<&pb::Tenant>,
    field: &str,
    v: Violations,
) -> Error {
    let prefix = tenant.map_or("", |t| t.domain_prefix.as_str());
    if domain::domain_prefix(field, prefix).is_err() {
        return Error::Invalid(v);
    }
    match store::check_free(conn, prefix, None).await {
        Ok(()) => Error::Invalid(v),
        Err(Error::DomainPrefixTaken { prefix, .. }) => Error::DomainPrefixTaken {
            violations: taken_field(field, v),
            prefix,
        },
        Err(other) => other,
    }
}

/// `error` with a taken domain prefix's field named (`<field>.domain_prefix`).
fn in_field(error: Error, field: &str) -> Error {
    match error {
        Error::DomainPrefixTaken { prefix, violations } => Error::DomainPrefixTaken {
            violations: taken_field(field, violations),
            prefix,
        },
        other => other,
    }
}

/// `others` after the taken prefix's own violation.
fn taken_field(field: &str, others: Violations) -> Violations {
    let mut v = Violations::one(
        format!("{field}.domain_prefix"),
        "is taken by another tenant",
    );
    v.extend(others);
    v
}

/// The first global admin a create made.
async fn admin_of(conn: &mut AnyConnection, tenant: &Tenant) -> Result<User> {
    let name = domain::first_admin_name(tenant);
    store::user_by_name(conn, &name)
        .await?
        .ok_or(Error::UserNotFound(name))
}

pub(super) async fn get_tenant(
    svc: &Tenants,
    request: Request<pb::GetTenantRequest>,
) -> Result<pb::GetTenantResponse> {
    let id = fields::id("tenant_id", &request.get_ref().tenant_id)?;
    let tenant = store::tenant(&mut *svc.conn().await?, &id.to_string()).await?;
    Ok(pb::GetTenantResponse {
        tenant: Some(tenant.into()),
    })
}

pub(super) async fn list_tenants(
    svc: &Tenants,
    request: Request<pb::ListTenantsRequest>,
) -> Result<pb::ListTenantsResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let filter = TenantFilter {
        kind: enum_filter(&mut v, "kind", req.kind, pb::tenant::Kind::as_str_name),
        cloud: enum_filter(&mut v, "cloud", req.cloud, types::Cloud::as_str_name),
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
            types::PartnerType::as_str_name,
        ),
        // Unset lists active tenants.
        state: match enum_filter(&mut v, "state", req.state, State::as_str_name) {
            "" => State::Active.as_str_name(),
            state => state,
        },
    };
    let page = v.take(Page::parse(
        req.page_size,
        &req.page_token,
        "tenants",
        &[
            filter.kind,
            filter.cloud,
            &filter.country_code,
            filter.partner_type,
            filter.state,
        ],
    ));
    let page = v.done(page)?;
    let rows = store::list_tenants(&mut *svc.conn().await?, &filter, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |t| t.id.clone());
    Ok(pb::ListTenantsResponse {
        tenants: rows.into_iter().map(Into::into).collect(),
        next_page_token,
    })
}

pub(super) async fn update_tenant(
    svc: &Tenants,
    request: Request<pb::UpdateTenantRequest>,
) -> Result<pb::UpdateTenantResponse> {
    let req = request.into_inner();
    let Some(t) = req.tenant else {
        return Err(Error::field("tenant", "is required"));
    };
    let mut v = Violations::new();
    let id = v.take(fields::id("tenant.id", &t.id));
    let etag = v.take(fields::etag("tenant.etag", &t.etag)).flatten();
    let patch = v.take(TenantPatch::parse(&t, req.update_mask.as_ref()));
    let (id, patch) = v.done(id.zip(patch))?;
    let id = id.to_string();
    let mut tx = svc.db.pool.begin().await?;
    store::lock_tenant(&mut tx, &id).await?;
    let mut tenant = store::tenant(&mut tx, &id).await?;
    if patch.touches_partner() && tenant.kind != Kind::Partner {
        return Err(Error::field(
            "update_mask",
            "partner.* fields belong to partners; this tenant is a customer",
        ));
    }
    check_etag("tenant", etag, tenant.version)?;
    patch.apply(&mut tenant);
    store::update_tenant(&mut tx, &tenant).await?;
    let updated = store::tenant(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(pb::UpdateTenantResponse {
        tenant: Some(updated.into()),
    })
}

pub(super) async fn activate_tenant(
    svc: &Tenants,
    request: Request<pb::ActivateTenantRequest>,
) -> Result<pb::ActivateTenantResponse> {
    let id = fields::id("tenant_id", &request.get_ref().tenant_id)?.to_string();
    let mut conn = svc.conn().await?;
    store::tenant(&mut conn, &id).await?;
    store::activate_tenant(&mut conn, &id).await?;
    let tenant = store::tenant(&mut conn, &id).await?;
    Ok(pb::ActivateTenantResponse {
        tenant: Some(tenant.into()),
    })
}

/// The method customers are created by, whose request id names a customer to release.
const CREATE_CUSTOMER_TENANT: &str = "CreateCustomerTenant";

pub(super) async fn release_customer_tenant(
    svc: &Tenants,
    request: Request<pb::ReleaseCustomerTenantRequest>,
) -> Result<pb::ReleaseCustomerTenantResponse> {
    let Some(request_id) = fields::request_id(&request.get_ref().request_id)? else {
        return Err(Error::field("request_id", "is required"));
    };
    let mut tx = svc.db.pool.begin().await?;
    // The request id stays remembered: a late retry of the create finds the customer gone
    // (TENANT_NOT_FOUND) instead of making another one.
    let Some(id) = made_by(&mut tx, CREATE_CUSTOMER_TENANT, request_id).await? else {
        return Ok(pb::ReleaseCustomerTenantResponse::default());
    };
    match store::lock_tenant(&mut tx, &id).await {
        // Released before.
        Err(Error::TenantNotFound(_)) => {}
        Err(e) => return Err(e),
        Ok(()) => {
            let tenant = store::tenant(&mut tx, &id).await?;
            if tenant.kind != Kind::Customer || tenant.state != State::Pending {
                return Err(Error::TenantActive(id));
            }
            store::delete_tenant(&mut tx, &id).await?;
            tracing::info!(tenant = %id, "pending customer released");
        }
    }
    tx.commit().await?;
    Ok(pb::ReleaseCustomerTenantResponse { tenant_id: id })
}

pub(super) async fn batch_get_tenants(
    svc: &Tenants,
    request: Request<pb::BatchGetTenantsRequest>,
) -> Result<pb::BatchGetTenantsResponse> {
    let tenants = tenants_of(svc, &request.get_ref().tenant_ids).await?;
    Ok(pb::BatchGetTenantsResponse {
        tenants: tenants.into_iter().map(Into::into).collect(),
    })
}

/// The tenants of these ids (`tenant_ids`, at most 1000) that exist, in the order asked for.
pub(super) async fn tenants_of(svc: &Tenants, ids: &[String]) -> Result<Vec<Tenant>> {
    if ids.len() > 1000 {
        return Err(Error::field("tenant_ids", "must have at most 1000 ids"));
    }
    let mut v = Violations::new();
    for (i, id) in ids.iter().enumerate() {
        v.take(fields::id(&format!("tenant_ids[{i}]"), id));
    }
    v.check()?;
    let mut conn = svc.conn().await?;
    let mut tenants = Vec::with_capacity(ids.len());
    // One indexed read per id keeps the SQL static; a page of a list is at most 1000 ids.
    for id in ids {
        if let Some(t) = store::get_tenant(&mut conn, id).await? {
            tenants.push(t);
        }
    }
    Ok(tenants)
}
