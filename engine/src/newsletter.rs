//! The newsletter: subscribers of a site (double opt-in: `pending` until
//! the mailed link is opened, then `confirmed`, until they `unsubscribe`)
//! and campaigns an owner or admin writes and sends to the confirmed ones.

use crate::{CampaignId, SiteId, StaffId, SubscriberId, TenantId, Timestamp};
use serde::{Deserialize, Serialize};

/// Where an address is on the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriberStatus {
    Pending,
    Confirmed,
    Unsubscribed,
}

impl SubscriberStatus {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "confirmed" => Self::Confirmed,
            "unsubscribed" => Self::Unsubscribed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Unsubscribed => "unsubscribed",
        }
    }
}

/// One change of a subscriber's status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubscriberEvent {
    pub at: Timestamp,
    pub status: SubscriberStatus,
    /// `form`, `link`, `one_click`, …
    pub via: String,
}

/// An address on a site's list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubscriberRecord {
    pub id: SubscriberId,
    pub tenant_id: TenantId,
    pub site_id: SiteId,
    /// Lower-cased.
    pub email: String,
    pub name: String,
    pub status: SubscriberStatus,
    pub history: Vec<SubscriberEvent>,
    /// When the last confirmation mail was queued.
    pub confirm_sent_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl SubscriberRecord {
    /// Moves to `status` (recorded in the history); `false` when it
    /// already was there.
    pub fn set(&mut self, status: SubscriberStatus, via: &str) -> bool {
        if self.status == status {
            return false;
        }
        self.status = status;
        self.history.push(SubscriberEvent {
            at: Timestamp::now(),
            status,
            via: via.into(),
        });
        true
    }
}

/// What a sign-up should do with the address's record (if any).
#[derive(Debug, PartialEq, Eq)]
pub enum SignUp {
    /// A new address: store it pending and mail the confirmation link.
    New,
    /// Pending or unsubscribed: (again) pending, and mail the link, unless
    /// one went out within the resend window.
    Mail,
    /// Nothing to do (confirmed, or a link was mailed moments ago).
    Nothing,
}

/// The sign-up rule: repeating a sign-up changes nothing and mails at most
/// once per `resend_after_ms`; a confirmed address stays as it is.
pub fn sign_up(
    existing: Option<&SubscriberRecord>,
    now: Timestamp,
    resend_after_ms: u64,
) -> SignUp {
    match existing {
        None => SignUp::New,
        Some(s) if s.status == SubscriberStatus::Confirmed => SignUp::Nothing,
        Some(s)
            if s.status == SubscriberStatus::Pending
                && s.confirm_sent_at
                    .is_some_and(|t| now.millis() < t.millis() + resend_after_ms) =>
        {
            SignUp::Nothing
        }
        Some(_) => SignUp::Mail,
    }
}

/// A campaign's progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    Sending,
    Sent,
}

/// A newsletter written by staff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignRecord {
    pub id: CampaignId,
    pub tenant_id: TenantId,
    /// Only this site's subscribers; `None`: every site's.
    pub site_id: Option<SiteId>,
    pub subject: String,
    /// Markdown.
    pub body: String,
    pub status: CampaignStatus,
    pub created_by: StaffId,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    /// Mails queued so far.
    pub queued: u32,
    /// The last subscriber mailed (subscribers are walked in id order, so a
    /// restart carries on after it).
    pub cursor: Option<SubscriberId>,
}

/// Whether a campaign may keep `url` as a link or image target: web
/// (`http`, `https`), mail (`mailto`) and relative ones only. Anything with
/// another scheme (`javascript:`, `data:`, `vbscript:`, …) would run or
/// smuggle content in a reader's mail client or the preview. Browsers drop
/// whitespace and control characters inside a scheme, so they are dropped
/// here too before it is read.
pub fn safe_link_target(url: &str) -> bool {
    let squeezed: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    // A scheme is what comes before the first `:`, when no `/`, `?` or `#`
    // comes first (then the colon is inside a relative path or query).
    let Some(colon) = squeezed.find(':') else {
        return true;
    };
    let head = &squeezed[..colon];
    if head.contains(['/', '?', '#']) {
        return true;
    }
    let scheme = head.to_ascii_lowercase();
    matches!(scheme.as_str(), "http" | "https" | "mailto")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(status: SubscriberStatus, sent: Option<u64>) -> SubscriberRecord {
        SubscriberRecord {
            id: SubscriberId::new(),
            tenant_id: TenantId::new(),
            site_id: SiteId::new(),
            email: "a@b.test".into(),
            name: String::new(),
            status,
            history: Vec::new(),
            confirm_sent_at: sent.map(Timestamp),
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn signing_up_twice_changes_nothing_and_mails_once() {
        let now = Timestamp(10_000_000);
        assert_eq!(sign_up(None, now, 3_600_000), SignUp::New);
        let p = sub(SubscriberStatus::Pending, Some(now.0 - 1000));
        assert_eq!(sign_up(Some(&p), now, 3_600_000), SignUp::Nothing);
        let old = sub(SubscriberStatus::Pending, Some(now.0 - 4_000_000));
        assert_eq!(sign_up(Some(&old), now, 3_600_000), SignUp::Mail);
        let c = sub(SubscriberStatus::Confirmed, None);
        assert_eq!(sign_up(Some(&c), now, 3_600_000), SignUp::Nothing);
        let u = sub(SubscriberStatus::Unsubscribed, Some(now.0 - 1000));
        assert_eq!(sign_up(Some(&u), now, 3_600_000), SignUp::Mail);
    }

    #[test]
    fn status_changes_are_kept_in_the_history() {
        let mut s = sub(SubscriberStatus::Pending, None);
        assert!(s.set(SubscriberStatus::Confirmed, "link"));
        assert!(!s.set(SubscriberStatus::Confirmed, "link"));
        assert!(s.set(SubscriberStatus::Unsubscribed, "one_click"));
        let h: Vec<_> = s
            .history
            .iter()
            .map(|e| (e.status, e.via.as_str()))
            .collect();
        assert_eq!(
            h,
            [
                (SubscriberStatus::Confirmed, "link"),
                (SubscriberStatus::Unsubscribed, "one_click")
            ]
        );
    }

    #[test]
    fn only_web_mail_and_relative_link_targets_are_kept() {
        for ok in [
            "https://acme.test/a?b=c:d",
            "http://acme.test",
            "HTTPS://acme.test",
            "mailto:desk@acme.test",
            "/pricing",
            "pricing#top:1",
            "./a:b",
            "?q=x:y",
            "#section",
            "",
        ] {
            assert!(safe_link_target(ok), "{ok} should be kept");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "java\u{0}script:alert(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
        ] {
            assert!(!safe_link_target(bad), "{bad:?} should be dropped");
        }
    }
}
