//! Licences assigned to users (seeds 000, 001, 004), through the gateway: a partner's admin
//! agent, acting in a customer through delegated admin, assigns the customer's licences to its
//! users; the customer's admin lists them by user and by subscription; a race can't assign more
//! than the quantity; the quantity can't go below what is assigned; a deleted user loses its
//! licences; a cancelled subscription's licences go and a suspended one's stay, unusable; and
//! who may not, and what bad input is told.

use partnerhub_proto::gateway::{ListAuditEventsRequest, audit_service_client::AuditServiceClient};
use partnerhub_proto::subscriptions::{
    self as sub, license_assignment, subscription_service_client::SubscriptionServiceClient,
};
use partnerhub_proto::tenants::{self as pb, Tenant};
use partnerhub_proto::types::{Cloud, LineItem, PartnerType, Role};
use partnerhub_tests::{TestSystem, all_at_once, bad_fields, metadata, reason};
use tonic::Code;

fn subscriptions(
    sys: &TestSystem,
    token: &str,
) -> SubscriptionServiceClient<partnerhub_tests::Authed> {
    SubscriptionServiceClient::new(sys.authed(token))
}

/// A customer Fabrikam (a direct provider) created with one subscription of `quantity`
/// licences of Business Basic (which takes 1 to 300), with delegated admin (global admin and
/// helpdesk admin, the default) as CreateCustomer grants it.
struct Story {
    sys: TestSystem,
    partner: Tenant,
    partner_admin: String,
    customer: Tenant,
    customer_admin: String,
    subscription: sub::Subscription,
}

impl Story {
    async fn new(quantity: i32) -> Story {
        let sys = TestSystem::start().await;
        let (partner, partner_admin) = sys
            .partner_admin("fabrikam", "4060001", &[PartnerType::DirectProvider])
            .await;
        let offer = sys
            .offers(&partner_admin, Cloud::Worldwide, "SE")
            .await
            .into_iter()
            .find(|o| o.display_name == "Business Basic")
            .expect("Business Basic is sold in Sweden");
        let line = LineItem {
            offer_id: offer.id,
            quantity,
            partner_of_record_mpn_id: String::new(),
            ..Default::default()
        };
        let (created, customer_admin) = sys
            .created_customer(&partner_admin, &partner.id, "skolan", vec![line])
            .await;
        Story {
            partner,
            partner_admin,
            customer: created.customer.expect("customer"),
            customer_admin,
            subscription: created.subscriptions[0].clone(),
            sys,
        }
    }

    /// Users of the customer without roles, made by its admin.
    async fn users(&self, names: &[&str]) -> Vec<pb::User> {
        let mut out = Vec::new();
        for name in names {
            let (user, _) = self
                .sys
                .new_user(&self.customer_admin, &self.customer.id, name, &[])
                .await;
            out.push(user);
        }
        out
    }

    /// A signed-in user of the partner holding `role`.
    async fn partner_user(&self, name: &str, role: Role) -> String {
        self.sys
            .user(&self.partner_admin, &self.partner.id, name, &[role])
            .await
            .1
    }

    fn assign(&self, users: &[&pb::User]) -> sub::AssignLicensesRequest {
        sub::AssignLicensesRequest {
            tenant_id: self.customer.id.clone(),
            subscription_id: self.subscription.id.clone(),
            user_ids: users.iter().map(|u| u.id.clone()).collect(),
            request_id: String::new(),
        }
    }

    fn remove(&self, users: &[&pb::User]) -> sub::RemoveLicensesRequest {
        sub::RemoveLicensesRequest {
            tenant_id: self.customer.id.clone(),
            subscription_id: self.subscription.id.clone(),
            user_ids: users.iter().map(|u| u.id.clone()).collect(),
        }
    }

    /// The subscription as the customer's admin reads it.
    async fn subscription(&self) -> sub::Subscription {
        subscriptions(&self.sys, &self.customer_admin)
            .get_subscription(sub::GetSubscriptionRequest {
                tenant_id: self.customer.id.clone(),
                subscription_id: self.subscription.id.clone(),
            })
            .await
            .expect("GetSubscription")
            .into_inner()
            .subscription
            .expect("subscription")
    }

