//! Passwords: the policy, temporary passwords, and their stored hashes. No password, temporary or
//! not, is ever stored or logged in clear.
//!
//! A password a person chooses is kept as an Argon2id PHC string: it may be guessable, so each
//! guess must be expensive. A temporary password is a random secret of about 144 bits that no one
//! can guess, so, as for tokens, its SHA-256 is enough: `$sha256$` and the digest. The temporary
//! password a create gives a new user is derived from the service's secret key and the user's id
//! ([`derived_temporary`]), so a retried create can answer it again without it being kept in
//! clear; a reset's is random. Argon2 runs on
//! blocking threads, at most one per core at once, so a burst of sign-ins holds a bounded amount of
//! memory (19 MiB per computation) whatever the number of callers.

use crate::error::{Error, Result};
use argon2::password_hash::{self, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use partnerhub_kit::secret_key::SecretKey;
use partnerhub_kit::status::Violations;
use rand::rngs::OsRng;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use std::fmt::Display;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Semaphore;

const TEMPORARY_LEN: usize = 24;

/// Starts the stored hash of a temporary password; the SHA-256 digest follows, in unpadded
/// standard base64 as in PHC strings. No Argon2 PHC string starts this way.
const TEMPORARY_HASH_PREFIX: &str = "$sha256$";

// OWASP's Argon2id recommendation, which is also `Params::default()` in argon2 0.5; written out so
// that a dependency update can't weaken new hashes.
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
const ARGON2_ITERATIONS: u32 = 2;
const ARGON2_LANES: u32 = 1;

pub mod rules;

/// Checks a password a person chooses for `user_name` (see [`rules`]).
pub fn check_policy(field: &str, password: &str, user_name: &str) -> Result<(), Violations> {
    rules::check(field, password, user_name)
}

/// A new random temporary password (a reset's): see [`temporary_from`].
pub fn temporary() -> String {
    temporary_from(&mut OsRng)
}

/// What created users' temporary passwords are derived for: keeps them apart from anything else
/// the key derives.
const PURPOSE: &str = "partnerhub temporary password v1";

/// The temporary password a create gives the user `user_id`: the same each time it is asked for
/// (so a retried create answers the password the first answer gave), and no one without the
/// service's key can compute it. Its 256-bit HMAC seeds ChaCha20, from which [`temporary_from`]
/// picks the characters; rand 0.8's `gen_range` and ChaCha20 are portable, so the same key and
/// user give the same password on every machine. (Should either ever change, a retry made
/// afterwards answers no password: the stored hash no longer matches. Nothing stops working.)
pub fn derived_temporary(key: &SecretKey, user_id: &str) -> String {
    temporary_from(&mut ChaCha20Rng::from_seed(key.derive(PURPOSE, user_id)))
}

/// A temporary password drawn from `rng`: 24 characters from an alphabet of 67 without
/// look-alikes (0/O, 1/l/I), with at least one character of each kind (so that it passed the
/// character-kind rules of older clients' forms as well).
///
/// Its min-entropy is about 144.5 bits: the likeliest passwords (six characters of each kind) each
/// come out with probability 2^-144.5. Forcing the four kinds costs about one bit against the
/// 145.6 bits of 24 uniform characters.
fn temporary_from(rng: &mut impl Rng) -> String {
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOLS: &[u8] = b"!#$%*+-=?@";
    let mut pick = |set: &[u8]| char::from(set[rng.gen_range(0..set.len())]);
    let mut chars: Vec<char> = vec![pick(LOWER), pick(UPPER), pick(DIGITS), pick(SYMBOLS)];
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    while chars.len() < TEMPORARY_LEN {
        chars.push(pick(&all));
    }
    // Shuffle so the kinds are not always in the first four places.
    for i in (1..chars.len()).rev() {
        chars.swap(i, rng.gen_range(0..=i));
    }
    chars.into_iter().collect()
}

/// Whether `stored` (a user's stored password hash) is the hash of `temporary`: the password a
/// create derived is still the user's (not reset since, nor changed).
pub fn is_stored_temporary(temporary: &str, stored: &str) -> bool {
    equal_in_constant_time(hash_temporary(temporary).as_bytes(), stored.as_bytes())
}

/// The stored form of a password made by [`temporary`]: `$sha256$` and its SHA-256. Only for
/// those random secrets; a password a person chooses goes through [`hash`].
pub fn hash_temporary(temporary: &str) -> String {
    let digest = Sha256::digest(temporary.as_bytes());
    format!("{TEMPORARY_HASH_PREFIX}{}", STANDARD_NO_PAD.encode(digest))
}

/// Hashes a password a person chose with Argon2id.
pub async fn hash(password: String) -> Result<String> {
    run_argon2(move || argon2_hash(password.as_bytes()).map_err(hashing)).await
}

/// Checks a password against its stored hash, of either kind. Every call runs one Argon2
/// verification, against a dummy hash when there is no Argon2 hash to check (unknown user,
/// temporary password), so the time it takes tells neither whether the user exists nor whether
/// the password is temporary.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool> {
    let Some(stored) = stored else {
        verify_argon2(password, None).await?;
        return Ok(false);
    };
    match stored.strip_prefix(TEMPORARY_HASH_PREFIX) {
        Some(digest) => {
            let matches = matches_temporary(&password, digest);
            verify_argon2(password, None).await?;
            matches
        }
        None => verify_argon2(password, Some(stored)).await,
    }
}

