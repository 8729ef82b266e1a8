//! Passwords, session tokens and login throttling.
//!
//! Passwords are hashed with argon2id on the blocking pool (hashing is deliberately slow
//! and must not stall the async runtime). Session tokens are 32 random bytes; the store
//! keeps only their SHA-256, so a stolen database does not yield working tokens.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use chinwag_proto::{validate, ApiError};

/// Hashes a password with argon2id and a random salt (PHC string format), once `limit` has
/// a free place: hashing is slow on purpose, so only so many may run at once.
pub async fn hash_password(limit: &Semaphore, password: String) -> Result<String, ApiError> {
    let _permit = limit.acquire().await.map_err(|_| ApiError::internal())?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| {
                tracing::error!("password hashing failed: {e}");
                ApiError::internal()
            })
    })
    .await
    .map_err(|_| ApiError::internal())?
}

/// Checks a password against a stored hash. With no hash (unknown user) it still spends the
/// same effort against a dummy hash, so response time does not reveal which usernames exist.
/// Waits for a place in `limit` like [`hash_password`].
pub async fn verify_password(limit: &Semaphore, password: String, hash: Option<String>) -> bool {
    let Ok(_permit) = limit.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            tracing::error!("a stored password hash cannot be parsed");
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && known
    })
    .await
    .unwrap_or(false)
}

/// argon2id of a random password nobody knows, with the default parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1d0ZpQm9YvO3hGk0sFu3f8VHk1Yl5mvDXM4d6mF4l3Q";

/// A fresh session token: 32 random bytes, base64url without padding (43 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Counts failed logins per username and per address within a window, and refuses further
/// attempts once a key has used up its allowance, until the window ends.
///
/// Hand-written rather than on `governor` like the hub's rate limits: it counts *failures*
/// only and forgets a username's on a successful sign-in, and it must be asked before an
/// attempt without counting it. A GCRA limiter counts every check, so people who sign in
/// often would lock themselves out. Expired entries are swept once it tracks 10,000 keys.
pub struct LoginThrottle {
    per_user: Limiter<String>,
    per_addr: Limiter<IpAddr>,
}

impl LoginThrottle {
    pub fn new(per_user: u32, per_addr: u32, window: Duration) -> Self {
        LoginThrottle {
            per_user: Limiter::new(per_user, window),
            per_addr: Limiter::new(per_addr, window),
        }
    }

    /// `Err` with the time to wait when either key is locked out.
    pub fn check(&self, username: &str, addr: Option<IpAddr>) -> Result<(), ApiError> {
        let user_wait = self.per_user.blocked_for(&validate::username_key(username));
        let addr_wait = addr.and_then(|a| self.per_addr.blocked_for(&a));
        locked_out(user_wait.max(addr_wait), "failed sign-in attempts")
    }

    pub fn failed(&self, username: &str, addr: Option<IpAddr>) {
        self.per_user.record(validate::username_key(username));
        if let Some(addr) = addr {
            self.per_addr.record(addr);
        }
    }

    pub fn succeeded(&self, username: &str) {
        self.per_user.clear(&validate::username_key(username));
    }
}

/// Wrong join codes, per address and for the whole hub, within the login window: enough to
/// mistype, far too few to guess a code (issue 21: a 6-digit code fell in 0.4 s). Refused
/// like a locked login: `429 rate_limited` with `Retry-After`.
pub struct CodeThrottle {
    per_addr: Limiter<IpAddr>,
    total: Limiter<()>,
}

impl CodeThrottle {
    pub fn new(per_addr: u32, total: u32, window: Duration) -> Self {
        CodeThrottle {
            per_addr: Limiter::new(per_addr, window),
            total: Limiter::new(total, window),
        }
    }

    /// `Err` with the time to wait when this address, or the hub, used up its wrong codes.
    pub fn check(&self, addr: Option<IpAddr>) -> Result<(), ApiError> {
        let addr_wait = addr.and_then(|a| self.per_addr.blocked_for(&a));
        locked_out(
            addr_wait.max(self.total.blocked_for(&())),
            "wrong join codes",
        )
    }

    pub fn failed(&self, addr: Option<IpAddr>) {
        if let Some(addr) = addr {
            self.per_addr.record(addr);
        }
        self.total.record(());
    }
}

/// `rate_limited` for as long as the longest lockout lasts: "Too many `what`; try again in…".
fn locked_out(wait: Option<Duration>, what: &str) -> Result<(), ApiError> {
    match wait {
        None => Ok(()),
        Some(wait) => Err(ApiError::rate_limited(
            format!(
                "Too many {what}; try again in {} seconds.",
                wait.as_secs().max(1)
            ),
            wait.as_millis() as u64,
        )),
    }
}

struct Limiter<K> {
    allowance: u32,
    window: Duration,
    // std Mutex: held for a map lookup only, never across an await.
    entries: Mutex<HashMap<K, (u32, Instant)>>,
}

/// Above this many tracked keys, expired ones are swept on insert.
const SWEEP_AT: usize = 10_000;

impl<K: Hash + Eq> Limiter<K> {
    fn new(allowance: u32, window: Duration) -> Self {
        Limiter {
            allowance: allowance.max(1),
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn blocked_for(&self, key: &K) -> Option<Duration> {
        let entries = self.entries.lock().ok()?;
        let (failures, since) = entries.get(key)?;
        let elapsed = since.elapsed();
        (*failures >= self.allowance && elapsed < self.window).then(|| self.window - elapsed)
    }

    fn record(&self, key: K) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= SWEEP_AT {
            let window = self.window;
            entries.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = entries.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    fn clear(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hashes_stable() {
        let a = new_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_token());
        assert_eq!(token_hash(&a), token_hash(&a));
    }

    #[tokio::test]
    async fn passwords_verify_and_dummy_never_matches() {
        let limit = Semaphore::new(1);
        let hash = hash_password(&limit, "correct horse".into())
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&limit, "correct horse".into(), Some(hash.clone())).await);
        assert!(!verify_password(&limit, "wrong horse".into(), Some(hash)).await);
        assert!(!verify_password(&limit, "anything".into(), None).await);
        assert!(PasswordHash::new(DUMMY_HASH).is_ok(), "dummy hash parses");
    }

    #[test]
    fn throttle_locks_a_username_after_its_allowance() {
        let t = LoginThrottle::new(3, 100, Duration::from_secs(60));
        let addr: IpAddr = "127.0.0.1".parse().expect("ip");
        for _ in 0..3 {
            assert!(t.check("Alice", Some(addr)).is_ok());
            t.failed("Alice", Some(addr));
        }
        let err = t.check("alice", None).expect_err("locked");
        assert_eq!(err.code, chinwag_proto::ErrorCode::RateLimited);
        assert!(t.check("bob", Some(addr)).is_ok(), "other users unaffected");
        t.succeeded("alice");
        assert!(t.check("alice", None).is_ok());
    }

    #[test]
    fn throttle_locks_an_address() {
        let t = LoginThrottle::new(100, 2, Duration::from_secs(60));
        let addr: IpAddr = "10.0.0.1".parse().expect("ip");
        t.failed("a", Some(addr));
        t.failed("b", Some(addr));
        assert!(t.check("c", Some(addr)).is_err());
        assert!(t.check("c", Some("10.0.0.2".parse().expect("ip"))).is_ok());
    }
}
