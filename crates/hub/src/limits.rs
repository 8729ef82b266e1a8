//! Rate limits, on `governor` (GCRA: one timestamp per key, no wipes).
//!
//! [`KeyedLimit`] is shared by the whole hub (sends per user); [`Limit`] belongs to one
//! connection (its typing and `watch` frames). Both answer how long to wait when they refuse,
//! for `retry_after_ms`.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use chinwag_proto::ApiError;

/// `rate` per second sustained, up to `burst` at once (each at least 1).
fn quota(rate: u32, burst: u32) -> Quota {
    quota_per(Quota::per_second, rate, burst)
}

/// `rate` per period (`Quota::per_second`, `Quota::per_minute`) sustained, up to `burst` at
/// once (each at least 1).
fn quota_per(period: fn(NonZeroU32) -> Quota, rate: u32, burst: u32) -> Quota {
    period(NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

/// One allowance per key, on the system's clock (tests give governor's fake one).
pub(crate) struct KeyedLimit<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    limiter: RateLimiter<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    pub fn new(rate: u32, burst: u32) -> Self {
        Self::with_clock(rate, burst, DefaultClock::default())
    }

    /// `rate` a minute, for what people do a few times an hour.
    pub fn per_minute(rate: u32, burst: u32) -> Self {
        Self::with_quota(
            quota_per(Quota::per_minute, rate, burst),
            DefaultClock::default(),
        )
    }
}

impl<K: Hash + Eq + Clone, C: Clock + Clone> KeyedLimit<K, C> {
    pub fn with_clock(rate: u32, burst: u32, clock: C) -> Self {
        Self::with_quota(quota(rate, burst), clock)
    }

    fn with_quota(quota: Quota, clock: C) -> Self {
        KeyedLimit {
            limiter: RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone()),
            clock,
        }
    }

    /// Takes one from `key`'s allowance, or says how long until there is one.
    pub fn check(&self, key: K) -> Result<(), Duration> {
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Takes one from `key`'s allowance, or refuses with `rate_limited`: `why` says what
    /// was too fast, `retry_after_ms` how long to wait.
    pub fn take(&self, key: K, why: impl FnOnce() -> String) -> Result<(), ApiError> {
        self.check(key)
            .map_err(|wait| ApiError::rate_limited(why(), wait.as_millis() as u64))
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
pub(crate) struct Limit<C: Clock = DefaultClock> {
    limiter: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    clock: C,
}

impl Limit {
    pub fn new(rate: u32, burst: u32) -> Self {
        Self::with_clock(rate, burst, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Limit<C> {
    pub fn with_clock(rate: u32, burst: u32, clock: C) -> Self {
        Limit {
            limiter: RateLimiter::direct_with_clock(quota(rate, burst), clock.clone()),
            clock,
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
    use governor::clock::FakeRelativeClock;

    // governor's fake clock: time moves only when a test says, so no test sleeps and none
    // depends on how fast the machine is.

    #[test]
    fn a_burst_then_a_wait() {
        let clock = FakeRelativeClock::default();
        let limit = Limit::with_clock(1, 3, clock.clone());
        for _ in 0..3 {
            assert!(limit.check().is_ok());
        }
        let wait = limit.check().expect_err("burst used up");
        assert_eq!(wait, Duration::from_secs(1), "one more a second");
        clock.advance(Duration::from_millis(999));
        assert!(limit.check().is_err(), "not yet");
        clock.advance(Duration::from_millis(1));
        assert!(limit.check().is_ok(), "one second later");
    }

    #[test]
    fn keys_are_apart_and_idle_ones_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let limit = KeyedLimit::with_clock(1000, 2, clock.clone());
        assert!(limit.check(1).is_ok());
        assert!(limit.check(1).is_ok());
        assert!(limit.check(1).is_err(), "key 1 used its burst");
        assert!(limit.check(2).is_ok(), "key 2 has its own");
        limit.forget_idle();
        assert_eq!(limit.len(), 2, "both are in use");
        clock.advance(Duration::from_millis(3));
        limit.forget_idle();
        assert_eq!(limit.len(), 0, "both allowances are whole again");
    }
}
