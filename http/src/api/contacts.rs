//! Contact messages: the widget's offline form posts to
//! `POST /api/v1/public/{site_key}/contact` (CORS per the site's allowed
//! origins, a honeypot field, a per-address budget); staff read them at
//! `GET /api/v1/contact-messages`.

use super::error::{query_param, ApiError, ApiJson, ApiQuery};
use super::principal::{Authed, Caller};
use super::public::site_for_post;
use super::Page;
use crate::app::contacts::{self as rules, ContactForm, ContactPatch, EntryInput};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use parley_engine::account::{ContactEntry, ContactRecord, ContactStatus};
use parley_engine::codes::error as code;
use parley_engine::permissions::Action;
use parley_engine::*;
use parley_storage::AuthStore;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// Leaves a message for the site's staff (the widget's offline form).
#[utoipa::path(post, path = "/api/v1/public/{site_key}/contact", tag = "public",
    params(("site_key" = String, Path)), request_body = ContactForm,
    responses((status = 201, description = "`{id}`: stored", body = Object), (status = 400),
        (status = 403, description = "`origin_not_allowed`, or `tenant_suspended`"), (status = 404), (status = 429)))]
pub async fn submit(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
    caller: Caller,
    ApiJson(form): ApiJson<ContactForm>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let site = site_for_post(&app, &key, &headers)?;
    app.limiters.form(caller.ip, site.id)?;
    let id = rules::submit(&app, &site, caller.ip, form).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// Filters of `GET /contact-messages`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    site_id: Option<String>,
    /// `new`, `read`, `replied` or `archived`.
    status: Option<String>,
    /// A staff id, `me`, or `none` for unassigned.
    assignee: Option<String>,
    /// Text in the name, email, phone, service or message.
    q: Option<String>,
    cursor: Option<String>,
    /// 1 to 200, default 50.
    limit: Option<usize>,
}

/// Messages left with the contact form, newest first.
#[utoipa::path(get, path = "/api/v1/contact-messages", tag = "contacts", params(ContactQuery),
    responses((status = 200, body = Page)), security(("bearer" = [])))]
pub async fn list(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<ContactQuery>,
) -> Result<Json<Page>, ApiError> {
    me.require(Action::ReadConversations)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let before = query_param::<ContactId>(q.cursor.as_deref(), "cursor")?;
    let site = query_param::<SiteId>(q.site_id.as_deref(), "site_id")?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(ContactStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(code::INVALID, "status is new, read, replied or archived")
        })?),
    };
    let assignee: Option<Option<StaffId>> = match q.assignee.as_deref() {
        None | Some("") => None,
        Some("none") => Some(None),
        Some("me") => Some(Some(me.staff.id)),
        Some(s) => Some(Some(s.parse().map_err(|_| {
            ApiError::bad_request(code::INVALID, "assignee is not valid")
        })?)),
    };
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let keep = |c: &ContactRecord| {
        site.is_none_or(|s| c.site_id == s)
            && status.is_none_or(|s| c.status == s)
            && assignee.is_none_or(|a| c.assignee == a)
            && text.is_none_or(|t| c.matches(t))
    };
    let items = app.store.contacts(me.tenant(), before, limit + 1, &keep)?;
    Ok(Json(Page::of(items, limit, |c| c.id.to_string(), view)))
}

/// The JSON view of a contact message.
fn view(c: &ContactRecord) -> Value {
    rules::json(c)
}

fn entry_view(e: &ContactEntry) -> Value {
    json!({"id": e.id, "body": e.body, "by": {"id": e.by, "name": e.by_name}, "created_at": e.created_at})
}

/// One message with its replies and notes, oldest first.
#[utoipa::path(get, path = "/api/v1/contact-messages/{id}", tag = "contacts",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    me.require(Action::ReadConversations)?;
    let c = rules::find(&app, &me, &id)?;
    let entries = app.store.contact_entries(me.tenant(), c.id)?;
    let mut v = view(&c);
    v["replies"] = entries.iter().filter(|e| e.reply).map(entry_view).collect();
    v["notes"] = entries
        .iter()
        .filter(|e| !e.reply)
        .map(entry_view)
        .collect();
    Ok(Json(v))
}

/// Changes a message's status (`new`, `read`, `replied`, `archived`) or assignee.
#[utoipa::path(patch, path = "/api/v1/contact-messages/{id}", tag = "contacts", request_body = ContactPatch,
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ContactPatch>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&rules::update(&app, &me, &id, body).await?)))
}

