//! One answer per rule, through the gateway: a reused request id is told before anything else,
//! the same rule answers with the same code and reason wherever it is met, and the ErrorInfo
//! carries the values it is about.

use partnerhub_proto::gateway::{AddSubscriptionsRequest, CreateCustomerRequest, CustomerDetails};
use partnerhub_proto::invitations::{CreateInvitationRequest, Invitation, InvitationKind};
use partnerhub_proto::types::{LineItem, PartnerType};
use partnerhub_tests::{TestSystem, customer_form, metadata, reason};
use tonic::Code;

#[tokio::test]
async fn a_retry_that_changed_anything_is_told_its_request_id_was_used_first() {
    let sys = TestSystem::start().await;
    let (provider, admin) = sys
        .partner_admin("nordicdist", "3456789", &[PartnerType::IndirectProvider])
        .await;
    let offer = sys.offer_in_sweden(&admin).await;
    let line = LineItem {
        offer_id: offer.id.clone(),
        quantity: offer.min_quantity,
        ..Default::default()
    };
    let first = customer_form(&provider.id, "ekskolan", vec![line.clone()]);
    sys.workflows(&admin)
        .create_customer(first.clone())
        .await
        .expect("the customer is created");

    // Whatever the changed retry would be refused for otherwise (its domain prefix is taken by
    // the first call; a quantity out of bounds; a reseller that is none), it is told first that
    // its request id was used for another request.
    let renamed = CreateCustomerRequest {
        customer: first.customer.clone().map(|c| CustomerDetails {
            display_name: "Ekskolan AB".into(),
            ..c
        }),
        ..first.clone()
    };
    let more = CreateCustomerRequest {
        line_items: vec![LineItem {
            quantity: offer.max_quantity + 1,
            ..line.clone()
        }],
        ..first.clone()
    };
    let through = CreateCustomerRequest {
        indirect_reseller_id: uuid::Uuid::new_v4().to_string(),
        ..first.clone()
    };
    for (what, retry) in [
        ("another name", renamed),
        ("another quantity", more),
        ("a reseller", through),
    ] {
        let status = sys
            .workflows(&admin)
            .create_customer(retry)
            .await
            .expect_err(what);
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::InvalidArgument, "REQUEST_ID_REUSED"),
            "{what}: {status:?}"
        );
    }
    // The very same request answers as the first call did.
    sys.workflows(&admin)
        .create_customer(first)
        .await
        .expect("a retry of the same request");

    // The same for an invitation: the retry names a partner, which is no customer.
    let (other, _) = sys
        .partner_admin("contoso", "1234567", &[PartnerType::DirectProvider])
        .await;
    let (customer, _) = sys.customer_admin("skolan", "SE").await;
    let (direct, direct_admin) = sys
        .partner_admin("fabrikam", "2345678", &[PartnerType::DirectProvider])
        .await;
    let ask = |invitee: &str| CreateInvitationRequest {
        invitation: Some(Invitation {
            kind: InvitationKind::ResellerRelationship as i32,
            inviter_tenant_id: direct.id.clone(),
            invitee_tenant_id: invitee.to_string(),
            ..Default::default()
        }),
        ttl: None,
        request_id: "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b".into(),
    };
    sys.invitations(&direct_admin)
        .create_invitation(ask(&customer.id))
        .await
        .expect("asked");
    let status = sys
        .invitations(&direct_admin)
        .create_invitation(ask(&other.id))
        .await
        .expect_err("the same request id, another invitee");
    assert_eq!(reason(&status), "REQUEST_ID_REUSED", "{status:?}");
    sys.stop().await;
}

