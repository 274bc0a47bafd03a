//! Visitors as the dashboard reads them: who is online now (from the
//! Tenant's live presence) or everyone seen, and one visitor in full for the
//! sidebar — device, browser, time zone, the pages they visited with the
//! time spent on each, and every conversation they had (closed ones too).

use super::conversations::message_view;
use super::error::{query_param, ApiError, ApiQuery};
use super::principal::Authed;
use super::Page;
use crate::state::App;
use axum::extract::{Path, State};
use axum::Json;
use parley_actors::{ask, TenantMsg};
use parley_engine::account::VisitorDevice;
use parley_engine::permissions::Action;
use parley_engine::protocol::{ConversationView, VisitorView};
use parley_engine::records::{MessageRecord, ParticipantKind, VisitorRecord};
use parley_engine::*;
use parley_storage::{DeskStore, MessageLog, PrivacyStore, VisitorStore};
use serde::Deserialize;
use serde_json::{json, Value};

/// How many page views the sidebar shows.
const PAGES_SHOWN: usize = 50;
/// How many of a visitor's conversations the sidebar lists, newest first.
const HISTORY_SHOWN: usize = 50;
/// How many messages from each end of a conversation its history entry
/// looks at for a first and a last line.
const LINES_LOOKED_AT: u64 = 10;

pub use parley_engine::analytics::describe;

async fn online(
    app: &App,
    t: TenantId,
    only: Option<VisitorId>,
) -> Result<Vec<VisitorView>, ApiError> {
    let h = app.system.tenant(t).await.map_err(ApiError::internal)?;
    let timeout = app.system.ctx.cfg.call_timeout;
    ask(&h.actor, timeout, |reply| TenantMsg::OnlineVisitors {
        only,
        reply,
    })
    .await
    .map_err(|_| ApiError::internal("the tenant did not answer"))
}

/// Filters of `GET /visitors`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VisitorQuery {
    site_id: Option<String>,
    /// `true`: only the visitors online now, newest first.
    online: Option<bool>,
    cursor: Option<String>,
    /// 1 to 500, default 100.
    limit: Option<usize>,
}

fn stored_view(r: &VisitorRecord, live: Option<&VisitorView>) -> Value {
    json!({
        "id": r.id, "site_id": r.site_id, "name": r.name, "email": r.email,
        "first_seen": r.first_seen, "last_seen": r.last_seen,
        "online": live.is_some(),
        "page": live.and_then(|l| l.page.clone()),
        "since": live.map(|l| l.since),
        "page_since": live.and_then(|l| l.page_since),
    })
}

/// Visitors: online now (`online=true`) or every visitor seen, newest first.
#[utoipa::path(get, path = "/api/v1/visitors", tag = "visitors", params(VisitorQuery),
    responses((status = 200, body = Page), (status = 400)), security(("bearer" = [])))]
pub async fn list(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<VisitorQuery>,
) -> Result<Json<Page>, ApiError> {
    me.require(Action::ReadConversations)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let before = query_param::<VisitorId>(q.cursor.as_deref(), "cursor")?;
    let site = query_param::<SiteId>(q.site_id.as_deref(), "site_id")?;
    let mut live = online(&app, me.tenant(), None).await?;
    live.retain(|v| site.is_none_or(|s| v.site_id == s));
    if q.online == Some(true) {
        live.retain(|v| before.is_none_or(|b| v.id < b));
        live.sort_by_key(|v| std::cmp::Reverse(v.id));
        return Ok(Json(Page::of(
            live,
            limit,
            |v| v.id.to_string(),
            |v| serde_json::to_value(v).unwrap_or(Value::Null),
        )));
    }
    let keep = |r: &VisitorRecord| site.is_none_or(|s| r.site_id == s);
    let rows = app
        .store
        .visitors_page(me.tenant(), before, limit + 1, &keep)?;
    Ok(Json(Page::of(
        rows,
        limit,
        |r| r.id.to_string(),
        |r| stored_view(r, live.iter().find(|l| l.id == r.id)),
    )))
}

/// One visitor in full, for the dashboard's sidebar.
#[utoipa::path(get, path = "/api/v1/visitors/{id}", tag = "visitors",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    me.require(Action::ReadConversations)?;
    let id: VisitorId = id.parse().map_err(|_| ApiError::not_found("visitor"))?;
    let t = me.tenant();
    let live = online(&app, t, Some(id)).await?.pop();
    let rec = app.store.visitor(t, id)?;
    let Some(rec) = rec else {
        return Err(ApiError::not_found("visitor"));
    };
    let mut v = stored_view(&rec, live.as_ref());
    let device = app.store.visitor_device(t, id)?.unwrap_or_default();
    let VisitorDevice {
        user_agent,
        timezone,
        language,
    } = &device;
    let (browser, os, kind) = describe(user_agent);
    v["device"] = json!({
        "user_agent": user_agent, "browser": browser, "os": os, "kind": kind,
        "timezone": timezone, "language": language,
        // Where the time zone says they are: the city of an IANA name.
        "location": timezone.rsplit('/').next().filter(|_| timezone.contains('/')).map(|c| c.replace('_', " ")),
    });
    // Time on each page: until the next view; the last one until they left
    // (or still running, `null`, while they are online).
    let views = app.store.page_views(t, id, PAGES_SHOWN)?;
    let pages: Vec<Value> = views
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let end = match views.get(i + 1) {
                Some(next) => Some(next.at),
                None if live.is_some() => None,
                None => Some(rec.last_seen),
            };
            json!({
                "url": p.page.url, "title": p.page.title, "referrer": p.page.referrer, "at": p.at,
                "seconds": end.map(|e| e.millis().saturating_sub(p.at.millis()) / 1000),
            })
        })
        .collect();
    v["pages"] = json!(pages);
    v["conversations"] = json!(history(&app, t, id)?);
    Ok(Json(v))
}

