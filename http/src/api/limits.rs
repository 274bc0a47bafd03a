//! Request budgets (governor's keyed GCRA limiters): sign-in attempts per
//! IP address and per account, API requests, public form posts, visitor
//! sockets and new visitor identities per IP address. Over budget is a 429
//! with `Retry-After` (a new identity over budget: close 4429).

use super::error::ApiError;
use crate::config::Limits;
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
    clock: DefaultClock,
}

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

    /// One sign-in (or sign-up, or reset) attempt from `ip` for `account`.
    /// The account's budget is kept per address: someone guessing from
    /// elsewhere spends their own budget, never the real owner's, and so
    /// cannot lock them out.
    pub fn login(&self, ip: IpAddr, account: &str) -> Result<(), ApiError> {
        self.check(&self.login_ip, &ip, "sign-in attempts from your address")?;
        self.check(
            &self.login_account,
            &format!("{}|{ip}", account.to_ascii_lowercase()),
            "sign-in attempts for this account",
        )
    }

    /// One API request from `ip`.
    pub fn api(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.check(&self.api_ip, &ip, "requests from your address")
    }

    /// One public form post from `ip` to `site`.
    pub fn form(&self, ip: IpAddr, site: SiteId) -> Result<(), ApiError> {
        self.check(&self.forms_ip, &ip, "form posts from your address")?;
        self.check(&self.forms_site, &site, "form posts to this site")
    }

    /// One visitor socket opened from `ip`.
    pub fn visitor_connect(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.check(
            &self.visitor_connects,
            &ip,
            "visitor connections from your address",
        )
    }

    /// One new visitor identity started from `ip`.
    pub fn new_visitor(&self, ip: IpAddr) -> bool {
        self.new_visitors.check_key(&ip).is_ok()
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
    }
}
