//! Accounts: sign-up, sign-in, refresh (rotation, and reuse revoking the
//! family), sign-out, password reset and change, invitations, single-use
//! links, and the signed-in member's own profile. Argon2 runs off the async
//! runtime; every attempt counts against the sign-in budgets. Changes to a
//! staff record hold its tenant's lock; claiming an email holds the
//! address's lock.

use super::audit;
use super::links::password_changed_mail;
use super::principal::{staff_actor, Authed, Caller};
use super::sessions::{self as session, Found, TokenPair};
use super::ApiError;
use crate::admin::new_tenant;
use crate::auth::{dummy_hash, random_key, token_hash, verify_password};
use crate::mail::{Envelope, Kind as MailKind};
use crate::state::App;
use http::StatusCode;
use parley_engine::account::{AuditActor, PendingSignup, StaffPrefs};
use parley_engine::codes::error as code;
use parley_engine::records::StaffRecord;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, DeskStore, WriteBatch};
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

pub(super) fn anonymous(email: &str) -> AuditActor {
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
pub async fn register(app: &App, caller: &Caller, body: Register) -> Result<Registered, ApiError> {
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
    let phc = hash(app, body.password).await?;
    if app.smtp_configured {
        return register_by_mail(app, email, tenant_name, name, phc).await;
    }
    let _guard = app.locks.email(&email).await;
    if app.store.staff_by_email(&email)?.is_some() {
        return Err(email_taken(&email));
    }
    let (tenant, owner, site) = new_tenant(tenant_name, email, name, phc);
    create_tenant(app, caller, WriteBatch::new(), (tenant, owner, site), false)
        .await
        .map(Registered::SignedIn)
}

/// What sign-up answers.
pub enum Registered {
    /// No mail on this instance: the workspace exists and its owner is in.
    SignedIn(TokenPair),
    /// A mail went to the address (a confirmation link, or — when the
    /// address already has an account — a note saying so): the answer is
    /// the same either way, so sign-up tells nobody which addresses exist.
    CheckMail,
}

/// Hours a sign-up confirmation link works.
const SIGNUP_TTL_HOURS: u64 = 24;

async fn register_by_mail(
    app: &App,
    email: String,
    tenant_name: String,
    name: String,
    phc: String,
) -> Result<Registered, ApiError> {
    let _guard = app.locks.email(&email).await;
    let mut b = WriteBatch::new();
    match app.store.staff_by_email(&email)? {
        Some(existing) => {
            crate::mail::queue(
                app,
                &mut b,
                Envelope::new(existing.tenant_id, &email, MailKind::AccountExists),
                json!({"link": crate::mail::app_link(app, "forgot"), "signin": crate::mail::app_link(app, "signin")}),
            )?;
        }
        None => {
            let token = random_key(40);
            let pending = PendingSignup {
                tenant_id: TenantId::new(),
                tenant_name: tenant_name.clone(),
                name,
                email: email.clone(),
                password_hash: phc,
                expires_at: Timestamp::now().after(Duration::from_secs(SIGNUP_TTL_HOURS * 3600)),
            };
            app.store
                .put_pending_signup(&mut b, &token_hash(&token), &pending);
            crate::mail::queue(
                app,
                &mut b,
                Envelope::new(pending.tenant_id, &email, MailKind::VerifyEmail),
                json!({
                    "tenant": tenant_name,
                    "link": crate::mail::app_link(app, &format!("signup={token}")),
                    "hours": SIGNUP_TTL_HOURS,
                }),
            )?;
        }
    }
    app.writer.write(b).await?;
    crate::mail::sent(app);
    Ok(Registered::CheckMail)
}

/// A new tenant with its owner and first site.
type NewTenant = (
    parley_engine::records::TenantRecord,
    StaffRecord,
    parley_engine::records::SiteRecord,
);

/// Writes a new tenant, its owner and first site (with whatever `b`
/// already holds), and signs the owner in.
async fn create_tenant(
    app: &App,
    caller: &Caller,
    mut b: WriteBatch,
    (tenant, owner, site): NewTenant,
    confirmed_by_mail: bool,
) -> Result<TokenPair, ApiError> {
    app.store.put_tenant(&mut b, &tenant);
    app.store.put_staff(&mut b, &owner);
    app.store.put_site(&mut b, &site);
    audit::add(
        app,
        &mut b,
        tenant.id,
        staff_actor(&owner),
        caller,
        "tenant.register",
        ("tenant", tenant.id.to_string()),
        json!({"name": tenant.name, "site_id": site.id, "confirmed_by_mail": confirmed_by_mail}),
    );
    tracing::info!(tenant = %tenant.id, staff = %owner.id, confirmed_by_mail, "tenant registered");
    session::sign_in(app, b, &owner, caller).await
}

/// `POST /auth/register/confirm` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmSignup {
    token: String,
}

