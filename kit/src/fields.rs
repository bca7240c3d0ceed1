//! Parsing of the request fields every service has: ids, request ids, names, e-mail
//! addresses, etags, field masks. Each parser names the field in its violation, so a request
//! is turned into domain types once, at the edge.

use crate::status::Violations;
use uuid::Uuid;

/// A required id (a UUID string).
pub fn id(field: &str, value: &str) -> Result<Uuid, Violations> {
    if value.is_empty() {
        return Err(Violations::one(field, "is required"));
    }
    Uuid::parse_str(value).map_err(|_| Violations::one(field, "must be a UUID"))
}

/// An optional id: empty is `None`.
pub fn optional_id(field: &str, value: &str) -> Result<Option<Uuid>, Violations> {
    if value.is_empty() {
        Ok(None)
    } else {
        id(field, value).map(Some)
    }
}

/// An optional `request_id` (AIP-155): empty, or a UUID.
pub fn request_id(value: &str) -> Result<Option<Uuid>, Violations> {
    optional_id("request_id", value)
}

/// A required text of at most `max` characters, trimmed of surrounding white space, without
/// control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, Violations> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Violations::one(field, "is required"));
    }
    optional_text(field, trimmed, max)
}

/// An optional text (may be empty) of at most `max` characters, without control characters.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String, Violations> {
    bounded(
        field,
        value.trim(),
        max,
        char::is_control,
        "must not contain control characters",
    )
}

/// A required text of several lines (a description, a note) of at most `max` characters,
/// trimmed: line breaks (CRLF kept as LF) and tabs stay, other control characters are refused.
pub fn paragraphs(field: &str, value: &str, max: usize) -> Result<String, Violations> {
    let text = value.trim().replace("\r\n", "\n");
    if text.is_empty() {
        return Err(Violations::one(field, "is required"));
    }
    bounded(
        field,
        &text,
        max,
        |c| c.is_control() && c != '\n' && c != '\t',
        "must not contain control characters other than line breaks and tabs",
    )
}

/// `text` if it is at most `max` characters and has no `refused` character (`why` not).
fn bounded(
    field: &str,
    text: &str,
    max: usize,
    refused: impl Fn(char) -> bool,
    why: &str,
) -> Result<String, Violations> {
    if text.chars().count() > max {
        return Err(Violations::one(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text.chars().any(refused) {
        return Err(Violations::one(field, why));
    }
    Ok(text.to_string())
}

/// A required e-mail address: one "@", a non-empty local part and a dotted domain; stored in
/// lower case.
pub fn email(field: &str, value: &str) -> Result<String, Violations> {
    let value = text(field, value, 254)?;
    let valid = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.contains(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(value.to_lowercase())
    } else {
        Err(Violations::one(
            field,
            "must be an e-mail address like name@example.com",
        ))
    }
}

/// An optional e-mail address: empty is `None`.
pub fn optional_email(field: &str, value: &str) -> Result<Option<String>, Violations> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        email(field, value).map(Some)
    }
}

/// An optional phone number: digits, spaces, "-", "(", ")" and a leading "+", 4 to 32
/// characters.
pub fn optional_phone(field: &str, value: &str) -> Result<String, Violations> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    let body = value.strip_prefix('+').unwrap_or(value);
    let ok = (4..=32).contains(&value.len())
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')'))
        && body.chars().any(|c| c.is_ascii_digit());
    if ok {
        Ok(value.to_string())
    } else {
        Err(Violations::one(
            field,
            "must be a phone number: digits, an optional leading +",
        ))
    }
}

/// An etag as sent back by a client: empty is "no check", otherwise the version it names.
pub fn etag(field: &str, value: &str) -> Result<Option<i64>, Violations> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .strip_prefix("W/\"")
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| Violations::one(field, "is not an etag this service gave out"))
}

/// The etag of a stored version (a weak etag, AIP-154).
pub fn etag_of(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The paths of an update mask, checked against the paths a method allows. An empty mask is
/// replaced by `implied`: the allowed paths whose value is set in the request (AIP-134).
pub fn update_mask(
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&str],
    implied: impl FnOnce() -> Vec<&'static str>,
) -> Result<Vec<String>, Violations> {
    let paths: Vec<String> = match mask {
        Some(m) if !m.paths.is_empty() => m.paths.clone(),
        _ => implied().into_iter().map(str::to_string).collect(),
    };
    let mut v = Violations::new();
    for (i, path) in paths.iter().enumerate() {
        if !allowed.contains(&path.as_str()) {
            v.add(
                format!("update_mask.paths[{i}]"),
                format!(
                    "\"{path}\" can't be updated; allowed: {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    if paths.is_empty() {
        v.add(
            "update_mask",
            format!("names no field to update; allowed: {}", allowed.join(", ")),
        );
    }
    v.check()?;
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_uuids() {
        assert!(id("x", "").is_err());
        assert_eq!(id("x", "nope").unwrap_err().as_slice()[0].field, "x");
        assert!(id("x", "0190f6a4-5a5e-7cc0-9a7b-1c2d3e4f5a6b").is_ok());
        assert_eq!(request_id("").unwrap(), None);
    }

    #[test]
    fn emails_are_checked_and_lowered() {
        assert_eq!(email("e", " Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
        ] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn etags_round_trip_and_garbage_is_refused() {
        assert_eq!(etag("etag", &etag_of(7)).unwrap(), Some(7));
        assert_eq!(etag("etag", "").unwrap(), None);
        assert!(etag("etag", "7").is_err());
    }

    #[test]
    fn update_masks_name_the_bad_path_and_imply_set_fields() {
        let mask = prost_types::FieldMask {
            paths: vec!["display_name".into(), "id".into()],
        };
        let err = update_mask(Some(&mask), &["display_name"], Vec::new).unwrap_err();
        assert_eq!(err.as_slice()[0].field, "update_mask.paths[1]");
        assert_eq!(update_mask(None, &["a", "b"], || vec!["b"]).unwrap(), ["b"]);
        assert!(update_mask(None, &["a"], Vec::new).is_err());
    }

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(text("n", "  Contoso ", 10).unwrap(), "Contoso");
        assert!(text("n", "   ", 10).is_err());
        assert!(text("n", "abcdefghijk", 10).is_err());
        assert!(text("n", "a\u{0}b", 10).is_err());
        assert!(text("n", "a\nb", 10).is_err());
    }

    #[test]
    fn paragraphs_keep_line_breaks_and_tabs_only() {
        assert_eq!(paragraphs("n", " a\r\n\tb\n", 10).unwrap(), "a\n\tb");
        assert!(paragraphs("n", " \n ", 10).is_err());
        assert!(paragraphs("n", "a\u{0}b", 10).is_err());
        assert!(paragraphs("n", "a\rb", 10).is_err());
        assert!(paragraphs("n", "abcdefghijk", 10).is_err());
    }
}
