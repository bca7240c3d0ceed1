//! The invitations service, called directly (as the gateway will): a partner's reseller and
//! delegated admin invitations and an indirect provider's partnership requests to indirect
//! resellers (seed 003), their links, codes and e-mail drafts, who may invite and decline, the
//! cloud rules, preview, decline, revoke, expiry, the atomic redeem, retries with request ids,
//! and who sees what; advisors' reusable trial and purchase offer links (seed 002) and partner
//! of record invitations (seed 000).

use partnerhub_kit::server::{Limits, bind};
use partnerhub_proto::invitations::invitation::State;
use partnerhub_proto::invitations::invitation_internal_service_client::InvitationInternalServiceClient;
use partnerhub_proto::invitations::invitation_service_client::InvitationServiceClient;
use partnerhub_proto::invitations::{self as pb, InvitationKind};
use partnerhub_proto::subscriptions::{
    self as sub_pb, subscription_service_client::SubscriptionServiceClient,
};
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::{self as tenants_pb};
use partnerhub_proto::types::{Cloud, LineItem, PartnerType, Role};
use partnerhub_tests::{
    DATABASE_ENV, Peer, TestSystem, bad_fields, customer, metadata, partner, reason,
};
use prost::Message;
use sqlx::{Connection, Row};
use std::time::Duration;
use tonic::transport::Channel;
use tonic::{Code, Status};
use uuid::Uuid;

const PROVIDER: &[PartnerType] = &[PartnerType::DirectProvider];
const DAY: Duration = Duration::from_secs(86_400);
const WORLDWIDE_LINK: &str = "https://admin.partnerhub.example/partner-invitation?code=";
const GERMANY_LINK: &str = "https://admin.partnerhub.example.de/partner-invitation?code=";
const US_GOVERNMENT_LINK: &str = "https://admin.gov.partnerhub.example/partner-invitation?code=";

// ---- helpers ----

/// The two invitation services, straight (not through the gateway).
struct Clients {
    public: InvitationServiceClient<Peer>,
    internal: InvitationInternalServiceClient<Peer>,
}

async fn clients(sys: &TestSystem) -> Clients {
    let channel = sys.service("invitations").await;
    Clients {
        public: InvitationServiceClient::new(channel.clone()),
        internal: InvitationInternalServiceClient::new(channel),
    }
}

/// A direct provider enrolled by the operator in `cloud`.
async fn partner_in(
    sys: &TestSystem,
    prefix: &str,
    mpn_id: &str,
    cloud: Cloud,
) -> tenants_pb::Tenant {
    partner_of(sys, prefix, mpn_id, cloud, PROVIDER).await
}

/// A partner of `types` enrolled by the operator in `cloud`.
async fn partner_of(
    sys: &TestSystem,
    prefix: &str,
    mpn_id: &str,
    cloud: Cloud,
    types: &[PartnerType],
) -> tenants_pb::Tenant {
    let mut tenant = partner(prefix, mpn_id, types);
    tenant.cloud = cloud as i32;
    sys.tenants(&sys.operator)
        .create_partner(tenants_pb::CreatePartnerRequest {
            partner: Some(tenant),
            request_id: String::new(),
        })
        .await
        .expect("CreatePartner")
        .into_inner()
        .partner
        .expect("partner")
}

/// A customer created straight at the tenants service (as a workflow would); `activate` makes
/// it usable.
async fn customer_in(
    sys: &TestSystem,
    prefix: &str,
    cloud: Cloud,
    activate: bool,
) -> tenants_pb::Tenant {
    let mut internal = TenantInternalServiceClient::new(sys.service("tenants").await);
    let mut tenant = customer(prefix);
    tenant.cloud = cloud as i32;
    // A sovereign cloud's customers live in its country (the offers there are sold only there).
    match cloud {
        Cloud::China21vianet => tenant.country_code = "CN".into(),
        Cloud::Germany => tenant.country_code = "DE".into(),
        Cloud::UsGovernment => tenant.country_code = "US".into(),
        Cloud::Worldwide | Cloud::Unspecified => {}
    }
    let created = internal
        .create_customer_tenant(tenants_pb::CreateCustomerTenantRequest {
            customer: Some(tenant),
            request_id: String::new(),
            validate_only: false,
            workflow_fingerprint: String::new(),
        })
        .await
        .expect("CreateCustomerTenant")
        .into_inner()
        .customer
        .expect("customer");
    if !activate {
        return created;
    }
    internal
        .activate_tenant(tenants_pb::ActivateTenantRequest {
            tenant_id: created.id,
        })
        .await
        .expect("ActivateTenant")
        .into_inner()
        .tenant
        .expect("tenant")
}

/// A reseller relationship invitation from `inviter`, without delegated admin.
fn reseller(inviter: &str) -> pb::Invitation {
    pb::Invitation {
        kind: InvitationKind::ResellerRelationship as i32,
        inviter_tenant_id: inviter.into(),
        invitee_email: "maja@example.com".into(),
        ..Default::default()
    }
}

/// An indirect provider's partnership request to the indirect reseller `invitee`.
fn partnership(inviter: &str, invitee: &str) -> pb::Invitation {
    pb::Invitation {
        kind: InvitationKind::IndirectPartnership as i32,
        inviter_tenant_id: inviter.into(),
        invitee_tenant_id: invitee.into(),
        invitee_email: "lars@reseller.example".into(),
        ..Default::default()
    }
}

/// A delegated admin invitation from `inviter` to the customer `invitee`.
fn delegated(inviter: &str, invitee: &str, roles: &[Role]) -> pb::Invitation {
    pb::Invitation {
        kind: InvitationKind::DelegatedAdmin as i32,
        inviter_tenant_id: inviter.into(),
        invitee_tenant_id: invitee.into(),
        delegated_admin: Some(rights(roles, None, false)),
        ..Default::default()
    }
}

fn rights(roles: &[Role], days: Option<i64>, auto_extend: bool) -> pb::DelegatedAdminRequest {
    pb::DelegatedAdminRequest {
        roles: roles.iter().map(|r| *r as i32).collect(),
        duration: days.map(|d| prost_types::Duration {
            seconds: d * 86_400,
            nanos: 0,
        }),
        auto_extend,
    }
}

fn hours(n: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: n * 3600,
        nanos: 0,
    }
}

fn request(invitation: pb::Invitation) -> pb::CreateInvitationRequest {
    pb::CreateInvitationRequest {
        invitation: Some(invitation),
        ttl: None,
        request_id: String::new(),
    }
}

async fn try_create(
    c: &mut Clients,
    req: pb::CreateInvitationRequest,
) -> Result<pb::CreateInvitationResponse, Status> {
    c.public
        .create_invitation(req)
        .await
        .map(tonic::Response::into_inner)
}

/// Creates an invitation that must succeed; returns the answer and its invitation.
async fn create(
    c: &mut Clients,
    invitation: pb::Invitation,
) -> (pb::CreateInvitationResponse, pb::Invitation) {
    let created = try_create(c, request(invitation))
        .await
        .expect("CreateInvitation");
    let invitation = created.invitation.clone().expect("invitation");
    (created, invitation)
}

async fn get(c: &mut Clients, inviter: &str, id: &str) -> Result<pb::Invitation, Status> {
    c.public
        .get_invitation(pb::GetInvitationRequest {
            inviter_tenant_id: inviter.into(),
            invitation_id: id.into(),
        })
        .await
        .map(|r| r.into_inner().invitation.expect("invitation"))
}

async fn list(
    c: &mut Clients,
    req: pb::ListInvitationsRequest,
) -> Result<pb::ListInvitationsResponse, Status> {
    c.public
        .list_invitations(req)
        .await
        .map(tonic::Response::into_inner)
}

/// The ids of the inviter's invitations in `state` (any: `State::Unspecified`).
async fn listed(c: &mut Clients, inviter: &str, state: State) -> Vec<String> {
    list(
        c,
        pb::ListInvitationsRequest {
            inviter_tenant_id: inviter.into(),
            state: state as i32,
            ..Default::default()
        },
    )
    .await
    .expect("ListInvitations")
    .invitations
    .into_iter()
    .map(|i| i.id)
    .collect()
}

async fn preview(c: &mut Clients, code: &str) -> Result<pb::InvitationPreview, Status> {
    c.public
        .preview_invitation(pb::PreviewInvitationRequest { code: code.into() })
        .await
        .map(|r| r.into_inner().preview.expect("preview"))
}

async fn decline(c: &mut Clients, code: &str, tenant: &str) -> Result<(), Status> {
    c.public
        .decline_invitation(pb::DeclineInvitationRequest {
            code: code.into(),
            tenant_id: tenant.into(),
        })
        .await
        .map(|_| ())
}

async fn revoke(c: &mut Clients, inviter: &str, id: &str) -> Result<pb::Invitation, Status> {
    c.public
        .revoke_invitation(pb::RevokeInvitationRequest {
            inviter_tenant_id: inviter.into(),
            invitation_id: id.into(),
        })
        .await
        .map(|r| r.into_inner().invitation.expect("invitation"))
}

async fn lookup(c: &mut Clients, code: &str) -> Result<pb::Invitation, Status> {
    c.internal
        .lookup_invitation(pb::LookupInvitationRequest { code: code.into() })
        .await
        .map(|r| r.into_inner().invitation.expect("invitation"))
}

async fn redeem(
    internal: &mut InvitationInternalServiceClient<Peer>,
    code: &str,
    tenant: &str,
    request_id: &str,
) -> Result<pb::Invitation, Status> {
    internal
        .redeem_invitation(pb::RedeemInvitationRequest {
            code: code.into(),
            tenant_id: tenant.into(),
            request_id: request_id.into(),
            validate_only: false,
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().invitation.expect("invitation"))
}

fn new_id() -> String {
    Uuid::new_v4().to_string()
}

/// The status of a call that must fail.
fn refused<T: std::fmt::Debug>(result: Result<T, Status>) -> Status {
    result.expect_err("the call must fail")
}

/// A call refused with `code` and `reason`.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, why: &str) -> Status {
    let status = refused(result);
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(&status), why, "{status:?}");
    status
}

/// An invalid argument naming exactly these fields.
#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, Status>, fields: &[&str]) {
    let status = assert_refused(result, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(bad_fields(&status), fields, "{status:?}");
}

/// An invitation that can't be used any more, with the reason, telling that a new one is needed.
#[track_caller]
fn assert_unusable<T: std::fmt::Debug>(result: Result<T, Status>, why: &str) {
    let status = assert_refused(result, Code::FailedPrecondition, why);
    assert!(status.message().contains("new invitation"), "{status:?}");
}

fn seconds(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().expect("a time").seconds
}

// ---- creating ----