/// Opens a mailed sign-up link: the workspace is created and its owner
/// signed in. A used or expired link is `invalid_token`; an address taken
/// in the meantime is `email_taken`.
pub async fn confirm_signup(
    app: &App,
    caller: &Caller,
    body: ConfirmSignup,
) -> Result<TokenPair, ApiError> {
    app.limiters.login(caller.ip, "signup")?;
    let h = token_hash(&body.token);
    let bad = || ApiError::invalid_token("sign-up link");
    let pending = match app.store.pending_signup(&h) {
        Ok(p) => p,
        Err(parley_storage::StorageError::Decode(_)) => None,
        Err(e) => return Err(e.into()),
    }
    .filter(|p| Timestamp::now() < p.expires_at)
    .ok_or_else(bad)?;
    let _guard = app.locks.email(&pending.email).await;
    // Looked up again under the lock: a second click waits, then finds it used.
    if app.store.pending_signup(&h).ok().flatten().is_none() {
        return Err(bad());
    }
    if app.store.staff_by_email(&pending.email)?.is_some() {
        return Err(email_taken(&pending.email));
    }
    let created = crate::admin::new_tenant_with_id(
        pending.tenant_id,
        pending.tenant_name,
        pending.email,
        pending.name,
        pending.password_hash,
    );
    // One write: the link is used up in the same batch as the tenant is made.
    let mut b = WriteBatch::new();
    app.store.delete_pending_signup(&mut b, &h);
    create_tenant(app, caller, b, created, true).await
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

impl Login {
    /// The account signing in: the email, trimmed and lowercased.
    pub fn account(&self) -> String {
        self.email.trim().to_ascii_lowercase()
    }
}

/// Checks credentials and opens a session. `device` is the browser's device
/// id when it carries a genuine device cookie for this account: it is then
/// counted under that alone (`api::lockout`).
pub async fn login(
    app: &App,
    caller: &Caller,
    body: Login,
    device: Option<u128>,
) -> Result<TokenPair, ApiError> {
    let email = body.account();
    let attempt = app.limiters.sign_in(caller.ip, &email, device)?;
    let staff = app.store.staff_by_email(&email)?;
    let phc = staff
        .as_ref()
        .filter(|s| s.active)
        .map(|s| s.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let ok = verify(app, body.password, phc).await?;
    let staff = match staff {
        Some(s) if ok && s.active => s,
        other => {
            tracing::info!(email_known = other.is_some(), "failed login");
            if let Some(s) = other {
                audit::write(
                    app,
                    s.tenant_id,
                    anonymous(&email),
                    caller,
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
    app.limiters.signed_in(attempt);
    if app.store.tenant_state(staff.tenant_id)?.suspended {
        return Err(ApiError::suspended());
    }
    session::sign_in(app, WriteBatch::new(), &staff, caller).await
}

/// A refresh token in a body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
}

/// Exchanges a refresh token for a new pair; a reused token revokes its session.
pub async fn refresh(app: &App, caller: &Caller, body: RefreshBody) -> Result<TokenPair, ApiError> {
    match session::find(app, &body.refresh_token).await? {
        Found::Current(found) => {
            let (staff, mut sess) = *found;
            if app.store.tenant_state(staff.tenant_id)?.suspended {
                return Err(ApiError::suspended());
            }
            let mut b = WriteBatch::new();
            let token = session::rotate(app, &mut b, &mut sess, caller);
            app.writer.write(b).await?;
            Ok(session::pair(app, &staff, &sess, token))
        }
        Found::Reused => {
            if let Some((t, s, id, _)) = session::parse(&body.refresh_token) {
                audit::write(
                    app,
                    t,
                    anonymous(""),
                    caller,
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
pub async fn logout(app: &App, caller: &Caller, body: RefreshBody) -> Result<(), ApiError> {
    if let Found::Current(found) = session::find(app, &body.refresh_token).await? {
        let (staff, mut sess) = *found;
        sess.revoked = true;
        let mut b = WriteBatch::new();
        app.store.put_session(&mut b, &sess);
        audit::by(
            app,
            &mut b,
            &staff,
            caller,
            "auth.logout",
            ("session", sess.id.to_string()),
        );
        app.writer.write(b).await?;
        session::close_sockets(app, staff.tenant_id, staff.id, sess.id).await;
    }
    Ok(())
}

/// Ends every session of the caller: all their tokens and sockets die.
pub async fn logout_all(app: &App, me: &Authed) -> Result<(), ApiError> {
    let mut staff = me.staff.clone();
    let mut b = WriteBatch::new();
    {
        let _guard = app.locks.tenant(staff.tenant_id).await;
        session::revoke_all(app, &mut b, &mut staff)?;
        audit::add(
            app,
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
    session::kick(app, &staff).await;
    Ok(())
}

/// What a staff member may change about themselves.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    name: Option<String>,
    /// Mail me when a visitor leaves a contact-form message.
    contact_alerts: Option<bool>,
    /// The IANA zone my dashboard and mail show times in; `""` for the
    /// browser's.
    timezone: Option<String>,
}

/// Changes the caller's own profile and preferences.
pub async fn update_me(
    app: &App,
    me: &Authed,
    body: MePatch,
) -> Result<(StaffRecord, StaffPrefs), ApiError> {
    let _guard = app.locks.tenant(me.tenant()).await;
    let mut staff = app
        .store
        .staff(me.tenant(), me.staff.id)?
        .ok_or_else(ApiError::unauthorized)?;
    let mut prefs = app.store.staff_prefs(me.tenant(), staff.id)?;
    let mut b = WriteBatch::new();
    if let Some(n) = &body.name {
        let before = staff.name.clone();
        staff.name = parley_engine::validate::name(n)?;
        app.store.put_staff(&mut b, &staff);
        me.audit(
            app,
            &mut b,
            "staff.update",
            ("staff", staff.id.to_string()),
            json!({"name": [before, staff.name]}),
        );
    }
    let before = prefs.clone();
    if let Some(on) = body.contact_alerts {
        prefs.contact_alerts = on;
    }
    if let Some(tz) = &body.timezone {
        prefs.timezone = parley_engine::account::valid_timezone(tz)?;
    }
    if prefs != before {
        app.store
            .put_staff_prefs(&mut b, me.tenant(), staff.id, &prefs);
    }
    if !b.is_empty() {
        app.writer.write(b).await?;
    }
    Ok((staff, prefs))
}

/// `POST /me/password` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password after checking the current one: every
/// session ends (this device gets a new pair), every outstanding reset link
/// dies, and a mail says so.
pub async fn change_password(
    app: &App,
    me: &Authed,
    body: PasswordChange,
) -> Result<TokenPair, ApiError> {
    app.limiters.login(me.caller.ip, &me.staff.email)?;
    if !verify(app, body.current_password, me.staff.password_hash.clone()).await? {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            code::INVALID_CREDENTIALS,
            "the current password is wrong",
        ));
    }
    parley_engine::validate::password(&body.new_password, &me.staff.email)?;
    let phc = hash(app, body.new_password).await?;
    let guard = app.locks.tenant(me.tenant()).await;
    let mut staff = app
        .store
        .staff(me.tenant(), me.staff.id)?
        .ok_or_else(ApiError::unauthorized)?;
    staff.password_hash = phc;
    let mut b = WriteBatch::new();
    session::revoke_all(app, &mut b, &mut staff)?;
    password_changed_mail(app, &mut b, &staff, "in the dashboard")?;
    me.audit(
        app,
        &mut b,
        "auth.password_change",
        ("staff", staff.id.to_string()),
        json!({}),
    );
    let pair = session::sign_in(app, b, &staff, &me.caller).await?;
    crate::mail::sent(app);
    drop(guard);
    session::kick(app, &staff).await;
    Ok(pair)
}

/// Ends one of the caller's own sessions: its tokens die and the sockets
/// it opened close.
pub async fn end_session(app: &App, me: &Authed, id: &str) -> Result<(), ApiError> {
    let not_found = || ApiError::not_found("session");
    let id: SessionId = id.parse().map_err(|_| not_found())?;
    let mut s = app
        .store
        .session(me.tenant(), me.staff.id, id)?
        .filter(|s| s.is_active(Timestamp::now()))
        .ok_or_else(not_found)?;
    s.revoked = true;
    let mut b = WriteBatch::new();
    app.store.put_session(&mut b, &s);
    me.audit(
        app,
        &mut b,
        "auth.session_revoked",
        ("session", id.to_string()),
        json!({}),
    );
    app.writer.write(b).await?;
    session::close_sockets(app, me.tenant(), me.staff.id, id).await;
    Ok(())
}