    /// The users holding a licence of the subscription, as the customer's admin lists them.
    async fn holders(&self) -> Vec<sub::LicenseAssignment> {
        subscriptions(&self.sys, &self.customer_admin)
            .list_license_assignments(sub::ListLicenseAssignmentsRequest {
                tenant_id: self.customer.id.clone(),
                subscription_id: self.subscription.id.clone(),
                ..Default::default()
            })
            .await
            .expect("ListLicenseAssignments")
            .into_inner()
            .assignments
    }

    /// The partner (billing it) changes the subscription's quantity.
    async fn set_quantity(&self, quantity: i32) -> Result<sub::Subscription, tonic::Status> {
        subscriptions(&self.sys, &self.partner_admin)
            .update_subscription(sub::UpdateSubscriptionRequest {
                tenant_id: self.partner.id.clone(),
                subscription: Some(sub::Subscription {
                    id: self.subscription.id.clone(),
                    quantity,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["quantity".into()],
                }),
            })
            .await
            .map(|r| r.into_inner().subscription.expect("subscription"))
    }
}

fn ids(assignments: &[sub::LicenseAssignment]) -> Vec<String> {
    let mut ids: Vec<String> = assignments.iter().map(|a| a.user_id.clone()).collect();
    ids.sort();
    ids
}

