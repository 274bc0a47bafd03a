//! Signed links from mails: `/l/{token}` is the page a visitor opens (it
//! asks `GET /api/v1/public/links/{token}` what the link is for and posts
//! the visitor's choice back). A tampered, expired or used link answers
//! 401 `invalid_token` and changes nothing.

use super::error::{ApiError, ApiJson, ApiQuery};
use super::pages::page;
use crate::app::{bookings, newsletter, transcript};
use crate::auth::LinkClaims;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use parley_engine::codes::error as code;
use parley_storage::{AccountStore, AuthStore};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

fn claims(app: &App, token: &str) -> Result<LinkClaims, ApiError> {
    app.tokens
        .verify_link(token)
        .ok_or_else(|| ApiError::invalid_token("link"))
}

/// The page behind every link in a mail.
#[utoipa::path(get, path = "/l/{token}", tag = "pages",
    params(("token" = String, Path)), responses((status = 200, content_type = "text/html")))]
pub async fn link_page(
    Path(_token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    page("link.html", &headers)
}

fn site_view(app: &App, t: parley_engine::TenantId, s: parley_engine::SiteId) -> Value {
    let site = app.store.site(t, s).ok().flatten();
    let color = app
        .store
        .site_settings(t, s)
        .map(|x| x.color)
        .unwrap_or_default();
    json!({"name": site.as_ref().map(|x| x.name.clone()), "key": site.map(|x| x.key), "color": color})
}

/// `GET /public/links/{token}` query.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct LinkQuery {
    /// A conversation link: messages after this seq (the last page's `next_after`).
    after: Option<u64>,
}

/// Messages a conversation link shows per page.
const CONVERSATION_PAGE: usize = 200;

/// What a link is for: `{act, site, booking?}`; a transcript confirmation
/// `{act:"transcript", site, email}`; a whole conversation
/// `{act:"conversation", site, messages:[{seq,who,body,ts}], next_after}`.
#[utoipa::path(get, path = "/api/v1/public/links/{token}", tag = "public",
    params(("token" = String, Path), LinkQuery),
    responses((status = 200, body = Object), (status = 401, description = "`invalid_token`: tampered, expired or used")))]
pub async fn describe(
    State(app): State<App>,
    Path(token): Path<String>,
    ApiQuery(q): ApiQuery<LinkQuery>,
) -> Result<Json<Value>, ApiError> {
    let c = claims(&app, &token)?;
    match c.act.as_str() {
        "transcript" => {
            let (_, email, site) = transcript::by_link(&app, &c)?;
            Ok(Json(json!({
                "act": "transcript",
                "site": site_view(&app, site.tenant_id, site.id),
                "email": email,
            })))
        }
        "conversation" => {
            use parley_storage::ConversationStore;
            let bad = || ApiError::invalid_token("link");
            let conv = c.sub.parse().map_err(|_| bad())?;
            let rec = app.store.conversation(c.tid, conv)?.ok_or_else(bad)?;
            let page = transcript::public_messages(
                &app,
                c.tid,
                conv,
                q.after.unwrap_or(0),
                CONVERSATION_PAGE + 1,
            )?;
            let more = page.len() > CONVERSATION_PAGE;
            let page = &page[..page.len().min(CONVERSATION_PAGE)];
            let messages: Vec<Value> = page
                .iter()
                .map(|m| json!({"seq": m.seq, "who": transcript::who(m), "body": m.body, "ts": m.ts}))
                .collect();
            Ok(Json(json!({
                "act": "conversation",
                "site": site_view(&app, c.tid, rec.site_id),
                "messages": messages,
                "next_after": more.then(|| page.last().map(|m| m.seq)).flatten(),
            })))
        }
        "booking" => {
            let b = bookings::by_link(&app, &c)?;
            Ok(Json(json!({
                "act": "booking",
                "site": site_view(&app, b.tenant_id, b.site_id),
                "booking": {"start": b.span.start, "end": b.span.end, "topic": b.topic,
                    "status": b.status, "name": b.name},
            })))
        }
        "confirm" | "unsubscribe" => {
            let sub = newsletter::by_link(&app, &c)?;
            Ok(Json(json!({
                "act": c.act,
                "site": site_view(&app, sub.tenant_id, sub.site_id),
                "status": sub.status,
            })))
        }
        _ => Err(ApiError::invalid_token("link")),
    }
}

/// RFC 8058 one-click unsubscribe: a mail client's `POST` of
/// `List-Unsubscribe=One-Click` to the `List-Unsubscribe` URL.
#[utoipa::path(post, path = "/l/{token}", tag = "pages",
    params(("token" = String, Path)),
    responses((status = 200, description = "unsubscribed"), (status = 401, description = "`invalid_token`")))]
pub async fn one_click(
    State(app): State<App>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = claims(&app, &token)?;
    let s = newsletter::unsubscribe(&app, &c, "one_click").await?;
    Ok(Json(json!({"status": s.status})))
}

/// `POST /public/links/{token}` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkAction {
    /// `cancel` or `reschedule` (a booking link), `confirm` (a sign-up
    /// link), `unsubscribe`, or `send` (a transcript confirmation link).
    action: String,
    /// The new slot's start, for `reschedule`.
    #[serde(default)]
    start: Option<String>,
}

/// Does what the link is for.
#[utoipa::path(post, path = "/api/v1/public/links/{token}", tag = "public",
    params(("token" = String, Path)), request_body = LinkAction,
    responses((status = 200, body = Object),
        (status = 400, description = "`invalid` or `slot_unavailable`"),
        (status = 401, description = "`invalid_token`: tampered, expired or used"),
        (status = 409, description = "`slot_taken`")))]
pub async fn act(
    State(app): State<App>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<LinkAction>,
) -> Result<Json<Value>, ApiError> {
    let c = claims(&app, &token)?;
    match (c.act.as_str(), body.action.as_str()) {
        ("booking", "cancel") => {
            let b = bookings::cancel_by_link(&app, &c).await?;
            Ok(Json(json!({"status": b.status})))
        }
        ("booking", "reschedule") => {
            let start = body
                .start
                .as_deref()
                .ok_or_else(|| ApiError::bad_request(code::INVALID, "reschedule needs a start"))?;
            let b = bookings::reschedule_by_link(&app, &c, start).await?;
            Ok(Json(
                json!({"status": b.status, "start": b.span.start, "end": b.span.end}),
            ))
        }
        ("confirm", "confirm") => {
            let s = newsletter::confirm(&app, &c).await?;
            Ok(Json(json!({"status": s.status})))
        }
        ("transcript", "send") => {
            transcript::confirm(&app, &c).await?;
            Ok(Json(json!({"status": "sent"})))
        }
        ("unsubscribe", "unsubscribe") => {
            let s = newsletter::unsubscribe(&app, &c, "link").await?;
            Ok(Json(json!({"status": s.status})))
        }
        _ => Err(ApiError::bad_request(
            code::INVALID,
            "this link does not do that",
        )),
    }
}
