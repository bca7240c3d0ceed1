//! The domain's types as the protobuf messages the service answers with.

use crate::domain::{
    Address, Agreement, Contact, NewTenant, Principal, Secret, ServiceAccount, State, Tenant, User,
};
use partnerhub_kit::fields::etag_of;
use partnerhub_proto::{tenants as pb, types};
use prost_types::Timestamp;

impl From<Tenant> for pb::Tenant {
    fn from(t: Tenant) -> Self {
        pb::Tenant {
            primary_domain: t.primary_domain(),
            id: t.id,
            kind: t.kind.proto().into(),
            display_name: t.display_name,
            cloud: t.cloud.into(),
            country_code: t.country_code,
            domain_prefix: t.domain_prefix,
            address: Some(t.address.into()),
            contact: Some(t.contact.into()),
            state: t.state.into(),
            partner: t.partner.map(|p| pb::PartnerProfile {
                mpn_id: p.mpn_id,
                partner_types: p.partner_types.into_iter().map(Into::into).collect(),
                listed: p.listed,
                description: p.description,
                keywords: p.keywords,
                phone: p.public_contact.phone,
                email: p.public_contact.email,
                website: p.public_contact.website,
                customer_sizes: p.customer_sizes.into_iter().map(Into::into).collect(),
            }),
            create_time: Some(t.create_time.into()),
            update_time: Some(t.update_time.into()),
            etag: etag_of(t.version),
        }
    }
}

/// A partner's public profile, as partner search, `VerifyPartnerId`, the invitation preview
/// and a customer's partners page show it: what any signed-in user may see of a partner. Its
/// contact person, users, state and etag stay out.
impl From<Tenant> for pb::PartnerListing {
    fn from(t: Tenant) -> Self {
        let partner = t.partner.unwrap_or_default();
        pb::PartnerListing {
            tenant_id: t.id,
            display_name: t.display_name,
            mpn_id: partner.mpn_id,
            partner_types: partner.partner_types.into_iter().map(Into::into).collect(),
            cloud: t.cloud.into(),
            country_code: t.country_code,
            description: partner.description,
            keywords: partner.keywords,
            phone: partner.public_contact.phone,
            email: partner.public_contact.email,
            website: partner.public_contact.website,
            address: Some(t.address.into()),
            customer_sizes: partner.customer_sizes.into_iter().map(Into::into).collect(),
        }
    }
}

/// The tenant a create would make (no id, times or etag): the answer of a validation.
pub fn preview(new: &NewTenant) -> pb::Tenant {
    pb::Tenant {
        kind: new.kind.proto().into(),
        display_name: new.display_name.clone(),
        cloud: new.cloud.into(),
        country_code: new.country_code.clone(),
        domain_prefix: new.domain_prefix.clone(),
        primary_domain: crate::domain::primary_domain(&new.domain_prefix),
        address: Some(new.address.clone().into()),
        contact: Some(new.contact.clone().into()),
        state: State::Pending.into(),
        ..Default::default()
    }
}

impl From<Address> for types::PostalAddress {
    fn from(a: Address) -> Self {
        types::PostalAddress {
            address_lines: a.lines,
            locality: a.locality,
            administrative_area: a.administrative_area,
            postal_code: a.postal_code,
        }
    }
}

impl From<Contact> for types::Contact {
    fn from(c: Contact) -> Self {
        types::Contact {
            first_name: c.first_name,
            last_name: c.last_name,
            email: c.email,
            phone: c.phone,
        }
    }
}

impl From<User> for pb::User {
    fn from(u: User) -> Self {
        pb::User {
            id: u.id,
            tenant_id: u.tenant_id,
            user_name: u.user_name,
            display_name: u.display_name,
            email: u.email,
            roles: u.roles.into_iter().map(Into::into).collect(),
            password_change_required: u.password_change_required,
            second_factor_enrolled: u.second_factor_enrolled,
            create_time: Some(u.create_time.into()),
            update_time: Some(u.update_time.into()),
            etag: etag_of(u.version),
        }
    }
}

impl From<Agreement> for pb::Agreement {
    fn from(a: Agreement) -> Self {
        pb::Agreement {
            id: a.id,
            tenant_id: a.tenant_id,
            r#type: a.agreement_type.into(),
            version: a.version,
            signer: Some(a.signer.into()),
            accept_time: Some(a.accept_time.into()),
            accepted_by_user_id: a.accepted_by_user_id,
        }
    }
}

// The gateway asks for one on every call: the strings move, the role list converts in place.
impl From<Principal> for pb::Principal {
    fn from(p: Principal) -> Self {
        pb::Principal {
            user_id: p.user_id,
            user_name: p.user_name,
            tenant_id: p.tenant_id,
            tenant_kind: p.tenant_kind.proto().into(),
            tenant_state: p.tenant_state.into(),
            roles: p.roles.into_iter().map(Into::into).collect(),
            password_change_required: p.password_change_required,
            second_factor_enrolled: p.second_factor_enrolled,
            cloud: p.cloud.into(),
            country_code: p.country_code,
            partner_types: p.partner_types.into_iter().map(Into::into).collect(),
            password_change_time: p.password_changed_at.map(Timestamp::from),
            service_account: p.service_account,
        }
    }
}

impl From<ServiceAccount> for pb::ServiceAccount {
    fn from(a: ServiceAccount) -> Self {
        pb::ServiceAccount {
            id: a.id,
            tenant_id: a.tenant_id,
            display_name: a.display_name,
            roles: a.roles.into_iter().map(Into::into).collect(),
            secrets: a.secrets.into_iter().map(Into::into).collect(),
            create_time: Some(a.create_time.into()),
            update_time: Some(a.update_time.into()),
            etag: etag_of(a.version),
        }
    }
}

impl From<Secret> for pb::ServiceAccountSecret {
    fn from(s: Secret) -> Self {
        pb::ServiceAccountSecret {
            id: s.id,
            create_time: Some(s.create_time.into()),
            expire_time: s.expire_time.map(Timestamp::from),
        }
    }
}

impl From<crate::domain::ContactRequest> for pb::ContactRequest {
    fn from(r: crate::domain::ContactRequest) -> Self {
        pb::ContactRequest {
            id: r.id,
            customer_tenant_id: r.customer_tenant_id,
            customer_display_name: r.customer_display_name,
            partner_tenant_id: r.partner_tenant_id,
            needs: r.needs,
            contact: Some(r.contact.into()),
            invitation_id: r.invitation_id,
            create_time: Some(r.create_time.into()),
            answer_time: r.answer_time.map(Into::into),
        }
    }
}
