//! Partners: enrolment and its checks, partner IDs and domain prefixes that belong to one
//! tenant only, retries with a request id, "Check ID", partner search, the operator's list of
//! tenants and the partner's own profile updates.

use partnerhub_proto::tenants::tenant::{Kind, State};
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::{self as pb};
use partnerhub_proto::types::{self, Cloud, PartnerType};
use partnerhub_tests::{NEW_PASSWORD, TestSystem, bad_fields, customer, partner, reason};
use prost_types::FieldMask;
use std::collections::HashSet;
use tonic::{Code, Status};
use uuid::Uuid;

const DIRECT: &[PartnerType] = &[PartnerType::DirectProvider];

/// One change that spoils a good enrolment.
type Change = fn(&mut pb::Tenant);

// ---- helpers ----

/// The operator's `CreatePartner`.
async fn enrol(
    sys: &TestSystem,
    partner: pb::Tenant,
    request_id: &str,
) -> Result<pb::CreatePartnerResponse, Status> {
    sys.tenants(&sys.operator)
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(partner),
            request_id: request_id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Enrols `partner` and signs its admin in (with the password changed); returns the tenant and
/// the admin's token.
async fn enrol_signed_in(sys: &TestSystem, partner: pb::Tenant) -> (pb::Tenant, String) {
    let enrolled = enrol(sys, partner, "").await.expect("CreatePartner");
    let admin = enrolled.admin_user.expect("admin");
    let token = sys
        .activate_user(&admin.user_name, &enrolled.temporary_password)
        .await;
    (enrolled.partner.expect("partner"), token)
}

/// A partner to enrol, changed by `change`.
fn with(mut tenant: pb::Tenant, change: impl FnOnce(&mut pb::Tenant)) -> pb::Tenant {
    change(&mut tenant);
    tenant
}

/// The partner profile of a tenant being built.
fn profile(tenant: &mut pb::Tenant) -> &mut pb::PartnerProfile {
    tenant.partner.as_mut().expect("a partner profile")
}

/// The operator's `ListTenants`.
async fn list(
    sys: &TestSystem,
    request: pb::ListTenantsRequest,
) -> Result<pb::ListTenantsResponse, Status> {
    sys.tenants(&sys.operator)
        .list_tenants(request)
        .await
        .map(tonic::Response::into_inner)
}

/// The ids of the tenants the operator lists with these filters (one large page).
async fn listed_ids(sys: &TestSystem, request: pb::ListTenantsRequest) -> Vec<String> {
    let page = list(
        sys,
        pb::ListTenantsRequest {
            page_size: 1000,
            ..request
        },
    )
    .await
    .expect("ListTenants");
    assert!(page.next_page_token.is_empty());
    page.tenants.into_iter().map(|t| t.id).collect()
}

/// Every active tenant, as the operator lists them.
async fn all_tenants(sys: &TestSystem) -> Vec<pb::Tenant> {
    list(
        sys,
        pb::ListTenantsRequest {
            page_size: 1000,
            ..Default::default()
        },
    )
    .await
    .expect("ListTenants")
    .tenants
}

/// `SearchPartners` as the holder of `token`.
async fn search_partners(
    sys: &TestSystem,
    token: &str,
    request: pb::SearchPartnersRequest,
) -> Result<pb::SearchPartnersResponse, Status> {
    sys.tenants(token)
        .search_partners(request)
        .await
        .map(tonic::Response::into_inner)
}

/// The names of the partners a search finds (one large page).
async fn found(sys: &TestSystem, token: &str, request: pb::SearchPartnersRequest) -> Vec<String> {
    let answer = search_partners(
        sys,
        token,
        pb::SearchPartnersRequest {
            page_size: 1000,
            ..request
        },
    )
    .await
    .expect("SearchPartners");
    answer
        .partners
        .into_iter()
        .map(|p| p.display_name)
        .collect()
}

/// The names of the partners a search for `query` finds.
async fn found_by_query(sys: &TestSystem, token: &str, query: &str) -> Vec<String> {
    found(
        sys,
        token,
        pb::SearchPartnersRequest {
            query: query.into(),
            ..Default::default()
        },
    )
    .await
}

/// `VerifyPartnerId` as the holder of `token`.
async fn verify(sys: &TestSystem, token: &str, mpn_id: &str) -> Result<pb::PartnerListing, Status> {
    sys.tenants(token)
        .verify_partner_id(pb::VerifyPartnerIdRequest {
            mpn_id: mpn_id.into(),
        })
        .await
        .map(|r| r.into_inner().partner.expect("partner"))
}

/// `UpdateTenant` as the holder of `token`.
async fn update(
    sys: &TestSystem,
    token: &str,
    tenant: pb::Tenant,
    paths: &[&str],
) -> Result<pb::Tenant, Status> {
    sys.tenants(token)
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(tenant),
            update_mask: (!paths.is_empty()).then(|| FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
        })
        .await
        .map(|r| r.into_inner().tenant.expect("tenant"))
}

/// The tenant as the operator reads it.
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

/// INVALID_ARGUMENT naming exactly `fields`.
#[track_caller]
fn assert_bad_fields(status: &Status, fields: &[&str]) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(bad_fields(status), fields, "{status:?}");
}

/// Refused with this code and `ErrorInfo.reason`.
#[track_caller]
fn assert_refused(status: &Status, code: Code, why: &str) {
    assert_eq!(
        (status.code(), reason(status).as_str()),
        (code, why),
        "{status:?}"
    );
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

// ---- enrolment ----

#[tokio::test]
async fn an_empty_enrolment_names_every_missing_field() {
    let sys = TestSystem::start().await;
    let status = sys
        .tenants(&sys.operator)
        .create_partner(pb::CreatePartnerRequest::default())
        .await
        .expect_err("no partner");
    assert_bad_fields(&status, &["partner"]);

    let status = enrol(&sys, pb::Tenant::default(), "")
        .await
        .expect_err("an empty partner");
    let mut fields = bad_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "partner.address",
            "partner.cloud",
            "partner.contact",
            "partner.country_code",
            "partner.display_name",
            "partner.domain_prefix",
            "partner.partner",
        ]
    );
    assert!(all_tenants(&sys).await.is_empty());
    sys.stop().await;
}

