//! The relationships service, called directly: a customer's "Partner relationships" page
//! (seed 001), a partner's customer list (seed 003: an indirect provider also sees its
//! resellers' customers), who may end what (seeds 000 and 003), delegated admin that expires or
//! extends itself as the clock moves, idempotent creates, grant rules, pages and bad input.

use partnerhub::system::{self, Settings};
use partnerhub_kit::server::{Limits, bind};
use partnerhub_kit::store::sqlite_url;
use partnerhub_proto::relationships::relationship::State;
use partnerhub_proto::relationships::relationship_internal_service_client::RelationshipInternalServiceClient;
use partnerhub_proto::relationships::relationship_service_client::RelationshipServiceClient;
use partnerhub_proto::relationships::{self as pb, RelationshipType as Type};
use partnerhub_proto::tenants::tenant_internal_service_client::TenantInternalServiceClient;
use partnerhub_proto::tenants::{self as tpb};
use partnerhub_proto::types::{PartnerType, Role};
use partnerhub_tests::{Peer, TestSystem, bad_fields, customer, reason};
use std::collections::HashSet;
use std::time::Duration;
use tonic::{Code, Status};
use uuid::Uuid;

const DAY: i64 = 86_400;
const DAY_MICROS: i64 = DAY * 1_000_000;

// ---- helpers ----

/// Both relationship services, straight to the service (no gateway).
#[derive(Clone)]
struct Relationships {
    public: RelationshipServiceClient<Peer>,
    internal: RelationshipInternalServiceClient<Peer>,
}

impl Relationships {
    fn over(channel: Peer) -> Self {
        Relationships {
            public: RelationshipServiceClient::new(channel.clone()),
            internal: RelationshipInternalServiceClient::new(channel),
        }
    }

    async fn of(sys: &TestSystem) -> Self {
        Self::over(sys.service("relationships").await)
    }

    async fn create(
        &self,
        relationships: Vec<pb::NewRelationship>,
        request_id: &str,
    ) -> Result<Vec<pb::Relationship>, Status> {
        self.internal
            .clone()
            .create_relationships(pb::CreateRelationshipsRequest {
                relationships,
                request_id: request_id.into(),
            })
            .await
            .map(|r| r.into_inner().relationships)
    }

    async fn created(&self, relationships: Vec<pb::NewRelationship>) -> Vec<pb::Relationship> {
        self.create(relationships, "")
            .await
            .expect("CreateRelationships")
    }

    async fn get(&self, tenant_id: &str, id: &str) -> Result<pb::Relationship, Status> {
        self.public
            .clone()
            .get_relationship(pb::GetRelationshipRequest {
                tenant_id: tenant_id.into(),
                relationship_id: id.into(),
            })
            .await
            .map(|r| r.into_inner().relationship.expect("relationship"))
    }

    async fn list(
        &self,
        request: pb::ListRelationshipsRequest,
    ) -> Result<pb::ListRelationshipsResponse, Status> {
        self.public
            .clone()
            .list_relationships(request)
            .await
            .map(tonic::Response::into_inner)
    }

    /// The ids of a partner's relationships with a client in a state (one large page).
    async fn ids_in_state(&self, partner: &str, client: &str, state: State) -> Vec<String> {
        self.list(pb::ListRelationshipsRequest {
            page_size: 1000,
            partner_tenant_id: partner.into(),
            client_tenant_id: client.into(),
            state: state as i32,
            ..Default::default()
        })
        .await
        .expect("ListRelationships")
        .relationships
        .into_iter()
        .map(|r| r.id)
        .collect()
    }

