//! The HTTP routes: REST under `/api/v1`, health and metrics, the
//! WebSocket upgrades, and the static pages. Every route is registered
//! through utoipa's router, so the OpenAPI document served at
//! `/api/v1/openapi.json` is generated from the same list the server routes by.

pub mod analytics;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod canned;
pub mod consultations;
pub mod contacts;
pub mod conversations;
pub mod download;
pub mod edge;
pub mod error;
pub mod limits;
pub mod links;
pub mod lockout;
pub mod me;
pub mod newsletter;
pub mod notifications;
pub mod outbox;
pub mod pages;
pub mod principal;
pub mod public;
pub mod sites;
pub mod staff;
pub mod system;
pub mod tenant;
pub mod visitors;
pub mod webhooks;
pub mod widget;

use crate::state::App;
use crate::ws;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
pub use download::{csv_pages, csv_response};
use error::ApiError;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// One page of a cursor-paginated list.
#[derive(Serialize, ToSchema)]
pub struct Page {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

impl Page {
    /// A page from `items` fetched with one extra beyond `limit` (its
    /// presence means there is a next page).
    pub fn of<T>(
        mut items: Vec<T>,
        limit: usize,
        cursor: impl Fn(&T) -> String,
        view: impl Fn(&T) -> Value,
    ) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        Self {
            next_cursor: if more { items.last().map(cursor) } else { None },
            items: items.iter().map(view).collect(),
        }
    }
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Parley",
        description = "Self-hosted multi-tenant live chat. Errors: `{\"error\":{\"code\",\"message\"}}`. \
            Every response carries `x-request-id`. WebSocket frames: see engine/PROTOCOL.md."
    ),
    modifiers(&Bearer)
)]
struct Doc;

/// Every route with its documentation, before state and layers.
fn routes() -> OpenApiRouter<App> {
    let public = OpenApiRouter::new()
        .routes(routes!(public::config))
        .routes(routes!(contacts::submit))
        .routes(routes!(contacts::transcript))
        .routes(routes!(contacts::history))
        .routes(routes!(consultations::slots))
        .routes(routes!(consultations::book))
        .routes(routes!(newsletter::sign_up))
        .routes(routes!(links::describe, links::act));
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(pages::landing))
        .routes(routes!(pages::app))
        .routes(routes!(pages::app_slash))
        .routes(routes!(pages::admin))
        .routes(routes!(pages::admin_slash))
        .routes(routes!(pages::file))
        .routes(routes!(pages::favicon))
        .routes(routes!(widget::loader))
        .routes(routes!(widget::frame))
        .routes(routes!(widget::file))
        .routes(routes!(widget::demo))
        .routes(routes!(widget::company))
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
        .routes(routes!(ws::visitor_upgrade))
        .routes(routes!(ws::staff_upgrade))
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(auth::reset_request))
        .routes(routes!(auth::reset_confirm))
        .routes(routes!(auth::check_link))
        .routes(routes!(auth::confirm_signup))
        .routes(routes!(auth::accept_invitation))
        .routes(routes!(me::me, me::update_me))
        .routes(routes!(me::change_password))
        .routes(routes!(me::sessions))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::read))
        .routes(routes!(me::end_session))
        .routes(routes!(staff::list, staff::create))
        .routes(routes!(staff::get, staff::update, staff::delete))
        .routes(routes!(staff::send_link))
        .routes(routes!(sites::list, sites::create))
        .routes(routes!(sites::get, sites::update, sites::delete))
        .routes(routes!(sites::rotate_key))
        .routes(routes!(tenant::get, tenant::update))
        .routes(routes!(contacts::list))
        .routes(routes!(contacts::export))
        .routes(routes!(contacts::get, contacts::update))
        .routes(routes!(contacts::reply))
        .routes(routes!(contacts::note))
        .routes(routes!(consultations::list))
        .routes(routes!(consultations::get, consultations::update))
        .routes(routes!(links::link_page, links::one_click))
        .routes(routes!(conversations::list))
        .routes(routes!(conversations::get))
        .routes(routes!(conversations::messages))
        .routes(routes!(visitors::list))
        .routes(routes!(visitors::get, visitors::erase))
        .routes(routes!(visitors::export))
        .routes(routes!(canned::list, canned::create))
        .routes(routes!(canned::update, canned::delete))
        .routes(routes!(audit::list))
        .routes(routes!(newsletter::list))
        .routes(routes!(newsletter::export))
        .routes(routes!(analytics::get))
        .routes(routes!(analytics::export))
        .routes(routes!(analytics::staff))
        .routes(routes!(newsletter::campaigns, newsletter::create_campaign))
        .routes(routes!(newsletter::campaign, newsletter::update_campaign))
        .routes(routes!(newsletter::send))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::delete))
        .routes(routes!(webhooks::rotate))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(outbox::outbox))
        .routes(routes!(outbox::mail))
        .routes(routes!(outbox::retry_mail))
        .routes(routes!(system::login))
        .routes(routes!(system::tenants))
        .routes(routes!(system::suspend))
        .routes(routes!(system::resume))
        .routes(routes!(system::update_tenant))
        .routes(routes!(system::stats))
        .routes(routes!(system::backup))
        .routes(routes!(billing::list))
        .routes(routes!(billing::checkout))
        .routes(routes!(billing::webhook))
        .merge(public)
}

