//! Plans and payments: the public price list, the checkout link, and the
//! payment provider's webhook (Stripe-compatible signatures).

use super::error::{ApiError, ApiJson};
use super::principal::{Authed, Caller};
use crate::app::plans;
use crate::state::App;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use parley_engine::codes::error as code;
use parley_engine::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The plans with their limits, features and prices (for a pricing page).
#[utoipa::path(get, path = "/api/v1/plans", tag = "billing",
    responses((status = 200, description = "`{items:[{name,sites,staff,conversations_per_month,retention_days,features,price_cents}], billing}` (`null`: unlimited; `billing` false: plans do not apply on this instance, hide pricing)", body = Object)))]
pub async fn list(State(app): State<App>) -> Json<Value> {
    Json(json!({
        "items": app.plans.iter().map(plans::plan_json).collect::<Vec<_>>(),
        "billing": app.config.billing_on(),
    }))
}

/// `POST /billing/checkout` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    plan: String,
}

/// The payment provider's checkout page for a paid plan (owners only).
#[utoipa::path(post, path = "/api/v1/billing/checkout", tag = "billing", request_body = CheckoutInput,
    responses((status = 200, description = "`{url}`", body = Object), (status = 400), (status = 403),
        (status = 503, description = "payments are not set up")),
    security(("bearer" = [])))]
pub async fn checkout(
    State(app): State<App>,
    me: Authed,
    ApiJson(body): ApiJson<CheckoutInput>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({"url": plans::checkout(&app, &me, &body.plan)?}),
    ))
}

/// Where the provider posts its events (its body limit is
/// `billing.webhook_max_bytes`, not the JSON one).
pub const WEBHOOK_PATH: &str = "/api/v1/billing/webhook";

/// The payment provider's events: `Stripe-Signature: t=…,v1=…` over the raw
/// body with `billing.webhook_secret`, five minutes' tolerance; a repeated
/// event id answers 200 and changes nothing, and so does an event older
/// than the last one applied or about a deleted subscription
/// (`{"ignored":true,"reason"}`). Bodies up to `billing.webhook_max_bytes`.
#[utoipa::path(post, path = "/api/v1/billing/webhook", tag = "billing", request_body = Object,
    responses((status = 200, body = Object), (status = 400, description = "bad or stale signature, or not an event"),
        (status = 413, description = "larger than billing.webhook_max_bytes"),
        (status = 503, description = "no webhook secret configured, or the tenant is moving (Retry-After)")))]
pub async fn webhook(
    State(app): State<App>,
    headers: HeaderMap,
    caller: Caller,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    // Read here, not by the `Bytes` extractor: that one stops at the JSON
    // limit every other route has.
    let max = app.config.billing.webhook_max_bytes;
    let body = axum::body::to_bytes(body, max).await.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            code::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {max} bytes"),
        )
    })?;
    let Some(secret) = &app.config.billing.webhook_secret else {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            code::UNAVAILABLE,
            "payments are not set up on this instance (billing.webhook_secret)",
        ));
    };
    let sig = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !plans::signature_ok(secret, sig, &body, Timestamp::now()) {
        return Err(ApiError::bad_request(
            code::BAD_REQUEST,
            "the Stripe-Signature is missing, wrong or older than five minutes",
        ));
    }
    let event: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(code::BAD_REQUEST, format!("not a JSON event: {e}")))?;
    Ok(Json(plans::webhook(&app, &caller, event).await?))
}
