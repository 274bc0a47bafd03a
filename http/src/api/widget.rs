//! The widget's files: the loader at `/widget.js`, the chat panel's frame
//! at `/widget/frame?site=KEY` (which only the site's allowed origins may
//! frame), its versioned script and style, and the `/demo` page.

use super::error::{ApiError, ApiQuery};
use super::public::site_for;
use crate::assets::{self, Cache};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use parley_storage::AuthStore;
use serde::Deserialize;

fn asset(name: &str, headers: &HeaderMap, cache: Cache) -> Result<Response, ApiError> {
    let a = assets::get(name).ok_or_else(|| ApiError::not_found("file"))?;
    Ok(assets::serve(a, headers, cache))
}

/// The embeddable loader.
#[utoipa::path(get, path = "/widget.js", tag = "widget",
    description = "Embed with `<script src=\\\"https://HOST/widget.js\\\" data-site=\\\"SITE_KEY\\\" async></script>`.",
    responses((status = 200, content_type = "text/javascript"), (status = 304)))]
pub async fn loader(headers: HeaderMap) -> Result<Response, ApiError> {
    asset("loader.js", &headers, Cache::Short)
}

/// `?site=` of the frame.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FrameQuery {
    /// The site's public key.
    site: String,
}

/// The chat panel, framed by the loader. Only the site's allowed origins
/// (any, when it lists none) may frame it.
#[utoipa::path(get, path = "/widget/frame", tag = "widget", params(FrameQuery),
    responses((status = 200, content_type = "text/html"), (status = 404, description = "unknown site key")))]
pub async fn frame(
    State(app): State<App>,
    ApiQuery(q): ApiQuery<FrameQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let site = site_for(&app, &q.site, &HeaderMap::new())?;
    framable(
        &app,
        &site,
        asset("frame.html", &headers, Cache::Revalidate)?,
    )
}

/// `page` with a policy that lets the site's allowed origins (any, when it
/// lists none) frame it: the widget's panel and the embeddable forms.
pub fn framable(
    app: &App,
    site: &parley_engine::records::SiteRecord,
    mut page: Response,
) -> Result<Response, ApiError> {
    let allowed = app
        .store
        .site_settings(site.tenant_id, site.id)?
        .allowed_origins;
    let ancestors = if allowed.is_empty() {
        "*".to_string()
    } else {
        allowed.join(" ")
    };
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self' ws: wss:; frame-src 'self'; base-uri 'none'; form-action 'self'; \
         object-src 'none'; frame-ancestors {ancestors}"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        page.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(page)
}

/// A site's public company page: its contact form, consultation booking
/// and newsletter sign-up, and the chat widget; `?form=contact`,
/// `?form=booking` or `?form=newsletter` shows one form alone, to frame.
#[utoipa::path(get, path = "/s/{site_key}", tag = "widget", params(("site_key" = String, Path)),
    responses((status = 200, content_type = "text/html"), (status = 404, description = "unknown site key")))]
pub async fn company(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let site = site_for(&app, &key, &HeaderMap::new())?;
    framable(
        &app,
        &site,
        asset("company.html", &headers, Cache::Revalidate)?,
    )
}

/// The widget's scripts and styles: `panel.{version}.js` is immutable.
#[utoipa::path(get, path = "/widget/assets/{file}", tag = "widget",
    params(("file" = String, Path, description = "e.g. `panel.js` or a versioned `panel.0123abcd4567ef89.js`")),
    responses((status = 200), (status = 304), (status = 404)))]
pub async fn file(Path(file): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (a, cache) = assets::lookup(&file).ok_or_else(|| ApiError::not_found("file"))?;
    if a.name.ends_with(".html") {
        return Err(ApiError::not_found("file"));
    }
    let mut r = assets::serve(a, &headers, cache);
    if a.name == "loader.css" {
        // The loader fetches it from the customer's page, another origin.
        r.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    Ok(r)
}

/// A page hosting the widget: `/demo?site=SITE_KEY`.
#[utoipa::path(get, path = "/demo", tag = "widget",
    responses((status = 200, content_type = "text/html")))]
pub async fn demo(headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    asset("demo.html", &headers, Cache::Revalidate)
}