#[tokio::test]
async fn a_partner_invites_a_customer_to_a_reseller_relationship() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let mut c = clients(&sys).await;

    let (created, invitation) = create(&mut c, reseller(&fabrikam.id)).await;

    assert!(created.url.starts_with(WORLDWIDE_LINK), "{}", created.url);
    assert_eq!(created.url, format!("{WORLDWIDE_LINK}{}", created.code));
    assert!(
        created.code.len() >= 43,
        "at least 256 bits: {}",
        created.code
    );
    assert!(
        created
            .code
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
        "url-safe: {}",
        created.code
    );
    assert!(Uuid::parse_str(&invitation.id).is_ok());
    assert_eq!(invitation.kind, InvitationKind::ResellerRelationship as i32);
    assert_eq!(invitation.inviter_tenant_id, fabrikam.id);
    assert_eq!(invitation.state, State::Pending as i32);
    assert_eq!(invitation.cloud, Cloud::Worldwide as i32);
    assert_eq!(invitation.locale, "en");
    assert_eq!(invitation.invitee_email, "maja@example.com");
    assert!(!invitation.reusable);
    assert_eq!(invitation.use_count, 0);
    assert_eq!(invitation.delegated_admin, None);
    assert_eq!(invitation.responded_tenant_id, "");
    assert_eq!(
        seconds(&invitation.expire_time) - seconds(&invitation.create_time),
        90 * 86_400,
        "an untouched invitation lasts 90 days"
    );

    let draft = created.email_draft.expect("an e-mail draft");
    assert!(draft.subject.contains("fabrikam AB"), "{}", draft.subject);
    for part in [
        "fabrikam AB",
        "1234567",
        "reseller relationship",
        created.url.as_str(),
        "global administrator",
    ] {
        assert!(draft.body.contains(part), "{part:?} in {}", draft.body);
    }
    assert!(!draft.body.contains("delegated admin"), "{}", draft.body);
    assert!(
        draft
            .mailto_url
            .starts_with("mailto:maja@example.com?subject="),
        "{}",
        draft.mailto_url
    );
    assert!(draft.mailto_url.contains("&body="));
    assert!(
        draft.mailto_url.contains(&created.code),
        "the link is in the mailto body"
    );
    assert!(
        !draft.mailto_url.contains(' '),
        "percent-encoded: {}",
        draft.mailto_url
    );

    // Every invitation has its own code, and the code is shown only in the create answer.
    let (other, _) = create(&mut c, reseller(&fabrikam.id)).await;
    assert_ne!(other.code, created.code);
    let read = get(&mut c, &fabrikam.id, &invitation.id)
        .await
        .expect("GetInvitation");
    assert_eq!(read, invitation);
    let listed = list(
        &mut c,
        pb::ListInvitationsRequest {
            inviter_tenant_id: fabrikam.id.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("ListInvitations");
    let looked_up = lookup(&mut c, &created.code)
        .await
        .expect("LookupInvitation");
    let previewed = preview(&mut c, &created.code)
        .await
        .expect("PreviewInvitation");
    for bytes in [
        read.encode_to_vec(),
        listed.encode_to_vec(),
        looked_up.encode_to_vec(),
        previewed.encode_to_vec(),
    ] {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&created.code),
            "the code is never shown again"
        );
    }
    sys.stop().await;
}

#[tokio::test]
async fn a_reseller_invitation_asks_for_delegated_admin_in_english_or_swedish() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let mut c = clients(&sys).await;

    let mut english = reseller(&fabrikam.id);
    english.delegated_admin = Some(rights(
        &[Role::HelpdeskAdmin, Role::UserAdmin, Role::HelpdeskAdmin],
        Some(30),
        true,
    ));
    let (created, invitation) = create(&mut c, english).await;
    assert_eq!(
        invitation.delegated_admin,
        Some(rights(
            &[Role::UserAdmin, Role::HelpdeskAdmin],
            Some(30),
            true
        )),
        "roles sorted, without repeats"
    );
    let draft = created.email_draft.expect("draft");
    for part in [
        "fabrikam AB",
        "reseller relationship",
        "delegated admin",
        "User administrator and Helpdesk (password) administrator",
        "30 days",
        "180 days",
        created.url.as_str(),
    ] {
        assert!(draft.body.contains(part), "{part:?} in {}", draft.body);
    }

    // No roles named: the classic set, global admin and helpdesk admin, with no end.
    let mut swedish = reseller(&fabrikam.id);
    swedish.locale = "sv".into();
    swedish.delegated_admin = Some(rights(&[], None, false));
    let (created, invitation) = create(&mut c, swedish).await;
    assert_eq!(invitation.locale, "sv");
    assert_eq!(
        invitation.delegated_admin,
        Some(rights(
            &[Role::GlobalAdmin, Role::HelpdeskAdmin],
            None,
            false
        ))
    );
    let draft = created.email_draft.expect("draft");
    assert!(
        draft.subject.contains("återförsäljarrelation"),
        "{}",
        draft.subject
    );
    for part in [
        "Hej",
        "fabrikam AB",
        "1234567",
        "återförsäljarrelation",
        "delegerad administratörsbehörighet",
        "global administratör och lösenordsadministratör",
        "utan slutdatum",
        created.url.as_str(),
    ] {
        assert!(draft.body.contains(part), "{part:?} in {}", draft.body);
    }
    assert!(
        draft
            .mailto_url
            .contains("%C3%A5terf%C3%B6rs%C3%A4ljarrelation")
    );
    sys.stop().await;
}

#[tokio::test]
async fn in_germany_and_us_government_a_reseller_must_ask_for_delegated_admin() {
    let sys = TestSystem::start().await;
    let mut c = clients(&sys).await;
    for (prefix, mpn_id, cloud, link) in [
        ("tysk", "2345678", Cloud::Germany, GERMANY_LINK),
        ("usgov", "3456789", Cloud::UsGovernment, US_GOVERNMENT_LINK),
    ] {
        let inviter = partner_in(&sys, prefix, mpn_id, cloud).await;
        let status = assert_refused(
            try_create(&mut c, request(reseller(&inviter.id))).await,
            Code::FailedPrecondition,
            "DELEGATED_ADMIN_REQUIRED",
        );
        assert_eq!(bad_fields(&status), ["invitation.delegated_admin"]);
        assert!(
            status
                .message()
                .contains("in the Germany and US government clouds a reseller relationship must include delegated admin"),
            "{status:?}"
        );
        assert!(
            listed(&mut c, &inviter.id, State::Unspecified)
                .await
                .is_empty()
        );

        let mut with_rights = reseller(&inviter.id);
        with_rights.delegated_admin = Some(rights(&[Role::GlobalAdmin], None, false));
        let (created, invitation) = create(&mut c, with_rights).await;
        assert_eq!(invitation.cloud, cloud as i32);
        assert!(created.url.starts_with(link), "{}", created.url);
    }
    sys.stop().await;
}

#[tokio::test]
async fn a_delegated_admin_invitation_goes_to_an_existing_customer() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let contoso = partner_in(&sys, "contoso", "2345678", Cloud::Worldwide).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let pending = customer_in(&sys, "nyskola", Cloud::Worldwide, false).await;
    let german = customer_in(&sys, "schule", Cloud::Germany, true).await;
    let mut c = clients(&sys).await;

    let mut bare = delegated(&fabrikam.id, "", &[]);
    bare.delegated_admin = None;
    let status = assert_refused(
        try_create(&mut c, request(bare)).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        bad_fields(&status),
        ["invitation.invitee_tenant_id", "invitation.delegated_admin"]
    );
    // Left out, delegated admin is explained: `{}` asks for the classic roles.
    assert!(
        status.message().contains("send {} (no roles named)"),
        "{status:?}"
    );
    // A bad reference is bad input; a real tenant of the wrong kind or cloud is a rule about
    // the world, with the tenant in the ErrorInfo.
    for invitee in [new_id(), pending.id.clone()] {
        assert_invalid(
            try_create(
                &mut c,
                request(delegated(&fabrikam.id, &invitee, &[Role::UserAdmin])),
            )
            .await,
            &["invitation.invitee_tenant_id"],
        );
    }
    for (invitee, why) in [
        (&contoso.id, "NOT_A_CUSTOMER"),
        (&german.id, "CLOUD_MISMATCH"),
    ] {
        let status = assert_refused(
            try_create(
                &mut c,
                request(delegated(&fabrikam.id, invitee, &[Role::UserAdmin])),
            )
            .await,
            Code::FailedPrecondition,
            why,
        );
        assert_eq!(metadata(&status, "tenantId"), *invitee);
    }
    assert!(
        listed(&mut c, &fabrikam.id, State::Unspecified)
            .await
            .is_empty()
    );

    let (created, invitation) = create(
        &mut c,
        delegated(&fabrikam.id, &skola.id, &[Role::BillingAdmin]),
    )
    .await;
    assert_eq!(invitation.kind, InvitationKind::DelegatedAdmin as i32);
    assert_eq!(invitation.invitee_tenant_id, skola.id);
    assert_eq!(invitation.invitee_email, "");
    assert_eq!(
        invitation.delegated_admin,
        Some(rights(&[Role::BillingAdmin], None, false))
    );
    let draft = created.email_draft.expect("draft");
    assert!(
        draft.body.contains("Billing administrator"),
        "{}",
        draft.body
    );
    assert!(draft.body.contains(&created.url));
    assert!(
        draft.mailto_url.starts_with("mailto:?subject="),
        "{}",
        draft.mailto_url
    );
    sys.stop().await;
}

#[tokio::test]
async fn only_an_active_partner_sends_invitations() {
    let sys = TestSystem::start().await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;
    assert_refused(
        try_create(&mut c, request(reseller(&new_id()))).await,
        Code::NotFound,
        "TENANT_NOT_FOUND",
    );
    assert_refused(
        try_create(&mut c, request(reseller(&skola.id))).await,
        Code::FailedPrecondition,
        "INVITER_NOT_A_PARTNER",
    );
    sys.stop().await;
}

