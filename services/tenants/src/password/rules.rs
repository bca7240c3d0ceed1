//! What a password a person chooses must be, after NIST SP 800-63B (rev. 4, 2024, §3.1.1.2):
//!
//! - at least [`MIN_LEN`] characters (Unicode code points). 15 is NIST's figure for a password
//!   that is the only factor, which it is here: sign-in has no second factor. The old 8 was
//!   NIST's floor only for passwords used with another factor;
//! - at most [`MAX_LEN`]: far above anything typed, so passphrases fit, while bounding the work
//!   of hashing;
//! - no rules about kinds of characters (upper case, digits, symbols): they push people to
//!   `Password1!`, and NIST says not to impose them;
//! - not a commonly used or expected password: not one of the common passwords of breach lists
//!   (a compact list of their words is embedded below) with decoration around it (case,
//!   digits, symbols, l33t), not the service's name or the user's name, not a character
//!   repeated or a run of neighbouring characters (`aaaa…`, `abcd…`, `1234…`).
//!
//! Temporary passwords are 24 random characters and pass these rules.

use partnerhub_kit::status::Violations;

/// Fewest characters of a chosen password.
pub const MIN_LEN: usize = 15;
/// Most characters of a chosen password.
pub const MAX_LEN: usize = 256;

/// Words of the most common passwords of public breach lists (lower case, letters only: digits
/// and symbols around them are decoration, and l33t spellings are read back to letters before
/// comparing). A password whose letters are only these words is refused.
const COMMON: &[&str] = &[
    "password",
    "passwort",
    "passwd",
    "pass",
    "qwerty",
    "qwertz",
    "azerty",
    "qwertyuiop",
    "asdfgh",
    "asdf",
    "zxcvbn",
    "zxcvbnm",
    "qaz",
    "wsx",
    "edc",
    "rfv",
    "tgb",
    "yhn",
    "ujm",
    "abc",
    "iloveyou",
    "love",
    "letmein",
    "welcome",
    "admin",
    "administrator",
    "login",
    "master",
    "secret",
    "changeme",
    "default",
    "test",
    "guest",
    "root",
    "user",
    "hello",
    "dragon",
    "monkey",
    "shadow",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "soccer",
    "hockey",
    "superman",
    "batman",
    "starwars",
    "trustno",
    "whatever",
    "freedom",
    "michael",
    "jennifer",
    "jordan",
    "hunter",
    "buster",
    "harley",
    "tigger",
    "charlie",
    "robert",
    "thomas",
    "ranger",
    "daniel",
    "george",
    "computer",
    "michelle",
    "jessica",
    "pepper",
    "maggie",
    "ginger",
    "joshua",
    "cheese",
    "amanda",
    "summer",
    "winter",
    "spring",
    "autumn",
    "ashley",
    "nicole",
    "chelsea",
    "matthew",
    "access",
    "yankees",
    "dallas",
    "austin",
    "thunder",
    "taylor",
    "matrix",
    "flower",
    "loveme",
    "killer",
    "mustang",
    "internet",
    "samsung",
    "google",
    "microsoft",
    "apple",
    "office",
    "company",
    "cloud",
    "monday",
    "friday",
    "january",
    "abcdef",
    "abcd",
    "asdfghjkl",
    "qwer",
    "zaq",
    "xsw",
    "football",
    "lovely",
    "angel",
    "family",
    "purple",
    "orange",
    "banana",
    "cookie",
    "chocolate",
    "tinkerbell",
    "pokemon",
    "naruto",
    "minecraft",
    "fuckyou",
    "fuck",
    "sex",
    "god",
    "jesus",
    "liverpool",
    "arsenal",
    "barcelona",
    "welkom",
    "bonjour",
    "hallo",
    "ciao",
    "passe",
    "contrasena",
    "senha",
    "parola",
];

/// The service's name, refused inside passwords (NIST: "the name of the service").
const SERVICE_NAME: &str = "partnerhub";

/// Checks a password a person chooses for the user `user_name` (empty when unknown): see the
/// module's rules. The refusal names `field`.
pub fn check(field: &str, password: &str, user_name: &str) -> Result<(), Violations> {
    let refuse = |why: &str| Err(Violations::one(field, why));
    let len = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return refuse(&format!(
            "must be {MIN_LEN} to {MAX_LEN} characters; a few unrelated words make a good one"
        ));
    }
    let lower = password.to_lowercase();
    if lower.contains(SERVICE_NAME) {
        return refuse("must not contain the service's name");
    }
    if user_name_parts(user_name).any(|part| lower.contains(part.as_str())) {
        return refuse("must not contain the user name");
    }
    if is_repetitive(&lower) {
        return refuse("must not be a character repeated or a run like abcd… or 1234…");
    }
    if is_common(&lower) {
        return refuse("is a commonly used password; a few unrelated words make a good one");
    }
    Ok(())
}

/// The parts of a user name (`anna.berg@contoso.onpartnerhub.com`: `anna`, `berg`,
/// `contoso`) long enough to matter, `onpartnerhub` and `com` left out.
fn user_name_parts(user_name: &str) -> impl Iterator<Item = String> + '_ {
    let lower = user_name.to_lowercase();
    let (local, domain) = lower.split_once('@').unwrap_or((&lower, ""));
    let tenant = domain.split('.').next().unwrap_or("");
    let mut parts: Vec<String> = local
        .split(|c: char| !c.is_alphanumeric())
        .chain([tenant])
        .filter(|p| p.chars().count() >= 4)
        .map(str::to_string)
        .collect();
    if local.chars().count() >= 4 {
        parts.push(local.to_string());
    }
    parts.into_iter()
}