#[tokio::test]
async fn a_garbage_enrolment_names_every_bad_field_at_once() {
    let sys = TestSystem::start().await;
    let garbage = pb::Tenant {
        display_name: "   ".into(),
        cloud: 99,
        country_code: "se".into(),
        domain_prefix: "Fabrikam-AB".into(),
        address: None,
        contact: Some(types::Contact {
            first_name: "Ann".into(),
            last_name: "Berg".into(),
            email: String::new(),
            phone: String::new(),
        }),
        partner: Some(pb::PartnerProfile {
            mpn_id: "12345".into(),
            partner_types: vec![99],
            ..Default::default()
        }),
        ..Default::default()
    };
    let status = enrol(&sys, garbage, "not-a-uuid")
        .await
        .expect_err("garbage");
    assert_eq!(reason(&status), "INVALID_ARGUMENT");
    let mut fields = bad_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "partner.address",
            "partner.cloud",
            "partner.contact.email",
            "partner.country_code",
            "partner.display_name",
            "partner.domain_prefix",
            "partner.partner.mpn_id",
            "partner.partner.partner_types[0]",
            "request_id",
        ]
    );
    assert!(all_tenants(&sys).await.is_empty());
    sys.stop().await;
}

#[tokio::test]
async fn each_bad_field_of_an_enrolment_is_named_and_nothing_is_created() {
    let sys = TestSystem::start().await;
    let cases: &[(&str, Change, &str)] = &[
        (
            "lower-case country",
            |t| t.country_code = "se".into(),
            "partner.country_code",
        ),
        (
            "unknown country",
            |t| t.country_code = "XX".into(),
            "partner.country_code",
        ),
        (
            "no country",
            |t| t.country_code = String::new(),
            "partner.country_code",
        ),
        (
            "blank name",
            |t| t.display_name = "  ".into(),
            "partner.display_name",
        ),
        (
            "no cloud",
            |t| t.cloud = Cloud::Unspecified as i32,
            "partner.cloud",
        ),
        ("unknown cloud", |t| t.cloud = 42, "partner.cloud"),
        (
            "short prefix",
            |t| t.domain_prefix = "ab".into(),
            "partner.domain_prefix",
        ),
        (
            "upper-case prefix",
            |t| t.domain_prefix = "Fabrikam".into(),
            "partner.domain_prefix",
        ),
        (
            "prefix starts with a digit",
            |t| t.domain_prefix = "2fabrikam".into(),
            "partner.domain_prefix",
        ),
        (
            "prefix with a dash",
            |t| t.domain_prefix = "fab-rikam".into(),
            "partner.domain_prefix",
        ),
        (
            "long prefix",
            |t| t.domain_prefix = "a".repeat(28),
            "partner.domain_prefix",
        ),
        (
            "five-digit MPN ID",
            |t| profile(t).mpn_id = "12345".into(),
            "partner.partner.mpn_id",
        ),
        (
            "nine-digit MPN ID",
            |t| profile(t).mpn_id = "123456789".into(),
            "partner.partner.mpn_id",
        ),
        (
            "MPN ID starting with 0",
            |t| profile(t).mpn_id = "0123456".into(),
            "partner.partner.mpn_id",
        ),
        (
            "MPN ID with letters",
            |t| profile(t).mpn_id = "12a4567".into(),
            "partner.partner.mpn_id",
        ),
        (
            "no MPN ID",
            |t| profile(t).mpn_id = String::new(),
            "partner.partner.mpn_id",
        ),
        (
            "no partner type",
            |t| profile(t).partner_types.clear(),
            "partner.partner.partner_types",
        ),
        (
            "unknown partner type",
            |t| profile(t).partner_types = vec![99],
            "partner.partner.partner_types[0]",
        ),
        (
            "unspecified partner type",
            |t| profile(t).partner_types = vec![PartnerType::Advisor as i32, 0],
            "partner.partner.partner_types[1]",
        ),
        (
            "no partner profile",
            |t| t.partner = None,
            "partner.partner",
        ),
        ("no contact", |t| t.contact = None, "partner.contact"),
        (
            "no contact e-mail",
            |t| t.contact.as_mut().expect("contact").email = String::new(),
            "partner.contact.email",
        ),
        (
            "contact e-mail without a domain",
            |t| t.contact.as_mut().expect("contact").email = "ann".into(),
            "partner.contact.email",
        ),
        ("no address", |t| t.address = None, "partner.address"),
    ];
    for (what, change, field) in cases {
        let request = with(partner("fabrikam", "1234567", DIRECT), change);
        let status = enrol(&sys, request, &Uuid::new_v4().to_string())
            .await
            .expect_err(what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert_eq!(bad_fields(&status), [*field], "{what}");
    }
    assert!(
        all_tenants(&sys).await.is_empty(),
        "a failed call created a tenant"
    );

    // Nothing was reserved by the failures: the good request goes through.
    let created = enrol(&sys, partner("fabrikam", "1234567", DIRECT), "")
        .await
        .expect("CreatePartner");
    let tenant = created.partner.expect("partner");
    assert_eq!(tenant.kind, Kind::Partner as i32);
    assert_eq!(tenant.state, State::Active as i32);
    assert_eq!(tenant.primary_domain, "fabrikam.onpartnerhub.com");
    let ids: Vec<String> = all_tenants(&sys).await.into_iter().map(|t| t.id).collect();
    assert_eq!(ids, [tenant.id]);
    sys.stop().await;
}

#[tokio::test]
async fn a_partner_id_belongs_to_one_partner_only() {
    let sys = TestSystem::start().await;
    let fabrikam = sys.create_partner("fabrikam", "1234567", DIRECT).await;
    let status = enrol(&sys, partner("contoso", "1234567", DIRECT), "")
        .await
        .expect_err("the partner ID is taken");
    assert_refused(&status, Code::AlreadyExists, "MPN_ID_TAKEN");
    let ids: Vec<String> = all_tenants(&sys).await.into_iter().map(|t| t.id).collect();
    assert_eq!(ids, [fabrikam.tenant.id.as_str()]);

    // The refused partner enrols with its own ID; "Check ID" still finds the first holder.
    let contoso = sys.create_partner("contoso", "2345678", DIRECT).await;
    assert_eq!(all_tenants(&sys).await.len(), 2);
    let holder = verify(&sys, &sys.operator, "1234567").await.expect("found");
    assert_eq!(holder.tenant_id, fabrikam.tenant.id);
    assert_ne!(holder.tenant_id, contoso.tenant.id);
    sys.stop().await;
}

#[tokio::test]
async fn a_domain_prefix_belongs_to_one_tenant_only() {
    let sys = TestSystem::start().await;
    sys.create_partner("fabrikam", "1234567", DIRECT).await;
    let status = enrol(&sys, partner("fabrikam", "2345678", DIRECT), "")
        .await
        .expect_err("the prefix is taken");
    assert_refused(&status, Code::AlreadyExists, "DOMAIN_PREFIX_TAKEN");
    assert_eq!(all_tenants(&sys).await.len(), 1);
    // The refused partner's ID was not used up.
    let status = verify(&sys, &sys.operator, "2345678")
        .await
        .expect_err("not enrolled");
    assert_refused(&status, Code::NotFound, "PARTNER_ID_NOT_FOUND");
    sys.create_partner("fabrikam2", "2345678", DIRECT).await;
    assert_eq!(all_tenants(&sys).await.len(), 2);
    sys.stop().await;
}

#[tokio::test]
async fn retrying_an_enrolment_with_its_request_id_returns_the_same_partner() {
    let sys = TestSystem::start().await;
    let request_id = Uuid::new_v4().to_string();
    let request = partner("fabrikam", "1234567", DIRECT);
    let first = enrol(&sys, request.clone(), &request_id)
        .await
        .expect("CreatePartner");
    let retry = enrol(&sys, request.clone(), &request_id)
        .await
        .expect("the retry");
    let tenant = first.partner.expect("partner");
    let admin = first.admin_user.expect("admin");
    assert_eq!(retry.partner.expect("partner").id, tenant.id);
    assert_eq!(retry.admin_user.expect("admin").id, admin.id);
    let ids: Vec<String> = all_tenants(&sys).await.into_iter().map(|t| t.id).collect();
    assert_eq!(ids, [tenant.id.as_str()], "the retry created nothing");

    // The retry answers the password the first answer gave (derived again, never stored in
    // clear), and it works.
    assert!(!retry.temporary_password.is_empty());
    assert_eq!(retry.temporary_password, first.temporary_password);
    let token = sys
        .activate_user(&admin.user_name, &first.temporary_password)
        .await;
    assert!(!token.is_empty());

    // Once the admin has chosen a password, a late retry doesn't reset it.
    let late = enrol(&sys, request, &request_id).await.expect("late retry");
    assert_eq!(late.partner.expect("partner").id, tenant.id);
    assert!(late.temporary_password.is_empty());
    assert!(!late.admin_user.expect("admin").password_change_required);
    let signed_in = sys
        .sign_in(&admin.user_name, NEW_PASSWORD)
        .await
        .expect("the chosen password still works");
    assert!(!signed_in.password_change_required);
    assert_eq!(all_tenants(&sys).await.len(), 1);
    sys.stop().await;
}

#[tokio::test]
async fn two_identical_enrolments_sent_at_once_make_one_partner() {
    let sys = TestSystem::start().await;
    let request_id = Uuid::new_v4().to_string();
    let request = partner("fabrikam", "1234567", DIRECT);
    let (a, b) = tokio::join!(
        enrol(&sys, request.clone(), &request_id),
        enrol(&sys, request.clone(), &request_id),
    );
    let (a, b) = (a.expect("first twin"), b.expect("second twin"));
    let id = a.partner.expect("partner").id;
    assert_eq!(b.partner.expect("partner").id, id);
    let ids: Vec<String> = all_tenants(&sys).await.into_iter().map(|t| t.id).collect();
    assert_eq!(ids, [id.as_str()]);
    // Both answers give the same temporary password, and it works.
    let user_name = a.admin_user.expect("admin").user_name;
    assert!(!a.temporary_password.is_empty());
    assert_eq!(a.temporary_password, b.temporary_password);
    sys.sign_in(&user_name, &a.temporary_password)
        .await
        .expect("the one password works");
    sys.stop().await;
}

#[tokio::test]
async fn two_partners_racing_for_one_partner_id_one_wins_the_other_is_told_why() {
    let sys = TestSystem::start().await;
    let (a, b) = tokio::join!(
        enrol(&sys, partner("fabrikam", "1234567", DIRECT), ""),
        enrol(&sys, partner("contoso", "1234567", DIRECT), ""),
    );
    let (winner, status) = match (a, b) {
        (Ok(winner), Err(status)) | (Err(status), Ok(winner)) => (winner, status),
        (a, b) => panic!("expected one winner: {a:?} {b:?}"),
    };
    assert_refused(&status, Code::AlreadyExists, "MPN_ID_TAKEN");
    let ids: Vec<String> = all_tenants(&sys).await.into_iter().map(|t| t.id).collect();
    assert_eq!(ids, [winner.partner.expect("partner").id.as_str()]);
    sys.stop().await;
}

#[tokio::test]
async fn a_request_id_reused_for_another_enrolment_is_refused() {
    let sys = TestSystem::start().await;
    let request_id = Uuid::new_v4().to_string();
    let first = enrol(&sys, partner("fabrikam", "1234567", DIRECT), &request_id)
        .await
        .expect("CreatePartner");

    let other_partner = partner("contoso", "2345678", DIRECT);
    let changed_retry = with(partner("fabrikam", "1234567", DIRECT), |t| {
        t.display_name = "Fabrikam Nordic AB".into();
    });
    for request in [other_partner, changed_retry] {
        let status = enrol(&sys, request, &request_id)
            .await
            .expect_err("reused request id");
        assert_refused(&status, Code::InvalidArgument, "REQUEST_ID_REUSED");
        assert_eq!(bad_fields(&status), ["request_id"]);
    }
    let tenants = all_tenants(&sys).await;
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].id, first.partner.expect("partner").id);
    assert_eq!(tenants[0].display_name, "fabrikam AB");
    sys.stop().await;
}

