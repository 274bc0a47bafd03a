//! Consultations: the public slot list and booking form of a site, and
//! staff's list and changes. The rules are in `app::bookings`.

use super::error::{query_param, ApiError, ApiJson, ApiQuery};
use super::principal::{Authed, Caller};
use super::public::{site_for, site_for_post};
use super::Page;
use crate::app::bookings::{self as rules, BookingInput, BookingPatch};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use parley_engine::booking::{BookingRecord, BookingStatus};
use parley_engine::codes::error as code;
use parley_engine::permissions::Action;
use parley_engine::*;
use parley_storage::BookingStore;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// The window of `GET …/slots`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlotQuery {
    /// RFC 3339; default now.
    from: Option<String>,
    /// RFC 3339; default 14 days after `from` (at most 62 days after it).
    to: Option<String>,
}

fn time_param(v: Option<&str>, name: &str) -> Result<Option<Timestamp>, ApiError> {
    v.map(|s| {
        Timestamp::parse_rfc3339(s).ok_or_else(|| {
            ApiError::bad_request(
                code::BAD_REQUEST,
                format!("{name} must be an RFC 3339 time"),
            )
        })
    })
    .transpose()
}

/// The free consultation slots of a site.
#[utoipa::path(get, path = "/api/v1/public/{site_key}/consultations/slots", tag = "public",
    params(("site_key" = String, Path), SlotQuery),
    responses((status = 200, description = "`{slots:[{start,end}]}`", body = Object), (status = 400), (status = 404)))]
pub async fn slots(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<SlotQuery>,
) -> Result<Json<Value>, ApiError> {
    let site = site_for(&app, &key, &headers)?;
    let from = time_param(q.from.as_deref(), "from")?.unwrap_or_else(Timestamp::now);
    let to = time_param(q.to.as_deref(), "to")?
        .unwrap_or_else(|| from.after(Duration::from_secs(14 * 86_400)));
    let slots = rules::free_slots(&app, &site, from, to).await?;
    let forms = app.store.site_forms(site.tenant_id, site.id)?.consultations;
    Ok(Json(json!({
        "slots": slots.iter().map(|s| json!({"start": s.start, "end": s.end})).collect::<Vec<_>>(),
        "topics": forms.topics,
        "enabled": forms.enabled,
    })))
}

/// Books a consultation.
#[utoipa::path(post, path = "/api/v1/public/{site_key}/consultations", tag = "public",
    params(("site_key" = String, Path)), request_body = BookingInput,
    responses((status = 201, description = "`{id,status,start,end}`", body = Object),
        (status = 400, description = "`invalid`, or `slot_unavailable`"),
        (status = 403, description = "`origin_not_allowed`, or `tenant_suspended`"), (status = 404),
        (status = 409, description = "`slot_taken`"), (status = 429)))]
pub async fn book(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
    caller: Caller,
    ApiJson(input): ApiJson<BookingInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let site = site_for_post(&app, &key, &headers)?;
    app.limiters.form(caller.ip, site.id)?;
    let b = rules::book(&app, &site, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": b.id, "status": b.status, "start": b.span.start, "end": b.span.end})),
    ))
}

/// The staff view of a booking.
pub fn view(b: &BookingRecord) -> Value {
    json!({
        "id": b.id, "site_id": b.site_id, "name": b.name, "email": b.email, "phone": b.phone,
        "company": b.company, "topic": b.topic, "message": b.message,
        "start": b.span.start, "end": b.span.end, "status": b.status, "assignee": b.assignee,
        "notes": b.notes, "timezone": b.timezone, "history": b.history.iter().map(|h| json!({"at": h.at, "what": h.what, "by": h.by})).collect::<Vec<_>>(),
        "created_at": b.created_at,
    })
}

/// Filters of `GET /consultations`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BookingQuery {
    /// Consultations starting at or after this time (RFC 3339).
    from: Option<String>,
    /// … and before this one.
    to: Option<String>,
    /// `requested`, `confirmed`, `completed`, `cancelled` or `no_show`.
    status: Option<String>,
    site_id: Option<String>,
    /// A staff id, `me`, or `none`.
    assignee: Option<String>,
    cursor: Option<String>,
    /// 1 to 500, default 100.
    limit: Option<usize>,
}

/// The tenant's consultations, newest booked first.
#[utoipa::path(get, path = "/api/v1/consultations", tag = "consultations", params(BookingQuery),
    responses((status = 200, body = Page)), security(("bearer" = [])))]
pub async fn list(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<BookingQuery>,
) -> Result<Json<Page>, ApiError> {
    me.require(Action::ReadConversations)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let before = query_param::<BookingId>(q.cursor.as_deref(), "cursor")?;
    let site = query_param::<SiteId>(q.site_id.as_deref(), "site_id")?;
    let from = time_param(q.from.as_deref(), "from")?;
    let to = time_param(q.to.as_deref(), "to")?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(BookingStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                code::INVALID,
                "status is requested, confirmed, completed, cancelled or no_show",
            )
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
    let keep = |b: &BookingRecord| {
        site.is_none_or(|s| b.site_id == s)
            && status.is_none_or(|s| b.status == s)
            && assignee.is_none_or(|a| b.assignee == a)
            && from.is_none_or(|f| b.span.start >= f)
            && to.is_none_or(|t| b.span.start < t)
    };
    let items = app.store.bookings(me.tenant(), before, limit + 1, &keep)?;
    Ok(Json(Page::of(items, limit, |b| b.id.to_string(), view)))
}

/// One consultation.
#[utoipa::path(get, path = "/api/v1/consultations/{id}", tag = "consultations",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    me.require(Action::ReadConversations)?;
    Ok(Json(view(&rules::find(&app, &me, &id)?)))
}

/// Confirms, completes, cancels or marks a no-show; assigns; notes.
#[utoipa::path(patch, path = "/api/v1/consultations/{id}", tag = "consultations", request_body = BookingPatch,
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 400), (status = 404),
        (status = 409, description = "`slot_taken`: the new assignee is booked then")),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BookingPatch>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&rules::update(&app, &me, &id, body).await?)))
}