fn sorted(users: &[&pb::User]) -> Vec<String> {
    let mut ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_partners_admin_agent_assigns_the_customers_licences_and_the_customer_sees_them() {
    let story = Story::new(3).await;
    let sys = &story.sys;
    let agent = story.partner_user("agent", Role::AdminAgent).await;
    let users = story.users(&["anna", "bo", "cai", "dan"]).await;
    let (anna, bo, cai, dan) = (&users[0], &users[1], &users[2], &users[3]);

    // A new subscription: three licences, none assigned.
    assert_eq!(story.subscription.assigned_licenses, 0);
    assert_eq!(story.subscription.available_licenses, 3);

    // Seed 004: the partner's admin agent acts in the customer through delegated admin.
    let assigned = subscriptions(sys, &agent)
        .assign_licenses(story.assign(&[anna, bo]))
        .await
        .expect("AssignLicenses as the partner's admin agent")
        .into_inner();
    assert_eq!(ids(&assigned.assignments), sorted(&[anna, bo]));
    assert!(assigned.assignments.iter().all(|a| {
        a.state == license_assignment::State::Active as i32
            && a.offer_display_name == "Business Basic"
            && a.customer_tenant_id == story.customer.id
    }));
    let after = assigned.subscription.expect("subscription");
    assert_eq!((after.assigned_licenses, after.available_licenses), (2, 1));

    // Assigning a user who holds one already changes nothing (counted once).
    let again = subscriptions(sys, &agent)
        .assign_licenses(story.assign(&[anna]))
        .await
        .expect("AssignLicenses again")
        .into_inner();
    assert_eq!(again.subscription.expect("s").assigned_licenses, 2);

    // The customer's admin sees the counts on the subscription and in the list.
    let read = story.subscription().await;
    assert_eq!((read.assigned_licenses, read.available_licenses), (2, 1));
    let listed = subscriptions(sys, &story.customer_admin)
        .list_subscriptions(sub::ListSubscriptionsRequest {
            customer_tenant_id: story.customer.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListSubscriptions")
        .into_inner()
        .subscriptions;
    assert_eq!(listed[0].assigned_licenses, 2);

    // By user: the licences Anna holds.
    let annas = subscriptions(sys, &story.customer_admin)
        .list_license_assignments(sub::ListLicenseAssignmentsRequest {
            tenant_id: story.customer.id.clone(),
            user_id: anna.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListLicenseAssignments by user")
        .into_inner();
    assert_eq!(annas.assignments.len(), 1);
    assert_eq!(annas.assignments[0].subscription_id, story.subscription.id);

    // By subscription, a page at a time.
    let mut client = subscriptions(sys, &story.customer_admin);
    let first = client
        .list_license_assignments(sub::ListLicenseAssignmentsRequest {
            tenant_id: story.customer.id.clone(),
            subscription_id: story.subscription.id.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.assignments.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let second = client
        .list_license_assignments(sub::ListLicenseAssignmentsRequest {
            tenant_id: story.customer.id.clone(),
            subscription_id: story.subscription.id.clone(),
            page_size: 1,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(second.assignments.len(), 1);
    assert_ne!(second.assignments[0].user_id, first.assignments[0].user_id);

    // Two more than the one left: all or nothing, with the numbers.
    let short = subscriptions(sys, &agent)
        .assign_licenses(story.assign(&[cai, dan]))
        .await
        .expect_err("more than the quantity");
    assert_eq!(short.code(), Code::FailedPrecondition);
    assert_eq!(reason(&short), "NOT_ENOUGH_LICENSES");
    assert_eq!(metadata(&short, "available"), "1");
    assert_eq!(metadata(&short, "requested"), "2");
    assert_eq!(
        ids(&story.holders().await),
        sorted(&[anna, bo]),
        "nothing assigned"
    );

    // The quantity can't go below what is assigned: the partner is told both numbers.
    let lowered = story
        .set_quantity(1)
        .await
        .expect_err("below what is assigned");
    assert_eq!(lowered.code(), Code::FailedPrecondition);
    assert_eq!(reason(&lowered), "LICENSES_ASSIGNED");
    assert_eq!(metadata(&lowered, "assigned"), "2");
    assert_eq!(metadata(&lowered, "requested"), "1");
    assert!(
        lowered.message().contains("2 licences"),
        "{}",
        lowered.message()
    );

    // The customer's admin takes Bo's licence back; then the quantity can go to 1.
    let removed = subscriptions(sys, &story.customer_admin)
        .remove_licenses(story.remove(&[bo]))
        .await
        .expect("RemoveLicenses")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(removed.assigned_licenses, 1);
    let lowered = story
        .set_quantity(1)
        .await
        .expect("down to what is assigned");
    assert_eq!(
        (lowered.assigned_licenses, lowered.available_licenses),
        (1, 0)
    );

    // Bo holds none any more: removing it again names him.
    let gone = subscriptions(sys, &story.customer_admin)
        .remove_licenses(story.remove(&[anna, bo]))
        .await
        .expect_err("Bo holds no licence");
    assert_eq!(gone.code(), Code::NotFound);
    assert_eq!(reason(&gone), "LICENSE_NOT_ASSIGNED");
    assert_eq!(bad_fields(&gone), ["user_ids[1]"]);
    assert_eq!(
        ids(&story.holders().await),
        sorted(&[anna]),
        "all or nothing"
    );

    // A retry with the request id of an earlier assignment answers as that call did and
    // assigns nothing again; the id with other users is refused.
    story.set_quantity(2).await.expect("room for Bo again");
    let request_id = uuid::Uuid::new_v4().to_string();
    let with_id = |users: &[&pb::User]| sub::AssignLicensesRequest {
        request_id: request_id.clone(),
        ..story.assign(users)
    };
    subscriptions(sys, &story.customer_admin)
        .assign_licenses(with_id(&[bo]))
        .await
        .expect("Bo again, with a request id");
    subscriptions(sys, &story.customer_admin)
        .remove_licenses(story.remove(&[bo]))
        .await
        .expect("Bo's taken back");
    let replayed = subscriptions(sys, &story.customer_admin)
        .assign_licenses(with_id(&[bo]))
        .await
        .expect("the retry")
        .into_inner();
    assert!(replayed.assignments.is_empty(), "not assigned again");
    let reused = subscriptions(sys, &story.customer_admin)
        .assign_licenses(with_id(&[cai]))
        .await
        .expect_err("the id with another request");
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");

    // Every assignment and removal is in the customer's audit trail, the agent's through the
    // delegated admin relationship.
    let trail = AuditServiceClient::new(sys.authed(&story.customer_admin))
        .list_audit_events(ListAuditEventsRequest {
            tenant_id: story.customer.id.clone(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("ListAuditEvents")
        .into_inner()
        .events;
    let of = |method: &str| {
        trail
            .iter()
            .filter(|e| e.method.ends_with(method) && e.resource_id == story.subscription.id)
            .collect::<Vec<_>>()
    };
    let assigns = of("SubscriptionService/AssignLicenses");
    let agents: Vec<_> = assigns
        .iter()
        .filter(|e| e.actor_tenant_id == story.partner.id)
        .collect();
    assert_eq!(agents.len(), 3, "{assigns:?}");
    assert!(agents.iter().all(|e| !e.relationship_ids.is_empty()));
    assert_eq!(assigns.len(), 3 + 3, "and the customer's admin's three");
    assert_eq!(of("SubscriptionService/RemoveLicenses").len(), 3);

    story.sys.stop().await;
}

#[tokio::test]
async fn concurrent_assignments_never_pass_the_quantity() {
    const QUANTITY: usize = 4;
    let story = Story::new(QUANTITY as i32).await;
    let names: Vec<String> = (0..12).map(|i| format!("elev{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let users = story.users(&names).await;
    let calls = users
        .iter()
        .map(|user| {
            let mut client = subscriptions(&story.sys, &story.customer_admin);
            let request = story.assign(&[user]);
            async move { client.assign_licenses(request).await }
        })
        .collect();
    let answers = all_at_once(calls).await;
    let won = answers.iter().filter(|a| a.is_ok()).count();
    assert_eq!(won, QUANTITY, "exactly the quantity is assigned");
    for refused in answers.iter().filter_map(|a| a.as_ref().err()) {
        assert_eq!(reason(refused), "NOT_ENOUGH_LICENSES", "{refused:?}");
    }
    let read = story.subscription().await;
    assert_eq!(read.assigned_licenses as usize, QUANTITY);
    assert_eq!(read.available_licenses, 0);
    assert_eq!(story.holders().await.len(), QUANTITY);

    // The partner adds four licences, then lowering them races new assignments: whichever
    // commits first, the quantity never ends below what is assigned.
    story.set_quantity(8).await.expect("up to 8");
    let held = ids(&story.holders().await);
    let mut calls: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>> = users
        .iter()
        .filter(|u| !held.contains(&u.id))
        .take(4)
        .map(|user| {
            let mut client = subscriptions(&story.sys, &story.customer_admin);
            let request = story.assign(&[user]);
            Box::pin(async move { client.assign_licenses(request).await.is_ok() }) as _
        })
        .collect();
    let mut partner = subscriptions(&story.sys, &story.partner_admin);
    let lowering = sub::UpdateSubscriptionRequest {
        tenant_id: story.partner.id.clone(),
        subscription: Some(sub::Subscription {
            id: story.subscription.id.clone(),
            quantity: 5,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["quantity".into()],
        }),
    };
    calls.push(Box::pin(async move {
        partner.update_subscription(lowering).await.is_ok()
    }));
    all_at_once(calls).await;
    let read = story.subscription().await;
    assert!(
        read.assigned_licenses <= read.quantity,
        "{} assigned of {}",
        read.assigned_licenses,
        read.quantity
    );
    assert_eq!(
        i32::try_from(story.holders().await.len()).expect("a count"),
        read.assigned_licenses
    );
    story.sys.stop().await;
}

#[tokio::test]
async fn a_deleted_user_loses_its_licences_and_a_cancelled_subscription_its_assignments() {
    let story = Story::new(5).await;
    let sys = &story.sys;
    let users = story.users(&["anna", "bo", "cai"]).await;
    let (anna, bo, cai) = (&users[0], &users[1], &users[2]);
    subscriptions(sys, &story.customer_admin)
        .assign_licenses(story.assign(&[anna, bo]))
        .await
        .expect("AssignLicenses");

    // Anna leaves the school: deleting her frees her licence.
    sys.tenants(&story.customer_admin)
        .delete_user(pb::DeleteUserRequest {
            tenant_id: story.customer.id.clone(),
            user_id: anna.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("DeleteUser");
    assert_eq!(ids(&story.holders().await), sorted(&[bo]));
    assert_eq!(story.subscription().await.assigned_licenses, 1);
    // A deleted user can't be given one.
    let ghost = subscriptions(sys, &story.customer_admin)
        .assign_licenses(story.assign(&[cai, anna]))
        .await
        .expect_err("Anna is no user any more");
    assert_eq!(ghost.code(), Code::NotFound);
    assert_eq!(reason(&ghost), "USER_NOT_FOUND");
    assert_eq!(bad_fields(&ghost), ["user_ids[1]"]);

    // Suspended: Bo keeps his licence, unusable, and no new one is assigned.
    let mut partner = subscriptions(sys, &story.partner_admin);
    partner
        .suspend_subscription(sub::SuspendSubscriptionRequest {
            tenant_id: story.partner.id.clone(),
            subscription_id: story.subscription.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("SuspendSubscription");
    let held = story.holders().await;
    assert_eq!(ids(&held), sorted(&[bo]));
    assert_eq!(held[0].state, license_assignment::State::Suspended as i32);
    let read = story.subscription().await;
    assert_eq!((read.assigned_licenses, read.available_licenses), (1, 0));
    let refused = subscriptions(sys, &story.customer_admin)
        .assign_licenses(story.assign(&[cai]))
        .await
        .expect_err("a suspended subscription takes no assignments");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "SUBSCRIPTION_NOT_ASSIGNABLE");

    // Reactivated: usable again.
    partner
        .reactivate_subscription(sub::ReactivateSubscriptionRequest {
            tenant_id: story.partner.id.clone(),
            subscription_id: story.subscription.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("ReactivateSubscription");
    assert_eq!(
        story.holders().await[0].state,
        license_assignment::State::Active as i32
    );

    // Cancelled: the assignments go.
    let cancelled = partner
        .cancel_subscription(sub::CancelSubscriptionRequest {
            tenant_id: story.partner.id.clone(),
            subscription_id: story.subscription.id.clone(),
            etag: String::new(),
        })
        .await
        .expect("CancelSubscription")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(cancelled.assigned_licenses, 0);
    assert!(story.holders().await.is_empty());
    let bos = subscriptions(sys, &story.customer_admin)
        .list_license_assignments(sub::ListLicenseAssignmentsRequest {
            tenant_id: story.customer.id.clone(),
            user_id: bo.id.clone(),
            ..Default::default()
        })
        .await
        .expect("ListLicenseAssignments by user")
        .into_inner();
    assert!(bos.assignments.is_empty());
    story.sys.stop().await;
}

#[tokio::test]
async fn only_the_customers_user_admins_and_delegated_admin_agents_assign_licences() {
    let story = Story::new(5).await;
    let sys = &story.sys;
    let users = story.users(&["anna"]).await;
    let anna = &users[0];
    let refused = |status: &tonic::Status| {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    };

    // A helpdesk agent holds only the helpdesk admin role in the customer.
    let helpdesk = story.partner_user("helpdesk", Role::HelpdeskAgent).await;
    let denied = subscriptions(sys, &helpdesk)
        .assign_licenses(story.assign(&[anna]))
        .await
        .expect_err("a helpdesk agent");
    refused(&denied);
    // Another partner's admin agent has no delegated admin here.
    let (other, other_admin) = sys
        .partner_admin("contoso", "4060002", &[PartnerType::DirectProvider])
        .await;
    let (_, stranger) = sys
        .user(&other_admin, &other.id, "stranger", &[Role::AdminAgent])
        .await;
    refused(
        &subscriptions(sys, &stranger)
            .assign_licenses(story.assign(&[anna]))
            .await
            .expect_err("another partner's agent"),
    );
    // The customer's billing admin buys, but doesn't hand out licences.
    let (_, billing) = sys
        .user(
            &story.customer_admin,
            &story.customer.id,
            "ekonomi",
            &[Role::BillingAdmin],
        )
        .await;
    refused(
        &subscriptions(sys, &billing)
            .assign_licenses(story.assign(&[anna]))
            .await
            .expect_err("a billing admin"),
    );
    // The partner in its own tenant: licences are the customer's.
    let own = subscriptions(sys, &story.partner_admin)
        .assign_licenses(sub::AssignLicensesRequest {
            tenant_id: story.partner.id.clone(),
            ..story.assign(&[anna])
        })
        .await
        .expect_err("the partner's own tenant");
    refused(&own);
    assert_eq!(reason(&own), "LICENSES_OF_CUSTOMER_ONLY");
    // A user of another customer is no user of this one.
    let (school, school_admin) = sys.customer_admin("annanskola", "SE").await;
    let (outsider, _) = sys.new_user(&school_admin, &school.id, "ute", &[]).await;
    let unknown = subscriptions(sys, &story.customer_admin)
        .assign_licenses(story.assign(&[anna, &outsider]))
        .await
        .expect_err("another customer's user");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(bad_fields(&unknown), ["user_ids[1]"]);
    // The customer's user admin may.
    let (_, user_admin) = sys
        .user(
            &story.customer_admin,
            &story.customer.id,
            "it",
            &[Role::UserAdmin],
        )
        .await;
    subscriptions(sys, &user_admin)
        .assign_licenses(story.assign(&[anna]))
        .await
        .expect("a user admin assigns");
    assert_eq!(ids(&story.holders().await), sorted(&[anna]));
    story.sys.stop().await;
}

#[tokio::test]
async fn bad_input_names_its_field() {
    let story = Story::new(5).await;
    let sys = &story.sys;
    let users = story.users(&["anna"]).await;
    let anna = &users[0];
    let mut client = subscriptions(sys, &story.customer_admin);
    let mut bad = async |request: sub::AssignLicensesRequest| {
        let status = client
            .assign_licenses(request)
            .await
            .expect_err("bad input");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        bad_fields(&status)
    };
    let base = story.assign(&[anna]);
    let with = |user_ids: Vec<String>| sub::AssignLicensesRequest {
        user_ids,
        ..base.clone()
    };
    assert_eq!(bad(with(Vec::new())).await, ["user_ids"]);
    assert_eq!(bad(with(vec!["nope".into()])).await, ["user_ids[0]"]);
    assert_eq!(
        bad(with(vec![anna.id.clone(), anna.id.clone()])).await,
        ["user_ids[1]"]
    );
    let many = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    assert_eq!(bad(with(many)).await, ["user_ids"]);
    assert_eq!(
        bad(sub::AssignLicensesRequest {
            subscription_id: "x".into(),
            ..base.clone()
        })
        .await,
        ["subscription_id"]
    );
    assert_eq!(
        bad(sub::AssignLicensesRequest {
            request_id: "again".into(),
            ..base.clone()
        })
        .await,
        ["request_id"]
    );
    let mut client = subscriptions(sys, &story.customer_admin);
    let removal = client
        .remove_licenses(sub::RemoveLicensesRequest {
            user_ids: Vec::new(),
            ..story.remove(&[anna])
        })
        .await
        .expect_err("no users");
    assert_eq!(bad_fields(&removal), ["user_ids"]);
    let mut list = async |request: sub::ListLicenseAssignmentsRequest| {
        let status = client
            .list_license_assignments(request)
            .await
            .expect_err("bad input");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        bad_fields(&status)
    };
    let tenant_id = story.customer.id.clone();
    assert_eq!(
        list(sub::ListLicenseAssignmentsRequest {
            tenant_id: tenant_id.clone(),
            ..Default::default()
        })
        .await,
        ["subscription_id"]
    );
    assert_eq!(
        list(sub::ListLicenseAssignmentsRequest {
            tenant_id: tenant_id.clone(),
            user_id: anna.id.clone(),
            page_token: "not-a-token".into(),
            ..Default::default()
        })
        .await,
        ["page_token"]
    );
    assert_eq!(
        list(sub::ListLicenseAssignmentsRequest {
            tenant_id,
            user_id: "anna".into(),
            ..Default::default()
        })
        .await,
        ["user_id"]
    );
    story.sys.stop().await;
}

/// Seed 003's "upgrade existing ones" with licences handed out: the subscription keeps its id,
/// so the users keep their licences, now of the new offer, and the counts are unchanged.
#[tokio::test]
async fn an_upgrade_keeps_the_licences_assigned() {
    let story = Story::new(5).await;
    let users = story.users(&["ada", "bea"]).await;
    subscriptions(&story.sys, &story.customer_admin)
        .assign_licenses(story.assign(&users.iter().collect::<Vec<_>>()))
        .await
        .expect("AssignLicenses");
    let standard = story
        .sys
        .offers(&story.partner_admin, Cloud::Worldwide, "SE")
        .await
        .into_iter()
        .find(|o| o.display_name == "Business Standard")
        .expect("Business Standard is sold in Sweden");

    let upgraded = subscriptions(&story.sys, &story.partner_admin)
        .upgrade_subscription(sub::UpgradeSubscriptionRequest {
            tenant_id: story.partner.id.clone(),
            subscription_id: story.subscription.id.clone(),
            target_offer_id: standard.id.clone(),
            ..Default::default()
        })
        .await
        .expect("UpgradeSubscription")
        .into_inner()
        .subscription
        .expect("subscription");
    assert_eq!(upgraded.id, story.subscription.id);
    assert_eq!(upgraded.offer_display_name, "Business Standard");
    assert_eq!(
        (upgraded.assigned_licenses, upgraded.available_licenses),
        (2, 3)
    );

    let holders = story.holders().await;
    assert_eq!(ids(&holders), sorted(&users.iter().collect::<Vec<_>>()));
    assert!(
        holders
            .iter()
            .all(|a| a.offer_display_name == "Business Standard"
                && a.state == license_assignment::State::Active as i32),
        "{holders:?}"
    );
}
