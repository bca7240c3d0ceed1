//! The authorization table and the handlers agree: every caller a row of
//! `gateway/src/policy.rs` admits is served by the method's handler, never refused for who it
//! is (the operator, a service account, the role it holds, an agent acting through delegated
//! admin).
//!
//! For each row, the callers its rule admits, each in a group of which one must be served:
//! for each role the row lists, a user holding only that role, and a service account holding
//! only that role, in one of the tenants here where the role exists (the table speaks of roles,
//! not of kinds of tenant: a customer's global admin watches no subscription events, a
//! provider's does); the operator where the row admits it; where the row is delegated, a
//! partner's admin agent holding only that customer role through delegated admin (and a
//! helpdesk agent for the helpdesk admin role). Each calls the method with a request that
//! suits it and must get an answer that is no error. A row this test has no request for fails
//! it: a new method is checked the day it is added.

use partnerhub_gateway::policy::{self, Rule};
use partnerhub_proto::gateway as gw;
use partnerhub_proto::invitations::{self as inv, InvitationKind};
use partnerhub_proto::relationships::{self as rel, RelationshipType};
use partnerhub_proto::subscriptions as sub;
use partnerhub_proto::support as sup;
use partnerhub_proto::tenants as pb;
use partnerhub_proto::types::{Cloud, LineItem, Money, PartnerType, Role};
use partnerhub_tenants::{domain::Kind, totp};
use partnerhub_tests::{NEW_PASSWORD, Raw, TestSystem, contact, customer_form, partner, reason};
use prost::Message;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use tonic::codegen::http::uri::PathAndQuery;

/// The tenants callers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Place {
    /// A customer of the provider, with subscriptions it bills.
    Customer,
    /// An indirect provider.
    Provider,
    /// An indirect reseller, in no partnership yet.
    Reseller,
    /// A subscription advisor.
    Advisor,
}

const PLACES: [Place; 4] = [
    Place::Customer,
    Place::Provider,
    Place::Reseller,
    Place::Advisor,
];

impl Place {
    /// The roles its users can hold (the tenants service's rule).
    fn roles(self) -> &'static [Role] {
        match self {
            Place::Customer => Kind::Customer.roles(),
            _ => Kind::Partner.roles(),
        }
    }
}

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Operator,
    /// A user (`account`: a service account) of `place` holding only `role` (`None`: none).
    Member {
        place: Place,
        role: Option<Role>,
        account: bool,
    },
    /// A partner's `agent` acting in the customer through a grant of `granted` only.
    Agent {
        agent: Role,
        granted: Role,
    },
}

/// A caller ready to call.
struct Caller {
    who: Who,
    token: String,
}

impl Caller {
    fn place(&self) -> Option<Place> {
        match self.who {
            Who::Member { place, .. } => Some(place),
            Who::Agent { .. } => Some(Place::Customer),
            Who::Operator => None,
        }
    }

    fn role(&self) -> Option<Role> {
        match self.who {
            Who::Member { role, .. } => role,
            Who::Agent { granted, .. } => Some(granted),
            Who::Operator => None,
        }
    }

    fn is_user(&self) -> bool {
        matches!(self.who, Who::Member { account: false, .. })
    }
}

/// One call: as whom (a fresh user may stand in for a caller, e.g. to change its password) and
/// the request's bytes.
struct Call {
    token: String,
    body: Vec<u8>,
}

/// The groups of callers a rule admits; one caller of each group must be served.
fn admitted(rule: Rule) -> Vec<Vec<Who>> {
    let members = |role: Option<Role>, account: bool| -> Vec<Who> {
        PLACES
            .into_iter()
            .filter(|p| role.is_none_or(|r| p.roles().contains(&r)))
            .map(|place| Who::Member {
                place,
                role,
                account,
            })
            .collect()
    };
    let by_role = |roles: &[Role]| -> Vec<Option<Role>> {
        if roles.is_empty() {
            vec![None]
        } else {
            roles.iter().copied().map(Some).collect()
        }
    };
    let mut groups = Vec::new();
    match rule {
        Rule::Anyone => {
            groups.push(vec![Who::Operator]);
            groups.push(members(None, false));
            groups.push(members(Some(Role::BillingAdmin), true));
        }
        Rule::Person => groups.push(members(None, false)),
        Rule::Operator => groups.push(vec![Who::Operator]),
        Rule::InTenant {
            roles,
            operator,
            delegated,
            ..
        } => {
            for role in by_role(roles) {
                groups.push(members(role, false));
                groups.push(members(role, true));
            }
            if operator {
                groups.push(vec![Who::Operator]);
            }
            if delegated {
                let customer_roles = Place::Customer.roles();
                let granted: Vec<Role> = if roles.is_empty() {
                    customer_roles.to_vec()
                } else {
                    roles
                        .iter()
                        .copied()
                        .filter(|r| customer_roles.contains(r))
                        .collect()
                };
                for granted in granted {
                    groups.push(vec![Who::Agent {
                        agent: Role::AdminAgent,
                        granted,
                    }]);
                    if granted == Role::HelpdeskAdmin {
                        groups.push(vec![Who::Agent {
                            agent: Role::HelpdeskAgent,
                            granted,
                        }]);
                    }
                }
            }
        }
        Rule::OwnList { roles, .. } => {
            for role in by_role(roles) {
                groups.push(members(role, false));
                groups.push(members(role, true));
            }
            groups.push(vec![Who::Operator]);
        }
    }
    groups
}

/// A tenant of the world, with its first global admin's token.
struct Tenant {
    id: String,
    admin: String,
    mpn_id: String,
}

/// What the callers act on.
struct World {
    sys: TestSystem,
    tenants: HashMap<Place, Tenant>,
    offer: sub::Offer,
    trial_offer: sub::Offer,
    order_id: String,
    subscription_id: String,
    reseller_relationship_id: String,
    /// A service request of the customer about `subscription_id` (the provider its support
    /// contact), left open.
    service_request_id: String,
    callers: HashMap<Who, Caller>,
    made: usize,
    /// The customer's trial that `ConvertTrial` converts (made on first use).
    trial_id: Option<String>,
}

