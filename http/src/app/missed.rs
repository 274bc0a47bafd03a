//! Replies for visitors who left: a visitor who gave an email (pre-chat
//! form or `identify`) and closed their last tab with a conversation open is
//! watched (the Tenant writes the watch when the tab closes). The sweep here
//! looks at each watch when it falls due: if the visitor is back, or came
//! back since, the watch ends; if staff replied (public replies only, never
//! notes) and nothing of it was read or mailed yet, the replies go out in one
//! mail, through the outbox, with a link back to the page they were on that
//! reopens the chat. A watch is looked at again every
//! `mail.missed_reply_after_secs` until it ends, three days after they left.

use super::ApiError;
use crate::mail::{Envelope, Kind};
use crate::state::App;
use parley_actors::{ask, TenantMsg};
use parley_engine::mail::{missed_replies, ReplyWatch};
use parley_engine::protocol::REOPEN_MARK;
use parley_engine::Timestamp;
use parley_storage::{AccountStore, ConversationStore, MessageLog, OutboxStore, VisitorStore};
use parley_storage::{AuthStore, WriteBatch};
use serde_json::json;
use std::time::Duration;

/// Watches handled per sweep.
const PASS: usize = 64;

/// Log lines read back per watch (the newest replies are what matter).
const TAIL: usize = 100;

/// What became of one watch.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The visitor is back (or was since), or has no email or conversation.
    Ended,
    /// Nothing to mail yet: look again later.
    Waiting,
    /// Mailed replies up to this seq.
    Mailed(u64),
}

/// Looks at every watch that is due; returns how many replies mails were queued.
pub async fn sweep(app: &App) -> Result<usize, ApiError> {
    let now = Timestamp::now();
    let mut mailed = 0;
    for (due, w) in app.store.reply_watches_due(now, PASS)? {
        if !app.system.ctx.serves(w.tenant_id).await {
            continue;
        }
        let mut b = WriteBatch::new();
        let outcome = look(app, &mut b, &w).await?;
        app.store.delete_reply_watch(&mut b, due, &w);
        let next = now.after(app.system.ctx.cfg.missed_reply_after);
        match outcome {
            Outcome::Ended => {}
            Outcome::Waiting if next < w.until => app.store.put_reply_watch(&mut b, next, &w),
            Outcome::Waiting => {}
            Outcome::Mailed(upto) => {
                mailed += 1;
                if next < w.until {
                    let w = ReplyWatch {
                        mailed_upto: upto,
                        ..w.clone()
                    };
                    app.store.put_reply_watch(&mut b, next, &w);
                }
            }
        }
        app.writer.write(b).await?;
    }
    if mailed > 0 {
        crate::mail::sent(app);
    }
    Ok(mailed)
}

async fn online(app: &App, w: &ReplyWatch) -> Result<bool, ApiError> {
    let tenant = app
        .system
        .tenant(w.tenant_id)
        .await
        .map_err(ApiError::internal)?;
    let timeout = app.system.ctx.cfg.call_timeout;
    let views = ask(&tenant.actor, timeout, |reply| TenantMsg::OnlineVisitors {
        only: Some(w.visitor_id),
        reply,
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(!views.is_empty())
}

async fn look(app: &App, b: &mut WriteBatch, w: &ReplyWatch) -> Result<Outcome, ApiError> {
    let store = &app.store;
    let (t, v) = (w.tenant_id, w.visitor_id);
    let Some(visitor) = store.visitor(t, v)? else {
        return Ok(Outcome::Ended);
    };
    let Some(email) = visitor.email.clone() else {
        return Ok(Outcome::Ended);
    };
    // Back since they left (a newer watch covers a later departure).
    if visitor.last_seen > w.since || online(app, w).await? {
        return Ok(Outcome::Ended);
    }
    let Some(conv_id) = store.visitor_conversation(t, v)? else {
        return Ok(Outcome::Ended);
    };
    let Some(conv) = store.conversation(t, conv_id)? else {
        return Ok(Outcome::Ended);
    };
    let after = conv.visitor_read_seq.max(w.mailed_upto);
    let log = store.messages_after(t, conv_id, after, TAIL)?;
    let replies = missed_replies(&log, conv.visitor_read_seq, w.mailed_upto);
    let Some(last) = replies.last().map(|m| m.seq) else {
        return Ok(Outcome::Waiting);
    };
    let site = store.site(t, visitor.site_id)?;
    let site_name = site.as_ref().map(|s| s.name.clone()).unwrap_or_default();
    let from = replies
        .iter()
        .find_map(|m| m.from.name.clone())
        .unwrap_or_else(|| site_name.clone());
    let messages: Vec<_> = replies
        .iter()
        .map(|m| json!({"who": m.from.name.as_deref().unwrap_or(&site_name), "body": m.body}))
        .collect();
    let mut env = Envelope::new(t, &email, Kind::MissedReply);
    if let Some(s) = &site {
        env = env.site(s.id);
    }
    crate::mail::queue(
        app,
        b,
        env,
        json!({"site": site_name, "from": from, "messages": messages, "link": reopen_link(app, w)?}),
    )?;
    tracing::info!(tenant = %t, visitor = %v, replies = replies.len(), "missed replies mailed");
    Ok(Outcome::Mailed(last))
}

/// The page the visitor was last on, marked so the widget opens the chat;
/// the site's first allowed origin when no page is known.
fn reopen_link(app: &App, w: &ReplyWatch) -> Result<String, ApiError> {
    let pages = app.store.page_views(w.tenant_id, w.visitor_id, 1)?;
    let page = match pages.last() {
        Some(p) => p.page.url.clone(),
        None => {
            let visitor = app.store.visitor(w.tenant_id, w.visitor_id)?;
            let settings = match visitor {
                Some(v) => app.store.site_settings(w.tenant_id, v.site_id)?,
                None => Default::default(),
            };
            settings
                .allowed_origins
                .first()
                .cloned()
                .unwrap_or_default()
        }
    };
    let base = page.split('#').next().unwrap_or("");
    Ok(format!("{base}{REOPEN_MARK}"))
}

/// Runs the sweep every `every` until the server stops.
pub async fn run(app: App, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&app).await {
            tracing::warn!(error = %e.message, "missed-reply sweep");
        }
    }
}