/// The OpenAPI document, as served.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

/// The whole router.
pub fn router(app: App) -> Router {
    let (mut router, _) = routes().split_for_parts();
    if app.config.testing.echo_endpoint {
        router = router.route("/ws/echo", axum::routing::get(ws::echo_upgrade));
    }
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(app.config.limits.max_json_bytes));
    edge::layers(router, app.clone()).with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        parley_engine::codes::error::METHOD_NOT_ALLOWED,
        "this route does not take that method",
    )
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
async fn openapi_json() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = DOC.get_or_init(|| {
        let doc = serde_json::to_value(openapi()).unwrap_or_default();
        serde_json::to_string_pretty(&with_errors(doc)).unwrap_or_default()
    });
    ([(header::CONTENT_TYPE, "application/json")], text.as_str()).into_response()
}

/// The answers every route can give besides its own, in the contract's
/// error body: a bad request or body (400, 413, 414, 415, 431), no or a revoked
/// token (401), a role without the right (403), an unknown or another
/// tenant's id (404), a method the route does not take (405), a conflict
/// (409), the per-address budget (429), storage refusing writes or too many
/// connections (503).
const ERRORS: [(&str, &str); 12] = [
    ("400", "bad request"),
    ("401", "no valid token"),
    ("403", "not allowed for this role or plan"),
    ("404", "not found (another tenant's ids too)"),
    ("405", "method not allowed"),
    ("409", "conflict"),
    ("413", "body too large"),
    ("414", "request target too long"),
    ("415", "a body that is not JSON"),
    ("429", "over budget; see Retry-After"),
    ("431", "request headers too large"),
    ("503", "storage refuses writes, or too many connections"),
];

/// `doc` with the [`ERRORS`] documented on every operation that does not
/// document them itself, and the error body as a schema.
fn with_errors(mut doc: Value) -> Value {
    doc["components"]["schemas"]["Error"] = json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }},
    });
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            let Some(ops) = item.as_object_mut() else {
                continue;
            };
            for op in ops.values_mut() {
                let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                    continue;
                };
                let body = json!({"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}});
                for (status, what) in ERRORS {
                    responses
                        .entry(status)
                        .or_insert_with(|| json!({"description": what}));
                }
                for (status, r) in responses.iter_mut() {
                    if status.starts_with(['4', '5']) && r.get("content").is_none() {
                        r["content"] = body.clone();
                    }
                }
            }
        }
    }
    doc
}

/// Liveness and storage health.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, body = Object), (status = 503, description = "storage refuses writes; `reason` says why")))]
async fn healthz(State(app): State<App>) -> Response {
    let trouble = app.writer.trouble();
    let ok = trouble.is_none();
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "reason": trouble,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": app.started.elapsed().as_secs(),
        "connections": app.open_connections(),
        "storage_bytes": app.store.size_on_disk(),
        // A cluster node: its name and how many tenants it owns now.
        "cluster": app.cluster.as_ref().map(|n| json!({
            "node": n.id,
            "tenants": n.keeper.held_count(),
        })),
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, content_type = "text/plain")))]
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