    async fn partners_page(
        &self,
        customer: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListPartnersOfCustomerResponse, Status> {
        self.public
            .clone()
            .list_partners_of_customer(pb::ListPartnersOfCustomerRequest {
                customer_tenant_id: customer.into(),
                page_size,
                page_token: page_token.into(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// A customer's whole "Partner relationships" page.
    async fn partners(&self, customer: &str) -> Vec<pb::CustomerPartner> {
        let page = self
            .partners_page(customer, 1000, "")
            .await
            .expect("ListPartnersOfCustomer");
        assert!(page.next_page_token.is_empty());
        page.partners
    }

    async fn customers_page(
        &self,
        partner: &str,
        indirect_reseller: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListCustomersOfPartnerResponse, Status> {
        self.public
            .clone()
            .list_customers_of_partner(pb::ListCustomersOfPartnerRequest {
                partner_tenant_id: partner.into(),
                page_size,
                page_token: page_token.into(),
                indirect_reseller_id: indirect_reseller.into(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// A partner's whole customer list ("" for no reseller filter).
    async fn customers(&self, partner: &str, indirect_reseller: &str) -> Vec<pb::PartnerCustomer> {
        let page = self
            .customers_page(partner, indirect_reseller, 1000, "")
            .await
            .expect("ListCustomersOfPartner");
        assert!(page.next_page_token.is_empty());
        page.customers
    }

    /// The customer ids of a partner's whole customer list.
    async fn customer_ids(&self, partner: &str, indirect_reseller: &str) -> Vec<String> {
        self.customers(partner, indirect_reseller)
            .await
            .into_iter()
            .map(|c| c.customer_tenant_id)
            .collect()
    }

    async fn remove_admin_roles(
        &self,
        customer: &str,
        partner: &str,
    ) -> pb::RemoveAdminRolesResponse {
        self.public
            .clone()
            .remove_admin_roles(pb::RemoveAdminRolesRequest {
                customer_tenant_id: customer.into(),
                partner_tenant_id: partner.into(),
            })
            .await
            .expect("RemoveAdminRoles")
            .into_inner()
    }

    async fn terminate(&self, tenant_id: &str, id: &str) -> Result<pb::Relationship, Status> {
        self.public
            .clone()
            .terminate_relationship(pb::TerminateRelationshipRequest {
                tenant_id: tenant_id.into(),
                relationship_id: id.into(),
            })
            .await
            .map(|r| r.into_inner().relationship.expect("relationship"))
    }

    async fn access(&self, partner: &str, customer: &str) -> pb::CheckAccessResponse {
        self.internal
            .clone()
            .check_access(pb::CheckAccessRequest {
                partner_tenant_id: partner.into(),
                customer_tenant_id: customer.into(),
            })
            .await
            .expect("CheckAccess")
            .into_inner()
    }
}

fn uuid() -> String {
    Uuid::new_v4().to_string()
}

/// A relationship of `kind` to create.
fn new(kind: Type, partner: &str, client: &str) -> pb::NewRelationship {
    pb::NewRelationship {
        r#type: kind as i32,
        partner_tenant_id: partner.into(),
        client_tenant_id: client.into(),
        ..Default::default()
    }
}

/// A delegated admin grant to create: `roles` (none: the classic grant), for `days` (0: no end).
fn delegated(
    partner: &str,
    client: &str,
    roles: &[Role],
    days: i64,
    auto_extend: bool,
) -> pb::NewRelationship {
    pb::NewRelationship {
        roles: roles.iter().map(|r| *r as i32).collect(),
        duration: (days != 0).then_some(prost_types::Duration {
            seconds: days * DAY,
            nanos: 0,
        }),
        auto_extend,
        ..new(Type::DelegatedAdmin, partner, client)
    }
}

/// An indirect reseller relationship: `reseller` sells to `client` under `provider`.
fn indirect_reseller(reseller: &str, client: &str, provider: &str) -> pb::NewRelationship {
    pb::NewRelationship {
        indirect_provider_tenant_id: provider.into(),
        ..new(Type::IndirectReseller, reseller, client)
    }
}

fn micros(t: Option<&prost_types::Timestamp>) -> i64 {
    let t = t.expect("a time");
    t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000
}

fn types(kinds: &[Type]) -> Vec<i32> {
    kinds.iter().map(|k| *k as i32).collect()
}

fn roles(roles: &[Role]) -> Vec<i32> {
    roles.iter().map(|r| *r as i32).collect()
}

fn ids(relationships: &[pb::Relationship]) -> Vec<String> {
    relationships.iter().map(|r| r.id.clone()).collect()
}

/// A customer tenant made by the tenants service, as the gateway's workflows make them.
async fn create_customer(sys: &TestSystem, prefix: &str) -> tpb::Tenant {
    TenantInternalServiceClient::new(sys.service("tenants").await)
        .create_customer_tenant(tpb::CreateCustomerTenantRequest {
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
}

/// A customer tenant as a finished workflow leaves it: created, then activated.
async fn active_customer(sys: &TestSystem, prefix: &str) -> tpb::Tenant {
    let created = create_customer(sys, prefix).await;
    TenantInternalServiceClient::new(sys.service("tenants").await)
        .activate_tenant(tpb::ActivateTenantRequest {
            tenant_id: created.id,
        })
        .await
        .expect("ActivateTenant")
        .into_inner()
        .tenant
        .expect("tenant")
}

/// Sorted copies of ids.
fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

/// Asserts an INVALID_ARGUMENT naming exactly `fields`.
fn assert_invalid(result: Result<impl std::fmt::Debug, Status>, fields: &[&str]) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(reason(&status), "INVALID_ARGUMENT");
    assert_eq!(bad_fields(&status), fields, "{status:?}");
}

fn assert_not_found(result: Result<pb::Relationship, Status>) {
    let status = result.expect_err("not found");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(reason(&status), "RELATIONSHIP_NOT_FOUND");
}

// ---- a customer's "Partner relationships" page (seed 001) ----

#[tokio::test]
async fn a_customer_sees_one_row_per_partner_and_keeps_the_reseller_after_removing_admin_roles() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let partner = sys
        .create_partner("fabrikam", "1234567", &[PartnerType::DirectProvider])
        .await
        .tenant;
    let customer = create_customer(&sys, "contoso").await;

    // "There is nothing here".
    let empty = rel.partners_page(&customer.id, 0, "").await.expect("page");
    assert!(empty.partners.is_empty());
    assert!(empty.next_page_token.is_empty());

    let created = rel
        .created(vec![
            new(Type::Reseller, &partner.id, &customer.id),
            delegated(&partner.id, &customer.id, &[], 0, false),
        ])
        .await;
    assert_eq!(created.len(), 2);
    assert!(created.iter().all(|r| r.state == State::Active as i32));
    assert_eq!(
        created[1].roles,
        roles(&[Role::GlobalAdmin, Role::HelpdeskAdmin])
    );
    assert_eq!(created[1].end_time, None, "no duration: no end");

    let page = rel.partners(&customer.id).await;
    assert_eq!(page.len(), 1, "one row per partner");
    let row = &page[0];
    assert_eq!(row.partner_tenant_id, partner.id);
    assert_eq!(row.partner_display_name, "fabrikam AB");
    assert_eq!(row.types, types(&[Type::Reseller, Type::DelegatedAdmin]));
    assert_eq!(
        row.delegated_roles,
        roles(&[Role::GlobalAdmin, Role::HelpdeskAdmin])
    );
    assert_eq!(ids(&row.relationships), ids(&created));
    let access = rel.access(&partner.id, &customer.id).await;
    assert_eq!(
        access.roles,
        roles(&[Role::GlobalAdmin, Role::HelpdeskAdmin])
    );
    assert_eq!(ids(&access.relationships), [created[1].id.clone()]);

    let removed = rel.remove_admin_roles(&customer.id, &partner.id).await;
    assert_eq!(ids(&removed.removed), [created[1].id.clone()]);
    assert_eq!(removed.removed[0].state, State::Terminated as i32);
    assert!(removed.removed[0].terminate_time.is_some());
    assert_eq!(ids(&removed.remaining), [created[0].id.clone()]);
    assert_eq!(removed.remaining[0].state, State::Active as i32);

    let page = rel.partners(&customer.id).await;
    assert_eq!(page.len(), 1, "the reseller is still listed");
    assert_eq!(page[0].partner_display_name, "fabrikam AB");
    assert_eq!(page[0].types, types(&[Type::Reseller]));
    assert!(page[0].delegated_roles.is_empty());
    assert_eq!(ids(&page[0].relationships), [created[0].id.clone()]);
    let access = rel.access(&partner.id, &customer.id).await;
    assert!(access.roles.is_empty() && access.relationships.is_empty());

    // Again, with nothing left to remove: fine.
    let again = rel.remove_admin_roles(&customer.id, &partner.id).await;
    assert!(again.removed.is_empty());
    assert_eq!(ids(&again.remaining), [created[0].id.clone()]);
    assert_eq!(
        rel.get(&customer.id, &created[1].id)
            .await
            .expect("get")
            .state,
        State::Terminated as i32
    );
    sys.stop().await;
}

#[tokio::test]
async fn the_page_has_a_row_per_partner_and_leaves_provider_reseller_partnerships_out() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (provider, reseller, advisor, customer) = (uuid(), uuid(), uuid(), uuid());
    rel.created(vec![
        new(Type::IndirectPartnership, &provider, &reseller),
        new(Type::Reseller, &provider, &customer),
        indirect_reseller(&reseller, &customer, &provider),
        delegated(&reseller, &customer, &[Role::UserAdmin], 90, false),
        new(Type::Advisor, &advisor, &customer),
        delegated(&advisor, &customer, &[Role::BillingAdmin], 30, true),
    ])
    .await;
    let page = rel.partners(&customer).await;
    let mut expected = vec![
        (provider.clone(), types(&[Type::Reseller]), vec![]),
        (
            reseller.clone(),
            types(&[Type::IndirectReseller, Type::DelegatedAdmin]),
            roles(&[Role::UserAdmin]),
        ),
        (
            advisor.clone(),
            types(&[Type::DelegatedAdmin, Type::Advisor]),
            roles(&[Role::BillingAdmin]),
        ),
    ];
    expected.sort();
    let seen: Vec<_> = page
        .iter()
        .map(|p| {
            (
                p.partner_tenant_id.clone(),
                p.types.clone(),
                p.delegated_roles.clone(),
            )
        })
        .collect();
    assert_eq!(seen, expected, "sorted by partner id, types in enum order");
    // The reseller is the provider's client, not its customer.
    assert!(rel.partners(&reseller).await.is_empty());
    // An advisor holds helpdesk admin besides its delegated roles.
    let access = rel.access(&advisor, &customer).await;
    assert_eq!(
        access.roles,
        roles(&[Role::BillingAdmin, Role::HelpdeskAdmin])
    );
    assert_eq!(access.relationships.len(), 2);
    // A reseller relationship alone grants no roles.
    let access = rel.access(&provider, &customer).await;
    assert!(access.roles.is_empty() && access.relationships.is_empty());
    // Names come from the tenants service; these tenants don't exist there.
    assert!(page.iter().all(|p| p.partner_display_name.is_empty()));
    sys.stop().await;
}

// ---- a partner's customer list (seed 003) ----

#[tokio::test]
async fn a_partner_lists_one_row_per_customer_and_an_indirect_provider_its_resellers_customers() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let provider = sys
        .create_partner("northwind", "1111111", &[PartnerType::IndirectProvider])
        .await
        .tenant
        .id;
    let r1 = sys
        .create_partner("resone", "2222222", &[PartnerType::IndirectReseller])
        .await
        .tenant
        .id;
    let r2 = sys
        .create_partner("restwo", "3333333", &[PartnerType::IndirectReseller])
        .await
        .tenant
        .id;
    let other = uuid();
    let a = active_customer(&sys, "alfa").await;
    let b = active_customer(&sys, "beta").await;
    let c = active_customer(&sys, "gamma").await;
    let d = active_customer(&sys, "delta").await;
    // Still being created by a workflow: not listed yet.
    let e = create_customer(&sys, "epsilon").await;

    // Nothing yet.
    let empty = rel
        .customers_page(&provider, "", 0, "")
        .await
        .expect("page");
    assert!(empty.customers.is_empty() && empty.next_page_token.is_empty());

    let created = rel
        .created(vec![
            // 0, 1: the provider's partnerships; the resellers are not its customers.
            new(Type::IndirectPartnership, &provider, &r1),
            new(Type::IndirectPartnership, &provider, &r2),
            // 2, 3: a customer the provider sells to itself.
            new(Type::Reseller, &provider, &a.id),
            delegated(&provider, &a.id, &[Role::UserAdmin], 0, false),
            // 4, 5: a customer of reseller 1, which holds admin rights there.
            indirect_reseller(&r1, &b.id, &provider),
            delegated(&r1, &b.id, &[Role::BillingAdmin], 0, false),
            // 6-9: both resellers sell to c; the provider advises and holds admin rights.
            new(Type::Advisor, &provider, &c.id),
            indirect_reseller(&r1, &c.id, &provider),
            indirect_reseller(&r2, &c.id, &provider),
            delegated(&provider, &c.id, &[Role::HelpdeskAdmin], 30, false),
            // 10: another partner's customer.
            new(Type::Reseller, &other, &d.id),
            // 11: the pending customer.
            new(Type::Reseller, &provider, &e.id),
        ])
        .await;
    let id = |i: usize| created[i].id.clone();

    let rows = rel.customers(&provider, "").await;
    let listed: Vec<String> = rows.iter().map(|r| r.customer_tenant_id.clone()).collect();
    assert_eq!(
        listed,
        sorted(&[&a.id, &b.id, &c.id]),
        "one row per active customer, by id"
    );
    let row = |t: &tpb::Tenant| {
        rows.iter()
            .find(|r| r.customer_tenant_id == t.id)
            .expect("a row")
            .clone()
    };
    assert_eq!(
        row(&a),
        pb::PartnerCustomer {
            customer_tenant_id: a.id.clone(),
            customer_display_name: "alfa Skola".into(),
            types: types(&[Type::Reseller, Type::DelegatedAdmin]),
            delegated_roles: roles(&[Role::UserAdmin]),
            indirect_reseller_ids: vec![],
            relationships: vec![created[2].clone(), created[3].clone()],
        }
    );
    // The reseller's own delegated admin is its business, not the provider's.
    let beta = row(&b);
    assert_eq!(beta.customer_display_name, "beta Skola");
    assert_eq!(beta.types, types(&[Type::IndirectReseller]));
    assert!(beta.delegated_roles.is_empty());
    assert_eq!(beta.indirect_reseller_ids, std::slice::from_ref(&r1));
    assert_eq!(ids(&beta.relationships), [id(4)]);
    let gamma = row(&c);
    assert_eq!(
        gamma.types,
        types(&[Type::IndirectReseller, Type::DelegatedAdmin, Type::Advisor]),
        "types in enum order"
    );
    assert_eq!(gamma.delegated_roles, roles(&[Role::HelpdeskAdmin]));
    assert_eq!(gamma.indirect_reseller_ids, sorted(&[&r1, &r2]));
    assert_eq!(ids(&gamma.relationships), [id(6), id(7), id(8), id(9)]);

    // Only the customers one reseller sells to under the provider; the rows are as unfiltered.
    let through_r2 = rel.customers(&provider, &r2).await;
    assert_eq!(through_r2, std::slice::from_ref(&gamma));
    assert_eq!(
        rel.customer_ids(&provider, &r1).await,
        sorted(&[&b.id, &c.id])
    );
    assert!(rel.customer_ids(&provider, &uuid()).await.is_empty());
    // A reseller is nobody's indirect reseller under another provider.
    assert!(rel.customer_ids(&other, &r1).await.is_empty());

    // The reseller's own list: its indirect reseller relationships and its delegated admin.
    let of_r1 = rel.customers(&r1, "").await;
    assert_eq!(
        of_r1
            .iter()
            .map(|r| (
                r.customer_tenant_id.clone(),
                r.types.clone(),
                r.delegated_roles.clone(),
                r.indirect_reseller_ids.len()
            ))
            .collect::<Vec<_>>(),
        {
            let mut expected = vec![
                (
                    b.id.clone(),
                    types(&[Type::IndirectReseller, Type::DelegatedAdmin]),
                    roles(&[Role::BillingAdmin]),
                    0,
                ),
                (c.id.clone(), types(&[Type::IndirectReseller]), vec![], 0),
            ];
            expected.sort();
            expected
        }
    );
    assert_eq!(
        rel.customer_ids(&other, "").await,
        std::slice::from_ref(&d.id)
    );

    // Expired delegated admin is gone from the row at once.
    sys.clock.advance(Duration::from_secs(31 * DAY as u64));
    let gamma = rel.customers(&provider, &r2).await.remove(0);
    assert_eq!(gamma.types, types(&[Type::IndirectReseller, Type::Advisor]));
    assert!(gamma.delegated_roles.is_empty());
    assert_eq!(ids(&gamma.relationships), [id(6), id(7), id(8)]);

    // Once the reseller's relationship ends, the provider has nothing left with b; the
    // reseller keeps b through its delegated admin.
    rel.terminate(&r1, &id(4)).await.expect("terminate");
    assert_eq!(
        rel.customer_ids(&provider, "").await,
        sorted(&[&a.id, &c.id])
    );
    assert_eq!(
        rel.customer_ids(&provider, &r1).await,
        std::slice::from_ref(&c.id)
    );
    assert_eq!(rel.customer_ids(&r1, "").await, sorted(&[&b.id, &c.id]));
    // Ending an indirect partnership removes no customer (seed 003).
    rel.terminate(&provider, &id(1)).await.expect("terminate");
    assert_eq!(rel.customers(&provider, &r2).await.len(), 1);

    // The pending customer appears once its workflow has activated it.
    TenantInternalServiceClient::new(sys.service("tenants").await)
        .activate_tenant(tpb::ActivateTenantRequest {
            tenant_id: e.id.clone(),
        })
        .await
        .expect("ActivateTenant");
    assert_eq!(
        rel.customer_ids(&provider, "").await,
        sorted(&[&a.id, &c.id, &e.id])
    );
    sys.stop().await;
}

#[tokio::test]
async fn the_customer_list_comes_in_pages_and_pending_customers_leave_gaps() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (partner, reseller) = (uuid(), uuid());
    let mut customers = Vec::new();
    for (i, prefix) in ["one", "two", "three", "four", "five"].iter().enumerate() {
        let name = format!("kund{prefix}");
        // The second and fourth are still being created.
        let tenant = if i % 2 == 1 {
            create_customer(&sys, &name).await
        } else {
            active_customer(&sys, &name).await
        };
        customers.push(tenant.id);
    }
    customers.sort();
    for (i, customer) in customers.iter().enumerate() {
        let mut asked = vec![
            new(Type::Reseller, &partner, customer),
            delegated(&partner, customer, &[Role::UserAdmin], 0, false),
        ];
        if i != 0 {
            asked.push(indirect_reseller(&reseller, customer, &partner));
        }
        rel.created(asked).await;
    }
    let pending = [customers[1].clone(), customers[3].clone()];
    let active: Vec<String> = customers
        .iter()
        .filter(|c| !pending.contains(c))
        .cloned()
        .collect();

    let mut token = String::new();
    let mut listed = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let page = rel
            .customers_page(&partner, "", 2, &token)
            .await
            .expect("ListCustomersOfPartner");
        sizes.push(page.customers.len());
        for row in &page.customers {
            // Reseller and delegated admin, and for all but the first indirect reseller.
            assert_eq!(row.types.len(), row.relationships.len());
            assert_eq!(row.delegated_roles, roles(&[Role::UserAdmin]));
        }
        listed.extend(page.customers.into_iter().map(|c| c.customer_tenant_id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(listed, active, "each active customer once, in order");
    assert_eq!(
        sizes,
        [1, 1, 1],
        "pages of two keys examined, one of each pending"
    );

    // Filtered by the reseller: the first customer is not sold through it.
    let first = rel
        .customers_page(&partner, &reseller, 1, "")
        .await
        .expect("first page");
    assert_eq!(first.customers.len(), 0, "customers[1] is pending");
    assert!(!first.next_page_token.is_empty());
    let mut token = first.next_page_token.clone();
    let mut through = Vec::new();
    while !token.is_empty() {
        let page = rel
            .customers_page(&partner, &reseller, 1, &token)
            .await
            .expect("next page");
        through.extend(page.customers.into_iter().map(|c| c.customer_tenant_id));
        token = page.next_page_token;
    }
    assert_eq!(through, [customers[2].clone(), customers[4].clone()]);

    // A token belongs to its list and its filters.
    let unfiltered = rel
        .customers_page(&partner, "", 1, "")
        .await
        .expect("first page");
    assert_invalid(
        rel.customers_page(&partner, &reseller, 1, &unfiltered.next_page_token)
            .await,
        &["page_token"],
    );
    assert_invalid(
        rel.customers_page(&uuid(), "", 1, &unfiltered.next_page_token)
            .await,
        &["page_token"],
    );
    assert_invalid(
        rel.partners_page(&customers[0], 1, &unfiltered.next_page_token)
            .await,
        &["page_token"],
    );
    sys.stop().await;
}

// ---- who may end what (seeds 000, 003) ----

// ---- MPSA partners (seed 001) ----

#[tokio::test]
async fn a_customers_mpsa_partners_are_listed_to_each_of_them_and_to_no_one_else() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (first, second, reseller, customer, other) = (uuid(), uuid(), uuid(), uuid(), uuid());
    let created = rel
        .created(vec![
            new(Type::Mpsa, &first, &customer),
            new(Type::Mpsa, &second, &customer),
            new(Type::Reseller, &reseller, &customer),
            new(Type::Mpsa, &second, &other),
        ])
        .await;
    let ask = |customer: &str, partner: &str| {
        let mut internal = rel.internal.clone();
        let request = pb::ListMpsaPartnersRequest {
            customer_tenant_id: customer.into(),
            partner_tenant_id: partner.into(),
        };
        async move {
            internal
                .list_mpsa_partners(request)
                .await
                .map(|r| r.into_inner().partner_tenant_ids)
        }
    };
    let both = sorted(&[&first, &second]);
    assert_eq!(ask(&customer, &first).await.expect("first"), both);
    assert_eq!(ask(&customer, &second).await.expect("second"), both);
    // Another customer's MPSA partners are its own.
    assert_eq!(
        ask(&other, &second).await.expect("other"),
        [second.as_str()]
    );
    for (customer, partner) in [(&customer, &reseller), (&other, &first)] {
        let refused = ask(customer, partner).await.expect_err("no MPSA");
        assert_eq!(refused.code(), Code::FailedPrecondition);
        assert_eq!(reason(&refused), "NOT_MPSA_PARTNER");
    }
    // An ended MPSA relationship shares nothing any more.
    rel.terminate(&customer, &created[1].id)
        .await
        .expect("terminate");
    assert_eq!(
        ask(&customer, &first).await.expect("first"),
        [first.as_str()]
    );
    assert_eq!(
        reason(&ask(&customer, &second).await.expect_err("ended")),
        "NOT_MPSA_PARTNER"
    );
    assert_invalid(
        ask("nope", "").await,
        &["customer_tenant_id", "partner_tenant_id"],
    );
    sys.stop().await;
}

#[tokio::test]
async fn a_customer_cannot_end_a_reseller_relationship_but_the_reseller_can() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (partner, customer, stranger) = (uuid(), uuid(), uuid());
    let created = rel
        .created(vec![
            new(Type::Reseller, &partner, &customer),
            delegated(&partner, &customer, &[], 0, false),
        ])
        .await;
    let (reseller, admin) = (&created[0].id, &created[1].id);

    let status = rel
        .terminate(&customer, reseller)
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "RESELLER_RELATIONSHIP_CUSTOMER_CANNOT_END");
    assert!(
        status
            .message()
            .contains("customer can't end a reseller relationship")
            && status.message().contains("the reseller must end it"),
        "{}",
        status.message()
    );
    assert_eq!(
        rel.get(&customer, reseller).await.expect("get").state,
        State::Active as i32
    );

    // Neither party's stranger can end or read it.
    assert_not_found(rel.terminate(&stranger, reseller).await);
    assert_not_found(rel.get(&stranger, reseller).await);

    // The customer may end delegated admin.
    let ended = rel.terminate(&customer, admin).await.expect("terminate");
    assert_eq!(ended.state, State::Terminated as i32);

    let ended = rel.terminate(&partner, reseller).await.expect("terminate");
    assert_eq!(ended.state, State::Terminated as i32);
    assert!(ended.terminate_time.is_some());
    let again = rel.terminate(&partner, reseller).await.expect("again");
    assert_eq!(again, ended, "already terminated: answered unchanged");
    // Ended, it can't be refused to the customer either.
    assert_eq!(
        rel.terminate(&customer, reseller).await.expect("ended"),
        ended
    );
    assert!(rel.partners(&customer).await.is_empty());
    sys.stop().await;
}

#[tokio::test]
async fn ending_an_indirect_partnership_touches_no_customer_and_no_delegated_admin() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (provider, reseller, customer) = (uuid(), uuid(), uuid());
    let created = rel
        .created(vec![
            new(Type::IndirectPartnership, &provider, &reseller),
            indirect_reseller(&reseller, &customer, &provider),
            delegated(&reseller, &customer, &[Role::UserAdmin], 0, false),
            delegated(&provider, &customer, &[], 0, false),
        ])
        .await;
    // The provider the reseller sells under may read the customer's indirect reseller
    // relationship, but not end it.
    assert_eq!(
        rel.get(&provider, &created[1].id).await.expect("get").id,
        created[1].id
    );
    assert_not_found(rel.terminate(&provider, &created[1].id).await);

    let before = rel.partners(&customer).await;
    let reseller_access = rel.access(&reseller, &customer).await;
    let provider_access = rel.access(&provider, &customer).await;

    let ended = rel
        .terminate(&reseller, &created[0].id)
        .await
        .expect("the reseller ends the partnership");
    assert_eq!(ended.state, State::Terminated as i32);

    assert_eq!(rel.partners(&customer).await, before);
    assert_eq!(rel.access(&reseller, &customer).await, reseller_access);
    assert_eq!(rel.access(&provider, &customer).await, provider_access);
    assert_eq!(
        provider_access.roles,
        roles(&[Role::GlobalAdmin, Role::HelpdeskAdmin])
    );
    for r in &created[1..] {
        assert_eq!(
            rel.get(&customer, &r.id).await.expect("get").state,
            State::Active as i32
        );
    }
    sys.stop().await;
}

// ---- time: expiry and auto-extend ----

#[tokio::test]
async fn delegated_admin_expires_when_the_clock_passes_its_end_and_every_read_agrees() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (partner, customer) = (uuid(), uuid());
    let created = rel
        .created(vec![
            new(Type::Reseller, &partner, &customer),
            delegated(&partner, &customer, &[Role::UserAdmin], 30, false),
        ])
        .await;
    let (reseller, admin) = (created[0].id.clone(), created[1].id.clone());
    assert_eq!(
        micros(created[1].end_time.as_ref()),
        micros(created[1].create_time.as_ref()) + 30 * DAY_MICROS
    );

    sys.clock.advance(Duration::from_secs(29 * DAY as u64));
    assert_eq!(
        rel.get(&partner, &admin).await.expect("get").state,
        State::Active as i32
    );
    assert_eq!(
        rel.access(&partner, &customer).await.roles,
        roles(&[Role::UserAdmin])
    );

    sys.clock.advance(Duration::from_secs(2 * DAY as u64));
    let expired = rel.get(&customer, &admin).await.expect("get");
    assert_eq!(expired.state, State::Expired as i32);
    assert_eq!(expired.end_time, created[1].end_time);
    assert_eq!(expired.terminate_time, None);
    assert_eq!(
        rel.ids_in_state(&partner, &customer, State::Active).await,
        [reseller.as_str()]
    );
    assert_eq!(
        rel.ids_in_state(&partner, &customer, State::Expired).await,
        [admin.as_str()]
    );
    assert!(
        rel.ids_in_state(&partner, &customer, State::Terminated)
            .await
            .is_empty()
    );
    assert_eq!(
        rel.ids_in_state(&partner, &customer, State::Unspecified)
            .await
            .len(),
        2
    );
    let page = rel.partners(&customer).await;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].types, types(&[Type::Reseller]));
    assert!(page[0].delegated_roles.is_empty());
    let access = rel.access(&partner, &customer).await;
    assert!(access.roles.is_empty() && access.relationships.is_empty());

    // Expired is ended already: nothing to remove or terminate.
    assert!(
        rel.remove_admin_roles(&customer, &partner)
            .await
            .removed
            .is_empty()
    );
    assert_eq!(
        rel.terminate(&customer, &admin).await.expect("terminate"),
        expired
    );

    // A new grant is a new relationship; the expired one stays as it was.
    let again = rel
        .created(vec![delegated(
            &partner,
            &customer,
            &[Role::HelpdeskAdmin],
            30,
            false,
        )])
        .await;
    assert_ne!(again[0].id, admin);
    assert_eq!(again[0].state, State::Active as i32);
    assert_eq!(
        rel.get(&partner, &admin).await.expect("get").state,
        State::Expired as i32
    );
    assert_eq!(
        rel.access(&partner, &customer).await.roles,
        roles(&[Role::HelpdeskAdmin])
    );
    sys.stop().await;
}

#[tokio::test]
async fn auto_extend_moves_the_end_by_180_days_and_never_expires() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (partner, customer) = (uuid(), uuid());
    let created = rel
        .created(vec![delegated(
            &partner,
            &customer,
            &[Role::UserAdmin, Role::HelpdeskAdmin],
            30,
            true,
        )])
        .await;
    let id = created[0].id.clone();
    let end = micros(created[0].end_time.as_ref());
    assert!(created[0].auto_extend);

    sys.clock.advance(Duration::from_secs(31 * DAY as u64));
    let now = rel.get(&customer, &id).await.expect("get");
    assert_eq!(now.state, State::Active as i32);
    assert_eq!(micros(now.end_time.as_ref()), end + 180 * DAY_MICROS);
    assert_eq!(
        rel.ids_in_state(&partner, &customer, State::Active).await,
        [id.as_str()]
    );
    assert!(
        rel.ids_in_state(&partner, &customer, State::Expired)
            .await
            .is_empty()
    );
    assert_eq!(
        rel.access(&partner, &customer).await.roles,
        roles(&[Role::UserAdmin, Role::HelpdeskAdmin])
    );
    assert_eq!(
        rel.partners(&customer).await[0].delegated_roles,
        roles(&[Role::UserAdmin, Role::HelpdeskAdmin])
    );

    sys.clock.advance(Duration::from_secs(200 * DAY as u64));
    let later = rel.get(&partner, &id).await.expect("get");
    assert_eq!(later.state, State::Active as i32);
    assert_eq!(micros(later.end_time.as_ref()), end + 360 * DAY_MICROS);

    // Removed, it stops extending: the end stays where it was when it ended.
    let removed = rel.remove_admin_roles(&customer, &partner).await;
    assert_eq!(removed.removed[0].end_time, later.end_time);
    sys.clock.advance(Duration::from_secs(400 * DAY as u64));
    assert_eq!(
        rel.get(&partner, &id).await.expect("get").end_time,
        later.end_time
    );
    sys.stop().await;
}

// ---- idempotent creates ----

#[tokio::test]
async fn create_relationships_with_the_same_request_id_answers_the_first_result() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (partner, customer) = (uuid(), uuid());
    let request_id = uuid();
    let asked = vec![
        new(Type::Reseller, &partner, &customer),
        delegated(&partner, &customer, &[Role::UserAdmin], 90, false),
    ];
    let first = rel.create(asked.clone(), &request_id).await.expect("first");
    sys.clock.advance(Duration::from_secs(DAY as u64));
    let retry = rel.create(asked, &request_id).await.expect("retry");
    assert_eq!(retry, first, "a retry changes nothing, not even the end");