#[tokio::test]
async fn a_reseller_outside_the_partnership_is_one_answer_wherever_it_is_met() {
    let sys = TestSystem::start().await;
    let (provider, admin) = sys
        .partner_admin("nordicdist", "3456789", &[PartnerType::IndirectProvider])
        .await;
    let (stranger, _) = sys
        .partner_admin("skolit", "4567890", &[PartnerType::IndirectReseller])
        .await;
    let offer = sys.offer_in_sweden(&admin).await;
    let line = LineItem {
        offer_id: offer.id.clone(),
        quantity: offer.min_quantity,
        ..Default::default()
    };
    let customer = sys
        .workflows(&admin)
        .create_customer(customer_form(&provider.id, "ekskolan", Vec::new()))
        .await
        .expect("a direct customer")
        .into_inner()
        .customer
        .expect("customer");

    let created = sys
        .workflows(&admin)
        .create_customer(CreateCustomerRequest {
            indirect_reseller_id: stranger.id.clone(),
            ..customer_form(&provider.id, "alingsas", vec![line.clone()])
        })
        .await
        .expect_err("a reseller not in partnership");
    let added = sys
        .workflows(&admin)
        .add_subscriptions(AddSubscriptionsRequest {
            partner_tenant_id: provider.id.clone(),
            customer_tenant_id: customer.id.clone(),
            indirect_reseller_id: stranger.id.clone(),
            line_items: vec![line],
            reseller_is_support_contact: false,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("a reseller not in partnership");
    for status in [&created, &added] {
        assert_eq!(
            (status.code(), reason(status).as_str()),
            (Code::FailedPrecondition, "RESELLER_NOT_IN_PARTNERSHIP"),
            "{status:?}"
        );
        // The values it is about, for clients that must not parse messages.
        assert_eq!(metadata(status, "indirectResellerId"), stranger.id);
        assert_eq!(metadata(status, "partnerTenantId"), provider.id);
    }
    sys.stop().await;
}

#[tokio::test]
async fn a_taken_domain_prefix_is_already_exists_wherever_it_is_met() {
    use partnerhub_proto::tenants::{self as pb, tenant_internal_service_client};
    use partnerhub_tests::{all_at_once, bad_fields, customer, partner};
    let sys = TestSystem::start().await;
    let (provider, admin) = sys
        .partner_admin("fabrikam", "3456789", &[PartnerType::DirectProvider])
        .await;
    sys.customer_admin("skolan", "SE").await;
    let taken = |status: &tonic::Status, fields: &[&str], what: &str| {
        assert_eq!(
            (status.code(), reason(status).as_str()),
            (Code::AlreadyExists, "DOMAIN_PREFIX_TAKEN"),
            "{what}: {status:?}"
        );
        assert_eq!(bad_fields(status), fields, "{what}");
    };
    let enrol = |new: pb::Tenant| {
        let mut tenants = sys.tenants(&sys.operator);
        async move {
            tenants
                .create_partner(pb::CreatePartnerRequest {
                    partner: Some(new),
                    request_id: uuid::Uuid::new_v4().to_string(),
                })
                .await
                .expect_err("the prefix is taken")
        }
    };
    // A partner with a customer's prefix, or a partner's; alone or with other bad fields
    // (named too), it is the same answer.
    let direct = [PartnerType::DirectProvider];
    taken(
        &enrol(partner("skolan", "4567890", &direct)).await,
        &["partner.domain_prefix"],
        "CreatePartner",
    );
    let mut sloppy = partner("fabrikam", "0123", &direct);
    sloppy.display_name = String::new();
    taken(
        &enrol(sloppy).await,
        &[
            "partner.domain_prefix",
            "partner.display_name",
            "partner.partner.mpn_id",
        ],
        "CreatePartner with bad fields",
    );
    assert_eq!(
        metadata(
            &enrol(partner("skolan", "4567890", &direct)).await,
            "domainPrefix"
        ),
        "skolan"
    );

    // A partner's new customer, submitted or reviewed.
    let status = sys
        .workflows(&admin)
        .create_customer(customer_form(&provider.id, "skolan", Vec::new()))
        .await
        .expect_err("the prefix is taken");
    taken(&status, &["customer.domain_prefix"], "CreateCustomer");
    let mut sloppy = customer_form(&provider.id, "fabrikam", Vec::new());
    if let Some(c) = sloppy.customer.as_mut() {
        c.display_name = String::new();
    }
    let status = sys
        .workflows(&admin)
        .create_customer(sloppy.clone())
        .await
        .expect_err("the prefix is taken");
    taken(
        &status,
        &["customer.domain_prefix", "customer.display_name"],
        "CreateCustomer with a bad field",
    );
    let review = sys
        .workflows(&admin)
        .create_customer(CreateCustomerRequest {
            validate_only: true,
            ..sloppy
        })
        .await
        .expect("a review")
        .into_inner()
        .review
        .expect("the review");
    assert!(
        review
            .problems
            .iter()
            .any(|p| p.field == "customer.domain_prefix" && p.reason == "DOMAIN_PREFIX_TAKEN"),
        "{review:?}"
    );

    // The internal create the workflow calls, straight at the tenants service.
    let mut internal = tenant_internal_service_client::TenantInternalServiceClient::new(
        sys.service("tenants").await,
    );
    let mut sloppy = customer("skolan");
    sloppy.contact = None;
    for validate_only in [false, true] {
        let status = internal
            .create_customer_tenant(pb::CreateCustomerTenantRequest {
                customer: Some(sloppy.clone()),
                request_id: String::new(),
                validate_only,
                workflow_fingerprint: String::new(),
            })
            .await
            .expect_err("the prefix is taken");
        taken(
            &status,
            &["customer.domain_prefix", "customer.contact"],
            "CreateCustomerTenant",
        );
    }

    // Customers made at the same time with one prefix: one is made, every other is told so.
    let at_once = (0..4)
        .map(|_| {
            let mut workflows = sys.workflows(&admin);
            let form = customer_form(&provider.id, "samtidig", Vec::new());
            async move { workflows.create_customer(form).await.map(drop) }
        })
        .collect();
    let results = all_at_once(at_once).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for status in results.iter().filter_map(|r| r.as_ref().err()) {
        taken(status, &["customer.domain_prefix"], "at the same time");
    }
    sys.stop().await;
}