#[tokio::test]
async fn a_request_id_must_be_a_uuid() {
    let sys = TestSystem::start().await;
    for bad in ["12345", "not-a-uuid", "{fabrikam}"] {
        let status = enrol(&sys, partner("fabrikam", "1234567", DIRECT), bad)
            .await
            .expect_err(bad);
        assert_bad_fields(&status, &["request_id"]);
    }
    assert!(all_tenants(&sys).await.is_empty());
    sys.stop().await;
}

#[tokio::test]
async fn only_the_operator_enrols_partners_and_lists_tenants() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys.partner_admin("fabrikam", "1234567", DIRECT).await;
    let status = sys
        .tenants(&admin)
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(partner("contoso", "2345678", DIRECT)),
            request_id: String::new(),
        })
        .await
        .expect_err("a partner admin enrols");
    assert_refused(&status, Code::PermissionDenied, "OPERATOR_ONLY");
    let status = sys
        .tenants(&admin)
        .list_tenants(pb::ListTenantsRequest::default())
        .await
        .expect_err("a partner admin lists tenants");
    assert_refused(&status, Code::PermissionDenied, "OPERATOR_ONLY");

    let ids: Vec<String> = all_tenants(&sys).await.into_iter().map(|t| t.id).collect();
    assert_eq!(ids, [fabrikam.id]);
    let status = verify(&sys, &admin, "2345678")
        .await
        .expect_err("not enrolled");
    assert_eq!(status.code(), Code::NotFound);
    sys.stop().await;
}

