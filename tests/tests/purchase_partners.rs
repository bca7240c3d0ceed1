//! Seeds 000 and 003 through the gateway: the partners named when a customer buys. A line item
//! names its partner of record ("när du köper", seed 000), checked as "Check ID" checks it; the
//! indirect reseller is named by its partner ID as well as its tenant id, and a subscription
//! shows the reseller's partner ID ("Återförsäljare (MPN-ID)", seed 003).

use partnerhub_proto::gateway::{
    AcceptInvitationRequest, AddSubscriptionsRequest, CreateCustomerRequest, CustomerDetails,
    SetPartnerOfRecordRequest,
};
use partnerhub_proto::invitations::{CreateInvitationRequest, Invitation, InvitationKind};
use partnerhub_proto::relationships as rel;
use partnerhub_proto::subscriptions::{
    self as sub, subscription_service_client::SubscriptionServiceClient,
};
use partnerhub_proto::tenants as pb;
use partnerhub_proto::types::{Cloud, LineItem, PartnerType};
use partnerhub_tests::{TestSystem, address, bad_fields, contact, partner, reason};
use tonic::{Code, Status};

const PROVIDER_MPN: &str = "3456789";
const RESELLER_MPN: &str = "4567890";
const ADVISOR_MPN: &str = "7777777";
const GERMAN_ADVISOR_MPN: &str = "7890123";
const NOBODYS_MPN: &str = "9999999";

struct World {
    provider: pb::Tenant,
    provider_admin: String,
    reseller: pb::Tenant,
    advisor: pb::Tenant,
    offers: Vec<sub::Offer>,
}

fn subscriptions(
    sys: &TestSystem,
    token: &str,
) -> SubscriptionServiceClient<partnerhub_tests::Authed> {
    SubscriptionServiceClient::new(sys.authed(token))
}

/// An indirect provider in partnership with an indirect reseller (which accepted the partner
/// agreement), a subscription advisor in the same cloud and one in the Germany cloud.
async fn world(sys: &TestSystem) -> World {
    let (provider, provider_admin) = sys
        .partner_admin("nordicdist", PROVIDER_MPN, &[PartnerType::IndirectProvider])
        .await;
    let (reseller, reseller_admin) = sys
        .partner_admin("skolit", RESELLER_MPN, &[PartnerType::IndirectReseller])
        .await;
    let (advisor, _) = sys
        .partner_admin("radgivarna", ADVISOR_MPN, &[PartnerType::Advisor])
        .await;
    let mut german = partner("beratung", GERMAN_ADVISOR_MPN, &[PartnerType::Advisor]);
    german.cloud = Cloud::Germany as i32;
    german.country_code = "DE".into();
    sys.tenants(&sys.operator)
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(german),
            request_id: String::new(),
        })
        .await
        .expect("enrol an advisor in the Germany cloud");
    let invited = sys
        .invite(
            &provider_admin,
            Invitation {
                kind: InvitationKind::IndirectPartnership as i32,
                inviter_tenant_id: provider.id.clone(),
                invitee_tenant_id: reseller.id.clone(),
                ..Default::default()
            },
        )
        .await;
    sys.workflows(&reseller_admin)
        .accept_invitation(AcceptInvitationRequest {
            code: invited.code,
            tenant_id: reseller.id.clone(),
            agreement_signer: Some(contact("Lars", "Holm")),
            request_id: String::new(),
            line_items: Vec::new(),
        })
        .await
        .expect("the reseller accepts the partnership");
    let offers = subscriptions(sys, &provider_admin)
        .list_offers(sub::ListOffersRequest {
            cloud: Cloud::Worldwide as i32,
            country_code: "SE".into(),
            ..Default::default()
        })
        .await
        .expect("ListOffers")
        .into_inner()
        .offers;
    assert!(offers.len() >= 2, "two offers sold in Sweden");
    World {
        provider,
        provider_admin,
        reseller,
        advisor,
        offers,
    }
}

impl World {
    /// A line of offer `n` at its smallest quantity, with a partner of record ("" for none).
    fn line(&self, n: usize, partner_of_record: &str) -> LineItem {
        let offer = &self.offers[n];
        LineItem {
            offer_id: offer.id.clone(),
            quantity: offer.min_quantity.max(5).min(offer.max_quantity),
            partner_of_record_mpn_id: partner_of_record.into(),
            ..Default::default()
        }
    }

