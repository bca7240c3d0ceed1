//! The rate limit in front of `SignIn`: a token bucket per client address and one per user
//! name, so that neither one address trying many names nor many addresses trying one name get
//! more than a trickle of guesses through. (The tenants service's growing wait after wrong
//! passwords guards each user as well; this keeps the guessing from reaching it.)
//!
//! Each bucket is kept as one instant (the GCRA form of a token bucket: when the bucket would
//! be full again), in maps of at most [`MAX_KEYS`] entries: a full map first forgets the
//! buckets that are full again (the same as never seen), and if that is not enough, all of
//! them. Forgetting errs towards letting sign-ins through, which is safe because the tenants
//! service still counts wrong passwords per user.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept per map (addresses, user names): a few hundred kilobytes at most.
pub const MAX_KEYS: usize = 10_000;

/// A token bucket's size and refill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Calls let through at once from a full bucket.
    pub burst: u32,
    /// One more call is let through each `every`.
    pub every: Duration,
}

/// The sign-in rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    /// Per client address (the TCP peer; behind a proxy that doesn't keep client addresses,
    /// all of its clients share one bucket).
    pub per_address: Rate,
    /// Per user name (lower case, as sign-in compares them).
    pub per_user: Rate,
}

impl Default for SignInLimits {
    /// Per address 30 at once, then one a second (an office behind one address signs in at a
    /// time of day without noticing); per user name 10 at once, then one each 6 seconds (a
    /// person retrying a forgotten password never notices; a guesser gets 600 an hour, while
    /// the tenants service makes wrong passwords wait longer and longer).
    fn default() -> Self {
        SignInLimits {
            per_address: Rate {
                burst: 30,
                every: Duration::from_secs(1),
            },
            per_user: Rate {
                burst: 10,
                every: Duration::from_secs(6),
            },
        }
    }
}

/// Why a sign-in was not let through, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Address(Duration),
    UserName(Duration),
}

/// The buckets.
pub struct SignInLimiter {
    limits: SignInLimits,
    addresses: Mutex<Buckets<IpAddr>>,
    users: Mutex<Buckets<String>>,
}

impl SignInLimiter {
    pub fn new(limits: SignInLimits) -> Self {
        SignInLimiter {
            limits,
            addresses: Mutex::new(Buckets::default()),
            users: Mutex::new(Buckets::default()),
        }
    }

    /// Takes a token from the address's bucket, then from the user name's; refuses when
    /// either is empty, with the time until it has one again.
    pub fn take(&self, address: Option<IpAddr>, user_name: &str) -> Result<(), Limited> {
        self.take_at(address, user_name, Instant::now())
    }

    fn take_at(
        &self,
        address: Option<IpAddr>,
        user_name: &str,
        now: Instant,
    ) -> Result<(), Limited> {
        if let Some(address) = address
            && let Ok(mut buckets) = self.addresses.lock()
        {
            buckets
                .take(address, self.limits.per_address, now)
                .map_err(Limited::Address)?;
        }
        // As the tenants service compares them, and no longer than a user name can be.
        let name: String = user_name.trim().to_lowercase().chars().take(320).collect();
        if let Ok(mut buckets) = self.users.lock() {
            buckets
                .take(name, self.limits.per_user, now)
                .map_err(Limited::UserName)?;
        }
        Ok(())
    }
}

/// Buckets by key: when each would be full again.
struct Buckets<K> {
    full_at: HashMap<K, Instant>,
}

impl<K> Default for Buckets<K> {
    fn default() -> Self {
        Buckets {
            full_at: HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq> Buckets<K> {
    fn take(&mut self, key: K, rate: Rate, now: Instant) -> Result<(), Duration> {
        let depth = rate.every.saturating_mul(rate.burst);
        let full_at = self.full_at.get(&key).copied().unwrap_or(now).max(now);
        // After this call the bucket is full again one refill later than before.
        let then = full_at + rate.every;
        let over = then.saturating_duration_since(now);
        if over > depth {
            return Err(over - depth);
        }
        if self.full_at.len() >= MAX_KEYS && !self.full_at.contains_key(&key) {
            self.full_at.retain(|_, at| *at > now);
            if self.full_at.len() >= MAX_KEYS {
                self.full_at.clear();
            }
        }
        self.full_at.insert(key, then);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: SignInLimits = SignInLimits {
        per_address: Rate {
            burst: 3,
            every: Duration::from_secs(10),
        },
        per_user: Rate {
            burst: 2,
            every: Duration::from_secs(60),
        },
    };

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn an_address_gets_its_burst_then_one_per_refill() {
        let limiter = SignInLimiter::new(LIMITS);
        let now = Instant::now();
        for name in ["a", "b", "c"] {
            assert_eq!(limiter.take_at(ip(1), name, now), Ok(()));
        }
        assert_eq!(
            limiter.take_at(ip(1), "d", now),
            Err(Limited::Address(Duration::from_secs(10)))
        );
        assert_eq!(limiter.take_at(ip(2), "d", now), Ok(()), "another address");
        let later = now + Duration::from_secs(10);
        assert_eq!(limiter.take_at(ip(1), "d", later), Ok(()));
        assert!(limiter.take_at(ip(1), "e", later).is_err());
    }

    #[test]
    fn a_user_name_is_limited_whatever_the_address_and_case() {
        let limiter = SignInLimiter::new(LIMITS);
        let now = Instant::now();
        assert_eq!(limiter.take_at(ip(1), "Anna@X", now), Ok(()));
        assert_eq!(limiter.take_at(ip(2), " anna@x", now), Ok(()));
        assert_eq!(
            limiter.take_at(ip(3), "ANNA@x", now),
            Err(Limited::UserName(Duration::from_secs(60)))
        );
        assert_eq!(limiter.take_at(ip(3), "sara@x", now), Ok(()));
    }

    #[test]
    fn memory_is_bounded() {
        let limiter = SignInLimiter::new(LIMITS);
        let len = || limiter.users.lock().unwrap().full_at.len();
        let now = Instant::now();
        for i in 0..MAX_KEYS {
            assert_eq!(limiter.take_at(None, &format!("user{i}"), now), Ok(()));
        }
        assert_eq!(len(), MAX_KEYS);
        // Full: buckets full again are forgotten first…
        let later = now + Duration::from_secs(3600);
        assert_eq!(limiter.take_at(None, "another", later), Ok(()));
        assert_eq!(len(), 1);
        // …and when none is, all of them.
        for i in 1..MAX_KEYS {
            assert_eq!(limiter.take_at(None, &format!("user{i}"), later), Ok(()));
        }
        assert_eq!(len(), MAX_KEYS);
        assert_eq!(limiter.take_at(None, "one more", later), Ok(()));
        assert_eq!(len(), 1);
    }
}