    let status = rel
        .create(vec![new(Type::Advisor, &partner, &customer)], &request_id)
        .await
        .expect_err("another request with the same id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "REQUEST_ID_REUSED");
    assert_eq!(bad_fields(&status), ["request_id"]);

    assert_eq!(
        rel.ids_in_state(&partner, &customer, State::Unspecified)
            .await,
        ids(&first)
    );
    sys.stop().await;
}

#[tokio::test]
async fn an_active_relationship_is_reused_and_delegated_admin_takes_the_new_grant() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (partner, customer, provider, other_provider) = (uuid(), uuid(), uuid(), uuid());
    let first = rel
        .created(vec![
            new(Type::Reseller, &partner, &customer),
            delegated(&partner, &customer, &[], 0, false),
        ])
        .await;
    let invitation = uuid();
    let second = rel
        .created(vec![
            new(Type::Reseller, &partner, &customer),
            pb::NewRelationship {
                invitation_id: invitation.clone(),
                ..delegated(&partner, &customer, &[Role::UserAdmin], 90, true)
            },
        ])
        .await;
    assert_eq!(ids(&second), ids(&first), "reused, not duplicated");
    let grant = &second[1];
    assert_eq!(grant.roles, roles(&[Role::UserAdmin]));
    assert!(grant.auto_extend);
    assert_eq!(grant.invitation_id, invitation);
    assert_eq!(
        micros(grant.end_time.as_ref()),
        micros(grant.update_time.as_ref()) + 90 * DAY_MICROS
    );
    assert_eq!(grant.create_time, first[1].create_time);

