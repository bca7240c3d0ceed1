//! The data the bench measures against, made through the public API as users would make it: an
//! indirect provider and its reseller in partnership, a customer created for the reseller, the
//! provider's admin agent, and a partner whose user list is seeded to a million rows.

use crate::dev::{Dev, Error};
use partnerhub_proto::gateway::{
    self as gw, auth_service_client::AuthServiceClient,
    workflow_service_client::WorkflowServiceClient,
};
use partnerhub_proto::invitations::{
    self as inv, invitation_service_client::InvitationServiceClient,
};
use partnerhub_proto::subscriptions::{
    self as sub, subscription_service_client::SubscriptionServiceClient,
};
use partnerhub_proto::tenants::{self as pb, tenant_service_client::TenantServiceClient};
use partnerhub_proto::types::{Cloud, LineItem, PartnerType, Role};
use partnerhub_tests::{address, contact};
use tonic::transport::Channel;

/// The password every bench user chooses.
pub use partnerhub_tests::NEW_PASSWORD as PASSWORD;

/// A request with `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

pub struct Fixtures {
    pub provider: pb::Tenant,
    pub provider_admin: String,
    pub reseller: pb::Tenant,
    /// A customer of the provider, for the reseller.
    pub customer: pb::Tenant,
    /// The provider's admin agent (delegated admin in the customer).
    pub agent: String,
    /// The partner whose user list gets a million rows, its admin's user name and token.
    pub lister: pb::Tenant,
    pub lister_admin_name: String,
    pub lister_admin: String,
    pub line_items: Vec<LineItem>,
    pub operator: String,
}

