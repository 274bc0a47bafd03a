//! The mail outbox's records and rules: what a queued mail is, how its
//! delivery attempts move it from `pending` to `sent` or `failed`, and how
//! long to wait before the next attempt (exponential backoff with jitter).
//!
//! A mail is written to the outbox in the same batch as the change that
//! caused it; the mail deliverer (in `actors`) sends it and records each
//! attempt here. The `Message-ID` is fixed when the mail is queued, so every
//! retry — and a resend after a crash — carries the same one.

use crate::ids::{MailId, TenantId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where a mail is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    /// Waiting for its first or next attempt.
    Pending,
    /// Accepted by the SMTP server.
    Sent,
    /// Dead letter: every attempt failed.
    Failed,
}

impl MailStatus {
    /// The contract's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }
}

/// One delivery attempt and what the SMTP server (or the network) said.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailAttempt {
    pub at: Timestamp,
    pub ok: bool,
    /// The server's reply (`250 2.0.0 Ok`) or the error.
    pub reply: String,
}

/// A file sent with a mail (a calendar invitation, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailAttachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A mail in a tenant's outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailRecord {
    pub id: MailId,
    pub tenant_id: TenantId,
    pub to: String,
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// The HTML body (rendered from the same template, variables escaped).
    pub html: String,
    /// What the mail is (`invitation`, `password_reset`, `transcript`, …).
    pub kind: String,
    /// `<id@host>`, fixed at queueing so every attempt carries the same one.
    pub message_id: String,
    pub status: MailStatus,
    pub attempts: Vec<MailAttempt>,
    /// Failures before this index of `attempts` were before a manual retry
    /// and no longer count towards `max_attempts`.
    pub round_from: u32,
    /// When the deliverer should try next (meaningful while pending).
    pub next_attempt_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    /// Extra headers (`List-Unsubscribe`, …).
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<MailAttachment>,
    pub created_at: Timestamp,
    /// A body stored once for many recipients (a campaign): `body` and
    /// `html` are then empty and this says where the body is and what
    /// differs for this recipient.
    pub shared: Option<SharedBody>,
}

/// Where a mail's body is when many mails share it, and this recipient's
/// values for its markers (each marker is replaced in the text as is and in
/// the HTML escaped).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedBody {
    /// The id the body is stored under (the tenant's).
    pub id: MailId,
    /// `(marker, value)` pairs.
    pub vars: Vec<(String, String)>,
}

/// A body stored once and shared by many mails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailBody {
    pub text: String,
    pub html: String,
}

impl MailBody {
    /// The body for one recipient: `vars` put in place of their markers.
    pub fn fill(&self, vars: &[(String, String)]) -> (String, String) {
        let (mut text, mut html) = (self.text.clone(), self.html.clone());
        for (k, v) in vars {
            text = text.replace(k, v);
            html = html.replace(k, &escape_html(v));
        }
        (text, html)
    }
}

/// `s` escaped for HTML text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The outbox layout before shared bodies: still read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailRecordV2 {
    pub id: MailId,
    pub tenant_id: TenantId,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub html: String,
    pub kind: String,
    pub message_id: String,
    pub status: MailStatus,
    pub attempts: Vec<MailAttempt>,
    pub round_from: u32,
    pub next_attempt_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<MailAttachment>,
    pub created_at: Timestamp,
}

impl From<MailRecordV2> for MailRecord {
    fn from(m: MailRecordV2) -> Self {
        MailRecord {
            id: m.id,
            tenant_id: m.tenant_id,
            to: m.to,
            subject: m.subject,
            body: m.body,
            html: m.html,
            kind: m.kind,
            message_id: m.message_id,
            status: m.status,
            attempts: m.attempts,
            round_from: m.round_from,
            next_attempt_at: m.next_attempt_at,
            sent_at: m.sent_at,
            headers: m.headers,
            attachments: m.attachments,
            created_at: m.created_at,
            shared: None,
        }
    }
}

/// The first outbox layout (before delivery existed): still read, so the
/// outbox of a data dir from an older build lists its mail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailRecordV1 {
    pub id: MailId,
    pub tenant_id: TenantId,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub created_at: Timestamp,
}

