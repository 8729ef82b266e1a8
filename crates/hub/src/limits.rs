//! Rate limits, on `governor` (GCRA: one timestamp per key, no wipes).
//!
//! [`KeyedLimit`] is shared by the whole hub (sends per user); [`Limit`] belongs to one
//! connection (its typing and `watch` frames). Both answer how long to wait when they refuse,
//! for `retry_after_ms`.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// `rate` per second sustained, up to `burst` at once (each at least 1).
fn quota(rate: u32, burst: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

/// One allowance per key.
pub(crate) struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    pub fn new(rate: u32, burst: u32) -> Self {
        KeyedLimit {
            limiter: RateLimiter::keyed(quota(rate, burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one from `key`'s allowance, or says how long until there is one.
    pub fn check(&self, key: K) -> Result<(), Duration> {
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets keys whose allowance is whole again (they would start afresh anyway), so the
    /// map holds only the recently active.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// One allowance.
pub(crate) struct Limit {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

impl Limit {
    pub fn new(rate: u32, burst: u32) -> Self {
        Limit {
            limiter: RateLimiter::direct(quota(rate, burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one from the allowance, or says how long until there is one.
    pub fn check(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_a_wait() {
        let limit = Limit::new(1, 3);
        for _ in 0..3 {
            assert!(limit.check().is_ok());
        }
        let wait = limit.check().expect_err("burst used up");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
    }

    #[test]
    fn keys_are_apart_and_idle_ones_are_forgotten() {
        let limit = KeyedLimit::new(1000, 2);
        assert!(limit.check(1).is_ok());
        assert!(limit.check(1).is_ok());
        assert!(limit.check(1).is_err(), "key 1 used its burst");
        assert!(limit.check(2).is_ok(), "key 2 has its own");
        std::thread::sleep(Duration::from_millis(10));
        limit.forget_idle();
        assert_eq!(limit.len(), 0, "both allowances are whole again");
    }
}
