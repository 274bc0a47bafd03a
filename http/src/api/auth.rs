//! `/api/v1/auth/*`: sign-up, sign-in, refresh, sign-out, password reset
//! and invitations. Argon2 runs off the async runtime; every attempt
//! counts against the per-IP and per-account sign-in budgets.

use super::audit;
use super::error::{ApiError, ApiJson};
use super::principal::{staff_actor, Authed, Caller};
use super::session::{self, Found, TokenPair};
use crate::admin::new_tenant;
use crate::auth::{dummy_hash, random_key, token_hash, verify_password};
use crate::mail::{Envelope, Kind as MailKind};
use crate::state::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use parley_engine::account::{AuditActor, OneTimeToken, TokenKind};
use parley_engine::codes::error as code;
use parley_engine::records::StaffRecord;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, WriteBatch};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use utoipa::ToSchema;

/// Runs an argon2 job on the hashing threads; 503 when they are swamped.
async fn argon2_job<T: Send + 'static>(
    app: &App,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    app.hashers.run(job).await.ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::UNAVAILABLE,
            "too many sign-ins at once; retry in a moment",
        )
    })
}

/// Hashes a password off the async runtime.
pub async fn hash(app: &App, password: String) -> Result<String, ApiError> {
    argon2_job(app, move || crate::auth::hash_password(&password)).await
}

/// Checks a password off the async runtime.
pub async fn verify(app: &App, password: String, phc: String) -> Result<bool, ApiError> {
    argon2_job(app, move || verify_password(&password, &phc)).await
}

fn anonymous(email: &str) -> AuditActor {
    AuditActor {
        kind: "anonymous".into(),
        id: None,
        email: Some(email.into()),
    }
}

/// `POST /auth/register` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    tenant_name: String,
    name: String,
    email: String,
    password: String,
}

/// Creates a tenant, its owner and a first site, and signs the owner in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = Register,
    responses((status = 201, body = TokenPair), (status = 400, description = "invalid or weak input"),
        (status = 403, description = "sign-up is closed (`auth.open_registration = false`)"),
        (status = 409, description = "`email_taken`"), (status = 429, description = "too many attempts")))]
pub async fn register(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<Register>,
) -> Result<(StatusCode, Json<TokenPair>), ApiError> {
    if !app.config.auth.open_registration {
        return Err(ApiError::forbidden(
            "sign-up is closed on this instance; ask its operator for an account",
        ));
    }
    let email = parley_engine::validate::email(&body.email)?;
    app.limiters.login(caller.ip, &email)?;
    let tenant_name = parley_engine::validate::name(&body.tenant_name)?;
    let name = parley_engine::validate::name(&body.name)?;
    parley_engine::validate::password(&body.password, &email)?;
    let phc = hash(&app, body.password).await?;
    let _guard = app.accounts.lock().await;
    if app.store.staff_by_email(&email)?.is_some() {
        return Err(email_taken(&email));
    }
    let (tenant, owner, site) = new_tenant(tenant_name, email, name, phc);
    let mut b = WriteBatch::new();
    app.store.put_tenant(&mut b, &tenant);
    app.store.put_staff(&mut b, &owner);
    app.store.put_site(&mut b, &site);
    audit::add(
        &app,
        &mut b,
        tenant.id,
        staff_actor(&owner),
        &caller,
        "tenant.register",
        ("tenant", tenant.id.to_string()),
        json!({"name": tenant.name, "site_id": site.id}),
    );
    tracing::info!(tenant = %tenant.id, staff = %owner.id, "tenant registered");
    let pair = session::sign_in(&app, b, &owner, &caller).await?;
    Ok((StatusCode::CREATED, Json(pair)))
}

/// 409 for an email already in use.
pub fn email_taken(email: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        code::EMAIL_TAKEN,
        format!("{email} is already used by a staff account"),
    )
}

/// `POST /auth/login` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

/// Checks credentials and opens a session.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = TokenPair), (status = 401, description = "`invalid_credentials`"),
        (status = 403, description = "`tenant_suspended`"), (status = 429, description = "too many attempts, see `Retry-After`")))]
