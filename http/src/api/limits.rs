//! Request budgets (governor's keyed GCRA limiters): sign-in attempts per
//! IP address and per account, API requests, public form posts, visitor
//! sockets and new visitor identities per IP address (an IPv6 client's
//! whole /64 counts as one address). Failed sign-ins are also counted per
//! account across every address ([`super::lockout`]). Over budget is a 429
//! with `Retry-After` (a new identity over budget: close 4429).

use super::error::ApiError;
use super::lockout::{LockKey, Lockout, Policy};
use crate::config::Limits;
use crate::proxies::budget_key;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use parley_engine::SiteId;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;

/// The instance's limiters.
pub struct Limiters {
    login_ip: DefaultKeyedRateLimiter<IpAddr>,
    login_account: DefaultKeyedRateLimiter<String>,
    api_ip: DefaultKeyedRateLimiter<IpAddr>,
    forms_ip: DefaultKeyedRateLimiter<IpAddr>,
    forms_site: DefaultKeyedRateLimiter<SiteId>,
    visitor_connects: DefaultKeyedRateLimiter<IpAddr>,
    new_visitors: DefaultKeyedRateLimiter<IpAddr>,
    failures: Lockout,
    clock: DefaultClock,
}

/// A sign-in under way: counted as a failure until
/// [`Limiters::signed_in`] takes it back.
#[must_use]
pub struct Attempt(LockKey);

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl Limiters {
    /// Limiters with the configured budgets.
    pub fn new(l: &Limits) -> Self {
        Self {
            login_ip: DefaultKeyedRateLimiter::keyed(Quota::per_minute(nz(
                l.login_per_ip_per_minute
            ))),
            login_account: DefaultKeyedRateLimiter::keyed(Quota::per_minute(nz(
                l.login_per_account_per_minute
            ))),
            api_ip: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(nz(l.api_per_ip_per_second)).allow_burst(nz(l.api_burst)),
            ),
            forms_ip: DefaultKeyedRateLimiter::keyed(Quota::per_minute(nz(
                l.forms_per_ip_per_minute
            ))),
            forms_site: DefaultKeyedRateLimiter::keyed(Quota::per_minute(nz(
                l.forms_per_site_per_minute
            ))),
            visitor_connects: DefaultKeyedRateLimiter::keyed(Quota::per_minute(nz(
                l.visitor_connects_per_ip_per_minute
            ))),
            new_visitors: DefaultKeyedRateLimiter::keyed(Quota::per_minute(nz(
                l.new_visitors_per_ip_per_minute
            ))),
            failures: Lockout::new(Policy {
                free: l.login_free_failures.max(1),
                max_delay: std::time::Duration::from_secs(l.login_max_delay_secs.max(1)),
                per_hour: l.login_failures_per_account_per_hour.max(1),
            }),
            clock: DefaultClock::default(),
        }
    }

    fn check<K: Hash + Eq + Clone>(
        &self,
        lim: &DefaultKeyedRateLimiter<K>,
        key: &K,
        what: &str,
    ) -> Result<(), ApiError> {
        lim.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::too_many(wait.as_secs_f64().ceil() as u64, what)
        })
    }

    /// One sign-up, reset or password-change attempt from `ip` for
    /// `account`. The account's budget here is kept per address.
    pub fn login(&self, ip: IpAddr, account: &str) -> Result<(), ApiError> {
        let ip = budget_key(ip);
        self.check(&self.login_ip, &ip, "sign-in attempts from your address")?;
        self.check(
            &self.login_account,
            &format!("{}|{ip}", account.to_ascii_lowercase()),
            "sign-in attempts for this account",
        )
    }

    /// One password sign-in from `ip` for `account` (lowercased). A browser
    /// with a genuine device cookie for the account (`device`) is counted
    /// under that alone; any other attempt spends the address's budgets and
    /// the account's budget of failures across all addresses.
    pub fn sign_in(
        &self,
        ip: IpAddr,
        account: &str,
        device: Option<u128>,
    ) -> Result<Attempt, ApiError> {
        let key = match device {
            Some(d) => LockKey::Device(d),
            None => {
                self.login(ip, account)?;
                LockKey::Account(account.to_owned())
            }
        };
        self.failures
            .begin(&key, std::time::Instant::now())
            .map_err(|wait| {
                metrics::counter!("parley_signin_delayed_total").increment(1);
                ApiError::too_many(
                    wait.as_secs_f64().ceil().max(1.0) as u64,
                    "failed sign-ins for this account",
                )
            })?;
        Ok(Attempt(key))
    }

    /// The attempt had the right password: its failures are forgotten.
    pub fn signed_in(&self, attempt: Attempt) {
        self.failures.succeeded(&attempt.0);
    }

    /// One API request from `ip`.
    pub fn api(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.check(&self.api_ip, &budget_key(ip), "requests from your address")
    }

    /// One public form post from `ip` to `site`.
    pub fn form(&self, ip: IpAddr, site: SiteId) -> Result<(), ApiError> {
        let ip = budget_key(ip);
        self.check(&self.forms_ip, &ip, "form posts from your address")?;
        self.check(&self.forms_site, &site, "form posts to this site")
    }

    /// One visitor socket opened from `ip`.
    pub fn visitor_connect(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.check(
            &self.visitor_connects,
            &budget_key(ip),
            "visitor connections from your address",
        )
    }

    /// One new visitor identity started from `ip`.
    pub fn new_visitor(&self, ip: IpAddr) -> bool {
        self.new_visitors.check_key(&budget_key(ip)).is_ok()
    }

    /// Forgets keys whose budget is full again (call now and then).
    pub fn prune(&self) {
        for l in [
            &self.login_ip,
            &self.api_ip,
            &self.forms_ip,
            &self.visitor_connects,
            &self.new_visitors,
        ] {
            l.retain_recent();
            l.shrink_to_fit();
        }
        self.forms_site.retain_recent();
        self.forms_site.shrink_to_fit();
        self.login_account.retain_recent();
        self.login_account.shrink_to_fit();
        self.failures.prune(std::time::Instant::now());
    }
}
