//! Partner types: what each lets a partner do.

use partnerhub_proto::types::PartnerType;

/// Whether a partner holding `types` (as the wire carries them) holds `wanted`.
pub fn holds(types: &[i32], wanted: PartnerType) -> bool {
    types.contains(&(wanted as i32))
}

/// Whether it resells: sells to and bills customers. Direct and indirect providers do; advisors
/// and indirect resellers (who sell through a provider) don't.
pub fn resells(types: &[i32]) -> bool {
    holds(types, PartnerType::DirectProvider) || holds(types, PartnerType::IndirectProvider)
}

/// Whether it sells through indirect resellers (seed 003).
pub fn sells_through_resellers(types: &[i32]) -> bool {
    holds(types, PartnerType::IndirectProvider)
}

/// Whether it may make a subscription advisor's offers: trials, purchase offers, partner of
/// record (seeds 002 and 000).
pub fn advises(types: &[i32]) -> bool {
    holds(types, PartnerType::Advisor)
}

/// Whether `value` is shaped like a partner ID (MPN ID): 6 to 8 digits, not starting with 0 (as
/// the tenants service issues them). A request field that takes a tenant id or a partner ID
/// tells the two apart by it.
pub fn is_partner_id(value: &str) -> bool {
    (6..=8).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_digit())
        && !value.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(t: &[PartnerType]) -> Vec<i32> {
        t.iter().map(|t| *t as i32).collect()
    }

    #[test]
    fn only_providers_resell() {
        assert!(resells(&types(&[PartnerType::DirectProvider])));
        assert!(resells(&types(&[PartnerType::IndirectProvider])));
        assert!(!resells(&types(&[PartnerType::IndirectReseller])));
        assert!(!resells(&types(&[PartnerType::Advisor])));
        assert!(!resells(&[]));
    }

    #[test]
    fn only_indirect_providers_sell_through_resellers_and_only_advisors_advise() {
        assert!(sells_through_resellers(&types(&[
            PartnerType::IndirectProvider
        ])));
        assert!(!sells_through_resellers(&types(&[
            PartnerType::DirectProvider
        ])));
        assert!(advises(&types(&[
            PartnerType::DirectProvider,
            PartnerType::Advisor
        ])));
        assert!(!advises(&types(&[PartnerType::DirectProvider])));
    }

    #[test]
    fn partner_ids_are_six_to_eight_digits_not_starting_with_zero() {
        for ok in ["100000", "1234567", "99999999"] {
            assert!(is_partner_id(ok), "{ok}");
        }
        for bad in ["", "12345", "123456789", "012345", "12345a", "1234-56"] {
            assert!(!is_partner_id(bad), "{bad}");
        }
        assert!(!is_partner_id("8e7f6a52-1c0b-4b8e-9a55-0f2d7c1e3b4a"));
    }
}
