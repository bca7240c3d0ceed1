//! ISO 3166-1 alpha-2 country codes with English short names and UN M49 regions.
//!
//! Codes and names follow the ISO 3166-1 English short names as shipped by the
//! Debian `iso-codes` package (4.15.0); regions follow the UN Statistics
//! Division's M49 "Standard country or area codes for statistical use".
//! Only the 249 officially assigned codes are listed: user-assigned codes such
//! as `XK` (Kosovo) and exceptionally reserved ones (`UK`, `EU`, ...) are not.

use crate::field::Violations;

/// UN M49 (the "geoscheme" of the UN Statistics Division) top-level regions.
///
/// M49 has five top-level regions. `Antarctica` is an extra, sixth value used
/// by this module for the Antarctic and remote sub-Antarctic territories:
/// Antarctica itself (`AQ`), which has no M49 region, and Bouvet Island
/// (`BV`), South Georgia and the South Sandwich Islands (`GS`), Heard Island
/// and McDonald Islands (`HM`) and the French Southern Territories (`TF`),
/// which the current M49 edition files under Americas, Americas, Oceania and
/// Africa respectively but which older editions left without a region. Keeping
/// these uninhabited southern islands together avoids attaching them to a
/// continent they are thousands of kilometres away from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    Africa,
    Americas,
    Antarctica,
    Asia,
    Europe,
    Oceania,
}

impl Region {
    /// English name of the region, e.g. `"Europe"`.
    pub fn name(self) -> &'static str {
        match self {
            Region::Africa => "Africa",
            Region::Americas => "Americas",
            Region::Antarctica => "Antarctica",
            Region::Asia => "Asia",
            Region::Europe => "Europe",
            Region::Oceania => "Oceania",
        }
    }
}

/// One ISO 3166-1 entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code, two upper-case ASCII letters.
    pub code: &'static str,
    /// ISO 3166-1 English short name (e.g. "Korea, Republic of").
    pub name: &'static str,
    /// UN M49 top-level region (see [`Region`] for the `Antarctica` choice).
    pub region: Region,
}

