//! The tenants domain: requests parsed once, at the edge, into types deeper code trusts.

use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::{tenants as pb, types};
use partnerhub_rules::{cloud, country};
use std::time::SystemTime;
use types::{Cloud, PartnerType, Role};

mod contact_requests;
pub use contact_requests::{
    ContactLimit, ContactRequest, LIMIT_WINDOW, MAX_NEEDS_CHARS, MAX_PARTNERS, NewContactRequest,
    SentLately,
};

/// Which agreement a tenant accepted.
pub use pb::agreement::Type as AgreementType;
/// A tenant's life: pending while the workflow creating it runs, then active.
pub use pb::tenant::State;

/// Every tenant's primary domain is its prefix under this domain.
pub const DOMAIN_SUFFIX: &str = "onpartnerhub.com";
/// The customer agreement's current version.
pub const CUSTOMER_AGREEMENT_VERSION: &str = "2026-01";
/// The partner agreement's current version.
pub const PARTNER_AGREEMENT_VERSION: &str = "2026-01";

/// Partner or customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Partner,
    Customer,
}

impl Kind {
    pub fn proto(self) -> pb::tenant::Kind {
        match self {
            Kind::Partner => pb::tenant::Kind::Partner,
            Kind::Customer => pb::tenant::Kind::Customer,
        }
    }

    /// The kind as the tables spell it: its protobuf value name.
    pub fn name(self) -> &'static str {
        self.proto().as_str_name()
    }

    /// The kind a stored value name spells; `None` for UNSPECIFIED or a name it does not know.
    pub fn from_name(name: &str) -> Option<Kind> {
        match pb::tenant::Kind::from_str_name(name)? {
            pb::tenant::Kind::Partner => Some(Kind::Partner),
            pb::tenant::Kind::Customer => Some(Kind::Customer),
            pb::tenant::Kind::Unspecified => None,
        }
    }

    /// The roles a user of such a tenant can hold (DOMAIN.md, "Roles").
    pub fn roles(self) -> &'static [Role] {
        match self {
            Kind::Customer => &[
                Role::GlobalAdmin,
                Role::BillingAdmin,
                Role::UserAdmin,
                Role::HelpdeskAdmin,
            ],
            Kind::Partner => &[
                Role::GlobalAdmin,
                Role::BillingAdmin,
                Role::UserAdmin,
                Role::AdminAgent,
                Role::SalesAgent,
                Role::HelpdeskAgent,
            ],
        }
    }

    /// The agreement this kind of tenant accepts, and its current version.
    pub fn agreement(self) -> (AgreementType, &'static str) {
        match self {
            Kind::Customer => (AgreementType::CustomerAgreement, CUSTOMER_AGREEMENT_VERSION),
            Kind::Partner => (AgreementType::PartnerAgreement, PARTNER_AGREEMENT_VERSION),
        }
    }
}

/// Now, in whole microseconds as the tables keep time, so a time read back equals the time
/// written and durations between them are exact.
pub fn now() -> SystemTime {
    let micros = u64::try_from(partnerhub_kit::time::now_micros()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(micros)
}

/// What the caller may do to users, from the roles the gateway says it holds in the tenant
/// (its own, or delegated ones for a partner's agent). Calls between services carry no roles
/// and act for the system.
#[derive(Debug, Clone)]
pub struct Authority(Option<Vec<Role>>);

impl Authority {
    pub fn new(roles: Option<Vec<Role>>) -> Self {
        Authority(roles)
    }

    fn holds(&self, role: Role) -> bool {
        self.0.as_ref().is_none_or(|r| r.contains(&role))
    }

    /// Who may give or take `changed` roles: the global admin role only a global admin (anyone
    /// else could raise itself to it), other roles a global admin or user admin.
    pub fn check_assign_roles(&self, changed: &[Role]) -> Result<(), crate::error::Error> {
        if changed.is_empty() || self.holds(Role::GlobalAdmin) {
            return Ok(());
        }
        if changed.contains(&Role::GlobalAdmin) {
            return Err(crate::error::Error::AdminRoleRequired(
                "only a global admin gives or takes the global admin role".into(),
            ));
        }
        if self.holds(Role::UserAdmin) {
            Ok(())
        } else {
            Err(crate::error::Error::AdminRoleRequired(
                "roles are given by a global admin or user admin".into(),
            ))
        }
    }

    /// Who may change, delete or reset the password of a user holding `target` roles: a
    /// global admin anyone; a user admin anyone but global admins; helpdesk roles only users
    /// without admin roles (a reset of an admin's password would hand over the admin).
    pub fn check_manage(&self, target: &[Role]) -> Result<(), crate::error::Error> {
        if self.holds(Role::GlobalAdmin) {
            return Ok(());
        }
        if target.contains(&Role::GlobalAdmin) {
            return Err(crate::error::Error::AdminRoleRequired(
                "only a global admin manages a global admin".into(),
            ));
        }
        if !target.is_empty() && !self.holds(Role::UserAdmin) {
            return Err(crate::error::Error::AdminRoleRequired(
                "a user with admin roles is managed by a global admin or user admin".into(),
            ));
        }
        Ok(())
    }
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub lines: Vec<String>,
    pub locality: String,
    pub administrative_area: String,
    pub postal_code: String,
}

/// A person: a tenant's contact or an agreement's signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
}

