//! "Whose purchases for customer C may partner P read?": seed 001's MPSA partners see each
//! other's purchases. The one home of that rule; reading orders and subscriptions (the
//! subscriptions service) asks it here.

use super::Relationships;
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::relationships as pb;

impl Relationships {
    /// Every partner with an active MPSA relationship with the customer, when the asking
    /// partner is one of them; NOT_MPSA_PARTNER when it is not.
    pub(super) async fn list_mpsa_partners(
        &self,
        req: &pb::ListMpsaPartnersRequest,
    ) -> Result<pb::ListMpsaPartnersResponse> {
        let mut v = Violations::new();
        let customer = v.take(fields::id("customer_tenant_id", &req.customer_tenant_id));
        let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
        let (customer, partner) = v.done(customer.zip(partner))?;
        let (customer, partner) = (customer.to_string(), partner.to_string());
        let now = self.now();
        let partners = store::mpsa_partners(&mut *self.conn().await?, &customer, now).await?;
        if !partners.contains(&partner) {
            return Err(Error::NotMpsaPartner { partner, customer });
        }
        Ok(pb::ListMpsaPartnersResponse {
            partner_tenant_ids: partners,
        })
    }
}