// ---- "Check ID" ----

#[tokio::test]
async fn any_signed_in_user_finds_a_partner_by_its_partner_id() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys.partner_admin("fabrikam", "1234567", DIRECT).await;
    let contoso = enrol(
        &sys,
        with(
            partner(
                "contoso",
                "2345678",
                &[PartnerType::IndirectReseller, PartnerType::Advisor],
            ),
            |t| {
                t.country_code = "NO".into();
                // Not in search, but its partner ID can still be checked.
                profile(t).listed = false;
            },
        ),
        "",
    )
    .await
    .expect("CreatePartner")
    .partner
    .expect("partner");

    // Another partner's admin checks the ID.
    let listing = verify(&sys, &admin, "2345678").await.expect("found");
    assert_eq!(listing.tenant_id, contoso.id);
    assert_eq!(listing.display_name, "contoso AB");
    assert_eq!(listing.mpn_id, "2345678");
    assert_eq!(
        listing.partner_types,
        [
            PartnerType::IndirectReseller as i32,
            PartnerType::Advisor as i32
        ]
    );
    assert_eq!(listing.country_code, "NO");
    assert_eq!(listing.cloud, Cloud::Worldwide as i32);
    assert_eq!(listing.description, "contoso sells cloud services");

    // Its own ID, and the operator too.
    assert_eq!(
        verify(&sys, &admin, "1234567")
            .await
            .expect("own")
            .tenant_id,
        fabrikam.id
    );
    assert_eq!(
        verify(&sys, &sys.operator, "2345678")
            .await
            .expect("operator")
            .tenant_id,
        contoso.id
    );
    sys.stop().await;
}

#[tokio::test]
async fn checking_an_unknown_or_malformed_partner_id_says_which() {
    let sys = TestSystem::start().await;
    let (_, admin) = sys.partner_admin("fabrikam", "1234567", DIRECT).await;
    let status = verify(&sys, &admin, "7654321")
        .await
        .expect_err("nobody holds it");
    assert_refused(&status, Code::NotFound, "PARTNER_ID_NOT_FOUND");
    for bad in ["", "12345", "123456789", "0123456", "12a4567", "abcdefg"] {
        let status = verify(&sys, &admin, bad).await.expect_err(bad);
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}");
        assert_eq!(bad_fields(&status), ["mpn_id"], "{bad:?}");
    }
    sys.stop().await;
}

// ---- search ----

#[tokio::test]
async fn only_partners_that_chose_to_be_listed_appear_in_search() {
    let sys = TestSystem::start().await;
    let (_, searcher) = enrol_signed_in(
        &sys,
        with(partner("northwind", "3456789", DIRECT), |t| {
            profile(t).listed = false
        }),
    )
    .await;
    sys.create_partner("fabrikam", "1234567", DIRECT).await;
    enrol(
        &sys,
        with(partner("contoso", "2345678", DIRECT), |t| {
            profile(t).listed = false
        }),
        "",
    )
    .await
    .expect("CreatePartner");
    sys.create_partner("tailspin", "4567890", DIRECT).await;

    assert_eq!(
        found(&sys, &searcher, Default::default()).await,
        names(&["fabrikam AB", "tailspin AB"])
    );
    assert!(found_by_query(&sys, &searcher, "contoso").await.is_empty());
    assert!(
        found_by_query(&sys, &searcher, "northwind")
            .await
            .is_empty()
    );
    sys.stop().await;
}