    /// The provider's form for a new Swedish customer of its reseller, named by `reseller`.
    fn form(
        &self,
        prefix: &str,
        reseller: &str,
        line_items: Vec<LineItem>,
    ) -> CreateCustomerRequest {
        CreateCustomerRequest {
            partner_tenant_id: self.provider.id.clone(),
            customer: Some(CustomerDetails {
                display_name: format!("{prefix} skola"),
                domain_prefix: prefix.into(),
                address: Some(address()),
                contact: Some(contact("Maja", "Ek")),
                country_code: "SE".into(),
                cloud: Cloud::Worldwide as i32,
            }),
            indirect_reseller_id: reseller.into(),
            line_items,
            agreement_signer: Some(contact("Maja", "Ek")),
            validate_only: false,
            request_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    fn add(&self, customer: &str, reseller: &str, lines: Vec<LineItem>) -> AddSubscriptionsRequest {
        AddSubscriptionsRequest {
            partner_tenant_id: self.provider.id.clone(),
            customer_tenant_id: customer.into(),
            indirect_reseller_id: reseller.into(),
            line_items: lines,
            reseller_is_support_contact: false,
            request_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    fn order(
        &self,
        customer: &str,
        reseller: &str,
        lines: Vec<LineItem>,
    ) -> sub::PlaceOrderRequest {
        sub::PlaceOrderRequest {
            customer_tenant_id: customer.into(),
            partner_tenant_id: self.provider.id.clone(),
            indirect_reseller_id: reseller.into(),
            line_items: lines,
            ..Default::default()
        }
    }
}

fn code_and_reason(status: &Status) -> (Code, String) {
    (status.code(), reason(status))
}

/// Who the subscriptions were sold through and who advises on them, in order.
fn parties(subscriptions: &[sub::Subscription]) -> Vec<(String, String, String)> {
    subscriptions
        .iter()
        .map(|s| {
            (
                s.indirect_reseller_id.clone(),
                s.indirect_reseller_mpn_id.clone(),
                s.partner_of_record_mpn_id.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_provider_names_its_reseller_and_the_advisor_by_partner_id_when_the_customer_buys() {
    let sys = TestSystem::start().await;
    let w = world(&sys).await;
    let reseller = |mpn: &str| {
        (
            w.reseller.id.clone(),
            RESELLER_MPN.to_string(),
            mpn.to_string(),
        )
    };

    // The new customer's form names the reseller by its partner ID, and the advisor on one line.
    let created = sys
        .workflows(&w.provider_admin)
        .create_customer(w.form(
            "lerum",
            RESELLER_MPN,
            vec![w.line(0, ADVISOR_MPN), w.line(1, "")],
        ))
        .await
        .expect("CreateCustomer")
        .into_inner();
    let customer = created.customer.expect("customer").id;
    assert_eq!(
        parties(&created.subscriptions),
        [reseller(ADVISOR_MPN), reseller("")]
    );
    assert_eq!(
        created.order.expect("order").indirect_reseller_id,
        w.reseller.id,
        "the order records the reseller's tenant id"
    );
    // The customer is listed with the reseller, which has its indirect reseller relationship.
    let listed = sys
        .relationships(&w.provider_admin)
        .list_customers_of_partner(rel::ListCustomersOfPartnerRequest {
            partner_tenant_id: w.provider.id.clone(),
            indirect_reseller_id: w.reseller.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListCustomersOfPartner")
        .into_inner()
        .customers;
    assert_eq!(listed.len(), 1);

    // The subscription as read later shows both partners.
    let read = subscriptions(&sys, &w.provider_admin)
        .get_subscription(sub::GetSubscriptionRequest {
            tenant_id: w.provider.id.clone(),
            subscription_id: created.subscriptions[0].id.clone(),
        })
        .await
        .expect("GetSubscription")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(parties(&[read]), [reseller(ADVISOR_MPN)]);

    // More subscriptions for the same customer: by the reseller's partner ID here too.
    let added = sys
        .workflows(&w.provider_admin)
        .add_subscriptions(w.add(&customer, RESELLER_MPN, vec![w.line(1, ADVISOR_MPN)]))
        .await
        .expect("AddSubscriptions")
        .into_inner();
    assert_eq!(parties(&added.subscriptions), [reseller(ADVISOR_MPN)]);

    // An order that names the reseller by tenant id shows its partner ID all the same.
    let placed = subscriptions(&sys, &w.provider_admin)
        .place_order(w.order(&customer, &w.reseller.id, vec![w.line(0, "")]))
        .await
        .expect("PlaceOrder")
        .into_inner();
    assert_eq!(parties(&placed.subscriptions), [reseller("")]);

    // A subscription sold directly, then moved to the reseller by its partner ID.
    let direct = subscriptions(&sys, &w.provider_admin)
        .place_order(w.order(&customer, "", vec![w.line(0, ADVISOR_MPN)]))
        .await
        .expect("PlaceOrder")
        .into_inner()
        .subscriptions
        .remove(0);
    assert_eq!(
        parties(std::slice::from_ref(&direct)),
        [(String::new(), String::new(), ADVISOR_MPN.to_string())]
    );
    let moved = subscriptions(&sys, &w.provider_admin)
        .update_subscription(sub::UpdateSubscriptionRequest {
            tenant_id: w.provider.id.clone(),
            subscription: Some(sub::Subscription {
                id: direct.id.clone(),
                indirect_reseller_id: RESELLER_MPN.into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["indirect_reseller_id".into()],
            }),
        })
        .await
        .expect("UpdateSubscription")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(parties(&[moved]), [reseller(ADVISOR_MPN)]);
    assert_eq!(
        w.advisor.partner.as_ref().map(|p| p.mpn_id.as_str()),
        Some(ADVISOR_MPN)
    );
    sys.stop().await;
}

#[tokio::test]
async fn partners_named_when_buying_are_checked_like_check_id_and_an_unknown_reseller() {
    let sys = TestSystem::start().await;
    let w = world(&sys).await;
    let created = sys
        .workflows(&w.provider_admin)
        .create_customer(w.form("lerum", &w.reseller.id, vec![w.line(0, "")]))
        .await
        .expect("CreateCustomer")
        .into_inner();
    let customer = created.customer.expect("customer").id;
    let subscription = created.subscriptions[0].id.clone();
    // The provider bills the customer's subscriptions, and no other customer's.
    let count = || {
        let mut client = subscriptions(&sys, &w.provider_admin);
        let provider = w.provider.id.clone();
        async move {
            client
                .list_subscriptions(sub::ListSubscriptionsRequest {
                    billing_partner_tenant_id: provider,
                    ..Default::default()
                })
                .await
                .expect("ListSubscriptions")
                .into_inner()
                .subscriptions
                .len()
        }
    };
    assert_eq!(count().await, 1);

    // Each partner ID that fails "Check ID" is refused at purchase as SetPartnerOfRecord
    // refuses it, and nothing is bought.
    for (mpn_id, expected) in [
        (
            PROVIDER_MPN,
            (Code::FailedPrecondition, "PARTNER_NOT_ADVISOR"),
        ),
        (NOBODYS_MPN, (Code::NotFound, "PARTNER_ID_NOT_FOUND")),
        (
            GERMAN_ADVISOR_MPN,
            (Code::FailedPrecondition, "PARTNER_NOT_IN_CLOUD"),
        ),
    ] {
        let check_id = sys
            .workflows(&w.provider_admin)
            .set_partner_of_record(SetPartnerOfRecordRequest {
                tenant_id: w.provider.id.clone(),
                subscription_id: subscription.clone(),
                mpn_id: mpn_id.into(),
                etag: String::new(),
            })
            .await
            .expect_err("Check ID refuses it");
        let expected = (expected.0, expected.1.to_string());
        assert_eq!(code_and_reason(&check_id), expected, "{mpn_id}");
        let ordered = subscriptions(&sys, &w.provider_admin)
            .place_order(w.order(&customer, "", vec![w.line(1, ""), w.line(0, mpn_id)]))
            .await
            .expect_err("PlaceOrder refuses it");
        assert_eq!(code_and_reason(&ordered), expected, "PlaceOrder {mpn_id}");
        let added = sys
            .workflows(&w.provider_admin)
            .add_subscriptions(w.add(&customer, RESELLER_MPN, vec![w.line(0, mpn_id)]))
            .await
            .expect_err("AddSubscriptions refuses it");
        assert_eq!(
            code_and_reason(&added),
            expected,
            "AddSubscriptions {mpn_id}"
        );
    }
    assert_eq!(count().await, 1, "nothing was bought");

    // The new customer form's review lists a partner of record that fails as a problem of its
    // line; submitting it is refused as PlaceOrder refuses it, and creates nobody.
    let mut review = w.form(
        "solna",
        RESELLER_MPN,
        vec![w.line(0, ADVISOR_MPN), w.line(1, PROVIDER_MPN)],
    );
    review.validate_only = true;
    let found = sys
        .workflows(&w.provider_admin)
        .create_customer(review.clone())
        .await
        .expect("review")
        .into_inner()
        .review
        .expect("a review");
    let problems: Vec<(&str, &str)> = found
        .problems
        .iter()
        .map(|p| (p.field.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(
        problems,
        [(
            "line_items[1].partner_of_record_mpn_id",
            "PARTNER_NOT_ADVISOR"
        )]
    );
    assert_eq!(
        found
            .subscriptions
            .iter()
            .map(|s| s.partner_of_record_mpn_id.as_str())
            .collect::<Vec<_>>(),
        [ADVISOR_MPN],
        "the line that can be bought, with its advisor"
    );
    review.validate_only = false;
    let refused = sys
        .workflows(&w.provider_admin)
        .create_customer(review)
        .await
        .expect_err("submit");
    assert_eq!(
        code_and_reason(&refused),
        (Code::FailedPrecondition, "PARTNER_NOT_ADVISOR".to_string())
    );
    let customers = sys
        .relationships(&w.provider_admin)
        .list_customers_of_partner(rel::ListCustomersOfPartnerRequest {
            partner_tenant_id: w.provider.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListCustomersOfPartner")
        .into_inner()
        .customers;
    assert_eq!(customers.len(), 1, "only lerum");

    // A malformed partner ID is bad input, named at its line.
    let malformed = subscriptions(&sys, &w.provider_admin)
        .place_order(w.order(&customer, "", vec![w.line(0, "12ab")]))
        .await
        .expect_err("malformed");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&malformed),
        ["line_items[0].partner_of_record_mpn_id"]
    );
    // An invitation's advisor is its inviter: its line items take no partner of record.
    let (advisor, advisor_admin) = sys
        .partner_admin("konsulten", "8888888", &[PartnerType::Advisor])
        .await;
    let invitation = sys
        .invitations(&advisor_admin)
        .create_invitation(CreateInvitationRequest {
            invitation: Some(Invitation {
                kind: InvitationKind::PurchaseOffer as i32,
                inviter_tenant_id: advisor.id,
                line_items: vec![w.line(0, ADVISOR_MPN)],
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        })
        .await
        .expect_err("an invitation's line names no partner of record");
    assert_eq!(invitation.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&invitation),
        ["invitation.line_items[0].partner_of_record_mpn_id"]
    );

    // A partner ID that names no indirect reseller of the provider is answered as a tenant id
    // that names none.
    let by_id = |reseller: String| {
        let mut client = sys.workflows(&w.provider_admin);
        let request = w.add(&customer, &reseller, vec![w.line(0, "")]);
        async move { client.add_subscriptions(request).await }
    };
    let unknown_id = by_id(uuid::Uuid::new_v4().to_string())
        .await
        .expect_err("an unknown reseller id");
    let unknown_mpn = by_id(NOBODYS_MPN.into())
        .await
        .expect_err("a partner ID nobody holds");
    assert_eq!(code_and_reason(&unknown_mpn), code_and_reason(&unknown_id));
    let advisor_id = by_id(w.advisor.id.clone())
        .await
        .expect_err("the advisor is no reseller of the provider");
    let advisor_mpn = by_id(ADVISOR_MPN.into())
        .await
        .expect_err("the advisor is no reseller of the provider");
    assert_eq!(code_and_reason(&advisor_mpn), code_and_reason(&advisor_id));
    let mut unknown_form = w.form("kista", NOBODYS_MPN, vec![w.line(0, "")]);
    unknown_form.validate_only = true;
    let unknown_review = sys
        .workflows(&w.provider_admin)
        .create_customer(unknown_form)
        .await
        .expect("review")
        .into_inner()
        .review
        .expect("a review");
    assert_eq!(
        unknown_review
            .problems
            .iter()
            .map(|p| (p.field.as_str(), p.reason.as_str()))
            .collect::<Vec<_>>(),
        [("indirect_reseller_id", reason(&unknown_id).as_str())]
    );
    assert_eq!(count().await, 1, "nothing was bought");
    sys.stop().await;
}
