//! Conversations as the dashboard reads them: lists (the inbox's closed
//! queue, search by site or status), one conversation, and its log in pages
//! (backwards with `before_seq` for infinite scroll, forwards with
//! `after_seq`). Live changes arrive on the staff socket; these are the
//! reads behind it.

use super::error::{query_param, ApiError, ApiQuery};
use super::principal::Authed;
use super::Page;
use crate::state::App;
use axum::extract::{Path, State};
use axum::Json;
use parley_engine::codes::error as code;
use parley_engine::conversation::Status;
use parley_engine::permissions::Action;
use parley_engine::protocol::ConversationView;
use parley_engine::records::{ConversationRecord, MessageRecord, ParticipantKind};
use parley_engine::*;
use parley_storage::{ConversationStore, DeskStore, MessageLog, VisitorStore};
use serde::Deserialize;
use serde_json::{json, Value};

fn invalid(what: &str) -> ApiError {
    ApiError::bad_request(code::INVALID, format!("{what} is not valid"))
}

/// Filters of `GET /conversations`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    site_id: Option<String>,
    /// `waiting`, `active`, `closed`, or `open` (waiting or active).
    status: Option<String>,
    /// A staff id, or `me`.
    assignee: Option<String>,
    visitor_id: Option<String>,
    cursor: Option<String>,
    /// 1 to 200, default 50.
    limit: Option<usize>,
}

/// A message as REST shows it (the `message` frame's fields).
pub fn message_view(m: &MessageRecord) -> Value {
    json!({
        "conversation_id": m.conversation_id, "id": m.id, "seq": m.seq, "from": m.from,
        "body": m.body, "private": m.private, "ts": m.ts,
    })
}

/// How many lines back from the end a list looks for the last line someone wrote.
const LAST_LOOKED_AT: usize = 10;

/// A conversation with its visitor's name and its last message, for lists:
/// the last line someone wrote within the last few (private notes and
/// events such as "… closed the conversation" skipped), so a preview never
/// reads as a system line.
fn item(app: &App, c: &ConversationRecord) -> Result<Value, ApiError> {
    let visitor = app.store.visitor(c.tenant_id, c.visitor_id)?;
    let mut last = None;
    for seq in (1..=c.last_seq).rev().take(LAST_LOOKED_AT) {
        if let Some(m) = app.store.message(c.tenant_id, c.id, seq)? {
            if !m.private && m.from.kind != ParticipantKind::System && !m.body.trim().is_empty() {
                last = Some(m);
                break;
            }
        }
    }
    let mut v = serde_json::to_value(ConversationView::from(c)).map_err(ApiError::internal)?;
    v["visitor"] = json!({
        "id": c.visitor_id,
        "name": visitor.as_ref().and_then(|r| r.name.clone()),
        "email": visitor.as_ref().and_then(|r| r.email.clone()),
    });
    v["last_message"] = last.as_ref().map_or(Value::Null, message_view);
    Ok(v)
}

/// The tenant's conversations, newest first.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ConversationQuery),
    responses((status = 200, body = Page), (status = 400)), security(("bearer" = [])))]
pub async fn list(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<ConversationQuery>,
) -> Result<Json<Page>, ApiError> {
    me.require(Action::ReadConversations)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let before = query_param::<ConversationId>(q.cursor.as_deref(), "cursor")?;
    let site = query_param::<SiteId>(q.site_id.as_deref(), "site_id")?;
    let visitor = query_param::<VisitorId>(q.visitor_id.as_deref(), "visitor_id")?;
    let assignee = match q.assignee.as_deref() {
        None => None,
        Some("me") => Some(me.staff.id),
        Some(s) => Some(s.parse::<StaffId>().map_err(|_| invalid("assignee"))?),
    };
    let statuses: &[Status] = match q.status.as_deref() {
        None => &[Status::Waiting, Status::Active, Status::Closed],
        Some("open") => &[Status::Waiting, Status::Active],
        Some("waiting") => &[Status::Waiting],
        Some("active") => &[Status::Active],
        Some("closed") => &[Status::Closed],
        Some(_) => return Err(invalid("status")),
    };
    let keep = |c: &ConversationRecord| {
        statuses.contains(&c.status)
            && site.is_none_or(|s| c.site_id == s)
            && visitor.is_none_or(|v| c.visitor_id == v)
            && assignee.is_none_or(|a| c.assignee == Some(a))
    };
    let mut rows = app
        .store
        .conversations_page(me.tenant(), before, limit + 1, &keep)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok(Json(Page {
        next_cursor: if more {
            rows.last().map(|c| c.id.to_string())
        } else {
            None
        },
        items: rows
            .iter()
            .map(|c| item(&app, c))
            .collect::<Result<_, _>>()?,
    }))
}

fn find(app: &App, me: &Authed, id: &str) -> Result<ConversationRecord, ApiError> {
    let id: ConversationId = id
        .parse()
        .map_err(|_| ApiError::not_found("conversation"))?;
    app.store
        .conversation(me.tenant(), id)?
        .ok_or_else(|| ApiError::not_found("conversation"))
}

/// One conversation, with its visitor and last message.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    me.require(Action::ReadConversations)?;
    let c = find(&app, &me, &id)?;
    Ok(Json(item(&app, &c)?))
}

/// Which part of a log to read.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Messages after this seq, oldest first (default: from the start).
    after_seq: Option<u64>,
    /// Messages before this seq instead: the newest `limit` of them, in seq
    /// order (for scrolling back). `next_cursor` is then the seq to pass as
    /// the next `before_seq`.
    before_seq: Option<u64>,
    /// 1 to 200, default 50.
    limit: Option<usize>,
}

/// A conversation's messages, private notes included, in seq order.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path), MessagesQuery),
    responses((status = 200, body = Page), (status = 400), (status = 404)), security(("bearer" = [])))]
pub async fn messages(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> Result<Json<Page>, ApiError> {
    me.require(Action::ReadConversations)?;
    let c = find(&app, &me, &id)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let (items, next) = match (q.after_seq, q.before_seq) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                code::INVALID,
                "give after_seq or before_seq, not both",
            ))
        }
        (_, Some(before)) => {
            let mut m = app
                .store
                .messages_before(c.tenant_id, c.id, before, limit + 1)?;
            let more = m.len() > limit;
            if more {
                m.remove(0);
            }
            let next = more.then(|| m.first().map(|x| x.seq.to_string())).flatten();
            (m, next)
        }
        (after, None) => {
            let mut m =
                app.store
                    .messages_after(c.tenant_id, c.id, after.unwrap_or(0), limit + 1)?;
            let more = m.len() > limit;
            m.truncate(limit);
            let next = more.then(|| m.last().map(|x| x.seq.to_string())).flatten();
            (m, next)
        }
    };
    Ok(Json(Page {
        items: items.iter().map(message_view).collect(),
        next_cursor: next,
    }))
}
