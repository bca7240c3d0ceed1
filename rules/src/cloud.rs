//! The cloud instances (worldwide and the sovereign clouds) and what each one implies.

use crate::field::Violations;
use partnerhub_proto::types::Cloud;

/// A required cloud instance.
pub fn required(field: &str, raw: i32) -> Result<Cloud, Violations> {
    match Cloud::try_from(raw) {
        Ok(Cloud::Unspecified) => Err(Violations::one(field, "is required")),
        Ok(c) => Ok(c),
        Err(_) => Err(Violations::one(field, "is not a cloud instance")),
    }
}

/// An optional cloud (a list filter): unset is `None`.
pub fn optional(field: &str, raw: i32) -> Result<Option<Cloud>, Violations> {
    match Cloud::try_from(raw) {
        Ok(Cloud::Unspecified) => Ok(None),
        Ok(c) => Ok(Some(c)),
        Err(_) => Err(Violations::one(field, "is not a cloud instance")),
    }
}

/// The enum name of a cloud as the wire carries it ("CLOUD_GERMANY"), for messages.
pub fn name(raw: i32) -> &'static str {
    Cloud::try_from(raw)
        .unwrap_or(Cloud::Unspecified)
        .as_str_name()
}

/// The one country a sovereign cloud serves; `None` for the worldwide cloud.
pub fn country(cloud: Cloud) -> Option<&'static str> {
    match cloud {
        Cloud::Germany => Some("DE"),
        Cloud::China21vianet => Some("CN"),
        Cloud::UsGovernment => Some("US"),
        Cloud::Worldwide | Cloud::Unspecified => None,
    }
}

/// In these clouds a reseller relationship must come with delegated admin (seed 004).
pub fn requires_delegated_admin(cloud: Cloud) -> bool {
    matches!(cloud, Cloud::Germany | Cloud::UsGovernment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sovereign_clouds_serve_one_country_each() {
        assert_eq!(country(Cloud::Germany), Some("DE"));
        assert_eq!(country(Cloud::China21vianet), Some("CN"));
        assert_eq!(country(Cloud::UsGovernment), Some("US"));
        assert_eq!(country(Cloud::Worldwide), None);
    }

    #[test]
    fn only_germany_and_us_government_need_delegated_admin_with_a_reseller() {
        assert!(requires_delegated_admin(Cloud::Germany));
        assert!(requires_delegated_admin(Cloud::UsGovernment));
        assert!(!requires_delegated_admin(Cloud::Worldwide));
        assert!(!requires_delegated_admin(Cloud::China21vianet));
    }

    #[test]
    fn a_cloud_is_required_and_must_be_known() {
        assert_eq!(required("c", Cloud::Germany as i32), Ok(Cloud::Germany));
        assert_eq!(
            required("c", 0).unwrap_err().as_slice()[0].description,
            "is required"
        );
        assert!(required("c", 99).is_err());
        assert_eq!(optional("c", 0), Ok(None));
        assert!(optional("c", 99).is_err());
        assert_eq!(name(Cloud::Germany as i32), "CLOUD_GERMANY");
        assert_eq!(name(99), "CLOUD_UNSPECIFIED");
    }
}
