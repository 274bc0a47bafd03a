//! `/api/v1/staff`: the tenant's staff. Owners manage everyone, admins
//! everyone but owners, agents only their own name (through `/me`); the
//! tenant always keeps an active owner.

use super::auth::{email_taken, hash, one_time};
use super::error::{ApiError, ApiJson};
use super::principal::Authed;
use super::session;
use super::Page;
use crate::admin::new_staff;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use parley_engine::account::TokenKind;
use parley_engine::codes::error as code;
use parley_engine::permissions::{keeps_an_owner, Action, Role};
use parley_engine::records::StaffRecord;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, WriteBatch};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::time::Duration;
use utoipa::ToSchema;

/// The JSON view of a staff member (never the password hash).
pub fn view(s: &StaffRecord) -> Value {
    let status = match (s.active, s.password_hash.is_empty()) {
        (true, _) => "active",
        (false, true) => "invited",
        (false, false) => "deactivated",
    };
    json!({
        "id": s.id,
        "email": s.email,
        "name": s.name,
        "role": s.role,
        "active": s.active,
        "status": status,
        "created_at": s.created_at,
    })
}

fn find(app: &App, me: &Authed, id: &str) -> Result<StaffRecord, ApiError> {
    let id: StaffId = id
        .parse()
        .map_err(|_| ApiError::not_found("staff member"))?;
    app.store
        .staff(me.tenant(), id)?
        .ok_or_else(|| ApiError::not_found("staff member"))
}

fn active_owners(app: &App, t: TenantId) -> Result<usize, ApiError> {
    Ok(app
        .store
        .staff_list(t)?
        .iter()
        .filter(|s| s.active && s.role == Role::Owner)
        .count())
}

fn last_owner() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        code::LAST_OWNER,
        "the tenant must keep at least one active owner",
    )
}

fn role(raw: &str) -> Result<Role, ApiError> {
    Role::parse(raw)
        .ok_or_else(|| ApiError::bad_request(code::INVALID, "role must be owner, admin or agent"))
}

/// The tenant's staff, oldest first.
#[utoipa::path(get, path = "/api/v1/staff", tag = "staff",
    responses((status = 200, body = Page)), security(("bearer" = [])))]
pub async fn list(State(app): State<App>, me: Authed) -> Result<Json<Page>, ApiError> {
    me.require(Action::ViewStaff)?;
    let items = app
        .store
        .staff_list(me.tenant())?
        .iter()
        .map(view)
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// `POST /staff` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    name: String,
    email: String,
    /// `owner`, `admin` or `agent`.
    role: String,
    /// With a password the account is ready at once; without one an
    /// invitation is mailed.
    password: Option<String>,
}

/// Adds a staff member, ready or invited.
#[utoipa::path(post, path = "/api/v1/staff", tag = "staff", request_body = NewStaff,
    responses((status = 201, body = Object), (status = 403), (status = 409, description = "`email_taken`")),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<App>,
    me: Authed,
    ApiJson(body): ApiJson<NewStaff>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let role = role(&body.role)?;
    me.require(Action::ManageStaff(role))?;
    let email = parley_engine::validate::email(&body.email)?;
    let name = parley_engine::validate::name(&body.name)?;
    let phc = match body.password {
        Some(pw) => {
            parley_engine::validate::password(&pw, &email)?;
            hash(&app, pw).await?
        }
        None => String::new(),
    };
    let _guard = app.accounts.lock().await;
    if app.store.staff_by_email(&email)?.is_some() {
        return Err(email_taken(&email));
    }
    let staff = new_staff(me.tenant(), email, name, role, phc);
    let mut b = WriteBatch::new();
    app.store.put_staff(&mut b, &staff);
    if !staff.active {
        let ttl = Duration::from_secs(app.config.auth.invitation_ttl_hours.max(1) * 3600);
        let link = one_time(&app, &mut b, TokenKind::Invitation, &staff, ttl, "invite");
        crate::mail::queue(
            &app,
            &mut b,
            crate::mail::Envelope::new(
                staff.tenant_id,
                &staff.email,
                crate::mail::Kind::Invitation,
            ),
            json!({"inviter": me.staff.name, "link": link, "hours": ttl.as_secs() / 3600}),
        )?;
    }
    me.audit(
        &app,
        &mut b,
        if staff.active {
            "staff.create"
        } else {
            "staff.invite"
        },
        ("staff", staff.id.to_string()),
        json!({"email": staff.email, "name": staff.name, "role": staff.role}),
    );
    app.writer.write(b).await?;
    crate::mail::sent(&app);
    Ok((StatusCode::CREATED, Json(view(&staff))))
}

