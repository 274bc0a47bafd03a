//! The audit log: every mutating action becomes an append-only record,
//! written in the same batch as the change it describes. `GET /api/v1/audit`
//! reads it newest first, cursor-paginated, for owners and admins.

use super::error::{ApiError, ApiQuery};
use super::principal::Authed;
use super::Page;
pub use crate::app::audit::{add, by, entry, write};
use crate::state::App;
use axum::extract::State;
use axum::Json;
use parley_engine::account::AuditRecord;
use parley_engine::permissions::Action;
use parley_engine::*;
use parley_storage::AuthStore;
use serde::Deserialize;
use serde_json::Value;

/// The JSON view of an audit record.
pub fn view(r: &AuditRecord) -> Value {
    serde_json::json!({
        "id": r.id,
        "actor": r.actor,
        "action": r.action,
        "entity_type": r.entity_type,
        "entity_id": r.entity_id,
        "changes": serde_json::from_str::<Value>(&r.changes).unwrap_or(Value::Null),
        "ip": r.ip,
        "user_agent": r.user_agent,
        "at": r.at,
    })
}

/// Filters of `GET /api/v1/audit`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1 to 200, default 50.
    limit: Option<usize>,
    /// An action (`staff.update`) or a prefix ending in a dot (`auth.`).
    action: Option<String>,
    /// The id of the staff member who acted.
    actor_id: Option<String>,
    entity_type: Option<String>,
    entity_id: Option<String>,
    /// RFC 3339; entries at or after.
    since: Option<String>,
    /// RFC 3339; entries before.
    until: Option<String>,
}

fn time(s: &Option<String>, name: &str) -> Result<Option<Timestamp>, ApiError> {
    s.as_deref()
        .map(|v| {
            Timestamp::parse_rfc3339(v).ok_or_else(|| {
                ApiError::bad_request(
                    parley_engine::codes::error::INVALID,
                    format!("{name} must be an RFC 3339 time"),
                )
            })
        })
        .transpose()
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "`{items, next_cursor}`", body = Page), (status = 403, description = "agents may not read the audit log")),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Page>, ApiError> {
    me.require(Action::ReadAudit)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let before = match q.cursor.as_deref() {
        Some(c) => Some(c.parse::<AuditId>().map_err(|_| {
            ApiError::bad_request(parley_engine::codes::error::INVALID, "cursor is not valid")
        })?),
        None => None,
    };
    let (since, until) = (time(&q.since, "since")?, time(&q.until, "until")?);
    let keep = |r: &AuditRecord| {
        q.action.as_deref().is_none_or(|a| {
            if a.ends_with('.') {
                r.action.starts_with(a)
            } else {
                r.action == a
            }
        }) && q
            .actor_id
            .as_deref()
            .is_none_or(|a| r.actor.id.as_deref() == Some(a))
            && q.entity_type.as_deref().is_none_or(|e| r.entity_type == e)
            && q.entity_id
                .as_deref()
                .is_none_or(|e| r.entity_id.as_deref() == Some(e))
            && since.is_none_or(|s| r.at >= s)
            && until.is_none_or(|u| r.at < u)
    };
    let items = app.store.audit(me.tenant(), before, limit + 1, &keep)?;
    Ok(Json(Page::of(items, limit, |r| r.id.to_string(), view)))
}