pub async fn login(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<Login>,
) -> Result<Json<TokenPair>, ApiError> {
    let email = body.email.trim().to_ascii_lowercase();
    app.limiters.login(caller.ip, &email)?;
    let staff = app.store.staff_by_email(&email)?;
    let phc = staff
        .as_ref()
        .filter(|s| s.active)
        .map(|s| s.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let ok = verify(&app, body.password, phc).await?;
    let staff = match staff {
        Some(s) if ok && s.active => s,
        other => {
            tracing::info!(email_known = other.is_some(), "failed login");
            if let Some(s) = other {
                audit::write(
                    &app,
                    s.tenant_id,
                    anonymous(&email),
                    &caller,
                    "auth.login_failed",
                    ("staff", s.id.to_string()),
                    json!({}),
                )
                .await?;
            }
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                code::INVALID_CREDENTIALS,
                "wrong email or password",
            ));
        }
    };
    if app.store.tenant_state(staff.tenant_id)?.suspended {
        return Err(ApiError::suspended());
    }
    Ok(Json(
        session::sign_in(&app, WriteBatch::new(), &staff, &caller).await?,
    ))
}

/// A refresh token in a body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
}

/// Exchanges a refresh token for a new pair; a reused token revokes its session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = TokenPair), (status = 401, description = "`invalid_token`: unknown, expired, revoked or already used (the session is then revoked)")))]
pub async fn refresh(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenPair>, ApiError> {
    match session::find(&app, &body.refresh_token).await? {
        Found::Current(found) => {
            let (staff, mut sess) = *found;
            if app.store.tenant_state(staff.tenant_id)?.suspended {
                return Err(ApiError::suspended());
            }
            let mut b = WriteBatch::new();
            let token = session::rotate(&app, &mut b, &mut sess, &caller);
            app.writer.write(b).await?;
            Ok(Json(session::pair(&app, &staff, &sess, token)))
        }
        Found::Reused => {
            if let Some((t, s, id, _)) = session::parse(&body.refresh_token) {
                audit::write(
                    &app,
                    t,
                    anonymous(""),
                    &caller,
                    "auth.refresh_reused",
                    ("session", id.to_string()),
                    json!({"staff_id": s, "revoked": true}),
                )
                .await?;
            }
            Err(ApiError::invalid_token("refresh token"))
        }
        Found::Invalid => Err(ApiError::invalid_token("refresh token")),
    }
}

/// Ends the session of a refresh token. Unknown or used tokens end nothing.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshBody,
    responses((status = 204, description = "signed out")))]
