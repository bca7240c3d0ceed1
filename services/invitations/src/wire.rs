//! The domain's types as the protobuf messages the service answers with: an invitation, its
//! preview, its delegated admin and its line items. Requests come in through the domain's
//! `parse` functions.

use crate::domain::{Invitation, Line};
use partnerhub_kit::time::timestamp;
use partnerhub_proto::invitations as pb;
use partnerhub_proto::tenants as tenants_pb;
use partnerhub_proto::types;
use partnerhub_rules::delegation::Grant;

impl Invitation {
    /// The invitation as clients see it at `now`.
    pub fn to_proto(&self, now: i64) -> pb::Invitation {
        pb::Invitation {
            id: self.id.clone(),
            kind: self.kind.proto() as i32,
            inviter_tenant_id: self.inviter_tenant_id.clone(),
            invitee_tenant_id: self.invitee_tenant_id.clone(),
            invitee_email: self.invitee_email.clone(),
            locale: self.locale.tag().to_string(),
            delegated_admin: self.delegated_admin.as_ref().map(delegated_admin),
            line_items: self.line_items.iter().map(Line::to_proto).collect(),
            state: self.state_at(now).proto() as i32,
            reusable: self.reusable,
            use_count: i32::try_from(self.use_count).unwrap_or(i32::MAX),
            expire_time: Some(timestamp(self.expire_time)),
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            cloud: self.cloud as i32,
            responded_tenant_id: self.responded_tenant_id.clone(),
            // Input only: the answer is kept with the contact request, by the tenants service.
            contact_request_id: String::new(),
        }
    }

    /// What the holder of the code sees before answering, at `now`; `inviter` is the partner's
    /// public profile as the tenants service has it (`None` when it has none).
    pub fn preview(
        &self,
        inviter: Option<tenants_pb::PartnerListing>,
        now: i64,
    ) -> pb::InvitationPreview {
        let (display_name, mpn_id) = inviter
            .as_ref()
            .map(|l| (l.display_name.clone(), l.mpn_id.clone()))
            .unwrap_or_default();
        pb::InvitationPreview {
            kind: self.kind.proto() as i32,
            inviter_tenant_id: self.inviter_tenant_id.clone(),
            inviter_display_name: display_name,
            inviter_mpn_id: mpn_id,
            delegated_admin: self.delegated_admin.as_ref().map(delegated_admin),
            line_items: self.line_items.iter().map(Line::to_proto).collect(),
            expire_time: Some(timestamp(self.expire_time)),
            state: self.state_at(now).proto() as i32,
            cloud: self.cloud as i32,
            inviter,
        }
    }
}

/// The delegated admin an invitation asks for, as the contract has it.
pub fn delegated_admin(grant: &Grant) -> pb::DelegatedAdminRequest {
    pb::DelegatedAdminRequest {
        roles: grant.roles.iter().map(|r| *r as i32).collect(),
        duration: grant.duration.map(|d| prost_types::Duration {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: 0,
        }),
        auto_extend: grant.auto_extend,
    }
}

impl Line {
    pub fn to_proto(&self) -> types::LineItem {
        types::LineItem {
            offer_id: self.offer_id.to_string(),
            quantity: self.quantity,
            ..Default::default()
        }
    }
}