/// What a partner is in the program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerProfile {
    pub mpn_id: String,
    pub partner_types: Vec<PartnerType>,
    pub listed: bool,
    pub description: String,
    pub keywords: Vec<String>,
    /// The partner's public contact details (seed 002: customers see them); each may be empty.
    pub public_contact: PublicContact,
    /// The sizes of organisations it works with (seed 001's search by size); empty: not said.
    pub customer_sizes: Vec<pb::CompanySize>,
}

/// How customers reach a partner: what its public profile shows besides its name and address.
/// Each field may be empty (none given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicContact {
    pub phone: String,
    pub email: String,
    pub website: String,
}

/// A partner or customer.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub kind: Kind,
    pub display_name: String,
    pub cloud: Cloud,
    pub country_code: String,
    pub domain_prefix: String,
    pub address: Address,
    pub contact: Contact,
    pub state: State,
    /// Partners only.
    pub partner: Option<PartnerProfile>,
    /// Goes up with every change; the etag.
    pub version: i64,
    pub create_time: SystemTime,
    pub update_time: SystemTime,
}

impl Tenant {
    /// The tenant a create makes. A customer waits for its creating workflow to finish
    /// (`ActivateTenant`); a partner is active at once.
    pub fn create(id: String, new: NewTenant, now: SystemTime) -> Tenant {
        Tenant {
            id,
            state: match new.kind {
                Kind::Customer => State::Pending,
                Kind::Partner => State::Active,
            },
            kind: new.kind,
            display_name: new.display_name,
            cloud: new.cloud,
            country_code: new.country_code,
            domain_prefix: new.domain_prefix,
            address: new.address,
            contact: new.contact,
            partner: new.partner,
            version: 1,
            create_time: now,
            update_time: now,
        }
    }

    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }

    pub fn primary_domain(&self) -> String {
        primary_domain(&self.domain_prefix)
    }

    /// The lower-case text partner search looks in.
    pub fn search_text(&self) -> String {
        let (description, keywords) = match &self.partner {
            Some(p) => (p.description.as_str(), p.keywords.join("\n")),
            None => ("", String::new()),
        };
        format!("{}\n{description}\n{keywords}", self.display_name).to_lowercase()
    }
}

/// The primary domain of a tenant with that prefix.
pub fn primary_domain(domain_prefix: &str) -> String {
    format!("{domain_prefix}.{DOMAIN_SUFFIX}")
}

/// A user of a tenant.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub tenant_id: String,
    /// "name@" + the tenant's primary domain; unique.
    pub user_name: String,
    pub display_name: String,
    pub email: String,
    /// Sorted, without repeats.
    pub roles: Vec<Role>,
    /// The user signs in with a temporary password and must change it.
    pub password_change_required: bool,
    /// The user signs in with a one-time code as well.
    pub second_factor_enrolled: bool,
    pub version: i64,
    pub create_time: SystemTime,
    pub update_time: SystemTime,
}

impl User {
    /// The first global admin a tenant's create makes: "admin@" + the tenant's domain.
    pub fn first_admin(id: String, tenant: &Tenant, now: SystemTime) -> User {
        User {
            id,
            tenant_id: tenant.id.clone(),
            user_name: first_admin_name(tenant),
            display_name: "Administrator".into(),
            email: tenant.contact.email.clone(),
            roles: vec![Role::GlobalAdmin],
            password_change_required: true,
            second_factor_enrolled: false,
            version: 1,
            create_time: now,
            update_time: now,
        }
    }

    pub fn is_global_admin(&self) -> bool {
        self.roles.contains(&Role::GlobalAdmin)
    }
}

/// The user name of a tenant's first global admin.
pub fn first_admin_name(tenant: &Tenant) -> String {
    format!("admin@{}", tenant.primary_domain())
}

/// A tenant's acceptance of an agreement.
#[derive(Debug, Clone)]
pub struct Agreement {
    pub id: String,
    pub tenant_id: String,
    pub agreement_type: AgreementType,
    pub version: String,
    pub signer: Contact,
    pub accept_time: SystemTime,
    pub accepted_by_user_id: String,
}

/// Who is calling, as the gateway asks on every call: the user and the facts of their tenant.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub user_name: String,
    pub tenant_id: String,
    pub roles: Vec<Role>,
    pub password_change_required: bool,
    /// The user signs in with a one-time code as well.
    pub second_factor_enrolled: bool,
    /// When the password last changed or was reset (a service account's tokens were
    /// revoked); tokens issued before are void.
    pub password_changed_at: Option<SystemTime>,
    /// A service account, not a person.
    pub service_account: bool,
    pub tenant_kind: Kind,
    pub tenant_state: State,
    pub cloud: Cloud,
    pub country_code: String,
    pub partner_types: Vec<PartnerType>,
}

/// What sign-in checks of a user.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: String,
    /// The sign-in name (a new password must not contain it).
    pub user_name: String,
    pub password_hash: String,
    /// Until when wrong passwords locked sign-in, if they ever did.
    pub locked_until: Option<SystemTime>,
    /// The second factor's TOTP secret, once enrolled.
    pub totp_secret: Option<String>,
    /// The step of the last one-time code accepted (a code works once).
    pub totp_last_step: i64,
}