/// A CreateCustomer form: a customer in Sweden for the reseller, with two line items.
pub fn customer_form(f: &Fixtures, prefix: &str) -> gw::CreateCustomerRequest {
    gw::CreateCustomerRequest {
        partner_tenant_id: f.provider.id.clone(),
        customer: Some(gw::CustomerDetails {
            display_name: format!("{prefix} skola"),
            domain_prefix: prefix.into(),
            address: Some(address()),
            contact: Some(contact("Maja", "Ek")),
            country_code: "SE".into(),
            cloud: Cloud::Worldwide as i32,
        }),
        indirect_reseller_id: f.reseller.id.clone(),
        line_items: f.line_items.clone(),
        agreement_signer: Some(contact("Maja", "Ek")),
        validate_only: false,
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

/// Signs in with a temporary password and chooses [`PASSWORD`]; gives the new token.
async fn activate(channel: &Channel, user_name: &str, temporary: &str) -> Result<String, Error> {
    let mut auth = AuthServiceClient::new(channel.clone());
    let first = auth
        .sign_in(gw::SignInRequest {
            user_name: user_name.into(),
            password: temporary.into(),
            second_factor_code: String::new(),
        })
        .await?
        .into_inner();
    let changed = auth
        .change_password(authed(
            gw::ChangePasswordRequest {
                current_password: temporary.into(),
                new_password: PASSWORD.into(),
            },
            &first.access_token,
        ))
        .await?
        .into_inner();
    Ok(changed.access_token)
}

/// The operator enrols a partner; its admin signs in and chooses a password.
async fn partner(
    channel: &Channel,
    operator: &str,
    prefix: &str,
    mpn_id: &str,
    kinds: &[PartnerType],
) -> Result<(pb::Tenant, String, String), Error> {
    let created = TenantServiceClient::new(channel.clone())
        .create_partner(authed(
            pb::CreatePartnerRequest {
                partner: Some(partnerhub_tests::partner(prefix, mpn_id, kinds)),
                request_id: String::new(),
            },
            operator,
        ))
        .await?
        .into_inner();
    let tenant = created.partner.ok_or("CreatePartner answered no partner")?;
    let admin = created
        .admin_user
        .ok_or("CreatePartner answered no admin")?;
    let token = activate(channel, &admin.user_name, &created.temporary_password).await?;
    Ok((tenant, admin.user_name, token))
}

pub async fn make(dev: &Dev) -> Result<Fixtures, Error> {
    let channel = crate::load::connect(dev.gateway).await?;
    let operator = dev.operator.clone();
    let (provider, _, provider_admin) = partner(
        &channel,
        &operator,
        "benchprovider",
        "9100001",
        &[PartnerType::IndirectProvider],
    )
    .await?;
    let (reseller, _, reseller_admin) = partner(
        &channel,
        &operator,
        "benchreseller",
        "9100002",
        &[PartnerType::IndirectReseller],
    )
    .await?;
    let (lister, lister_admin_name, lister_admin) = partner(
        &channel,
        &operator,
        "benchlister",
        "9100003",
        &[PartnerType::DirectProvider],
    )
    .await?;

    // The indirect partnership, accepted by the reseller.
    let invitation = InvitationServiceClient::new(channel.clone())
        .create_invitation(authed(
            inv::CreateInvitationRequest {
                invitation: Some(inv::Invitation {
                    kind: inv::InvitationKind::IndirectPartnership as i32,
                    inviter_tenant_id: provider.id.clone(),
                    invitee_tenant_id: reseller.id.clone(),
                    ..Default::default()
                }),
                ttl: None,
                request_id: String::new(),
            },
            &provider_admin,
        ))
        .await?
        .into_inner();
    WorkflowServiceClient::new(channel.clone())
        .accept_invitation(authed(
            gw::AcceptInvitationRequest {
                code: invitation.code,
                tenant_id: reseller.id.clone(),
                agreement_signer: Some(contact("Lars", "Holm")),
                request_id: String::new(),
                ..Default::default()
            },
            &reseller_admin,
        ))
        .await?;

    // Two offers sold in Sweden, at quantities they allow.
    let offers = SubscriptionServiceClient::new(channel.clone())
        .list_offers(authed(
            sub::ListOffersRequest {
                cloud: Cloud::Worldwide as i32,
                country_code: "SE".into(),
                ..Default::default()
            },
            &provider_admin,
        ))
        .await?
        .into_inner()
        .offers;
    let line_items: Vec<LineItem> = offers
        .iter()
        .take(2)
        .map(|o| LineItem {
            offer_id: o.id.clone(),
            quantity: o.min_quantity.max(5).min(o.max_quantity),
            ..Default::default()
        })
        .collect();
    if line_items.len() < 2 {
        return Err("the catalogue has fewer than two offers in Sweden".into());
    }

    // The provider's admin agent.
    let created = TenantServiceClient::new(channel.clone())
        .create_user(authed(
            pb::CreateUserRequest {
                tenant_id: provider.id.clone(),
                user: Some(pb::User {
                    user_name: "agent".into(),
                    display_name: "Bench agent".into(),
                    roles: vec![Role::AdminAgent as i32],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &provider_admin,
        ))
        .await?
        .into_inner();
    let agent_user = created.user.ok_or("CreateUser answered no user")?;
    let agent = activate(&channel, &agent_user.user_name, &created.temporary_password).await?;

    let mut fixtures = Fixtures {
        provider,
        provider_admin,
        reseller,
        customer: pb::Tenant::default(),
        agent,
        lister,
        lister_admin_name,
        lister_admin,
        line_items,
        operator,
    };
    let made = WorkflowServiceClient::new(channel.clone())
        .create_customer(authed(
            customer_form(&fixtures, "benchcustomer"),
            &fixtures.provider_admin,
        ))
        .await?
        .into_inner();
    fixtures.customer = made.customer.ok_or("CreateCustomer answered no customer")?;
    // The agent really acts in the customer's tenant (else the scenario measures refusals).
    TenantServiceClient::new(channel.clone())
        .get_tenant(authed(
            pb::GetTenantRequest {
                tenant_id: fixtures.customer.id.clone(),
            },
            &fixtures.agent,
        ))
        .await?;
    Ok(fixtures)
}

/// The page token of the page that starts after row `depth` of the lister's users, reached by
/// walking the list a thousand rows at a time, as a client would.
pub async fn token_at_depth(dev: &Dev, f: &Fixtures, depth: usize) -> Result<String, Error> {
    let mut tenants = TenantServiceClient::new(crate::load::connect(dev.gateway).await?);
    let (mut token, mut seen) = (String::new(), 0usize);
    while seen < depth {
        let size = (depth - seen).min(1000);
        let page = tenants
            .list_users(authed(
                pb::ListUsersRequest {
                    tenant_id: f.lister.id.clone(),
                    page_size: size as i32,
                    page_token: token.clone(),
                    ..Default::default()
                },
                &f.lister_admin,
            ))
            .await?
            .into_inner();
        seen += page.users.len();
        token = page.next_page_token;
        if token.is_empty() {
            return Err(format!("the list ended after {seen} users, before {depth}").into());
        }
    }
    Ok(token)
}
