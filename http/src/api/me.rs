//! The signed-in staff member: `/api/v1/me`, their password and their
//! sign-in sessions.

use super::auth::{hash, verify};
use super::error::{ApiError, ApiJson};
use super::principal::Authed;
use super::session::{self, TokenPair};
use super::staff::view as staff_view;
use super::Page;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use parley_engine::account::StaffPrefs;
use parley_engine::codes::error as code;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, DeskStore, WriteBatch};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

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
    json!({"contact_alerts": p.contact_alerts})
}

/// `PATCH /me` body: what a staff member may change about themselves.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    name: Option<String>,
    /// Mail me when a visitor leaves a contact-form message.
    contact_alerts: Option<bool>,
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
    let _guard = app.accounts.lock().await;
    let mut staff = app
        .store
        .staff(me.tenant(), me.staff.id)?
        .ok_or_else(ApiError::unauthorized)?;
    let mut b = WriteBatch::new();
    if let Some(n) = &body.name {
        let before = staff.name.clone();
        staff.name = parley_engine::validate::name(n)?;
        app.store.put_staff(&mut b, &staff);
        me.audit(
            &app,
            &mut b,
            "staff.update",
            ("staff", staff.id.to_string()),
            json!({"name": [before, staff.name]}),
        );
    }
    if let Some(on) = body.contact_alerts {
        let mut prefs = app.store.staff_prefs(me.tenant(), staff.id)?;
        prefs.contact_alerts = on;
        app.store
            .put_staff_prefs(&mut b, me.tenant(), staff.id, &prefs);
    }
    if !b.is_empty() {
        app.writer.write(b).await?;
    }
    let mut view = staff_view(&staff);
    view["prefs"] = prefs_view(&app.store.staff_prefs(me.tenant(), staff.id)?);
    Ok(Json(view))
}

/// `POST /me/password` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password: every other session ends; the answer is
/// a fresh pair for this device.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", request_body = PasswordChange,
    responses((status = 200, body = TokenPair), (status = 400, description = "`weak_password`"),
        (status = 401, description = "`invalid_credentials`: wrong current password")),
    security(("bearer" = [])))]
pub async fn change_password(
    State(app): State<App>,
    me: Authed,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<TokenPair>, ApiError> {
    app.limiters.login(me.caller.ip, &me.staff.email)?;
    if !verify(&app, body.current_password, me.staff.password_hash.clone()).await? {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            code::INVALID_CREDENTIALS,
            "the current password is wrong",
        ));
    }
    parley_engine::validate::password(&body.new_password, &me.staff.email)?;
    let phc = hash(&app, body.new_password).await?;
    let guard = app.accounts.lock().await;
    let mut staff = me.staff.clone();
    staff.password_hash = phc;
    let mut b = WriteBatch::new();
    session::revoke_all(&app, &mut b, &mut staff)?;
    super::auth::password_changed_mail(&app, &mut b, &staff, "in the dashboard")?;
    me.audit(
        &app,
        &mut b,
        "auth.password_change",
        ("staff", staff.id.to_string()),
        json!({}),
    );
    let pair = session::sign_in(&app, b, &staff, &me.caller).await?;
    crate::mail::sent(&app);
    drop(guard);
    session::kick(&app, &staff).await;
    Ok(Json(pair))
}

/// The caller's active sessions, newest first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "me",
    responses((status = 200, description = "`{items:[{id, device, ip, created_at, last_seen, expires_at, current}]}`", body = Page)),
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
    let not_found = || ApiError::not_found("session");
    let id: SessionId = id.parse().map_err(|_| not_found())?;
    let mut s = app
        .store
        .session(me.tenant(), me.staff.id, id)?
        .filter(|s| s.is_active(Timestamp::now()))
        .ok_or_else(not_found)?;
    s.revoked = true;
    let mut b = WriteBatch::new();
    app.store.put_session(&mut b, &s);
    me.audit(
        &app,
        &mut b,
        "auth.session_revoked",
        ("session", id.to_string()),
        json!({}),
    );
    app.writer.write(b).await?;
    session::close_sockets(&app, me.tenant(), me.staff.id, id).await;
    Ok(StatusCode::NO_CONTENT)
}
