//! The error every application call answers: a status, a stable
//! snake_case code and a human sentence. The edge renders it as the
//! contract's error body; the staff socket as an `error` frame. Internal
//! errors are logged with their cause and answered with a generic message.

use http::StatusCode;
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

impl From<parley_engine::validate::Invalid> for ApiError {
    fn from(e: parley_engine::validate::Invalid) -> Self {
        Self::bad_request(e.code, e.message)
    }
}

impl From<crate::mail::MailError> for ApiError {
    fn from(e: crate::mail::MailError) -> Self {
        match e {
            crate::mail::MailError::OverBudget {
                retry_after_secs, ..
            } => Self {
                retry_after: Some(retry_after_secs.max(1)),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    code::OUTBOX_FULL,
                    e.to_string(),
                )
            },
            crate::mail::MailError::Storage(e) => e.into(),
            e => Self::internal(e),
        }
    }
}

impl From<parley_storage::StorageError> for ApiError {
    fn from(e: parley_storage::StorageError) -> Self {
        use parley_storage::StorageError as E;
        match e {
            // Storage that refuses writes is a state the client can wait out
            // (on a cluster: the database is back, or the tenant's owner is).
            E::NoSpace { .. }
            | E::Poisoned(_)
            | E::WriterGone
            | E::Database(_)
            | E::NotOwner(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::UNAVAILABLE,
                format!("storage refuses writes: {e}"),
            ),
            e => Self::internal(e),
        }
    }
}
