//! Single-use links: password reset (request and confirm), the link check
//! the pages make before showing a form, and accepting an invitation. Each
//! link is a random token stored hashed with its kind and expiry, and is
//! spent by the first use.

use super::accounts::{anonymous, hash};
use super::audit;
use super::principal::Caller;
use super::sessions::{self as session, TokenPair};
use super::ApiError;
use crate::auth::{random_key, token_hash};
use crate::mail::{Envelope, Kind as MailKind};
use crate::state::App;
use parley_engine::account::{OneTimeToken, TokenKind};
use parley_engine::records::StaffRecord;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, WriteBatch};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use utoipa::ToSchema;

/// `POST /auth/password-reset` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    email: String,
}

/// Issues a single-use reset token and mails (outboxes) the link. Answers
/// 202 whether or not the email is known.
pub async fn reset_request(app: &App, caller: &Caller, body: ResetRequest) -> Result<(), ApiError> {
    let email = parley_engine::validate::email(&body.email)?;
    app.limiters.login(caller.ip, &email)?;
    let Some(staff) = app.store.staff_by_email(&email)?.filter(|s| s.active) else {
        return Ok(());
    };
    let ttl = Duration::from_secs(app.config.auth.reset_token_ttl_minutes.max(1) * 60);
    let mut b = WriteBatch::new();
    let link = one_time(app, &mut b, TokenKind::PasswordReset, &staff, ttl, "reset");
    crate::mail::queue(
        app,
        &mut b,
        Envelope::new(staff.tenant_id, &staff.email, MailKind::PasswordReset),
        json!({"link": link, "minutes": ttl.as_secs() / 60}),
    )?;
    audit::add(
        app,
        &mut b,
        staff.tenant_id,
        anonymous(&email),
        caller,
        "auth.password_reset_requested",
        ("staff", staff.id.to_string()),
        json!({}),
    );
    app.writer.write(b).await?;
    crate::mail::sent(app);
    Ok(())
}

/// Queues "your password was changed" for `staff` (added to `batch`).
pub fn password_changed_mail(
    app: &App,
    batch: &mut WriteBatch,
    staff: &StaffRecord,
    how: &str,
) -> Result<(), ApiError> {
    let when = Timestamp::now();
    let tz = crate::mail::staff_zone(app, staff.tenant_id, staff.id);
    crate::mail::queue(
        app,
        batch,
        Envelope::new(staff.tenant_id, &staff.email, MailKind::PasswordChanged),
        json!({"how": how, "when": when, "tz": tz, "link": crate::mail::app_link(app, "forgot")}),
    )?;
    Ok(())
}

/// Creates a single-use token (added to `batch`); returns the link that carries it.
pub fn one_time(
    app: &App,
    batch: &mut WriteBatch,
    kind: TokenKind,
    staff: &StaffRecord,
    ttl: Duration,
    page: &str,
) -> String {
    let token = random_key(40);
    let rec = OneTimeToken {
        kind,
        tenant_id: staff.tenant_id,
        staff_id: staff.id,
        expires_at: Timestamp::now().after(ttl),
        staff_version: staff.token_version,
    };
    app.store
        .put_one_time_token(batch, &token_hash(&token), &rec);
    let link = crate::mail::app_link(app, &format!("{page}={token}"));
    if app.config.auth.dev_mode {
        tracing::info!(staff = %staff.id, kind = ?kind, %link, "dev mode: one-time link");
    }
    link
}

fn what(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::PasswordReset => "reset token",
        TokenKind::Invitation => "invitation",
    }
}