/// All officially assigned ISO 3166-1 alpha-2 codes, sorted by code so that
/// [`lookup`] can binary-search. Regions with a trailing comment are the ones
/// people commonly get wrong, or where this table departs from M49.
#[rustfmt::skip]
pub static COUNTRIES: &[Country] = &[
    Country { code: "AD", name: "Andorra", region: Region::Europe },
    Country { code: "AE", name: "United Arab Emirates", region: Region::Asia },
    Country { code: "AF", name: "Afghanistan", region: Region::Asia },
    Country { code: "AG", name: "Antigua and Barbuda", region: Region::Americas },
    Country { code: "AI", name: "Anguilla", region: Region::Americas },
    Country { code: "AL", name: "Albania", region: Region::Europe },
    Country { code: "AM", name: "Armenia", region: Region::Asia }, // M49 Western Asia
    Country { code: "AO", name: "Angola", region: Region::Africa },
    Country { code: "AQ", name: "Antarctica", region: Region::Antarctica }, // no M49 region at all
    Country { code: "AR", name: "Argentina", region: Region::Americas },
    Country { code: "AS", name: "American Samoa", region: Region::Oceania },
    Country { code: "AT", name: "Austria", region: Region::Europe },
    Country { code: "AU", name: "Australia", region: Region::Oceania },
    Country { code: "AW", name: "Aruba", region: Region::Americas },
    Country { code: "AX", name: "Åland Islands", region: Region::Europe },
    Country { code: "AZ", name: "Azerbaijan", region: Region::Asia }, // M49 Western Asia
    Country { code: "BA", name: "Bosnia and Herzegovina", region: Region::Europe },
    Country { code: "BB", name: "Barbados", region: Region::Americas },
    Country { code: "BD", name: "Bangladesh", region: Region::Asia },
    Country { code: "BE", name: "Belgium", region: Region::Europe },
    Country { code: "BF", name: "Burkina Faso", region: Region::Africa },
    Country { code: "BG", name: "Bulgaria", region: Region::Europe },
    Country { code: "BH", name: "Bahrain", region: Region::Asia },
    Country { code: "BI", name: "Burundi", region: Region::Africa },
    Country { code: "BJ", name: "Benin", region: Region::Africa },
    Country { code: "BL", name: "Saint Barthélemy", region: Region::Americas },
    Country { code: "BM", name: "Bermuda", region: Region::Americas }, // M49 Northern America
    Country { code: "BN", name: "Brunei Darussalam", region: Region::Asia },
    Country { code: "BO", name: "Bolivia, Plurinational State of", region: Region::Americas },
    Country { code: "BQ", name: "Bonaire, Sint Eustatius and Saba", region: Region::Americas },
    Country { code: "BR", name: "Brazil", region: Region::Americas },
    Country { code: "BS", name: "Bahamas", region: Region::Americas },
    Country { code: "BT", name: "Bhutan", region: Region::Asia },
    Country { code: "BV", name: "Bouvet Island", region: Region::Antarctica }, // deliberate: M49 says Americas (South America); see Region
    Country { code: "BW", name: "Botswana", region: Region::Africa },
    Country { code: "BY", name: "Belarus", region: Region::Europe },
    Country { code: "BZ", name: "Belize", region: Region::Americas },
    Country { code: "CA", name: "Canada", region: Region::Americas },
    Country { code: "CC", name: "Cocos (Keeling) Islands", region: Region::Oceania }, // M49 Australia and New Zealand
    Country { code: "CD", name: "Congo, The Democratic Republic of the", region: Region::Africa },
    Country { code: "CF", name: "Central African Republic", region: Region::Africa },
    Country { code: "CG", name: "Congo", region: Region::Africa },
    Country { code: "CH", name: "Switzerland", region: Region::Europe },
    Country { code: "CI", name: "Côte d'Ivoire", region: Region::Africa },
    Country { code: "CK", name: "Cook Islands", region: Region::Oceania },
    Country { code: "CL", name: "Chile", region: Region::Americas },
    Country { code: "CM", name: "Cameroon", region: Region::Africa },
    Country { code: "CN", name: "China", region: Region::Asia },
    Country { code: "CO", name: "Colombia", region: Region::Americas },
    Country { code: "CR", name: "Costa Rica", region: Region::Americas },
    Country { code: "CU", name: "Cuba", region: Region::Americas },
    Country { code: "CV", name: "Cabo Verde", region: Region::Africa },
    Country { code: "CW", name: "Curaçao", region: Region::Americas },
    Country { code: "CX", name: "Christmas Island", region: Region::Oceania }, // M49 Australia and New Zealand
    Country { code: "CY", name: "Cyprus", region: Region::Asia }, // M49 Western Asia, despite EU membership
    Country { code: "CZ", name: "Czechia", region: Region::Europe },
    Country { code: "DE", name: "Germany", region: Region::Europe },
    Country { code: "DJ", name: "Djibouti", region: Region::Africa },
    Country { code: "DK", name: "Denmark", region: Region::Europe },
    Country { code: "DM", name: "Dominica", region: Region::Americas },
    Country { code: "DO", name: "Dominican Republic", region: Region::Americas },
    Country { code: "DZ", name: "Algeria", region: Region::Africa },
    Country { code: "EC", name: "Ecuador", region: Region::Americas },
    Country { code: "EE", name: "Estonia", region: Region::Europe },
    Country { code: "EG", name: "Egypt", region: Region::Africa }, // M49 Northern Africa, Sinai notwithstanding
    Country { code: "EH", name: "Western Sahara", region: Region::Africa },
    Country { code: "ER", name: "Eritrea", region: Region::Africa },
    Country { code: "ES", name: "Spain", region: Region::Europe },
    Country { code: "ET", name: "Ethiopia", region: Region::Africa },
    Country { code: "FI", name: "Finland", region: Region::Europe },
    Country { code: "FJ", name: "Fiji", region: Region::Oceania },
    Country { code: "FK", name: "Falkland Islands (Malvinas)", region: Region::Americas },
    Country { code: "FM", name: "Micronesia, Federated States of", region: Region::Oceania },
    Country { code: "FO", name: "Faroe Islands", region: Region::Europe },
    Country { code: "FR", name: "France", region: Region::Europe },
    Country { code: "GA", name: "Gabon", region: Region::Africa },
    Country { code: "GB", name: "United Kingdom", region: Region::Europe },
    Country { code: "GD", name: "Grenada", region: Region::Americas },
    Country { code: "GE", name: "Georgia", region: Region::Asia }, // M49 Western Asia
    Country { code: "GF", name: "French Guiana", region: Region::Americas },
    Country { code: "GG", name: "Guernsey", region: Region::Europe },
    Country { code: "GH", name: "Ghana", region: Region::Africa },
    Country { code: "GI", name: "Gibraltar", region: Region::Europe },
    Country { code: "GL", name: "Greenland", region: Region::Americas }, // M49 Northern America, not Europe
    Country { code: "GM", name: "Gambia", region: Region::Africa },
    Country { code: "GN", name: "Guinea", region: Region::Africa },
    Country { code: "GP", name: "Guadeloupe", region: Region::Americas },
    Country { code: "GQ", name: "Equatorial Guinea", region: Region::Africa },
    Country { code: "GR", name: "Greece", region: Region::Europe },
    Country { code: "GS", name: "South Georgia and the South Sandwich Islands", region: Region::Antarctica }, // deliberate: M49 says Americas (South America); see Region
    Country { code: "GT", name: "Guatemala", region: Region::Americas },
    Country { code: "GU", name: "Guam", region: Region::Oceania },
    Country { code: "GW", name: "Guinea-Bissau", region: Region::Africa },
    Country { code: "GY", name: "Guyana", region: Region::Americas },
    Country { code: "HK", name: "Hong Kong", region: Region::Asia },
    Country { code: "HM", name: "Heard Island and McDonald Islands", region: Region::Antarctica }, // deliberate: M49 says Oceania (Australia and New Zealand); see Region
    Country { code: "HN", name: "Honduras", region: Region::Americas },
    Country { code: "HR", name: "Croatia", region: Region::Europe },
    Country { code: "HT", name: "Haiti", region: Region::Americas },
    Country { code: "HU", name: "Hungary", region: Region::Europe },
    Country { code: "ID", name: "Indonesia", region: Region::Asia }, // M49 South-eastern Asia, including Western New Guinea
    Country { code: "IE", name: "Ireland", region: Region::Europe },
    Country { code: "IL", name: "Israel", region: Region::Asia },
    Country { code: "IM", name: "Isle of Man", region: Region::Europe },
    Country { code: "IN", name: "India", region: Region::Asia },
    Country { code: "IO", name: "British Indian Ocean Territory", region: Region::Africa }, // M49 Eastern Africa
    Country { code: "IQ", name: "Iraq", region: Region::Asia },
    Country { code: "IR", name: "Iran, Islamic Republic of", region: Region::Asia },
    Country { code: "IS", name: "Iceland", region: Region::Europe },
    Country { code: "IT", name: "Italy", region: Region::Europe },
    Country { code: "JE", name: "Jersey", region: Region::Europe },
    Country { code: "JM", name: "Jamaica", region: Region::Americas },
    Country { code: "JO", name: "Jordan", region: Region::Asia },
    Country { code: "JP", name: "Japan", region: Region::Asia },
    Country { code: "KE", name: "Kenya", region: Region::Africa },
    Country { code: "KG", name: "Kyrgyzstan", region: Region::Asia },
    Country { code: "KH", name: "Cambodia", region: Region::Asia },
    Country { code: "KI", name: "Kiribati", region: Region::Oceania },
    Country { code: "KM", name: "Comoros", region: Region::Africa },
    Country { code: "KN", name: "Saint Kitts and Nevis", region: Region::Americas },
    Country { code: "KP", name: "Korea, Democratic People's Republic of", region: Region::Asia },
    Country { code: "KR", name: "Korea, Republic of", region: Region::Asia },
    Country { code: "KW", name: "Kuwait", region: Region::Asia },
    Country { code: "KY", name: "Cayman Islands", region: Region::Americas },
    Country { code: "KZ", name: "Kazakhstan", region: Region::Asia }, // M49 Central Asia
    Country { code: "LA", name: "Lao People's Democratic Republic", region: Region::Asia },
    Country { code: "LB", name: "Lebanon", region: Region::Asia },
    Country { code: "LC", name: "Saint Lucia", region: Region::Americas },
    Country { code: "LI", name: "Liechtenstein", region: Region::Europe },
    Country { code: "LK", name: "Sri Lanka", region: Region::Asia },
    Country { code: "LR", name: "Liberia", region: Region::Africa },
    Country { code: "LS", name: "Lesotho", region: Region::Africa },
    Country { code: "LT", name: "Lithuania", region: Region::Europe },
    Country { code: "LU", name: "Luxembourg", region: Region::Europe },
    Country { code: "LV", name: "Latvia", region: Region::Europe },
    Country { code: "LY", name: "Libya", region: Region::Africa },
    Country { code: "MA", name: "Morocco", region: Region::Africa },
    Country { code: "MC", name: "Monaco", region: Region::Europe },
    Country { code: "MD", name: "Moldova, Republic of", region: Region::Europe },
    Country { code: "ME", name: "Montenegro", region: Region::Europe },
    Country { code: "MF", name: "Saint Martin (French part)", region: Region::Americas },
    Country { code: "MG", name: "Madagascar", region: Region::Africa },
    Country { code: "MH", name: "Marshall Islands", region: Region::Oceania },
    Country { code: "MK", name: "North Macedonia", region: Region::Europe },
    Country { code: "ML", name: "Mali", region: Region::Africa },
    Country { code: "MM", name: "Myanmar", region: Region::Asia },
    Country { code: "MN", name: "Mongolia", region: Region::Asia },
    Country { code: "MO", name: "Macao", region: Region::Asia },
    Country { code: "MP", name: "Northern Mariana Islands", region: Region::Oceania },
    Country { code: "MQ", name: "Martinique", region: Region::Americas },
    Country { code: "MR", name: "Mauritania", region: Region::Africa },
    Country { code: "MS", name: "Montserrat", region: Region::Americas },
    Country { code: "MT", name: "Malta", region: Region::Europe },
    Country { code: "MU", name: "Mauritius", region: Region::Africa },
    Country { code: "MV", name: "Maldives", region: Region::Asia },
    Country { code: "MW", name: "Malawi", region: Region::Africa },
    Country { code: "MX", name: "Mexico", region: Region::Americas }, // M49 Central America (Latin America)
    Country { code: "MY", name: "Malaysia", region: Region::Asia },
    Country { code: "MZ", name: "Mozambique", region: Region::Africa },
    Country { code: "NA", name: "Namibia", region: Region::Africa },
    Country { code: "NC", name: "New Caledonia", region: Region::Oceania },
    Country { code: "NE", name: "Niger", region: Region::Africa },
    Country { code: "NF", name: "Norfolk Island", region: Region::Oceania },
    Country { code: "NG", name: "Nigeria", region: Region::Africa },
    Country { code: "NI", name: "Nicaragua", region: Region::Americas },
    Country { code: "NL", name: "Netherlands", region: Region::Europe },
    Country { code: "NO", name: "Norway", region: Region::Europe },
    Country { code: "NP", name: "Nepal", region: Region::Asia },
    Country { code: "NR", name: "Nauru", region: Region::Oceania },
    Country { code: "NU", name: "Niue", region: Region::Oceania },
    Country { code: "NZ", name: "New Zealand", region: Region::Oceania },
    Country { code: "OM", name: "Oman", region: Region::Asia },
    Country { code: "PA", name: "Panama", region: Region::Americas },
    Country { code: "PE", name: "Peru", region: Region::Americas },
    Country { code: "PF", name: "French Polynesia", region: Region::Oceania },
    Country { code: "PG", name: "Papua New Guinea", region: Region::Oceania }, // M49 Melanesia
    Country { code: "PH", name: "Philippines", region: Region::Asia },
    Country { code: "PK", name: "Pakistan", region: Region::Asia },
    Country { code: "PL", name: "Poland", region: Region::Europe },
    Country { code: "PM", name: "Saint Pierre and Miquelon", region: Region::Americas }, // M49 Northern America
    Country { code: "PN", name: "Pitcairn", region: Region::Oceania },
    Country { code: "PR", name: "Puerto Rico", region: Region::Americas },
    Country { code: "PS", name: "Palestine, State of", region: Region::Asia },
    Country { code: "PT", name: "Portugal", region: Region::Europe },
    Country { code: "PW", name: "Palau", region: Region::Oceania },
    Country { code: "PY", name: "Paraguay", region: Region::Americas },
    Country { code: "QA", name: "Qatar", region: Region::Asia },
    Country { code: "RE", name: "Réunion", region: Region::Africa },
    Country { code: "RO", name: "Romania", region: Region::Europe },
    Country { code: "RS", name: "Serbia", region: Region::Europe },
    Country { code: "RU", name: "Russian Federation", region: Region::Europe }, // M49 Eastern Europe, the whole country
    Country { code: "RW", name: "Rwanda", region: Region::Africa },
    Country { code: "SA", name: "Saudi Arabia", region: Region::Asia },
    Country { code: "SB", name: "Solomon Islands", region: Region::Oceania },
    Country { code: "SC", name: "Seychelles", region: Region::Africa },
    Country { code: "SD", name: "Sudan", region: Region::Africa },
    Country { code: "SE", name: "Sweden", region: Region::Europe },
    Country { code: "SG", name: "Singapore", region: Region::Asia },
    Country { code: "SH", name: "Saint Helena, Ascension and Tristan da Cunha", region: Region::Africa }, // M49 Western Africa
    Country { code: "SI", name: "Slovenia", region: Region::Europe },
    Country { code: "SJ", name: "Svalbard and Jan Mayen", region: Region::Europe }, // M49 Northern Europe
    Country { code: "SK", name: "Slovakia", region: Region::Europe },
    Country { code: "SL", name: "Sierra Leone", region: Region::Africa },
    Country { code: "SM", name: "San Marino", region: Region::Europe },
    Country { code: "SN", name: "Senegal", region: Region::Africa },
    Country { code: "SO", name: "Somalia", region: Region::Africa },
    Country { code: "SR", name: "Suriname", region: Region::Americas },
    Country { code: "SS", name: "South Sudan", region: Region::Africa },
    Country { code: "ST", name: "Sao Tome and Principe", region: Region::Africa },
    Country { code: "SV", name: "El Salvador", region: Region::Americas },
    Country { code: "SX", name: "Sint Maarten (Dutch part)", region: Region::Americas },
    Country { code: "SY", name: "Syrian Arab Republic", region: Region::Asia },
    Country { code: "SZ", name: "Eswatini", region: Region::Africa },
    Country { code: "TC", name: "Turks and Caicos Islands", region: Region::Americas },
    Country { code: "TD", name: "Chad", region: Region::Africa },
    Country { code: "TF", name: "French Southern Territories", region: Region::Antarctica }, // deliberate: M49 says Africa (Eastern Africa); see Region
    Country { code: "TG", name: "Togo", region: Region::Africa },
    Country { code: "TH", name: "Thailand", region: Region::Asia },
    Country { code: "TJ", name: "Tajikistan", region: Region::Asia },
    Country { code: "TK", name: "Tokelau", region: Region::Oceania },
    Country { code: "TL", name: "Timor-Leste", region: Region::Asia }, // M49 South-eastern Asia
    Country { code: "TM", name: "Turkmenistan", region: Region::Asia },
    Country { code: "TN", name: "Tunisia", region: Region::Africa },
    Country { code: "TO", name: "Tonga", region: Region::Oceania },
    Country { code: "TR", name: "Türkiye", region: Region::Asia }, // M49 Western Asia
    Country { code: "TT", name: "Trinidad and Tobago", region: Region::Americas },
    Country { code: "TV", name: "Tuvalu", region: Region::Oceania },
    Country { code: "TW", name: "Taiwan, Province of China", region: Region::Asia },
    Country { code: "TZ", name: "Tanzania, United Republic of", region: Region::Africa },
    Country { code: "UA", name: "Ukraine", region: Region::Europe },
    Country { code: "UG", name: "Uganda", region: Region::Africa },
    Country { code: "UM", name: "United States Minor Outlying Islands", region: Region::Oceania }, // M49 Micronesia
    Country { code: "US", name: "United States", region: Region::Americas },
    Country { code: "UY", name: "Uruguay", region: Region::Americas },
    Country { code: "UZ", name: "Uzbekistan", region: Region::Asia },
    Country { code: "VA", name: "Holy See (Vatican City State)", region: Region::Europe },
    Country { code: "VC", name: "Saint Vincent and the Grenadines", region: Region::Americas },
    Country { code: "VE", name: "Venezuela, Bolivarian Republic of", region: Region::Americas },
    Country { code: "VG", name: "Virgin Islands, British", region: Region::Americas },
    Country { code: "VI", name: "Virgin Islands, U.S.", region: Region::Americas },
    Country { code: "VN", name: "Viet Nam", region: Region::Asia },
    Country { code: "VU", name: "Vanuatu", region: Region::Oceania },
    Country { code: "WF", name: "Wallis and Futuna", region: Region::Oceania },
    Country { code: "WS", name: "Samoa", region: Region::Oceania },
    Country { code: "YE", name: "Yemen", region: Region::Asia },
    Country { code: "YT", name: "Mayotte", region: Region::Africa },
    Country { code: "ZA", name: "South Africa", region: Region::Africa },
    Country { code: "ZM", name: "Zambia", region: Region::Africa },
    Country { code: "ZW", name: "Zimbabwe", region: Region::Africa },
];

