//! Mailing a visitor their conversation. The address comes from a public
//! form, so the rules of `parley_engine::transcript` apply: it goes only to
//! an address the visitor proved (a confirmation link is mailed there
//! first, and following it sends the transcript), each conversation asks
//! at most `mail.transcripts_per_day` times a day, and the mail carries
//! only the last messages (`mail.transcript_max_messages`,
//! `mail.transcript_max_bytes`) with a link to read the whole conversation.
//! Each request holds its tenant's lock while it reads and writes the log.

use super::ApiError;
use crate::auth::LinkClaims;
use crate::mail::{Envelope, Kind};
use crate::state::App;
use parley_engine::records::{MessageRecord, ParticipantKind, SiteRecord};
use parley_engine::transcript::{window, Admit, Refused};
use parley_engine::*;
use parley_storage::{AccountStore, ConversationStore, MessageLog, OutboxStore, WriteBatch};
use serde_json::json;
use std::time::Duration;

/// How long a confirmation link works.
const CONFIRM_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long the link to the whole conversation works.
const VIEW_TTL: Duration = Duration::from_secs(30 * 86_400);

/// What a request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The transcript is queued (the address was proven before).
    Sent,
    /// A confirmation link was mailed; the transcript follows it.
    ConfirmationSent,
}

impl Outcome {
    /// The word the API answers with.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::ConfirmationSent => "confirmation_sent",
        }
    }
}

fn link(app: &App, token: &str) -> String {
    format!("{}/l/{token}", app.public_url.trim_end_matches('/'))
}

/// Asks for the transcript of the visitor's conversation at `email`.
pub async fn request(
    app: &App,
    site: &SiteRecord,
    visitor_token: &str,
    email: &str,
) -> Result<Outcome, ApiError> {
    super::plans::require_feature(app, site.tenant_id, "transcripts")?;
    let email = parley_engine::validate::email(email)?;
    let t = site.tenant_id;
    let none = || ApiError::not_found("conversation");
    let visitor = app
        .visitor_on(site, visitor_token)
        .ok_or_else(none)?
        .visitor;
    let conv = app
        .store
        .visitor_conversation(t, visitor)?
        .ok_or_else(none)?;
    let _guard = app.locks.tenant(t).await;
    let mut log = app.store.transcript_log(t, conv)?.unwrap_or_default();
    let per_day = app.config.mail.transcripts_per_day;
    let admit = log.admit(Timestamp::now(), &email, per_day).map_err(
        |Refused::TooMany { retry_after }| {
            ApiError::too_many(
                retry_after.as_secs(),
                &format!("transcript requests for this conversation (at most {per_day} a day)"),
            )
        },
    )?;
    let mut b = WriteBatch::new();
    app.store.put_transcript_log(&mut b, t, conv, &log);
    let outcome = match admit {
        Admit::Send => {
            queue(app, &mut b, site, conv, &email)?;
            Outcome::Sent
        }
        Admit::Confirm(version) => {
            let until = Timestamp::now().after(CONFIRM_TTL);
            let token =
                app.tokens
                    .issue_link("transcript", t, &format!("{conv} {email}"), version, until);
            crate::mail::queue(
                app,
                &mut b,
                Envelope::new(t, &email, Kind::TranscriptConfirm).site(site.id),
                json!({"site": site.name, "link": link(app, &token), "hours": CONFIRM_TTL.as_secs() / 3600}),
            )?;
            Outcome::ConfirmationSent
        }
    };
    app.writer.write(b).await?;
    crate::mail::sent(app);
    Ok(outcome)
}

/// The conversation and address a confirmation link names.
pub fn by_link(
    app: &App,
    c: &LinkClaims,
) -> Result<(ConversationId, String, SiteRecord), ApiError> {
    let bad = || ApiError::invalid_token("link");
    if c.act != "transcript" {
        return Err(bad());
    }
    let (conv, email) = c.sub.split_once(' ').ok_or_else(bad)?;
    let conv: ConversationId = conv.parse().map_err(|_| bad())?;
    let rec = app.store.conversation(c.tid, conv)?.ok_or_else(bad)?;
    let site = app.store.site(c.tid, rec.site_id)?.ok_or_else(bad)?;
    let log = app.store.transcript_log(c.tid, conv)?.unwrap_or_default();
    if log.spent.contains(&c.ver) {
        return Err(bad());
    }
    Ok((conv, email.to_string(), site))
}

/// Follows a confirmation link: the address is proven for the
/// conversation and the transcript is mailed there. A link works once.
pub async fn confirm(app: &App, c: &LinkClaims) -> Result<(), ApiError> {
    let (conv, email, site) = by_link(app, c)?;
    let _guard = app.locks.tenant(c.tid).await;
    let mut log = app.store.transcript_log(c.tid, conv)?.unwrap_or_default();
    if !log.spend(c.ver, &email) {
        return Err(ApiError::invalid_token("link"));
    }
    let mut b = WriteBatch::new();
    app.store.put_transcript_log(&mut b, c.tid, conv, &log);
    queue(app, &mut b, &site, conv, &email)?;
    app.writer.write(b).await?;
    crate::mail::sent(app);
    Ok(())
}

/// The public messages of a conversation from seq `after` on, at most
/// `limit` (private notes left out).
pub fn public_messages(
    app: &App,
    t: TenantId,
    conv: ConversationId,
    mut after: u64,
    limit: usize,
) -> Result<Vec<MessageRecord>, ApiError> {
    let mut out = Vec::new();
    while out.len() < limit {
        let page = app.store.messages_after(t, conv, after, 500)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        out.extend(page.into_iter().filter(|m| !m.private));
    }
    out.truncate(limit);
    Ok(out)
}

/// Who a message is from, as the visitor reads it.
pub fn who(m: &MessageRecord) -> &str {
    match m.from.kind {
        ParticipantKind::Visitor => "You",
        _ => m.from.name.as_deref().unwrap_or("Us"),
    }
}

/// Queues the transcript of `conv` to `email` (added to `batch`): the last
/// messages that fit the limits, and a link to the whole conversation when
/// some were left out.
fn queue(
    app: &App,
    batch: &mut WriteBatch,
    site: &SiteRecord,
    conv: ConversationId,
    email: &str,
) -> Result<(), ApiError> {
    let t = site.tenant_id;
    let cfg = &app.config.mail;
    let max = cfg.transcript_max_messages.max(1);
    // Read only the end of a long log: a few times the window, in case
    // many of those are private notes.
    let record = app.store.conversation(t, conv)?;
    let last = record.as_ref().map(|c| c.last_seq).unwrap_or(0);
    let tz = crate::mail::visitor_zone(app, t, record.map(|c| c.visitor_id));
    let from = last.saturating_sub(4 * max as u64);
    let msgs = public_messages(app, t, conv, from, usize::MAX)?;
    let sizes: Vec<usize> = msgs.iter().map(|m| m.body.len() + 64).collect();
    let first = window(&sizes, max, cfg.transcript_max_bytes);
    let cut = first > 0 || from > 0;
    let messages: Vec<_> = msgs[first..]
        .iter()
        .map(|m| json!({"who": who(m), "body": m.body, "ts": m.ts}))
        .collect();
    let earlier = cut.then(|| {
        let until = Timestamp::now().after(VIEW_TTL);
        link(
            app,
            &app.tokens
                .issue_link("conversation", t, &conv.to_string(), 0, until),
        )
    });
    crate::mail::queue(
        app,
        batch,
        Envelope::new(t, email, Kind::Transcript).site(site.id),
        json!({"site": site.name, "messages": messages, "earlier": earlier, "tz": tz}),
    )?;
    Ok(())
}
