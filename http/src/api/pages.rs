//! The staff pages: the landing page (sign-up and sign-in) at `/`, the
//! dashboard at `/app/`, system admin at `/admin/`, and their scripts,
//! styles, icon (`favicon.svg`, also at `/favicon.ico`) and web app manifest
//! at `/assets/{file}` — embedded, gzipped once, served with ETags.

use super::error::ApiError;
use crate::assets::{self, Cache};
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

pub fn page(name: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let a = assets::get(name).ok_or_else(|| ApiError::not_found("page"))?;
    Ok(assets::serve(a, headers, Cache::Revalidate))
}

/// The landing page: what Parley is, sign-up and sign-in.
#[utoipa::path(get, path = "/", tag = "pages", responses((status = 200, content_type = "text/html")))]
pub async fn landing(headers: HeaderMap) -> Result<Response, ApiError> {
    page("landing.html", &headers)
}

/// The staff dashboard (a single page; views are addressed by `#/…`).
#[utoipa::path(get, path = "/app/", tag = "pages", responses((status = 200, content_type = "text/html")))]
pub async fn app(headers: HeaderMap) -> Result<Response, ApiError> {
    page("app.html", &headers)
}

/// `/app` → `/app/`.
#[utoipa::path(get, path = "/app", tag = "pages", responses((status = 308)))]
pub async fn app_slash() -> impl IntoResponse {
    Redirect::permanent("/app/")
}

/// System admin for the instance operator.
#[utoipa::path(get, path = "/admin/", tag = "pages", responses((status = 200, content_type = "text/html")))]
pub async fn admin(headers: HeaderMap) -> Result<Response, ApiError> {
    page("admin.html", &headers)
}

/// `/admin` → `/admin/`.
#[utoipa::path(get, path = "/admin", tag = "pages", responses((status = 308)))]
pub async fn admin_slash() -> impl IntoResponse {
    Redirect::permanent("/admin/")
}

/// The icon, for pages that name none (the staff pages link
/// `/assets/favicon.svg`; a browser asks for this path otherwise).
#[utoipa::path(get, path = "/favicon.ico", tag = "pages", responses((status = 200, content_type = "image/svg+xml")))]
pub async fn favicon(headers: HeaderMap) -> Result<Response, ApiError> {
    let a = assets::get("favicon.svg").ok_or_else(|| ApiError::not_found("file"))?;
    Ok(assets::serve(a, &headers, Cache::Short))
}

/// A script or style of the staff pages (never an HTML page).
#[utoipa::path(get, path = "/assets/{file}", tag = "pages",
    params(("file" = String, Path)), responses((status = 200), (status = 304), (status = 404)))]
pub async fn file(Path(file): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (a, cache) = assets::lookup(&file).ok_or_else(|| ApiError::not_found("file"))?;
    if a.name.ends_with(".html") {
        return Err(ApiError::not_found("file"));
    }
    Ok(assets::serve(a, &headers, cache))
}
