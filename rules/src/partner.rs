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
}
