//! The invitee's side before accepting: preview an invitation by its code, decline it, and
//! the gateway's look-up by code.

use super::{Conn, Invitations, by_code, required_code};
use crate::acceptance;
use crate::domain::Invitation;
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::invitations as pb;
use partnerhub_proto::tenants as tenants_pb;
use partnerhub_proto::types::Role;

impl Invitations {
    pub(super) async fn preview(
        &self,
        req: &pb::PreviewInvitationRequest,
    ) -> Result<pb::PreviewInvitationResponse> {
        let code = required_code(&req.code).map_err(Error::from)?;
        let now = self.deps.clock.now();
        let row = by_code(&mut *self.conn().await?, code).await?;
        let inviter = self.tenants.partner_listing(&row.inviter_tenant_id).await?;
        Ok(pb::PreviewInvitationResponse {
            preview: Some(row.preview(inviter, now)),
        })
    }

    /// Declines for the tenant; the caller (`roles`, `None` for a service) must be one who may
    /// (`acceptance::decliners`).
    pub(super) async fn decline(
        &self,
        req: pb::DeclineInvitationRequest,
        roles: Option<&[Role]>,
    ) -> Result<()> {
        let mut v = Violations::new();
        let code = v.take(required_code(&req.code));
        let tenant_id = v.take(fields::id("tenant_id", &req.tenant_id));
        let (code, tenant_id) = v.done(code.zip(tenant_id))?;
        let tenant_id = tenant_id.to_string();
        let now = self.deps.clock.now();
        let mut conn = self.conn().await?;
        let row = by_code(&mut conn, code).await?;
        if row.reusable {
            return Err(Error::Reusable);
        }
        acceptance::require("DeclineInvitation", acceptance::decliners(&row), roles)?;
        if row.is_for_another(&tenant_id) {
            return Err(Error::ForAnotherTenant);
        }
        if let Some(refusal) = row.state_at(now).refusal() {
            return Err(refusal);
        }
        // An indirect partnership names its invitee (checked above). The customer kinds may be
        // open to any customer, but only to customers: a partner can't decline them. (The
        // reusable kinds can't be declined at all.)
        if row.kind.invites_customers() {
            // Not holding the connection across the call to the tenants service.
            drop(conn);
            let tenant = self
                .tenants
                .tenant(&tenant_id)
                .await?
                .ok_or_else(|| Error::TenantNotFound(tenant_id.clone()))?;
            if tenant.kind != tenants_pb::tenant::Kind::Customer as i32 {
                return Err(Error::NotACustomer(tenant_id));
            }
            conn = self.conn().await?;
        }
        if store::decline(&mut conn, &row.id, &tenant_id, now).await? {
            return Ok(());
        }
        // Changed since it was read (accepted, revoked or declined a moment ago).
        Err(self.refusal(&mut conn, &row, now).await)
    }

    pub(super) async fn lookup(
        &self,
        req: &pb::LookupInvitationRequest,
    ) -> Result<pb::LookupInvitationResponse> {
        let code = required_code(&req.code).map_err(Error::from)?;
        let now = self.deps.clock.now();
        let row = by_code(&mut *self.conn().await?, code).await?;
        Ok(pb::LookupInvitationResponse {
            invitation: Some(row.to_proto(now)),
        })
    }

    /// Why an invitation that changed since `row` was read can't be used now.
    async fn refusal(&self, conn: &mut Conn, row: &Invitation, now: i64) -> Error {
        match store::by_id(conn, &row.inviter_tenant_id, &row.id).await {
            Ok(Some(current)) => current
                .state_at(now)
                .refusal()
                .unwrap_or(Error::AlreadyUsed),
            Ok(None) => Error::InvitationNotFound,
            Err(e) => e,
        }
    }
}
