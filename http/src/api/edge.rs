//! The edge every request passes: request ids, security headers, CORS for
//! the public per-site routes, the per-IP API budget and a structured
//! access log line (request id, route, status, duration, who) per request.
//! Bodies, queries and credentials are never logged.

use super::principal::{Caller, LogSlot};
use super::public::cors_allows;
use crate::app::error::ApiError;
use crate::state::App;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use parley_engine::codes::error as code;
use std::time::{Duration, Instant};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;

/// The dashboard's content security policy: our own scripts and styles
/// only, sockets to ourselves, and no framing. (A route that may be framed
/// sets its own `frame-ancestors`, which this layer then leaves alone.)
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'; object-src 'none'";

/// Request ids: a ULID per request unless the client sent one.
#[derive(Clone, Copy, Default)]
struct Ulids;

impl MakeRequestId for Ulids {
    fn make_request_id<B>(&mut self, _req: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&ulid::Ulid::new().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Wraps the routes in the edge layers.
pub fn layers(router: Router<App>, app: App) -> Router<App> {
    let cors_app = app.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            parts.uri.path().starts_with("/api/v1/public/")
                && origin
                    .to_str()
                    .is_ok_and(|o| cors_allows(&cors_app, parts.uri.path(), o))
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600));
    let header =
        |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    router
        .route_layer(from_fn(note_route))
        .layer(cors)
        .layer(from_fn_with_state(app.clone(), guard))
        .layer(from_fn_with_state(app, access))
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(
            header::REFERRER_POLICY,
            "strict-origin-when-cross-origin",
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(Ulids))
}

/// Records the matched route template for the access log.
async fn note_route(req: Request, next: Next) -> Response {
    if let (Some(slot), Some(m)) = (
        req.extensions().get::<LogSlot>(),
        req.extensions().get::<MatchedPath>(),
    ) {
        let _ = slot.0.route.set(m.as_str().to_owned());
    }
    next.run(req).await
}

/// Refuses, with the contract's body and before anything else runs, a
/// request whose target or headers exceed the limits, or whose declared
/// body does: that one at once, rather than waiting for a body the limit
/// would refuse anyway (or that never comes).
async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let l = &app.config.limits;
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > l.max_uri_bytes {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            code::BAD_REQUEST,
            format!(
                "the request target is longer than {} bytes",
                l.max_uri_bytes
            ),
        )
        .into_response();
    }
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if headers.len() > l.max_headers || bytes > l.max_header_bytes {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            code::BAD_REQUEST,
            format!(
                "the request headers exceed {} headers or {} bytes",
                l.max_headers, l.max_header_bytes
            ),
        )
        .into_response();
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let max_body = if req.uri().path() == super::billing::WEBHOOK_PATH {
        app.config.billing.webhook_max_bytes
    } else {
        l.max_json_bytes
    };
    if declared.is_some_and(|n| n > max_body as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {max_body} bytes"),
        )
        .into_response();
    }
    let socket = req.uri().path().starts_with("/ws/");
    let mut resp = next.run(req).await;
    // A refused WebSocket upgrade closes its connection: a flood of them
    // must not stay behind as idle HTTP connections (each holds hyper's
    // buffers: more than an open socket would).
    if socket && resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// The per-IP API budget and the access log line.
async fn access(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let slot = LogSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let caller = Caller::from_http(req.headers(), req.extensions(), &app.proxies);
    let budget = if req.uri().path().starts_with("/api/") {
        app.limiters.api(caller.ip)
    } else {
        Ok(())
    };
    let resp = match budget {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    };
    let f = &slot.0;
    tracing::info!(
        target: "parley::access",
        request_id = %request_id,
        method = %method,
        route = f.route.get().map(String::as_str).unwrap_or("-"),
        status = resp.status().as_u16(),
        duration_ms = start.elapsed().as_secs_f64() * 1000.0,
        ip = %caller.ip,
        who = f.who.get().map(String::as_str).unwrap_or("-"),
    );
    resp
}
