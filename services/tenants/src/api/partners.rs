//! Partners' public profiles: `VerifyPartnerId`, `SearchPartners` and the internal
//! `BatchGetPartnerListings`.

use super::{Tenants, enum_filter, tenants};
use crate::domain::{self, Kind};
use crate::error::{Error, Result};
use crate::store::{self, SearchFilter};
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Violations;
use partnerhub_proto::{tenants as pb, types};
use tonic::Request;

pub(super) async fn verify_partner_id(
    svc: &Tenants,
    request: Request<pb::VerifyPartnerIdRequest>,
) -> Result<pb::VerifyPartnerIdResponse> {
    let mpn_id = domain::mpn_id("mpn_id", request.get_ref().mpn_id.trim())?;
    let partner = store::partner_by_mpn_id(&mut *svc.conn().await?, &mpn_id)
        .await?
        .ok_or(Error::PartnerIdNotFound(mpn_id))?;
    Ok(pb::VerifyPartnerIdResponse {
        partner: Some(partner.into()),
    })
}

pub(super) async fn search_partners(
    svc: &Tenants,
    request: Request<pb::SearchPartnersRequest>,
) -> Result<pb::SearchPartnersResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let filter = SearchFilter {
        country_code: v
            .take(partnerhub_rules::country::optional_code(
                "country_code",
                &req.country_code,
            ))
            .unwrap_or_default(),
        cloud: enum_filter(&mut v, "cloud", req.cloud, types::Cloud::as_str_name),
        partner_type: enum_filter(
            &mut v,
            "partner_type",
            req.partner_type,
            types::PartnerType::as_str_name,
        ),
        words: v
            .take(domain::query_words("query", &req.query))
            .unwrap_or_default(),
        customer_size: enum_filter(
            &mut v,
            "customer_size",
            req.customer_size,
            pb::CompanySize::as_str_name,
        ),
        locality: v
            .take(partnerhub_kit::fields::optional_text(
                "locality",
                &req.locality,
                100,
            ))
            .unwrap_or_default()
            .to_lowercase(),
    };
    let words = filter.words.join(" ");
    let page = v.take(Page::parse(
        req.page_size,
        &req.page_token,
        "partners",
        &[
            &filter.country_code,
            filter.cloud,
            filter.partner_type,
            &words,
            filter.customer_size,
            &filter.locality,
        ],
    ));
    let page = v.done(page)?;
    let rows = store::search_partners(&mut *svc.conn().await?, &filter, &page).await?;
    let (rows, next_page_token) = page.finish(rows, |t| t.id.clone());
    Ok(pb::SearchPartnersResponse {
        partners: rows.into_iter().map(Into::into).collect(),
        next_page_token,
    })
}

pub(super) async fn batch_get_partner_listings(
    svc: &Tenants,
    request: Request<pb::BatchGetPartnerListingsRequest>,
) -> Result<pb::BatchGetPartnerListingsResponse> {
    let found = tenants::tenants_of(svc, &request.get_ref().tenant_ids).await?;
    Ok(pb::BatchGetPartnerListingsResponse {
        partners: found
            .into_iter()
            .filter(|t| t.kind == Kind::Partner)
            .map(Into::into)
            .collect(),
    })
}
