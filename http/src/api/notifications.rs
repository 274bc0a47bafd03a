//! The signed-in member's notification bell.

use super::error::{ApiError, ApiJson};
use super::principal::Authed;
use crate::app::notify;
use crate::state::App;
use axum::extract::State;
use axum::Json;
use parley_engine::NotificationId;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The caller's notifications, newest first (the latest 200), with the
/// unread count; new ones also arrive live as `notification` frames on
/// the staff socket.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "me",
    responses((status = 200, description = "`{items:[{id,kind,title,link,read,created_at}],unread}`", body = Object)),
    security(("bearer" = [])))]
pub async fn list(State(app): State<App>, me: Authed) -> Result<Json<Value>, ApiError> {
    let (items, unread) = notify::list(&app, &me)?;
    Ok(Json(json!({"items": items, "unread": unread})))
}

/// `POST /notifications/read` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadInput {
    /// These; none: every one.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    ids: Option<Vec<NotificationId>>,
}

/// Marks notifications read; answers how many stay unread.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "me", request_body = ReadInput,
    responses((status = 200, description = "`{unread}`", body = Object)), security(("bearer" = [])))]
pub async fn read(
    State(app): State<App>,
    me: Authed,
    ApiJson(body): ApiJson<ReadInput>,
) -> Result<Json<Value>, ApiError> {
    let unread = notify::mark_read(&app, &me, body.ids).await?;
    Ok(Json(json!({"unread": unread})))
}