/// A tenant to create.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub kind: Kind,
    pub display_name: String,
    pub cloud: Cloud,
    pub country_code: String,
    pub domain_prefix: String,
    pub address: Address,
    pub contact: Contact,
    pub partner: Option<PartnerProfile>,
}

impl NewTenant {
    /// Parses `CreatePartner.partner` (`prefix` "partner") or
    /// `CreateCustomerTenant.customer` (`prefix` "customer").
    pub fn parse(
        kind: Kind,
        tenant: Option<&pb::Tenant>,
        prefix: &str,
    ) -> Result<Self, Violations> {
        let Some(t) = tenant else {
            return Err(Violations::one(prefix, "is required"));
        };
        let mut v = Violations::new();
        let at = |f: &str| format!("{prefix}.{f}");
        let display_name = v.take(display_name(&at("display_name"), &t.display_name));
        let cloud = v.take(cloud::required(&at("cloud"), t.cloud));
        let country_code = v.take(country::code(&at("country_code"), &t.country_code));
        let domain_prefix = v.take(domain_prefix(&at("domain_prefix"), &t.domain_prefix));
        let address = v.take(address(&at("address"), t.address.as_ref()));
        let contact = v.take(contact(&at("contact"), t.contact.as_ref()));
        let partner = match kind {
            Kind::Partner => v
                .take(partner_profile(&at("partner"), t.partner.as_ref()))
                .map(Some),
            Kind::Customer if t.partner.is_some() => {
                v.add(at("partner"), "must be empty for a customer");
                None
            }
            Kind::Customer => Some(None),
        };
        v.check()?;
        match (
            display_name,
            cloud,
            country_code,
            domain_prefix,
            address,
            contact,
            partner,
        ) {
            (
                Some(display_name),
                Some(cloud),
                Some(country_code),
                Some(domain_prefix),
                Some(address),
                Some(contact),
                Some(partner),
            ) => Ok(NewTenant {
                kind,
                display_name,
                cloud,
                country_code,
                domain_prefix,
                address,
                contact,
                partner,
            }),
            _ => Err(Violations::one(prefix, "is incomplete")),
        }
    }
}

/// The changes of an `UpdateTenant`.
#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    pub display_name: Option<String>,
    pub address: Option<Address>,
    pub contact: Option<Contact>,
    pub listed: Option<bool>,
    pub description: Option<String>,
    pub keywords: Option<Vec<String>>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub customer_sizes: Option<Vec<pb::CompanySize>>,
}

/// The paths `UpdateTenant` may change.
pub const TENANT_PATHS: &[&str] = &[
    "display_name",
    "address",
    "contact",
    "partner.listed",
    "partner.description",
    "partner.keywords",
    "partner.phone",
    "partner.email",
    "partner.website",
    "partner.customer_sizes",
];

impl TenantPatch {
    /// Parses the tenant and mask of an `UpdateTenant`.
    pub fn parse(
        t: &pb::Tenant,
        mask: Option<&prost_types::FieldMask>,
    ) -> Result<Self, Violations> {
        let partner = t.partner.clone().unwrap_or_default();
        let paths = fields::update_mask(mask, TENANT_PATHS, || {
            let mut set = Vec::new();
            if !t.display_name.is_empty() {
                set.push("display_name");
            }
            if t.address.is_some() {
                set.push("address");
            }
            if t.contact.is_some() {
                set.push("contact");
            }
            if let Some(p) = &t.partner {
                set.extend(["partner.listed", "partner.description", "partner.keywords"]);
                // The public contact details only when given, so an update of the listing
                // alone doesn't wipe them.
                for (path, value) in [
                    ("partner.phone", &p.phone),
                    ("partner.email", &p.email),
                    ("partner.website", &p.website),
                ] {
                    if !value.is_empty() {
                        set.push(path);
                    }
                }
                if !p.customer_sizes.is_empty() {
                    set.push("partner.customer_sizes");
                }
            }
            set
        })?;
        let wants = |path: &str| paths.iter().any(|p| p == path);
        let mut v = Violations::new();
        let patch = TenantPatch {
            display_name: wants("display_name")
                .then(|| v.take(display_name("tenant.display_name", &t.display_name)))
                .flatten(),
            address: wants("address")
                .then(|| v.take(address("tenant.address", t.address.as_ref())))
                .flatten(),
            contact: wants("contact")
                .then(|| v.take(contact("tenant.contact", t.contact.as_ref())))
                .flatten(),
            listed: wants("partner.listed").then_some(partner.listed),
            description: wants("partner.description")
                .then(|| {
                    v.take(fields::optional_text(
                        "tenant.partner.description",
                        &partner.description,
                        2000,
                    ))
                })
                .flatten(),
            keywords: wants("partner.keywords")
                .then(|| v.take(keywords("tenant.partner.keywords", &partner.keywords)))
                .flatten(),
            phone: wants("partner.phone")
                .then(|| v.take(public_phone("tenant.partner.phone", &partner.phone)))
                .flatten(),
            email: wants("partner.email")
                .then(|| v.take(public_email("tenant.partner.email", &partner.email)))
                .flatten(),
            website: wants("partner.website")
                .then(|| v.take(website("tenant.partner.website", &partner.website)))
                .flatten(),
            customer_sizes: wants("partner.customer_sizes")
                .then(|| {
                    v.take(customer_sizes(
                        "tenant.partner.customer_sizes",
                        &partner.customer_sizes,
                    ))
                })
                .flatten(),
        };
        v.check()?;
        Ok(patch)
    }

