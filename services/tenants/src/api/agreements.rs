//! Agreements: `AcceptAgreement`, `ListAgreements`.

use super::{Tenants, tenant_page};
use crate::domain::{self, Agreement, AgreementType};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::caller;
use partnerhub_kit::fields;
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
    let agreement_type = match AgreementType::try_from(req.r#type) {
        Ok(AgreementType::Unspecified) => {
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
    let (expected, version) = tenant.kind.agreement();
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
    // No transaction: a unique violation would abort a PostgreSQL transaction, and here it
    // only means the same signer accepted a moment ago.
    let found = store::find_agreement(&mut conn, &tenant_id, expected, version, &signer).await?;
    let agreement = match found {
        Some(found) => found,
        None => {
            let accepted = Agreement {
                id: Uuid::now_v7().to_string(),
                tenant_id: tenant_id.clone(),
                agreement_type: expected,
                version: version.to_string(),
                signer: signer.clone(),
                accept_time: domain::now(),
                accepted_by_user_id: user_id,
            };
            store::insert_agreement(&mut conn, &accepted).await?;
            // The same signer's acceptance, whether ours or one a moment earlier.
            store::find_agreement(&mut conn, &tenant_id, expected, version, &signer)
                .await?
                .ok_or_else(|| Error::TenantNotFound(tenant_id))?
        }
    };
    Ok(pb::AcceptAgreementResponse {
        agreement: Some(agreement.into()),
    })
}

pub(super) async fn list_agreements(
    svc: &Tenants,
    request: Request<pb::ListAgreementsRequest>,
) -> Result<pb::ListAgreementsResponse> {
    let req = request.into_inner();
    let (tenant_id, agreement_type, page) = tenant_page(
        "agreements",
        &req.tenant_id,
        ("type", req.r#type, AgreementType::as_str_name),
        req.page_size,
        &req.page_token,
    )?;
    let mut conn = svc.conn().await?;
    store::tenant(&mut conn, &tenant_id).await?;
    let rows = store::list_agreements(&mut conn, &tenant_id, agreement_type, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |a| a.id.clone());
    Ok(pb::ListAgreementsResponse {
        agreements: rows.into_iter().map(Into::into).collect(),
        next_page_token,
    })
}
