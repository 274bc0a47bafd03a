//! The rules for mailing a visitor their conversation. A transcript is
//! mail to an address typed into a public form, so without rules it is a
//! relay: anyone with a site key could send long mails to strangers. So a
//! transcript goes only to an address the visitor proved (they followed a
//! confirmation link mailed there), a conversation asks at most a few
//! times a day, and the mail carries only the last part of a long
//! conversation ([`window`]).
//!
//! [`TranscriptLog`] is kept per conversation; these are its pure rules,
//! the application layer reads, changes and writes it under the tenant's
//! lock.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The window the per-day count looks back over.
pub const DAY: Duration = Duration::from_secs(86_400);

/// A conversation's transcript requests and proven addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLog {
    /// Addresses (lower case) that followed a confirmation link of this
    /// conversation: mail goes to them without asking again.
    pub proven: Vec<String>,
    /// When each request that mailed something was accepted (the last day's).
    pub requests: Vec<Timestamp>,
    /// The version the next confirmation link carries; a link works once,
    /// while its version is not in `spent`.
    pub next_link: u32,
    /// Versions of confirmation links already followed.
    pub spent: Vec<u32>,
}

/// What a transcript request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// The address is proven: mail the transcript.
    Send,
    /// Mail a confirmation link first (with this link version).
    Confirm(u32),
}

/// Why a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `per_day` requests in the last day already.
    TooMany { retry_after: Duration },
}

impl TranscriptLog {
    /// Whether `email` was proven for this conversation.
    pub fn is_proven(&self, email: &str) -> bool {
        self.proven.iter().any(|p| p.eq_ignore_ascii_case(email))
    }

    /// Admits a request at `now` for `email`, at most `per_day` a day
    /// (counting confirmation mails too: each is mail to the address).
    pub fn admit(&mut self, now: Timestamp, email: &str, per_day: u32) -> Result<Admit, Refused> {
        let since = Timestamp(now.millis().saturating_sub(DAY.as_millis() as u64));
        self.requests.retain(|t| *t > since);
        if self.requests.len() >= per_day as usize {
            let oldest = self.requests.iter().min().copied().unwrap_or(now);
            let free_at = oldest.after(DAY).millis();
            let wait = Duration::from_millis(free_at.saturating_sub(now.millis()));
            return Err(Refused::TooMany {
                retry_after: wait.max(Duration::from_secs(1)),
            });
        }
        self.requests.push(now);
        if self.is_proven(email) {
            return Ok(Admit::Send);
        }
        let v = self.next_link;
        self.next_link = self.next_link.wrapping_add(1);
        Ok(Admit::Confirm(v))
    }

    /// Follows confirmation link `version` sent to `email`: the address is
    /// proven from now on. False when the link was followed before (or was
    /// never issued): nothing changes.
    pub fn spend(&mut self, version: u32, email: &str) -> bool {
        if version >= self.next_link || self.spent.contains(&version) {
            return false;
        }
        self.spent.push(version);
        if !self.is_proven(email) {
            self.proven.push(email.to_ascii_lowercase());
        }
        true
    }
}

/// Which of a conversation's messages a transcript carries: the last
/// `max_messages` whose bodies fit in `max_bytes` together (at least the
/// very last one). Returns the index of the first one kept; every message
/// before it is left out (and the mail links to the rest instead).
pub fn window(sizes: &[usize], max_messages: usize, max_bytes: usize) -> usize {
    let mut bytes = 0usize;
    let mut first = sizes.len();
    for (i, s) in sizes.iter().enumerate().rev() {
        let kept = sizes.len() - i - 1;
        if kept >= max_messages.max(1) || (kept > 0 && bytes + s > max_bytes) {
            break;
        }
        bytes += s;
        first = i;
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600_000;

    #[test]
    fn an_unproven_address_is_confirmed_first_then_sent_to_directly() {
        let mut l = TranscriptLog::default();
        let now = Timestamp(100 * H);
        assert_eq!(l.admit(now, "vic@v.test", 5), Ok(Admit::Confirm(0)));
        assert!(!l.is_proven("vic@v.test"));
        assert!(l.spend(0, "vic@v.test"));
        assert!(!l.spend(0, "vic@v.test"), "a link works once");
        assert!(!l.spend(7, "vic@v.test"), "a link never issued");
        assert!(l.is_proven("VIC@v.test"));
        assert_eq!(l.admit(now, "Vic@V.test", 5), Ok(Admit::Send));
        assert_eq!(l.admit(now, "other@x.test", 5), Ok(Admit::Confirm(1)));
    }

    #[test]
    fn at_most_per_day_requests_in_any_day() {
        let mut l = TranscriptLog::default();
        let t0 = Timestamp(100 * H);
        assert!(l.admit(t0, "a@x.test", 2).is_ok());
        assert!(l.admit(Timestamp(101 * H), "a@x.test", 2).is_ok());
        let Err(Refused::TooMany { retry_after }) = l.admit(Timestamp(102 * H), "a@x.test", 2)
        else {
            panic!("a third request in a day is refused");
        };
        assert_eq!(retry_after, Duration::from_millis(22 * H));
        assert_eq!(l.requests.len(), 2, "a refusal is not counted");
        assert!(
            l.admit(Timestamp(124 * H + 1), "a@x.test", 2).is_ok(),
            "a day after the first, one more"
        );
    }

    #[test]
    fn the_window_keeps_the_last_messages_that_fit() {
        assert_eq!(window(&[10; 5], 200, 1000), 0, "all fit");
        assert_eq!(window(&[10; 500], 200, 1_000_000), 300, "the last 200");
        assert_eq!(window(&[100; 10], 200, 350), 7, "the last 350 bytes");
        assert_eq!(window(&[10, 10, 5000], 200, 100), 2, "the last one alone");
        assert_eq!(window(&[], 200, 100), 0);
    }
}
