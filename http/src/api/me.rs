//! The signed-in staff member: `/api/v1/me`, their password and their
//! sign-in sessions.

use super::error::{ApiError, ApiJson};
use super::principal::Authed;
use super::staff::view as staff_view;
use super::Page;
use crate::app::accounts::{self, MePatch, PasswordChange};
use crate::app::sessions::TokenPair;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use parley_engine::account::StaffPrefs;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, DeskStore};
use serde_json::{json, Value};

/// The caller and their tenant.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    responses((status = 200, description = "`{staff, tenant}`", body = Object), (status = 401)),
    security(("bearer" = [])))]
pub async fn me(State(app): State<App>, me: Authed) -> Result<Json<Value>, ApiError> {
    let tenant = app
        .store
        .tenant(me.tenant())?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let prefs = app.store.staff_prefs(me.tenant(), me.staff.id)?;
    Ok(Json(json!({
        "staff": staff_view(&me.staff),
        "tenant": {"id": tenant.id, "name": tenant.name, "created_at": tenant.created_at},
        "session_id": me.session,
        "prefs": prefs_view(&prefs),
    })))
}

fn prefs_view(p: &StaffPrefs) -> Value {
    json!({
        "contact_alerts": p.contact_alerts,
        "timezone": (!p.timezone.is_empty()).then_some(&p.timezone),
    })
}

/// Changes the caller's own profile.
#[utoipa::path(patch, path = "/api/v1/me", tag = "me", request_body = MePatch,
    responses((status = 200, description = "the staff member", body = Object)),
    security(("bearer" = [])))]
pub async fn update_me(
    State(app): State<App>,
    me: Authed,
    ApiJson(body): ApiJson<MePatch>,
) -> Result<Json<Value>, ApiError> {
    let (staff, prefs) = accounts::update_me(&app, &me, body).await?;
    let mut view = staff_view(&staff);
    view["prefs"] = prefs_view(&prefs);
    Ok(Json(view))
}

#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", request_body = PasswordChange,
    responses((status = 200, body = TokenPair), (status = 400, description = "`weak_password`"),
        (status = 401, description = "`invalid_credentials`: wrong current password")),
    security(("bearer" = [])))]
pub async fn change_password(
    State(app): State<App>,
    me: Authed,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(accounts::change_password(&app, &me, body).await?))
}

/// The caller's active sessions, newest first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "me",
    responses((status = 200, description = "`{items:[{id, device, device_name (\"Chrome on Linux\"), ip, created_at, last_seen, expires_at, current}]}`", body = Page)),
    security(("bearer" = [])))]
pub async fn sessions(State(app): State<App>, me: Authed) -> Result<Json<Page>, ApiError> {
    let now = Timestamp::now();
    let mut list = app.store.sessions(me.tenant(), me.staff.id)?;
    list.retain(|s| s.is_active(now));
    list.reverse();
    let items = list
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "device": s.device,
                "device_name": crate::app::sessions::device_name(&s.device),
                "ip": s.ip,
                "created_at": s.created_at,
                "last_seen": s.last_seen,
                "expires_at": s.expires_at,
                "current": me.session == Some(s.id),
            })
        })
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// Ends one of the caller's sessions: its refresh and access tokens stop working.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "me",
    params(("id" = String, Path, description = "session id")),
    responses((status = 204, description = "ended"), (status = 404, description = "no such session of yours")),
    security(("bearer" = [])))]
pub async fn end_session(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    accounts::end_session(&app, &me, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
