//! The subscriptions service, called directly: the offer catalogue, orders by a reseller and by
//! an indirect provider for its reseller (seed 003), the checks an order passes in turn,
//! review without writing, request id retries, changes by mask and etag, the partner of record
//! (seed 000), the state machine, and who sees and changes what.

use partnerhub_proto::relationships::relationship_internal_service_client::RelationshipInternalServiceClient;
use partnerhub_proto::relationships::relationship_service_client::RelationshipServiceClient;
use partnerhub_proto::relationships::{self as rpb, RelationshipType};
use partnerhub_proto::subscriptions::subscription::State;
use partnerhub_proto::subscriptions::subscription_internal_service_client::SubscriptionInternalServiceClient;
use partnerhub_proto::subscriptions::subscription_service_client::SubscriptionServiceClient;
use partnerhub_proto::subscriptions::{self as pb};
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::tenant_service_client::TenantServiceClient;
use partnerhub_proto::tenants::{self as tpb, agreement};
use partnerhub_proto::types::{Cloud, LineItem, Money, PartnerType};
use partnerhub_tests::{Peer, TestSystem, bad_fields, contact, customer, partner, reason};
use tonic::{Code, Status};
use uuid::Uuid;

// Offers of the shipped catalogue (services/subscriptions/catalogue.json).
/// Worldwide, 1 to 300 licences, every country.
const BUSINESS_BASIC: &str = "01a1fc99-ee8a-7d8f-9a4d-a85439c0beee";
/// Worldwide, 1 to 300 licences, every country.
const BUSINESS_STANDARD: &str = "01a1fc99-ee8b-7dd4-adfc-ab4fe853b15b";
/// Worldwide, 1 to 300 licences, every country.
const BUSINESS_PREMIUM: &str = "01a1fc99-ee8c-746b-806f-d16d702e599f";
/// Worldwide, no trial.
const EXCHANGE_PLAN_1: &str = "01a1fc99-ee8e-7520-af98-264faa6aea9c";
/// Worldwide, 25 to 1 000 000 licences, the Nordic countries only.
const EDUCATION_A1: &str = "01a1fc99-ee92-7ab8-937d-7aaf1de374f9";
/// Germany, EUR.
const GERMANY_BUSINESS_STANDARD: &str = "01a1fc99-ee94-7152-9ff9-dcff89a8f674";
/// Offers in the shipped catalogue.
const SHIPPED_OFFERS: usize = 14;

// ---- helpers ----

/// The system with direct clients of the services a subscriptions test needs.
struct Env {
    sys: TestSystem,
    subs: SubscriptionServiceClient<Peer>,
    internal: SubscriptionInternalServiceClient<Peer>,
    tenants: TenantServiceClient<Peer>,
    tenants_internal: TenantInternalServiceClient<Peer>,
    relationships: RelationshipServiceClient<Peer>,
    relationships_internal: RelationshipInternalServiceClient<Peer>,
}

impl Env {
    async fn start() -> Env {
        let sys = TestSystem::start().await;
        let subscriptions = sys.service("subscriptions").await;
        let tenants = sys.service("tenants").await;
        let relationships = sys.service("relationships").await;
        Env {
            subs: SubscriptionServiceClient::new(subscriptions.clone()),
            internal: SubscriptionInternalServiceClient::new(subscriptions),
            tenants: TenantServiceClient::new(tenants.clone()),
            tenants_internal: TenantInternalServiceClient::new(tenants),
            relationships: RelationshipServiceClient::new(relationships.clone()),
            relationships_internal: RelationshipInternalServiceClient::new(relationships),
            sys,
        }
    }

    async fn stop(self) {
        self.sys.stop().await;
    }

    /// A partner enrolled by the operator (worldwide, Sweden); its id.
    async fn partner(&self, prefix: &str, mpn_id: &str, types: &[PartnerType]) -> String {
        self.sys
            .create_partner(prefix, mpn_id, types)
            .await
            .tenant
            .id
    }

    /// A partner in another cloud and country; its id.
    async fn partner_in(
        &self,
        prefix: &str,
        mpn_id: &str,
        types: &[PartnerType],
        cloud: Cloud,
        country: &str,
    ) -> String {
        let mut tenant = partner(prefix, mpn_id, types);
        tenant.cloud = cloud as i32;
        tenant.country_code = country.into();
        self.sys
            .tenants(&self.sys.operator)
            .create_partner(tpb::CreatePartnerRequest {
                partner: Some(tenant),
                request_id: String::new(),
            })
            .await
            .expect("CreatePartner")
            .into_inner()
            .partner
            .expect("partner")
            .id
    }

    /// A customer tenant (active unless `pending`); its id.
    async fn customer(&self, prefix: &str, cloud: Cloud, country: &str, pending: bool) -> String {
        let mut new = customer(prefix);
        new.cloud = cloud as i32;
        new.country_code = country.into();
        let mut tenants = self.tenants_internal.clone();
        let id = tenants
            .create_customer_tenant(tpb::CreateCustomerTenantRequest {
                customer: Some(new),
                request_id: String::new(),
                validate_only: false,
                workflow_fingerprint: String::new(),
            })
            .await
            .expect("CreateCustomerTenant")
            .into_inner()
            .customer
            .expect("customer")
            .id;
        if !pending {
            tenants
                .activate_tenant(tpb::ActivateTenantRequest {
                    tenant_id: id.clone(),
                })
                .await
                .expect("ActivateTenant");
        }
        id
    }

    /// The tenant accepts its agreement (customer or partner).
    async fn accept(&self, tenant_id: &str, kind: agreement::Type) {
        self.tenants
            .clone()
            .accept_agreement(tpb::AcceptAgreementRequest {
                tenant_id: tenant_id.into(),
                r#type: kind as i32,
                signer: Some(contact("Maja", "Ek")),
            })
            .await
            .expect("AcceptAgreement");
    }

    /// A relationship of `kind` (an INDIRECT_RESELLER one under `provider`); its id.
    async fn relate(
        &self,
        kind: RelationshipType,
        partner: &str,
        client: &str,
        provider: &str,
    ) -> String {
        self.relationships_internal
            .clone()
            .create_relationships(rpb::CreateRelationshipsRequest {
                relationships: vec![rpb::NewRelationship {
                    r#type: kind as i32,
                    partner_tenant_id: partner.into(),
                    client_tenant_id: client.into(),
                    indirect_provider_tenant_id: provider.into(),
                    ..Default::default()
                }],
                request_id: String::new(),
            })
            .await
            .expect("CreateRelationships")
            .into_inner()
            .relationships
            .remove(0)
            .id
    }

    /// A direct provider with a customer it resells to, which accepted the customer agreement:
    /// (partner, customer).
    async fn reseller_and_customer(&self) -> (String, String) {
        let partner = self
            .partner("contoso", "1000001", &[PartnerType::DirectProvider])
            .await;
        let customer = self.customer("skolan", Cloud::Worldwide, "SE", false).await;
        self.relate(RelationshipType::Reseller, &partner, &customer, "")
            .await;
        self.accept(&customer, agreement::Type::CustomerAgreement)
            .await;
        (partner, customer)
    }

    async fn place(
        &self,
        request: pb::PlaceOrderRequest,
    ) -> Result<pb::PlaceOrderResponse, Status> {
        self.subs
            .clone()
            .place_order(request)
            .await
            .map(tonic::Response::into_inner)
    }

    async fn placed(&self, request: pb::PlaceOrderRequest) -> pb::PlaceOrderResponse {
        self.place(request).await.expect("PlaceOrder")
    }

    async fn get(&self, tenant_id: &str, id: &str) -> Result<pb::Subscription, Status> {
        self.subs
            .clone()
            .get_subscription(pb::GetSubscriptionRequest {
                tenant_id: tenant_id.into(),
                subscription_id: id.into(),
            })
            .await
            .map(|r| r.into_inner().subscription.expect("subscription"))
    }

    async fn list(&self, request: pb::ListSubscriptionsRequest) -> Vec<pb::Subscription> {
        self.subs
            .clone()
            .list_subscriptions(pb::ListSubscriptionsRequest {
                page_size: 1000,
                ..request
            })
            .await
            .expect("ListSubscriptions")
            .into_inner()
            .subscriptions
    }

