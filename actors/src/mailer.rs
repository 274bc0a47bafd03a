//! Mail delivery: one attempt at one outbox mail over SMTP (lettre, rustls).
//!
//! Mail is written to the outbox in the same batch as the change that
//! caused it; [`deliver`] sends it and writes each attempt back (sent, or pending with the next attempt
//! scheduled with backoff and jitter, or failed after the last). A crash
//! between the SMTP server's "250" and that write sends the mail again
//! after restart, with the same `Message-ID`: delivery is at least once.
//!
//! The outbox drainer ([`crate::drain`]) decides which mail goes when, and
//! calls [`deliver`] for each, several at once.

use crate::Ctx;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use parley_engine::mail::{MailRecord, MailStatus, RetryPolicy};
use parley_engine::{MailId, TenantId, Timestamp};
use parley_storage::{keys, OutboxStore, WriteBatch};
use std::time::Duration;

/// The SMTP client.
pub type SmtpTransport = AsyncSmtpTransport<Tokio1Executor>;

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Where and how mail is sent.
pub struct MailerConfig {
    pub transport: SmtpTransport,
    pub from: Mailbox,
    pub policy: RetryPolicy,
}

/// Builds the SMTP client for `url`: `smtp://host:port` (plain, or STARTTLS
/// when the server offers it), `smtps://host:port` (TLS from the start),
/// credentials as `user:pass@`. The error is one sentence for the operator.
pub fn smtp_transport(url: &str) -> Result<SmtpTransport, String> {
    let bad = |why: &str| format!("mail.smtp_url {url:?} is not usable: {why}");
    let scheme_ok = url.starts_with("smtp://") || url.starts_with("smtps://");
    if !scheme_ok {
        return Err(bad("it must start with smtp:// or smtps://"));
    }
    let rest = url.split_once("://").map(|x| x.1).unwrap_or("");
    let host = rest
        .rsplit('@')
        .next()
        .unwrap_or("")
        .split(['/', '?', ':'])
        .next()
        .unwrap_or("");
    if host.is_empty() {
        return Err(bad("it names no host"));
    }
    // The contract's `smtp://` upgrades to TLS when the server offers it.
    let url = if url.starts_with("smtp://") && !url.contains("tls=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}tls=opportunistic")
    } else {
        url.to_string()
    };
    let b = SmtpTransport::from_url(&url).map_err(|e| bad(&e.to_string()))?;
    Ok(b.timeout(Some(SMTP_TIMEOUT)).build())
}

/// The lettre message for a stored mail with its `(text, html)` body.
fn build(from: &Mailbox, m: &MailRecord, body: &(String, String)) -> Result<Message, String> {
    let (text, html) = body;
    let to: Mailbox =
        m.to.parse()
            .map_err(|e| format!("bad recipient {:?}: {e}", m.to))?;
    let mut b = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(m.subject.clone())
        .message_id(Some(m.message_id.clone()));
    for (k, v) in &m.headers {
        let name = HeaderName::new_from_ascii(k.clone()).map_err(|e| e.to_string())?;
        b = b.raw_header(HeaderValue::new(name, v.clone()));
    }
    let msg = match (html.is_empty(), m.attachments.is_empty()) {
        (true, true) => b.singlepart(SinglePart::plain(text.clone())),
        (false, true) => b.multipart(MultiPart::alternative_plain_html(
            text.clone(),
            html.clone(),
        )),
        (html_empty, false) => {
            let mut mixed = if html_empty {
                MultiPart::mixed().singlepart(SinglePart::plain(text.clone()))
            } else {
                MultiPart::mixed().multipart(MultiPart::alternative_plain_html(
                    text.clone(),
                    html.clone(),
                ))
            };
            for a in &m.attachments {
                let ct = ContentType::parse(&a.content_type).map_err(|e| e.to_string())?;
                mixed =
                    mixed.singlepart(Attachment::new(a.filename.clone()).body(a.data.clone(), ct));
            }
            b.multipart(mixed)
        }
    };
    msg.map_err(|e| e.to_string())
}

/// One attempt at one mail, written back before it returns: `sent`, or
/// `pending` with the next attempt scheduled with backoff and jitter (an
/// SMTP server that times out is tried again later, behind other mail), or
/// `failed` after the last attempt.
pub async fn deliver(ctx: &Ctx, cfg: &MailerConfig, at: Timestamp, t: TenantId, id: MailId) {
    let store = &ctx.store;
    let rec = match store.mail(t, id) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, mail = %id, "reading a queued mail");
            None
        }
    };
    let mut batch = WriteBatch::new();
    let Some(old) = rec.filter(|m| m.status == MailStatus::Pending && m.next_attempt_at == at)
    else {
        // A stale index entry (the mail moved on, or is gone).
        batch.delete_global(keys::mail_due(at, t, id));
        let _ = ctx.writer.write(batch).await;
        return;
    };
    let mut new = old.clone();
    let result = match store.mail_body(&old).map_err(|e| e.to_string()) {
        Ok(body) => match build(&cfg.from, &old, &body) {
            Ok(msg) => match cfg.transport.send(msg).await {
                Ok(resp) => Ok(format!(
                    "{} {}",
                    resp.code(),
                    resp.message().collect::<Vec<_>>().join(" ")
                )),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => {
                // It will never build: no point retrying.
                new.status = MailStatus::Failed;
                Err(e)
            }
        },
        // Storage trouble: try again later.
        Err(e) => Err(e),
    };
    let now = Timestamp::now();
    match &result {
        Ok(_) => {
            metrics::counter!("parley_mail_sent_total").increment(1);
            tracing::info!(mail = %id, kind = %old.kind, "mail sent");
        }
        Err(e) => {
            metrics::counter!("parley_mail_attempts_failed_total").increment(1);
            tracing::warn!(mail = %id, kind = %old.kind, error = %e, "mail attempt failed");
        }
    }
    if new.status == MailStatus::Failed {
        let reply = result.err().unwrap_or_default();
        new.attempts.push(parley_engine::mail::MailAttempt {
            at: now,
            ok: false,
            reply,
        });
    } else {
        new.record_attempt(now, result, &cfg.policy, crate::drain::jitter());
    }
    store.update_mail(&mut batch, &old, &new);
    if let Err(e) = ctx.writer.write(batch).await {
        tracing::error!(error = %e, mail = %id, "recording a mail attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_are_checked_with_a_clear_reason() {
        assert!(smtp_transport("smtp://127.0.0.1:2525").is_ok());
        assert!(smtp_transport("smtps://user:pass@mail.example.com").is_ok());
        assert!(smtp_transport("smtp://u:p@mail.example.com:587?tls=required").is_ok());
        let e = smtp_transport("http://mail.example.com").unwrap_err();
        assert!(e.contains("smtp:// or smtps://"), "{e}");
        let e = smtp_transport("smtp://").unwrap_err();
        assert!(e.contains("no host"), "{e}");
    }
}