/// Whether `password` has the SHA-256 `stored_digest` (base64, without its prefix).
fn matches_temporary(password: &str, stored_digest: &str) -> Result<bool> {
    let stored = STANDARD_NO_PAD
        .decode(stored_digest)
        .map_err(|e| hashing(format!("stored temporary password hash: {e}")))?;
    let given = Sha256::digest(password.as_bytes());
    if stored.len() != given.len() {
        return Err(hashing(
            "stored temporary password hash is not a SHA-256 digest",
        ));
    }
    Ok(equal_in_constant_time(&stored, &given))
}

/// Whether two byte strings are equal, reading every byte whatever the first difference, so the
/// time taken says nothing about where they differ.
pub(crate) fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    // `black_box` keeps the optimiser from turning the fold into an early exit.
    let difference = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    a.len() == b.len() && difference == 0
}

/// Verifies against an Argon2 PHC string, or against the dummy hash (then always false).
async fn verify_argon2(password: String, stored: Option<String>) -> Result<bool> {
    run_argon2(move || {
        let phc = match stored.as_deref() {
            Some(phc) => phc,
            None => dummy_hash().map_err(hashing)?,
        };
        let matches = argon2_matches(password.as_bytes(), phc).map_err(hashing)?;
        Ok(stored.is_some() && matches)
    })
    .await
}

/// How many Argon2 computations may run at once: one per core. More would only queue for the CPU
/// while each holds its 19 MiB.
fn argon2_limit() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

fn argon2_permits() -> &'static Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS.get_or_init(|| Arc::new(Semaphore::new(argon2_limit())))
}

/// Runs Argon2 work on a blocking thread once a permit is free. The permit moves into the blocking
/// task so that it is held until the work ends, even when the caller stops waiting (a cancelled
/// RPC must not free a slot while its hash still runs).
async fn run_argon2<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let permit = Arc::clone(argon2_permits())
        .acquire_owned()
        .await
        .map_err(hashing)?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        // Declared after the permit, so dropped before it: the count never exceeds the permits.
        #[cfg(test)]
        let _running = running::enter();
        work()
    })
    .await
    .map_err(hashing)?
}

