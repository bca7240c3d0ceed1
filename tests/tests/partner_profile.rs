//! Seed 002's "verify your company information" and seed 001's "review your partner": a
//! partner's global admin keeps its public profile (phone, e-mail, website besides its name,
//! partner ID, types, country, description and address); its customers see it in the invitation
//! preview and on their partners page, anyone signed in sees it in partner search and "Check
//! ID". Its other users can't change it, and a customer still can't read the partner's users or
//! its private tenant record.

use partnerhub_proto::gateway::AcceptInvitationRequest;
use partnerhub_proto::invitations::{self as inv, Invitation, InvitationKind};
use partnerhub_proto::relationships as rel;
use partnerhub_proto::tenants::{self as pb};
use partnerhub_proto::types::{PartnerType, Role};
use partnerhub_tests::{TestSystem, bad_fields, contact, partner, reason};
use prost_types::FieldMask;
use tonic::{Code, Status};

const DIRECT: &[PartnerType] = &[PartnerType::DirectProvider];
const CONTACT_PATHS: &[&str] = &["partner.phone", "partner.email", "partner.website"];

/// `UpdateTenant` of the partner profile's contact details as the holder of `token`.
async fn set_contact_details(
    sys: &TestSystem,
    token: &str,
    tenant_id: &str,
    (phone, email, website): (&str, &str, &str),
    paths: &[&str],
) -> Result<pb::Tenant, Status> {
    sys.tenants(token)
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                id: tenant_id.into(),
                partner: Some(pb::PartnerProfile {
                    phone: phone.into(),
                    email: email.into(),
                    website: website.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: (!paths.is_empty()).then(|| FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
        })
        .await
        .map(|r| r.into_inner().tenant.expect("tenant"))
}

/// The partner as the operator reads it.
async fn get(sys: &TestSystem, id: &str) -> pb::Tenant {
    sys.tenants(&sys.operator)
        .get_tenant(pb::GetTenantRequest {
            tenant_id: id.into(),
        })
        .await
        .expect("GetTenant")
        .into_inner()
        .tenant
        .expect("tenant")
}

/// Phone, e-mail and website as a public profile shows them.
fn shown(listing: &pb::PartnerListing) -> (&str, &str, &str) {
    (&listing.phone, &listing.email, &listing.website)
}

/// Phone, e-mail and website as the partner's own profile has them.
fn kept(tenant: &pb::Tenant) -> (String, String, String) {
    let p = tenant.partner.clone().expect("a partner profile");
    (p.phone, p.email, p.website)
}

/// The partners `SearchPartners` finds for `query`, as the holder of `token`.
async fn search(sys: &TestSystem, token: &str, query: &str) -> Vec<pb::PartnerListing> {
    sys.tenants(token)
        .search_partners(pb::SearchPartnersRequest {
            query: query.into(),
            ..Default::default()
        })
        .await
        .expect("SearchPartners")
        .into_inner()
        .partners
}

#[track_caller]
fn assert_refused(outcome: Result<impl std::fmt::Debug, Status>, code: Code, why: &str) {
    let status = outcome.expect_err("refused");
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (code, why),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_partners_global_admin_publishes_its_contact_details_and_its_agents_cannot() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys.partner_admin("fabrikam", "1234567", DIRECT).await;
    let (_, erik) = sys
        .user(&admin, &fabrikam.id, "erik", &[Role::AdminAgent])
        .await;
    let (_, sara) = sys
        .user(&admin, &fabrikam.id, "sara", &[Role::SalesAgent])
        .await;
    // Enrolled without public contact details: the profile shows none.
    assert_eq!(kept(&fabrikam), Default::default());

    let updated = set_contact_details(
        &sys,
        &admin,
        &fabrikam.id,
        (
            "+46 8 123 45 67",
            "Kund@Fabrikam.Example",
            "https://fabrikam.example/kontakt",
        ),
        CONTACT_PATHS,
    )
    .await
    .expect("the global admin updates the profile");
    let published = (
        "+46 8 123 45 67".to_string(),
        "kund@fabrikam.example".to_string(),
        "https://fabrikam.example/kontakt".to_string(),
    );
    assert_eq!(kept(&updated), published);
    assert_eq!(kept(&get(&sys, &fabrikam.id).await), published);
    // Only the contact details changed.
    assert_eq!(updated.display_name, fabrikam.display_name);
    assert_eq!(updated.contact, fabrikam.contact);
    let (before, after) = (
        fabrikam.partner.clone().expect("profile"),
        updated.partner.clone().expect("profile"),
    );
    assert_eq!(
        (after.listed, &after.description, &after.keywords),
        (before.listed, &before.description, &before.keywords)
    );

    // The admin agent and the sales agent act for Fabrikam elsewhere, but don't speak for it.
    for agent in [&erik, &sara] {
        assert_refused(
            set_contact_details(
                &sys,
                agent,
                &fabrikam.id,
                ("+46 70 000 00 00", "agent@fabrikam.example", ""),
                &["partner.phone", "partner.email"],
            )
            .await,
            Code::PermissionDenied,
            "ROLE_REQUIRED",
        );
    }
    assert_eq!(kept(&get(&sys, &fabrikam.id).await), published);

    // Anyone signed in finds them in search and by "Check ID": here another partner's admin.
    let (_, contoso) = sys.partner_admin("contoso", "2345678", DIRECT).await;
    let found = search(&sys, &contoso, "fabrikam").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        shown(&found[0]),
        (
            "+46 8 123 45 67",
            "kund@fabrikam.example",
            "https://fabrikam.example/kontakt"
        )
    );
    assert_eq!(found[0].address, fabrikam.address);
    let checked = sys
        .tenants(&contoso)
        .verify_partner_id(pb::VerifyPartnerIdRequest {
            mpn_id: "1234567".into(),
        })
        .await
        .expect("Check ID")
        .into_inner()
        .partner
        .expect("partner");
    assert_eq!(checked, found[0]);

    // An update of the listing alone (no mask) keeps the contact details; an empty value under
    // its own path removes one.
    sys.tenants(&admin)
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                id: fabrikam.id.clone(),
                partner: Some(pb::PartnerProfile {
                    listed: true,
                    description: "Moln för skolor".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .expect("UpdateTenant without a mask");
    let cleared = set_contact_details(&sys, &admin, &fabrikam.id, ("", "", ""), &["partner.phone"])
        .await
        .expect("the phone number is removed");
    assert_eq!(
        kept(&cleared),
        (
            String::new(),
            "kund@fabrikam.example".to_string(),
            "https://fabrikam.example/kontakt".to_string()
        )
    );
    let found = search(&sys, &contoso, "skolor").await;
    assert_eq!(
        shown(&found[0]),
        (
            "",
            "kund@fabrikam.example",
            "https://fabrikam.example/kontakt"
        )
    );
    sys.stop().await;
}

#[tokio::test]
async fn bad_contact_details_are_named_field_by_field_and_change_nothing() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys.partner_admin("fabrikam", "1234567", DIRECT).await;

    let status = set_contact_details(
        &sys,
        &admin,
        &fabrikam.id,
        ("ring oss", "kund@fabrikam", "http://fabrikam.example"),
        CONTACT_PATHS,
    )
    .await
    .expect_err("three bad fields");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        bad_fields(&status),
        [
            "tenant.partner.phone",
            "tenant.partner.email",
            "tenant.partner.website"
        ]
    );

    let too_long = format!("https://fabrikam.example/{}", "a".repeat(300));
    let long_email = format!("{}@fabrikam.example", "a".repeat(65));
    let cases: [((&str, &str, &str), &str); 9] = [
        (("12", "", ""), "tenant.partner.phone"),
        (
            ("+46 8 123 45 67 89 10 11 12 13 14", "", ""),
            "tenant.partner.phone",
        ),
        (
            ("08-123 45 67 eller 08-765", "", ""),
            "tenant.partner.phone",
        ),
        (("", "kund fabrikam.example", ""), "tenant.partner.email"),
        (("", &long_email, ""), "tenant.partner.email"),
        (("", "", "www.fabrikam.example"), "tenant.partner.website"),
        (("", "", "javascript:alert(1)"), "tenant.partner.website"),
        (("", "", "https://fabrikam"), "tenant.partner.website"),
        (("", "", &too_long), "tenant.partner.website"),
    ];
    for (details, field) in cases {
        let status = set_contact_details(&sys, &admin, &fabrikam.id, details, CONTACT_PATHS)
            .await
            .expect_err("a bad field");
        assert_eq!(status.code(), Code::InvalidArgument, "{details:?}");
        assert_eq!(bad_fields(&status), [field], "{details:?}");
    }
    assert_eq!(get(&sys, &fabrikam.id).await, fabrikam, "nothing changed");

    // The operator's enrolment checks them alike.
    let mut contoso = partner("contoso", "2345678", DIRECT);
    let profile = contoso.partner.as_mut().expect("profile");
    profile.website = "contoso.example".into();
    profile.email = "info@contoso.example".into();
    let status = sys
        .tenants(&sys.operator)
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(contoso),
            request_id: String::new(),
        })
        .await
        .expect_err("a bad website");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["partner.partner.website"]);

    // A customer has no partner profile to put them in.
    let (skolan, skolan_admin) = sys.customer_admin("skolan", "SE").await;
    let status = set_contact_details(
        &sys,
        &skolan_admin,
        &skolan.id,
        ("+46 8 765 43 21", "", ""),
        &["partner.phone"],
    )
    .await
    .expect_err("a customer");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["update_mask"]);
    sys.stop().await;
}