/// The request id of every `ConvertTrial` here: the first converts the one trial, the others
/// are served its answer again.
const CONVERT_REQUEST_ID: &str = "0191e6a4-5b1c-7a39-9c55-3c0b0f7d3e11";

/// What an authenticator app shows `offset` steps from now.
fn code(secret: &str, offset: i64) -> String {
    let step = Duration::from_secs(30 * offset.unsigned_abs());
    let now = SystemTime::now();
    let at = if offset < 0 { now - step } else { now + step };
    totp::code(secret, at).expect("a code")
}

/// `place` if it is one of `places`: the tenants a method is about (`None`: the caller's
/// tenant has nothing to do with it, a reseller with a customer's order, say).
fn one_of(place: Place, places: &[Place]) -> Option<Place> {
    places.contains(&place).then_some(place)
}

fn mask(path: &str) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: vec![path.into()],
    })
}

impl World {
    async fn new() -> World {
        let sys = TestSystem::start().await;
        let mut tenants = HashMap::new();
        for (place, prefix, mpn_id, kind) in [
            (
                Place::Provider,
                "provider",
                "1111111",
                PartnerType::IndirectProvider,
            ),
            (
                Place::Reseller,
                "reseller",
                "2222222",
                PartnerType::IndirectReseller,
            ),
            (Place::Advisor, "advisor", "3333333", PartnerType::Advisor),
        ] {
            let (tenant, admin) = sys.partner_admin(prefix, mpn_id, &[kind]).await;
            tenants.insert(
                place,
                Tenant {
                    id: tenant.id,
                    admin,
                    mpn_id: mpn_id.into(),
                },
            );
        }
        let offers = sys
            .offers(&tenants[&Place::Provider].admin, Cloud::Worldwide, "SE")
            .await;
        let offer = offers.first().expect("an offer sold in Sweden").clone();
        let trial_offer = offers
            .iter()
            .find(|o| o.trial_available)
            .expect("an offer with a trial")
            .clone();
        let line = LineItem {
            offer_id: offer.id.clone(),
            quantity: offer.min_quantity,
            ..Default::default()
        };
        let provider = &tenants[&Place::Provider];
        let (created, admin) = sys
            .created_customer(&provider.admin, &provider.id, "customer", vec![line])
            .await;
        let customer = created.customer.expect("customer").id;
        let reseller_relationship_id = created
            .relationships
            .iter()
            .find(|r| r.r#type == RelationshipType::Reseller as i32)
            .expect("the reseller relationship")
            .id
            .clone();
        tenants.insert(
            Place::Customer,
            Tenant {
                id: customer,
                admin,
                mpn_id: String::new(),
            },
        );
        let mut world = World {
            sys,
            tenants,
            offer,
            trial_offer,
            order_id: created.order.expect("order").id,
            subscription_id: created.subscriptions[0].id.clone(),
            reseller_relationship_id,
            service_request_id: String::new(),
            trial_id: None,
            callers: HashMap::new(),
            made: 0,
        };
        world.service_request_id = world.new_service_request().await;
        world
    }

    /// A new service request of the customer about its subscription, opened by its admin.
    async fn new_service_request(&self) -> String {
        let customer = self.tenant(Place::Customer);
        sup::support_service_client::SupportServiceClient::new(self.sys.authed(&customer.admin))
            .create_service_request(sup::CreateServiceRequestRequest {
                service_request: Some(self.service_request_form()),
                request_id: String::new(),
            })
            .await
            .expect("CreateServiceRequest")
            .into_inner()
            .service_request
            .expect("the request")
            .id
    }

    /// A service request to open for the customer about its subscription.
    fn service_request_form(&self) -> sup::ServiceRequest {
        sup::ServiceRequest {
            customer_tenant_id: self.id(Place::Customer),
            subscription_id: self.subscription_id.clone(),
            title: "Sign-in fails".into(),
            description: "Since this morning".into(),
            severity: sup::service_request::Severity::Moderate as i32,
            ..Default::default()
        }
    }

    fn tenant(&self, place: Place) -> &Tenant {
        &self.tenants[&place]
    }

    fn id(&self, place: Place) -> String {
        self.tenant(place).id.clone()
    }

    /// A new name each time.
    fn name(&mut self, what: &str) -> String {
        self.made += 1;
        format!("{what}{}", self.made)
    }

    /// A new user of `place` with `roles` (not signed in), with its temporary password.
    async fn new_user(&mut self, place: Place, roles: &[Role]) -> (pb::User, String) {
        let name = self.name("u");
        let tenant = self.tenant(place);
        self.sys
            .new_user(&tenant.admin, &tenant.id, &name, roles)
            .await
    }

    /// A new user of `place` with `roles`, signed in with a password of its own.
    async fn signed_in_user(&mut self, place: Place, roles: &[Role]) -> (pb::User, String) {
        let (user, temporary) = self.new_user(place, roles).await;
        let token = self.sys.activate_user(&user.user_name, &temporary).await;
        (user, token)
    }

    /// A new service account of `place` with `roles`: its id, its secret's id and its token.
    async fn new_account(&mut self, place: Place, roles: &[Role]) -> (String, String, String) {
        let name = self.name("konto");
        let tenant = self.tenant(place);
        let created = self
            .sys
            .tenants(&tenant.admin)
            .create_service_account(pb::CreateServiceAccountRequest {
                tenant_id: tenant.id.clone(),
                service_account: Some(pb::ServiceAccount {
                    display_name: name,
                    roles: roles.iter().map(|r| *r as i32).collect(),
                    ..Default::default()
                }),
                secret_expire_time: None,
                request_id: String::new(),
            })
            .await
            .expect("CreateServiceAccount")
            .into_inner();
        let account = created.service_account.expect("account");
        let token = self
            .sys
            .auth("")
            .sign_in_service_account(gw::SignInServiceAccountRequest {
                client_id: account.id.clone(),
                client_secret: created.client_secret,
            })
            .await
            .expect("SignInServiceAccount")
            .into_inner()
            .access_token;
        (account.id, account.secrets[0].id.clone(), token)
    }

    /// Sends an invitation as `inviter`'s admin.
    async fn invite(&self, inviter: &Tenant, invitation: inv::Invitation) -> (String, String) {
        let created = self
            .sys
            .invitations(&inviter.admin)
            .create_invitation(inv::CreateInvitationRequest {
                invitation: Some(invitation),
                ttl: None,
                request_id: String::new(),
            })
            .await
            .expect("CreateInvitation")
            .into_inner();
        (created.invitation.expect("invitation").id, created.code)
    }

    /// The invitation `role` sends from `place` (which kind depends on the role, seeds 000 to
    /// 003), or `None` where it sends none.
    fn invitation_for(&self, place: Place, role: Option<Role>) -> Option<inv::Invitation> {
        let inviter_tenant_id = self.id(place);
        match (place, role) {
            (Place::Customer, _) => None,
            (Place::Provider, Some(Role::UserAdmin)) => Some(inv::Invitation {
                kind: InvitationKind::IndirectPartnership as i32,
                inviter_tenant_id,
                invitee_tenant_id: self.id(Place::Reseller),
                ..Default::default()
            }),
            (_, Some(Role::UserAdmin)) => None,
            (Place::Advisor, Some(Role::HelpdeskAgent)) => Some(inv::Invitation {
                kind: InvitationKind::Trial as i32,
                inviter_tenant_id,
                line_items: vec![LineItem {
                    offer_id: self.trial_offer.id.clone(),
                    quantity: self.trial_offer.min_quantity,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            (_, Some(Role::HelpdeskAgent)) => None,
            _ => Some(self.collaborator(place)),
        }
    }

    /// An invitation the provider sends to `place`: a collaborator relationship to the
    /// customer, an indirect partnership to the reseller.
    fn invitation_to(&self, place: Place) -> Option<inv::Invitation> {
        match place {
            Place::Customer => Some(self.collaborator(Place::Provider)),
            Place::Reseller => self.invitation_for(Place::Provider, Some(Role::UserAdmin)),
            _ => None,
        }
    }

    /// `place`'s id as a list's filter names it: as the customer (first) or as the partner.
    fn sides(&self, place: Place) -> (String, String) {
        if place == Place::Customer {
            (self.id(place), String::new())
        } else {
            (String::new(), self.id(place))
        }
    }

    /// A collaborator invitation from `place` to the customer.
    fn collaborator(&self, place: Place) -> inv::Invitation {
        inv::Invitation {
            kind: InvitationKind::Collaborator as i32,
            inviter_tenant_id: self.id(place),
            invitee_tenant_id: self.id(Place::Customer),
            ..Default::default()
        }
    }

    /// Accepts `code` as `place`'s admin; the relationships it made.
    async fn accept(&self, place: Place, code: String) -> Vec<rel::Relationship> {
        self.sys
            .workflows(&self.tenant(place).admin)
            .accept_invitation(gw::AcceptInvitationRequest {
                code,
                tenant_id: self.id(place),
                agreement_signer: Some(contact("Maja", "Ek")),
                request_id: uuid::Uuid::new_v4().to_string(),
                line_items: Vec::new(),
            })
            .await
            .expect("AcceptInvitation")
            .into_inner()
            .relationships
    }

    /// A new relationship that `place`'s `role` may end: an indirect partnership of the
    /// provider and the reseller for the roles of seed 003, else a collaborator relationship
    /// of the customer.
    async fn relationship_to_end(&mut self, place: Place, role: Option<Role>) -> Option<String> {
        let partnership = matches!(role, Some(Role::UserAdmin | Role::SalesAgent));
        let (inviter, invitee, invitation) = match (place, partnership) {
            (Place::Provider | Place::Reseller, true) => (
                Place::Provider,
                Place::Reseller,
                self.invitation_for(Place::Provider, Some(Role::UserAdmin))?,
            ),
            (_, true) => return None,
            (Place::Customer, false) => (
                Place::Provider,
                Place::Customer,
                self.collaborator(Place::Provider),
            ),
            (_, false) => (place, Place::Customer, self.collaborator(place)),
        };
        let (_, code) = self.invite(self.tenant(inviter), invitation).await;
        let made = self.accept(invitee, code).await;
        Some(made.first().expect("a relationship").id.clone())
    }

    /// A new subscription of the customer, billed by the provider; suspended if asked.
    async fn new_subscription(&mut self, suspended: bool) -> String {
        let provider = self.tenant(Place::Provider);
        let placed = sub::subscription_service_client::SubscriptionServiceClient::new(
            self.sys.authed(&provider.admin),
        )
        .place_order(sub::PlaceOrderRequest {
            customer_tenant_id: self.id(Place::Customer),
            partner_tenant_id: provider.id.clone(),
            line_items: vec![self.line()],
            ..Default::default()
        })
        .await
        .expect("PlaceOrder")
        .into_inner();
        let id = placed.subscriptions[0].id.clone();
        if suspended {
            sub::subscription_service_client::SubscriptionServiceClient::new(
                self.sys.authed(&provider.admin),
            )
            .suspend_subscription(sub::SuspendSubscriptionRequest {
                tenant_id: provider.id.clone(),
                subscription_id: id.clone(),
                etag: String::new(),
            })
            .await
            .expect("SuspendSubscription");
        }
        id
    }

    /// The customer's trial of an offer no invitation here offers, made on first use.
    async fn trial(&mut self) -> String {
        if let Some(id) = &self.trial_id {
            return id.clone();
        }
        let offer = self
            .sys
            .offers(&self.tenant(Place::Provider).admin, Cloud::Worldwide, "SE")
            .await
            .into_iter()
            .rev()
            .find(|o| o.trial_available && o.id != self.trial_offer.id)
            .expect("a second offer with a trial");
        let internal =
            sub::subscription_internal_service_client::SubscriptionInternalServiceClient::new(
                self.sys.service("subscriptions").await,
            );
        let id = internal
            .clone()
            .create_advisor_subscriptions(sub::CreateAdvisorSubscriptionsRequest {
                customer_tenant_id: self.id(Place::Customer),
                partner_of_record_mpn_id: self.tenant(Place::Advisor).mpn_id.clone(),
                line_items: vec![LineItem {
                    offer_id: offer.id,
                    quantity: offer.min_quantity,
                    ..Default::default()
                }],
                trial: true,
                request_id: String::new(),
            })
            .await
            .expect("CreateAdvisorSubscriptions")
            .into_inner()
            .subscriptions[0]
            .id
            .clone();
        self.trial_id = Some(id.clone());
        id
    }

    fn line(&self) -> LineItem {
        LineItem {
            offer_id: self.offer.id.clone(),
            quantity: self.offer.min_quantity,
            ..Default::default()
        }
    }

    /// A new product key of the line's offer and licences, issued by the operator.
    async fn product_key(&self) -> String {
        sub::subscription_service_client::SubscriptionServiceClient::new(
            self.sys.authed(&self.sys.operator),
        )
        .create_product_keys(sub::CreateProductKeysRequest {
            offer_id: self.offer.id.clone(),
            count: 1,
            quantity: self.offer.min_quantity,
            ..Default::default()
        })
        .await
        .expect("CreateProductKeys")
        .into_inner()
        .product_keys
        .remove(0)
        .key
    }

    /// The caller `who`, made the first time it is asked for.
    async fn caller(&mut self, who: Who) -> &Caller {
        if !self.callers.contains_key(&who) {
            let caller = self.make_caller(who).await;
            self.callers.insert(who, caller);
        }
        &self.callers[&who]
    }

    async fn make_caller(&mut self, who: Who) -> Caller {
        match who {
            Who::Operator => Caller {
                who,
                token: self.sys.operator.clone(),
            },
            Who::Member {
                place,
                role,
                account,
            } => {
                let roles: Vec<Role> = role.into_iter().collect();
                let token = if account {
                    self.new_account(place, &roles).await.2
                } else {
                    self.signed_in_user(place, &roles).await.1
                };
                Caller { who, token }
            }
            Who::Agent { agent, granted } => {
                // A partner of its own, granted `granted` only by the customer.
                let prefix = self.name("byra");
                let mpn_id = format!("{}", 5_000_000 + self.made);
                let (partner, admin) = self
                    .sys
                    .partner_admin(&prefix, &mpn_id, &[PartnerType::DirectProvider])
                    .await;
                let (_, token) = self.sys.user(&admin, &partner.id, "agent", &[agent]).await;
                let (_, code) = self
                    .invite(
                        &Tenant {
                            id: partner.id.clone(),
                            admin,
                            mpn_id,
                        },
                        inv::Invitation {
                            kind: InvitationKind::DelegatedAdmin as i32,
                            inviter_tenant_id: partner.id,
                            invitee_tenant_id: self.id(Place::Customer),
                            delegated_admin: Some(inv::DelegatedAdminRequest {
                                roles: vec![granted as i32],
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    )
                    .await;
                self.accept(Place::Customer, code).await;
                Caller { who, token }
            }
        }
    }

    /// The call of `path` that suits `caller` (`who`), or `None` where the caller's tenant has
    /// nothing this method is about (a customer's own customers, say).
    async fn request(&mut self, path: &str, who: Who) -> Option<Call> {
        let caller = self.caller(who).await;
        let (token, role, place) = (caller.token.clone(), caller.role(), caller.place());
        let is_user = caller.is_user();
        // Where the call acts: the caller's tenant, the customer for an agent, and for the
        // operator the tenant the method is most about.
        let here = |default: Place| place.unwrap_or(default);
        let method = path.rsplit('/').next().unwrap_or(path);
        let call = |body: Vec<u8>| {
            Some(Call {
                token: token.clone(),
                body,
            })
        };
        match method {
            // AuthService: the caller's own password and second factor. A user who changes them
            // must not be the caller of later rows, so a new one with the same roles stands in.
            "ChangePassword"
            | "BeginSecondFactorEnrollment"
            | "ConfirmSecondFactorEnrollment"
            | "RemoveSecondFactor" => {
                let token = if is_user {
                    let roles: Vec<Role> = role.into_iter().collect();
                    self.signed_in_user(here(Place::Customer), &roles).await.1
                } else {
                    token.clone()
                };
                let mut auth = self.sys.auth(&token);
                let body = match method {
                    "ChangePassword" => gw::ChangePasswordRequest {
                        current_password: NEW_PASSWORD.into(),
                        new_password: "Another-Phrase-Nobody-Guesses-7".into(),
                    }
                    .encode_to_vec(),
                    "BeginSecondFactorEnrollment" => gw::BeginSecondFactorEnrollmentRequest {
                        current_password: NEW_PASSWORD.into(),
                    }
                    .encode_to_vec(),
                    _ => {
                        let secret = match auth
                            .begin_second_factor_enrollment(
                                gw::BeginSecondFactorEnrollmentRequest {
                                    current_password: NEW_PASSWORD.into(),
                                },
                            )
                            .await
                        {
                            Ok(begun) => begun.into_inner().secret,
                            Err(_) => String::new(),
                        };
                        if method == "ConfirmSecondFactorEnrollment" {
                            gw::ConfirmSecondFactorEnrollmentRequest {
                                code: code(&secret, 0),
                            }
                            .encode_to_vec()
                        } else {
                            auth.confirm_second_factor_enrollment(
                                gw::ConfirmSecondFactorEnrollmentRequest {
                                    code: code(&secret, -1),
                                },
                            )
                            .await
                            .expect("ConfirmSecondFactorEnrollment");
                            gw::RemoveSecondFactorRequest {
                                current_password: NEW_PASSWORD.into(),
                                code: code(&secret, 0),
                            }
                            .encode_to_vec()
                        }
                    }
                };
                Some(Call { token, body })
            }
            // WorkflowService
            "AcceptInvitation" => {
                let place = here(Place::Customer);
                let invitation = self.invitation_to(place)?;
                let (_, code) = self.invite(self.tenant(Place::Provider), invitation).await;
                call(
                    gw::AcceptInvitationRequest {
                        code,
                        tenant_id: self.id(place),
                        agreement_signer: Some(contact("Olle", "Berg")),
                        request_id: uuid::Uuid::new_v4().to_string(),
                        line_items: Vec::new(),
                    }
                    .encode_to_vec(),
                )
            }
            "CreateCustomer" => {
                one_of(here(Place::Provider), &[Place::Provider])?;
                let prefix = self.name("ny");
                call(customer_form(&self.id(Place::Provider), &prefix, Vec::new()).encode_to_vec())
            }
            "AddSubscriptions" => {
                one_of(here(Place::Provider), &[Place::Provider])?;
                call(
                    gw::AddSubscriptionsRequest {
                        partner_tenant_id: self.id(Place::Provider),
                        customer_tenant_id: self.id(Place::Customer),
                        line_items: vec![self.line()],
                        request_id: uuid::Uuid::new_v4().to_string(),
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            }
            "SetPartnerOfRecord" => {
                let place = one_of(here(Place::Customer), &[Place::Customer, Place::Provider])?;
                call(
                    gw::SetPartnerOfRecordRequest {
                        tenant_id: self.id(place),
                        subscription_id: self.subscription_id.clone(),
                        mpn_id: self.tenant(Place::Advisor).mpn_id.clone(),
                        etag: String::new(),
                    }
                    .encode_to_vec(),
                )
            }
            "ListUnfinishedWorkflows" => {
                call(gw::ListUnfinishedWorkflowsRequest::default().encode_to_vec())
            }
            "RedeemProductKey" => {
                one_of(here(Place::Provider), &[Place::Provider])?;
                let product_key = self.product_key().await;
                call(
                    gw::RedeemProductKeyRequest {
                        partner_tenant_id: self.id(Place::Provider),
                        customer_tenant_id: self.id(Place::Customer),
                        product_key,
                        request_id: uuid::Uuid::new_v4().to_string(),
                    }
                    .encode_to_vec(),
                )
            }
            // AuditService
            "ListAuditEvents" => call(
                gw::ListAuditEventsRequest {
                    tenant_id: self.id(here(Place::Customer)),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            // TenantService
            "CreatePartner" => {
                let prefix = self.name("partner");
                let mpn_id = format!("{}", 6_000_000 + self.made);
                call(
                    pb::CreatePartnerRequest {
                        partner: Some(partner(&prefix, &mpn_id, &[PartnerType::DirectProvider])),
                        request_id: String::new(),
                    }
                    .encode_to_vec(),
                )
            }
            "GetTenant" => call(
                pb::GetTenantRequest {
                    tenant_id: self.id(here(Place::Customer)),
                }
                .encode_to_vec(),
            ),
            "ListTenants" => call(pb::ListTenantsRequest::default().encode_to_vec()),
            "UpdateTenant" => {
                let name = self.name("Namn ");
                call(
                    pb::UpdateTenantRequest {
                        tenant: Some(pb::Tenant {
                            id: self.id(here(Place::Customer)),
                            display_name: name,
                            ..Default::default()
                        }),
                        update_mask: mask("display_name"),
                    }
                    .encode_to_vec(),
                )
            }
            "VerifyPartnerId" => call(
                pb::VerifyPartnerIdRequest {
                    mpn_id: self.tenant(Place::Provider).mpn_id.clone(),
                }
                .encode_to_vec(),
            ),
            "SearchPartners" => call(pb::SearchPartnersRequest::default().encode_to_vec()),
            "ContactPartners" => {
                one_of(here(Place::Customer), &[Place::Customer])?;
                call(
                    pb::ContactPartnersRequest {
                        customer_tenant_id: self.id(Place::Customer),
                        partner_tenant_ids: vec![self.id(Place::Provider)],
                        needs: "Help moving our school to the cloud".into(),
                        contact: Some(contact("Olle", "Berg")),
                        request_id: uuid::Uuid::new_v4().to_string(),
                    }
                    .encode_to_vec(),
                )
            }
            "ListContactRequests" => call(
                pb::ListContactRequestsRequest {
                    partner_tenant_id: self.id(here(Place::Provider)),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            "CreateUser" => {
                let name = self.name("ny");
                call(
                    pb::CreateUserRequest {
                        tenant_id: self.id(here(Place::Customer)),
                        user: Some(pb::User {
                            user_name: name.clone(),
                            display_name: name,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    }
                    .encode_to_vec(),
                )
            }
            "ListUsers" => call(
                pb::ListUsersRequest {
                    tenant_id: self.id(here(Place::Customer)),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            "GetUser" | "UpdateUser" | "DeleteUser" | "ResetPassword" | "ResetSecondFactor" => {
                let place = here(Place::Customer);
                let tenant_id = self.id(place);
                // A user without roles, whom every admin who manages users may manage.
                let user_id = if method == "ResetSecondFactor" {
                    let (user, token) = self.signed_in_user(place, &[]).await;
                    let mut auth = self.sys.auth(&token);
                    let secret = auth
                        .begin_second_factor_enrollment(gw::BeginSecondFactorEnrollmentRequest {
                            current_password: NEW_PASSWORD.into(),
                        })
                        .await
                        .expect("BeginSecondFactorEnrollment")
                        .into_inner()
                        .secret;
                    auth.confirm_second_factor_enrollment(
                        gw::ConfirmSecondFactorEnrollmentRequest {
                            code: code(&secret, 0),
                        },
                    )
                    .await
                    .expect("ConfirmSecondFactorEnrollment");
                    user.id
                } else {
                    self.new_user(place, &[]).await.0.id
                };
                let body = match method {
                    "GetUser" => pb::GetUserRequest { tenant_id, user_id }.encode_to_vec(),
                    "UpdateUser" => pb::UpdateUserRequest {
                        tenant_id,
                        user: Some(pb::User {
                            id: user_id,
                            display_name: "Nytt namn".into(),
                            ..Default::default()
                        }),
                        update_mask: mask("display_name"),
                    }
                    .encode_to_vec(),
                    "DeleteUser" => pb::DeleteUserRequest {
                        tenant_id,
                        user_id,
                        etag: String::new(),
                    }
                    .encode_to_vec(),
                    "ResetPassword" => {
                        pb::ResetPasswordRequest { tenant_id, user_id }.encode_to_vec()
                    }
                    _ => pb::ResetSecondFactorRequest { tenant_id, user_id }.encode_to_vec(),
                };
                call(body)
            }
            "AcceptAgreement" => {
                let place = here(Place::Customer);
                let r#type = if place == Place::Customer {
                    pb::agreement::Type::CustomerAgreement
                } else {
                    pb::agreement::Type::PartnerAgreement
                };
                call(
                    pb::AcceptAgreementRequest {
                        tenant_id: self.id(place),
                        r#type: r#type as i32,
                        signer: Some(contact("Olle", "Berg")),
                    }
                    .encode_to_vec(),
                )
            }
            "ListAgreements" => call(
                pb::ListAgreementsRequest {
                    tenant_id: self.id(here(Place::Customer)),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            "CreateServiceAccount" => {
                let name = self.name("Robot ");
                call(
                    pb::CreateServiceAccountRequest {
                        tenant_id: self.id(here(Place::Customer)),
                        service_account: Some(pb::ServiceAccount {
                            display_name: name,
                            roles: vec![Role::BillingAdmin as i32],
                            ..Default::default()
                        }),
                        secret_expire_time: None,
                        request_id: uuid::Uuid::new_v4().to_string(),
                    }
                    .encode_to_vec(),
                )
            }
            "ListServiceAccounts" => call(
                pb::ListServiceAccountsRequest {
                    tenant_id: self.id(here(Place::Customer)),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
            "GetServiceAccount"
            | "UpdateServiceAccount"
            | "DeleteServiceAccount"
            | "AddServiceAccountSecret"
            | "DeleteServiceAccountSecret" => {
                let place = here(Place::Customer);
                let tenant_id = self.id(place);
                let (service_account_id, secret_id, _) =
                    self.new_account(place, &[Role::BillingAdmin]).await;
                let body = match method {
                    "GetServiceAccount" => pb::GetServiceAccountRequest {
                        tenant_id,
                        service_account_id,
                    }
                    .encode_to_vec(),
                    "UpdateServiceAccount" => pb::UpdateServiceAccountRequest {
                        tenant_id,
                        service_account: Some(pb::ServiceAccount {
                            id: service_account_id,
                            display_name: "Nytt namn".into(),
                            ..Default::default()
                        }),
                        update_mask: mask("display_name"),
                    }
                    .encode_to_vec(),
                    "DeleteServiceAccount" => pb::DeleteServiceAccountRequest {
                        tenant_id,
                        service_account_id,
                        etag: String::new(),
                    }
                    .encode_to_vec(),
                    "AddServiceAccountSecret" => pb::AddServiceAccountSecretRequest {
                        tenant_id,
                        service_account_id,
                        expire_time: None,
                        request_id: uuid::Uuid::new_v4().to_string(),
                    }
                    .encode_to_vec(),
                    _ => pb::DeleteServiceAccountSecretRequest {
                        tenant_id,
                        service_account_id,
                        secret_id,
                        revoke_tokens: false,
                    }
                    .encode_to_vec(),
                };
                call(body)
            }
            // RelationshipService
            "ListRelationships" => {
                let (customer, partner) = self.sides(here(Place::Provider));
                call(
                    rel::ListRelationshipsRequest {
                        client_tenant_id: customer,
                        partner_tenant_id: partner,
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            }
            "GetRelationship" => {
                let place = one_of(here(Place::Provider), &[Place::Customer, Place::Provider])?;
                call(
                    rel::GetRelationshipRequest {
                        tenant_id: self.id(place),
                        relationship_id: self.reseller_relationship_id.clone(),
                    }
                    .encode_to_vec(),
                )
            }
            "ListPartnersOfCustomer" => {
                one_of(here(Place::Customer), &[Place::Customer])?;
                call(
                    rel::ListPartnersOfCustomerRequest {
                        customer_tenant_id: self.id(Place::Customer),
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            }
            "ListCustomersOfPartner" => {
                let place = one_of(here(Place::Provider), &PLACES[1..])?;
                call(
                    rel::ListCustomersOfPartnerRequest {
                        partner_tenant_id: self.id(place),
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            }
            "RemoveAdminRoles" => {
                one_of(here(Place::Customer), &[Place::Customer])?;
                // A partner of its own, with delegated admin to remove.
                let prefix = self.name("granted");
                let mpn_id = format!("{}", 7_000_000 + self.made);
                let (granted, admin) = self
                    .sys
                    .partner_admin(&prefix, &mpn_id, &[PartnerType::DirectProvider])
                    .await;
                let partner_tenant_id = granted.id.clone();
                let (_, code) = self
                    .invite(
                        &Tenant {
                            id: granted.id.clone(),
                            admin,
                            mpn_id,
                        },
                        inv::Invitation {
                            kind: InvitationKind::DelegatedAdmin as i32,
                            inviter_tenant_id: granted.id,
                            invitee_tenant_id: self.id(Place::Customer),
                            delegated_admin: Some(inv::DelegatedAdminRequest::default()),
                            ..Default::default()
                        },
                    )
                    .await;
                self.accept(Place::Customer, code).await;
                call(
                    rel::RemoveAdminRolesRequest {
                        customer_tenant_id: self.id(Place::Customer),
                        partner_tenant_id,
                    }
                    .encode_to_vec(),
                )
            }
            "TerminateRelationship" => {
                let place = here(Place::Provider);
                let relationship_id = self.relationship_to_end(place, role).await?;
                call(
                    rel::TerminateRelationshipRequest {
                        tenant_id: self.id(place),
                        relationship_id,
                    }
                    .encode_to_vec(),
                )
            }
            // InvitationService
            "CreateInvitation" => {
                let invitation = self.invitation_for(here(Place::Provider), role)?;
                call(
                    inv::CreateInvitationRequest {
                        invitation: Some(invitation),
                        ttl: None,
                        request_id: String::new(),
                    }
                    .encode_to_vec(),
                )
            }
            "GetInvitation" | "ListInvitations" | "RevokeInvitation" => {
                let place = here(Place::Provider);
                let invitation = self
                    .invitation_for(place, role)
                    .or_else(|| (place != Place::Customer).then(|| self.collaborator(place)))?;
                let (invitation_id, _) = self.invite(self.tenant(place), invitation).await;
                let inviter_tenant_id = self.id(place);
                call(match method {
                    "GetInvitation" => inv::GetInvitationRequest {
                        inviter_tenant_id,
                        invitation_id,
                    }
                    .encode_to_vec(),
                    "ListInvitations" => inv::ListInvitationsRequest {
                        inviter_tenant_id,
                        ..Default::default()
                    }
                    .encode_to_vec(),
                    _ => inv::RevokeInvitationRequest {
                        inviter_tenant_id,
                        invitation_id,
                    }
                    .encode_to_vec(),
                })
            }
            "PreviewInvitation" => {
                let (_, code) = self
                    .invite(
                        self.tenant(Place::Provider),
                        inv::Invitation {
                            kind: InvitationKind::ResellerRelationship as i32,
                            inviter_tenant_id: self.id(Place::Provider),
                            ..Default::default()
                        },
                    )
                    .await;
                call(inv::PreviewInvitationRequest { code }.encode_to_vec())
            }
            "DeclineInvitation" => {
                let place = here(Place::Customer);
                let invitation = self.invitation_to(place)?;
                let (_, code) = self.invite(self.tenant(Place::Provider), invitation).await;
                call(
                    inv::DeclineInvitationRequest {
                        code,
                        tenant_id: self.id(place),
                    }
                    .encode_to_vec(),
                )
            }
            // SubscriptionService
            "ListOffers" => call(sub::ListOffersRequest::default().encode_to_vec()),
            "GetOffer" => call(
                sub::GetOfferRequest {
                    offer_id: self.offer.id.clone(),
                }
                .encode_to_vec(),
            ),
            "CreateOffer" => {
                let name = self.name("Erbjudande ");
                call(
                    sub::CreateOfferRequest {
                        offer: Some(sub::Offer {
                            cloud: Cloud::Worldwide as i32,
                            display_name: name,
                            description: "Made by the test".into(),
                            min_quantity: 1,
                            max_quantity: 100,
                            unit_price: Some(Money {
                                currency_code: "EUR".into(),
                                units: 5,
                                nanos: 0,
                            }),
                            country_codes: vec!["SE".into()],
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    }
                    .encode_to_vec(),
                )
            }
            "CreateProductKeys" => call(
                sub::CreateProductKeysRequest {
                    offer_id: self.offer.id.clone(),
                    count: 2,
                    quantity: self.offer.min_quantity,
                    country_code: String::new(),
                    request_id: uuid::Uuid::new_v4().to_string(),
                }
                .encode_to_vec(),
            ),
            "PlaceOrder" => {
                one_of(here(Place::Provider), &[Place::Provider])?;
                call(
                    sub::PlaceOrderRequest {
                        customer_tenant_id: self.id(Place::Customer),
                        partner_tenant_id: self.id(Place::Provider),
                        line_items: vec![self.line()],
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            }
            "GetOrder" => {
                let place = one_of(here(Place::Customer), &[Place::Customer, Place::Provider])?;
                call(
                    sub::GetOrderRequest {
                        tenant_id: self.id(place),
                        order_id: self.order_id.clone(),
                    }
                    .encode_to_vec(),
                )
            }
            "ListOrders" => {
                let (customer, partner) = self.sides(here(Place::Customer));
                call(
                    sub::ListOrdersRequest {
                        customer_tenant_id: customer,
                        partner_tenant_id: partner,
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            }
            "GetSubscription" => {
                let place = one_of(here(Place::Customer), &[Place::Customer, Place::Provider])?;
                call(
                    sub::GetSubscriptionRequest {
                        tenant_id: self.id(place),
                        subscription_id: self.subscription_id.clone(),
                    }
                    .encode_to_vec(),
                )
            }
            "ListSubscriptions" => {
                let (customer, partner) = self.sides(here(Place::Customer));
                call(
                    sub::ListSubscriptionsRequest {
                        customer_tenant_id: customer,
                        billing_partner_tenant_id: partner,
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            }
            "UpdateSubscription" => {
                let place = one_of(here(Place::Customer), &[Place::Customer, Place::Provider])?;
                self.made += 1;
                let quantity = self.offer.min_quantity + i32::try_from(self.made % 5).unwrap_or(0);
                call(
                    sub::UpdateSubscriptionRequest {
                        tenant_id: self.id(place),
                        subscription: Some(sub::Subscription {
                            id: self.subscription_id.clone(),
                            quantity,
                            ..Default::default()
                        }),
                        update_mask: mask("quantity"),
                    }
                    .encode_to_vec(),
                )
            }
            "SuspendSubscription" | "ReactivateSubscription" | "CancelSubscription" => {
                let place = one_of(here(Place::Customer), &[Place::Customer, Place::Provider])?;
                let subscription_id = self
                    .new_subscription(method == "ReactivateSubscription")
                    .await;
                let tenant_id = self.id(place);
                call(match method {
                    "SuspendSubscription" => sub::SuspendSubscriptionRequest {
                        tenant_id,
                        subscription_id,
                        etag: String::new(),
                    }
                    .encode_to_vec(),
                    "ReactivateSubscription" => sub::ReactivateSubscriptionRequest {
                        tenant_id,
                        subscription_id,
                        etag: String::new(),
                    }
                    .encode_to_vec(),
                    _ => sub::CancelSubscriptionRequest {
                        tenant_id,
                        subscription_id,
                        etag: String::new(),
                    }
                    .encode_to_vec(),
                })
            }
            "UpgradeSubscription" => {
                let place = one_of(here(Place::Customer), &[Place::Customer, Place::Provider])?;
                let subscription_id = self.new_subscription(false).await;
                call(
                    sub::UpgradeSubscriptionRequest {
                        tenant_id: self.id(place),
                        subscription_id,
                        target_offer_id: self.offer.upgrade_offer_ids[0].clone(),
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            }
            "ConvertTrial" => {
                // An advisor's trial: the customer's to convert (no partner bills it).
                let place = one_of(here(Place::Customer), &[Place::Customer])?;
                let subscription_id = self.trial().await;
                call(
                    sub::ConvertTrialRequest {
                        tenant_id: self.id(place),
                        subscription_id,
                        request_id: CONVERT_REQUEST_ID.into(),
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            }
            "WatchSubscriptionEvents" => {
                let place = one_of(here(Place::Provider), &PLACES[1..])?;
                call(
                    sub::WatchSubscriptionEventsRequest {
                        partner_tenant_id: self.id(place),
                        cursor: String::new(),
                    }
                    .encode_to_vec(),
                )
            }
            // SupportService: the customer opens (its admins, or agents on its behalf); the
            // customer and the provider (the subscription's support contact) read and answer.
            "CreateServiceRequest" => {
                one_of(here(Place::Customer), &[Place::Customer])?;
                call(
                    sup::CreateServiceRequestRequest {
                        service_request: Some(self.service_request_form()),
                        request_id: uuid::Uuid::new_v4().to_string(),
                    }
                    .encode_to_vec(),
                )
            }
            "GetServiceRequest" => {
                let place = one_of(here(Place::Customer), &[Place::Customer, Place::Provider])?;
                call(
                    sup::GetServiceRequestRequest {
                        tenant_id: self.id(place),
                        service_request_id: self.service_request_id.clone(),
                    }
                    .encode_to_vec(),
                )
            }
            // Licences are assigned in the customer (its admins, or agents acting there).
            "AssignLicenses" | "RemoveLicenses" => {
                let place = one_of(here(Place::Customer), &[Place::Customer])?;
                let subscription_id = self.new_subscription(false).await;
                let (user, _) = self.new_user(Place::Customer, &[]).await;
                if method == "AssignLicenses" {
                    return call(
                        sub::AssignLicensesRequest {
                            tenant_id: self.id(place),
                            subscription_id,
                            user_ids: vec![user.id],
                            request_id: String::new(),
                        }
                        .encode_to_vec(),
                    );
                }
                let customer = self.tenant(Place::Customer);
                sub::subscription_service_client::SubscriptionServiceClient::new(
                    self.sys.authed(&customer.admin),
                )
                .assign_licenses(sub::AssignLicensesRequest {
                    tenant_id: customer.id.clone(),
                    subscription_id: subscription_id.clone(),
                    user_ids: vec![user.id.clone()],
                    request_id: String::new(),
                })
                .await
                .expect("AssignLicenses");
                call(
                    sub::RemoveLicensesRequest {
                        tenant_id: self.id(place),
                        subscription_id,
                        user_ids: vec![user.id],
                    }
                    .encode_to_vec(),
                )
            }
            "ListServiceRequests" => {
                let (customer, partner) = self.sides(here(Place::Customer));
                call(
                    sup::ListServiceRequestsRequest {
                        customer_tenant_id: customer,
                        partner_tenant_id: partner,
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            }
            "ListLicenseAssignments" => {
                let place = one_of(here(Place::Customer), &[Place::Customer])?;
                call(
                    sub::ListLicenseAssignmentsRequest {
                        tenant_id: self.id(place),
                        subscription_id: self.subscription_id.clone(),
                        ..Default::default()
                    }
                    .encode_to_vec(),
                )
            }
            "AddServiceRequestNote" => {
                let place = one_of(here(Place::Customer), &[Place::Customer, Place::Provider])?;
                call(
                    sup::AddServiceRequestNoteRequest {
                        tenant_id: self.id(place),
                        service_request_id: self.service_request_id.clone(),
                        text: "Any news?".into(),
                        request_id: uuid::Uuid::new_v4().to_string(),
                    }
                    .encode_to_vec(),
                )
            }
            "CloseServiceRequest" => {
                let place = one_of(here(Place::Customer), &[Place::Customer, Place::Provider])?;
                let service_request_id = self.new_service_request().await;
                call(
                    sup::CloseServiceRequestRequest {
                        tenant_id: self.id(place),
                        service_request_id,
                        resolution: "Solved".into(),
                        etag: String::new(),
                    }
                    .encode_to_vec(),
                )
            }
            _ => panic!("{path}: no request for it here; add one"),
        }
    }

    /// Makes the call; the refusal, if any.
    async fn send(&self, path: &str, call: Call) -> Result<(), tonic::Status> {
        let mut grpc = tonic::client::Grpc::new(self.sys.authed(&call.token));
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let path = PathAndQuery::try_from(path.to_string()).expect("a path");
        let request = tonic::Request::new(call.body);
        if path.path().ends_with("/WatchSubscriptionEvents") {
            grpc.server_streaming(request, path, Raw).await.map(drop)
        } else {
            grpc.unary(request, path, Raw).await.map(drop)
        }
    }
}

#[tokio::test]
async fn every_caller_the_table_admits_is_served_by_the_handler() {
    let mut world = World::new().await;
    let mut refused = Vec::new();
    let mut served = 0;
    for (path, rule, _) in policy::TABLE {
        for group in admitted(*rule) {
            let mut told = Vec::new();
            let mut ok = false;
            for who in &group {
                let Some(call) = world.request(path, *who).await else {
                    continue;
                };
                match world.send(path, call).await {
                    Ok(()) => {
                        ok = true;
                        break;
                    }
                    Err(status) => told.push(format!(
                        "{who:?}: {:?} {} {}",
                        status.code(),
                        reason(&status),
                        status.message()
                    )),
                }
            }
            if ok {
                served += 1;
            } else {
                refused.push(format!("{path} {group:?}:\n    {}", told.join("\n    ")));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "{} of {} callers the table admits were not served:\n{}",
        refused.len(),
        refused.len() + served,
        refused.join("\n")
    );
    world.sys.stop().await;
}
