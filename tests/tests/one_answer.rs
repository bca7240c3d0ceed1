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