#[tokio::test]
async fn a_customer_reviews_its_partners_public_profile_but_not_its_users_or_private_record() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys.partner_admin("fabrikam", "1234567", DIRECT).await;
    let (skolan, maja) = sys.customer_admin("skolan", "SE").await;
    set_contact_details(
        &sys,
        &admin,
        &fabrikam.id,
        (
            "+46 8 123 45 67",
            "kund@fabrikam.example",
            "https://fabrikam.example",
        ),
        CONTACT_PATHS,
    )
    .await
    .expect("UpdateTenant");
    let code = sys
        .invite(
            &admin,
            Invitation {
                kind: InvitationKind::ResellerRelationship as i32,
                inviter_tenant_id: fabrikam.id.clone(),
                invitee_email: "maja@example.com".into(),
                ..Default::default()
            },
        )
        .await
        .code;

    // Before accepting, the customer sees who is asking and how to reach them.
    let preview = sys
        .invitations(&maja)
        .preview_invitation(inv::PreviewInvitationRequest { code: code.clone() })
        .await
        .expect("PreviewInvitation")
        .into_inner()
        .preview
        .expect("preview");
    let inviter = preview.inviter.expect("the inviter's public profile");
    assert_eq!(
        shown(&inviter),
        (
            "+46 8 123 45 67",
            "kund@fabrikam.example",
            "https://fabrikam.example"
        )
    );
    assert_eq!(
        (
            inviter.tenant_id.as_str(),
            inviter.display_name.as_str(),
            inviter.mpn_id.as_str(),
            inviter.country_code.as_str(),
            inviter.description.as_str(),
        ),
        (
            fabrikam.id.as_str(),
            "fabrikam AB",
            "1234567",
            "SE",
            "fabrikam sells cloud services"
        )
    );
    assert_eq!(inviter.partner_types, [PartnerType::DirectProvider as i32]);
    assert_eq!(inviter.address, fabrikam.address);

    sys.workflows(&maja)
        .accept_invitation(AcceptInvitationRequest {
            code,
            tenant_id: skolan.id.clone(),
            agreement_signer: Some(contact("Maja", "Ek")),
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .expect("AcceptInvitation");

    // The partners page shows the profile as the partner keeps it now, not as it was sent.
    set_contact_details(
        &sys,
        &admin,
        &fabrikam.id,
        ("+46 8 555 00 00", "", ""),
        &["partner.phone"],
    )
    .await
    .expect("UpdateTenant");
    let page = sys
        .relationships(&maja)
        .list_partners_of_customer(rel::ListPartnersOfCustomerRequest {
            customer_tenant_id: skolan.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListPartnersOfCustomer")
        .into_inner()
        .partners;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].partner_display_name, "fabrikam AB");
    let listing = page[0]
        .partner
        .clone()
        .expect("the partner's public profile");
    assert_eq!(
        shown(&listing),
        (
            "+46 8 555 00 00",
            "kund@fabrikam.example",
            "https://fabrikam.example"
        )
    );
    assert_eq!(listing.mpn_id, "1234567");
    assert_eq!(listing, inviter_now(&sys, &maja).await);

    // The customer's global admin still can't read the partner's users or its tenant record
    // (its contact person, state, etag).
    assert_refused(
        sys.tenants(&maja)
            .list_users(pb::ListUsersRequest {
                tenant_id: fabrikam.id.clone(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "NO_ACCESS_TO_TENANT",
    );
    let fabrikam_admin = sys
        .tenants(&admin)
        .list_users(pb::ListUsersRequest {
            tenant_id: fabrikam.id.clone(),
            ..Default::default()
        })
        .await
        .expect("the partner lists its own users")
        .into_inner()
        .users
        .remove(0);
    assert_refused(
        sys.tenants(&maja)
            .get_user(pb::GetUserRequest {
                tenant_id: fabrikam.id.clone(),
                user_id: fabrikam_admin.id,
            })
            .await,
        Code::PermissionDenied,
        "NO_ACCESS_TO_TENANT",
    );
    assert_refused(
        sys.tenants(&maja)
            .get_tenant(pb::GetTenantRequest {
                tenant_id: fabrikam.id.clone(),
            })
            .await,
        Code::PermissionDenied,
        "NO_ACCESS_TO_TENANT",
    );
    // Nor change the partner's profile.
    assert_refused(
        set_contact_details(
            &sys,
            &maja,
            &fabrikam.id,
            ("+46 8 000 00 00", "", ""),
            &["partner.phone"],
        )
        .await,
        Code::PermissionDenied,
        "NO_ACCESS_TO_TENANT",
    );
    sys.stop().await;
}

/// Fabrikam's public profile as "Check ID" shows it to the holder of `token` now.
async fn inviter_now(sys: &TestSystem, token: &str) -> pb::PartnerListing {
    sys.tenants(token)
        .verify_partner_id(pb::VerifyPartnerIdRequest {
            mpn_id: "1234567".into(),
        })
        .await
        .expect("Check ID")
        .into_inner()
        .partner
        .expect("partner")
}