/// Looks up an ISO 3166-1 alpha-2 code; exact match, upper case only ("SE", not "se").
pub fn lookup(code: &str) -> Option<&'static Country> {
    COUNTRIES
        .binary_search_by(|c| c.code.cmp(code))
        .ok()
        .map(|i| &COUNTRIES[i])
}

/// A required ISO 3166-1 alpha-2 country code (upper case), checked for request field `field`.
pub fn code(field: &str, value: &str) -> Result<String, Violations> {
    if value.is_empty() {
        return Err(Violations::one(field, "is required"));
    }
    lookup(value).map(|c| c.code.to_string()).ok_or_else(|| {
        Violations::one(
            field,
            "must be an ISO 3166-1 alpha-2 country code in upper case, like \"SE\"",
        )
    })
}

/// An optional country code (a list filter): "" for any.
pub fn optional_code(field: &str, value: &str) -> Result<String, Violations> {
    if value.is_empty() {
        Ok(String::new())
    } else {
        code(field, value)
    }
}

/// DOMAIN.md: a reseller relationship only with customers in the partner's own country or
/// region, the regions being the UN M49 top-level regions. `None` when allowed, else the
/// partner's and the customer's regions for the message ("no region" for an unknown code).
pub fn region_mismatch(
    partner_country: &str,
    customer_country: &str,
) -> Option<(&'static str, &'static str)> {
    if partner_country == customer_country {
        return None;
    }
    let region = |code: &str| lookup(code).map(|c| c.region);
    match (region(partner_country), region(customer_country)) {
        (Some(p), Some(c)) if p == c => None,
        (p, c) => Some((
            p.map(|r| r.name()).unwrap_or("no region"),
            c.map(|r| r.name()).unwrap_or("no region"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reseller_sells_in_its_country_and_region_only() {
        assert_eq!(region_mismatch("SE", "SE"), None);
        assert_eq!(region_mismatch("SE", "DE"), None);
        assert_eq!(region_mismatch("SE", "US"), Some(("Europe", "Americas")));
        assert_eq!(region_mismatch("SE", "ZZ"), Some(("Europe", "no region")));
    }

    #[test]
    fn country_codes_are_upper_case_iso_codes() {
        assert_eq!(code("c", "SE"), Ok("SE".to_string()));
        assert_eq!(
            code("c", "").unwrap_err().as_slice()[0].description,
            "is required"
        );
        assert_eq!(code("c", "se").unwrap_err().as_slice()[0].field, "c");
        assert!(code("c", "XX").is_err());
        assert_eq!(optional_code("c", ""), Ok(String::new()));
        assert!(optional_code("c", "XK").is_err());
    }

    #[test]
    fn sorted_without_duplicates() {
        // Strictly increasing implies both sorted and duplicate-free, which
        // binary search in `lookup` relies on.
        for w in COUNTRIES.windows(2) {
            assert!(w[0].code < w[1].code, "{} !< {}", w[0].code, w[1].code);
        }
    }

    #[test]
    fn has_all_249_assigned_codes() {
        assert_eq!(COUNTRIES.len(), 249);
    }

    #[test]
    fn codes_are_two_ascii_uppercase_letters() {
        for c in COUNTRIES {
            assert_eq!(c.code.len(), 2, "{:?}", c.code);
            assert!(
                c.code.bytes().all(|b| b.is_ascii_uppercase()),
                "{:?}",
                c.code
            );
            assert!(!c.name.is_empty());
        }
    }

    #[test]
    fn every_entry_is_found_by_lookup() {
        for c in COUNTRIES {
            assert_eq!(lookup(c.code), Some(c));
        }
    }

    #[test]
    fn spot_checks() {
        let se = lookup("SE").unwrap();
        assert_eq!(se.name, "Sweden");
        assert_eq!(se.region, Region::Europe);
        assert_eq!(se.region.name(), "Europe");
        assert_eq!(lookup("US").unwrap().region, Region::Americas);
        assert_eq!(lookup("CN").unwrap().region, Region::Asia);
        assert_eq!(lookup("AU").unwrap().region, Region::Oceania);
        assert_eq!(lookup("ZA").unwrap().region, Region::Africa);
        assert_eq!(lookup("AQ").unwrap().region, Region::Antarctica);
        // M49 placements that differ from everyday intuition.
        assert_eq!(lookup("CY").unwrap().region, Region::Asia);
        assert_eq!(lookup("TR").unwrap().region, Region::Asia);
        assert_eq!(lookup("RU").unwrap().region, Region::Europe);
        assert_eq!(lookup("GL").unwrap().region, Region::Americas);
        assert_eq!(lookup("MX").unwrap().region, Region::Americas);
    }

    #[test]
    fn misses() {
        assert_eq!(lookup("se"), None);
        assert_eq!(lookup("XX"), None);
        assert_eq!(lookup("XK"), None);
        assert_eq!(lookup(""), None);
        assert_eq!(lookup("SWE"), None);
    }

    #[test]
    fn region_counts() {
        let count = |r| COUNTRIES.iter().filter(|c| c.region == r).count();
        assert_eq!(count(Region::Antarctica), 5);
        assert_eq!(
            [
                Region::Africa,
                Region::Americas,
                Region::Asia,
                Region::Europe,
                Region::Oceania
            ]
            .into_iter()
            .map(count)
            .sum::<usize>(),
            244
        );
    }
}
