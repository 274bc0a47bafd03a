//! `/api/v1/sites`: the tenant's sites, their public widget key (with
//! rotation), allowed origins and widget settings. Everyone sees sites;
//! owners and admins change them (rules in `app::sites`) and see the
//! identity secret.

use super::error::{ApiError, ApiJson};
use super::principal::Authed;
use super::Page;
use crate::app::sites::{self as rules, find, Rotate, SiteInput};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use parley_engine::codes::error as code;
use parley_engine::permissions::{allowed, Action};
use parley_storage::AuthStore;
use serde_json::Value;

pub use crate::app::sites::view;

/// The tenant's sites, oldest first.
#[utoipa::path(get, path = "/api/v1/sites", tag = "sites",
    responses((status = 200, body = Page)), security(("bearer" = [])))]
pub async fn list(State(app): State<App>, me: Authed) -> Result<Json<Page>, ApiError> {
    me.require(Action::ViewSites)?;
    let secrets = allowed(me.staff.role, Action::ManageSites);
    let mut items = Vec::new();
    for s in app.store.sites(me.tenant())? {
        items.push(view(
            &app,
            &s,
            &app.store.site_settings(s.tenant_id, s.id)?,
            secrets,
        ));
    }
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// Adds a site with a fresh public key.
#[utoipa::path(post, path = "/api/v1/sites", tag = "sites", request_body = SiteInput,
    responses((status = 201, body = Object), (status = 400), (status = 403)),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    me: Authed,
    ApiJson(body): ApiJson<SiteInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (site, settings) = rules::create(&app, &me, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&app, &site, &settings, true)),
    ))
}

/// One site.
#[utoipa::path(get, path = "/api/v1/sites/{id}", tag = "sites",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    me.require(Action::ViewSites)?;
    let site = find(&app, &me, &id)?;
    let settings = app.store.site_settings(site.tenant_id, site.id)?;
    let secrets = allowed(me.staff.role, Action::ManageSites);
    Ok(Json(view(&app, &site, &settings, secrets)))
}

/// Changes a site's name or settings.
#[utoipa::path(patch, path = "/api/v1/sites/{id}", tag = "sites", request_body = SiteInput,
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 400), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SiteInput>,
) -> Result<Json<Value>, ApiError> {
    let (site, settings) = rules::update(&app, &me, &id, body).await?;
    Ok(Json(view(&app, &site, &settings, true)))
}

/// Removes a site: its key stops working at once.
#[utoipa::path(delete, path = "/api/v1/sites/{id}", tag = "sites",
    params(("id" = String, Path)), responses((status = 204), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    rules::delete(&app, &me, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the public site key (the old one stops working) or the
/// identity-verification secret.
#[utoipa::path(post, path = "/api/v1/sites/{id}/rotate-key", tag = "sites", request_body = Rotate,
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn rotate_key(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    // The body is optional: nothing at all means the site key.
    let body: Rotate = if body.iter().all(u8::is_ascii_whitespace) {
        Rotate::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(code::BAD_REQUEST, format!("invalid JSON body: {e}"))
        })?
    };
    let (site, settings) = rules::rotate_key(&app, &me, &id, body).await?;
    Ok(Json(view(&app, &site, &settings, true)))
}
