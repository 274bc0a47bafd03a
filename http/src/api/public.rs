//! Public routes, per site key, for the widget on a customer's page. CORS
//! answers only the site's allowed origins (any origin when the list is
//! empty); a request from another origin is refused with 403.

use super::error::ApiError;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use parley_engine::account::origin_allowed;
use parley_engine::codes::error as code;
use parley_engine::records::SiteRecord;
use parley_storage::{AccountStore, AuthStore, BookingStore};
use serde_json::{json, Value};

/// The site behind a public key, if the request's origin may use it.
pub fn site_for(app: &App, key: &str, headers: &HeaderMap) -> Result<SiteRecord, ApiError> {
    let site = app
        .store
        .site_by_key(key)?
        .ok_or_else(|| ApiError::not_found("site"))?;
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if same_origin(origin, headers) {
            // The widget's own frame, on Parley's origin.
            return Ok(site);
        }
        let allowed = app
            .store
            .site_settings(site.tenant_id, site.id)?
            .allowed_origins;
        if !origin_allowed(&allowed, origin) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                code::ORIGIN_NOT_ALLOWED,
                format!("{origin} is not an allowed origin of this site"),
            ));
        }
    }
    Ok(site)
}

/// [`site_for`], for a post to one of the site's public forms: a
/// suspended tenant takes none (403 `tenant_suspended`).
pub fn site_for_post(app: &App, key: &str, headers: &HeaderMap) -> Result<SiteRecord, ApiError> {
    let site = site_for(app, key, headers)?;
    if app.store.tenant_state(site.tenant_id)?.suspended {
        return Err(ApiError::suspended());
    }
    Ok(site)
}

/// Whether `origin` is this server's own (the widget frame calling home).
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let o_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((host, o_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
}

/// Whether a browser origin may call the public routes of the site whose
/// key is in `path` (for the CORS layer).
pub fn cors_allows(app: &App, path: &str, origin: &str) -> bool {
    let key = path
        .strip_prefix("/api/v1/public/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("");
    match app.store.site_by_key(key) {
        Ok(Some(site)) => app
            .store
            .site_settings(site.tenant_id, site.id)
            .is_ok_and(|s| origin_allowed(&s.allowed_origins, origin)),
        _ => false,
    }
}

/// What the widget needs before it connects: look, texts, hours, pre-chat
/// fields, and whether the tenant is available at all.
#[utoipa::path(get, path = "/api/v1/public/{site_key}/config", tag = "public",
    params(("site_key" = String, Path)),
    responses((status = 200, body = Object), (status = 403, description = "`origin_not_allowed`"), (status = 404)))]
pub async fn config(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let site = site_for(&app, &key, &headers)?;
    let s = app.store.site_settings(site.tenant_id, site.id)?;
    let suspended = app.store.tenant_state(site.tenant_id)?.suspended;
    let forms = app.store.site_forms(site.tenant_id, site.id)?;
    Ok(Json(json!({
        "site_id": site.id,
        "name": site.name,
        "services": forms.services,
        "bookings": forms.consultations.enabled,
        "color": s.color,
        "position": s.position,
        "theme": s.theme,
        "greeting": s.greeting,
        "offline_message": s.offline_message,
        "business_hours": s.business_hours,
        "chat_only_in_hours": s.chat_only_in_hours,
        "mail": {"configured": app.smtp_configured},
        "pre_chat_fields": s.pre_chat_fields,
        "identity_verification": s.identity_secret.is_some(),
        "available": !suspended,
    })))
}
