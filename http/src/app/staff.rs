//! Staff changes and their rules: who may give which role (one permission
//! function), the tenant keeps an active owner (`last_owner`), an invited
//! member becomes active only by accepting, deactivation and deletion end
//! every session and close every socket, a role change makes live sockets
//! reconnect with the new role. Each change holds its tenant's lock.

use super::accounts::{email_taken, hash};
use super::links::one_time;
use super::principal::Authed;
use super::sessions as session;
use super::ApiError;
use crate::admin::new_staff;
use crate::state::App;
use http::StatusCode;
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

/// A staff member of the caller's tenant (another tenant's id: not found).
pub fn find(app: &App, me: &Authed, id: &str) -> Result<StaffRecord, ApiError> {
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

/// Adds a staff member, ready or invited. With no SMTP server configured
/// the invitation cannot leave: its link is returned, for the owner or
/// admin who invited to pass on (only they can create staff).
pub async fn create(
    app: &App,
    me: &Authed,
    body: NewStaff,
) -> Result<(StaffRecord, Option<String>), ApiError> {
    let role = role(&body.role)?;
    me.require(Action::ManageStaff(role))?;
    // Fails fast before the slow hash; checked again under the lock.
    super::plans::room_for_staff(app, me.tenant(), None)?;
    let email = parley_engine::validate::email(&body.email)?;
    let name = parley_engine::validate::name(&body.name)?;
    let phc = match body.password {
        Some(pw) => {
            parley_engine::validate::password(&pw, &email)?;
            hash(app, pw).await?
        }
        None => String::new(),
    };
    let _tenant = app.locks.tenant(me.tenant()).await;
    let _email = app.locks.email(&email).await;
    super::plans::room_for_staff(app, me.tenant(), None)?;
    if app.store.staff_by_email(&email)?.is_some() {
        return Err(email_taken(&email));
    }
    let staff = new_staff(me.tenant(), email, name, role, phc);
    let mut b = WriteBatch::new();
    app.store.put_staff(&mut b, &staff);
    let mut link = None;
    if !staff.active {
        link = Some(invitation(app, me, &mut b, &staff)?);
    }
    me.audit(
        app,
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
    crate::mail::sent(app);
    Ok((staff, link.filter(|_| !app.smtp_configured)))
}

/// Queues an invitation to `staff` (added to `b`); returns its link.
fn invitation(
    app: &App,
    me: &Authed,
    b: &mut WriteBatch,
    staff: &StaffRecord,
) -> Result<String, ApiError> {
    let ttl = Duration::from_secs(app.config.auth.invitation_ttl_hours.max(1) * 3600);
    let link = one_time(app, b, TokenKind::Invitation, staff, ttl, "invite");
    crate::mail::queue(
        app,
        b,
        crate::mail::Envelope::new(staff.tenant_id, &staff.email, crate::mail::Kind::Invitation),
        json!({"inviter": me.staff.name, "link": link, "hours": ttl.as_secs() / 3600}),
    )?;
    Ok(link)
}

/// An owner or admin sends a member a fresh link: an invited member a new
/// invitation, an active one a password reset. The mail is queued either
/// way; with no SMTP server configured it cannot leave, so the link is
/// returned (`None`: it was queued for a configured server).
pub async fn send_link(app: &App, me: &Authed, id: &str) -> Result<Option<String>, ApiError> {
    let _guard = app.locks.tenant(me.tenant()).await;
    let staff = find(app, me, id)?;
    me.require(Action::ManageStaff(staff.role))?;
    let invited = staff.password_hash.is_empty() && !staff.active;
    if !staff.active && !invited {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            code::INVALID_STATE,
            "This member is deactivated: reactivate them first.",
        ));
    }
    let mut b = WriteBatch::new();
    let link = if invited {
        invitation(app, me, &mut b, &staff)?
    } else {
        let ttl = Duration::from_secs(app.config.auth.reset_token_ttl_minutes.max(1) * 60);
        let link = one_time(app, &mut b, TokenKind::PasswordReset, &staff, ttl, "reset");
        crate::mail::queue(
            app,
            &mut b,
            crate::mail::Envelope::new(
                staff.tenant_id,
                &staff.email,
                crate::mail::Kind::PasswordReset,
            ),
            json!({"link": link, "minutes": ttl.as_secs() / 60}),
        )?;
        link
    };
    me.audit(
        app,
        &mut b,
        if invited {
            "staff.invite_again"
        } else {
            "staff.password_reset_sent"
        },
        ("staff", staff.id.to_string()),
        json!({}),
    );
    app.writer.write(b).await?;
    crate::mail::sent(app);
    Ok(Some(link).filter(|_| !app.smtp_configured))
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
pub async fn update(
    app: &App,
    me: &Authed,
    id: &str,
    body: StaffPatch,
) -> Result<StaffRecord, ApiError> {
    let _guard = app.locks.tenant(me.tenant()).await;
    let before = find(app, me, id)?;
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
        if a && !before.active {
            // A deactivated member freed their seat: coming back takes one.
            super::plans::room_for_staff(app, me.tenant(), None)?;
        }
        after.active = a;
        changes.insert("active".into(), json!([before.active, after.active]));
    }
    let is_owner = |s: &StaffRecord| s.active && s.role == Role::Owner;
    if !keeps_an_owner(
        active_owners(app, me.tenant())?,
        is_owner(&before),
        is_owner(&after),
    ) {
        return Err(last_owner());
    }
    let deactivated = before.active && !after.active;
    let mut b = WriteBatch::new();
    if deactivated {
        session::revoke_all(app, &mut b, &mut after)?;
    } else {
        app.store.put_staff(&mut b, &after);
    }
    me.audit(
        app,
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
        session::kick(app, &after).await;
    } else if before.role != after.role {
        // Live sockets hold the old role: have them reconnect with the new one.
        let what = parley_actors::Tell::ReconnectStaff { staff: after.id };
        crate::ws::tell(app, after.tenant_id, what).await;
    }
    Ok(after)
}

/// Removes a staff member; their sessions end. Their messages keep their name.
pub async fn delete(app: &App, me: &Authed, id: &str) -> Result<(), ApiError> {
    let _guard = app.locks.tenant(me.tenant()).await;
    let mut target = find(app, me, id)?;
    me.require(Action::ManageStaff(target.role))?;
    let was_owner = target.active && target.role == Role::Owner;
    if !keeps_an_owner(active_owners(app, me.tenant())?, was_owner, false) {
        return Err(last_owner());
    }
    let mut b = WriteBatch::new();
    app.store.delete_staff(&mut b, &target)?;
    me.audit(
        app,
        &mut b,
        "staff.delete",
        ("staff", target.id.to_string()),
        json!({"email": target.email, "role": target.role}),
    );
    app.writer.write(b).await?;
    target.token_version += 1;
    session::kick(app, &target).await;
    Ok(())
}
