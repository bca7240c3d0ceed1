//! Agreements: `AcceptAgreement`, `ListAgreements`.

use super::{Tenants, enum_filter};
use crate::domain;
use crate::error::{Error, Result};
use crate::store::{self, AgreementRow};
use partnerhub_kit::caller;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_proto::tenants as pb;
use tonic::Request;
use uuid::Uuid;

pub(super) async fn accept_agreement(
    svc: &Tenants,
    request: Request<pb::AcceptAgreementRequest>,
) -> Result<pb::AcceptAgreementResponse> {
    let user_id = caller::user_id(&request);
    let req = request.into_inner();
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
    let mut conn = svc.conn().await?;
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
    let found = store::find_agreement(&mut conn, &tenant_id, type_name, version, &signer).await?;
    let agreement = match found {
        Some(found) => found,
        None => {
            let id = Uuid::now_v7().to_string();
            store::insert_agreement(
                &mut conn, &id, &tenant_id, type_name, version, &signer, &user_id,
            )
            .await?;
            store::find_agreement(&mut conn, &tenant_id, type_name, version, &signer)
                .await?
                .ok_or_else(|| Error::TenantNotFound(tenant_id))?
        }
    };
    Ok(pb::AcceptAgreementResponse {
        agreement: Some(agreement.to_proto()),
    })
}

pub(super) async fn list_agreements(
    svc: &Tenants,
    request: Request<pb::ListAgreementsRequest>,
) -> Result<pb::ListAgreementsResponse> {
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
    let page = v.done(page)?;
    let mut conn = svc.conn().await?;
    store::tenant(&mut conn, &tenant_id).await?;
    let rows = store::list_agreements(&mut conn, &tenant_id, &agreement_type, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |a| a.id.clone());
    Ok(pb::ListAgreementsResponse {
        agreements: rows.iter().map(AgreementRow::to_proto).collect(),
        next_page_token,
    })
}
