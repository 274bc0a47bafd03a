//! Canned responses: the team's saved replies, inserted in the dashboard's
//! composer by typing `/` and a shortcut. Every staff member may read and
//! manage them (`Action::ManageCanned`); changes are audited.

use super::error::{ApiError, ApiJson};
use super::principal::Authed;
use super::Page;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use parley_engine::account::{valid_shortcut, CannedResponse};
use parley_engine::codes::error as code;
use parley_engine::permissions::Action;
use parley_engine::*;
use parley_storage::{DeskStore, WriteBatch};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The longest canned response, in characters (a message's limit).
const MAX_BODY: usize = 4000;

/// A canned response's fields; both optional on `PATCH`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedInput {
    /// 1–32 characters of `a-z`, `0-9`, `-`, `_`; unique in the tenant.
    shortcut: Option<String>,
    /// 1 to 4,000 characters.
    body: Option<String>,
}

fn view(c: &CannedResponse) -> Value {
    json!({"id": c.id, "shortcut": c.shortcut, "body": c.body, "created_by": c.created_by, "updated_at": c.updated_at})
}

fn check(
    app: &App,
    t: TenantId,
    me: Option<CannedId>,
    shortcut: &str,
    body: &str,
) -> Result<(), ApiError> {
    if !valid_shortcut(shortcut) {
        return Err(ApiError::bad_request(
            code::INVALID,
            "shortcut must be 1 to 32 characters of a-z, 0-9, - and _",
        ));
    }
    let n = body.chars().count();
    if body.trim().is_empty() || n > MAX_BODY {
        return Err(ApiError::bad_request(
            code::INVALID,
            "body must be 1 to 4,000 characters and not blank",
        ));
    }
    if app
        .store
        .canned(t)?
        .iter()
        .any(|c| c.shortcut == shortcut && Some(c.id) != me)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            code::SHORTCUT_TAKEN,
            "another canned response uses that shortcut",
        ));
    }
    Ok(())
}

/// The tenant's canned responses, by shortcut.
#[utoipa::path(get, path = "/api/v1/canned-responses", tag = "canned",
    responses((status = 200, body = Page)), security(("bearer" = [])))]
pub async fn list(State(app): State<App>, me: Authed) -> Result<Json<Page>, ApiError> {
    me.require(Action::ReadConversations)?;
    let mut all = app.store.canned(me.tenant())?;
    all.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
    Ok(Json(Page {
        items: all.iter().map(view).collect(),
        next_cursor: None,
    }))
}

/// Saves a new canned response.
#[utoipa::path(post, path = "/api/v1/canned-responses", tag = "canned", request_body = CannedInput,
    responses((status = 201, body = Object), (status = 400), (status = 409)), security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    me: Authed,
    ApiJson(input): ApiJson<CannedInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // The shortcut is unique in the tenant: check and write under its lock.
    let _guard = app.locks.tenant(me.tenant()).await;
    me.require(Action::ManageCanned)?;
    let shortcut = input.shortcut.unwrap_or_default();
    let body = input.body.unwrap_or_default();
    check(&app, me.tenant(), None, &shortcut, &body)?;
    let c = CannedResponse {
        id: CannedId::new(),
        tenant_id: me.tenant(),
        shortcut,
        body,
        created_by: me.staff.id,
        updated_at: Timestamp::now(),
    };
    let mut b = WriteBatch::new();
    app.store.put_canned(&mut b, &c);
    me.audit(
        &app,
        &mut b,
        "canned.create",
        ("canned", c.id.to_string()),
        json!({"shortcut": c.shortcut}),
    );
    app.writer.write(b).await?;
    Ok((StatusCode::CREATED, Json(view(&c))))
}

fn find(app: &App, me: &Authed, id: &str) -> Result<CannedResponse, ApiError> {
    let id: CannedId = id
        .parse()
        .map_err(|_| ApiError::not_found("canned response"))?;
    app.store
        .canned_one(me.tenant(), id)?
        .ok_or_else(|| ApiError::not_found("canned response"))
}

/// Changes a canned response.
#[utoipa::path(patch, path = "/api/v1/canned-responses/{id}", tag = "canned", request_body = CannedInput,
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 400), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CannedInput>,
) -> Result<Json<Value>, ApiError> {
    // The shortcut is unique in the tenant: check and write under its lock.
    let _guard = app.locks.tenant(me.tenant()).await;
    me.require(Action::ManageCanned)?;
    let mut c = find(&app, &me, &id)?;
    if let Some(s) = input.shortcut {
        c.shortcut = s;
    }
    if let Some(body) = input.body {
        c.body = body;
    }
    check(&app, me.tenant(), Some(c.id), &c.shortcut, &c.body)?;
    c.updated_at = Timestamp::now();
    let mut b = WriteBatch::new();
    app.store.put_canned(&mut b, &c);
    me.audit(
        &app,
        &mut b,
        "canned.update",
        ("canned", c.id.to_string()),
        json!({"shortcut": c.shortcut}),
    );
    app.writer.write(b).await?;
    Ok(Json(view(&c)))
}

/// Deletes a canned response.
#[utoipa::path(delete, path = "/api/v1/canned-responses/{id}", tag = "canned",
    params(("id" = String, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    me.require(Action::ManageCanned)?;
    let c = find(&app, &me, &id)?;
    let mut b = WriteBatch::new();
    app.store.delete_canned(&mut b, c.tenant_id, c.id);
    me.audit(
        &app,
        &mut b,
        "canned.delete",
        ("canned", c.id.to_string()),
        json!({"shortcut": c.shortcut}),
    );
    app.writer.write(b).await?;
    Ok(StatusCode::NO_CONTENT)
}