/// One staff member.
#[utoipa::path(get, path = "/api/v1/staff/{id}", tag = "staff",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    me.require(Action::ViewStaff)?;
    Ok(Json(view(&find(&app, &me, &id)?)))
}

/// `PATCH /staff/{id}` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffPatch {
    name: Option<String>,
    role: Option<String>,
    /// `false` deactivates: every session ends at once.
    active: Option<bool>,
}

/// Changes a staff member's name, role or activity.
#[utoipa::path(patch, path = "/api/v1/staff/{id}", tag = "staff", request_body = StaffPatch,
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 403), (status = 404), (status = 409, description = "`last_owner`")),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StaffPatch>,
) -> Result<Json<Value>, ApiError> {
    let _guard = app.accounts.lock().await;
    let before = find(&app, &me, &id)?;
    let self_name_only = before.id == me.staff.id && body.role.is_none() && body.active.is_none();
    if !self_name_only {
        me.require(Action::ManageStaff(before.role))?;
    }
    let mut after = before.clone();
    let mut changes = Map::new();
    if let Some(n) = &body.name {
        after.name = parley_engine::validate::name(n)?;
        changes.insert("name".into(), json!([before.name, after.name]));
    }
    if let Some(r) = &body.role {
        after.role = role(r)?;
        me.require(Action::ManageStaff(after.role))?;
        changes.insert("role".into(), json!([before.role, after.role]));
    }
    if let Some(a) = body.active {
        if a && before.password_hash.is_empty() {
            return Err(ApiError::bad_request(
                code::INVALID_STATE,
                "an invited staff member becomes active by accepting the invitation",
            ));
        }
        after.active = a;
        changes.insert("active".into(), json!([before.active, after.active]));
    }
    let is_owner = |s: &StaffRecord| s.active && s.role == Role::Owner;
    if !keeps_an_owner(
        active_owners(&app, me.tenant())?,
        is_owner(&before),
        is_owner(&after),
    ) {
        return Err(last_owner());
    }
    let deactivated = before.active && !after.active;
    let mut b = WriteBatch::new();
    if deactivated {
        session::revoke_all(&app, &mut b, &mut after)?;
    } else {
        app.store.put_staff(&mut b, &after);
    }
    me.audit(
        &app,
        &mut b,
        if deactivated {
            "staff.deactivate"
        } else {
            "staff.update"
        },
        ("staff", after.id.to_string()),
        Value::Object(changes),
    );
    app.writer.write(b).await?;
    if deactivated {
        session::kick(&app, &after).await;
    } else if before.role != after.role {
        // Live sockets hold the old role: have them reconnect with the new one.
        if let Ok(h) = app.system.tenant(after.tenant_id).await {
            let _ = h
                .actor
                .cast(parley_actors::TenantMsg::ReconnectStaff { staff: after.id });
        }
    }
    Ok(Json(view(&after)))
}

/// Removes a staff member; their sessions end. Their messages keep their name.
#[utoipa::path(delete, path = "/api/v1/staff/{id}", tag = "staff",
    params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404), (status = 409, description = "`last_owner`")),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let _guard = app.accounts.lock().await;
    let mut target = find(&app, &me, &id)?;
    me.require(Action::ManageStaff(target.role))?;
    let was_owner = target.active && target.role == Role::Owner;
    if !keeps_an_owner(active_owners(&app, me.tenant())?, was_owner, false) {
        return Err(last_owner());
    }
    let mut b = WriteBatch::new();
    app.store.delete_staff(&mut b, &target)?;
    me.audit(
        &app,
        &mut b,
        "staff.delete",
        ("staff", target.id.to_string()),
        json!({"email": target.email, "role": target.role}),
    );
    app.writer.write(b).await?;
    target.token_version += 1;
    session::kick(&app, &target).await;
    Ok(StatusCode::NO_CONTENT)
}
