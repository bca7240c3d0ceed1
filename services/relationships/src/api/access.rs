//! What a partner may do in a customer tenant: the check behind delegated access, and a
//! customer removing a partner's admin roles.

use super::Relationships;
use crate::domain;
use crate::error::Result;
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::relationships as pb;

impl Relationships {
    pub(super) async fn check_access(
        &self,
        req: &pb::CheckAccessRequest,
    ) -> Result<pb::CheckAccessResponse> {
        let mut v = Violations::new();
        let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
        let customer = v.take(fields::id("customer_tenant_id", &req.customer_tenant_id));
        let (partner, customer) = v.done(partner.zip(customer))?;
        let now = self.now();
        let rows = store::active_between(
            &mut *self.conn().await?,
            &partner.to_string(),
            &customer.to_string(),
            now,
        )
        .await?;
        let granting: Vec<_> = rows
            .into_iter()
            .filter(|r| domain::grants_access(r.kind))
            .collect();
        let roles = domain::access_roles(granting.iter().map(|r| (r.kind, r.roles.clone())));
        Ok(pb::CheckAccessResponse {
            roles: roles.into_iter().map(|r| r as i32).collect(),
            relationships: granting.iter().map(|r| r.to_proto(now)).collect(),
        })
    }

    pub(super) async fn remove_admin_roles(
        &self,
        req: &pb::RemoveAdminRolesRequest,
    ) -> Result<pb::RemoveAdminRolesResponse> {
        let mut v = Violations::new();
        let customer = v.take(fields::id("customer_tenant_id", &req.customer_tenant_id));
        let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
        let (customer, partner) = v.done(customer.zip(partner))?;
        let (customer, partner) = (customer.to_string(), partner.to_string());
        let now = self.now();
        let mut tx = self.db.pool.begin().await?;
        let removed = store::terminate_delegated_admin(&mut tx, &partner, &customer, now).await?;
        let remaining = store::active_between(&mut tx, &partner, &customer, now).await?;
        tx.commit().await?;
        Ok(pb::RemoveAdminRolesResponse {
            removed: removed.iter().map(|r| r.to_proto(now)).collect(),
            remaining: remaining.iter().map(|r| r.to_proto(now)).collect(),
        })
    }
}
