//! Signed links from mails: `/l/{token}` is the page a visitor opens (it
//! asks `GET /api/v1/public/links/{token}` what the link is for and posts
//! the visitor's choice back). A tampered, expired or used link answers
//! 401 `invalid_token` and changes nothing.

use super::error::{ApiError, ApiJson};
use super::pages::page;
use crate::app::{bookings, newsletter};
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

/// What a link is for: `{act, site, booking?}`.
#[utoipa::path(get, path = "/api/v1/public/links/{token}", tag = "public",
    params(("token" = String, Path)),
    responses((status = 200, body = Object), (status = 401, description = "`invalid_token`: tampered, expired or used")))]
pub async fn describe(
    State(app): State<App>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = claims(&app, &token)?;
    match c.act.as_str() {
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
    /// link) or `unsubscribe`.
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