/// Mostly one character repeated or a run of neighbouring ones: at most four different
/// characters, or at least four in five steps from one character to the next are to the same,
/// the next or the previous character (`aaaa`, `abcd`, `4321`, `abab`).
fn is_repetitive(lower: &str) -> bool {
    let chars: Vec<u32> = lower.chars().map(u32::from).collect();
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() <= 4 {
        return true;
    }
    let steps = chars.windows(2).count();
    let near = chars
        .windows(2)
        .filter(|w| w[0].abs_diff(w[1]) <= 1)
        .count();
    near * 5 >= steps * 4
}

/// Only common words under decoration: the letters of the password, or of the password without
/// its leading and trailing non-letters read as l33t (`P@ssw0rd`), are all words of [`COMMON`].
fn is_common(lower: &str) -> bool {
    let letters: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    let trimmed = lower.trim_matches(|c: char| !c.is_alphabetic());
    let unleet: String = trimmed
        .chars()
        .filter_map(|c| match c {
            '0' => Some('o'),
            '1' | '!' => Some('i'),
            '3' => Some('e'),
            '4' | '@' => Some('a'),
            '5' | '$' => Some('s'),
            '7' => Some('t'),
            c if c.is_alphabetic() => Some(c),
            _ => None,
        })
        .collect();
    [letters, unleet].iter().any(|s| only_common_words(s))
}

/// `s` (not empty) is made of words of [`COMMON`] end to end.
fn only_common_words(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    // made[i]: s[..i] is made of common words (byte offsets; the words are ASCII).
    let mut made = vec![false; s.len() + 1];
    made[0] = true;
    for i in 0..s.len() {
        if !made[i] || !s.is_char_boundary(i) {
            continue;
        }
        for word in COMMON {
            if s[i..].starts_with(word) {
                made[i + word.len()] = true;
            }
        }
    }
    made[s.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(password: &str) -> bool {
        check("p", password, "anna.berg@contoso.onpartnerhub.com").is_err()
    }

    #[test]
    fn passwords_are_15_to_256_characters_counted_as_code_points() {
        assert!(refused("Xq7-vulture-oa"), "14 characters");
        assert!(!refused("Xq7-vulture-oak"), "15 characters");
        assert!(!refused("åäöåäöxyzkvmprt"), "15 code points, more bytes");
        assert!(!refused(&"horse battery ".repeat(18)[..252]));
        assert!(
            refused(&"horse battery staple ".repeat(13)),
            "273 characters"
        );
        let violations = check("new_password", "short", "").unwrap_err();
        assert_eq!(violations.as_slice()[0].field, "new_password");
    }

    #[test]
    fn no_kinds_of_characters_are_required() {
        assert!(!refused("correct horse battery staple"));
        assert!(!refused("839204719384756"));
        assert!(!refused("CORRECTHORSEBATTERYSTAPLE"));
    }

    #[test]
    fn common_passwords_with_decoration_are_refused() {
        for common in [
            "Password1",
            "Password123456789",
            "P@ssw0rd2024!!!!",
            "passwordpassword",
            "Qwerty123456789!",
            "iloveyou12345678",
            "Welcome2024Welcome",
            "1qaz2wsx3edc4rfv",
            "LetMeIn!LetMeIn!",
            "Monkey-Dragon-Sunshine",
        ] {
            assert!(refused(common), "{common}");
        }
        // The README's, the clients' and the tests' passwords.
        for (user, chosen) in [
            ("admin@fabrikam.onpartnerhub.com", "Fika-1234-Stockholm"),
            ("admin@fabrikam.onpartnerhub.com", "Fika-9876-Stockholm"),
            ("admin@skolan.onpartnerhub.com", "Skola-2345-Solna"),
            ("erik@fabrikam.onpartnerhub.com", "Agent-3456-Lund"),
            ("admin@nordicdist.onpartnerhub.com", "Provider-4567-Gbg"),
            ("admin@skolit.onpartnerhub.com", "Reseller-5678-Gbg"),
            ("admin@radgivarna.onpartnerhub.com", "Advisor-6789-Gbg"),
            ("admin@lerumsgymnasium.onpartnerhub.com", "Lerum-7890-Skola"),
            ("sara@contoso.onpartnerhub.com", "Another-5678-Pass"),
        ] {
            assert!(check("p", chosen, user).is_ok(), "{chosen}");
        }
        assert!(
            !refused("sunshine over the archipelago"),
            "one common word among others"
        );
    }

    #[test]
    fn the_service_and_user_names_are_refused() {
        assert!(refused("my partnerhub password!"));
        assert!(refused("ContosoContoso2024"), "the tenant's domain prefix");
        assert!(refused("anna.berg is great"), "the local part");
        assert!(
            refused("hello Berg my old friend"),
            "a part of the local part"
        );
        assert!(
            !refused("ann was here in march"),
            "too short a part to matter"
        );
    }

    #[test]
    fn repeated_and_sequential_characters_are_refused() {
        for weak in [
            "aaaaaaaaaaaaaaaa",
            "abcdefghijklmnop",
            "123456789012345",
            "987654321098765",
            "abababababababab",
            "xyz.xyz.xyz.xyz.",
        ] {
            assert!(refused(weak), "{weak}");
        }
    }
}
