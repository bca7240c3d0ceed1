//! "May partner P sell to customer C, and through reseller R?": the one home of that rule.
//! Placing an order (subscriptions) and creating a customer (the gateway) both ask it here.

use super::Relationships;
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::relationships as pb;
use partnerhub_proto::tenants::agreement;

impl Relationships {
    /// OK when the partner may sell: to the customer through an active RESELLER relationship
    /// of its own or an INDIRECT_RESELLER one under it; through the reseller when the two are in
    /// an active INDIRECT_PARTNERSHIP and the reseller accepted the partner agreement.
    pub(super) async fn check_seller(
        &self,
        req: &pb::CheckSellerRequest,
    ) -> Result<pb::CheckSellerResponse> {
        let mut v = Violations::new();
        let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
        let customer = v.take(fields::optional_id(
            "customer_tenant_id",
            &req.customer_tenant_id,
        ));
        let reseller = v.take(fields::optional_id(
            "indirect_reseller_id",
            &req.indirect_reseller_id,
        ));
        let ((partner, customer), reseller) = v.done(partner.zip(customer).zip(reseller))?;
        let partner = partner.to_string();
        let now = self.now();
        let mut conn = self.conn().await?;
        if let Some(customer) = customer.map(|c| c.to_string())
            && !store::sells_to(&mut conn, &partner, &customer, now).await?
        {
            return Err(Error::NotResellerOfCustomer { partner, customer });
        }
        let Some(reseller) = reseller.map(|r| r.to_string()) else {
            return Ok(pb::CheckSellerResponse {});
        };
        if !store::in_partnership(&mut conn, &partner, &reseller, now).await? {
            return Err(Error::ResellerNotInPartnership { reseller, partner });
        }
        // Not holding the connection across the call to the tenants service.
        drop(conn);
        if !self
            .tenants
            .has_accepted(&reseller, agreement::Type::PartnerAgreement)
            .await?
        {
            return Err(Error::ResellerAgreementNotAccepted(reseller));
        }
        Ok(pb::CheckSellerResponse {})
    }
}
