//! `/api/v1/auth/*`: sign-up, sign-in, refresh, sign-out, password reset,
//! mailed links and invitations. Each handler parses, calls the
//! application layer (`app::accounts`) and renders.

use super::error::{ApiError, ApiJson};
use super::principal::{Authed, Caller};
use crate::app::accounts::{self, ConfirmSignup, Login, RefreshBody, Register, Registered};
use crate::app::links::{self, AcceptInvite, LinkCheck, ResetConfirm, ResetRequest};
use crate::app::sessions::TokenPair;
use crate::state::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

pub use crate::app::accounts::{email_taken, hash, verify};
pub use crate::app::links::one_time;

#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = Register,
    description = "Without SMTP: 201 and signed in. With SMTP configured: 202 `{status: check_mail}` whether or not the address has an account; the mailed link (`/app/#signup=TOKEN`) is opened with `POST /auth/register/confirm`.",
    responses((status = 201, body = TokenPair), (status = 202, description = "a confirmation mail was sent"), (status = 400, description = "invalid or weak input"),
        (status = 403, description = "sign-up is closed (`auth.open_registration = false`)"),
        (status = 409, description = "`email_taken`"), (status = 429, description = "too many attempts")))]
pub async fn register(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<Register>,
) -> Result<Response, ApiError> {
    Ok(match accounts::register(&app, &caller, body).await? {
        Registered::SignedIn(pair) => (StatusCode::CREATED, Json(pair)).into_response(),
        Registered::CheckMail => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"status": "check_mail"})),
        )
            .into_response(),
    })
}

/// Opens a mailed sign-up link: creates the workspace and signs its owner in.
#[utoipa::path(post, path = "/api/v1/auth/register/confirm", tag = "auth", request_body = ConfirmSignup,
    responses((status = 201, body = TokenPair), (status = 401, description = "`invalid_token`: unknown, used or expired"),
        (status = 409, description = "`email_taken`: the address got an account meanwhile"), (status = 429)))]
pub async fn confirm_signup(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<ConfirmSignup>,
) -> Result<(StatusCode, Json<TokenPair>), ApiError> {
    let pair = accounts::confirm_signup(&app, &caller, body).await?;
    Ok((StatusCode::CREATED, Json(pair)))
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login,
    description = "A successful sign-in sets an `HttpOnly` device cookie (`parley_device_…`, path `/api/v1/`): later sign-ins from that browser keep their own budget of failures, so guesses at the account from elsewhere never delay them.",
    responses((status = 200, body = TokenPair), (status = 401, description = "`invalid_credentials`"),
        (status = 403, description = "`tenant_suspended`"), (status = 429, description = "too many attempts or failures, see `Retry-After`")))]
pub async fn login(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    let account = body.account();
    let now = parley_engine::Timestamp::now().millis() / 1000;
    let device = app.devices.from_headers(&headers, &account, now);
    let pair = accounts::login(&app, &caller, body, device).await?;
    Ok(with_device_cookie(
        &app,
        &account,
        device,
        Json(pair).into_response(),
    ))
}

/// `response` with a fresh (or renewed) device cookie for `account`.
pub fn with_device_cookie(
    app: &App,
    account: &str,
    device: Option<u128>,
    mut response: Response,
) -> Response {
    let now = parley_engine::Timestamp::now().millis() / 1000;
    if let Ok(v) = app
        .devices
        .set_cookie(account, device, now)
        .parse::<axum::http::HeaderValue>()
    {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, v);
    }
    response
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = TokenPair), (status = 401, description = "`invalid_token`: unknown, expired, revoked or already used (the session is then revoked)")))]
pub async fn refresh(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(accounts::refresh(&app, &caller, body).await?))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshBody,
    responses((status = 204, description = "signed out")))]
pub async fn logout(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    accounts::logout(&app, &caller, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth",
    responses((status = 204, description = "every session ended"), (status = 401)),
    security(("bearer" = [])))]
pub async fn logout_all(State(app): State<App>, me: Authed) -> Result<StatusCode, ApiError> {
    accounts::logout_all(&app, &me).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, description = "if the account exists, a reset link was sent"), (status = 429)))]
pub async fn reset_request(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    links::reset_request(&app, &caller, body).await?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 200, body = TokenPair, description = "password changed; signed in"), (status = 400, description = "`weak_password`"), (status = 401, description = "`invalid_token`")))]
pub async fn reset_confirm(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<ResetConfirm>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(links::reset_confirm(&app, &caller, body).await?))
}

#[utoipa::path(post, path = "/api/v1/auth/link", tag = "auth", request_body = LinkCheck,
    responses((status = 200, description = "`{kind: invitation|password_reset, email, name, tenant}`", body = Object),
        (status = 401, description = "`invalid_token`: unknown, used or expired"), (status = 429)))]
pub async fn check_link(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<LinkCheck>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(links::check_link(&app, &caller, body).await?))
}

#[utoipa::path(post, path = "/api/v1/auth/invitation/accept", tag = "auth", request_body = AcceptInvite,
    responses((status = 200, body = TokenPair), (status = 400, description = "`weak_password`"), (status = 401, description = "`invalid_token`")))]
pub async fn accept_invitation(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<AcceptInvite>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(links::accept_invitation(&app, &caller, body).await?))
}
