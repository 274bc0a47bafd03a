//! The one API error type rendered: every failure becomes the contract's
//! body `{"error":{"code","message"}}` with its status (the type itself is
//! the application layer's, in `app::error`), plus the JSON and query
//! extractors whose rejections use that body.

pub use crate::app::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parley_engine::codes::error as code;

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
