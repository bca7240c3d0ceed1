//! The rules of a delegated admin grant: which customer roles, for how long, and whether it
//! extends itself. Invitations check them when a partner asks; relationships when they grant.

use crate::field::Violations;
use partnerhub_proto::types::Role;
use std::time::Duration;

/// The customer roles a partner can be granted.
pub const GRANTABLE: &[Role] = &[
    Role::GlobalAdmin,
    Role::BillingAdmin,
    Role::UserAdmin,
    Role::HelpdeskAdmin,
];
/// The classic "DAP" grant, used when no roles are named: global admin and helpdesk admin.
pub const DEFAULT_ROLES: &[Role] = &[Role::GlobalAdmin, Role::HelpdeskAdmin];
/// The shortest end a grant may have.
pub const MIN_DURATION: Duration = Duration::from_secs(86_400);
/// The longest end a grant may have: two years.
pub const MAX_DURATION: Duration = Duration::from_secs(730 * 86_400);
/// How far auto-extend moves the end each time it is reached.
pub const EXTENSION: Duration = Duration::from_secs(180 * 86_400);

/// A checked grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Sorted, without repeats.
    pub roles: Vec<Role>,
    /// `None`: no end.
    pub duration: Option<Duration>,
    pub auto_extend: bool,
}

/// Checks a grant; `field` prefixes the names of its fields in violations.
pub fn grant(
    field: &str,
    roles: &[i32],
    duration: Option<&prost_types::Duration>,
    auto_extend: bool,
) -> Result<Grant, Violations> {
    let mut v = Violations::new();
    let mut out = Vec::new();
    for (i, raw) in roles.iter().enumerate() {
        match Role::try_from(*raw) {
            Ok(role) if GRANTABLE.contains(&role) => out.push(role),
            _ => v.add(
                format!("{field}.roles[{i}]"),
                "is not a customer role; grantable: ROLE_GLOBAL_ADMIN, ROLE_BILLING_ADMIN, ROLE_USER_ADMIN, ROLE_HELPDESK_ADMIN",
            ),
        }
    }
    if out.is_empty() && roles.is_empty() {
        out = DEFAULT_ROLES.to_vec();
    }
    out.sort_by_key(|r| *r as i32);
    out.dedup();
    let duration = match duration {
        None => None,
        Some(d) if d.seconds < 0 || d.nanos < 0 => {
            v.add(format!("{field}.duration"), "must not be negative");
            None
        }
        Some(d) => {
            let d = Duration::from_secs(d.seconds.unsigned_abs());
            if d < MIN_DURATION || d > MAX_DURATION {
                v.add(
                    format!("{field}.duration"),
                    "must be between 1 day (86400s) and 2 years (63072000s)",
                );
            }
            Some(d)
        }
    };
    if auto_extend && out.contains(&Role::GlobalAdmin) {
        v.add(
            format!("{field}.auto_extend"),
            "is not allowed with ROLE_GLOBAL_ADMIN",
        );
    }
    if auto_extend && duration.is_none() {
        v.add(
            format!("{field}.auto_extend"),
            "needs a duration: a grant without an end has nothing to extend",
        );
    }
    v.check()?;
    Ok(Grant {
        roles: out,
        duration,
        auto_extend,
    })
}

/// The end a grant has at `now`: an auto-extending grant past its end has moved on by whole
/// extensions. `None` for no end. Times are microseconds since the epoch.
pub fn effective_end(end: Option<i64>, auto_extend: bool, now: i64) -> Option<i64> {
    let end = end?;
    if !auto_extend || end > now {
        return Some(end);
    }
    let step = i64::try_from(EXTENSION.as_micros()).unwrap_or(i64::MAX);
    let periods = (now - end) / step + 1;
    Some(end.saturating_add(periods.saturating_mul(step)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: i64) -> prost_types::Duration {
        prost_types::Duration {
            seconds: n * 86_400,
            nanos: 0,
        }
    }

    #[test]
    fn no_roles_is_the_classic_grant() {
        assert_eq!(grant("g", &[], None, false).unwrap().roles, DEFAULT_ROLES);
    }

    #[test]
    fn roles_durations_and_auto_extend_are_checked() {
        assert!(grant("g", &[Role::AdminAgent as i32], None, false).is_err());
        assert!(grant("g", &[Role::UserAdmin as i32], Some(&days(0)), false).is_err());
        assert!(grant("g", &[Role::UserAdmin as i32], Some(&days(731)), false).is_err());
        assert!(grant("g", &[Role::UserAdmin as i32], Some(&days(730)), true).is_ok());
        let err = grant("g", &[Role::GlobalAdmin as i32], Some(&days(30)), true).unwrap_err();
        assert_eq!(err.as_slice()[0].field, "g.auto_extend");
    }

    #[test]
    fn auto_extend_moves_the_end_by_whole_extensions() {
        let step = EXTENSION.as_micros() as i64;
        assert_eq!(effective_end(Some(100), true, 50), Some(100));
        assert_eq!(effective_end(Some(100), true, 100), Some(100 + step));
        assert_eq!(
            effective_end(Some(100), true, 100 + step + 1),
            Some(100 + 2 * step)
        );
        assert_eq!(effective_end(Some(100), false, 500), Some(100));
        assert_eq!(effective_end(None, true, 500), None);
    }
}