    /// Changes the tenant as the patch says; partner fields change only a partner's profile.
    pub fn apply(self, t: &mut Tenant) {
        set(&mut t.display_name, self.display_name);
        set(&mut t.address, self.address);
        set(&mut t.contact, self.contact);
        if let Some(p) = &mut t.partner {
            set(&mut p.listed, self.listed);
            set(&mut p.description, self.description);
            set(&mut p.keywords, self.keywords);
            set(&mut p.public_contact.phone, self.phone);
            set(&mut p.public_contact.email, self.email);
            set(&mut p.public_contact.website, self.website);
            set(&mut p.customer_sizes, self.customer_sizes);
        }
    }

    /// Whether the patch touches the partner profile (refused for customers).
    pub fn touches_partner(&self) -> bool {
        self.listed.is_some()
            || self.description.is_some()
            || self.keywords.is_some()
            || self.phone.is_some()
            || self.email.is_some()
            || self.website.is_some()
            || self.customer_sizes.is_some()
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The part before "@"; the domain is the tenant's.
    pub local_name: String,
    /// A full user name as given, to check against the tenant's domain once it is known.
    pub given_domain: Option<String>,
    pub display_name: String,
    pub email: String,
    pub roles: Vec<i32>,
}

impl NewUser {
    /// Parses `CreateUser.user`. Roles are checked against the tenant's kind later, by
    /// [`roles`], once the tenant is read.
    pub fn parse(user: Option<&pb::User>) -> Result<Self, Violations> {
        let Some(u) = user else {
            return Err(Violations::one("user", "is required"));
        };
        let mut v = Violations::new();
        let name = u.user_name.trim().to_lowercase();
        let (local, domain) = match name.split_once('@') {
            Some((local, domain)) => (local.to_string(), Some(domain.to_string())),
            None => (name.clone(), None),
        };
        let local_ok = (1..=64).contains(&local.len())
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            && !local.starts_with('.')
            && !local.ends_with('.');
        if name.is_empty() {
            v.add("user.user_name", "is required");
        } else if !local_ok {
            v.add(
                "user.user_name",
                "must be 1 to 64 letters, digits, \".\", \"-\" or \"_\" before the \"@\"",
            );
        }
        let display_name = v.take(display_name("user.display_name", &u.display_name));
        let email = v.take(fields::optional_email("user.email", &u.email));
        v.check()?;
        Ok(NewUser {
            local_name: local,
            given_domain: domain,
            display_name: display_name.unwrap_or_default(),
            email: email.flatten().unwrap_or_default(),
            roles: u.roles.clone(),
        })
    }

    /// The user as `tenant` gets it: roles the tenant's kind allows, the name in its domain.
    pub fn into_user(
        self,
        id: String,
        tenant: &Tenant,
        now: SystemTime,
    ) -> Result<User, Violations> {
        let mut v = Violations::new();
        let roles = v.take(roles("user.roles", &self.roles, tenant.kind));
        let primary = tenant.primary_domain();
        if self.given_domain.as_ref().is_some_and(|d| *d != primary) {
            v.add(
                "user.user_name",
                format!("must end with @{primary}, the tenant's domain"),
            );
        }
        v.check()?;
        Ok(User {
            id,
            tenant_id: tenant.id.clone(),
            user_name: format!("{}@{primary}", self.local_name),
            display_name: self.display_name,
            email: self.email,
            roles: roles.unwrap_or_default(),
            password_change_required: true,
            second_factor_enrolled: false,
            version: 1,
            create_time: now,
            update_time: now,
        })
    }
}

/// The changes of an `UpdateUser`.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// Raw roles, checked against the tenant's kind by [`roles`] once the tenant is read.
    pub roles: Option<Vec<i32>>,
}

/// The paths `UpdateUser` may change.
pub const USER_PATHS: &[&str] = &["display_name", "email", "roles"];

impl UserPatch {
    pub fn parse(u: &pb::User, mask: Option<&prost_types::FieldMask>) -> Result<Self, Violations> {
        let paths = fields::update_mask(mask, USER_PATHS, || {
            let mut set = Vec::new();
            if !u.display_name.is_empty() {
                set.push("display_name");
            }
            if !u.email.is_empty() {
                set.push("email");
            }
            if !u.roles.is_empty() {
                set.push("roles");
            }
            set
        })?;
        let wants = |path: &str| paths.iter().any(|p| p == path);
        let mut v = Violations::new();
        let patch = UserPatch {
            display_name: wants("display_name")
                .then(|| v.take(display_name("user.display_name", &u.display_name)))
                .flatten(),
            email: wants("email")
                .then(|| v.take(fields::optional_email("user.email", &u.email)))
                .flatten()
                .map(Option::unwrap_or_default),
            roles: wants("roles").then(|| u.roles.clone()),
        };
        v.check()?;
        Ok(patch)
    }

