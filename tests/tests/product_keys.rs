//! Seed 002, "Använda en produktnyckel för att konfigurera en klientprenumeration": the operator
//! issues product keys for an offer; a partner redeems one for a customer it sells to, and the
//! customer has the subscription. A key works once; a key for another cloud or country than the
//! customer's is refused with its reason; a partner that doesn't sell to the customer is
//! refused; bad input names its field.

use partnerhub_proto::gateway as gw;
use partnerhub_proto::subscriptions::subscription_internal_service_client::SubscriptionInternalServiceClient;
use partnerhub_proto::subscriptions::subscription_service_client::SubscriptionServiceClient;
use partnerhub_proto::subscriptions::{self as sub, subscription::State};
use partnerhub_proto::types::{Cloud, Money, PartnerType};
use partnerhub_tests::{TestSystem, bad_fields, customer_form, reason, refused};
use tonic::Code;

/// `SubscriptionService` through the gateway as the holder of `token`.
fn subscriptions(
    sys: &TestSystem,
    token: &str,
) -> SubscriptionServiceClient<partnerhub_tests::Authed> {
    SubscriptionServiceClient::new(sys.authed(token))
}

/// An offer the operator adds for the test: sold in Sweden and Norway, 1 to 300 licences.
async fn nordic_offer(sys: &TestSystem) -> sub::Offer {
    subscriptions(sys, &sys.operator)
        .create_offer(sub::CreateOfferRequest {
            offer: Some(sub::Offer {
                cloud: Cloud::Worldwide as i32,
                display_name: "Nordic Business Standard".into(),
                description: "Mail, files and meetings".into(),
                min_quantity: 1,
                max_quantity: 300,
                unit_price: Some(Money {
                    currency_code: "SEK".into(),
                    units: 120,
                    nanos: 0,
                }),
                country_codes: vec!["SE".into(), "NO".into()],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("CreateOffer")
        .into_inner()
        .offer
        .expect("offer")
}

/// The operator issues `count` keys of `quantity` licences of `offer`, sold in `country`.
async fn issue(
    sys: &TestSystem,
    offer: &str,
    count: i32,
    quantity: i32,
    country: &str,
) -> Result<Vec<sub::ProductKey>, tonic::Status> {
    subscriptions(sys, &sys.operator)
        .create_product_keys(sub::CreateProductKeysRequest {
            offer_id: offer.into(),
            count,
            quantity,
            country_code: country.into(),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .map(|r| r.into_inner().product_keys)
}

/// `partner` redeems `key` for `customer`, as the holder of `token`, with a new request id.
async fn redeem(
    sys: &TestSystem,
    token: &str,
    partner: &str,
    customer: &str,
    key: &str,
) -> Result<gw::RedeemProductKeyResponse, tonic::Status> {
    redeem_with(
        sys,
        token,
        partner,
        customer,
        key,
        &uuid::Uuid::new_v4().to_string(),
    )
    .await
}

async fn redeem_with(
    sys: &TestSystem,
    token: &str,
    partner: &str,
    customer: &str,
    key: &str,
    request_id: &str,
) -> Result<gw::RedeemProductKeyResponse, tonic::Status> {
    sys.workflows(token)
        .redeem_product_key(gw::RedeemProductKeyRequest {
            partner_tenant_id: partner.into(),
            customer_tenant_id: customer.into(),
            product_key: key.into(),
            request_id: request_id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The customer's subscriptions, as its admin (the holder of `token`) lists them.
async fn customer_subscriptions(
    sys: &TestSystem,
    token: &str,
    customer: &str,
) -> Vec<sub::Subscription> {
    subscriptions(sys, token)
        .list_subscriptions(sub::ListSubscriptionsRequest {
            customer_tenant_id: customer.into(),
            ..Default::default()
        })
        .await
        .expect("ListSubscriptions")
        .into_inner()
        .subscriptions
}

#[tokio::test]
async fn a_partner_redeems_a_key_once_for_its_customer_who_then_has_the_subscription() {
    let sys = TestSystem::start().await;
    let offer = nordic_offer(&sys).await;
    // The operator issues three keys of 25 licences, to be sold in Sweden.
    let keys = issue(&sys, &offer.id, 3, 25, "SE")
        .await
        .expect("CreateProductKeys");
    assert_eq!(keys.len(), 3);
    for k in &keys {
        assert_eq!(k.key.len(), 29, "five groups of five: {}", k.key);
        assert_eq!(k.key.split('-').count(), 5);
        assert_eq!((k.quantity, k.country_code.as_str()), (25, "SE"));
        assert!(k.subscription_id.is_empty());
    }
    assert_ne!(keys[0].key, keys[1].key);

    // A reseller with a customer in Sweden redeems the first key for it.
    let (reseller, reseller_admin) = sys
        .partner_admin("keyseller", "7100001", &[PartnerType::DirectProvider])
        .await;
    let (created, customer_admin) = sys
        .created_customer(&reseller_admin, &reseller.id, "keyskolan", Vec::new())
        .await;
    let customer = created.customer.expect("customer");
    let request_id = uuid::Uuid::new_v4().to_string();
    // Typed by a person: lower case, without dashes.
    let typed = keys[0].key.replace('-', "").to_lowercase();
    let redeemed = redeem_with(
        &sys,
        &reseller_admin,
        &reseller.id,
        &customer.id,
        &typed,
        &request_id,
    )
    .await
    .expect("RedeemProductKey");
    let subscription = redeemed.subscription.expect("subscription");
    assert_eq!(subscription.offer_id, offer.id);
    assert_eq!(subscription.quantity, 25);
    assert_eq!(subscription.state, State::Active as i32);
    assert_eq!(subscription.customer_tenant_id, customer.id);
    assert_eq!(subscription.billing_partner_tenant_id, reseller.id);
    let order = redeemed.order.expect("order");
    assert_eq!(
        order.subscription_ids,
        std::slice::from_ref(&subscription.id)
    );

    // The customer's admin sees it among its subscriptions.
    let listed = customer_subscriptions(&sys, &customer_admin, &customer.id).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, subscription.id);

    // The same request again answers the first result; nothing new is made.
    let again = redeem_with(
        &sys,
        &reseller_admin,
        &reseller.id,
        &customer.id,
        &typed,
        &request_id,
    )
    .await
    .expect("the same redemption again");
    assert_eq!(
        again.subscription.expect("subscription").id,
        subscription.id
    );

    // A second redemption of the key is refused, and makes nothing.
    let status = refused(
        redeem(
            &sys,
            &reseller_admin,
            &reseller.id,
            &customer.id,
            &keys[0].key,
        )
        .await,
        Code::FailedPrecondition,
        "a used key",
    );
    assert_eq!(reason(&status), "PRODUCT_KEY_ALREADY_REDEEMED");
    let listed = customer_subscriptions(&sys, &customer_admin, &customer.id).await;
    assert_eq!(listed.len(), 1, "no second subscription");

    // Two redemptions of one key at once: one wins, the other is refused.
    let at_once = partnerhub_tests::all_at_once(
        (0..2)
            .map(|_| {
                let mut workflows = sys.workflows(&reseller_admin);
                let request = gw::RedeemProductKeyRequest {
                    partner_tenant_id: reseller.id.clone(),
                    customer_tenant_id: customer.id.clone(),
                    product_key: keys[1].key.clone(),
                    request_id: uuid::Uuid::new_v4().to_string(),
                };
                async move { workflows.redeem_product_key(request).await }
            })
            .collect(),
    )
    .await;
    let won = at_once.iter().filter(|a| a.is_ok()).count();
    assert_eq!(won, 1, "{at_once:?}");
    for lost in at_once.iter().filter_map(|a| a.as_ref().err()) {
        assert_eq!(reason(lost), "PRODUCT_KEY_ALREADY_REDEEMED", "{lost:?}");
    }

    // A partner that doesn't sell to the customer is refused, and the key stays usable.
    let (stranger, stranger_admin) = sys
        .partner_admin("keystranger", "7100002", &[PartnerType::DirectProvider])
        .await;
    let status = refused(
        redeem(
            &sys,
            &stranger_admin,
            &stranger.id,
            &customer.id,
            &keys[2].key,
        )
        .await,
        Code::FailedPrecondition,
        "a partner without a reseller relationship",
    );
    assert_eq!(reason(&status), "NOT_RESELLER_OF_CUSTOMER");
    // A partner's user can't redeem in another partner's name, nor a customer's admin.
    for (token, who) in [
        (&stranger_admin, "another partner's admin"),
        (&customer_admin, "the customer's admin"),
    ] {
        refused(
            redeem(&sys, token, &reseller.id, &customer.id, &keys[2].key).await,
            Code::PermissionDenied,
            who,
        );
    }
    redeem(
        &sys,
        &reseller_admin,
        &reseller.id,
        &customer.id,
        &keys[2].key,
    )
    .await
    .expect("the key nobody could use is still good");

    // Only the operator issues keys.
    refused(
        subscriptions(&sys, &reseller_admin)
            .create_product_keys(sub::CreateProductKeysRequest {
                offer_id: offer.id.clone(),
                count: 1,
                quantity: 5,
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "a partner issues keys",
    );
    // The redemption's internal step is refused at the gateway.
    let status = refused(
        SubscriptionInternalServiceClient::new(sys.authed(&sys.operator))
            .redeem_product_key(sub::RedeemProductKeyRequest::default())
            .await,
        Code::PermissionDenied,
        "the internal step through the gateway",
    );
    assert_eq!(reason(&status), "INTERNAL_METHOD");
    sys.stop().await;
}

#[tokio::test]
async fn keys_for_another_cloud_or_country_unknown_keys_and_bad_input_are_refused() {
    let sys = TestSystem::start().await;
    let offer = nordic_offer(&sys).await;
    let (reseller, admin) = sys
        .partner_admin("keyseller", "7100003", &[PartnerType::DirectProvider])
        .await;
    let created = sys
        .workflows(&admin)
        .create_customer(customer_form(&reseller.id, "keyskola", Vec::new()))
        .await
        .expect("CreateCustomer")
        .into_inner();
    let customer = created.customer.expect("customer").id;

    // A key sold in Norway, for a customer in Sweden.
    let norwegian = issue(&sys, &offer.id, 1, 10, "NO").await.expect("NO key");
    let status = refused(
        redeem(&sys, &admin, &reseller.id, &customer, &norwegian[0].key).await,
        Code::InvalidArgument,
        "a key sold in another country",
    );
    assert_eq!(reason(&status), "OFFER_NOT_IN_COUNTRY");
    assert_eq!(bad_fields(&status), ["product_key"]);
    assert!(status.message().contains("NO"), "{status:?}");

    // A key of an offer of the German cloud, for a customer of the worldwide cloud.
    let german = sys.offers(&sys.operator, Cloud::Germany, "").await;
    let german = german.first().expect("an offer in the German cloud");
    let key = issue(&sys, &german.id, 1, german.min_quantity, "")
        .await
        .expect("DE key");
    let status = refused(
        redeem(&sys, &admin, &reseller.id, &customer, &key[0].key).await,
        Code::InvalidArgument,
        "a key for another cloud",
    );
    assert_eq!(reason(&status), "OFFER_NOT_IN_CLOUD");
    assert_eq!(bad_fields(&status), ["product_key"]);

    // A well-formed key nobody issued.
    let status = refused(
        redeem(
            &sys,
            &admin,
            &reseller.id,
            &customer,
            "7K3QD-M2XWP-9HTRV-C4N8B-ZJ6FY",
        )
        .await,
        Code::NotFound,
        "an unknown key",
    );
    assert_eq!(reason(&status), "PRODUCT_KEY_NOT_FOUND");

    // Malformed keys and ids name their fields.
    for bad in [
        "",
        "7K3QD-M2XWP-9HTRV-C4N8B",
        "UUUUU-UUUUU-UUUUU-UUUUU-UUUUU",
    ] {
        let status = refused(
            redeem(&sys, &admin, &reseller.id, &customer, bad).await,
            Code::InvalidArgument,
            bad,
        );
        assert_eq!(bad_fields(&status), ["product_key"], "{bad}");
    }
    let status = refused(
        redeem_with(
            &sys,
            &admin,
            &reseller.id,
            "not-a-uuid",
            &norwegian[0].key,
            "nope",
        )
        .await,
        Code::InvalidArgument,
        "a bad customer id and request id",
    );
    let mut fields = bad_fields(&status);
    fields.sort();
    assert_eq!(fields, ["customer_tenant_id", "request_id"]);

    // Issuing: counts, licences and countries out of bounds name their fields.
    for (count, quantity, country, field, why) in [
        (0, 10, "", "count", "no keys"),
        (1001, 10, "", "count", "too many keys"),
        (1, 0, "", "quantity", "no licences"),
        (
            1,
            301,
            "",
            "quantity",
            "more licences than the offer allows",
        ),
        (
            1,
            10,
            "DK",
            "country_code",
            "a country the offer isn't sold in",
        ),
        (1, 10, "Sverige", "country_code", "no country code"),
    ] {
        let status = refused(
            issue(&sys, &offer.id, count, quantity, country).await,
            Code::InvalidArgument,
            why,
        );
        assert_eq!(bad_fields(&status), [field], "{why}");
    }
    let status = refused(
        issue(&sys, &uuid::Uuid::new_v4().to_string(), 1, 10, "").await,
        Code::NotFound,
        "an unknown offer",
    );
    assert_eq!(reason(&status), "OFFER_NOT_FOUND");

    // A retried issue answers the same keys, without their values.
    let request_id = uuid::Uuid::new_v4().to_string();
    let create = sub::CreateProductKeysRequest {
        offer_id: offer.id.clone(),
        count: 2,
        quantity: 10,
        country_code: String::new(),
        request_id,
    };
    let mut client = subscriptions(&sys, &sys.operator);
    let first = client
        .create_product_keys(create.clone())
        .await
        .expect("first")
        .into_inner()
        .product_keys;
    let again = client
        .create_product_keys(create)
        .await
        .expect("retry")
        .into_inner()
        .product_keys;
    let ids = |keys: &[sub::ProductKey]| {
        let mut ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&first), ids(&again));
    assert!(first.iter().all(|k| !k.key.is_empty()));
    assert!(again.iter().all(|k| k.key.is_empty()), "values shown once");
    sys.stop().await;
}