pub async fn logout(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<StatusCode, ApiError> {
    if let Found::Current(found) = session::find(&app, &body.refresh_token).await? {
        let (staff, mut sess) = *found;
        sess.revoked = true;
        let mut b = WriteBatch::new();
        app.store.put_session(&mut b, &sess);
        audit::by(
            &app,
            &mut b,
            &staff,
            &caller,
            "auth.logout",
            ("session", sess.id.to_string()),
        );
        app.writer.write(b).await?;
        session::close_sockets(&app, staff.tenant_id, staff.id, sess.id).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the caller: all their tokens and sockets die.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth",
    responses((status = 204, description = "every session ended"), (status = 401)),
    security(("bearer" = [])))]
pub async fn logout_all(State(app): State<App>, me: Authed) -> Result<StatusCode, ApiError> {
    let mut staff = me.staff.clone();
    let mut b = WriteBatch::new();
    {
        let _guard = app.accounts.lock().await;
        session::revoke_all(&app, &mut b, &mut staff)?;
        audit::add(
            &app,
            &mut b,
            staff.tenant_id,
            me.actor(),
            &me.caller,
            "auth.logout_all",
            ("staff", staff.id.to_string()),
            json!({}),
        );
        app.writer.write(b).await?;
    }
    session::kick(&app, &staff).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/password-reset` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    email: String,
}

/// Issues a single-use reset token and mails (outboxes) the link. Answers
/// 202 whether or not the email is known.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, description = "if the account exists, a reset link was sent"), (status = 429)))]
pub async fn reset_request(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    let email = parley_engine::validate::email(&body.email)?;
    app.limiters.login(caller.ip, &email)?;
    let Some(staff) = app.store.staff_by_email(&email)?.filter(|s| s.active) else {
        return Ok(StatusCode::ACCEPTED);
    };
    let ttl = Duration::from_secs(app.config.auth.reset_token_ttl_minutes.max(1) * 60);
    let mut b = WriteBatch::new();
    let link = one_time(&app, &mut b, TokenKind::PasswordReset, &staff, ttl, "reset");
    crate::mail::queue(
        &app,
        &mut b,
        Envelope::new(staff.tenant_id, &staff.email, MailKind::PasswordReset),
        json!({"link": link, "minutes": ttl.as_secs() / 60}),
    )?;
    audit::add(
        &app,
        &mut b,
        staff.tenant_id,
        anonymous(&email),
        &caller,
        "auth.password_reset_requested",
        ("staff", staff.id.to_string()),
        json!({}),
    );
    app.writer.write(b).await?;
    crate::mail::sent(&app);
    Ok(StatusCode::ACCEPTED)
}

/// Queues "your password was changed" for `staff` (added to `batch`).
pub fn password_changed_mail(
    app: &App,
    batch: &mut WriteBatch,
    staff: &StaffRecord,
    how: &str,
) -> Result<(), ApiError> {
    let when = Timestamp::now().to_rfc3339();
    crate::mail::queue(
        app,
        batch,
        Envelope::new(staff.tenant_id, &staff.email, MailKind::PasswordChanged),
        json!({"how": how, "when": when, "link": crate::mail::app_link(app, "forgot")}),
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

/// Redeems a one-time token of `kind`: the staff member it names. The token
/// is deleted in `batch`.
pub fn redeem(
    app: &App,
    batch: &mut WriteBatch,
    token: &str,
    kind: TokenKind,
) -> Result<StaffRecord, ApiError> {
    let what = match kind {
        TokenKind::PasswordReset => "reset token",
        TokenKind::Invitation => "invitation",
    };
    let h = token_hash(token);
    let found = match app.store.one_time_token(&h) {
        Ok(r) => r,
        // A token of an older layout is no token any more.
        Err(parley_storage::StorageError::Decode(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let rec = found
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
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 200, body = TokenPair, description = "password changed; signed in"), (status = 400, description = "`weak_password`"), (status = 401, description = "`invalid_token`")))]
pub async fn reset_confirm(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<ResetConfirm>,
) -> Result<Json<TokenPair>, ApiError> {
    let _guard = app.accounts.lock().await;
    let mut b = WriteBatch::new();
    let mut staff = redeem(&app, &mut b, &body.token, TokenKind::PasswordReset)?;
    parley_engine::validate::password(&body.password, &staff.email)?;
    staff.password_hash = hash(&app, body.password).await?;
    session::revoke_all(&app, &mut b, &mut staff)?;
    password_changed_mail(&app, &mut b, &staff, "with a reset link")?;
    audit::by(
        &app,
        &mut b,
        &staff,
        &caller,
        "auth.password_reset",
        ("staff", staff.id.to_string()),
    );
    let pair = session::sign_in(&app, b, &staff, &caller).await?;
    crate::mail::sent(&app);
    drop(_guard);
    session::kick(&app, &staff).await;
    Ok(Json(pair))
}

/// `POST /auth/link` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkCheck {
    token: String,
}

/// What a mailed link is for, without using it: the page it opens says
/// "join Acme as ada@…" or, for a used or expired link, says so at once.
#[utoipa::path(post, path = "/api/v1/auth/link", tag = "auth", request_body = LinkCheck,
    responses((status = 200, description = "`{kind: invitation|password_reset, email, name, tenant}`", body = Object),
        (status = 401, description = "`invalid_token`: unknown, used or expired"), (status = 429)))]
pub async fn check_link(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<LinkCheck>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.limiters.login(caller.ip, "link")?;
    let bad = || ApiError::invalid_token("link");
    let rec = match app.store.one_time_token(&token_hash(&body.token)) {
        Ok(r) => r,
        Err(parley_storage::StorageError::Decode(_)) => None,
        Err(e) => return Err(e.into()),
    }
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
    Ok(Json(
        json!({"kind": kind, "email": staff.email, "name": staff.name, "tenant": tenant}),
    ))
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
#[utoipa::path(post, path = "/api/v1/auth/invitation/accept", tag = "auth", request_body = AcceptInvite,
    responses((status = 200, body = TokenPair), (status = 400, description = "`weak_password`"), (status = 401, description = "`invalid_token`")))]
pub async fn accept_invitation(
    State(app): State<App>,
    caller: Caller,
    ApiJson(body): ApiJson<AcceptInvite>,
) -> Result<Json<TokenPair>, ApiError> {
    let _guard = app.accounts.lock().await;
    let mut b = WriteBatch::new();
    let mut staff = redeem(&app, &mut b, &body.token, TokenKind::Invitation)?;
    parley_engine::validate::password(&body.password, &staff.email)?;
    if let Some(n) = &body.name {
        staff.name = parley_engine::validate::name(n)?;
    }
    staff.password_hash = hash(&app, body.password).await?;
    staff.active = true;
    app.store.put_staff(&mut b, &staff);
    audit::by(
        &app,
        &mut b,
        &staff,
        &caller,
        "staff.invitation_accepted",
        ("staff", staff.id.to_string()),
    );
    Ok(Json(session::sign_in(&app, b, &staff, &caller).await?))
}