    // The same relationship twice in one request is one relationship.
    let twice = rel
        .created(vec![
            new(Type::Collaborator, &partner, &customer),
            new(Type::Collaborator, &partner, &customer),
        ])
        .await;
    assert_eq!(twice[0].id, twice[1].id);

    // Under another provider it is another relationship.
    let under = rel
        .created(vec![
            indirect_reseller(&partner, &customer, &provider),
            indirect_reseller(&partner, &customer, &other_provider),
            indirect_reseller(&partner, &customer, &provider),
        ])
        .await;
    assert_ne!(under[0].id, under[1].id);
    assert_eq!(under[0].id, under[2].id);

    // Once ended, asking again makes a new one.
    rel.terminate(&partner, &first[0].id)
        .await
        .expect("terminate");
    let renewed = rel
        .created(vec![new(Type::Reseller, &partner, &customer)])
        .await;
    assert_ne!(renewed[0].id, first[0].id);
    assert_eq!(
        rel.ids_in_state(&partner, &customer, State::Unspecified)
            .await
            .len(),
        6
    );
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_twins_create_each_relationship_once() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (partner, customer) = (uuid(), uuid());
    let request_id = uuid();
    let asked = vec![
        new(Type::Reseller, &partner, &customer),
        delegated(&partner, &customer, &[Role::UserAdmin], 30, false),
    ];
    let twins: Vec<_> = (0..8)
        .map(|_| {
            let (rel, asked, request_id) = (rel.clone(), asked.clone(), request_id.clone());
            tokio::spawn(async move { rel.create(asked, &request_id).await })
        })
        .collect();
    let mut answers = Vec::new();
    for twin in twins {
        answers.push(twin.await.expect("task").expect("CreateRelationships"));
    }
    assert!(answers.iter().all(|a| ids(a) == ids(&answers[0])));
    assert_eq!(
        rel.ids_in_state(&partner, &customer, State::Unspecified)
            .await,
        ids(&answers[0])
    );