    /// Changes the user as the patch says; roles must be ones a user of a `kind` tenant holds.
    pub fn apply(self, user: &mut User, kind: Kind) -> Result<(), Violations> {
        if let Some(raw) = &self.roles {
            user.roles = roles("user.roles", raw, kind)?;
        }
        set(&mut user.display_name, self.display_name);
        set(&mut user.email, self.email);
        Ok(())
    }
}

/// A patch's change to one field: the new value where the patch has one.
fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// The roles in one list and not the other (taken or given).
pub fn changed_roles(before: &[Role], after: &[Role]) -> Vec<Role> {
    let taken = before.iter().filter(|r| !after.contains(r));
    let given = after.iter().filter(|r| !before.contains(r));
    taken.chain(given).copied().collect()
}

/// Roles as sent (enum numbers), checked against what the tenant's kind allows; sorted, without
/// repeats.
pub fn roles(field: &str, raw: &[i32], kind: Kind) -> Result<Vec<Role>, Violations> {
    let mut v = Violations::new();
    let mut out = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        match Role::try_from(*r) {
            Ok(role) if kind.roles().contains(&role) => out.push(role),
            Ok(Role::Unspecified) | Err(_) => v.add(format!("{field}[{i}]"), "is not a role"),
            Ok(role) => v.add(
                format!("{field}[{i}]"),
                format!(
                    "{} is not a role of a {} tenant; allowed: {}",
                    role.as_str_name(),
                    match kind {
                        Kind::Partner => "partner",
                        Kind::Customer => "customer",
                    },
                    kind.roles()
                        .iter()
                        .map(|r| r.as_str_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }
    v.check()?;
    out.sort_by_key(|r| *r as i32);
    out.dedup();
    Ok(out)
}

/// A tenant's machine caller: roles like a user's, no user name, no password; it signs in
/// with its id and one of its [`Secret`]s.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    pub id: String,
    pub tenant_id: String,
    pub display_name: String,
    /// Sorted, without repeats; roles of the tenant's kind only (never the operator's).
    pub roles: Vec<Role>,
    /// Oldest first.
    pub secrets: Vec<Secret>,
    pub version: i64,
    pub create_time: SystemTime,
    pub update_time: SystemTime,
}

impl ServiceAccount {
    pub fn secret(&self, id: &str) -> Option<&Secret> {
        self.secrets.iter().find(|s| s.id == id)
    }
}

/// The most secrets an account holds at once: enough for a rotation with a spare, few enough
/// that a sign-in compares its secret with every one of them in microseconds.
pub const MAX_SECRETS: usize = 5;

/// One secret of a service account, without its value (only its hash is stored).
#[derive(Debug, Clone)]
pub struct Secret {
    pub id: String,
    pub create_time: SystemTime,
    /// When it stops working; `None`: never.
    pub expire_time: Option<SystemTime>,
}

impl Secret {
    /// Whether the secret still signs in at `now`.
    pub fn is_valid_at(&self, now: SystemTime) -> bool {
        self.expire_time.is_none_or(|end| end > now)
    }
}

/// A service account to create.
#[derive(Debug, Clone)]
pub struct NewServiceAccount {
    pub display_name: String,
    /// Raw roles, checked against the tenant's kind by [`roles`] once the tenant is read.
    pub roles: Vec<i32>,
}

impl NewServiceAccount {
    /// Parses `CreateServiceAccount.service_account`.
    pub fn parse(account: Option<&pb::ServiceAccount>) -> Result<Self, Violations> {
        let Some(a) = account else {
            return Err(Violations::one("service_account", "is required"));
        };
        Ok(NewServiceAccount {
            display_name: display_name("service_account.display_name", &a.display_name)?,
            roles: a.roles.clone(),
        })
    }

    /// The account as `tenant` gets it: roles the tenant's kind allows.
    pub fn into_account(
        self,
        id: String,
        tenant: &Tenant,
        now: SystemTime,
    ) -> Result<ServiceAccount, Violations> {
        Ok(ServiceAccount {
            id,
            tenant_id: tenant.id.clone(),
            display_name: self.display_name,
            roles: roles("service_account.roles", &self.roles, tenant.kind)?,
            secrets: Vec::new(),
            version: 1,
            create_time: now,
            update_time: now,
        })
    }
}

/// The changes of an `UpdateServiceAccount`.
#[derive(Debug, Clone, Default)]
pub struct ServiceAccountPatch {
    pub display_name: Option<String>,
    /// Raw roles, checked against the tenant's kind by [`roles`] once the tenant is read.
    pub roles: Option<Vec<i32>>,
}

/// The paths `UpdateServiceAccount` may change.
pub const SERVICE_ACCOUNT_PATHS: &[&str] = &["display_name", "roles"];

impl ServiceAccountPatch {
    pub fn parse(
        a: &pb::ServiceAccount,
        mask: Option<&prost_types::FieldMask>,
    ) -> Result<Self, Violations> {
        let paths = fields::update_mask(mask, SERVICE_ACCOUNT_PATHS, || {
            let mut set = Vec::new();
            if !a.display_name.is_empty() {
                set.push("display_name");
            }
            if !a.roles.is_empty() {
                set.push("roles");
            }
            set
        })?;
        let wants = |path: &str| paths.iter().any(|p| p == path);
        let display_name = if wants("display_name") {
            Some(display_name(
                "service_account.display_name",
                &a.display_name,
            )?)
        } else {
            None
        };
        Ok(ServiceAccountPatch {
            display_name,
            roles: wants("roles").then(|| a.roles.clone()),
        })
    }

    /// Changes the account as the patch says; roles must be ones of a `kind` tenant.
    pub fn apply(self, account: &mut ServiceAccount, kind: Kind) -> Result<(), Violations> {
        if let Some(raw) = &self.roles {
            account.roles = roles("service_account.roles", raw, kind)?;
        }
        set(&mut account.display_name, self.display_name);
        Ok(())
    }
}

/// An optional expiry of a new secret: unset is never; a set one must be in the future.
pub fn secret_expire_time(
    field: &str,
    value: Option<&prost_types::Timestamp>,
    now: SystemTime,
) -> Result<Option<SystemTime>, Violations> {
    let Some(t) = value else {
        return Ok(None);
    };
    let time =
        SystemTime::try_from(*t).map_err(|_| Violations::one(field, "is not a valid time"))?;
    if time <= now {
        return Err(Violations::one(field, "must be in the future"));
    }
    // Kept as microseconds, like every time in the tables.
    let micros = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let micros = u64::try_from(micros).unwrap_or(u64::MAX);
    Ok(Some(
        SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(micros),
    ))
}

/// A tenant's or user's name as people read it: 1 to 200 characters.
fn display_name(field: &str, value: &str) -> Result<String, Violations> {
    fields::text(field, value, 200)
}

/// A domain prefix: 3 to 27 lower-case ASCII letters and digits, starting with a letter.
pub fn domain_prefix(field: &str, value: &str) -> Result<String, Violations> {
    let ok = (3..=27).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if value.is_empty() {
        Err(Violations::one(field, "is required"))
    } else if ok {
        Ok(value.to_string())
    } else {
        Err(Violations::one(
            field,
            "must be 3 to 27 lower-case letters and digits, starting with a letter",
        ))
    }
}

/// A partner ID (MPN ID): 6 to 8 digits, not starting with 0.
pub fn mpn_id(field: &str, value: &str) -> Result<String, Violations> {
    let ok = (6..=8).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_digit())
        && !value.starts_with('0');
    if value.is_empty() {
        Err(Violations::one(field, "is required"))
    } else if ok {
        Ok(value.to_string())
    } else {
        Err(Violations::one(
            field,
            "must be a partner ID: 6 to 8 digits, not starting with 0",
        ))
    }
}

fn address(field: &str, a: Option<&types::PostalAddress>) -> Result<Address, Violations> {
    let Some(a) = a else {
        return Err(Violations::one(field, "is required"));
    };
    let mut v = Violations::new();
    let mut lines = Vec::new();
    if a.address_lines.is_empty() || a.address_lines.len() > 3 {
        v.add(format!("{field}.address_lines"), "must have 1 to 3 lines");
    }
    for (i, line) in a.address_lines.iter().enumerate() {
        let f = format!("{field}.address_lines[{i}]");
        if let Some(l) = v.take(fields::text(&f, line, 200)) {
            lines.push(l);
        }
    }
    let locality = v.take(fields::text(&format!("{field}.locality"), &a.locality, 100));
    let area = v.take(fields::optional_text(
        &format!("{field}.administrative_area"),
        &a.administrative_area,
        100,
    ));
    let postal = v.take(fields::optional_text(
        &format!("{field}.postal_code"),
        &a.postal_code,
        20,
    ));
    v.check()?;
    Ok(Address {
        lines,
        locality: locality.unwrap_or_default(),
        administrative_area: area.unwrap_or_default(),
        postal_code: postal.unwrap_or_default(),
    })
}

/// A person with first and last name and e-mail (phone optional).
pub fn contact(field: &str, c: Option<&types::Contact>) -> Result<Contact, Violations> {
    let Some(c) = c else {
        return Err(Violations::one(field, "is required"));
    };
    let mut v = Violations::new();
    let first_name = v.take(fields::text(
        &format!("{field}.first_name"),
        &c.first_name,
        100,
    ));
    let last_name = v.take(fields::text(
        &format!("{field}.last_name"),
        &c.last_name,
        100,
    ));
    let email = v.take(fields::email(&format!("{field}.email"), &c.email));
    let phone = v.take(fields::optional_phone(&format!("{field}.phone"), &c.phone));
    v.check()?;
    Ok(Contact {
        first_name: first_name.unwrap_or_default(),
        last_name: last_name.unwrap_or_default(),
        email: email.unwrap_or_default(),
        phone: phone.unwrap_or_default(),
    })
}

fn partner_profile(
    field: &str,
    p: Option<&pb::PartnerProfile>,
) -> Result<PartnerProfile, Violations> {
    let Some(p) = p else {
        return Err(Violations::one(
            field,
            "is required: mpn_id and partner_types",
        ));
    };
    let mut v = Violations::new();
    let mpn = v.take(mpn_id(&format!("{field}.mpn_id"), &p.mpn_id));
    let mut types = Vec::new();
    if p.partner_types.is_empty() {
        v.add(
            format!("{field}.partner_types"),
            "needs at least one partner type",
        );
    }
    for (i, raw) in p.partner_types.iter().enumerate() {
        match PartnerType::try_from(*raw) {
            Ok(PartnerType::Unspecified) | Err(_) => v.add(
                format!("{field}.partner_types[{i}]"),
                "is not a partner type",
            ),
            Ok(t) => types.push(t),
        }
    }
    types.sort_by_key(|t| *t as i32);
    types.dedup();
    let description = v.take(fields::optional_text(
        &format!("{field}.description"),
        &p.description,
        2000,
    ));
    let keywords = v.take(keywords(&format!("{field}.keywords"), &p.keywords));
    let phone = v.take(public_phone(&format!("{field}.phone"), &p.phone));
    let email = v.take(public_email(&format!("{field}.email"), &p.email));
    let website = v.take(website(&format!("{field}.website"), &p.website));
    let customer_sizes = v.take(customer_sizes(
        &format!("{field}.customer_sizes"),
        &p.customer_sizes,
    ));
    v.check()?;
    Ok(PartnerProfile {
        mpn_id: mpn.unwrap_or_default(),
        partner_types: types,
        listed: p.listed,
        description: description.unwrap_or_default(),
        keywords: keywords.unwrap_or_default(),
        public_contact: PublicContact {
            phone: phone.unwrap_or_default(),
            email: email.unwrap_or_default(),
            website: website.unwrap_or_default(),
        },
        customer_sizes: customer_sizes.unwrap_or_default(),
    })
}

/// The sizes of organisations a partner works with: known sizes, each once.
fn customer_sizes(field: &str, raw: &[i32]) -> Result<Vec<pb::CompanySize>, Violations> {
    let mut v = Violations::new();
    let mut sizes = Vec::with_capacity(raw.len());
    for (i, value) in raw.iter().enumerate() {
        let f = format!("{field}[{i}]");
        match pb::CompanySize::try_from(*value) {
            Ok(pb::CompanySize::Unspecified) | Err(_) => v.add(f, "is not a known company size"),
            Ok(size) if sizes.contains(&size) => v.add(f, "repeats a size given before"),
            Ok(size) => sizes.push(size),
        }
    }
    v.check()?;
    Ok(sizes)
}

/// A partner's public phone number; empty is none.
fn public_phone(field: &str, value: &str) -> Result<String, Violations> {
    fields::optional_phone(field, value)
}

/// A partner's public e-mail address, in lower case; empty is none.
fn public_email(field: &str, value: &str) -> Result<String, Violations> {
    Ok(fields::optional_email(field, value)?.unwrap_or_default())
}

/// The longest website address a partner's profile keeps.
pub const MAX_WEBSITE_CHARS: usize = 300;

/// A partner's website: an https URL (a host name with a dot, an optional port, then an
/// optional path) without spaces, at most [`MAX_WEBSITE_CHARS`] characters; empty is none.
/// Only https, so a customer following the link from the partner's profile is never sent over
/// plain http or to a `javascript:` or `data:` address.
pub fn website(field: &str, value: &str) -> Result<String, Violations> {
    let value = fields::optional_text(field, value, MAX_WEBSITE_CHARS)?;
    if value.is_empty() {
        return Ok(value);
    }
    let refuse = || Violations::one(field, "must be an https URL like https://www.example.com");
    let scheme = value
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"));
    let Some(rest) = scheme.and_then(|_| value.get(8..)) else {
        return Err(refuse());
    };
    if value.contains(char::is_whitespace) {
        return Err(refuse());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.parse::<u16>().is_ok_and(|n| n > 0));
    let labels_ok = host.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if host.contains('.') && labels_ok && port_ok {
        Ok(value)
    } else {
        Err(refuse())
    }
}

fn keywords(field: &str, words: &[String]) -> Result<Vec<String>, Violations> {
    let mut v = Violations::new();
    if words.len() > 20 {
        v.add(field, "must have at most 20 keywords");
    }
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if let Some(w) = v.take(fields::text(&f, w, 50)) {
            if w.contains(',') || w.contains('\n') {
                v.add(f, "must not contain commas or line breaks");
            } else {
                out.push(w);
            }
        }
    }
    v.check()?;
    Ok(out)
}