#[tokio::test]
async fn bad_requests_name_every_field_and_create_nothing() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let mut c = clients(&sys).await;
    let id = fabrikam.id.as_str();

    assert_invalid(
        try_create(
            &mut c,
            pb::CreateInvitationRequest {
                invitation: None,
                ttl: None,
                request_id: String::new(),
            },
        )
        .await,
        &["invitation"],
    );
    let garbage = pb::CreateInvitationRequest {
        invitation: Some(pb::Invitation {
            kind: 99,
            inviter_tenant_id: "fabrikam".into(),
            invitee_tenant_id: "skola".into(),
            invitee_email: "not an address".into(),
            locale: "de".into(),
            delegated_admin: Some(pb::DelegatedAdminRequest {
                roles: vec![Role::AdminAgent as i32],
                duration: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                auto_extend: false,
            }),
            line_items: vec![LineItem {
                offer_id: "o365-e3".into(),
                quantity: 10,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ttl: Some(hours(0)),
        request_id: "again".into(),
    };
    assert_invalid(
        try_create(&mut c, garbage).await,
        &[
            "invitation.kind",
            "invitation.inviter_tenant_id",
            "invitation.invitee_tenant_id",
            "invitation.invitee_email",
            "invitation.locale",
            "invitation.delegated_admin.roles[0]",
            "invitation.delegated_admin.duration",
            "invitation.line_items",
            "ttl",
            "request_id",
        ],
    );
    let mut unspecified = reseller(id);
    unspecified.kind = 0;
    assert_invalid(
        try_create(&mut c, request(unspecified)).await,
        &["invitation.kind"],
    );
    let mut forever = reseller(id);
    forever.delegated_admin = Some(rights(&[Role::GlobalAdmin], Some(30), true));
    assert_invalid(
        try_create(&mut c, request(forever)).await,
        &["invitation.delegated_admin.auto_extend"],
    );
    for ttl in [
        hours(0),
        prost_types::Duration {
            seconds: 3599,
            nanos: 0,
        },
        hours(366 * 24),
        hours(-1),
    ] {
        let mut req = request(reseller(id));
        req.ttl = Some(ttl);
        assert_invalid(try_create(&mut c, req).await, &["ttl"]);
    }
    let mut to_self = reseller(id);
    to_self.invitee_tenant_id = id.into();
    assert_invalid(
        try_create(&mut c, request(to_self)).await,
        &["invitation.invitee_tenant_id"],
    );

    // The advisor's kinds carry offers, a partner of record invitation asks for delegated admin.
    for (kind, field) in [
        (InvitationKind::Trial, "invitation.line_items"),
        (InvitationKind::PurchaseOffer, "invitation.line_items"),
        (
            InvitationKind::PartnerOfRecord,
            "invitation.delegated_admin",
        ),
    ] {
        let mut other = reseller(id);
        other.kind = kind as i32;
        assert_invalid(try_create(&mut c, request(other)).await, &[field]);
    }
    assert!(
        listed(&mut c, id, State::Unspecified).await.is_empty(),
        "nothing was created"
    );

    // The other methods name their bad fields too.
    assert_invalid(
        get(&mut c, "", "nope").await,
        &["inviter_tenant_id", "invitation_id"],
    );
    assert_invalid(
        revoke(&mut c, "x", "").await,
        &["inviter_tenant_id", "invitation_id"],
    );
    assert_invalid(
        list(
            &mut c,
            pb::ListInvitationsRequest {
                inviter_tenant_id: String::new(),
                page_size: -1,
                page_token: "garbage".into(),
                kind: 42,
                state: 42,
            },
        )
        .await,
        &[
            "inviter_tenant_id",
            "kind",
            "state",
            "page_size",
            "page_token",
        ],
    );
    assert_invalid(preview(&mut c, "").await, &["code"]);
    assert_invalid(lookup(&mut c, "").await, &["code"]);
    assert_invalid(decline(&mut c, "", "nope").await, &["code", "tenant_id"]);
    assert_invalid(
        redeem(&mut c.internal, "", "", "again").await,
        &["code", "tenant_id", "request_id"],
    );
    sys.stop().await;
}

// ---- indirect partnerships (seed 003) ----

#[tokio::test]
async fn an_indirect_provider_asks_an_enrolled_indirect_reseller_to_partner_with_it() {
    let sys = TestSystem::start().await;
    let northwind = partner_of(
        &sys,
        "northwind",
        "1234567",
        Cloud::Worldwide,
        &[PartnerType::IndirectProvider],
    )
    .await;
    let lars = partner_of(
        &sys,
        "larsit",
        "2345678",
        Cloud::Worldwide,
        &[PartnerType::IndirectReseller],
    )
    .await;
    let other = partner_of(
        &sys,
        "otherit",
        "3456789",
        Cloud::Worldwide,
        &[PartnerType::IndirectReseller],
    )
    .await;
    let mut c = clients(&sys).await;

    let (created, invitation) = create(&mut c, partnership(&northwind.id, &lars.id)).await;
    assert_eq!(invitation.kind, InvitationKind::IndirectPartnership as i32);
    assert_eq!(invitation.inviter_tenant_id, northwind.id);
    assert_eq!(invitation.invitee_tenant_id, lars.id);
    assert_eq!(invitation.state, State::Pending as i32);
    assert!(!invitation.reusable, "single-use");
    assert_eq!(invitation.delegated_admin, None);
    assert!(invitation.line_items.is_empty());
    assert_eq!(invitation.cloud, Cloud::Worldwide as i32);
    assert_eq!(created.url, format!("{WORLDWIDE_LINK}{}", created.code));
    let draft = created.email_draft.expect("an e-mail draft");
    assert_eq!(
        draft.subject,
        "northwind AB invites you to become its indirect reseller"
    );
    for part in [
        "northwind AB (partner ID 1234567), an indirect provider",
        "become its indirect reseller",
        "add new customers and subscriptions for you",
        created.url.as_str(),
        "can be accepted until",
    ] {
        assert!(draft.body.contains(part), "{part:?} in {}", draft.body);
    }
    assert!(!draft.body.contains("customer agreement"), "{}", draft.body);
    assert!(
        draft
            .mailto_url
            .starts_with("mailto:lars@reseller.example?subject="),
        "{}",
        draft.mailto_url
    );

    let mut swedish = partnership(&northwind.id, &lars.id);
    swedish.locale = "sv".into();
    let (sv, _) = create(&mut c, swedish).await;
    let draft = sv.email_draft.expect("a Swedish draft");
    assert!(
        draft.subject.contains("bli indirekt återförsäljare"),
        "{}",
        draft.subject
    );
    for part in [
        "Hej",
        "northwind AB (partner-ID 1234567), indirekt leverantör",
        "indirekt återförsäljare för northwind AB",
        sv.url.as_str(),
        "kan accepteras fram till",
    ] {
        assert!(draft.body.contains(part), "{part:?} in {}", draft.body);
    }

    // The reseller previews it; only the reseller may use it, once.
    let seen = preview(&mut c, &created.code).await.expect("preview");
    assert_eq!(seen.kind, InvitationKind::IndirectPartnership as i32);
    assert_eq!(seen.inviter_display_name, "northwind AB");
    assert_eq!(seen.inviter_mpn_id, "1234567");
    assert_eq!(seen.delegated_admin, None);
    assert_refused(
        redeem(&mut c.internal, &created.code, &other.id, &new_id()).await,
        Code::FailedPrecondition,
        "INVITATION_FOR_ANOTHER_TENANT",
    );
    let request_id = new_id();
    let redeemed = redeem(&mut c.internal, &created.code, &lars.id, &request_id)
        .await
        .expect("RedeemInvitation");
    assert_eq!(redeemed.state, State::Accepted as i32);
    assert_eq!(redeemed.responded_tenant_id, lars.id);
    assert_eq!(redeemed.use_count, 1);
    assert_eq!(
        redeem(&mut c.internal, &created.code, &lars.id, &request_id)
            .await
            .expect("a retry"),
        redeemed
    );
    assert_unusable(
        redeem(&mut c.internal, &created.code, &lars.id, &new_id()).await,
        "INVITATION_ALREADY_USED",
    );
    assert_unusable(
        decline(&mut c, &created.code, &lars.id).await,
        "INVITATION_ALREADY_USED",
    );
    assert_unusable(
        revoke(&mut c, &northwind.id, &invitation.id).await,
        "INVITATION_ALREADY_USED",
    );

    // Only the invitee declines; then it can't be used.
    assert_refused(
        decline(&mut c, &sv.code, &other.id).await,
        Code::FailedPrecondition,
        "INVITATION_FOR_ANOTHER_TENANT",
    );
    decline(&mut c, &sv.code, &lars.id)
        .await
        .expect("the reseller declines");
    assert_unusable(
        redeem(&mut c.internal, &sv.code, &lars.id, &new_id()).await,
        "INVITATION_DECLINED",
    );

    // The provider revokes one not used yet.
    let (third, asked) = create(&mut c, partnership(&northwind.id, &other.id)).await;
    let revoked = revoke(&mut c, &northwind.id, &asked.id)
        .await
        .expect("RevokeInvitation");
    assert_eq!(revoked.state, State::Revoked as i32);
    assert_unusable(
        redeem(&mut c.internal, &third.code, &other.id, &new_id()).await,
        "INVITATION_REVOKED",
    );
    assert_unusable(
        decline(&mut c, &third.code, &other.id).await,
        "INVITATION_REVOKED",
    );
    let by_kind = list(
        &mut c,
        pb::ListInvitationsRequest {
            inviter_tenant_id: northwind.id.clone(),
            kind: InvitationKind::IndirectPartnership as i32,
            ..Default::default()
        },
    )
    .await
    .expect("ListInvitations");
    assert_eq!(
        by_kind
            .invitations
            .iter()
            .map(|i| State::try_from(i.state).expect("a state"))
            .collect::<Vec<_>>(),
        [State::Accepted, State::Declined, State::Revoked]
    );
    sys.stop().await;
}

#[tokio::test]
async fn only_an_indirect_provider_asks_and_only_an_enrolled_indirect_reseller_is_asked() {
    let sys = TestSystem::start().await;
    let northwind = partner_of(
        &sys,
        "northwind",
        "1234567",
        Cloud::Worldwide,
        &[PartnerType::IndirectProvider],
    )
    .await;
    let lars = partner_of(
        &sys,
        "larsit",
        "2345678",
        Cloud::Worldwide,
        &[PartnerType::IndirectReseller],
    )
    .await;
    let direct = partner_in(&sys, "fabrikam", "3456789", Cloud::Worldwide).await;
    let advisor = partner_of(
        &sys,
        "tailspin",
        "4567890",
        Cloud::Worldwide,
        &[PartnerType::Advisor],
    )
    .await;
    let german = partner_of(
        &sys,
        "tysk",
        "5678901",
        Cloud::Germany,
        &[PartnerType::IndirectReseller],
    )
    .await;
    let both = partner_of(
        &sys,
        "bothways",
        "6789012",
        Cloud::Worldwide,
        &[PartnerType::IndirectProvider, PartnerType::IndirectReseller],
    )
    .await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;

    // The inviter: an active partner that is an indirect provider.
    for (inviter, invitee) in [
        (&direct.id, &lars.id),
        (&advisor.id, &lars.id),
        (&lars.id, &both.id),
    ] {
        let status = assert_refused(
            try_create(&mut c, request(partnership(inviter, invitee))).await,
            Code::FailedPrecondition,
            "INVITER_NOT_INDIRECT_PROVIDER",
        );
        assert!(
            status.message().contains("not an indirect provider"),
            "{status:?}"
        );
    }
    assert_refused(
        try_create(&mut c, request(partnership(&skola.id, &lars.id))).await,
        Code::FailedPrecondition,
        "INVITER_NOT_A_PARTNER",
    );

    // The invitee: named, and an indirect reseller in the provider's cloud.
    let mut bare = partnership(&northwind.id, "");
    bare.delegated_admin = Some(rights(&[Role::UserAdmin], None, false));
    bare.line_items = vec![LineItem {
        offer_id: "o365-e3".into(),
        quantity: 1,
        ..Default::default()
    }];
    assert_invalid(
        try_create(&mut c, request(bare)).await,
        &[
            "invitation.invitee_tenant_id",
            "invitation.delegated_admin",
            "invitation.line_items",
        ],
    );
    assert_invalid(
        try_create(&mut c, request(partnership(&northwind.id, &northwind.id))).await,
        &["invitation.invitee_tenant_id"],
    );
    let status = refused(try_create(&mut c, request(partnership(&northwind.id, &new_id()))).await);
    assert_eq!(reason(&status), "INVALID_ARGUMENT");
    assert_eq!(bad_fields(&status), ["invitation.invitee_tenant_id"]);
    assert!(
        status
            .message()
            .contains("resellers must be enrolled as indirect resellers first"),
        "{status:?}"
    );
    for (invitee, why) in [
        (&skola.id, "NOT_AN_INDIRECT_RESELLER"),
        (&direct.id, "NOT_AN_INDIRECT_RESELLER"),
        (&advisor.id, "NOT_AN_INDIRECT_RESELLER"),
        (&german.id, "CLOUD_MISMATCH"),
    ] {
        let status = assert_refused(
            try_create(&mut c, request(partnership(&northwind.id, invitee))).await,
            Code::FailedPrecondition,
            why,
        );
        assert_eq!(metadata(&status, "tenantId"), *invitee);
    }
    assert!(
        listed(&mut c, &northwind.id, State::Unspecified)
            .await
            .is_empty(),
        "nothing was created"
    );

    // A partner that is both provider and reseller may ask and be asked.
    create(&mut c, partnership(&northwind.id, &both.id)).await;
    create(&mut c, partnership(&both.id, &lars.id)).await;
    sys.stop().await;
}

// ---- who may invite to a reseller relationship, who may decline ----

#[tokio::test]
async fn only_providers_invite_to_a_reseller_relationship_and_any_partner_to_delegated_admin() {
    let sys = TestSystem::start().await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;
    let cases: [(&str, &str, &[PartnerType], bool); 6] = [
        ("direkt", "1234567", &[PartnerType::DirectProvider], true),
        (
            "grossist",
            "2345678",
            &[PartnerType::IndirectProvider],
            true,
        ),
        ("radgivare", "3456789", &[PartnerType::Advisor], false),
        (
            "aterfor",
            "4567890",
            &[PartnerType::IndirectReseller],
            false,
        ),
        (
            "bada",
            "5678901",
            &[PartnerType::IndirectReseller, PartnerType::Advisor],
            false,
        ),
        (
            "radlev",
            "6789012",
            &[PartnerType::Advisor, PartnerType::DirectProvider],
            true,
        ),
    ];
    for (prefix, mpn_id, types, resells) in cases {
        let inviter = partner_of(&sys, prefix, mpn_id, Cloud::Worldwide, types).await;
        let asked = try_create(&mut c, request(reseller(&inviter.id))).await;
        if resells {
            asked.expect("a provider invites to a reseller relationship");
        } else {
            let status = assert_refused(asked, Code::FailedPrecondition, "INVITER_CANNOT_RESELL");
            assert!(
                status
                    .message()
                    .contains("only direct and indirect providers sell to and bill customers"),
                "{status:?}"
            );
        }
        // Delegated admin: any partner.
        create(
            &mut c,
            delegated(&inviter.id, &skola.id, &[Role::HelpdeskAdmin]),
        )
        .await;
    }

    // Who may resell is checked before what the cloud asks for.
    let german_advisor = partner_of(
        &sys,
        "beratung",
        "7890123",
        Cloud::Germany,
        &[PartnerType::Advisor],
    )
    .await;
    assert_refused(
        try_create(&mut c, request(reseller(&german_advisor.id))).await,
        Code::FailedPrecondition,
        "INVITER_CANNOT_RESELL",
    );
    sys.stop().await;
}

#[tokio::test]
async fn only_a_customer_declines_a_reseller_or_delegated_admin_invitation() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let contoso = partner_in(&sys, "contoso", "2345678", Cloud::Worldwide).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;

    let (created, invitation) = create(&mut c, reseller(&fabrikam.id)).await;
    for partner in [&contoso.id, &fabrikam.id] {
        let status = assert_refused(
            decline(&mut c, &created.code, partner).await,
            Code::FailedPrecondition,
            "NOT_A_CUSTOMER",
        );
        assert!(status.message().contains("not a customer"), "{status:?}");
    }
    assert_refused(
        decline(&mut c, &created.code, &new_id()).await,
        Code::NotFound,
        "TENANT_NOT_FOUND",
    );
    assert_eq!(
        get(&mut c, &fabrikam.id, &invitation.id)
            .await
            .expect("GetInvitation")
            .state,
        State::Pending as i32,
        "a refused decline changes nothing"
    );
    decline(&mut c, &created.code, &skola.id)
        .await
        .expect("the customer declines");

    // A delegated admin invitation names its customer; nobody else declines it.
    let (created, _) = create(
        &mut c,
        delegated(&fabrikam.id, &skola.id, &[Role::UserAdmin]),
    )
    .await;
    assert_refused(
        decline(&mut c, &created.code, &contoso.id).await,
        Code::FailedPrecondition,
        "INVITATION_FOR_ANOTHER_TENANT",
    );
    decline(&mut c, &created.code, &skola.id)
        .await
        .expect("the customer declines");
    sys.stop().await;
}

// ---- the invitee's side ----

#[tokio::test]
async fn the_invitee_previews_who_invites_and_what_is_asked() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let mut c = clients(&sys).await;
    let mut asking = reseller(&fabrikam.id);
    asking.delegated_admin = Some(rights(&[Role::GlobalAdmin], Some(365), false));
    let (created, invitation) = create(&mut c, asking).await;

    let seen = preview(&mut c, &created.code)
        .await
        .expect("PreviewInvitation");
    assert_eq!(
        seen,
        pb::InvitationPreview {
            kind: InvitationKind::ResellerRelationship as i32,
            inviter_tenant_id: fabrikam.id.clone(),
            inviter_display_name: "fabrikam AB".into(),
            inviter_mpn_id: "1234567".into(),
            delegated_admin: invitation.delegated_admin.clone(),
            line_items: Vec::new(),
            expire_time: invitation.expire_time,
            state: State::Pending as i32,
            cloud: Cloud::Worldwide as i32,
            // The partner's public profile, nothing private (no contact person, no state).
            inviter: Some(tenants_pb::PartnerListing {
                tenant_id: fabrikam.id.clone(),
                display_name: "fabrikam AB".into(),
                mpn_id: "1234567".into(),
                partner_types: fabrikam.partner.clone().expect("partner").partner_types,
                cloud: Cloud::Worldwide as i32,
                country_code: "SE".into(),
                description: "fabrikam sells cloud services".into(),
                keywords: vec!["schools".into()],
                address: fabrikam.address.clone(),
                ..Default::default()
            }),
        }
    );

    // A wrong or malformed code says nothing more than "not found".
    let unknown = preview(&mut c, &"A".repeat(created.code.len())).await;
    let status = assert_refused(unknown, Code::NotFound, "INVITATION_NOT_FOUND");
    assert_eq!(status.message(), "invitation not found");
    for wrong in [
        "abc",
        "../../etc/passwd",
        "' OR 1=1 --",
        &format!("{}x", created.code),
    ] {
        let status = assert_refused(
            preview(&mut c, wrong).await,
            Code::NotFound,
            "INVITATION_NOT_FOUND",
        );
        assert_eq!(status.message(), "invitation not found");
        assert_refused(
            lookup(&mut c, wrong).await,
            Code::NotFound,
            "INVITATION_NOT_FOUND",
        );
    }

    // A preview shows any state.
    revoke(&mut c, &fabrikam.id, &invitation.id)
        .await
        .expect("RevokeInvitation");
    let seen = preview(&mut c, &created.code)
        .await
        .expect("PreviewInvitation");
    assert_eq!(seen.state, State::Revoked as i32);
    sys.stop().await;
}

#[tokio::test]
async fn a_declined_invitation_cannot_be_used_and_a_new_one_must_be_sent() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let other = customer_in(&sys, "annan", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;

    let (created, invitation) = create(&mut c, reseller(&fabrikam.id)).await;
    decline(&mut c, &created.code, &skola.id)
        .await
        .expect("DeclineInvitation");
    let read = get(&mut c, &fabrikam.id, &invitation.id)
        .await
        .expect("GetInvitation");
    assert_eq!(read.state, State::Declined as i32);
    assert_eq!(read.responded_tenant_id, skola.id);
    assert_eq!(read.use_count, 0);
    assert_unusable(
        decline(&mut c, &created.code, &skola.id).await,
        "INVITATION_DECLINED",
    );
    assert_unusable(
        redeem(&mut c.internal, &created.code, &skola.id, &new_id()).await,
        "INVITATION_DECLINED",
    );
    assert_unusable(
        revoke(&mut c, &fabrikam.id, &invitation.id).await,
        "INVITATION_DECLINED",
    );
    assert_eq!(
        lookup(&mut c, &created.code)
            .await
            .expect("LookupInvitation")
            .state,
        State::Declined as i32
    );

    // An invitation for one customer can't be declined (nor used) by another.
    let (created, invitation) = create(
        &mut c,
        delegated(&fabrikam.id, &skola.id, &[Role::UserAdmin]),
    )
    .await;
    assert_refused(
        decline(&mut c, &created.code, &other.id).await,
        Code::FailedPrecondition,
        "INVITATION_FOR_ANOTHER_TENANT",
    );
    assert_refused(
        redeem(&mut c.internal, &created.code, &other.id, &new_id()).await,
        Code::FailedPrecondition,
        "INVITATION_FOR_ANOTHER_TENANT",
    );
    let read = get(&mut c, &fabrikam.id, &invitation.id)
        .await
        .expect("GetInvitation");
    assert_eq!(
        read.state,
        State::Pending as i32,
        "a refused call changes nothing"
    );
    decline(&mut c, &created.code, &skola.id)
        .await
        .expect("the invitee declines");

    // An accepted invitation can't be declined.
    let (created, _) = create(&mut c, reseller(&fabrikam.id)).await;
    redeem(&mut c.internal, &created.code, &skola.id, &new_id())
        .await
        .expect("RedeemInvitation");
    assert_unusable(
        decline(&mut c, &created.code, &skola.id).await,
        "INVITATION_ALREADY_USED",
    );
    sys.stop().await;
}

#[tokio::test]
async fn the_inviter_revokes_an_invitation_not_used_yet() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let contoso = partner_in(&sys, "contoso", "2345678", Cloud::Worldwide).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;

    let (created, invitation) = create(&mut c, reseller(&fabrikam.id)).await;
    assert_refused(
        revoke(&mut c, &contoso.id, &invitation.id).await,
        Code::NotFound,
        "INVITATION_NOT_FOUND",
    );
    let revoked = revoke(&mut c, &fabrikam.id, &invitation.id)
        .await
        .expect("RevokeInvitation");
    assert_eq!(revoked.state, State::Revoked as i32);
    assert_eq!(revoked.id, invitation.id);
    assert_unusable(
        revoke(&mut c, &fabrikam.id, &invitation.id).await,
        "INVITATION_REVOKED",
    );
    assert_unusable(
        redeem(&mut c.internal, &created.code, &skola.id, &new_id()).await,
        "INVITATION_REVOKED",
    );
    assert_unusable(
        decline(&mut c, &created.code, &skola.id).await,
        "INVITATION_REVOKED",
    );
    assert_refused(
        revoke(&mut c, &fabrikam.id, &new_id()).await,
        Code::NotFound,
        "INVITATION_NOT_FOUND",
    );

    let (created, invitation) = create(&mut c, reseller(&fabrikam.id)).await;
    redeem(&mut c.internal, &created.code, &skola.id, &new_id())
        .await
        .expect("RedeemInvitation");
    assert_unusable(
        revoke(&mut c, &fabrikam.id, &invitation.id).await,
        "INVITATION_ALREADY_USED",
    );
    sys.stop().await;
}