impl From<MailRecordV1> for MailRecord {
    fn from(m: MailRecordV1) -> Self {
        MailRecord {
            html: String::new(),
            kind: "legacy".into(),
            message_id: message_id(m.id, "parley.invalid"),
            status: MailStatus::Pending,
            attempts: Vec::new(),
            round_from: 0,
            next_attempt_at: m.created_at,
            sent_at: None,
            headers: Vec::new(),
            attachments: Vec::new(),
            id: m.id,
            tenant_id: m.tenant_id,
            to: m.to,
            subject: m.subject,
            body: m.body,
            created_at: m.created_at,
            shared: None,
        }
    }
}

/// The `Message-ID` of mail `id` sent from `host`.
pub fn message_id(id: MailId, host: &str) -> String {
    format!("<{id}@{host}>")
}

/// How the deliverer retries.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts before the mail is dead-lettered.
    pub max_attempts: u32,
    /// The wait after the first failure; each further one doubles it.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub cap: Duration,
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts (≥ 1): `base · 2^(failures-1)`,
    /// capped, then scaled by `jitter` in [0, 1) to between 75% and 125%, so
    /// mail that failed together does not retry together.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        let raw = self.base.saturating_mul(1u32 << exp).min(self.cap);
        raw.mul_f64(0.75 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

impl MailRecord {
    /// Records an attempt made at `now` and moves the mail on: `sent` on
    /// success; on failure `pending` with the next attempt scheduled, or
    /// `failed` once `max_attempts` attempts have failed.
    pub fn record_attempt(
        &mut self,
        now: Timestamp,
        result: Result<String, String>,
        policy: &RetryPolicy,
        jitter: f64,
    ) {
        let ok = result.is_ok();
        let reply = match result {
            Ok(r) | Err(r) => r,
        };
        self.attempts.push(MailAttempt { at: now, ok, reply });
        if ok {
            self.status = MailStatus::Sent;
            self.sent_at = Some(now);
            return;
        }
        let failures = self.attempts[(self.round_from as usize).min(self.attempts.len())..]
            .iter()
            .filter(|a| !a.ok)
            .count() as u32;
        if failures >= policy.max_attempts.max(1) {
            self.status = MailStatus::Failed;
        } else {
            self.next_attempt_at = now.after(policy.delay(failures, jitter));
        }
    }

    /// The last attempt's error, if it failed.
    pub fn last_error(&self) -> Option<&str> {
        self.attempts
            .last()
            .filter(|a| !a.ok)
            .map(|a| a.reply.as_str())
    }

    /// Puts a dead-lettered mail back in the queue for one more round of
    /// attempts, due at `now`. False if the mail was not `failed`.
    pub fn retry(&mut self, now: Timestamp) -> bool {
        if self.status != MailStatus::Failed {
            return false;
        }
        self.status = MailStatus::Pending;
        self.next_attempt_at = now;
        // Earlier failures stay in the history but no longer count.
        self.round_from = self.attempts.len() as u32;
        true
    }
}

/// A visitor who left with an email while a conversation was open: when
/// staff answer and the visitor stays away, the replies go out by mail.
/// Kept in a global index ordered by when it is next looked at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplyWatch {
    pub tenant_id: TenantId,
    pub visitor_id: crate::ids::VisitorId,
    /// When the visitor's last tab closed.
    pub since: Timestamp,
    /// Replies up to this seq were mailed already.
    pub mailed_upto: u64,
    /// The watch ends then, replies or not.
    pub until: Timestamp,
}