/// Lower-case words of a search query, at most [`MAX_QUERY_WORDS`].
pub fn query_words(field: &str, query: &str) -> Result<Vec<String>, Violations> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    if words.len() > MAX_QUERY_WORDS {
        return Err(Violations::one(
            field,
            format!("must have at most {MAX_QUERY_WORDS} words"),
        ));
    }
    if words
        .iter()
        .any(|w| w.chars().count() > 50 || w.chars().any(char::is_control))
    {
        return Err(Violations::one(
            field,
            "has a word that is too long or not text",
        ));
    }
    Ok(words)
}

/// Words a search may have.
pub const MAX_QUERY_WORDS: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_ids_domain_prefixes_and_countries() {
        assert!(mpn_id("m", "1234567").is_ok());
        for bad in ["", "12345", "123456789", "0123456", "12a4567"] {
            assert!(mpn_id("m", bad).is_err(), "{bad}");
        }
        assert!(domain_prefix("d", "contoso2").is_ok());
        for bad in [
            "",
            "ab",
            "Contoso",
            "2contoso",
            "con-toso",
            "abcdefghijklmnopqrstuvwxyzab",
        ] {
            assert!(domain_prefix("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_must_fit_the_tenant_kind() {
        let partner_only = [Role::AdminAgent as i32];
        assert!(roles("r", &partner_only, Kind::Customer).is_err());
        assert_eq!(
            roles("r", &partner_only, Kind::Partner).unwrap(),
            [Role::AdminAgent]
        );
        let twice = [
            Role::UserAdmin as i32,
            Role::GlobalAdmin as i32,
            Role::UserAdmin as i32,
        ];
        assert_eq!(
            roles("r", &twice, Kind::Customer).unwrap(),
            [Role::GlobalAdmin, Role::UserAdmin]
        );
        let err = roles("r", &[Role::PlatformOperator as i32, 99], Kind::Partner).unwrap_err();
        assert_eq!(err.as_slice().len(), 2);
    }

    #[test]
    fn a_secret_works_until_its_expire_time_and_new_ones_must_expire_later() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        let hour = std::time::Duration::from_secs(3600);
        let never = Secret {
            id: "s".into(),
            create_time: now,
            expire_time: None,
        };
        assert!(never.is_valid_at(now + hour * 24 * 365 * 100));
        let soon = Secret {
            expire_time: Some(now + hour),
            ..never
        };
        assert!(soon.is_valid_at(now));
        assert!(!soon.is_valid_at(now + hour));
        let past = prost_types::Timestamp::from(now - hour);
        let err = secret_expire_time("expire_time", Some(&past), now).unwrap_err();
        assert_eq!(err.as_slice()[0].field, "expire_time");
        let future = prost_types::Timestamp::from(now + hour);
        assert_eq!(
            secret_expire_time("expire_time", Some(&future), now).unwrap(),
            Some(now + hour)
        );
        assert_eq!(secret_expire_time("expire_time", None, now).unwrap(), None);
    }

    #[test]
    fn service_accounts_hold_their_tenant_kinds_roles_and_never_the_operators() {
        let account = pb::ServiceAccount {
            display_name: "Billing export".into(),
            roles: vec![Role::PlatformOperator as i32],
            ..Default::default()
        };
        let new = NewServiceAccount::parse(Some(&account)).unwrap();
        let tenant_kind = Kind::Customer;
        let err = roles("service_account.roles", &new.roles, tenant_kind).unwrap_err();
        assert_eq!(err.as_slice()[0].field, "service_account.roles[0]");
        let err = NewServiceAccount::parse(Some(&pb::ServiceAccount::default())).unwrap_err();
        assert_eq!(err.as_slice()[0].field, "service_account.display_name");
    }

    #[test]
    fn websites_are_https_urls_with_a_host() {
        for ok in [
            "https://fabrikam.example",
            "https://www.fabrikam.example/",
            "HTTPS://www.fabrikam.example:8443/om-oss?lang=sv#kontakt",
            "https://skolit.se/kontakt",
            "https://råd-givarna.se",
        ] {
            assert_eq!(website("w", ok).unwrap(), ok, "{ok}");
        }
        assert_eq!(website("w", "  ").unwrap(), "");
        for bad in [
            "fabrikam.example",
            "http://fabrikam.example",
            "javascript:alert(1)",
            "https://",
            "https://localhost",
            "https://fabrikam..example",
            "https://-fabrikam.example",
            "https://user@fabrikam.example",
            "https://fabrikam.example:0",
            "https://fabrikam.example:99999",
            "https://fabrikam.example/a b",
            "ftp://fabrikam.example",
        ] {
            let err = website("w", bad).unwrap_err();
            assert_eq!(err.as_slice()[0].field, "w", "{bad}");
        }
        let long = format!("https://fabrikam.example/{}", "a".repeat(MAX_WEBSITE_CHARS));
        assert!(website("w", &long).is_err());
    }

    #[test]
    fn a_partners_public_contact_details_are_checked_field_by_field() {
        let mut p = pb::PartnerProfile {
            mpn_id: "1234567".into(),
            partner_types: vec![PartnerType::DirectProvider as i32],
            phone: "+46 8 123 45 67".into(),
            email: " Info@Fabrikam.Example ".into(),
            website: "https://fabrikam.example".into(),
            ..Default::default()
        };
        let parsed = partner_profile("partner", Some(&p)).unwrap();
        assert_eq!(
            parsed.public_contact,
            PublicContact {
                phone: "+46 8 123 45 67".into(),
                email: "info@fabrikam.example".into(),
                website: "https://fabrikam.example".into(),
            }
        );
        p.phone = "call us".into();
        p.email = "info@".into();
        p.website = "www.fabrikam.example".into();
        let err = partner_profile("partner", Some(&p)).unwrap_err();
        let fields: Vec<&str> = err.as_slice().iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["partner.phone", "partner.email", "partner.website"]
        );
    }
}