    async fn orders(&self, request: pb::ListOrdersRequest) -> Vec<pb::Order> {
        self.subs
            .clone()
            .list_orders(pb::ListOrdersRequest {
                page_size: 1000,
                ..request
            })
            .await
            .expect("ListOrders")
            .into_inner()
            .orders
    }

    async fn get_order(&self, tenant_id: &str, id: &str) -> Result<pb::Order, Status> {
        self.subs
            .clone()
            .get_order(pb::GetOrderRequest {
                tenant_id: tenant_id.into(),
                order_id: id.into(),
            })
            .await
            .map(|r| r.into_inner().order.expect("order"))
    }

    async fn offers(
        &self,
        request: pb::ListOffersRequest,
    ) -> Result<pb::ListOffersResponse, Status> {
        self.subs
            .clone()
            .list_offers(request)
            .await
            .map(tonic::Response::into_inner)
    }

    async fn update(
        &self,
        tenant_id: &str,
        subscription: pb::Subscription,
        paths: &[&str],
    ) -> Result<pb::Subscription, Status> {
        self.subs
            .clone()
            .update_subscription(pb::UpdateSubscriptionRequest {
                tenant_id: tenant_id.into(),
                subscription: Some(subscription),
                update_mask: (!paths.is_empty()).then(|| prost_types::FieldMask {
                    paths: paths.iter().map(|p| p.to_string()).collect(),
                }),
            })
            .await
            .map(|r| r.into_inner().subscription.expect("subscription"))
    }

    async fn suspend(
        &self,
        tenant_id: &str,
        id: &str,
        etag: &str,
    ) -> Result<pb::Subscription, Status> {
        self.subs
            .clone()
            .suspend_subscription(pb::SuspendSubscriptionRequest {
                tenant_id: tenant_id.into(),
                subscription_id: id.into(),
                etag: etag.into(),
            })
            .await
            .map(|r| r.into_inner().subscription.expect("subscription"))
    }

    async fn reactivate(
        &self,
        tenant_id: &str,
        id: &str,
        etag: &str,
    ) -> Result<pb::Subscription, Status> {
        self.subs
            .clone()
            .reactivate_subscription(pb::ReactivateSubscriptionRequest {
                tenant_id: tenant_id.into(),
                subscription_id: id.into(),
                etag: etag.into(),
            })
            .await
            .map(|r| r.into_inner().subscription.expect("subscription"))
    }

    async fn cancel(
        &self,
        tenant_id: &str,
        id: &str,
        etag: &str,
    ) -> Result<pb::Subscription, Status> {
        self.subs
            .clone()
            .cancel_subscription(pb::CancelSubscriptionRequest {
                tenant_id: tenant_id.into(),
                subscription_id: id.into(),
                etag: etag.into(),
            })
            .await
            .map(|r| r.into_inner().subscription.expect("subscription"))
    }
}

fn line(offer_id: &str, quantity: i32) -> LineItem {
    LineItem {
        offer_id: offer_id.into(),
        quantity,
        ..Default::default()
    }
}

fn order(partner: &str, customer: &str, lines: Vec<LineItem>) -> pb::PlaceOrderRequest {
    pb::PlaceOrderRequest {
        customer_tenant_id: customer.into(),
        partner_tenant_id: partner.into(),
        line_items: lines,
        ..Default::default()
    }
}

fn uuid() -> String {
    Uuid::now_v7().to_string()
}

/// The call failed with this code and reason.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, why: &str) -> Status {
    let status = result.expect_err(why);
    assert_eq!(status.code(), code, "{why}: {status:?}");
    assert_eq!(reason(&status), why, "{status:?}");
    status
}

/// INVALID_ARGUMENT naming exactly these fields.
#[track_caller]
fn invalid<T: std::fmt::Debug>(result: Result<T, Status>, fields: &[&str]) -> Status {
    let status = result.expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(bad_fields(&status), fields, "{status:?}");
    status
}

fn ids<'a>(items: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    items.into_iter().cloned().collect()
}

// ---- the catalogue ----

