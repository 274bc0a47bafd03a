//! `/api/v1/staff`: the tenant's team. Handlers parse, call
//! `app::staff` (where the rules live) and render.

use super::error::{ApiError, ApiJson};
use super::principal::Authed;
use super::Page;
use crate::app::staff::{self as rules, find, NewStaff, StaffPatch};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use parley_engine::permissions::Action;
use parley_engine::records::StaffRecord;
use parley_storage::AuthStore;
use serde_json::{json, Value};

/// The JSON view of a staff member (never the password hash).
pub fn view(s: &StaffRecord) -> Value {
    let status = match (s.active, s.password_hash.is_empty()) {
        (true, _) => "active",
        (false, true) => "invited",
        (false, false) => "deactivated",
    };
    json!({
        "id": s.id,
        "email": s.email,
        "name": s.name,
        "role": s.role,
        "active": s.active,
        "status": status,
        "created_at": s.created_at,
    })
}

/// The tenant's staff, oldest first.
#[utoipa::path(get, path = "/api/v1/staff", tag = "staff",
    responses((status = 200, body = Page)), security(("bearer" = [])))]
pub async fn list(State(app): State<App>, me: Authed) -> Result<Json<Page>, ApiError> {
    me.require(Action::ViewStaff)?;
    let items = app
        .store
        .staff_list(me.tenant())?
        .iter()
        .map(view)
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// Adds a staff member, ready or invited.
/// With no SMTP server configured, an invitation cannot be mailed: the
/// answer then carries `invite_link` for the owner or admin to pass on
/// (only they may add staff), and `mail_configured: false` either way.
#[utoipa::path(post, path = "/api/v1/staff", tag = "staff", request_body = NewStaff,
    responses((status = 201, description = "the member, `mail_configured`, and `invite_link` when invited with no SMTP server", body = Object),
        (status = 403), (status = 409, description = "`email_taken`")),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    me: Authed,
    ApiJson(body): ApiJson<NewStaff>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (staff, link) = rules::create(&app, &me, body).await?;
    let mut v = view(&staff);
    v["mail_configured"] = app.smtp_configured.into();
    if let Some(link) = link {
        v["invite_link"] = link.into();
    }
    Ok((StatusCode::CREATED, Json(v)))
}

/// Sends a member a fresh link: an invited member a new invitation, an
/// active one a password reset (owners and admins; an owner's link only
/// an owner). The mail is queued; with no SMTP server configured it cannot
/// leave, and the answer carries the `link` to pass on.
#[utoipa::path(post, path = "/api/v1/staff/{id}/link", tag = "staff",
    params(("id" = String, Path)),
    responses((status = 200, description = "`{mail_configured, link?}`: `link` only when no SMTP server is configured", body = Object),
        (status = 403), (status = 404), (status = 409, description = "`invalid_state`: deactivated")),
    security(("bearer" = [])))]
pub async fn send_link(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let link = rules::send_link(&app, &me, &id).await?;
    let mut v = json!({"mail_configured": app.smtp_configured});
    if let Some(link) = link {
        v["link"] = link.into();
    }
    Ok(Json(v))
}

/// One staff member.
#[utoipa::path(get, path = "/api/v1/staff/{id}", tag = "staff",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    me.require(Action::ViewStaff)?;
    Ok(Json(view(&find(&app, &me, &id)?)))
}

/// Changes a staff member's name, role or activity.
#[utoipa::path(patch, path = "/api/v1/staff/{id}", tag = "staff", request_body = StaffPatch,
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 403), (status = 404), (status = 409, description = "`last_owner`")),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StaffPatch>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&rules::update(&app, &me, &id, body).await?)))
}

/// Removes a staff member; their sessions end. Their messages keep their name.
#[utoipa::path(delete, path = "/api/v1/staff/{id}", tag = "staff",
    params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409, description = "`last_owner`")),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    rules::delete(&app, &me, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
