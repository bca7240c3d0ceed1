//! The domain's types as the protobuf messages the service answers with. Requests come in
//! through the domain's `parse` functions.

use crate::domain::Relationship;
use partnerhub_kit::time::{optional_timestamp, timestamp};
use partnerhub_proto::relationships as pb;

impl Relationship {
    /// The relationship as a reader sees it at `now`.
    pub fn to_proto(&self, now: i64) -> pb::Relationship {
        pb::Relationship {
            id: self.id.clone(),
            r#type: self.kind as i32,
            partner_tenant_id: self.partner_tenant_id.clone(),
            client_tenant_id: self.client_tenant_id.clone(),
            state: self.state_at(now) as i32,
            indirect_provider_tenant_id: self.indirect_provider_tenant_id.clone(),
            roles: self.roles.iter().map(|r| *r as i32).collect(),
            end_time: self.shown_end(now).map(timestamp),
            auto_extend: self.auto_extend,
            invitation_id: self.invitation_id.clone(),
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            terminate_time: optional_timestamp(Some(self.terminate_time)),
        }
    }
}
