//! The domain rules that more than one partnerhub service applies, each written once: pure
//! functions over protobuf enums and plain values, no I/O, unit-tested rule by rule.
//!
//! - [`field`]: what is wrong with which request field ([`field::Violations`]), the one shape of
//!   every rule's refusal of bad input;
//! - [`country`]: ISO 3166-1 countries, their UN M49 regions, and the reseller region rule;
//! - [`cloud`]: the cloud instances: which country a sovereign cloud serves, where delegated
//!   admin must come with a reseller relationship;
//! - [`delegation`]: a delegated admin grant: grantable roles, durations, auto-extend;
//! - [`partner`]: what each partner type lets a partner do (resell, sell through resellers,
//!   advise);
//! - [`roles`]: who may do what, as the seeds name the roles.
//!
//! A rule about one service's own data lives in that service (what accepting an invitation
//! creates is the invitations service's; who may sell to a customer the relationships
//! service's). Here are only the facts several of them need.

pub mod cloud;
pub mod country;
pub mod delegation;
pub mod field;
pub mod partner;
pub mod roles;
