//! Failed sign-ins per account, from every address together (OWASP's
//! "account lockout", without the lockout): the first few failures are
//! free, then each attempt waits 1 s, 2 s, 4 s … up to a ceiling, and an
//! account takes at most so many failures an hour. Guessing from a
//! thousand addresses is as slow as from one.
//!
//! What keeps the real owner in is the device cookie
//! (`auth::Tokens::issue_device`): a browser that signed in to the account
//! before is counted under its own key, so the attacker's failures never
//! delay it. An attempt is counted as a failure *before* the password is
//! checked (and forgotten on success), so a burst of concurrent guesses
//! cannot all slip past the check at once.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Whose failures an attempt counts under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LockKey {
    /// An account (its email, lowercased), from a browser it doesn't know.
    Account(String),
    /// A browser holding a genuine device cookie for the account.
    Device(u128),
}

/// The policy: `limits.login_free_failures`, `login_max_delay_secs`,
/// `login_failures_per_account_per_hour`.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub free: u32,
    pub max_delay: Duration,
    pub per_hour: u32,
}

#[derive(Default)]
struct Entry {
    /// Failures in the last hour, oldest first.
    failures: VecDeque<Instant>,
    not_before: Option<Instant>,
}

const HOUR: Duration = Duration::from_secs(3600);

/// The failures per key.
pub struct Lockout {
    policy: Policy,
    entries: Mutex<HashMap<LockKey, Entry>>,
}

impl Lockout {
    /// An empty table with `policy`.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<LockKey, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts an attempt at `now`: refused with how long to wait, or counted
    /// as a failure until [`Lockout::succeeded`] takes it back.
    pub fn begin(&self, key: &LockKey, now: Instant) -> Result<(), Duration> {
        let mut entries = self.entries();
        let e = entries.entry(key.clone()).or_default();
        while e
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= HOUR)
        {
            e.failures.pop_front();
        }
        if let Some(wait) = e.not_before.and_then(|t| t.checked_duration_since(now)) {
            if !wait.is_zero() {
                return Err(wait);
            }
        }
        if e.failures.len() >= self.policy.per_hour as usize {
            let oldest = e.failures.front().copied().unwrap_or(now);
            return Err((oldest + HOUR).saturating_duration_since(now));
        }
        e.failures.push_back(now);
        let n = e.failures.len() as u32;
        if n >= self.policy.free {
            let doublings = (n - self.policy.free).min(30);
            let delay = Duration::from_secs(1u64 << doublings).min(self.policy.max_delay);
            e.not_before = Some(now + delay);
        }
        Ok(())
    }

    /// The attempt under `key` was the right password: its failures are
    /// forgotten.
    pub fn succeeded(&self, key: &LockKey) {
        self.entries().remove(key);
    }

    /// Forgets keys with no failure in the last hour and no wait left.
    pub fn prune(&self, now: Instant) {
        self.entries().retain(|_, e| {
            e.not_before.is_some_and(|t| t > now)
                || e.failures
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < HOUR)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout(free: u32, per_hour: u32) -> Lockout {
        Lockout::new(Policy {
            free,
            max_delay: Duration::from_secs(60),
            per_hour,
        })
    }

    #[test]
    fn failures_past_the_free_ones_wait_twice_as_long_each_time() {
        let l = lockout(3, 100);
        let k = LockKey::Account("a@x.test".into());
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(l.begin(&k, t0), Ok(()));
        }
        assert_eq!(l.begin(&k, t0), Ok(())); // the third: now 1 s
        assert_eq!(l.begin(&k, t0), Err(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(l.begin(&k, t1), Ok(())); // the fourth: now 2 s
        assert_eq!(
            l.begin(&k, t1 + Duration::from_millis(500)),
            Err(Duration::from_millis(1500))
        );
        let t2 = t1 + Duration::from_secs(2);
        assert_eq!(l.begin(&k, t2), Ok(())); // 4 s
        assert_eq!(l.begin(&k, t2), Err(Duration::from_secs(4)));
        // Another key is untouched; a success forgets.
        let device = LockKey::Device(7);
        assert_eq!(l.begin(&device, t2), Ok(()));
        l.succeeded(&k);
        assert_eq!(l.begin(&k, t2), Ok(()));
    }

    #[test]
    fn the_delay_stops_growing_and_the_hour_has_a_ceiling() {
        let l = lockout(1, 10);
        let k = LockKey::Account("a@x.test".into());
        let mut now = Instant::now();
        for _ in 0..10 {
            assert_eq!(l.begin(&k, now), Ok(()));
            now += Duration::from_secs(61);
        }
        // Ten failures within the hour: the next waits for the oldest to age.
        let first = now - Duration::from_secs(61 * 10);
        assert_eq!(
            l.begin(&k, now),
            Err(first + HOUR - now),
            "the eleventh failure in an hour waits"
        );
        assert_eq!(l.begin(&k, first + HOUR), Ok(()));
    }

    #[test]
    fn prune_keeps_only_recent_keys() {
        let l = lockout(1, 10);
        let t0 = Instant::now();
        l.begin(&LockKey::Device(1), t0).unwrap();
        l.prune(t0 + HOUR + Duration::from_secs(1));
        assert!(l.entries().is_empty());
    }
}
