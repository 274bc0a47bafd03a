//! The one API error type: every failure becomes the contract's body
//! `{"error":{"code","message"}}` with a fitting status. Internal errors are
//! logged with their cause and answered with a generic message.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parley_engine::codes::error as code;

/// An error answered to an API client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds to wait, sent as `Retry-After` (429 answers).
    pub retry_after: Option<u64>,
}

/// An optional query parameter parsed as `T` (an id, a cursor); a value
/// that does not parse is a 400 `invalid` naming the parameter.
pub fn query_param<T: std::str::FromStr>(
    v: Option<&str>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    v.map(|s| {
        s.parse::<T>()
            .map_err(|_| ApiError::bad_request(code::INVALID, format!("{name} is not valid")))
    })
    .transpose()
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429 with `Retry-After`.
    pub fn too_many(retry_after_secs: u64, what: &str) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                code::TOO_MANY_REQUESTS,
                format!(
                    "too many {what}; try again in {} s",
                    retry_after_secs.max(1)
                ),
            )
        }
    }

    /// 403 for a role that may not do something.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code::FORBIDDEN, message)
    }

    /// 403 for a suspended tenant.
    pub fn suspended() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            code::TENANT_SUSPENDED,
            "this account is suspended; contact the instance operator",
        )
    }

    /// 401 for an unknown, used, revoked or expired one-time or refresh token.
    pub fn invalid_token(what: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::INVALID_TOKEN,
            format!("the {what} is invalid, used or expired"),
        )
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED,
            "a valid access token is required",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::NOT_FOUND,
            format!("no such {what}"),
        )
    }

    /// Logs `err` and answers a generic 500.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::INTERNAL,
            "the server could not complete the request",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        r
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code::BAD_REQUEST,
                "send JSON with Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    code::PAYLOAD_TOO_LARGE,
                    "the request body is too large",
                )
            }
            other => Self::bad_request(code::BAD_REQUEST, other.body_text()),
        }
    }
}

impl From<parley_engine::validate::Invalid> for ApiError {
    fn from(e: parley_engine::validate::Invalid) -> Self {
        Self::bad_request(e.code, e.message)
    }
}

impl From<crate::mail::MailError> for ApiError {
    fn from(e: crate::mail::MailError) -> Self {
        Self::internal(e)
    }
}

impl From<parley_storage::StorageError> for ApiError {
    fn from(e: parley_storage::StorageError) -> Self {
        Self::internal(e)
    }
}

/// JSON body extractor whose rejections use the contract's error body.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: axum::extract::FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(v))
    }
}

/// Query-string extractor whose rejections use the contract's error body.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(e) => Err(ApiError::bad_request(code::BAD_REQUEST, e.body_text())),
        }
    }
}