#[tokio::test]
async fn an_untouched_invitation_expires_after_90_days_or_its_ttl() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;

    let (ninety, lasting) = create(&mut c, reseller(&fabrikam.id)).await;
    let mut short = request(reseller(&fabrikam.id));
    short.ttl = Some(hours(2));
    let short = try_create(&mut c, short).await.expect("CreateInvitation");
    let brief = short.invitation.clone().expect("invitation");
    assert_eq!(
        seconds(&brief.expire_time) - seconds(&brief.create_time),
        2 * 3600
    );
    assert!(
        short
            .email_draft
            .expect("draft")
            .body
            .contains("can be accepted until")
    );

    sys.clock.advance(Duration::from_secs(3 * 3600));
    let read = get(&mut c, &fabrikam.id, &brief.id)
        .await
        .expect("GetInvitation");
    assert_eq!(read.state, State::Expired as i32);
    assert_eq!(
        listed(&mut c, &fabrikam.id, State::Expired).await,
        [brief.id.as_str()]
    );
    assert_eq!(
        listed(&mut c, &fabrikam.id, State::Pending).await,
        [lasting.id.as_str()]
    );
    assert_eq!(
        preview(&mut c, &short.code)
            .await
            .expect("PreviewInvitation")
            .state,
        State::Expired as i32
    );
    assert_eq!(
        lookup(&mut c, &short.code)
            .await
            .expect("LookupInvitation")
            .state,
        State::Expired as i32
    );
    assert_unusable(
        redeem(&mut c.internal, &short.code, &skola.id, &new_id()).await,
        "INVITATION_EXPIRED",
    );
    assert_unusable(
        decline(&mut c, &short.code, &skola.id).await,
        "INVITATION_EXPIRED",
    );
    assert_unusable(
        revoke(&mut c, &fabrikam.id, &brief.id).await,
        "INVITATION_EXPIRED",
    );

    // The default: 90 days.
    sys.clock.advance(89 * DAY - Duration::from_secs(4 * 3600));
    assert_eq!(
        get(&mut c, &fabrikam.id, &lasting.id)
            .await
            .expect("GetInvitation")
            .state,
        State::Pending as i32,
        "still usable on day 89"
    );
    sys.clock.advance(DAY + Duration::from_secs(2 * 3600));
    assert_eq!(
        get(&mut c, &fabrikam.id, &lasting.id)
            .await
            .expect("GetInvitation")
            .state,
        State::Expired as i32
    );
    assert!(
        listed(&mut c, &fabrikam.id, State::Pending)
            .await
            .is_empty()
    );
    assert_eq!(listed(&mut c, &fabrikam.id, State::Expired).await.len(), 2);
    assert_unusable(
        redeem(&mut c.internal, &ninety.code, &skola.id, &new_id()).await,
        "INVITATION_EXPIRED",
    );
    sys.stop().await;
}

