//! Seed 001, "Hitta en partner": a customer's admin finds partners by location, size and
//! keywords, selects several and sends them one contact request describing its needs; each
//! partner sees the request sent to it, and no partner sees another's. Only listed partners can
//! be contacted, each once, and a customer can't use the form to spam partners.

use partnerhub_proto::gateway as gw;
use partnerhub_proto::invitations::{self as inv, InvitationKind};
use partnerhub_proto::relationships as rel;
use partnerhub_proto::tenants::{self as pb, CompanySize};
use partnerhub_proto::types::{PartnerType, Role};
use partnerhub_tests::{TestSystem, bad_fields, contact, partner, reason, refused};
use tonic::Code;
use tonic_types::StatusExt;

/// The operator enrols a listed partner in `country`; its global admin signs in and says which
/// sizes of organisations it works with.
async fn partner_working_with(
    sys: &TestSystem,
    prefix: &str,
    mpn_id: &str,
    country: &str,
    sizes: &[CompanySize],
) -> (pb::Tenant, String) {
    let mut new = partner(prefix, mpn_id, &[PartnerType::DirectProvider]);
    new.country_code = country.into();
    let enrolled = sys
        .tenants(&sys.operator)
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(new),
            request_id: String::new(),
        })
        .await
        .expect("CreatePartner")
        .into_inner();
    let tenant = enrolled.partner.expect("partner");
    let admin = enrolled.admin_user.expect("admin");
    let token = sys
        .activate_user(&admin.user_name, &enrolled.temporary_password)
        .await;
    let updated = sys
        .tenants(&token)
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                id: tenant.id.clone(),
                partner: Some(pb::PartnerProfile {
                    customer_sizes: sizes.iter().map(|s| *s as i32).collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["partner.customer_sizes".into()],
            }),
        })
        .await
        .expect("UpdateTenant")
        .into_inner()
        .tenant
        .expect("tenant");
    (updated, token)
}

/// The names of the partners a search finds.
async fn found(sys: &TestSystem, token: &str, search: pb::SearchPartnersRequest) -> Vec<String> {
    let mut names: Vec<String> = sys
        .tenants(token)
        .search_partners(search)
        .await
        .expect("SearchPartners")
        .into_inner()
        .partners
        .into_iter()
        .map(|p| p.display_name)
        .collect();
    names.sort();
    names
}