/// Every conversation of visitor `v`, newest first (closed ones too: they
/// stay in the history), each with its first and last public line.
/// A tenant-wide scan, read when a sidebar opens, never on a message.
fn history(app: &App, t: TenantId, v: VisitorId) -> Result<Vec<Value>, ApiError> {
    let mut all = app.store.conversations_of(t, v)?;
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    all.truncate(HISTORY_SHOWN);
    let mut out = Vec::with_capacity(all.len());
    for c in &all {
        // The first and last lines someone wrote, within a few of each end
        // (notes and events such as "… closed the conversation" skipped).
        let said = |seq: u64| -> Result<Option<MessageRecord>, ApiError> {
            Ok(app.store.message(t, c.id, seq)?.filter(|m| {
                !m.private && m.from.kind != ParticipantKind::System && !m.body.trim().is_empty()
            }))
        };
        let mut first = None;
        for seq in 1..=c.last_seq.min(LINES_LOOKED_AT) {
            if let Some(m) = said(seq)? {
                first = Some(m);
                break;
            }
        }
        let mut last = None;
        for seq in (1..=c.last_seq).rev().take(LINES_LOOKED_AT as usize) {
            if let Some(m) = said(seq)? {
                last = Some(m);
                break;
            }
        }
        let mut cv = serde_json::to_value(ConversationView::from(c)).map_err(ApiError::internal)?;
        cv["first_message"] = first.as_ref().map_or(Value::Null, message_view);
        cv["last_message"] = last.as_ref().map_or(Value::Null, message_view);
        out.push(cv);
    }
    Ok(out)
}

/// Everything stored about a visitor, as one JSON document (their right of
/// access): the record, device, every page view, every conversation with
/// its whole log (private notes marked), and the contact messages they sent.
#[utoipa::path(get, path = "/api/v1/visitors/{id}/export", tag = "visitors",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)),
    security(("bearer" = [])))]
pub async fn export(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    me.require(Action::VisitorData)?;
    let id: VisitorId = id.parse().map_err(|_| ApiError::not_found("visitor"))?;
    let Some(d) = app.store.visitor_data(me.tenant(), id)? else {
        return Err(ApiError::not_found("visitor"));
    };
    let conversations: Vec<Value> = d
        .conversations
        .iter()
        .map(|(c, log)| {
            let mut v = serde_json::to_value(ConversationView::from(c)).unwrap_or(Value::Null);
            v["messages"] = log.iter().map(message_view).collect();
            v
        })
        .collect();
    let body = json!({
        "exported_at": Timestamp::now(),
        "visitor": {
            "id": d.record.id, "site_id": d.record.site_id, "name": d.record.name,
            "email": d.record.email, "first_seen": d.record.first_seen, "last_seen": d.record.last_seen,
        },
        "device": d.device,
        "pages": d.pages.iter().map(|p| json!({
            "url": p.page.url, "title": p.page.title, "referrer": p.page.referrer, "at": p.at,
        })).collect::<Vec<_>>(),
        "conversations": conversations,
        "contact_messages": d.contacts.iter().map(crate::app::contacts::json).collect::<Vec<_>>(),
    });
    let name = format!("attachment; filename=\"visitor-{id}.json\"");
    Ok((
        [(axum::http::header::CONTENT_DISPOSITION, name)],
        Json(body),
    )
        .into_response())
}

/// Erases everything stored about a visitor (their right of erasure):
/// gone from the data, not hidden, with an audit entry `visitor.erased`.
/// Their open tabs close, and their old token starts afresh as a new
/// visitor.
#[utoipa::path(delete, path = "/api/v1/visitors/{id}", tag = "visitors",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)),
    security(("bearer" = [])))]
pub async fn erase(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    me.require(Action::VisitorData)?;
    let id: VisitorId = id.parse().map_err(|_| ApiError::not_found("visitor"))?;
    let t = me.tenant();
    if app.store.visitor(t, id)?.is_none() {
        return Err(ApiError::not_found("visitor"));
    }
    // First: a reconnect from now on is someone new, and cannot write
    // under the id being erased.
    app.tokens.forget_visitor(t, id);
    let audit = crate::app::audit::entry(
        t,
        me.actor(),
        &me.caller,
        "visitor.erased",
        ("visitor", id.to_string()),
        json!({}),
    );
    let h = app.system.tenant(t).await.map_err(ApiError::internal)?;
    let timeout = app.system.ctx.cfg.call_timeout * 4;
    let n = ask(&h.actor, timeout, |reply| TenantMsg::EraseVisitor {
        visitor: id,
        audit: Box::new(audit),
        reply,
    })
    .await
    .map_err(|_| ApiError::internal("the tenant did not answer"))?
    .map_err(ApiError::internal)?;
    Ok(Json(json!({ "id": id, "erased_records": n })))
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn user_agents_are_described() {
        let chrome_mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(describe(chrome_mac), ("Chrome".into(), "macOS", "desktop"));
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe(iphone), ("Safari".into(), "iOS", "mobile"));
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(describe(edge), ("Edge".into(), "Windows", "desktop"));
        let firefox_android =
            "Mozilla/5.0 (Android 14; Mobile; rv:120.0) Gecko/120.0 Firefox/120.0";
        assert_eq!(
            describe(firefox_android),
            ("Firefox".into(), "Android", "mobile")
        );
        assert_eq!(describe("").1, "Other");
        let ipad = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe(ipad).2, "tablet");
        let bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
        assert_eq!(describe(bot).2, "bot");
    }
}