#[tokio::test]
async fn partners_are_found_by_country_type_and_cloud() {
    let sys = TestSystem::start().await;
    let (_, searcher) = enrol_signed_in(
        &sys,
        with(partner("northwind", "3456789", DIRECT), |t| {
            profile(t).listed = false
        }),
    )
    .await;
    sys.create_partner("fabrikam", "1234567", DIRECT).await;
    enrol(
        &sys,
        with(
            partner("contoso", "2345678", &[PartnerType::IndirectReseller]),
            |t| t.country_code = "NO".into(),
        ),
        "",
    )
    .await
    .expect("CreatePartner");
    enrol(
        &sys,
        with(
            partner(
                "tailspin",
                "4567890",
                &[PartnerType::IndirectProvider, PartnerType::IndirectReseller],
            ),
            |t| t.cloud = Cloud::Germany as i32,
        ),
        "",
    )
    .await
    .expect("CreatePartner");

    let by = |country: &str, partner_type: PartnerType, cloud: Cloud| pb::SearchPartnersRequest {
        country_code: country.into(),
        partner_type: partner_type as i32,
        cloud: cloud as i32,
        ..Default::default()
    };
    let any_type = PartnerType::Unspecified;
    let any_cloud = Cloud::Unspecified;
    let cases = [
        (
            by("SE", any_type, any_cloud),
            &["fabrikam AB", "tailspin AB"][..],
        ),
        (by("NO", any_type, any_cloud), &["contoso AB"]),
        (by("DK", any_type, any_cloud), &[]),
        (
            by("", PartnerType::IndirectReseller, any_cloud),
            &["contoso AB", "tailspin AB"],
        ),
        (
            by("SE", PartnerType::IndirectReseller, any_cloud),
            &["tailspin AB"],
        ),
        (
            by("", PartnerType::DirectProvider, any_cloud),
            &["fabrikam AB"],
        ),
        (by("", PartnerType::Advisor, any_cloud), &[]),
        (by("", any_type, Cloud::Germany), &["tailspin AB"]),
        (
            by("", any_type, Cloud::Worldwide),
            &["fabrikam AB", "contoso AB"],
        ),
    ];
    for (request, expected) in cases {
        let what = format!("{request:?}");
        assert_eq!(
            found(&sys, &searcher, request).await,
            names(expected),
            "{what}"
        );
    }

    let status = search_partners(
        &sys,
        &searcher,
        pb::SearchPartnersRequest {
            country_code: "se".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("lower-case country");
    assert_bad_fields(&status, &["country_code"]);
    sys.stop().await;
}

#[tokio::test]
async fn every_search_word_must_appear_in_the_name_description_or_keywords_in_any_case() {
    let sys = TestSystem::start().await;
    let (_, searcher) = enrol_signed_in(
        &sys,
        with(partner("northwind", "3456789", DIRECT), |t| {
            profile(t).listed = false
        }),
    )
    .await;
    enrol(
        &sys,
        with(partner("fabrikam", "1234567", DIRECT), |t| {
            t.display_name = "Fabrikam AB".into();
            profile(t).description = "Cloud backup for Schools".into();
            profile(t).keywords = vec!["Education".into(), "Microsoft 365".into()];
        }),
        "",
    )
    .await
    .expect("CreatePartner");
    enrol(
        &sys,
        with(partner("contoso", "2345678", DIRECT), |t| {
            t.display_name = "Contoso Security AB".into();
            profile(t).description = "Firewalls for hospitals".into();
            profile(t).keywords = vec!["Healthcare".into()];
        }),
        "",
    )
    .await
    .expect("CreatePartner");

    let both = &["Fabrikam AB", "Contoso Security AB"][..];
    let cases: [(&str, &[&str]); 12] = [
        ("schools", &["Fabrikam AB"]),
        ("SCHOOLS", &["Fabrikam AB"]),
        ("fabrikam", &["Fabrikam AB"]),
        ("education", &["Fabrikam AB"]),
        ("  fabrikam   EDUCATION Backup ", &["Fabrikam AB"]),
        ("microsoft 365", &["Fabrikam AB"]),
        ("security", &["Contoso Security AB"]),
        ("HealthCare firewalls", &["Contoso Security AB"]),
        ("backup security", &[]),
        ("teleportation", &[]),
        ("ab", both),
        ("", both),
    ];
    for (query, expected) in cases {
        assert_eq!(
            found_by_query(&sys, &searcher, query).await,
            names(expected),
            "query {query:?}"
        );
    }
    sys.stop().await;
}

#[tokio::test]
async fn percent_and_underscore_in_a_search_match_only_themselves() {
    let sys = TestSystem::start().await;
    let (_, searcher) = enrol_signed_in(
        &sys,
        with(partner("northwind", "3456789", DIRECT), |t| {
            profile(t).listed = false
        }),
    )
    .await;
    let described = |prefix: &str, mpn: &str, description: &str, keyword: &str| {
        with(partner(prefix, mpn, DIRECT), |t| {
            profile(t).description = description.into();
            profile(t).keywords = vec![keyword.into()];
        })
    };
    for request in [
        described("alpha", "1234567", "100% uptime", "on_site"),
        described("bravo", "2345678", "1000 hours of uptime", "onXsite"),
        described("charlie", "4567890", "uptime", "remote"),
    ] {
        enrol(&sys, request, "").await.expect("CreatePartner");
    }

    let cases: [(&str, &[&str]); 7] = [
        ("%", &["alpha AB"]),
        ("100%", &["alpha AB"]),
        ("_", &["alpha AB"]),
        ("on_site", &["alpha AB"]),
        ("onxsite", &["bravo AB"]),
        ("up%time", &[]),
        ("uptime", &["alpha AB", "bravo AB", "charlie AB"]),
    ];
    for (query, expected) in cases {
        assert_eq!(
            found_by_query(&sys, &searcher, query).await,
            names(expected),
            "query {query:?}"
        );
    }
    sys.stop().await;
}

// ---- the operator's list of tenants ----

#[tokio::test]
async fn the_operator_pages_through_tenants_oldest_first() {
    let sys = TestSystem::start().await;
    let mut created = Vec::new();
    for (i, prefix) in ["alpha", "bravo", "charlie", "delta", "echo"]
        .into_iter()
        .enumerate()
    {
        let mpn_id = (1_234_561 + i).to_string();
        created.push(sys.create_partner(prefix, &mpn_id, DIRECT).await.tenant.id);
    }
    assert_eq!(created.iter().collect::<HashSet<_>>().len(), 5);

    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(
            &sys,
            pb::ListTenantsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("ListTenants");
        pages.push(page.tenants.into_iter().map(|t| t.id).collect());
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(pages.len() < 5, "the pages never end");
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(pages.concat(), created, "oldest first, each once");

    // A page that holds exactly the rest is the last one: no empty page follows.
    let whole = list(
        &sys,
        pb::ListTenantsRequest {
            page_size: 5,
            ..Default::default()
        },
    )
    .await
    .expect("ListTenants");
    assert_eq!(
        whole.tenants.into_iter().map(|t| t.id).collect::<Vec<_>>(),
        created
    );
    assert!(whole.next_page_token.is_empty());
    sys.stop().await;
}

#[tokio::test]
async fn a_page_token_only_continues_the_list_it_came_from() {
    let sys = TestSystem::start().await;
    let mut created = Vec::new();
    for (i, prefix) in ["alpha", "bravo", "charlie"].into_iter().enumerate() {
        let mpn_id = (1_234_561 + i).to_string();
        created.push(sys.create_partner(prefix, &mpn_id, DIRECT).await.tenant.id);
    }
    let first = list(
        &sys,
        pb::ListTenantsRequest {
            page_size: 1,
            ..Default::default()
        },
    )
    .await
    .expect("ListTenants");
    let token = first.next_page_token;
    assert!(!token.is_empty());

    // The page size may change between pages; the filters may not.
    let rest = list(
        &sys,
        pb::ListTenantsRequest {
            page_size: 10,
            page_token: token.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("next page with another size");
    assert_eq!(
        rest.tenants.into_iter().map(|t| t.id).collect::<Vec<_>>(),
        created[1..]
    );
    let other_filters = [
        pb::ListTenantsRequest {
            country_code: "SE".into(),
            ..Default::default()
        },
        pb::ListTenantsRequest {
            kind: Kind::Partner as i32,
            ..Default::default()
        },
        pb::ListTenantsRequest {
            partner_type: PartnerType::DirectProvider as i32,
            ..Default::default()
        },
    ];
    for request in other_filters {
        let what = format!("{request:?}");
        let status = list(
            &sys,
            pb::ListTenantsRequest {
                page_token: token.clone(),
                ..request
            },
        )
        .await
        .expect_err("a token with other filters");
        assert_eq!(status.code(), Code::InvalidArgument, "{what}");
        assert_eq!(bad_fields(&status), ["page_token"], "{what}");
    }

    let status = list(
        &sys,
        pb::ListTenantsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("garbage token");
    assert_bad_fields(&status, &["page_token"]);

    // A token from the partner search is not a token of the tenant list.
    let search_token = search_partners(
        &sys,
        &sys.operator,
        pb::SearchPartnersRequest {
            page_size: 1,
            ..Default::default()
        },
    )
    .await
    .expect("SearchPartners")
    .next_page_token;
    assert!(!search_token.is_empty());
    let status = list(
        &sys,
        pb::ListTenantsRequest {
            page_token: search_token,
            ..Default::default()
        },
    )
    .await
    .expect_err("a search token");
    assert_bad_fields(&status, &["page_token"]);

    let status = list(
        &sys,
        pb::ListTenantsRequest {
            page_size: -1,
            ..Default::default()
        },
    )
    .await
    .expect_err("negative page size");
    assert_bad_fields(&status, &["page_size"]);
    sys.stop().await;
}

#[tokio::test]
async fn the_operator_filters_tenants_by_kind_partner_type_country_and_state() {
    let sys = TestSystem::start().await;
    let fabrikam = sys
        .create_partner("fabrikam", "1234567", DIRECT)
        .await
        .tenant
        .id;
    let contoso = enrol(
        &sys,
        with(
            partner("contoso", "2345678", &[PartnerType::IndirectReseller]),
            |t| t.country_code = "NO".into(),
        ),
        "",
    )
    .await
    .expect("CreatePartner")
    .partner
    .expect("partner")
    .id;
    let tailspin = sys
        .create_partner(
            "tailspin",
            "3456789",
            &[PartnerType::IndirectProvider, PartnerType::Advisor],
        )
        .await
        .tenant
        .id;
    // Customers are made by the customer workflow, which uses the internal API: one finished
    // (active), one still pending.
    let mut internal = TenantInternalServiceClient::new(sys.service("tenants").await);
    let new_customer = |prefix: &'static str| {
        let mut internal = internal.clone();
        async move {
            internal
                .create_customer_tenant(pb::CreateCustomerTenantRequest {
                    customer: Some(customer(prefix)),
                    request_id: String::new(),
                    validate_only: false,
                    workflow_fingerprint: String::new(),
                })
                .await
                .expect("CreateCustomerTenant")
                .into_inner()
                .customer
                .expect("customer")
                .id
        }
    };
    let litware = new_customer("litware").await;
    let adatum = new_customer("adatum").await;
    internal
        .activate_tenant(pb::ActivateTenantRequest {
            tenant_id: litware.clone(),
        })
        .await
        .expect("ActivateTenant");

    let by = |kind: Kind, partner_type: PartnerType, country: &str| pb::ListTenantsRequest {
        kind: kind as i32,
        partner_type: partner_type as i32,
        country_code: country.into(),
        ..Default::default()
    };
    let any_kind = Kind::Unspecified;
    let any_type = PartnerType::Unspecified;
    let cases = [
        (
            by(any_kind, any_type, ""),
            vec![&fabrikam, &contoso, &tailspin, &litware],
        ),
        (
            by(Kind::Partner, any_type, ""),
            vec![&fabrikam, &contoso, &tailspin],
        ),
        (by(Kind::Customer, any_type, ""), vec![&litware]),
        (
            by(any_kind, PartnerType::IndirectReseller, ""),
            vec![&contoso],
        ),
        (by(any_kind, PartnerType::Advisor, ""), vec![&tailspin]),
        (by(any_kind, any_type, "NO"), vec![&contoso]),
        (
            by(Kind::Partner, any_type, "SE"),
            vec![&fabrikam, &tailspin],
        ),
        (by(Kind::Customer, any_type, "NO"), vec![]),
        (
            pb::ListTenantsRequest {
                state: State::Pending as i32,
                ..Default::default()
            },
            vec![&adatum],
        ),
    ];
    for (request, expected) in cases {
        let what = format!("{request:?}");
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(listed_ids(&sys, request).await, expected, "{what}");
    }

    let status = list(&sys, by(any_kind, any_type, "se"))
        .await
        .expect_err("lower-case country");
    assert_bad_fields(&status, &["country_code"]);
    let status = list(
        &sys,
        pb::ListTenantsRequest {
            kind: 9,
            partner_type: 9,
            ..Default::default()
        },
    )
    .await
    .expect_err("unknown enum values");
    assert_bad_fields(&status, &["kind", "partner_type"]);
    sys.stop().await;
}

// ---- the partner's profile ----

#[tokio::test]
async fn a_partners_global_admin_renames_it_and_a_stale_etag_is_refused() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys.partner_admin("fabrikam", "1234567", DIRECT).await;
    let renamed = update(
        &sys,
        &admin,
        pb::Tenant {
            id: fabrikam.id.clone(),
            display_name: "Fabrikam Nordic AB".into(),
            etag: fabrikam.etag.clone(),
            ..Default::default()
        },
        &["display_name"],
    )
    .await
    .expect("UpdateTenant");
    assert_eq!(renamed.display_name, "Fabrikam Nordic AB");
    assert_ne!(renamed.etag, fabrikam.etag);
    // Only the name changed.
    assert_eq!(renamed.address, fabrikam.address);
    assert_eq!(renamed.contact, fabrikam.contact);
    assert_eq!(renamed.partner, fabrikam.partner);
    assert_eq!(renamed.country_code, fabrikam.country_code);
    assert_eq!(renamed.domain_prefix, fabrikam.domain_prefix);
    assert_eq!(renamed.create_time, fabrikam.create_time);
    assert_eq!(get(&sys, &fabrikam.id).await, renamed);

    // An update based on the version read before the rename is refused.
    let status = update(
        &sys,
        &admin,
        pb::Tenant {
            id: fabrikam.id.clone(),
            display_name: "Fabrikam Old AB".into(),
            etag: fabrikam.etag.clone(),
            ..Default::default()
        },
        &["display_name"],
    )
    .await
    .expect_err("stale etag");
    assert_refused(&status, Code::Aborted, "ETAG_MISMATCH");
    assert_eq!(
        get(&sys, &fabrikam.id).await.display_name,
        "Fabrikam Nordic AB"
    );

    // With the current etag it goes through.
    let again = update(
        &sys,
        &admin,
        pb::Tenant {
            id: fabrikam.id.clone(),
            display_name: "Fabrikam Sverige AB".into(),
            etag: renamed.etag.clone(),
            ..Default::default()
        },
        &["display_name"],
    )
    .await
    .expect("current etag");
    assert_eq!(again.display_name, "Fabrikam Sverige AB");
    assert_ne!(again.etag, renamed.etag);
    sys.stop().await;
}

#[tokio::test]
async fn an_update_mask_names_only_fields_a_partner_may_change() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys.partner_admin("fabrikam", "1234567", DIRECT).await;
    let attempt = pb::Tenant {
        id: "00000000-0000-7000-8000-000000000000".into(),
        display_name: "Hijacked AB".into(),
        country_code: "NO".into(),
        domain_prefix: "hijacked".into(),
        partner: Some(pb::PartnerProfile {
            mpn_id: "7654321".into(),
            partner_types: vec![PartnerType::Advisor as i32],
            listed: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let cases: [(&[&str], &str); 6] = [
        (&["id"], "update_mask.paths[0]"),
        (&["mpn_id"], "update_mask.paths[0]"),
        (&["display_name", "partner.mpn_id"], "update_mask.paths[1]"),
        (&["partner.partner_types"], "update_mask.paths[0]"),
        (&["country_code"], "update_mask.paths[0]"),
        (&["domain_prefix"], "update_mask.paths[0]"),
    ];
    for (paths, field) in cases {
        let status = update(
            &sys,
            &admin,
            pb::Tenant {
                id: fabrikam.id.clone(),
                ..attempt.clone()
            },
            paths,
        )
        .await
        .expect_err("an immutable path");
        assert_eq!(status.code(), Code::InvalidArgument, "{paths:?}");
        assert_eq!(bad_fields(&status), [field], "{paths:?}");
    }
    assert_eq!(get(&sys, &fabrikam.id).await, fabrikam, "nothing changed");
    sys.stop().await;
}

#[tokio::test]
async fn an_update_without_a_mask_changes_only_the_fields_that_are_set() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys.partner_admin("fabrikam", "1234567", DIRECT).await;
    let renamed = update(
        &sys,
        &admin,
        pb::Tenant {
            id: fabrikam.id.clone(),
            display_name: "Fabrikam Nordic AB".into(),
            ..Default::default()
        },
        &[],
    )
    .await
    .expect("UpdateTenant");
    assert_eq!(renamed.display_name, "Fabrikam Nordic AB");
    assert_eq!(renamed.address, fabrikam.address);
    assert_eq!(renamed.contact, fabrikam.contact);
    assert_eq!(
        renamed.partner, fabrikam.partner,
        "still listed, same profile"
    );
    assert_eq!(
        found_by_query(&sys, &admin, "nordic").await,
        names(&["Fabrikam Nordic AB"])
    );

    let new_contact = partnerhub_tests::contact("Eva", "Lund");
    let recontacted = update(
        &sys,
        &admin,
        pb::Tenant {
            id: fabrikam.id.clone(),
            contact: Some(new_contact.clone()),
            ..Default::default()
        },
        &[],
    )
    .await
    .expect("UpdateTenant");
    assert_eq!(recontacted.contact, Some(new_contact));
    assert_eq!(recontacted.display_name, "Fabrikam Nordic AB");
    assert_eq!(recontacted.partner, fabrikam.partner);

    // Nothing set and no mask: nothing to do, and the caller is told so.
    let status = update(
        &sys,
        &admin,
        pb::Tenant {
            id: fabrikam.id.clone(),
            ..Default::default()
        },
        &[],
    )
    .await
    .expect_err("nothing to update");
    assert_bad_fields(&status, &["update_mask"]);
    assert_eq!(get(&sys, &fabrikam.id).await, recontacted);
    sys.stop().await;
}

#[tokio::test]
async fn an_unlisted_partner_leaves_search_but_keeps_its_partner_id() {
    let sys = TestSystem::start().await;
    let (fabrikam, admin) = sys.partner_admin("fabrikam", "1234567", DIRECT).await;
    sys.create_partner("contoso", "2345678", DIRECT).await;
    assert_eq!(
        found(&sys, &admin, Default::default()).await,
        names(&["fabrikam AB", "contoso AB"])
    );

    let unlisted = update(
        &sys,
        &admin,
        pb::Tenant {
            id: fabrikam.id.clone(),
            partner: Some(pb::PartnerProfile {
                listed: false,
                ..Default::default()
            }),
            ..Default::default()
        },
        &["partner.listed"],
    )
    .await
    .expect("UpdateTenant");
    let profile = unlisted.partner.expect("partner");
    assert!(!profile.listed);
    // The mask named only `partner.listed`: the rest of the profile is as it was.
    assert_eq!(profile.mpn_id, "1234567");
    assert_eq!(profile.description, "fabrikam sells cloud services");
    assert_eq!(profile.keywords, ["schools"]);

    assert_eq!(
        found(&sys, &admin, Default::default()).await,
        names(&["contoso AB"])
    );
    assert!(found_by_query(&sys, &admin, "fabrikam").await.is_empty());
    assert_eq!(
        verify(&sys, &admin, "1234567")
            .await
            .expect("Check ID")
            .tenant_id,
        fabrikam.id
    );

    // Listed again, with new keywords: search finds it by them, not by the old ones.
    update(
        &sys,
        &admin,
        pb::Tenant {
            id: fabrikam.id.clone(),
            partner: Some(pb::PartnerProfile {
                listed: true,
                keywords: vec!["Hospitals".into()],
                ..Default::default()
            }),
            ..Default::default()
        },
        &["partner.listed", "partner.keywords"],
    )
    .await
    .expect("UpdateTenant");
    assert_eq!(
        found_by_query(&sys, &admin, "hospitals").await,
        names(&["fabrikam AB"])
    );
    assert_eq!(
        found_by_query(&sys, &admin, "schools").await,
        names(&["contoso AB"])
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_partner_cannot_update_another_partner() {
    let sys = TestSystem::start().await;
    let (_, admin) = sys.partner_admin("fabrikam", "1234567", DIRECT).await;
    let contoso = sys
        .create_partner("contoso", "2345678", DIRECT)
        .await
        .tenant;
    let status = update(
        &sys,
        &admin,
        pb::Tenant {
            id: contoso.id.clone(),
            display_name: "Fabrikam owns this AB".into(),
            ..Default::default()
        },
        &["display_name"],
    )
    .await
    .expect_err("another partner");
    assert_refused(&status, Code::PermissionDenied, "NO_ACCESS_TO_TENANT");
    let status = update(
        &sys,
        &admin,
        pb::Tenant {
            id: contoso.id.clone(),
            partner: Some(pb::PartnerProfile::default()),
            ..Default::default()
        },
        &["partner.listed"],
    )
    .await
    .expect_err("another partner");
    assert_refused(&status, Code::PermissionDenied, "NO_ACCESS_TO_TENANT");
    assert_eq!(get(&sys, &contoso.id).await, contoso, "unchanged");
    assert_eq!(
        found_by_query(&sys, &admin, "contoso").await,
        names(&["contoso AB"])
    );
    sys.stop().await;
}