// ---- redeeming ----

#[tokio::test]
async fn a_customer_redeems_an_invitation_once_and_a_retry_succeeds_again() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let other = customer_in(&sys, "annan", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;
    let (created, invitation) = create(&mut c, reseller(&fabrikam.id)).await;

    let looked_up = lookup(&mut c, &created.code)
        .await
        .expect("LookupInvitation");
    assert_eq!(looked_up, invitation);

    let request_id = new_id();
    let redeemed = redeem(&mut c.internal, &created.code, &skola.id, &request_id)
        .await
        .expect("RedeemInvitation");
    assert_eq!(redeemed.id, invitation.id);
    assert_eq!(redeemed.state, State::Accepted as i32);
    assert_eq!(redeemed.use_count, 1);
    assert_eq!(redeemed.responded_tenant_id, skola.id);

    let again = redeem(&mut c.internal, &created.code, &skola.id, &request_id)
        .await
        .expect("a retry with the same request id succeeds again");
    assert_eq!(again, redeemed);
    assert_unusable(
        redeem(&mut c.internal, &created.code, &skola.id, &new_id()).await,
        "INVITATION_ALREADY_USED",
    );
    assert_unusable(
        redeem(&mut c.internal, &created.code, &skola.id, "").await,
        "INVITATION_ALREADY_USED",
    );
    assert_unusable(
        redeem(&mut c.internal, &created.code, &other.id, &new_id()).await,
        "INVITATION_ALREADY_USED",
    );
    let read = get(&mut c, &fabrikam.id, &invitation.id)
        .await
        .expect("GetInvitation");
    assert_eq!(read.state, State::Accepted as i32);
    assert_eq!(read.use_count, 1, "refused redeems count nothing");
    assert_eq!(read.responded_tenant_id, skola.id);
    assert_refused(
        redeem(&mut c.internal, &"B".repeat(43), &skola.id, &new_id()).await,
        Code::NotFound,
        "INVITATION_NOT_FOUND",
    );

    // A delegated admin invitation is redeemed by its invitee.
    let (created, _) = create(
        &mut c,
        delegated(&fabrikam.id, &skola.id, &[Role::UserAdmin]),
    )
    .await;
    let redeemed = redeem(&mut c.internal, &created.code, &skola.id, &new_id())
        .await
        .expect("RedeemInvitation");
    assert_eq!(redeemed.state, State::Accepted as i32);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_customers_redeeming_at_once_exactly_one_wins() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let other = customer_in(&sys, "annan", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;

    for round in 0..8 {
        let (created, invitation) = create(&mut c, reseller(&fabrikam.id)).await;
        let (mut first, mut second) = (c.internal.clone(), c.internal.clone());
        let (one, two) = (new_id(), new_id());
        let (a, b) = tokio::join!(
            redeem(&mut first, &created.code, &skola.id, &one),
            redeem(&mut second, &created.code, &other.id, &two),
        );
        let winners = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(winners, 1, "round {round}: {a:?} {b:?}");
        let (won, lost, winner) = match (a, b) {
            (Ok(won), Err(lost)) => (won, lost, &skola.id),
            (Err(lost), Ok(won)) => (won, lost, &other.id),
            other => panic!("round {round}: {other:?}"),
        };
        assert_eq!(lost.code(), Code::FailedPrecondition, "{lost:?}");
        assert_eq!(reason(&lost), "INVITATION_ALREADY_USED");
        assert_eq!(won.responded_tenant_id, *winner);
        let read = get(&mut c, &fabrikam.id, &invitation.id)
            .await
            .expect("GetInvitation");
        assert_eq!((read.state, read.use_count), (State::Accepted as i32, 1));
        assert_eq!(read.responded_tenant_id, *winner);
    }

    // The same redeem sent twice at once (a client's retry racing the first try): both
    // answer with the accepted invitation.
    let (created, _) = create(&mut c, reseller(&fabrikam.id)).await;
    let request_id = new_id();
    let (mut first, mut second) = (c.internal.clone(), c.internal.clone());
    let (a, b) = tokio::join!(
        redeem(&mut first, &created.code, &skola.id, &request_id),
        redeem(&mut second, &created.code, &skola.id, &request_id),
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(a, b);
    assert_eq!(a.use_count, 1);
    sys.stop().await;
}

// ---- retries of a create ----

#[tokio::test]
async fn a_retried_create_gives_the_same_code_while_the_invitation_is_usable() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;

    let mut req = request(reseller(&fabrikam.id));
    req.request_id = new_id();
    let first = try_create(&mut c, req.clone())
        .await
        .expect("CreateInvitation");
    let retry = try_create(&mut c, req.clone()).await.expect("the retry");
    let invitation = first.invitation.clone().expect("invitation");
    assert_eq!(
        retry.invitation.as_ref().map(|i| &i.id),
        Some(&invitation.id)
    );
    assert_eq!(retry.code, first.code, "the link sent first still holds");
    assert_eq!(retry.url, first.url);
    assert!(retry.email_draft.expect("draft").body.contains(&first.url));
    preview(&mut c, &first.code)
        .await
        .expect("the first code still previews");
    assert_eq!(
        listed(&mut c, &fabrikam.id, State::Unspecified).await,
        [invitation.id.as_str()]
    );

    // The same request id with a different request.
    let mut different = req.clone();
    if let Some(inv) = different.invitation.as_mut() {
        inv.locale = "sv".into();
    }
    let status = assert_refused(
        try_create(&mut c, different).await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    assert_eq!(bad_fields(&status), ["request_id"]);

    // Once used, a retry shows the invitation but no code.
    redeem(&mut c.internal, &first.code, &skola.id, &new_id())
        .await
        .expect("RedeemInvitation");
    let late = try_create(&mut c, req.clone()).await.expect("a late retry");
    assert_eq!(
        late.invitation.as_ref().map(|i| i.state),
        Some(State::Accepted as i32)
    );
    assert_eq!((late.code.as_str(), late.url.as_str()), ("", ""));
    assert_eq!(late.email_draft, None);
    assert_eq!(
        lookup(&mut c, &retry.code)
            .await
            .expect("LookupInvitation")
            .state,
        State::Accepted as i32
    );

    // Two identical creates at once make one invitation.
    let mut twin = request(reseller(&fabrikam.id));
    twin.request_id = new_id();
    let (mut one, mut two) = (c.public.clone(), c.public.clone());
    let (a, b) = tokio::join!(
        one.create_invitation(twin.clone()),
        two.create_invitation(twin)
    );
    let (a, b) = (
        a.expect("first").into_inner(),
        b.expect("second").into_inner(),
    );
    let id = a.invitation.expect("invitation").id;
    assert_eq!(b.invitation.expect("invitation").id, id);
    assert_eq!(
        listed(&mut c, &fabrikam.id, State::Unspecified).await.len(),
        2
    );
    // Both answers carry the one working code.
    assert!(!a.code.is_empty());
    assert_eq!(a.code, b.code);
    assert_eq!(
        lookup(&mut c, &a.code).await.expect("LookupInvitation").id,
        id
    );
    sys.stop().await;
}

// ---- who sees what ----

#[tokio::test]
async fn only_the_inviter_gets_and_lists_its_invitations() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let contoso = partner_in(&sys, "contoso", "2345678", Cloud::Worldwide).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;

    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(create(&mut c, reseller(&fabrikam.id)).await.1.id);
    }
    let (_, asked) = create(
        &mut c,
        delegated(&fabrikam.id, &skola.id, &[Role::UserAdmin]),
    )
    .await;
    let (_, theirs) = create(&mut c, reseller(&contoso.id)).await;
    revoke(&mut c, &fabrikam.id, &ids[1])
        .await
        .expect("RevokeInvitation");

    assert_refused(
        get(&mut c, &contoso.id, &ids[0]).await,
        Code::NotFound,
        "INVITATION_NOT_FOUND",
    );
    assert_refused(
        get(&mut c, &fabrikam.id, &theirs.id).await,
        Code::NotFound,
        "INVITATION_NOT_FOUND",
    );
    assert_eq!(
        listed(&mut c, &contoso.id, State::Unspecified).await,
        [theirs.id.as_str()]
    );
    assert!(
        listed(&mut c, &skola.id, State::Unspecified)
            .await
            .is_empty()
    );

    // Pages, oldest first, with the filters kept in the token.
    let mut all = ids.clone();
    all.push(asked.id.clone());
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(
            &mut c,
            pb::ListInvitationsRequest {
                inviter_tenant_id: fabrikam.id.clone(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("ListInvitations");
        assert!(page.invitations.len() <= 2);
        seen.extend(page.invitations.into_iter().map(|i| i.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, all);
    let first = list(
        &mut c,
        pb::ListInvitationsRequest {
            inviter_tenant_id: fabrikam.id.clone(),
            page_size: 1,
            ..Default::default()
        },
    )
    .await
    .expect("ListInvitations");
    let status = refused(
        list(
            &mut c,
            pb::ListInvitationsRequest {
                inviter_tenant_id: fabrikam.id.clone(),
                page_size: 1,
                page_token: first.next_page_token,
                state: State::Pending as i32,
                ..Default::default()
            },
        )
        .await,
    );
    assert_eq!(bad_fields(&status), ["page_token"]);

    let by_kind = list(
        &mut c,
        pb::ListInvitationsRequest {
            inviter_tenant_id: fabrikam.id.clone(),
            kind: InvitationKind::DelegatedAdmin as i32,
            ..Default::default()
        },
    )
    .await
    .expect("ListInvitations");
    assert_eq!(
        by_kind
            .invitations
            .iter()
            .map(|i| &i.id)
            .collect::<Vec<_>>(),
        [&asked.id]
    );
    assert_eq!(
        listed(&mut c, &fabrikam.id, State::Revoked).await,
        [ids[1].clone()]
    );
    assert_eq!(
        listed(&mut c, &fabrikam.id, State::Pending).await,
        [ids[0].clone(), ids[2].clone(), asked.id.clone()]
    );
    assert!(
        listed(&mut c, &fabrikam.id, State::Accepted)
            .await
            .is_empty()
    );
    sys.stop().await;
}

// ---- storage ----

/// An invitations server of this test's own, on a database the test can open.
struct OwnServer {
    url: String,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    clients: Clients,
}

async fn own_invitations_server(sys: &TestSystem) -> OwnServer {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (url, postgres) = match std::env::var(DATABASE_ENV) {
        Ok(admin) if !admin.is_empty() => {
            let server = admin
                .rsplit_once('/')
                .map(|(s, _)| s)
                .unwrap_or(&admin)
                .to_string();
            let name = format!("ph_{}_invitations", Uuid::new_v4().simple());
            (format!("{server}/{name}"), Some((admin, name)))
        }
        _ => (
            partnerhub_kit::store::sqlite_url(dir.path(), "invitations"),
            None,
        ),
    };
    let db = partnerhub::system::open_database(partnerhub::system::Service::Invitations, &url)
        .await
        .expect("the database opens");
    let settings = partnerhub::system::Settings {
        clock: sys.clock.clone(),
        ..Default::default()
    };
    let peers = partnerhub::system::Peers {
        tenants: sys.service("tenants").await,
        relationships: sys.service("relationships").await,
        subscriptions: sys.service("subscriptions").await,
    };
    let server = partnerhub::system::service_server(
        partnerhub::system::Service::Invitations,
        db,
        &peers,
        &settings,
        &partnerhub::system::SecretKeys {
            internal: sys.internal_key().clone(),
            ..partnerhub::system::SecretKeys::generate()
        },
    );
    let listener = bind("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = server
            .run(listener, Limits::default(), async {
                let _ = stopped.await;
            })
            .await;
    });
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let channel = Peer::new(channel, sys.internal_key().clone());
    OwnServer {
        url,
        dir,
        postgres,
        stop,
        task,
        clients: Clients {
            public: InvitationServiceClient::new(channel.clone()),
            internal: InvitationInternalServiceClient::new(channel),
        },
    }
}

impl OwnServer {
    /// Stops the server (dropping its PostgreSQL database); the data folder stays until the
    /// returned handle is dropped.
    async fn stop(self) -> tempfile::TempDir {
        let _ = self.stop.send(());
        let _ = self.task.await;
        if let Some((admin, name)) = self.postgres {
            let mut conn = sqlx::postgres::PgConnection::connect(&admin)
                .await
                .expect("connect");
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .expect("drop the database");
        }
        self.dir
    }
}

#[tokio::test]
async fn codes_are_never_stored_in_clear() {
    let sys = TestSystem::start().await;
    let fabrikam = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let mut own = own_invitations_server(&sys).await;
    let mut codes = Vec::new();
    let mut retried = request(reseller(&fabrikam.id));
    retried.request_id = new_id();
    for req in [request(reseller(&fabrikam.id)), retried.clone(), retried] {
        codes.push(
            try_create(&mut own.clients, req)
                .await
                .expect("CreateInvitation")
                .code,
        );
    }
    // The retry answered the first code again: derived from the service's key, not read back.
    assert!(!codes[1].is_empty());
    assert_eq!(codes[1], codes[2]);
    let used = codes[0].clone();
    redeem(&mut own.clients.internal, &used, &skola.id, &new_id())
        .await
        .expect("RedeemInvitation");

    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&own.url)
        .await
        .expect("open the database");
    let rows = sqlx::query(
        "SELECT id, kind, inviter_tenant_id, invitee_tenant_id, invitee_email, locale, cloud, \
         delegated_admin_roles, line_items, code_hash, state, responded_tenant_id FROM invitations",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read the invitations");
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let hash: String = row.get("code_hash");
        assert_eq!(hash.len(), 64);
        assert!(hash.chars().all(|ch| ch.is_ascii_hexdigit()), "{hash}");
        for column in 0..row.len() {
            let text: String = row.get(column);
            for code in &codes {
                assert!(!text.contains(code.as_str()), "a code in column {column}");
            }
        }
    }
    conn.close().await.expect("close");
    let dir = own.stop().await;
    // SQLite: not in any byte of the files either (database, WAL).
    for entry in std::fs::read_dir(dir.path()).expect("the data folder") {
        let bytes = std::fs::read(entry.expect("a file").path()).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        for code in &codes {
            assert!(!text.contains(code.as_str()), "a code in the database file");
        }
    }
    sys.stop().await;
}

// ---- advisors' trials and purchase offers (seed 002), partner of record (seed 000) ----

const ADVISOR: &[PartnerType] = &[PartnerType::Advisor];
const CHINA_LINK: &str = "https://admin.partnerhub.example.cn/partner-invitation?code=";

/// The catalogue's offers in `cloud`, straight from the subscriptions service.
async fn offers_in(sys: &TestSystem, cloud: Cloud) -> Vec<sub_pb::Offer> {
    SubscriptionServiceClient::new(sys.service("subscriptions").await)
        .list_offers(sub_pb::ListOffersRequest {
            cloud: cloud as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("ListOffers")
        .into_inner()
        .offers
}

/// The first offer in `cloud` that `fits`.
async fn offer_where(
    sys: &TestSystem,
    cloud: Cloud,
    fits: impl Fn(&sub_pb::Offer) -> bool,
) -> sub_pb::Offer {
    offers_in(sys, cloud)
        .await
        .into_iter()
        .find(|o| fits(o))
        .expect("such an offer in the catalogue")
}

/// A worldwide offer with a trial, and one without.
async fn with_and_without_trial(sys: &TestSystem) -> (sub_pb::Offer, sub_pb::Offer) {
    (
        offer_where(sys, Cloud::Worldwide, |o| {
            o.trial_available && o.min_quantity == 1
        })
        .await,
        offer_where(sys, Cloud::Worldwide, |o| {
            !o.trial_available && o.min_quantity == 1
        })
        .await,
    )
}

fn item(offer_id: &str, quantity: i32) -> LineItem {
    LineItem {
        offer_id: offer_id.into(),
        quantity,
        ..Default::default()
    }
}

/// An advisor's trial link for `quantity` licences of `offer`.
fn trial(inviter: &str, offer: &str, quantity: i32) -> pb::Invitation {
    pb::Invitation {
        kind: InvitationKind::Trial as i32,
        inviter_tenant_id: inviter.into(),
        line_items: vec![item(offer, quantity)],
        ..Default::default()
    }
}

/// An advisor's purchase offer of these offers and licence counts.
fn purchase(inviter: &str, items: &[(&str, i32)]) -> pb::Invitation {
    pb::Invitation {
        kind: InvitationKind::PurchaseOffer as i32,
        inviter_tenant_id: inviter.into(),
        line_items: items.iter().map(|(o, q)| item(o, *q)).collect(),
        ..Default::default()
    }
}

/// A partner of record invitation with the classic delegated admin rights.
fn partner_of_record(inviter: &str) -> pb::Invitation {
    pb::Invitation {
        kind: InvitationKind::PartnerOfRecord as i32,
        inviter_tenant_id: inviter.into(),
        delegated_admin: Some(pb::DelegatedAdminRequest::default()),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_advisor_sends_a_reusable_trial_link_with_a_draft_in_english_or_swedish() {
    let sys = TestSystem::start().await;
    let advisor = partner_of(&sys, "radgivarna", "7777777", Cloud::Worldwide, ADVISOR).await;
    let (offer, _) = with_and_without_trial(&sys).await;
    let mut c = clients(&sys).await;

    let mut asked = trial(&advisor.id, &offer.id, 25);
    asked.invitee_email = "maja@example.com".into();
    asked.delegated_admin = Some(rights(&[Role::HelpdeskAdmin], Some(30), true));
    let (created, invitation) = create(&mut c, asked.clone()).await;
    assert_eq!(invitation.kind, InvitationKind::Trial as i32);
    assert!(invitation.reusable);
    assert_eq!(invitation.use_count, 0);
    assert_eq!(invitation.state, State::Pending as i32);
    assert_eq!(invitation.invitee_tenant_id, "");
    assert_eq!(invitation.line_items, [item(&offer.id, 25)]);
    assert_eq!(
        invitation.delegated_admin,
        Some(rights(&[Role::HelpdeskAdmin], Some(30), true))
    );
    assert_eq!(created.url, format!("{WORLDWIDE_LINK}{}", created.code));
    assert_eq!(
        seconds(&invitation.expire_time) - seconds(&invitation.create_time),
        90 * 86_400
    );

    let en = created.email_draft.expect("draft");
    assert_eq!(
        en.subject,
        format!(
            "radgivarna AB offers you a free trial of {}",
            offer.display_name
        )
    );
    for part in [
        "radgivarna AB (partner ID 7777777)".to_string(),
        format!(
            "free trial of {} for {} days, with 25 licences",
            offer.display_name, offer.trial_days
        ),
        "radgivarna AB also asks for delegated admin rights: Helpdesk (password) administrator"
            .to_string(),
        created.url.clone(),
        "can be accepted until".to_string(),
    ] {
        assert!(en.body.contains(&part), "{part} in {}", en.body);
    }
    assert!(
        en.mailto_url
            .starts_with("mailto:maja@example.com?subject=")
    );

    asked.locale = "sv".into();
    let swedish = try_create(&mut c, request(asked))
        .await
        .expect("CreateInvitation");
    let sv = swedish.email_draft.expect("draft");
    assert_eq!(
        sv.subject,
        format!(
            "radgivarna AB erbjuder er en kostnadsfri utvärdering av {}",
            offer.display_name
        )
    );
    for part in [
        "partner-ID 7777777".to_string(),
        format!("i {} dagar, med 25 licenser", offer.trial_days),
        "abonnemangsrådgivare".to_string(),
        "lösenordsadministratör".to_string(),
        swedish.url.clone(),
        "fram till".to_string(),
    ] {
        assert!(sv.body.contains(&part), "{part} in {}", sv.body);
    }

    // The advisor reads it back; the invitee previews what comes with it.
    let read = get(&mut c, &advisor.id, &invitation.id)
        .await
        .expect("GetInvitation");
    assert_eq!(read, invitation);
    let trials = list(
        &mut c,
        pb::ListInvitationsRequest {
            inviter_tenant_id: advisor.id.clone(),
            kind: InvitationKind::Trial as i32,
            ..Default::default()
        },
    )
    .await
    .expect("ListInvitations")
    .invitations;
    assert_eq!(trials.len(), 2);
    assert!(trials.iter().all(|t| t.reusable && t.line_items.len() == 1));
    let seen = preview(&mut c, &created.code)
        .await
        .expect("PreviewInvitation");
    assert_eq!(seen.kind, InvitationKind::Trial as i32);
    assert_eq!(seen.line_items, [item(&offer.id, 25)]);
    assert_eq!(seen.inviter_mpn_id, "7777777");
    assert_eq!(seen.state, State::Pending as i32);
    sys.stop().await;
}

#[tokio::test]
async fn a_trial_needs_an_advisor_and_one_trial_offer_of_its_cloud() {
    let sys = TestSystem::start().await;
    let advisor = partner_of(&sys, "radgivarna", "7777777", Cloud::Worldwide, ADVISOR).await;
    let provider = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let (offer, no_trial) = with_and_without_trial(&sys).await;
    let german = offer_where(&sys, Cloud::Germany, |o| o.trial_available).await;
    let mut c = clients(&sys).await;
    let id = advisor.id.as_str();

    assert_refused(
        try_create(&mut c, request(trial(&provider.id, &offer.id, 5))).await,
        Code::FailedPrecondition,
        "INVITER_NOT_ADVISOR",
    );
    assert_refused(
        try_create(&mut c, request(trial(&skola.id, &offer.id, 5))).await,
        Code::FailedPrecondition,
        "INVITER_NOT_A_PARTNER",
    );
    let mut named = trial(id, &offer.id, 5);
    named.invitee_tenant_id = skola.id.clone();
    assert_invalid(
        try_create(&mut c, request(named)).await,
        &["invitation.invitee_tenant_id"],
    );
    let mut none = trial(id, &offer.id, 5);
    none.line_items.clear();
    assert_invalid(
        try_create(&mut c, request(none)).await,
        &["invitation.line_items"],
    );
    let mut two = trial(id, &offer.id, 5);
    two.line_items.push(item(&no_trial.id, 5));
    assert_invalid(
        try_create(&mut c, request(two)).await,
        &["invitation.line_items"],
    );
    assert_invalid(
        try_create(&mut c, request(trial(id, "o365-e3", 0))).await,
        &[
            "invitation.line_items[0].offer_id",
            "invitation.line_items[0].quantity",
        ],
    );
    assert_invalid(
        try_create(
            &mut c,
            request(trial(id, &offer.id, offer.max_quantity + 1)),
        )
        .await,
        &["invitation.line_items[0].quantity"],
    );
    // Unknown, in another cloud, without a trial: all on the offer's field.
    assert_invalid(
        try_create(&mut c, request(trial(id, &new_id(), 5))).await,
        &["invitation.line_items[0].offer_id"],
    );
    let status = refused(try_create(&mut c, request(trial(id, &german.id, 5))).await);
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(bad_fields(&status), ["invitation.line_items[0].offer_id"]);
    assert!(status.message().contains("CLOUD_GERMANY"), "{status:?}");
    let status = assert_refused(
        try_create(&mut c, request(trial(id, &no_trial.id, 5))).await,
        Code::FailedPrecondition,
        "OFFER_HAS_NO_TRIAL",
    );
    assert_eq!(
        metadata(&status, "field"),
        "invitation.line_items[0].offer_id"
    );
    assert_eq!(bad_fields(&status), ["invitation.line_items[0].offer_id"]);
    assert!(
        status.message().contains(&no_trial.display_name),
        "{status:?}"
    );
    let mut forever = trial(id, &offer.id, 5);
    forever.delegated_admin = Some(rights(&[Role::GlobalAdmin], Some(30), true));
    assert_invalid(
        try_create(&mut c, request(forever)).await,
        &["invitation.delegated_admin.auto_extend"],
    );
    assert!(listed(&mut c, id, State::Unspecified).await.is_empty());

    // The same trial without delegated admin is fine.
    let (created, _) = create(&mut c, trial(id, &offer.id, 1)).await;
    assert!(
        !created
            .email_draft
            .expect("draft")
            .body
            .contains("delegated admin")
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_purchase_offer_carries_one_to_twenty_offers_within_their_bounds() {
    let sys = TestSystem::start().await;
    let advisor = partner_of(&sys, "radgivarna", "7777777", Cloud::Worldwide, ADVISOR).await;
    let provider = partner_in(&sys, "fabrikam", "1234567", Cloud::Worldwide).await;
    let worldwide = offers_in(&sys, Cloud::Worldwide).await;
    let (first, second) = (&worldwide[0], &worldwide[1]);
    let german = offer_where(&sys, Cloud::Germany, |_| true).await;
    let mut c = clients(&sys).await;
    let id = advisor.id.as_str();

    let mut asked = purchase(id, &[(&first.id, 40), (&second.id, 1)]);
    asked.delegated_admin = Some(pb::DelegatedAdminRequest::default());
    let (created, invitation) = create(&mut c, asked.clone()).await;
    assert_eq!(invitation.kind, InvitationKind::PurchaseOffer as i32);
    assert!(invitation.reusable);
    assert_eq!(
        invitation.line_items,
        [item(&first.id, 40), item(&second.id, 1)]
    );
    let en = created.email_draft.expect("draft");
    assert_eq!(en.subject, "radgivarna AB sends you a purchase offer");
    for part in [
        format!(
            "- {}: 40 licences\n- {}: 1 licence\n",
            first.display_name, second.display_name
        ),
        "change the number of licences".to_string(),
        "Global administrator and Helpdesk (password) administrator".to_string(),
        created.url.clone(),
        "can be accepted until".to_string(),
    ] {
        assert!(en.body.contains(&part), "{part} in {}", en.body);
    }
    asked.locale = "sv".into();
    let swedish = try_create(&mut c, request(asked))
        .await
        .expect("CreateInvitation");
    let sv = swedish.email_draft.expect("draft");
    assert_eq!(
        sv.subject,
        "radgivarna AB skickar ett köperbjudande till er"
    );
    for part in [
        format!(
            "- {}: 40 licenser\n- {}: 1 licens\n",
            first.display_name, second.display_name
        ),
        "ändra antalet licenser".to_string(),
        swedish.url.clone(),
        "fram till".to_string(),
    ] {
        assert!(sv.body.contains(&part), "{part} in {}", sv.body);
    }
    let seen = preview(&mut c, &created.code)
        .await
        .expect("PreviewInvitation");
    assert_eq!(seen.line_items, invitation.line_items);

    // Twenty offers at most (the catalogue need not have twenty: the count is checked first).
    let many: Vec<(String, i32)> = (0..21).map(|_| (new_id(), 1)).collect();
    let many: Vec<(&str, i32)> = many.iter().map(|(o, q)| (o.as_str(), *q)).collect();
    assert_invalid(
        try_create(&mut c, request(purchase(id, &many))).await,
        &["invitation.line_items"],
    );
    assert_invalid(
        try_create(&mut c, request(purchase(id, &[]))).await,
        &["invitation.line_items"],
    );
    assert_invalid(
        try_create(
            &mut c,
            request(purchase(id, &[(&first.id, 1), (&first.id, 2)])),
        )
        .await,
        &["invitation.line_items[1].offer_id"],
    );
    // Every bad line is named at once.
    assert_invalid(
        try_create(
            &mut c,
            request(purchase(
                id,
                &[
                    (&first.id, first.max_quantity + 1),
                    (&new_id(), 1),
                    (&german.id, 1),
                ],
            )),
        )
        .await,
        &[
            "invitation.line_items[0].quantity",
            "invitation.line_items[1].offer_id",
            "invitation.line_items[2].offer_id",
        ],
    );
    if let Some(bounded) = worldwide.iter().find(|o| o.min_quantity > 1) {
        assert_invalid(
            try_create(
                &mut c,
                request(purchase(id, &[(&bounded.id, bounded.min_quantity - 1)])),
            )
            .await,
            &["invitation.line_items[0].quantity"],
        );
    }
    // A purchase offer needs no trial, but an advisor.
    let no_trial = offer_where(&sys, Cloud::Worldwide, |o| !o.trial_available).await;
    create(
        &mut c,
        purchase(id, &[(&no_trial.id, no_trial.min_quantity)]),
    )
    .await;
    assert_refused(
        try_create(&mut c, request(purchase(&provider.id, &[(&first.id, 1)]))).await,
        Code::FailedPrecondition,
        "INVITER_NOT_ADVISOR",
    );
    let mut named = purchase(id, &[(&first.id, 1)]);
    named.invitee_tenant_id = provider.id.clone();
    assert_invalid(
        try_create(&mut c, request(named)).await,
        &["invitation.invitee_tenant_id"],
    );
    assert_eq!(listed(&mut c, id, State::Unspecified).await.len(), 3);
    sys.stop().await;
}

#[tokio::test]
async fn a_trial_link_is_redeemed_by_three_customers_once_each() {
    let sys = TestSystem::start().await;
    let advisor = partner_of(&sys, "radgivarna", "7777777", Cloud::Worldwide, ADVISOR).await;
    let (offer, _) = with_and_without_trial(&sys).await;
    let mut customers = Vec::new();
    for prefix in ["skolaett", "skolatva", "skolatre"] {
        customers.push(customer_in(&sys, prefix, Cloud::Worldwide, true).await);
    }
    let mut c = clients(&sys).await;
    let (created, invitation) = create(&mut c, trial(&advisor.id, &offer.id, 25)).await;

    let mut first_request = String::new();
    for (n, customer) in customers.iter().enumerate() {
        let request_id = new_id();
        let used = redeem(&mut c.internal, &created.code, &customer.id, &request_id)
            .await
            .expect("RedeemInvitation");
        assert_eq!(used.use_count, i32::try_from(n + 1).expect("small"));
        assert_eq!(
            used.state,
            State::Pending as i32,
            "a reusable link stays usable"
        );
        assert_eq!(used.responded_tenant_id, "");
        if n == 0 {
            first_request = request_id;
        }
    }
    let read = get(&mut c, &advisor.id, &invitation.id)
        .await
        .expect("GetInvitation");
    assert_eq!((read.use_count, read.state), (3, State::Pending as i32));
    let listed_one = list(
        &mut c,
        pb::ListInvitationsRequest {
            inviter_tenant_id: advisor.id.clone(),
            state: State::Pending as i32,
            ..Default::default()
        },
    )
    .await
    .expect("ListInvitations")
    .invitations;
    assert_eq!(listed_one.len(), 1);
    assert_eq!(listed_one[0].use_count, 3);

    // The same customer again: refused (it has this trial), unless it is a retry of the same
    // redeem.
    let first = &customers[0].id;
    let status = assert_refused(
        redeem(&mut c.internal, &created.code, first, &new_id()).await,
        Code::FailedPrecondition,
        "TRIAL_ALREADY_TAKEN",
    );
    assert!(status.message().contains("took this trial"), "{status:?}");
    assert_refused(
        redeem(&mut c.internal, &created.code, first, "").await,
        Code::FailedPrecondition,
        "TRIAL_ALREADY_TAKEN",
    );
    let retried = redeem(&mut c.internal, &created.code, first, &first_request)
        .await
        .expect("the retry succeeds again");
    assert_eq!(retried.use_count, 3, "a retry counts no new use");

    // A reusable link can't be declined.
    let fourth = customer_in(&sys, "skolafyra", Cloud::Worldwide, true).await;
    assert_refused(
        decline(&mut c, &created.code, &fourth.id).await,
        Code::FailedPrecondition,
        "INVITATION_REUSABLE",
    );
    // Many customers at once: every one is counted.
    let mut more = Vec::new();
    for prefix in ["skolafem", "skolasex", "skolasju"] {
        more.push(customer_in(&sys, prefix, Cloud::Worldwide, true).await);
    }
    let (mut a, mut b, mut d) = (c.internal.clone(), c.internal.clone(), c.internal.clone());
    let ids = [new_id(), new_id(), new_id()];
    let (one, two, three) = tokio::join!(
        redeem(&mut a, &created.code, &more[0].id, &ids[0]),
        redeem(&mut b, &created.code, &more[1].id, &ids[1]),
        redeem(&mut d, &created.code, &more[2].id, &ids[2]),
    );
    for result in [one, two, three] {
        result.expect("RedeemInvitation");
    }
    // The same customer's redeem sent twice at once: one use, both answer alike.
    let request_id = new_id();
    let (mut a, mut b) = (c.internal.clone(), c.internal.clone());
    let (x, y) = tokio::join!(
        redeem(&mut a, &created.code, &fourth.id, &request_id),
        redeem(&mut b, &created.code, &fourth.id, &request_id),
    );
    let (x, y) = (x.expect("first"), y.expect("second"));
    assert_eq!(x.use_count, 7);
    assert_eq!(x, y);
    assert_eq!(
        get(&mut c, &advisor.id, &invitation.id)
            .await
            .expect("GetInvitation")
            .use_count,
        7
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_revoked_or_expired_reusable_link_serves_nobody() {
    let sys = TestSystem::start().await;
    let advisor = partner_of(&sys, "radgivarna", "7777777", Cloud::Worldwide, ADVISOR).await;
    let (offer, _) = with_and_without_trial(&sys).await;
    let skola = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let annan = customer_in(&sys, "annan", Cloud::Worldwide, true).await;
    let mut c = clients(&sys).await;

    let (link, invitation) = create(&mut c, purchase(&advisor.id, &[(&offer.id, 10)])).await;
    redeem(&mut c.internal, &link.code, &skola.id, &new_id())
        .await
        .expect("RedeemInvitation");
    let revoked = revoke(&mut c, &advisor.id, &invitation.id)
        .await
        .expect("RevokeInvitation");
    assert_eq!(
        (revoked.state, revoked.use_count),
        (State::Revoked as i32, 1)
    );
    assert_unusable(
        redeem(&mut c.internal, &link.code, &annan.id, &new_id()).await,
        "INVITATION_REVOKED",
    );
    assert_unusable(
        revoke(&mut c, &advisor.id, &invitation.id).await,
        "INVITATION_REVOKED",
    );
    assert_eq!(
        preview(&mut c, &link.code)
            .await
            .expect("PreviewInvitation")
            .state,
        State::Revoked as i32
    );

    // A trial link with a short ttl, and one with the default 90 days.
    let mut short = request(trial(&advisor.id, &offer.id, 5));
    short.ttl = Some(hours(2));
    let short = try_create(&mut c, short).await.expect("CreateInvitation");
    let (lasting, lasting_invitation) = create(&mut c, trial(&advisor.id, &offer.id, 5)).await;
    redeem(&mut c.internal, &short.code, &skola.id, &new_id())
        .await
        .expect("RedeemInvitation");
    sys.clock.advance(Duration::from_secs(3 * 3600));
    assert_unusable(
        redeem(&mut c.internal, &short.code, &annan.id, &new_id()).await,
        "INVITATION_EXPIRED",
    );
    let brief = short.invitation.expect("invitation");
    let read = get(&mut c, &advisor.id, &brief.id)
        .await
        .expect("GetInvitation");
    assert_eq!((read.state, read.use_count), (State::Expired as i32, 1));
    assert_unusable(
        revoke(&mut c, &advisor.id, &brief.id).await,
        "INVITATION_EXPIRED",
    );
    redeem(&mut c.internal, &lasting.code, &annan.id, &new_id())
        .await
        .expect("still usable");
    sys.clock.advance(90 * DAY);
    assert_unusable(
        redeem(&mut c.internal, &lasting.code, &skola.id, &new_id()).await,
        "INVITATION_EXPIRED",
    );
    assert_eq!(
        listed(&mut c, &advisor.id, State::Expired).await,
        [brief.id.clone(), lasting_invitation.id.clone()]
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_partner_asks_a_customer_to_authorise_it_as_partner_of_record() {
    let sys = TestSystem::start().await;
    // A subscription advisor asks: its partner ID goes on the subscriptions (seed 000).
    let partner = partner_of(
        &sys,
        "beijingpartner",
        "6666666",
        Cloud::China21vianet,
        &[PartnerType::Advisor],
    )
    .await;
    let customer = customer_in(&sys, "beijingskola", Cloud::China21vianet, true).await;
    let other = customer_in(&sys, "annanskola", Cloud::China21vianet, true).await;
    let worldwide = customer_in(&sys, "skola", Cloud::Worldwide, true).await;
    let china_offer = offer_where(&sys, Cloud::China21vianet, |_| true).await;
    let (worldwide_offer, _) = with_and_without_trial(&sys).await;
    let mut c = clients(&sys).await;
    let id = partner.id.as_str();

    // Delegated admin is required; at most one offer; the invitee must be a customer of the
    // partner's cloud; the offer too.
    let mut bare = partner_of_record(id);
    bare.delegated_admin = None;
    assert_invalid(
        try_create(&mut c, request(bare)).await,
        &["invitation.delegated_admin"],
    );
    let mut two = partner_of_record(id);
    two.line_items = vec![item(&china_offer.id, 1), item(&worldwide_offer.id, 1)];
    assert_invalid(
        try_create(&mut c, request(two)).await,
        &["invitation.line_items"],
    );
    let mut abroad = partner_of_record(id);
    abroad.invitee_tenant_id = worldwide.id.clone();
    assert_refused(
        try_create(&mut c, request(abroad)).await,
        Code::FailedPrecondition,
        "CLOUD_MISMATCH",
    );
    let mut foreign_offer = partner_of_record(id);
    foreign_offer.line_items = vec![item(&worldwide_offer.id, 1)];
    assert_invalid(
        try_create(&mut c, request(foreign_offer)).await,
        &["invitation.line_items[0].offer_id"],
    );
    let mut too_many = partner_of_record(id);
    too_many.line_items = vec![item(&china_offer.id, china_offer.max_quantity + 1)];
    assert_invalid(
        try_create(&mut c, request(too_many)).await,
        &["invitation.line_items[0].quantity"],
    );
    assert!(listed(&mut c, id, State::Unspecified).await.is_empty());

    // With a trial or purchase offer, to a named customer.
    let mut asked = partner_of_record(id);
    asked.invitee_tenant_id = customer.id.clone();
    asked.line_items = vec![item(&china_offer.id, 20)];
    let (created, invitation) = create(&mut c, asked.clone()).await;
    assert_eq!(invitation.kind, InvitationKind::PartnerOfRecord as i32);
    assert!(!invitation.reusable);
    assert_eq!(invitation.cloud, Cloud::China21vianet as i32);
    assert_eq!(invitation.line_items, [item(&china_offer.id, 20)]);
    assert_eq!(invitation.invitee_tenant_id, customer.id);
    assert!(created.url.starts_with(CHINA_LINK), "{}", created.url);
    let en = created.email_draft.expect("draft");
    assert_eq!(
        en.subject,
        "beijingpartner AB asks you to authorise it as partner of record"
    );
    for part in [
        "beijingpartner AB (partner ID 6666666)".to_string(),
        "authorise beijingpartner AB as partner of record for your subscriptions".to_string(),
        "delegated admin".to_string(),
        format!("20 licences of {}", china_offer.display_name),
        "Global administrator and Helpdesk (password) administrator".to_string(),
        created.url.clone(),
        "can be accepted until".to_string(),
    ] {
        assert!(en.body.contains(&part), "{part} in {}", en.body);
    }
    asked.locale = "sv".into();
    let swedish = try_create(&mut c, request(asked))
        .await
        .expect("CreateInvitation");
    let sv = swedish.email_draft.expect("draft");
    assert!(sv.subject.contains("partner för posten"), "{}", sv.subject);
    for part in [
        "auktorisera beijingpartner AB som partner för posten".to_string(),
        "delegerad administratör".to_string(),
        format!("20 licenser av {}", china_offer.display_name),
        swedish.url.clone(),
        "fram till".to_string(),
    ] {
        assert!(sv.body.contains(&part), "{part} in {}", sv.body);
    }
    assert_eq!(
        preview(&mut c, &created.code)
            .await
            .expect("PreviewInvitation")
            .line_items,
        [item(&china_offer.id, 20)]
    );

    // Single-use: the named customer accepts once; anyone else is refused.
    assert_refused(
        redeem(&mut c.internal, &created.code, &other.id, &new_id()).await,
        Code::FailedPrecondition,
        "INVITATION_FOR_ANOTHER_TENANT",
    );
    let used = redeem(&mut c.internal, &created.code, &customer.id, &new_id())
        .await
        .expect("RedeemInvitation");
    assert_eq!(
        (
            used.state,
            used.use_count,
            used.responded_tenant_id.as_str()
        ),
        (State::Accepted as i32, 1, customer.id.as_str())
    );
    assert_unusable(
        redeem(&mut c.internal, &created.code, &customer.id, &new_id()).await,
        "INVITATION_ALREADY_USED",
    );

    // Without an offer and an invitee: open to one customer; only a customer declines it.
    let (open, _) = create(&mut c, partner_of_record(id)).await;
    assert_refused(
        decline(&mut c, &open.code, &partner.id).await,
        Code::FailedPrecondition,
        "NOT_A_CUSTOMER",
    );
    decline(&mut c, &open.code, &other.id)
        .await
        .expect("DeclineInvitation");
    assert_unusable(
        redeem(&mut c.internal, &open.code, &other.id, &new_id()).await,
        "INVITATION_DECLINED",
    );
    sys.stop().await;
}