    // Without a request id, concurrent asks for the same relationship share one.
    let other = uuid();
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (rel, partner, other) = (rel.clone(), partner.clone(), other.clone());
            tokio::spawn(async move {
                rel.create(vec![new(Type::Advisor, &partner, &other)], "")
                    .await
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for racer in racers {
        let answer = racer.await.expect("task").expect("CreateRelationships");
        seen.insert(answer[0].id.clone());
    }
    assert_eq!(seen.len(), 1);
    assert_eq!(
        rel.ids_in_state(&partner, &other, State::Unspecified)
            .await
            .len(),
        1
    );
    sys.stop().await;
}

/// Seen from outside (issue 13): 50 concurrent delegated-admin grants with different request
/// ids left 6 active grants for one partner and customer on PostgreSQL. The database now holds
/// one, also when an expired grant is replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_grants_with_different_request_ids_leave_one_active_delegated_admin() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (partner, customer) = (uuid(), uuid());
    let expired = rel
        .created(vec![delegated(
            &partner,
            &customer,
            &[Role::UserAdmin],
            30,
            false,
        )])
        .await;
    sys.clock.advance(Duration::from_secs(31 * DAY as u64));

    let grants: Vec<_> = (0..24)
        .map(|i| {
            let (rel, partner, customer) = (rel.clone(), partner.clone(), customer.clone());
            let role = if i % 2 == 0 {
                Role::HelpdeskAdmin
            } else {
                Role::UserAdmin
            };
            tokio::spawn(async move {
                rel.create(
                    vec![delegated(&partner, &customer, &[role], 60, false)],
                    &uuid(),
                )
                .await
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for grant in grants {
        let answer = grant.await.expect("task").expect("CreateRelationships");
        assert_eq!(answer[0].state, State::Active as i32);
        ids.insert(answer[0].id.clone());
    }
    // Every grant answered the one relationship, which took the last grant's roles.
    assert_eq!(ids.len(), 1, "{ids:?}");
    let active = rel.ids_in_state(&partner, &customer, State::Active).await;
    assert_eq!(active.len(), 1);
    assert!(ids.contains(&active[0]));
    assert_eq!(rel.access(&partner, &customer).await.roles.len(), 1);
    // The expired grant is still there, still expired.
    assert_eq!(
        rel.ids_in_state(&partner, &customer, State::Expired).await,
        [expired[0].id.clone()]
    );
    sys.stop().await;
}

// ---- grant rules ----

#[tokio::test]
async fn delegated_admin_grants_are_checked_and_nothing_is_created_when_one_is_bad() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (partner, customer) = (uuid(), uuid());
    let da = |roles: &[Role], days: i64, auto_extend: bool| {
        delegated(&partner, &customer, roles, days, auto_extend)
    };
    let cases: Vec<(pb::NewRelationship, &[&str])> = vec![
        (
            da(&[Role::GlobalAdmin], 30, true),
            &["relationships[0].auto_extend"],
        ),
        // No roles is the classic grant, global admin included.
        (da(&[], 30, true), &["relationships[0].auto_extend"]),
        (
            da(&[Role::UserAdmin], 0, true),
            &["relationships[0].auto_extend"],
        ),
        (
            da(&[Role::UserAdmin], 731, false),
            &["relationships[0].duration"],
        ),
        (
            pb::NewRelationship {
                duration: Some(prost_types::Duration {
                    seconds: DAY - 1,
                    nanos: 0,
                }),
                ..da(&[Role::UserAdmin], 0, false)
            },
            &["relationships[0].duration"],
        ),
        (
            pb::NewRelationship {
                duration: Some(prost_types::Duration {
                    seconds: -DAY,
                    nanos: 0,
                }),
                ..da(&[Role::UserAdmin], 0, false)
            },
            &["relationships[0].duration"],
        ),
        (
            da(&[Role::UserAdmin, Role::AdminAgent], 30, false),
            &["relationships[0].roles[1]"],
        ),
        (
            pb::NewRelationship {
                roles: vec![99],
                ..da(&[], 30, false)
            },
            &["relationships[0].roles[0]"],
        ),
    ];
    for (bad, fields) in cases {
        assert_invalid(rel.create(vec![bad.clone()], "").await, fields);
        // All or nothing: a good relationship before a bad one is not created either.
        let good = new(Type::Reseller, &partner, &customer);
        let shifted: Vec<String> = fields
            .iter()
            .map(|f| f.replace("relationships[0]", "relationships[1]"))
            .collect();
        let shifted: Vec<&str> = shifted.iter().map(String::as_str).collect();
        assert_invalid(rel.create(vec![good, bad], "").await, &shifted);
    }
    assert!(
        rel.ids_in_state(&partner, &customer, State::Unspecified)
            .await
            .is_empty()
    );

    // The bounds themselves are allowed: one day, two years, auto-extend without global admin.
    let ok = rel
        .created(vec![
            da(&[Role::UserAdmin], 1, false),
            delegated(&partner, &uuid(), &[Role::BillingAdmin], 730, true),
        ])
        .await;
    assert_eq!(
        micros(ok[0].end_time.as_ref()),
        micros(ok[0].create_time.as_ref()) + DAY_MICROS
    );
    assert_eq!(
        micros(ok[1].end_time.as_ref()),
        micros(ok[1].create_time.as_ref()) + 730 * DAY_MICROS
    );
    sys.stop().await;
}

// ---- pages ----

#[tokio::test]
async fn lists_come_in_pages() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let partner = uuid();
    let customers: Vec<String> = (0..5).map(|_| uuid()).collect();
    let created = rel
        .created(
            customers
                .iter()
                .map(|c| new(Type::Reseller, &partner, c))
                .collect(),
        )
        .await;
    let by_partner = pb::ListRelationshipsRequest {
        page_size: 2,
        partner_tenant_id: partner.clone(),
        ..Default::default()
    };
    let mut token = String::new();
    let mut listed = Vec::new();
    let mut pages = 0;
    loop {
        let page = rel
            .list(pb::ListRelationshipsRequest {
                page_token: token.clone(),
                ..by_partner.clone()
            })
            .await
            .expect("ListRelationships");
        pages += 1;
        assert!(page.relationships.len() <= 2);
        listed.extend(ids(&page.relationships));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(listed, ids(&created), "oldest first, each once");

    // A token belongs to its filters.
    let first = rel.list(by_partner.clone()).await.expect("first page");
    assert_invalid(
        rel.list(pb::ListRelationshipsRequest {
            page_token: first.next_page_token.clone(),
            r#type: Type::DelegatedAdmin as i32,
            ..by_partner.clone()
        })
        .await,
        &["page_token"],
    );
    assert_invalid(
        rel.partners_page(&customers[0], 2, &first.next_page_token)
            .await,
        &["page_token"],
    );

    // A customer with five partners, each with two relationships, pages by partner.
    let customer = uuid();
    let mut partners: Vec<String> = (0..5).map(|_| uuid()).collect();
    for p in &partners {
        rel.created(vec![
            new(Type::Reseller, p, &customer),
            delegated(p, &customer, &[Role::UserAdmin], 0, false),
        ])
        .await;
    }
    partners.sort();
    let mut token = String::new();
    let mut rows = Vec::new();
    loop {
        let page = rel
            .partners_page(&customer, 2, &token)
            .await
            .expect("ListPartnersOfCustomer");
        assert!(page.partners.len() <= 2);
        rows.extend(page.partners);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let listed: Vec<String> = rows.iter().map(|r| r.partner_tenant_id.clone()).collect();
    assert_eq!(listed, partners);
    for row in &rows {
        assert_eq!(row.types, types(&[Type::Reseller, Type::DelegatedAdmin]));
        assert_eq!(row.relationships.len(), 2);
        assert!(
            row.relationships
                .iter()
                .all(|r| r.partner_tenant_id == row.partner_tenant_id)
        );
    }
    sys.stop().await;
}

// ---- bad input ----

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named() {
    let sys = TestSystem::start().await;
    let rel = Relationships::of(&sys).await;
    let (a, b, c) = (uuid(), uuid(), uuid());

    let list = |r: pb::ListRelationshipsRequest| rel.list(r);
    assert_invalid(list(Default::default()).await, &["partner_tenant_id"]);
    assert_invalid(
        list(pb::ListRelationshipsRequest {
            partner_tenant_id: "nope".into(),
            client_tenant_id: "42".into(),
            r#type: 99,
            state: -1,
            page_size: -1,
            page_token: "garbage!".into(),
        })
        .await,
        &[
            "partner_tenant_id",
            "client_tenant_id",
            "type",
            "state",
            "page_size",
            "page_token",
        ],
    );
    let status = list(Default::default()).await.expect_err("refused");
    use tonic_types::StatusExt;
    assert_eq!(
        status
            .get_error_details()
            .error_info()
            .expect("info")
            .domain,
        "relationships.partnerhub"
    );
    // Only the client named is fine too.
    assert!(
        list(pb::ListRelationshipsRequest {
            client_tenant_id: a.clone(),
            ..Default::default()
        })
        .await
        .expect("by client")
        .relationships
        .is_empty()
    );

    assert_invalid(rel.get("", "x").await, &["tenant_id", "relationship_id"]);
    assert_not_found(rel.get(&a, &b).await);
    assert_invalid(
        rel.terminate("x", "").await,
        &["tenant_id", "relationship_id"],
    );
    assert_not_found(rel.terminate(&a, &b).await);
    assert_invalid(rel.partners_page("", 0, "").await, &["customer_tenant_id"]);
    assert_invalid(
        rel.customers_page("", "", 0, "").await,
        &["partner_tenant_id"],
    );
    assert_invalid(
        rel.customers_page("no", "reseller", -5, "garbage!").await,
        &[
            "partner_tenant_id",
            "indirect_reseller_id",
            "page_size",
            "page_token",
        ],
    );
    assert_invalid(
        rel.customers_page(&a, &a, 0, "").await,
        &["indirect_reseller_id"],
    );
    assert_invalid(
        rel.partners_page("no", -5, "").await,
        &["customer_tenant_id", "page_size"],
    );
    assert_invalid(
        rel.public
            .clone()
            .remove_admin_roles(pb::RemoveAdminRolesRequest::default())
            .await,
        &["customer_tenant_id", "partner_tenant_id"],
    );
    assert_invalid(
        rel.internal
            .clone()
            .check_access(pb::CheckAccessRequest {
                partner_tenant_id: a.clone(),
                customer_tenant_id: "Contoso".into(),
            })
            .await,
        &["customer_tenant_id"],
    );

    let reseller = new(Type::Reseller, &a, &b);
    assert_invalid(rel.create(vec![], "").await, &["relationships"]);
    assert_invalid(
        rel.create(vec![reseller.clone(); 101], "").await,
        &["relationships"],
    );
    assert_invalid(
        rel.create(vec![reseller.clone()], "nope").await,
        &["request_id"],
    );
    let cases: Vec<(pb::NewRelationship, &[&str])> = vec![
        (new(Type::Unspecified, &a, &b), &["relationships[0].type"]),
        (
            pb::NewRelationship {
                r#type: 99,
                ..reseller.clone()
            },
            &["relationships[0].type"],
        ),
        (
            new(Type::Reseller, "", "b"),
            &[
                "relationships[0].partner_tenant_id",
                "relationships[0].client_tenant_id",
            ],
        ),
        (
            new(Type::Reseller, &a, &a),
            &["relationships[0].client_tenant_id"],
        ),
        (
            pb::NewRelationship {
                roles: vec![Role::UserAdmin as i32],
                duration: Some(prost_types::Duration {
                    seconds: 30 * DAY,
                    nanos: 0,
                }),
                auto_extend: true,
                ..reseller.clone()
            },
            &[
                "relationships[0].roles",
                "relationships[0].duration",
                "relationships[0].auto_extend",
            ],
        ),
        (
            pb::NewRelationship {
                indirect_provider_tenant_id: c.clone(),
                ..reseller.clone()
            },
            &["relationships[0].indirect_provider_tenant_id"],
        ),
        (
            new(Type::IndirectReseller, &a, &b),
            &["relationships[0].indirect_provider_tenant_id"],
        ),
        (
            indirect_reseller(&a, &b, "provider"),
            &["relationships[0].indirect_provider_tenant_id"],
        ),
        (
            indirect_reseller(&a, &b, &b),
            &["relationships[0].indirect_provider_tenant_id"],
        ),
        (
            pb::NewRelationship {
                invitation_id: "inv-1".into(),
                ..reseller.clone()
            },
            &["relationships[0].invitation_id"],
        ),
    ];
    for (bad, fields) in cases {
        assert_invalid(rel.create(vec![bad], "").await, fields);
    }
    assert!(
        rel.ids_in_state(&a, &b, State::Unspecified)
            .await
            .is_empty()
    );
    sys.stop().await;
}

// ---- the tenants service ----

#[tokio::test]
async fn the_partners_page_is_unavailable_rather_than_nameless_when_tenants_does_not_answer() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let db = system::open_database(
        system::Service::Relationships,
        &sqlite_url(dir.path(), "relationships"),
    )
    .await
    .expect("database");
    // A port nobody listens on.
    let gone = bind("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind");
    let tenants_addr = gone.local_addr().expect("address");
    drop(gone);
    let keys = system::SecretKeys::generate();
    let tenants =
        system::channel(&format!("http://{tenants_addr}"), &keys.internal).expect("channel");
    let peers = system::Peers {
        relationships: tenants.clone(),
        subscriptions: tenants.clone(),
        tenants,
    };
    let server = system::service_server(
        system::Service::Relationships,
        db,
        &peers,
        &Settings::default(),
        &keys,
    );
    let listener = bind("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(listener, Limits::default(), async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let rel = Relationships::over(Peer::new(channel, keys.internal.clone()));
    let (partner, customer) = (uuid(), uuid());

    // Nothing to name: the empty page needs no names.
    assert!(rel.partners(&customer).await.is_empty());
    rel.created(vec![new(Type::Reseller, &partner, &customer)])
        .await;
    let status = rel
        .partners_page(&customer, 0, "")
        .await
        .expect_err("no names, no page");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(reason(&status), "SERVICE_UNAVAILABLE");
    // The partner's customer list can't tell pending customers from active ones either.
    assert!(rel.customers(&uuid(), "").await.is_empty());
    let status = rel
        .customers_page(&partner, "", 0, "")
        .await
        .expect_err("no tenants, no customer list");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(reason(&status), "SERVICE_UNAVAILABLE");
    // What needs no names still answers.
    assert_eq!(
        rel.ids_in_state(&partner, &customer, State::Active)
            .await
            .len(),
        1
    );
    let _ = stop.send(());
    running.await.expect("task").expect("server");
}

// ---- who may sell to whom (the rule placing an order and creating a customer ask) ----

#[tokio::test]
async fn a_reseller_sells_to_its_customers_and_an_indirect_provider_through_its_partners() {
    let sys = TestSystem::start().await;
    let r = Relationships::of(&sys).await;
    let (direct, provider, reseller, customer, other) = (uuid(), uuid(), uuid(), uuid(), uuid());
    r.create(
        vec![
            new(Type::Reseller, &direct, &customer),
            new(Type::DelegatedAdmin, &other, &customer),
            new(Type::IndirectPartnership, &provider, &reseller),
            indirect_reseller(&reseller, &other, &provider),
        ],
        "",
    )
    .await
    .expect("CreateRelationships");
    let check = |partner: &str, customer: &str, reseller: &str| {
        let r = r.clone();
        let request = pb::CheckSellerRequest {
            partner_tenant_id: partner.into(),
            customer_tenant_id: customer.into(),
            indirect_reseller_id: reseller.into(),
        };
        async move { r.internal.clone().check_seller(request).await.map(|_| ()) }
    };
    let refused = |result: Result<(), Status>, why: &str| {
        let status = result.expect_err("refused");
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::FailedPrecondition, why),
            "{status:?}"
        );
    };

    // Its own reseller relationship, or an indirect reseller's under it as the provider.
    check(&direct, &customer, "")
        .await
        .expect("the reseller sells");
    check(&provider, &other, "")
        .await
        .expect("the provider sells");
    // Delegated admin is no licence to sell; the reseller's customer is not the provider's
    // other partner's.
    refused(
        check(&other, &customer, "").await,
        "NOT_RESELLER_OF_CUSTOMER",
    );
    refused(check(&direct, &other, "").await, "NOT_RESELLER_OF_CUSTOMER");

    // Through a reseller: the partnership first, then the reseller's partner agreement (this
    // reseller is no tenant, so it accepted none).
    refused(
        check(&direct, "", &reseller).await,
        "RESELLER_NOT_IN_PARTNERSHIP",
    );
    refused(
        check(&provider, "", &reseller).await,
        "RESELLER_AGREEMENT_NOT_ACCEPTED",
    );

    // An ended relationship sells nothing.
    let ended = r
        .public
        .clone()
        .list_relationships(pb::ListRelationshipsRequest {
            partner_tenant_id: direct.clone(),
            client_tenant_id: customer.clone(),
            page_size: 10,
            ..Default::default()
        })
        .await
        .expect("ListRelationships")
        .into_inner()
        .relationships;
    r.terminate(&direct, &ended[0].id).await.expect("ended");
    refused(
        check(&direct, &customer, "").await,
        "NOT_RESELLER_OF_CUSTOMER",
    );

    assert_invalid(
        check("", "not-a-uuid", "x").await,
        &[
            "partner_tenant_id",
            "customer_tenant_id",
            "indirect_reseller_id",
        ],
    );
}
