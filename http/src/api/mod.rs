//! The HTTP routes: REST under `/api/v1`, health and metrics, the
//! WebSocket upgrades, and the static pages.

pub mod auth;
pub mod error;

use crate::state::App;
use crate::ws;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use error::ApiError;
use serde_json::json;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;

/// Request ids: a ULID per request unless the client sent one.
#[derive(Clone, Copy, Default)]
struct Ulids;

impl MakeRequestId for Ulids {
    fn make_request_id<B>(&mut self, _req: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&ulid::Ulid::new().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// The whole router.
pub fn router(app: App) -> Router {
    let max_json = app.config.limits.max_json_bytes;
    Router::new()
        .route("/", get(landing))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/ws/visitor", get(ws::visitor_upgrade))
        .route("/ws/staff", get(ws::staff_upgrade))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_json))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(Ulids))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

async fn landing() -> Html<&'static str> {
    Html(include_str!("../../web/index.html"))
}

async fn healthz(State(app): State<App>) -> Response {
    let ok = app.writer.is_healthy();
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": app.started.elapsed().as_secs(),
        "connections": app.open_connections(),
        "storage_bytes": app.store.size_on_disk(),
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    metrics::gauge!("parley_ws_connections").set(app.open_connections() as f64);
    let text = app.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
