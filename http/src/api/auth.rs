//! `POST /api/v1/auth/login`: email and password in, access token out.

use super::error::{ApiError, ApiJson};
use crate::auth::{dummy_hash, verify_password};
use crate::state::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use parley_engine::codes::error as code;
use parley_storage::AccountStore;
use serde::Deserialize;
use serde_json::{json, Value};

/// Login request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

/// Checks credentials (argon2 off the runtime) and issues an access token.
pub async fn login(
    State(app): State<App>,
    ApiJson(body): ApiJson<Login>,
) -> Result<Json<Value>, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            code::INVALID_CREDENTIALS,
            "wrong email or password",
        )
    };
    let email = body.email.trim().to_ascii_lowercase();
    let staff = app.store.staff_by_email(&email)?;
    let hash = staff
        .as_ref()
        .filter(|s| s.active)
        .map(|s| s.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let ok = tokio::task::spawn_blocking(move || verify_password(&body.password, &hash))
        .await
        .map_err(ApiError::internal)?;
    let staff = match staff {
        Some(s) if ok && s.active => s,
        _ => {
            tracing::info!(email_known = staff.is_some(), "failed login");
            return Err(invalid());
        }
    };
    tracing::info!(staff = %staff.id, tenant = %staff.tenant_id, "login");
    Ok(Json(json!({
        "access_token": app.tokens.issue_staff(&staff),
        "refresh_token": null,
        "token_type": "Bearer",
        "expires_in": app.tokens.access_ttl(),
        "tenant_id": staff.tenant_id,
        "staff_id": staff.id,
    })))
}
