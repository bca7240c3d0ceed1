//! How a service request and its notes go out on the wire.

use super::domain::{Note, ServiceRequest};
use partnerhub_kit::fields;
use partnerhub_kit::time::{optional_timestamp, timestamp};
use partnerhub_proto::support as pb;

impl Note {
    pub fn to_proto(&self) -> pb::ServiceRequestNote {
        pb::ServiceRequestNote {
            id: self.id.clone(),
            author_tenant_id: self.author_tenant_id.clone(),
            author_user_id: self.author_user_id.clone(),
            text: self.text.clone(),
            create_time: Some(timestamp(self.create_time)),
        }
    }
}

impl ServiceRequest {
    /// The request with `notes` (none in lists).
    pub fn to_proto(&self, notes: &[Note]) -> pb::ServiceRequest {
        pb::ServiceRequest {
            id: self.id.clone(),
            customer_tenant_id: self.customer_tenant_id.clone(),
            subscription_id: self.subscription_id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            severity: self.severity as i32,
            state: self.state as i32,
            contact_email: self.contact_email.clone(),
            contact_phone: self.contact_phone.clone(),
            acting_partner_tenant_id: self.acting_partner_tenant_id.clone(),
            creator_user_id: self.creator_user_id.clone(),
            support_contact_tenant_id: self.support_contact_tenant_id.clone(),
            notes: notes.iter().map(Note::to_proto).collect(),
            resolution: self.resolution.clone(),
            closer_tenant_id: self.closer_tenant_id.clone(),
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            close_time: optional_timestamp(self.close_time),
            etag: fields::etag_of(self.version),
        }
    }
}