#[tokio::test]
async fn the_catalogue_is_listed_filtered_and_paged() {
    let env = Env::start().await;
    let all = env
        .offers(pb::ListOffersRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("ListOffers")
        .offers;
    assert_eq!(all.len(), SHIPPED_OFFERS);
    let names: Vec<_> = all.iter().map(|o| o.display_name.as_str()).collect();
    for name in [
        "Business Basic",
        "Enterprise E3",
        "Teams Essentials",
        "Visio Plan 2",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }

    // The Germany cloud sells in Germany, in euros.
    let germany = env
        .offers(pb::ListOffersRequest {
            cloud: Cloud::Germany as i32,
            ..Default::default()
        })
        .await
        .expect("ListOffers")
        .offers;
    assert_eq!(germany.len(), 2);
    for o in &germany {
        assert_eq!(o.country_codes, ["DE"]);
        assert_eq!(o.unit_price.as_ref().expect("price").currency_code, "EUR");
    }
    let china = env
        .offers(pb::ListOffersRequest {
            cloud: Cloud::China21vianet as i32,
            ..Default::default()
        })
        .await
        .expect("ListOffers")
        .offers;
    assert!(
        china
            .iter()
            .all(|o| o.unit_price.as_ref().expect("price").currency_code == "CNY")
    );

    // By country: offers for every country, and those listing it.
    let in_cloud_and_country = |country: &str| pb::ListOffersRequest {
        cloud: Cloud::Worldwide as i32,
        country_code: country.into(),
        page_size: 1000,
        ..Default::default()
    };
    let norway = env
        .offers(in_cloud_and_country("NO"))
        .await
        .expect("ListOffers")
        .offers;
    let united_states = env
        .offers(in_cloud_and_country("US"))
        .await
        .expect("ListOffers")
        .offers;
    let has = |offers: &[pb::Offer], id: &str| offers.iter().any(|o| o.id == id);
    assert!(has(&norway, EDUCATION_A1) && has(&norway, BUSINESS_BASIC));
    assert!(!has(&united_states, EDUCATION_A1) && has(&united_states, BUSINESS_BASIC));
    assert_eq!(norway.len(), united_states.len() + 2);

    // With a trial only.
    let trials = env
        .offers(pb::ListOffersRequest {
            trial_available: true,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("ListOffers")
        .offers;
    assert!(trials.iter().all(|o| o.trial_available && o.trial_days > 0));
    assert!(!has(&trials, EXCHANGE_PLAN_1));

    // Pages of 5 follow each other to the whole list.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = env
            .offers(pb::ListOffersRequest {
                page_size: 5,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("a page");
        assert!(page.offers.len() <= 5);
        paged.extend(page.offers);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(paged, all);
    let first = env
        .offers(pb::ListOffersRequest {
            page_size: 5,
            ..Default::default()
        })
        .await
        .expect("a page");
    invalid(
        env.offers(pb::ListOffersRequest {
            page_size: 5,
            page_token: first.next_page_token,
            cloud: Cloud::Germany as i32,
            ..Default::default()
        })
        .await,
        &["page_token"],
    );
    invalid(
        env.offers(pb::ListOffersRequest {
            country_code: "se".into(),
            cloud: 99,
            ..Default::default()
        })
        .await,
        &["cloud", "country_code"],
    );

    // One offer.
    let mut subs = env.subs.clone();
    let basic = subs
        .get_offer(pb::GetOfferRequest {
            offer_id: BUSINESS_BASIC.into(),
        })
        .await
        .expect("GetOffer")
        .into_inner()
        .offer
        .expect("offer");
    assert_eq!(basic.display_name, "Business Basic");
    assert_eq!((basic.min_quantity, basic.max_quantity), (1, 300));
    assert!(basic.create_time.is_some());
    refused(
        subs.get_offer(pb::GetOfferRequest { offer_id: uuid() })
            .await,
        Code::NotFound,
        "OFFER_NOT_FOUND",
    );
    invalid(
        subs.get_offer(pb::GetOfferRequest {
            offer_id: "basic".into(),
        })
        .await,
        &["offer_id"],
    );
    env.stop().await;
}

fn new_offer() -> pb::Offer {
    pb::Offer {
        cloud: Cloud::Germany as i32,
        display_name: "Project Plan 1".into(),
        description: "Project management in the web app".into(),
        min_quantity: 1,
        max_quantity: 1000,
        trial_available: true,
        trial_days: 30,
        unit_price: Some(Money {
            currency_code: "EUR".into(),
            units: 9,
            nanos: 400_000_000,
        }),
        country_codes: vec![],
        ..Default::default()
    }
}

#[tokio::test]
async fn the_operator_adds_an_offer_once_per_request_id() {
    let env = Env::start().await;
    let mut subs = env.subs.clone();
    let request_id = uuid();
    let create = |offer: pb::Offer, request_id: &str| pb::CreateOfferRequest {
        offer: Some(offer),
        request_id: request_id.into(),
    };
    let created = subs
        .create_offer(create(new_offer(), &request_id))
        .await
        .expect("CreateOffer")
        .into_inner()
        .offer
        .expect("offer");
    // "Every country" of the Germany cloud is Germany.
    assert_eq!(created.country_codes, ["DE"]);
    assert!(Uuid::parse_str(&created.id).is_ok());
    let again = subs
        .create_offer(create(new_offer(), &request_id))
        .await
        .expect("a retry")
        .into_inner()
        .offer
        .expect("offer");
    assert_eq!(again, created);
    let other = pb::Offer {
        max_quantity: 2000,
        ..new_offer()
    };
    let status = refused(
        subs.create_offer(create(other, &request_id)).await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    assert_eq!(bad_fields(&status), ["request_id"]);

    // Listed and read like the shipped offers.
    let germany = env
        .offers(pb::ListOffersRequest {
            cloud: Cloud::Germany as i32,
            ..Default::default()
        })
        .await
        .expect("ListOffers")
        .offers;
    assert_eq!(germany.len(), 3);
    assert_eq!(germany.last(), Some(&created));
    let got = subs
        .get_offer(pb::GetOfferRequest {
            offer_id: created.id.clone(),
        })
        .await
        .expect("GetOffer")
        .into_inner()
        .offer;
    assert_eq!(got, Some(created));

    // Every bad field at once.
    let bad = pb::Offer {
        cloud: Cloud::Germany as i32,
        display_name: " ".into(),
        description: String::new(),
        min_quantity: 10,
        max_quantity: 5,
        trial_available: false,
        trial_days: 30,
        unit_price: Some(Money {
            currency_code: "euro".into(),
            units: 1,
            nanos: 0,
        }),
        country_codes: vec!["AT".into()],
        ..Default::default()
    };
    invalid(
        subs.create_offer(create(bad, "")).await,
        &[
            "offer.display_name",
            "offer.description",
            "offer.max_quantity",
            "offer.trial_days",
            "offer.unit_price.currency_code",
            "offer.country_codes[0]",
        ],
    );
    invalid(
        subs.create_offer(pb::CreateOfferRequest {
            offer: None,
            request_id: "again".into(),
        })
        .await,
        &["request_id", "offer"],
    );
    assert_eq!(
        env.offers(pb::ListOffersRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("ListOffers")
        .offers
        .len(),
        SHIPPED_OFFERS + 1
    );
    env.stop().await;
}

// ---- orders ----

#[tokio::test]
async fn a_reseller_orders_subscriptions_for_its_customer() {
    let env = Env::start().await;
    let (partner, customer) = env.reseller_and_customer().await;
    let placed = env
        .placed(order(
            &partner,
            &customer,
            vec![line(BUSINESS_BASIC, 25), line(EXCHANGE_PLAN_1, 3)],
        ))
        .await;
    let o = placed.order.expect("order");
    assert!(Uuid::parse_str(&o.id).is_ok());
    assert_eq!(o.customer_tenant_id, customer);
    assert_eq!(o.partner_tenant_id, partner);
    assert_eq!(o.indirect_reseller_id, "");
    assert_eq!(
        o.line_items,
        [line(BUSINESS_BASIC, 25), line(EXCHANGE_PLAN_1, 3)]
    );
    assert_eq!(
        o.subscription_ids,
        ids(placed.subscriptions.iter().map(|s| &s.id))
    );
    let [basic, exchange] = placed.subscriptions.as_slice() else {
        panic!("one subscription per line item");
    };
    assert_eq!(basic.offer_display_name, "Business Basic");
    assert_eq!(exchange.offer_display_name, "Exchange Online Plan 1");
    for (s, quantity) in [(basic, 25), (exchange, 3)] {
        assert_eq!(s.quantity, quantity);
        assert_eq!(s.state, State::Active as i32);
        assert!(s.auto_renew);
        assert_eq!(s.customer_tenant_id, customer);
        assert_eq!(s.billing_partner_tenant_id, partner);
        assert_eq!(s.support_contact_tenant_id, partner);
        assert_eq!(s.indirect_reseller_id, "");
        assert_eq!(s.partner_of_record_mpn_id, "");
        assert_eq!(s.order_id, o.id);
        assert!(s.trial_end_time.is_none());
        assert!(!s.etag.is_empty());
    }

    // The customer and the partner read the order; nobody else sees it.
    assert_eq!(env.get_order(&customer, &o.id).await.expect("GetOrder"), o);
    assert_eq!(env.get_order(&partner, &o.id).await.expect("GetOrder"), o);
    refused(
        env.get_order(&uuid(), &o.id).await,
        Code::NotFound,
        "ORDER_NOT_FOUND",
    );
    invalid(env.get_order("me", "it").await, &["tenant_id", "order_id"]);
    let by_customer = env
        .orders(pb::ListOrdersRequest {
            customer_tenant_id: customer.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(by_customer, std::slice::from_ref(&o));
    let by_partner = env
        .orders(pb::ListOrdersRequest {
            partner_tenant_id: partner.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(by_partner, std::slice::from_ref(&o));
    assert!(
        env.orders(pb::ListOrdersRequest {
            customer_tenant_id: customer.clone(),
            partner_tenant_id: uuid(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    invalid(
        env.subs
            .clone()
            .list_orders(pb::ListOrdersRequest::default())
            .await,
        &["customer_tenant_id"],
    );

    // The subscriptions, one by one and listed.
    assert_eq!(&env.get(&customer, &basic.id).await.expect("Get"), basic);
    assert_eq!(&env.get(&partner, &basic.id).await.expect("Get"), basic);
    refused(
        env.get(&uuid(), &basic.id).await,
        Code::NotFound,
        "SUBSCRIPTION_NOT_FOUND",
    );
    let of_customer = env
        .list(pb::ListSubscriptionsRequest {
            customer_tenant_id: customer.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(of_customer, placed.subscriptions);
    let billed = env
        .list(pb::ListSubscriptionsRequest {
            billing_partner_tenant_id: partner.clone(),
            state: State::Active as i32,
            ..Default::default()
        })
        .await;
    assert_eq!(billed, placed.subscriptions);
    assert!(
        env.list(pb::ListSubscriptionsRequest {
            customer_tenant_id: customer.clone(),
            state: State::Suspended as i32,
            ..Default::default()
        })
        .await
        .is_empty()
    );
    let page = env
        .subs
        .clone()
        .list_subscriptions(pb::ListSubscriptionsRequest {
            customer_tenant_id: customer.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("a page")
        .into_inner();
    assert_eq!(page.subscriptions, std::slice::from_ref(basic));
    let next = env
        .subs
        .clone()
        .list_subscriptions(pb::ListSubscriptionsRequest {
            customer_tenant_id: customer.clone(),
            page_size: 1,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .expect("the next page")
        .into_inner();
    assert_eq!(next.subscriptions, std::slice::from_ref(exchange));
    assert!(next.next_page_token.is_empty());
    invalid(
        env.subs
            .clone()
            .list_subscriptions(pb::ListSubscriptionsRequest {
                state: 42,
                ..Default::default()
            })
            .await,
        &["customer_tenant_id", "state"],
    );
    env.stop().await;
}

#[tokio::test]
async fn an_order_passes_the_customer_the_seller_the_agreement_and_the_line_items_in_turn() {
    let env = Env::start().await;
    let partner = env
        .partner("contoso", "1000001", &[PartnerType::DirectProvider])
        .await;
    // A German school in the worldwide cloud, not active yet: a pending customer may be ordered
    // for (the CreateCustomer workflow orders before it activates it).
    let customer = env.customer("schule", Cloud::Worldwide, "DE", true).await;
    let good = || order(&partner, &customer, vec![line(BUSINESS_BASIC, 10)]);

    // 1. The customer must exist and be a customer.
    refused(
        env.place(order(&partner, &uuid(), vec![line(BUSINESS_BASIC, 1)]))
            .await,
        Code::NotFound,
        "TENANT_NOT_FOUND",
    );
    let other_partner = env
        .partner("fabrikam", "1000002", &[PartnerType::DirectProvider])
        .await;
    refused(
        env.place(order(
            &partner,
            &other_partner,
            vec![line(BUSINESS_BASIC, 1)],
        ))
        .await,
        Code::FailedPrecondition,
        "NOT_A_CUSTOMER",
    );
    // 2. The partner must resell to it.
    let status = refused(
        env.place(good()).await,
        Code::FailedPrecondition,
        "NOT_RESELLER_OF_CUSTOMER",
    );
    assert!(
        status.message().contains("no reseller relationship"),
        "{status:?}"
    );
    // A relationship of another kind does not do.
    env.relate(RelationshipType::Advisor, &partner, &customer, "")
        .await;
    refused(
        env.place(good()).await,
        Code::FailedPrecondition,
        "NOT_RESELLER_OF_CUSTOMER",
    );
    let reseller_relationship = env
        .relate(RelationshipType::Reseller, &partner, &customer, "")
        .await;
    // 3. The customer agreement.
    refused(
        env.place(good()).await,
        Code::FailedPrecondition,
        "AGREEMENT_NOT_ACCEPTED",
    );
    env.accept(&customer, agreement::Type::CustomerAgreement)
        .await;

    // 4. The line items: every problem named, the first one's reason.
    let status = refused(
        env.place(order(
            &partner,
            &customer,
            vec![
                line(GERMANY_BUSINESS_STANDARD, 5),
                line(EDUCATION_A1, 10),
                line(BUSINESS_BASIC, 301),
                line(&uuid(), 1),
                line(BUSINESS_STANDARD, 0),
            ],
        ))
        .await,
        Code::InvalidArgument,
        "OFFER_NOT_IN_CLOUD",
    );
    assert_eq!(
        bad_fields(&status),
        [
            "line_items[0].offer_id",
            "line_items[1].offer_id",
            "line_items[1].quantity",
            "line_items[2].quantity",
            "line_items[3].offer_id",
            "line_items[4].quantity",
        ]
    );
    assert!(status.message().contains("25 to 1000000"), "{status:?}");
    assert!(status.message().contains("1 to 300"), "{status:?}");
    refused(
        env.place(order(&partner, &customer, vec![line(EDUCATION_A1, 30)]))
            .await,
        Code::InvalidArgument,
        "OFFER_NOT_IN_COUNTRY",
    );
    refused(
        env.place(order(&partner, &customer, vec![line(BUSINESS_BASIC, 301)]))
            .await,
        Code::InvalidArgument,
        "QUANTITY_OUT_OF_BOUNDS",
    );
    refused(
        env.place(order(&partner, &customer, vec![line(&uuid(), 1)]))
            .await,
        Code::InvalidArgument,
        "OFFER_NOT_FOUND",
    );

    // Malformed requests name their fields before anything is asked.
    invalid(
        env.place(order(&partner, &customer, vec![])).await,
        &["line_items"],
    );
    invalid(
        env.place(order(
            &partner,
            &customer,
            vec![line(BUSINESS_BASIC, 1); 51],
        ))
        .await,
        &["line_items"],
    );
    invalid(
        env.place(pb::PlaceOrderRequest {
            customer_tenant_id: "skolan".into(),
            partner_tenant_id: String::new(),
            line_items: vec![line("basic", 1)],
            reseller_is_support_contact: true,
            request_id: "once".into(),
            ..Default::default()
        })
        .await,
        &[
            "customer_tenant_id",
            "partner_tenant_id",
            "reseller_is_support_contact",
            "line_items[0].offer_id",
            "request_id",
        ],
    );
    invalid(
        env.place(pb::PlaceOrderRequest {
            indirect_reseller_id: customer.clone(),
            ..good()
        })
        .await,
        &["indirect_reseller_id"],
    );
    // Nothing was written by any of them.
    assert!(
        env.orders(pb::ListOrdersRequest {
            customer_tenant_id: customer.clone(),
            ..Default::default()
        })
        .await
        .is_empty()
    );

    // Now it goes through.
    let placed = env.placed(good()).await;
    assert_eq!(placed.subscriptions.len(), 1);

    // An ended reseller relationship ends the partner's right to order.
    env.relationships
        .clone()
        .terminate_relationship(rpb::TerminateRelationshipRequest {
            tenant_id: partner.clone(),
            relationship_id: reseller_relationship,
        })
        .await
        .expect("TerminateRelationship");
    refused(
        env.place(good()).await,
        Code::FailedPrecondition,
        "NOT_RESELLER_OF_CUSTOMER",
    );
    env.stop().await;
}

#[tokio::test]
async fn a_customer_in_the_germany_cloud_buys_the_germany_offers() {
    let env = Env::start().await;
    let partner = env
        .partner_in(
            "partnerde",
            "1000003",
            &[PartnerType::DirectProvider],
            Cloud::Germany,
            "DE",
        )
        .await;
    let customer = env.customer("schulede", Cloud::Germany, "DE", false).await;
    env.relate(RelationshipType::Reseller, &partner, &customer, "")
        .await;
    env.accept(&customer, agreement::Type::CustomerAgreement)
        .await;
    let placed = env
        .placed(order(
            &partner,
            &customer,
            vec![line(GERMANY_BUSINESS_STANDARD, 20)],
        ))
        .await;
    assert_eq!(placed.subscriptions[0].offer_id, GERMANY_BUSINESS_STANDARD);
    refused(
        env.place(order(&partner, &customer, vec![line(BUSINESS_BASIC, 20)]))
            .await,
        Code::InvalidArgument,
        "OFFER_NOT_IN_CLOUD",
    );
    env.stop().await;
}

#[tokio::test]
async fn a_review_with_validate_only_checks_everything_and_writes_nothing() {
    let env = Env::start().await;
    let (partner, customer) = env.reseller_and_customer().await;
    let request_id = uuid();
    let review = pb::PlaceOrderRequest {
        validate_only: true,
        request_id: request_id.clone(),
        ..order(
            &partner,
            &customer,
            vec![line(BUSINESS_BASIC, 25), line(EDUCATION_A1, 100)],
        )
    };
    let reviewed = env.placed(review.clone()).await;
    let o = reviewed.order.expect("order");
    assert_eq!(o.id, "");
    assert!(o.subscription_ids.is_empty());
    assert_eq!(o.line_items.len(), 2);
    assert_eq!(reviewed.subscriptions.len(), 2);
    for s in &reviewed.subscriptions {
        assert_eq!(s.id, "");
        assert_eq!(s.etag, "");
        assert_eq!(s.state, State::Active as i32);
        assert_eq!(s.billing_partner_tenant_id, partner);
        assert_eq!(s.customer_tenant_id, customer);
    }
    assert_eq!(
        reviewed.subscriptions[1].offer_display_name,
        "Education A1 for Students"
    );
    // A review checks as an order does.
    refused(
        env.place(pb::PlaceOrderRequest {
            line_items: vec![line(EDUCATION_A1, 1)],
            ..review.clone()
        })
        .await,
        Code::InvalidArgument,
        "QUANTITY_OUT_OF_BOUNDS",
    );
    refused(
        env.place(pb::PlaceOrderRequest {
            partner_tenant_id: uuid(),
            ..review.clone()
        })
        .await,
        Code::FailedPrecondition,
        "NOT_RESELLER_OF_CUSTOMER",
    );
    assert!(
        env.orders(pb::ListOrdersRequest {
            customer_tenant_id: customer.clone(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert!(
        env.list(pb::ListSubscriptionsRequest {
            customer_tenant_id: customer.clone(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    // Submitting after the review, with the same request id, places the order.
    let placed = env
        .placed(pb::PlaceOrderRequest {
            validate_only: false,
            ..review
        })
        .await;
    assert_eq!(placed.subscriptions.len(), 2);
    env.stop().await;
}

#[tokio::test]
async fn a_retried_order_is_placed_once() {
    let env = Env::start().await;
    let (partner, customer) = env.reseller_and_customer().await;
    let request = pb::PlaceOrderRequest {
        request_id: uuid(),
        ..order(&partner, &customer, vec![line(BUSINESS_STANDARD, 12)])
    };
    let first = env.placed(request.clone()).await;
    let again = env.placed(request.clone()).await;
    assert_eq!(again, first);
    let status = refused(
        env.place(pb::PlaceOrderRequest {
            line_items: vec![line(BUSINESS_STANDARD, 13)],
            ..request.clone()
        })
        .await,
        Code::InvalidArgument,
        "REQUEST_ID_REUSED",
    );
    assert_eq!(bad_fields(&status), ["request_id"]);

    // Concurrent twins: one order.
    let twin = pb::PlaceOrderRequest {
        request_id: uuid(),
        ..order(&partner, &customer, vec![line(BUSINESS_BASIC, 7)])
    };
    let results = at_once(&env, twin, 6).await;
    let order_ids: std::collections::HashSet<_> = results
        .iter()
        .map(|r| r.order.as_ref().expect("order").id.clone())
        .collect();
    assert_eq!(order_ids.len(), 1, "{order_ids:?}");
    let orders = env
        .orders(pb::ListOrdersRequest {
            customer_tenant_id: customer.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(orders.len(), 2);
    assert_eq!(
        env.list(pb::ListSubscriptionsRequest {
            customer_tenant_id: customer.clone(),
            ..Default::default()
        })
        .await
        .len(),
        2
    );
    env.stop().await;
}

/// `n` copies of one request at once; every answer.
async fn at_once(
    env: &Env,
    request: pb::PlaceOrderRequest,
    n: usize,
) -> Vec<pb::PlaceOrderResponse> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let mut subs = env.subs.clone();
        let request = request.clone();
        tasks.spawn(async move {
            subs.place_order(request)
                .await
                .map(tonic::Response::into_inner)
        });
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        out.push(done.expect("task").expect("PlaceOrder"));
    }
    out
}

// ---- indirect providers and their resellers (seed 003) ----

/// An indirect provider, a reseller in partnership with it (partner agreement accepted), and
/// a customer of the reseller under the provider, with the customer agreement accepted:
/// (provider, reseller, customer).
async fn two_tier(env: &Env) -> (String, String, String) {
    let provider = env
        .partner("provider", "2000001", &[PartnerType::IndirectProvider])
        .await;
    let reseller = env
        .partner("reseller", "2000002", &[PartnerType::IndirectReseller])
        .await;
    let customer = env.customer("kunden", Cloud::Worldwide, "SE", false).await;
    env.relate(
        RelationshipType::IndirectPartnership,
        &provider,
        &reseller,
        "",
    )
    .await;
    env.relate(
        RelationshipType::IndirectReseller,
        &reseller,
        &customer,
        &provider,
    )
    .await;
    env.accept(&reseller, agreement::Type::PartnerAgreement)
        .await;
    env.accept(&customer, agreement::Type::CustomerAgreement)
        .await;
    (provider, reseller, customer)
}

#[tokio::test]
async fn an_indirect_provider_orders_for_its_resellers_customer() {
    let env = Env::start().await;
    let (provider, reseller, customer) = two_tier(&env).await;
    let placed = env
        .placed(pb::PlaceOrderRequest {
            indirect_reseller_id: reseller.clone(),
            reseller_is_support_contact: true,
            ..order(
                &provider,
                &customer,
                vec![line(BUSINESS_PREMIUM, 40), line(EXCHANGE_PLAN_1, 2)],
            )
        })
        .await;
    let o = placed.order.expect("order");
    assert_eq!(o.partner_tenant_id, provider);
    assert_eq!(o.indirect_reseller_id, reseller);
    for s in &placed.subscriptions {
        assert_eq!(s.billing_partner_tenant_id, provider);
        assert_eq!(s.indirect_reseller_id, reseller);
        assert_eq!(s.support_contact_tenant_id, reseller);
    }
    // Without asking, the provider stays the support contact.
    let plain = env
        .placed(pb::PlaceOrderRequest {
            indirect_reseller_id: reseller.clone(),
            ..order(&provider, &customer, vec![line(BUSINESS_BASIC, 5)])
        })
        .await;
    assert_eq!(plain.subscriptions[0].support_contact_tenant_id, provider);

    // The reseller sees the order and its subscriptions, and finds them by its id.
    assert_eq!(env.get_order(&reseller, &o.id).await.expect("GetOrder"), o);
    let first = &placed.subscriptions[0];
    assert_eq!(&env.get(&reseller, &first.id).await.expect("Get"), first);
    let sold_through = env
        .list(pb::ListSubscriptionsRequest {
            indirect_reseller_id: reseller.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(sold_through.len(), 3);
    let both = env
        .list(pb::ListSubscriptionsRequest {
            billing_partner_tenant_id: provider.clone(),
            indirect_reseller_id: reseller.clone(),
            customer_tenant_id: customer.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(both, sold_through);

    // The reseller itself does not bill the customer: it can't place orders for it.
    refused(
        env.place(order(&reseller, &customer, vec![line(BUSINESS_BASIC, 5)]))
            .await,
        Code::FailedPrecondition,
        "NOT_RESELLER_OF_CUSTOMER",
    );
    env.stop().await;
}

#[tokio::test]
async fn a_reseller_on_an_order_must_be_in_partnership_and_have_accepted_the_partner_agreement() {
    let env = Env::start().await;
    let (provider, customer) = env.reseller_and_customer().await;
    let reseller = env
        .partner("reseller", "2000002", &[PartnerType::IndirectReseller])
        .await;
    let through = || pb::PlaceOrderRequest {
        indirect_reseller_id: reseller.clone(),
        ..order(&provider, &customer, vec![line(BUSINESS_BASIC, 5)])
    };
    refused(
        env.place(through()).await,
        Code::FailedPrecondition,
        "RESELLER_NOT_IN_PARTNERSHIP",
    );
    // A partnership the other way round does not count.
    env.relate(
        RelationshipType::IndirectPartnership,
        &reseller,
        &provider,
        "",
    )
    .await;
    refused(
        env.place(through()).await,
        Code::FailedPrecondition,
        "RESELLER_NOT_IN_PARTNERSHIP",
    );
    let partnership = env
        .relate(
            RelationshipType::IndirectPartnership,
            &provider,
            &reseller,
            "",
        )
        .await;
    refused(
        env.place(through()).await,
        Code::FailedPrecondition,
        "RESELLER_AGREEMENT_NOT_ACCEPTED",
    );
    env.accept(&reseller, agreement::Type::PartnerAgreement)
        .await;
    env.placed(through()).await;
    // An ended partnership ends it again.
    env.relationships
        .clone()
        .terminate_relationship(rpb::TerminateRelationshipRequest {
            tenant_id: provider.clone(),
            relationship_id: partnership,
        })
        .await
        .expect("TerminateRelationship");
    refused(
        env.place(through()).await,
        Code::FailedPrecondition,
        "RESELLER_NOT_IN_PARTNERSHIP",
    );
    env.stop().await;
}

// ---- changes ----

#[tokio::test]
async fn a_subscription_changes_by_mask_with_its_etag() {
    let env = Env::start().await;
    let (provider, reseller, customer) = two_tier(&env).await;
    let placed = env
        .placed(pb::PlaceOrderRequest {
            indirect_reseller_id: reseller.clone(),
            ..order(&provider, &customer, vec![line(BUSINESS_BASIC, 10)])
        })
        .await;
    let s = placed.subscriptions[0].clone();
    let id = s.id.clone();
    let with = |s: pb::Subscription| pb::Subscription {
        id: id.clone(),
        ..s
    };

    // The quantity, with the current etag.
    let bigger = env
        .update(
            &customer,
            with(pb::Subscription {
                quantity: 15,
                etag: s.etag.clone(),
                ..Default::default()
            }),
            &["quantity"],
        )
        .await
        .expect("more licences");
    assert_eq!(bigger.quantity, 15);
    assert_ne!(bigger.etag, s.etag);
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos));
    assert!(time(&bigger.update_time) > time(&s.update_time));
    // The etag read before is stale now.
    refused(
        env.update(
            &customer,
            with(pb::Subscription {
                quantity: 16,
                etag: s.etag.clone(),
                ..Default::default()
            }),
            &["quantity"],
        )
        .await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    let status = refused(
        env.update(
            &provider,
            with(pb::Subscription {
                quantity: 500,
                ..Default::default()
            }),
            &["quantity"],
        )
        .await,
        Code::InvalidArgument,
        "QUANTITY_OUT_OF_BOUNDS",
    );
    assert_eq!(bad_fields(&status), ["subscription.quantity"]);
    assert!(status.message().contains("1 to 300"), "{status:?}");

    // Only the masked paths change; the billing partner may change it too.
    let manual = env
        .update(
            &provider,
            with(pb::Subscription {
                quantity: 99,
                auto_renew: false,
                ..Default::default()
            }),
            &["auto_renew"],
        )
        .await
        .expect("auto renew off");
    assert!(!manual.auto_renew);
    assert_eq!(manual.quantity, 15);
    // Without a mask, the fields set are the ones changed.
    let implied = env
        .update(
            &customer,
            with(pb::Subscription {
                quantity: 20,
                ..Default::default()
            }),
            &[],
        )
        .await
        .expect("implied mask");
    assert_eq!((implied.quantity, implied.auto_renew), (20, false));
    invalid(
        env.update(
            &customer,
            with(pb::Subscription {
                etag: "7".into(),
                ..Default::default()
            }),
            &["state", "quantity"],
        )
        .await,
        &["subscription.etag", "update_mask.paths[0]"],
    );
    invalid(
        env.update(&customer, with(pb::Subscription::default()), &[])
            .await,
        &["update_mask"],
    );
    invalid(
        env.subs
            .clone()
            .update_subscription(pb::UpdateSubscriptionRequest {
                tenant_id: customer.clone(),
                subscription: None,
                update_mask: None,
            })
            .await,
        &["subscription"],
    );

    // The support contact: the reseller or the billing partner, nobody else.
    let contact = env
        .update(
            &provider,
            with(pb::Subscription {
                support_contact_tenant_id: reseller.clone(),
                ..Default::default()
            }),
            &["support_contact_tenant_id"],
        )
        .await
        .expect("the reseller takes support");
    assert_eq!(contact.support_contact_tenant_id, reseller);
    invalid(
        env.update(
            &provider,
            with(pb::Subscription {
                support_contact_tenant_id: uuid(),
                ..Default::default()
            }),
            &["support_contact_tenant_id"],
        )
        .await,
        &["subscription.support_contact_tenant_id"],
    );

    // Who may change it: the reseller and the support contact may read it, not change it.
    let status = refused(
        env.update(
            &reseller,
            with(pb::Subscription {
                quantity: 11,
                ..Default::default()
            }),
            &["quantity"],
        )
        .await,
        Code::PermissionDenied,
        "SUBSCRIPTION_CHANGE_NOT_ALLOWED",
    );
    assert!(status.message().contains("customer or the billing partner"));
    refused(
        env.update(
            &uuid(),
            with(pb::Subscription {
                quantity: 11,
                ..Default::default()
            }),
            &["quantity"],
        )
        .await,
        Code::NotFound,
        "SUBSCRIPTION_NOT_FOUND",
    );

    // The reseller leaves: its support falls back to the billing partner.
    let cleared = env
        .update(
            &provider,
            with(pb::Subscription::default()),
            &["indirect_reseller_id"],
        )
        .await
        .expect("clear the reseller");
    assert_eq!(cleared.indirect_reseller_id, "");
    assert_eq!(cleared.support_contact_tenant_id, provider);
    // Now the reseller can't even see it.
    refused(
        env.get(&reseller, &id).await,
        Code::NotFound,
        "SUBSCRIPTION_NOT_FOUND",
    );
    // A reseller comes back only through the same checks as on an order.
    let stranger = env
        .partner("stranger", "2000009", &[PartnerType::IndirectReseller])
        .await;
    refused(
        env.update(
            &provider,
            with(pb::Subscription {
                indirect_reseller_id: stranger.clone(),
                ..Default::default()
            }),
            &["indirect_reseller_id"],
        )
        .await,
        Code::FailedPrecondition,
        "RESELLER_NOT_IN_PARTNERSHIP",
    );
    env.relate(
        RelationshipType::IndirectPartnership,
        &provider,
        &stranger,
        "",
    )
    .await;
    refused(
        env.update(
            &provider,
            with(pb::Subscription {
                indirect_reseller_id: stranger.clone(),
                ..Default::default()
            }),
            &["indirect_reseller_id"],
        )
        .await,
        Code::FailedPrecondition,
        "RESELLER_AGREEMENT_NOT_ACCEPTED",
    );
    let back = env
        .update(
            &provider,
            with(pb::Subscription {
                indirect_reseller_id: reseller.clone(),
                support_contact_tenant_id: reseller.clone(),
                ..Default::default()
            }),
            &["indirect_reseller_id", "support_contact_tenant_id"],
        )
        .await
        .expect("the reseller is back, as support contact");
    assert_eq!(back.indirect_reseller_id, reseller);
    assert_eq!(back.support_contact_tenant_id, reseller);
    // Who supports it is the billing partner's to say, not the customer's.
    let status = env
        .update(
            &customer,
            with(pb::Subscription::default()),
            &["support_contact_tenant_id"],
        )
        .await
        .expect_err("the customer");
    assert_eq!(status.code(), Code::PermissionDenied);
    // Empty support contact: back to the billing partner.
    let reset = env
        .update(
            &provider,
            with(pb::Subscription::default()),
            &["support_contact_tenant_id"],
        )
        .await
        .expect("support contact reset");
    assert_eq!(reset.support_contact_tenant_id, provider);
    env.stop().await;
}

#[tokio::test]
async fn the_partner_of_record_is_an_advisor_in_the_customers_cloud_verified_by_its_id() {
    let env = Env::start().await;
    let (partner, customer) = env.reseller_and_customer().await;
    env.partner("advisor", "3000001", &[PartnerType::Advisor])
        .await;
    env.partner("nonadvisor", "3000002", &[PartnerType::DirectProvider])
        .await;
    env.partner_in(
        "advisorde",
        "3000003",
        &[PartnerType::Advisor],
        Cloud::Germany,
        "DE",
    )
    .await;
    let s = env
        .placed(order(&partner, &customer, vec![line(BUSINESS_BASIC, 10)]))
        .await
        .subscriptions
        .remove(0);
    let por = |mpn_id: &str| pb::Subscription {
        id: s.id.clone(),
        partner_of_record_mpn_id: mpn_id.into(),
        ..Default::default()
    };
    let added = env
        .update(&customer, por("3000001"), &["partner_of_record_mpn_id"])
        .await
        .expect("add the partner of record");
    assert_eq!(added.partner_of_record_mpn_id, "3000001");
    refused(
        env.update(&customer, por("3000002"), &["partner_of_record_mpn_id"])
            .await,
        Code::FailedPrecondition,
        "PARTNER_NOT_ADVISOR",
    );
    refused(
        env.update(&customer, por("3000003"), &["partner_of_record_mpn_id"])
            .await,
        Code::FailedPrecondition,
        "PARTNER_NOT_IN_CLOUD",
    );
    refused(
        env.update(&customer, por("3999999"), &["partner_of_record_mpn_id"])
            .await,
        Code::NotFound,
        "PARTNER_ID_NOT_FOUND",
    );
    for bad in ["12345", "123456789", "12a4567", "0123456"] {
        invalid(
            env.update(&customer, por(bad), &["partner_of_record_mpn_id"])
                .await,
            &["subscription.partner_of_record_mpn_id"],
        );
    }
    assert_eq!(
        env.get(&customer, &s.id)
            .await
            .expect("Get")
            .partner_of_record_mpn_id,
        "3000001"
    );
    // Clearing it clears it for real.
    let cleared = env
        .update(&partner, por(""), &["partner_of_record_mpn_id"])
        .await
        .expect("clear the partner of record");
    assert_eq!(cleared.partner_of_record_mpn_id, "");
    assert_eq!(
        env.get(&customer, &s.id)
            .await
            .expect("Get")
            .partner_of_record_mpn_id,
        ""
    );
    env.stop().await;
}

#[tokio::test]
async fn suspend_reactivate_and_cancel_follow_the_state_machine() {
    let env = Env::start().await;
    let (provider, reseller, customer) = two_tier(&env).await;
    let placed = env
        .placed(pb::PlaceOrderRequest {
            indirect_reseller_id: reseller.clone(),
            reseller_is_support_contact: true,
            ..order(&provider, &customer, vec![line(BUSINESS_BASIC, 10)])
        })
        .await;
    let s = placed.subscriptions[0].clone();
    let id = s.id.as_str();

    let suspended = env.suspend(&provider, id, &s.etag).await.expect("suspend");
    assert_eq!(suspended.state, State::Suspended as i32);
    let status = refused(
        env.suspend(&provider, id, "").await,
        Code::FailedPrecondition,
        "INVALID_TRANSITION",
    );
    assert!(status.message().contains("suspended"), "{status:?}");
    assert!(status.message().contains("only an active"), "{status:?}");
    assert_eq!(
        env.list(pb::ListSubscriptionsRequest {
            customer_tenant_id: customer.clone(),
            state: State::Suspended as i32,
            ..Default::default()
        })
        .await,
        std::slice::from_ref(&suspended)
    );
    let active = env
        .reactivate(&customer, id, &suspended.etag)
        .await
        .expect("reactivate");
    assert_eq!(active.state, State::Active as i32);
    let status = refused(
        env.reactivate(&customer, id, "").await,
        Code::FailedPrecondition,
        "INVALID_TRANSITION",
    );
    assert!(status.message().contains("only a suspended"), "{status:?}");

    // The reseller (support contact) reads it but can't change its state; others don't see it.
    refused(
        env.suspend(&reseller, id, "").await,
        Code::PermissionDenied,
        "SUBSCRIPTION_CHANGE_NOT_ALLOWED",
    );
    refused(
        env.cancel(&uuid(), id, "").await,
        Code::NotFound,
        "SUBSCRIPTION_NOT_FOUND",
    );
    // A stale etag is refused before anything is decided.
    refused(
        env.cancel(&customer, id, &suspended.etag).await,
        Code::Aborted,
        "ETAG_MISMATCH",
    );
    invalid(
        env.cancel("", "x", "3").await,
        &["tenant_id", "subscription_id", "etag"],
    );

    let cancelled = env
        .cancel(&customer, id, &active.etag)
        .await
        .expect("cancel");
    assert_eq!(cancelled.state, State::Cancelled as i32);
    for result in [
        env.cancel(&customer, id, "").await,
        env.reactivate(&customer, id, "").await,
        env.suspend(&provider, id, "").await,
    ] {
        let status = refused(result, Code::FailedPrecondition, "INVALID_TRANSITION");
        assert!(status.message().contains("cancelled"), "{status:?}");
    }
    refused(
        env.update(
            &customer,
            pb::Subscription {
                id: id.into(),
                quantity: 12,
                ..Default::default()
            },
            &["quantity"],
        )
        .await,
        Code::FailedPrecondition,
        "SUBSCRIPTION_ENDED",
    );
    assert_eq!(&env.get(&reseller, id).await.expect("Get"), &cancelled);
    assert_eq!(
        env.list(pb::ListSubscriptionsRequest {
            indirect_reseller_id: reseller.clone(),
            state: State::Cancelled as i32,
            ..Default::default()
        })
        .await,
        [cancelled]
    );
    env.stop().await;
}

// ---- the internal methods ----

#[tokio::test]
async fn line_items_are_checked_for_a_customer_that_does_not_exist_yet() {
    let env = Env::start().await;
    let mut internal = env.internal.clone();
    let checked = internal
        .check_line_items(pb::CheckLineItemsRequest {
            cloud: Cloud::Worldwide as i32,
            country_code: "NO".into(),
            line_items: vec![
                line(BUSINESS_BASIC, 10),
                line(GERMANY_BUSINESS_STANDARD, 10),
                line(EDUCATION_A1, 5),
            ],
            trial_customer_tenant_id: String::new(),
        })
        .await
        .expect("CheckLineItems")
        .into_inner();
    // Problems are answered, not raised; the good line shows its subscription.
    assert_eq!(checked.subscriptions.len(), 1);
    assert_eq!(checked.subscriptions[0].offer_id, BUSINESS_BASIC);
    assert_eq!(checked.subscriptions[0].quantity, 10);
    assert_eq!(checked.subscriptions[0].id, "");
    let problems: Vec<_> = checked
        .problems
        .iter()
        .map(|p| (p.field.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(
        problems,
        [
            ("line_items[1].offer_id", "OFFER_NOT_IN_CLOUD"),
            ("line_items[2].quantity", "QUANTITY_OUT_OF_BOUNDS"),
        ]
    );
    let fine = internal
        .check_line_items(pb::CheckLineItemsRequest {
            cloud: Cloud::Germany as i32,
            country_code: "DE".into(),
            line_items: vec![line(GERMANY_BUSINESS_STANDARD, 10)],
            trial_customer_tenant_id: String::new(),
        })
        .await
        .expect("CheckLineItems")
        .into_inner();
    assert!(fine.problems.is_empty());
    invalid(
        internal
            .check_line_items(pb::CheckLineItemsRequest {
                cloud: 0,
                country_code: "Norway".into(),
                line_items: vec![],
                trial_customer_tenant_id: String::new(),
            })
            .await,
        &["cloud", "country_code", "line_items"],
    );
    env.stop().await;
}

// ---- advisor subscriptions (seed 002) ----

/// Teams Essentials: worldwide, 30-day trial, 1 to 300 licences.
const TEAMS_ESSENTIALS: &str = "01a1fc99-ee8f-76bf-b73f-9b0b06c3de00";
const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);

fn advisor_request(
    customer: &str,
    mpn_id: &str,
    lines: Vec<LineItem>,
    trial: bool,
) -> pb::CreateAdvisorSubscriptionsRequest {
    pb::CreateAdvisorSubscriptionsRequest {
        customer_tenant_id: customer.into(),
        partner_of_record_mpn_id: mpn_id.into(),
        line_items: lines,
        trial,
        request_id: String::new(),
    }
}

impl Env {
    async fn advisor_subscriptions(
        &self,
        request: pb::CreateAdvisorSubscriptionsRequest,
    ) -> Result<Vec<pb::Subscription>, Status> {
        self.internal
            .clone()
            .create_advisor_subscriptions(request)
            .await
            .map(|r| r.into_inner().subscriptions)
    }
}

#[tokio::test]
async fn an_advisor_brings_trials_and_paid_subscriptions_once_per_request_id() {
    let env = Env::start().await;
    env.partner("advisor", "3000001", &[PartnerType::Advisor])
        .await;
    // No reseller relationship and no agreement: the gateway's acceptance checks those.
    let customer = env.customer("skolan", Cloud::Worldwide, "SE", false).await;
    let clock = env.sys.clock.clone();
    let request_id = uuid();
    let trial = pb::CreateAdvisorSubscriptionsRequest {
        request_id: request_id.clone(),
        ..advisor_request(
            &customer,
            "3000001",
            vec![line(BUSINESS_BASIC, 25), line(TEAMS_ESSENTIALS, 5)],
            true,
        )
    };
    let trials = env
        .advisor_subscriptions(trial.clone())
        .await
        .expect("trials");
    assert_eq!(trials.len(), 2);
    for (s, (offer, quantity)) in trials
        .iter()
        .zip([(BUSINESS_BASIC, 25), (TEAMS_ESSENTIALS, 5)])
    {
        assert_eq!(s.state, State::Trial as i32);
        assert_eq!((s.offer_id.as_str(), s.quantity), (offer, quantity));
        assert_eq!(s.customer_tenant_id, customer);
        assert_eq!(s.partner_of_record_mpn_id, "3000001");
        assert_eq!(s.billing_partner_tenant_id, "");
        assert_eq!(s.order_id, "");
        let end = s.trial_end_time.expect("trial end");
        let created = s.create_time.expect("create time");
        assert_eq!(end.seconds - created.seconds, 30 * 86_400);
    }
    // A retry answers the same subscriptions and makes no more.
    let again = env
        .advisor_subscriptions(trial.clone())
        .await
        .expect("retry");
    assert_eq!(
        again.iter().map(|s| &s.id).collect::<Vec<_>>(),
        trials.iter().map(|s| &s.id).collect::<Vec<_>>()
    );
    invalid(
        env.advisor_subscriptions(pb::CreateAdvisorSubscriptionsRequest {
            trial: false,
            ..trial.clone()
        })
        .await,
        &["request_id"],
    );
    let listed = env
        .list(pb::ListSubscriptionsRequest {
            customer_tenant_id: customer.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(listed.len(), 2);
    // The customer sees them.
    let got = env
        .get(&customer, &trials[0].id)
        .await
        .expect("customer reads");
    assert_eq!(got.state, State::Trial as i32);

    // Paid subscriptions of an advisor's purchase offer.
    let paid = env
        .advisor_subscriptions(advisor_request(
            &customer,
            "3000001",
            vec![line(EXCHANGE_PLAN_1, 40)],
            false,
        ))
        .await
        .expect("paid");
    assert_eq!(paid[0].state, State::Active as i32);
    assert_eq!(paid[0].quantity, 40);
    assert_eq!(paid[0].trial_end_time, None);
    assert_eq!(paid[0].partner_of_record_mpn_id, "3000001");
    assert_eq!(paid[0].billing_partner_tenant_id, "");
    // Paid Business Basic after its trial is fine.
    env.advisor_subscriptions(advisor_request(
        &customer,
        "3000001",
        vec![line(BUSINESS_BASIC, 3)],
        false,
    ))
    .await
    .expect("paid after a trial");

    // The same trial twice is refused, while it runs and after it ended, naming the line.
    let twice = refused(
        env.advisor_subscriptions(advisor_request(
            &customer,
            "3000001",
            vec![line(BUSINESS_PREMIUM, 1), line(BUSINESS_BASIC, 25)],
            true,
        ))
        .await,
        Code::FailedPrecondition,
        "TRIAL_ALREADY_TAKEN",
    );
    assert_eq!(bad_fields(&twice), ["line_items[1].offer_id"]);
    clock.advance(31 * DAY);
    let ended = env.get(&customer, &trials[1].id).await.expect("read");
    assert_eq!(ended.state, State::Expired as i32);
    let after_end = refused(
        env.advisor_subscriptions(advisor_request(
            &customer,
            "3000001",
            vec![line(TEAMS_ESSENTIALS, 1)],
            true,
        ))
        .await,
        Code::FailedPrecondition,
        "TRIAL_ALREADY_TAKEN",
    );
    assert_eq!(bad_fields(&after_end), ["line_items[0].offer_id"]);
    // Nothing of a refused request was written.
    let listed = env
        .list(pb::ListSubscriptionsRequest {
            customer_tenant_id: customer.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(listed.len(), 4);
    env.stop().await;
}

#[tokio::test]
async fn advisor_subscriptions_are_checked_like_orders() {
    let env = Env::start().await;
    env.partner("advisor", "3000001", &[PartnerType::Advisor])
        .await;
    env.partner("notadvisor", "3000002", &[PartnerType::DirectProvider])
        .await;
    let partner = env
        .partner("contoso", "1000001", &[PartnerType::DirectProvider])
        .await;
    let customer = env.customer("skolan", Cloud::Worldwide, "SE", false).await;
    invalid(
        env.advisor_subscriptions(pb::CreateAdvisorSubscriptionsRequest::default())
            .await,
        &[
            "customer_tenant_id",
            "partner_of_record_mpn_id",
            "line_items",
        ],
    );
    // One trial per offer: a request can't ask for two.
    invalid(
        env.advisor_subscriptions(advisor_request(
            &customer,
            "3000001",
            vec![line(BUSINESS_BASIC, 1), line(BUSINESS_BASIC, 2)],
            true,
        ))
        .await,
        &["line_items[1].offer_id"],
    );
    refused(
        env.advisor_subscriptions(advisor_request(
            &uuid(),
            "3000001",
            vec![line(BUSINESS_BASIC, 1)],
            true,
        ))
        .await,
        Code::NotFound,
        "TENANT_NOT_FOUND",
    );
    refused(
        env.advisor_subscriptions(advisor_request(
            &partner,
            "3000001",
            vec![line(BUSINESS_BASIC, 1)],
            true,
        ))
        .await,
        Code::FailedPrecondition,
        "NOT_A_CUSTOMER",
    );
    refused(
        env.advisor_subscriptions(advisor_request(
            &customer,
            "3000002",
            vec![line(BUSINESS_BASIC, 1)],
            true,
        ))
        .await,
        Code::FailedPrecondition,
        "PARTNER_NOT_ADVISOR",
    );
    // The line items as for an order: cloud, country, bounds.
    let status = refused(
        env.advisor_subscriptions(advisor_request(
            &customer,
            "3000001",
            vec![
                line(GERMANY_BUSINESS_STANDARD, 1),
                line(BUSINESS_BASIC, 301),
            ],
            false,
        ))
        .await,
        Code::InvalidArgument,
        "OFFER_NOT_IN_CLOUD",
    );
    assert_eq!(
        bad_fields(&status),
        ["line_items[0].offer_id", "line_items[1].quantity"]
    );
    // A trial of an offer that has none.
    let status = refused(
        env.advisor_subscriptions(advisor_request(
            &customer,
            "3000001",
            vec![line(BUSINESS_BASIC, 1), line(EXCHANGE_PLAN_1, 1)],
            true,
        ))
        .await,
        Code::FailedPrecondition,
        "TRIAL_NOT_AVAILABLE",
    );
    assert_eq!(bad_fields(&status), ["line_items[1].offer_id"]);
    assert!(
        env.list(pb::ListSubscriptionsRequest {
            customer_tenant_id: customer.clone(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    env.stop().await;
}

#[tokio::test]
async fn an_order_of_an_offer_ends_the_customers_trial_of_it() {
    let env = Env::start().await;
    env.partner("advisor", "3000001", &[PartnerType::Advisor])
        .await;
    let (partner, customer) = env.reseller_and_customer().await;
    let trials = env
        .advisor_subscriptions(advisor_request(
            &customer,
            "3000001",
            vec![line(BUSINESS_BASIC, 25), line(TEAMS_ESSENTIALS, 5)],
            true,
        ))
        .await
        .expect("trials");
    let placed = env
        .placed(order(&partner, &customer, vec![line(BUSINESS_BASIC, 30)]))
        .await;
    assert_eq!(placed.subscriptions[0].state, State::Active as i32);
    assert_eq!(placed.subscriptions[0].quantity, 30);
    let bought = env.get(&customer, &trials[0].id).await.expect("read");
    assert_eq!(bought.state, State::Expired as i32);
    let other = env.get(&customer, &trials[1].id).await.expect("read");
    assert_eq!(other.state, State::Trial as i32);
    let by_state = |state: State| {
        let env = &env;
        let customer = customer.clone();
        async move {
            env.list(pb::ListSubscriptionsRequest {
                customer_tenant_id: customer,
                state: state as i32,
                ..Default::default()
            })
            .await
            .into_iter()
            .map(|s| s.id)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(by_state(State::Expired).await, [trials[0].id.clone()]);
    assert_eq!(by_state(State::Trial).await, [trials[1].id.clone()]);
    // The other trial runs out on the clock; every read agrees.
    env.sys.clock.advance(31 * DAY);
    assert_eq!(
        by_state(State::Expired).await,
        [trials[0].id.clone(), trials[1].id.clone()]
    );
    assert!(by_state(State::Trial).await.is_empty());
    env.stop().await;
}
