//! Webhook endpoints and their delivery log (owners and admins).

use super::error::{ApiError, ApiJson};
use super::principal::Authed;
use super::Page;
use crate::app::webhooks::{self as rules, WebhookInput};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use parley_engine::permissions::Action;
use parley_engine::webhook::{DeliveryRecord, WebhookEndpoint};
use parley_storage::WebhookStore;
use serde_json::{json, Value};

fn view(w: &WebhookEndpoint) -> Value {
    json!({"id": w.id, "url": w.url, "events": w.events, "created_at": w.created_at,
        "rotating_until": w.previous.as_ref().map(|p| p.1)})
}

fn delivery_view(d: &DeliveryRecord) -> Value {
    json!({
        "id": d.id, "event": d.event, "status": d.status, "created_at": d.created_at,
        "next_attempt_at": d.next_attempt_at,
        "attempts": d.attempts.iter().map(|a| json!({"at": a.at, "status": a.status, "ms": a.ms, "error": a.error})).collect::<Vec<_>>(),
    })
}

/// Registers an endpoint: `{id, secret:"whsec_…"}` (the secret is shown only here).
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookInput,
    responses((status = 201, body = Object), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    me: Authed,
    ApiJson(body): ApiJson<WebhookInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let w = rules::create(&app, &me, body).await?;
    let mut v = view(&w);
    v["secret"] = json!(w.secret);
    Ok((StatusCode::CREATED, Json(v)))
}

/// The tenant's endpoints (without secrets).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Page), (status = 403)), security(("bearer" = [])))]
pub async fn list(State(app): State<App>, me: Authed) -> Result<Json<Page>, ApiError> {
    me.require(Action::ManageWebhooks)?;
    let items = app.store.webhooks(me.tenant())?;
    Ok(Json(Page {
        items: items.iter().map(view).collect(),
        next_cursor: None,
    }))
}

/// Removes an endpoint and its log.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    rules::delete(&app, &me, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret (in the answer); the old one keeps signing during the overlap.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)), security(("bearer" = [])))]
pub async fn rotate(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let w = rules::rotate(&app, &me, &id).await?;
    let mut v = view(&w);
    v["secret"] = json!(w.secret);
    Ok(Json(v))
}

/// An endpoint's deliveries, newest first: each attempt's answer and time.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path)), responses((status = 200, body = Page), (status = 404)), security(("bearer" = [])))]
pub async fn deliveries(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Page>, ApiError> {
    let w = rules::find(&app, &me, &id)?;
    let items = app.store.deliveries(me.tenant(), w.id, 200)?;
    Ok(Json(Page {
        items: items.iter().map(delivery_view).collect(),
        next_cursor: None,
    }))
}
