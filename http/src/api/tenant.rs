//! `/api/v1/tenant`: the caller's tenant. Everyone reads it; only owners
//! change it (its name now; billing later).

use super::error::{ApiError, ApiJson};
use super::principal::Authed;
use crate::app::tenant::TenantPatch;
use crate::state::App;
use axum::extract::State;
use axum::Json;
use parley_engine::records::TenantRecord;
use parley_storage::{AccountStore, AuthStore};
use serde_json::{json, Value};

fn view(app: &App, t: &TenantRecord) -> Result<Value, ApiError> {
    let mut v = crate::app::plans::tenant_json(app, t.id)?;
    v["id"] = json!(t.id);
    v["name"] = json!(t.name);
    v["created_at"] = json!(t.created_at);
    v["suspended"] = json!(app.store.tenant_state(t.id)?.suspended);
    // Whether mail can leave at all (`[mail] smtp_url`): without it the
    // outbox only queues.
    v["mail"] = json!({"configured": app.smtp_configured});
    Ok(v)
}

fn mine(app: &App, me: &Authed) -> Result<TenantRecord, ApiError> {
    app.store
        .tenant(me.tenant())?
        .ok_or_else(|| ApiError::not_found("tenant"))
}

/// The caller's tenant.
#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenant",
    responses((status = 200, body = Object), (status = 401)), security(("bearer" = [])))]
pub async fn get(State(app): State<App>, me: Authed) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&app, &mine(&app, &me)?)?))
}

/// Renames the tenant (owners only).
#[utoipa::path(patch, path = "/api/v1/tenant", tag = "tenant", request_body = TenantPatch,
    responses((status = 200, body = Object), (status = 403)), security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    me: Authed,
    ApiJson(body): ApiJson<TenantPatch>,
) -> Result<Json<Value>, ApiError> {
    let t = crate::app::tenant::update(&app, &me, body).await?;
    Ok(Json(view(&app, &t)?))
}