fn argon2() -> Result<Argon2<'static>, argon2::Error> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Argon2's working memory (19 MiB at our parameters), made once per permit and then kept. Made
/// and freed on every call, it stayed behind anyway: glibc keeps freed memory of that size in each
/// thread's arena, and tokio has many blocking threads (0.5 GiB after a burst of sign-ins).
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Runs `work` with `blocks` of Argon2 memory from [`MEMORY`].
fn with_memory<T>(blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    let kept = MEMORY
        .lock()
        .ok()
        .and_then(|mut kept| kept.pop())
        .filter(|memory| memory.len() == blocks);
    let mut memory = kept.unwrap_or_else(|| vec![Block::default(); blocks]);
    let done = work(&mut memory);
    if let Ok(mut kept) = MEMORY.lock()
        && kept.len() < argon2_limit()
    {
        kept.push(memory);
    }
    done
}

/// A new Argon2id PHC string of `password`, as `PasswordHasher::hash_password` makes it, but in
/// kept memory. Call only inside [`run_argon2`].
fn argon2_hash(password: &[u8]) -> Result<String, password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = argon2()?;
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt)?;
    let output = password_hash::Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        with_memory(argon2.params().block_count(), |memory| {
            argon2.hash_password_into_with_memory(password, raw_salt, out, memory)
        })
        .map_err(password_hash::Error::from)
    })?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2.params().try_into()?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` is the one of the PHC string `phc`, computed with the parameters written in
/// it (as `PasswordVerifier` does), in kept memory. Call only inside [`run_argon2`].
fn argon2_matches(password: &[u8], phc: &str) -> Result<bool, password_hash::Error> {
    let parsed = PasswordHash::new(phc)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(password_hash::Error::PhcStringField);
    };
    let algorithm = Algorithm::try_from(parsed.algorithm)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let argon2 = Argon2::new(algorithm, version, Params::try_from(&parsed)?);
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt)?;
    let computed = password_hash::Output::init_with(expected.len(), |out| {
        with_memory(argon2.params().block_count(), |memory| {
            argon2.hash_password_into_with_memory(password, raw_salt, out, memory)
        })
        .map_err(password_hash::Error::from)
    })?;
    // `Output`'s equality takes the same time wherever the outputs differ.
    Ok(computed == expected)
}

/// An Argon2 hash of a random password, made once, for checks that must take as long as a real
/// one. Call only inside [`run_argon2`].
fn dummy_hash() -> Result<&'static str, password_hash::Error> {
    static DUMMY: OnceLock<Result<String, password_hash::Error>> = OnceLock::new();
    DUMMY
        .get_or_init(|| argon2_hash(temporary().as_bytes()))
        .as_deref()
        .map_err(|e| *e)
}

fn hashing(e: impl Display) -> Error {
    Error::Hashing(e.to_string())
}

/// Counts the Argon2 computations running at once, so that a test can check the bound.
#[cfg(test)]
mod running {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static NOW: AtomicUsize = AtomicUsize::new(0);
    pub static PEAK: AtomicUsize = AtomicUsize::new(0);

    pub struct Running;

    pub fn enter() -> Running {
        let now = NOW.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        Running
    }

    impl Drop for Running {
        fn drop(&mut self) {
            NOW.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn temporary_passwords_are_long_meet_the_policy_and_differ() {
        let a = temporary();
        assert!(a.chars().count() >= 24, "{a}");
        assert!(
            check_policy("p", &a, "anna@contoso.onpartnerhub.com").is_ok(),
            "{a}"
        );
        assert!(a.chars().any(|c| c.is_ascii_lowercase()), "{a}");
        assert!(a.chars().any(|c| c.is_ascii_uppercase()), "{a}");
        assert!(a.chars().any(|c| c.is_ascii_digit()), "{a}");
        assert!(a.chars().any(|c| !c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, temporary());
    }

    #[test]
    fn a_created_users_password_is_derived_again_and_is_that_users_alone() {
        let key = SecretKey::generate();
        let a = derived_temporary(&key, "user-a");
        assert_eq!(a, derived_temporary(&key, "user-a"));
        assert_ne!(a, derived_temporary(&key, "user-b"));
        assert_ne!(a, derived_temporary(&SecretKey::generate(), "user-a"));
        assert_eq!(a.chars().count(), TEMPORARY_LEN);
        assert!(
            check_policy("p", &a, "anna@contoso.onpartnerhub.com").is_ok(),
            "{a}"
        );
        let stored = hash_temporary(&a);
        assert!(is_stored_temporary(&a, &stored));
        assert!(!is_stored_temporary(
            &derived_temporary(&key, "user-b"),
            &stored
        ));
        assert!(!is_stored_temporary(&a, "$argon2id$v=19$whatever"));
    }

    #[test]
    fn derivation_is_stable_across_builds() {
        // Fixed key and user: a change of rand, rand_chacha or the alphabet would change every
        // outstanding derived password (retries would then answer none). Make it on purpose.
        let key = SecretKey::from_bytes(&[7u8; 32]).unwrap();
        assert_eq!(
            derived_temporary(&key, "0190f0a0-0000-7000-8000-000000000001"),
            "RQi76*53zLnHzk8HkuwLNg5$"
        );
    }

    #[tokio::test]
    async fn a_temporary_hash_says_its_kind_and_verifies_only_its_password() {
        let password = temporary();
        let stored = hash_temporary(&password);
        assert!(stored.starts_with("$sha256$"), "{stored}");
        assert!(!stored.contains(&password));
        assert!(
            verify(password.clone(), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!verify(temporary(), Some(stored.clone())).await.unwrap());
        assert!(!verify(format!("{password}x"), Some(stored)).await.unwrap());
    }

    #[tokio::test]
    async fn chosen_passwords_get_owasp_argon2id_and_verify_only_themselves() {
        let stored = hash("Correct horse 1".into()).await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(!stored.contains("Correct"));
        assert!(
            verify("Correct horse 1".into(), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong".into(), Some(stored)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn temporary_passwords_hashed_with_argon2_before_still_verify() {
        use argon2::password_hash::PasswordHasher;
        let password = temporary();
        let salt = SaltString::generate(&mut OsRng);
        let stored = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string();
        assert!(verify(password, Some(stored.clone())).await.unwrap());
        assert!(!verify(temporary(), Some(stored)).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_made_in_kept_memory_are_standard_argon2id() {
        use argon2::password_hash::PasswordVerifier;
        let stored = hash("Correct horse 1".into()).await.unwrap();
        let parsed = PasswordHash::new(&stored).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"Correct horse 1", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
        assert!(MEMORY.lock().unwrap().len() <= argon2_limit());
    }

    #[tokio::test]
    async fn corrupted_or_unknown_hashes_never_verify_nor_panic() {
        let short_digest = format!("$sha256${}", STANDARD_NO_PAD.encode([1u8, 2, 3]));
        for stored in [
            "",
            "garbage",
            "$sha256$",
            "$sha256$not base64!",
            short_digest.as_str(),
            "$argon2id$v=19$m=19456,t=2,p=1$bad",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$",
            "$md5$abc$def",
        ] {
            let outcome = verify("Passw0rdPassw0rd".into(), Some(stored.to_owned())).await;
            assert!(!matches!(outcome, Ok(true)), "{stored:?}: {outcome:?}");
        }
    }

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(equal_in_constant_time(b"abc", b"abc"));
        assert!(!equal_in_constant_time(b"abc", b"abd"));
        assert!(!equal_in_constant_time(b"xbc", b"abc"));
        assert!(!equal_in_constant_time(b"ab", b"abc"));
        assert!(equal_in_constant_time(b"", b""));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_argon2_computations_run_at_once_than_the_limit() {
        let callers = 3 * argon2_limit() + 2;
        let hashes: Vec<_> = (0..callers)
            .map(|i| tokio::spawn(hash(format!("Chosen password {i}"))))
            .collect();
        for handle in hashes {
            handle.await.unwrap().unwrap();
        }
        // Other tests hash at the same time; the bound is process-wide, so it still holds.
        let peak = running::PEAK.load(Ordering::SeqCst);
        assert!((1..=argon2_limit()).contains(&peak), "peak {peak}");
    }
}