/// Replies to the sender by mail; the reply stays in the thread and the
/// message becomes `replied`.
#[utoipa::path(post, path = "/api/v1/contact-messages/{id}/replies", tag = "contacts", request_body = EntryInput,
    params(("id" = String, Path)), responses((status = 201, body = Object), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn reply(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EntryInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let e = rules::add_entry(&app, &me, &id, body, true).await?;
    Ok((StatusCode::CREATED, Json(entry_view(&e))))
}

/// Adds an internal note (never mailed).
#[utoipa::path(post, path = "/api/v1/contact-messages/{id}/notes", tag = "contacts", request_body = EntryInput,
    params(("id" = String, Path)), responses((status = 201, body = Object), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn note(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EntryInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let e = rules::add_entry(&app, &me, &id, body, false).await?;
    Ok((StatusCode::CREATED, Json(entry_view(&e))))
}

/// `POST /public/{site_key}/transcript` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptRequest {
    /// The widget's visitor token: whose conversation.
    visitor_token: String,
    /// Where to send it.
    email: String,
}

/// Mails the visitor their conversation (private notes left out): to an
/// address proven for it before at once, else a confirmation link first.
#[utoipa::path(post, path = "/api/v1/public/{site_key}/transcript", tag = "public",
    params(("site_key" = String, Path)), request_body = TranscriptRequest,
    responses((status = 202, body = Object,
            description = "`{\"status\":\"sent\"}`, or `{\"status\":\"confirmation_sent\"}`: a link was mailed to the address and the transcript follows it"),
        (status = 400),
        (status = 403, description = "`origin_not_allowed`, or `tenant_suspended`"),
        (status = 404, description = "no site, or no conversation for this visitor"),
        (status = 429, description = "`too_many_requests` (at most `mail.transcripts_per_day` a conversation), `rate_limited`, or `outbox_full`")))]
pub async fn transcript(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
    caller: Caller,
    ApiJson(req): ApiJson<TranscriptRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let site = site_for_post(&app, &key, &headers)?;
    app.limiters.form(caller.ip, site.id)?;
    let done = crate::app::transcript::request(&app, &site, &req.visitor_token, &req.email).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"status": done.as_str()}))))
}

/// Every contact message of the tenant as CSV (newest first).
#[utoipa::path(get, path = "/api/v1/contact-messages/export.csv", tag = "contacts",
    responses((status = 200, content_type = "text/csv"), (status = 403)), security(("bearer" = [])))]
pub async fn export(
    State(app): State<App>,
    me: Authed,
) -> Result<axum::response::Response, ApiError> {
    me.require(Action::ExportData)?;
    let t = me.tenant();
    let store = app.store.clone();
    super::csv_pages(
        "contact-messages.csv",
        &[
            "id",
            "created_at",
            "site_id",
            "name",
            "email",
            "phone",
            "service",
            "status",
            "assignee",
            "page_url",
            "message",
        ],
        move |before, n| Ok(store.contacts(t, before, n, &|_| true)?),
        |c: &ContactRecord| c.id,
        |c: &ContactRecord| {
            vec![
                c.id.to_string(),
                c.created_at.to_rfc3339(),
                c.site_id.to_string(),
                c.name.clone(),
                c.email.clone(),
                c.phone.clone(),
                c.service.clone(),
                c.status.as_str().to_string(),
                c.assignee.map(|a| a.to_string()).unwrap_or_default(),
                c.page_url.clone(),
                c.message.clone(),
            ]
        },
    )
    .await
}

/// `POST /public/{site_key}/history` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryRequest {
    /// The widget's visitor token: whose conversations.
    visitor_token: String,
}

/// At most this many conversations, newest first, in a visitor's history.
const HISTORY_CONVERSATIONS: usize = 20;
/// At most this many messages (the last ones) of each.
const HISTORY_MESSAGES: usize = 200;

/// The visitor's own conversations on this site, newest first, each with
/// its messages (private notes left out): the widget's "Your
/// conversations". A token only ever reads its own visitor's.
#[utoipa::path(post, path = "/api/v1/public/{site_key}/history", tag = "public",
    params(("site_key" = String, Path)), request_body = HistoryRequest,
    responses((status = 200, body = Object,
            description = "`{conversations:[{id,status,created_at,updated_at,rating,messages:[{seq,from:{kind,name},body,ts}]}]}`"),
        (status = 400),
        (status = 403, description = "`origin_not_allowed`, or `tenant_suspended`"),
        (status = 404, description = "no site, or a token that is not this site's visitor"),
        (status = 429)))]
pub async fn history(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
    caller: Caller,
    ApiJson(req): ApiJson<HistoryRequest>,
) -> Result<Json<Value>, ApiError> {
    use parley_storage::PrivacyStore;
    let site = site_for_post(&app, &key, &headers)?;
    app.limiters.api(caller.ip)?;
    let visitor = app
        .visitor_on(&site, &req.visitor_token)
        .ok_or_else(|| ApiError::not_found("visitor"))?
        .visitor;
    let data = app.store.visitor_data(site.tenant_id, visitor)?;
    let mut convs: Vec<_> = data
        .map(|d| d.conversations)
        .unwrap_or_default()
        .into_iter()
        .filter(|(c, _)| c.site_id == site.id && c.visitor_id == visitor)
        .collect();
    convs.sort_by_key(|(c, _)| std::cmp::Reverse(c.created_at));
    convs.truncate(HISTORY_CONVERSATIONS);
    let conversations: Vec<Value> = convs
        .iter()
        .map(|(c, log)| {
            let shown: Vec<_> = log.iter().filter(|m| !m.private).collect();
            let from = shown.len().saturating_sub(HISTORY_MESSAGES);
            json!({
                "id": c.id, "status": c.status, "created_at": c.created_at, "updated_at": c.updated_at,
                "rating": c.rating.as_ref().map(|r| r.score),
                "messages": shown[from..].iter().map(|m| json!({
                    "seq": m.seq, "from": {"kind": m.from.kind, "id": m.from.id, "name": m.from.name},
                    "body": m.body, "ts": m.ts,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "conversations": conversations })))
}