/// A contact request from `customer` to `partners`, with a new request id.
fn asking(customer: &str, partners: &[&str]) -> pb::ContactPartnersRequest {
    pb::ContactPartnersRequest {
        customer_tenant_id: customer.into(),
        partner_tenant_ids: partners.iter().map(|p| p.to_string()).collect(),
        needs: "Vi är en skola med 40 anställda och vill flytta e-post och filer till molnet"
            .into(),
        contact: Some(contact("Maja", "Ek")),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

/// The requests a partner lists, as the holder of `token`.
async fn requests_of(
    sys: &TestSystem,
    token: &str,
    partner: &str,
) -> Result<Vec<pb::ContactRequest>, tonic::Status> {
    sys.tenants(token)
        .list_contact_requests(pb::ListContactRequestsRequest {
            partner_tenant_id: partner.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().contact_requests)
}

#[tokio::test]
async fn a_customer_finds_partners_and_contacts_two_at_once_and_each_sees_only_its_request() {
    let sys = TestSystem::start().await;
    let (small, small_admin) =
        partner_working_with(&sys, "smaskol", "8100001", "SE", &[CompanySize::Small]).await;
    let (both, both_admin) = partner_working_with(
        &sys,
        "molnbyran",
        "8100002",
        "SE",
        &[CompanySize::Small, CompanySize::Medium],
    )
    .await;
    let (large, large_admin) =
        partner_working_with(&sys, "storkonsult", "8100003", "SE", &[CompanySize::Large]).await;
    partner_working_with(&sys, "fjordit", "8100004", "NO", &[CompanySize::Small]).await;
    let (customer, admin) = sys.customer_admin("lillskolan", "SE").await;

    // Location, size and keywords: the small-organisation partners in Sweden that do schools.
    let search = pb::SearchPartnersRequest {
        country_code: "SE".into(),
        customer_size: CompanySize::Small as i32,
        query: "schools".into(),
        ..Default::default()
    };
    assert_eq!(
        found(&sys, &admin, search.clone()).await,
        ["molnbyran AB", "smaskol AB"]
    );
    // The city is the partner's address's (the harness's partners are in Stockholm).
    let in_city = |city: &str| pb::SearchPartnersRequest {
        locality: city.into(),
        ..search.clone()
    };
    assert_eq!(found(&sys, &admin, in_city("stockholm")).await.len(), 2);
    assert!(found(&sys, &admin, in_city("Malmö")).await.is_empty());
    let large_ones = pb::SearchPartnersRequest {
        customer_size: CompanySize::Large as i32,
        ..Default::default()
    };
    assert_eq!(found(&sys, &admin, large_ones).await, ["storkonsult AB"]);
    let listing = sys
        .tenants(&admin)
        .search_partners(search.clone())
        .await
        .expect("SearchPartners")
        .into_inner()
        .partners;
    assert!(
        listing
            .iter()
            .any(|p| p.customer_sizes == [CompanySize::Small as i32, CompanySize::Medium as i32])
    );

    // The customer's global admin contacts the two at once.
    let sent = sys
        .tenants(&admin)
        .contact_partners(asking(&customer.id, &[&small.id, &both.id]))
        .await
        .expect("ContactPartners")
        .into_inner()
        .contact_requests;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].partner_tenant_id, small.id);
    assert_eq!(sent[1].partner_tenant_id, both.id);
    assert!(sent.iter().all(|r| r.invitation_id.is_empty()));

    // Each sees its own request, with the customer's name, needs and contact.
    for (partner, token) in [(&small, &small_admin), (&both, &both_admin)] {
        let requests = requests_of(&sys, token, &partner.id)
            .await
            .expect("its requests");
        assert_eq!(requests.len(), 1, "{}", partner.display_name);
        let r = &requests[0];
        assert_eq!(r.partner_tenant_id, partner.id);
        assert_eq!(r.customer_display_name, customer.display_name);
        assert!(r.needs.contains("e-post och filer"));
        assert_eq!(
            r.contact.as_ref().map(|c| c.email.as_str()),
            Some("maja@example.com")
        );
    }
    // A third partner sees nothing, and can't read another's.
    assert!(
        requests_of(&sys, &large_admin, &large.id)
            .await
            .expect("its requests")
            .is_empty()
    );
    refused(
        requests_of(&sys, &large_admin, &small.id).await,
        Code::PermissionDenied,
        "another partner's requests",
    );
    // A partner's sales agent reads them too; its helpdesk agent doesn't.
    let (_, sales) = sys
        .user(&small_admin, &small.id, "saljare", &[Role::SalesAgent])
        .await;
    assert_eq!(
        requests_of(&sys, &sales, &small.id)
            .await
            .expect("sales")
            .len(),
        1
    );
    let (_, helpdesk) = sys
        .user(&small_admin, &small.id, "support", &[Role::HelpdeskAgent])
        .await;
    refused(
        requests_of(&sys, &helpdesk, &small.id).await,
        Code::PermissionDenied,
        "a helpdesk agent",
    );
    // The partner answers by asking the customer for a reseller relationship that refers to
    // the request; the request shows which invitation answered it.
    let request_id = requests_of(&sys, &small_admin, &small.id)
        .await
        .expect("its")[0]
        .id
        .clone();
    let answer = |inviter: &pb::Tenant, request: &str| inv::CreateInvitationRequest {
        invitation: Some(inv::Invitation {
            kind: InvitationKind::ResellerRelationship as i32,
            inviter_tenant_id: inviter.id.clone(),
            invitee_tenant_id: customer.id.clone(),
            contact_request_id: request.into(),
            ..Default::default()
        }),
        ttl: None,
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    // Another partner can't answer it, as if it didn't exist.
    let status = refused(
        sys.invitations(&large_admin)
            .create_invitation(answer(&large, &request_id))
            .await,
        Code::NotFound,
        "another partner's request",
    );
    assert_eq!(reason(&status), "CONTACT_REQUEST_NOT_FOUND");
    let status = refused(
        sys.invitations(&small_admin)
            .create_invitation(answer(&small, "not-a-request"))
            .await,
        Code::InvalidArgument,
        "a malformed request id",
    );
    assert_eq!(bad_fields(&status), ["invitation.contact_request_id"]);
    let invited = sys
        .invitations(&small_admin)
        .create_invitation(answer(&small, &request_id))
        .await
        .expect("the answer")
        .into_inner();
    let invitation = invited.invitation.expect("invitation");
    let answered = requests_of(&sys, &small_admin, &small.id)
        .await
        .expect("its");
    assert_eq!(answered[0].invitation_id, invitation.id);
    assert!(answered[0].answer_time.is_some());
    // A request is answered once.
    let status = refused(
        sys.invitations(&small_admin)
            .create_invitation(answer(&small, &request_id))
            .await,
        Code::FailedPrecondition,
        "a second answer",
    );
    assert_eq!(reason(&status), "CONTACT_REQUEST_ANSWERED");
    // The customer accepts, and works with the partner it found.
    sys.workflows(&admin)
        .accept_invitation(gw::AcceptInvitationRequest {
            code: invited.code,
            tenant_id: customer.id.clone(),
            agreement_signer: Some(contact("Maja", "Ek")),
            request_id: uuid::Uuid::new_v4().to_string(),
            line_items: Vec::new(),
        })
        .await
        .expect("AcceptInvitation");
    let partners = sys
        .relationships(&admin)
        .list_partners_of_customer(rel::ListPartnersOfCustomerRequest {
            customer_tenant_id: customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListPartnersOfCustomer")
        .into_inner();
    assert!(format!("{partners:?}").contains(&small.id), "{partners:?}");

    // Only the customer's global and billing admins send requests.
    let (_, user_admin) = sys
        .user(&admin, &customer.id, "anvandare", &[Role::UserAdmin])
        .await;
    refused(
        sys.tenants(&user_admin)
            .contact_partners(asking(&customer.id, &[&large.id]))
            .await,
        Code::PermissionDenied,
        "a customer's user admin",
    );
    refused(
        sys.tenants(&small_admin)
            .contact_partners(asking(&customer.id, &[&large.id]))
            .await,
        Code::PermissionDenied,
        "a partner in the customer's name",
    );
    sys.stop().await;
}

#[tokio::test]
async fn contact_requests_go_only_to_listed_partners_each_once_and_are_limited_per_day() {
    let sys = TestSystem::start().await;
    let (a, _) = partner_working_with(&sys, "alfa", "8200001", "SE", &[]).await;
    let (b, b_admin) = partner_working_with(&sys, "beta", "8200002", "SE", &[]).await;
    let (customer, admin) = sys.customer_admin("skolan", "SE").await;
    let mut tenants = sys.tenants(&admin);

    // Bad input names its fields.
    let mut bad = asking(&customer.id, &[&a.id, &a.id, "nope"]);
    bad.needs = String::new();
    bad.contact = Some(partnerhub_proto::types::Contact {
        email: "maja@".into(),
        ..contact("Maja", "Ek")
    });
    let status = refused(
        tenants.contact_partners(bad).await,
        Code::InvalidArgument,
        "bad input",
    );
    let mut fields = bad_fields(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "contact.email",
            "needs",
            "partner_tenant_ids[1]",
            "partner_tenant_ids[2]"
        ]
    );
    let status = refused(
        tenants.contact_partners(asking(&customer.id, &[])).await,
        Code::InvalidArgument,
        "no partners",
    );
    assert_eq!(bad_fields(&status), ["partner_tenant_ids"]);
    let mut no_contact = asking(&customer.id, &[&a.id]);
    no_contact.contact = None;
    let status = refused(
        tenants.contact_partners(no_contact).await,
        Code::InvalidArgument,
        "no contact",
    );
    assert_eq!(bad_fields(&status), ["contact"]);

    // A partner that is not listed can't be contacted, and nothing is sent to the others.
    sys.tenants(&b_admin)
        .update_tenant(pb::UpdateTenantRequest {
            tenant: Some(pb::Tenant {
                id: b.id.clone(),
                partner: Some(pb::PartnerProfile::default()),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["partner.listed".into()],
            }),
        })
        .await
        .expect("unlisting");
    let status = refused(
        tenants
            .contact_partners(asking(&customer.id, &[&a.id, &b.id]))
            .await,
        Code::NotFound,
        "an unlisted partner",
    );
    assert_eq!(reason(&status), "TENANT_NOT_FOUND");
    // (The operator reads any partner's requests.)
    let operator = sys.operator.clone();
    assert!(
        requests_of(&sys, &operator, &a.id)
            .await
            .expect("listed")
            .is_empty()
    );

    // The same request again answers the first result and counts once.
    let once = asking(&customer.id, &[&a.id]);
    let first = tenants
        .contact_partners(once.clone())
        .await
        .expect("first")
        .into_inner();
    let again = tenants
        .contact_partners(once)
        .await
        .expect("again")
        .into_inner();
    assert_eq!(first.contact_requests[0].id, again.contact_requests[0].id);

    // Five requests a day: the sixth waits, and says how long.
    for _ in 0..4 {
        tenants
            .contact_partners(asking(&customer.id, &[&a.id]))
            .await
            .expect("within the limit");
    }
    let status = refused(
        tenants
            .contact_partners(asking(&customer.id, &[&a.id]))
            .await,
        Code::ResourceExhausted,
        "the sixth request of the day",
    );
    assert_eq!(reason(&status), "CONTACT_LIMIT");
    let retry = status
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo");
    assert!(retry.as_secs() > 23 * 3600, "{retry:?}");
    assert_eq!(
        requests_of(&sys, &operator, &a.id)
            .await
            .expect("a's")
            .len(),
        5
    );
    sys.stop().await;
}