/// The replies a visitor who left has missed: staff messages (never private
/// notes, never system lines) after what the visitor read and what was
/// mailed already.
pub fn missed_replies(
    log: &[crate::records::MessageRecord],
    visitor_read_seq: u64,
    mailed_upto: u64,
) -> Vec<&crate::records::MessageRecord> {
    let after = visitor_read_seq.max(mailed_upto);
    log.iter()
        .filter(|m| {
            m.seq > after && !m.private && m.from.kind == crate::records::ParticipantKind::Staff
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{MessageRecord, Participant, ParticipantKind};

    #[test]
    fn missed_replies_are_public_staff_messages_not_yet_read_or_mailed() {
        let msg = |seq, kind, private| MessageRecord {
            id: crate::ids::MessageId::new(),
            conversation_id: crate::ids::ConversationId::new(),
            seq,
            client_id: None,
            from: Participant {
                kind,
                id: None,
                name: Some("Olive".into()),
            },
            body: format!("m{seq}"),
            private,
            ts: Timestamp(seq),
        };
        let log = vec![
            msg(1, ParticipantKind::Visitor, false),
            msg(2, ParticipantKind::Staff, false),
            msg(3, ParticipantKind::Staff, true),
            msg(4, ParticipantKind::System, false),
            msg(5, ParticipantKind::Staff, false),
            msg(6, ParticipantKind::Staff, false),
        ];
        let seqs = |v: Vec<&MessageRecord>| v.iter().map(|m| m.seq).collect::<Vec<_>>();
        assert_eq!(seqs(missed_replies(&log, 0, 0)), vec![2, 5, 6]);
        assert_eq!(seqs(missed_replies(&log, 2, 0)), vec![5, 6], "read already");
        assert_eq!(seqs(missed_replies(&log, 2, 5)), vec![6], "mailed already");
        assert!(missed_replies(&log, 6, 0).is_empty());
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_secs(10),
            cap: Duration::from_secs(3600),
        }
    }

    fn mail() -> MailRecord {
        MailRecordV1 {
            id: MailId::new(),
            tenant_id: TenantId::new(),
            to: "a@b.test".into(),
            subject: "s".into(),
            body: "b".into(),
            created_at: Timestamp(1_000),
        }
        .into()
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let p = policy();
        assert_eq!(p.delay(1, 0.5), Duration::from_secs(10));
        assert_eq!(p.delay(2, 0.5), Duration::from_secs(20));
        assert_eq!(p.delay(4, 0.5), Duration::from_secs(80));
        assert_eq!(p.delay(30, 0.5), Duration::from_secs(3600));
        assert_eq!(p.delay(1, 0.0), Duration::from_millis(7_500));
        assert!(p.delay(1, 0.999) < Duration::from_millis(12_500));
    }

    #[test]
    fn failures_retry_then_dead_letter_and_success_is_final() {
        let p = policy();
        let mut m = mail();
        m.record_attempt(Timestamp(2_000), Err("421 busy".into()), &p, 0.5);
        assert_eq!(m.status, MailStatus::Pending);
        assert_eq!(m.next_attempt_at, Timestamp(12_000));
        assert_eq!(m.last_error(), Some("421 busy"));
        m.record_attempt(Timestamp(12_000), Err("connection refused".into()), &p, 0.5);
        assert_eq!(m.next_attempt_at, Timestamp(32_000));
        m.record_attempt(Timestamp(32_000), Err("connection refused".into()), &p, 0.5);
        assert_eq!(m.status, MailStatus::Failed);
        assert_eq!(m.attempts.len(), 3);

        assert!(m.retry(Timestamp(40_000)));
        assert_eq!(m.status, MailStatus::Pending);
        assert_eq!(m.next_attempt_at, Timestamp(40_000));
        m.record_attempt(Timestamp(40_000), Err("again".into()), &p, 0.5);
        assert_eq!(
            m.status,
            MailStatus::Pending,
            "a retried mail gets a fresh round"
        );
        m.record_attempt(Timestamp(50_000), Ok("250 ok".into()), &p, 0.5);
        assert_eq!(m.status, MailStatus::Sent);
        assert_eq!(m.sent_at, Some(Timestamp(50_000)));
        assert_eq!(m.last_error(), None);
        assert!(!m.retry(Timestamp(60_000)), "only failed mail is retried");
    }

    #[test]
    fn a_shared_body_is_filled_per_recipient_and_escaped_in_html() {
        let b = MailBody {
            text: "Hi\nLeave: @@u@@".into(),
            html: "<a href=\"@@u@@\">Leave</a>".into(),
        };
        let (t, h) = b.fill(&[("@@u@@".into(), "http://x/l/a?b=1&c=\"2\"".into())]);
        assert_eq!(t, "Hi\nLeave: http://x/l/a?b=1&c=\"2\"");
        assert_eq!(
            h,
            "<a href=\"http://x/l/a?b=1&amp;c=&quot;2&quot;\">Leave</a>"
        );
    }

    #[test]
    fn message_id_is_stable_for_a_mail() {
        let id = MailId::new();
        assert_eq!(message_id(id, "h.test"), message_id(id, "h.test"));
        assert!(message_id(id, "h.test").starts_with('<'));
    }
}
