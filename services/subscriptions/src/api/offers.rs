//! The offer catalogue: list, read and add offers; check line items against it.

use super::Subscriptions;
use crate::catalogue;
use crate::domain::{self, OfferFilter, OfferSpec};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::page::Page;
use partnerhub_kit::status::Fault;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::{fingerprint, write_once};
use partnerhub_proto::subscriptions as pb;
use uuid::Uuid;

/// The `request_ids` method name of `CreateOffer`.
const CREATE_OFFER: &str = "CreateOffer";

impl Subscriptions {
    pub(super) async fn list_offers(
        &self,
        req: &pb::ListOffersRequest,
    ) -> Result<pb::ListOffersResponse> {
        let mut v = Violations::new();
        let filter = v.take(OfferFilter::parse(req));
        let page = v.take(Page::parse(
            req.page_size,
            &req.page_token,
            "offers",
            &[
                &req.cloud.to_string(),
                &req.country_code,
                &req.trial_available.to_string(),
            ],
        ));
        let (filter, page) = v.done(filter.zip(page))?;
        let offers = store::list_offers(&mut *self.conn().await?, &filter, &page).await?;
        let (offers, next_page_token) = page.finish(offers, |o| o.id.clone());
        Ok(pb::ListOffersResponse {
            offers: offers.iter().map(domain::Offer::to_proto).collect(),
            next_page_token,
        })
    }

    pub(super) async fn get_offer(&self, req: &pb::GetOfferRequest) -> Result<pb::Offer> {
        let id = fields::id("offer_id", &req.offer_id)?.to_string();
        store::offer(&mut *self.conn().await?, &id)
            .await?
            .map(|o| o.to_proto())
            .ok_or(Error::OfferNotFound(id))
    }

    pub(super) async fn create_offer(&self, req: pb::CreateOfferRequest) -> Result<pb::Offer> {
        let mut v = Violations::new();
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        let spec = v.take(OfferSpec::parse("offer", req.offer.as_ref()));
        let spec = v.done(spec)?;
        // The upgrade path leads to offers of the catalogue, in the offer's cloud.
        let mut targets = Vec::with_capacity(spec.upgrade_offer_ids.len());
        let mut conn = self.conn().await?;
        for id in &spec.upgrade_offer_ids {
            let found = store::offer(&mut conn, id).await?.map(|o| o.spec.cloud);
            targets.push((id.clone(), found));
        }
        drop(conn);
        domain::upgrade_path_problems("offer.upgrade_offer_ids", "", spec.cloud, &targets)
            .check()?;
        let fingerprint = fingerprint(&pb::CreateOfferRequest {
            request_id: String::new(),
            ..req
        });
        let now = self.now();
        let id = write_once(
            &self.db,
            CREATE_OFFER,
            request_id,
            &fingerprint,
            async |tx| {
                let id = Uuid::now_v7().to_string();
                store::put_offer(tx, &id, &spec, now, false).await?;
                Ok::<_, Error>(id)
            },
        )
        .await?
        .resource();
        store::offer(&mut *self.conn().await?, &id)
            .await?
            .map(|o| o.to_proto())
            .ok_or_else(|| {
                Error::inconsistent(format!("{CREATE_OFFER} made offer {id}, now missing"))
            })
    }

    pub(super) async fn check_line_items(
        &self,
        req: &pb::CheckLineItemsRequest,
    ) -> Result<pb::CheckLineItemsResponse> {
        let mut v = Violations::new();
        let cloud = v.take(partnerhub_rules::cloud::required("cloud", req.cloud));
        let country = v.take(partnerhub_rules::country::code(
            "country_code",
            &req.country_code,
        ));
        let items = v.take(domain::line_items(&req.line_items));
        let ((cloud, country), items) = v.done(cloud.zip(country).zip(items))?;
        let mut conn = self.conn().await?;
        let lines = catalogue::check_line_items(&mut conn, &items, cloud, &country).await?;
        let mut problems: Vec<pb::LineItemProblem> =
            catalogue::problems(&lines).map(|p| p.to_proto()).collect();
        if !req.trial_customer_tenant_id.is_empty() {
            for (i, line) in lines.iter().enumerate() {
                let Some(offer) = &line.offer else { continue };
                if store::had_trial(&mut conn, &req.trial_customer_tenant_id, &offer.id).await? {
                    problems.push(pb::LineItemProblem {
                        field: format!("line_items[{i}].offer_id"),
                        description: domain::trial_taken(&offer.spec.display_name),
                        reason: domain::TRIAL_ALREADY_TAKEN.into(),
                        code: tonic::Code::FailedPrecondition as i32,
                    });
                }
            }
        }
        // Not holding the connection across the calls to the tenants service.
        drop(conn);
        let now = self.now();
        // Each line's partner of record, as "Check ID" (and PlaceOrder) would answer for it.
        let refusals = self
            .partner_of_record_refusals(&items, cloud as i32)
            .await?;
        for (i, refusal) in &refusals {
            problems.push(pb::LineItemProblem {
                field: format!("line_items[{i}].partner_of_record_mpn_id"),
                description: refusal.to_string(),
                reason: refusal.reason().to_string(),
                code: refusal.code() as i32,
            });
        }
        let refused = |i: usize| refusals.iter().any(|(r, _)| *r == i);
        Ok(pb::CheckLineItemsResponse {
            subscriptions: lines
                .iter()
                .enumerate()
                .filter(|(i, _)| !refused(*i))
                .flat_map(|(_, line)| catalogue::drafts(std::slice::from_ref(line), now))
                .map(|s| s.to_proto(now))
                .collect(),
            problems,
        })
    }
}