/// The stored record of a one-time token, if it exists (of any age).
fn stored_token(app: &App, token: &str) -> Result<Option<OneTimeToken>, ApiError> {
    match app.store.one_time_token(&token_hash(token)) {
        Ok(r) => Ok(r),
        // A token of an older layout is no token any more.
        Err(parley_storage::StorageError::Decode(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Which tenant a one-time token of `kind` belongs to (to take its lock
/// before redeeming it).
fn token_tenant(app: &App, token: &str, kind: TokenKind) -> Result<TenantId, ApiError> {
    stored_token(app, token)?
        .filter(|r| r.kind == kind)
        .map(|r| r.tenant_id)
        .ok_or_else(|| ApiError::invalid_token(what(kind)))
}

/// Redeems a one-time token of `kind`: the staff member it names. The token
/// is deleted in `batch`.
pub fn redeem(
    app: &App,
    batch: &mut WriteBatch,
    token: &str,
    kind: TokenKind,
) -> Result<StaffRecord, ApiError> {
    let what = what(kind);
    let h = token_hash(token);
    let rec = stored_token(app, token)?
        .filter(|r| r.kind == kind)
        .ok_or_else(|| ApiError::invalid_token(what))?;
    if Timestamp::now() >= rec.expires_at {
        app.store.delete_one_time_token(batch, &h);
        return Err(ApiError::invalid_token(what));
    }
    let staff = app
        .store
        .staff(rec.tenant_id, rec.staff_id)?
        .ok_or_else(|| ApiError::invalid_token(what))?;
    app.store.delete_one_time_token(batch, &h);
    if staff.token_version != rec.staff_version {
        // Issued before the last reset, password change or sign-out-everywhere.
        return Err(ApiError::invalid_token(what));
    }
    Ok(staff)
}

/// `POST /auth/password-reset/confirm` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    token: String,
    password: String,
}

/// Sets a new password with a reset token: every other session of the
/// account ends, every older reset link dies, and this device is signed in.
pub async fn reset_confirm(
    app: &App,
    caller: &Caller,
    body: ResetConfirm,
) -> Result<TokenPair, ApiError> {
    let _guard = app
        .locks
        .tenant(token_tenant(app, &body.token, TokenKind::PasswordReset)?)
        .await;
    let mut b = WriteBatch::new();
    let mut staff = redeem(app, &mut b, &body.token, TokenKind::PasswordReset)?;
    parley_engine::validate::password(&body.password, &staff.email)?;
    staff.password_hash = hash(app, body.password).await?;
    session::revoke_all(app, &mut b, &mut staff)?;
    password_changed_mail(app, &mut b, &staff, "with a reset link")?;
    audit::by(
        app,
        &mut b,
        &staff,
        caller,
        "auth.password_reset",
        ("staff", staff.id.to_string()),
    );
    let pair = session::sign_in(app, b, &staff, caller).await?;
    crate::mail::sent(app);
    drop(_guard);
    session::kick(app, &staff).await;
    Ok(pair)
}

/// `POST /auth/link` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkCheck {
    token: String,
}

/// What a mailed link is for, without using it: the page it opens says
/// "join Acme as ada@…" or, for a used or expired link, says so at once.
pub async fn check_link(
    app: &App,
    caller: &Caller,
    body: LinkCheck,
) -> Result<serde_json::Value, ApiError> {
    app.limiters.login(caller.ip, "link")?;
    let bad = || ApiError::invalid_token("link");
    let rec = stored_token(app, &body.token)?
        .filter(|r| Timestamp::now() < r.expires_at)
        .ok_or_else(bad)?;
    let staff = app
        .store
        .staff(rec.tenant_id, rec.staff_id)?
        .filter(|s| s.token_version == rec.staff_version)
        .ok_or_else(bad)?;
    let tenant = app
        .store
        .tenant(rec.tenant_id)?
        .map(|t| t.name)
        .unwrap_or_default();
    let kind = match rec.kind {
        TokenKind::PasswordReset => "password_reset",
        TokenKind::Invitation => "invitation",
    };
    Ok(json!({"kind": kind, "email": staff.email, "name": staff.name, "tenant": tenant}))
}

/// `POST /auth/invitation/accept` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    token: String,
    password: String,
    /// Replaces the name the inviter typed.
    name: Option<String>,
}

/// Accepts an invitation: sets the password, activates and signs in.
pub async fn accept_invitation(
    app: &App,
    caller: &Caller,
    body: AcceptInvite,
) -> Result<TokenPair, ApiError> {
    let _guard = app
        .locks
        .tenant(token_tenant(app, &body.token, TokenKind::Invitation)?)
        .await;
    let mut b = WriteBatch::new();
    let mut staff = redeem(app, &mut b, &body.token, TokenKind::Invitation)?;
    // The invitation held a seat, but the plan may have shrunk since.
    super::plans::room_for_staff(app, staff.tenant_id, Some(staff.id))?;
    parley_engine::validate::password(&body.password, &staff.email)?;
    if let Some(n) = &body.name {
        staff.name = parley_engine::validate::name(n)?;
    }
    staff.password_hash = hash(app, body.password).await?;
    staff.active = true;
    app.store.put_staff(&mut b, &staff);
    audit::by(
        app,
        &mut b,
        &staff,
        caller,
        "staff.invitation_accepted",
        ("staff", staff.id.to_string()),
    );
    session::sign_in(app, b, &staff, caller).await
}
