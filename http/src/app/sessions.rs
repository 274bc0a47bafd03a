//! Sign-in sessions: a session is one refresh-token family. The refresh
//! token is `rt1.TENANT.STAFF.SESSION.SECRET`; only the SHA-256 of the
//! current secret is stored. Each refresh rotates the secret; presenting a
//! secret that is not the current one (an old, rotated token) revokes the
//! family, since either the client or a thief is replaying it.

use super::principal::Caller;
use super::ApiError;
use crate::auth::{random_key, token_hash};
use crate::state::App;
use parley_engine::account::SessionRecord;
use parley_engine::records::StaffRecord;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, WriteBatch};
use serde::Serialize;
use std::time::Duration;

/// What sign-in, sign-up and refresh answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// A JWT for `Authorization: Bearer`, valid `expires_in` seconds.
    pub access_token: String,
    /// Opaque; exchange it at `/auth/refresh` for a new pair. Single use.
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    #[schema(value_type = String)]
    pub staff_id: StaffId,
    #[schema(value_type = String)]
    pub session_id: SessionId,
}

fn ttl(app: &App) -> Duration {
    Duration::from_secs(app.config.auth.refresh_token_ttl_days.max(1) * 86_400)
}

/// A new session for `staff`, added to `batch`; returns it and its refresh token.
fn open(
    app: &App,
    batch: &mut WriteBatch,
    staff: &StaffRecord,
    caller: &Caller,
) -> (SessionRecord, String) {
    let now = Timestamp::now();
    let secret = random_key(43);
    let rec = SessionRecord {
        id: SessionId::new(),
        tenant_id: staff.tenant_id,
        staff_id: staff.id,
        secret_hash: token_hash(&secret),
        device: caller.user_agent.clone(),
        ip: caller.ip.to_string(),
        created_at: now,
        last_seen: now,
        expires_at: now.after(ttl(app)),
        revoked: false,
    };
    app.store.put_session(batch, &rec);
    let token = refresh_token(&rec, &secret);
    (rec, token)
}

fn refresh_token(rec: &SessionRecord, secret: &str) -> String {
    format!("rt1.{}.{}.{}.{secret}", rec.tenant_id, rec.staff_id, rec.id)
}

/// Signs `staff` in: opens a session in `batch` with its `auth.login`
/// audit entry, writes the batch (with whatever else it holds) and answers
/// the token pair.
pub async fn sign_in(
    app: &App,
    mut batch: WriteBatch,
    staff: &StaffRecord,
    caller: &Caller,
) -> Result<TokenPair, ApiError> {
    let (sess, refresh) = open(app, &mut batch, staff, caller);
    super::audit::by(
        app,
        &mut batch,
        staff,
        caller,
        "auth.login",
        ("session", sess.id.to_string()),
    );
    app.writer.write(batch).await?;
    tracing::info!(staff = %staff.id, tenant = %staff.tenant_id, session = %sess.id, "signed in");
    Ok(pair(app, staff, &sess, refresh))
}

/// The token pair for a session.
pub fn pair(app: &App, staff: &StaffRecord, session: &SessionRecord, refresh: String) -> TokenPair {
    TokenPair {
        access_token: app.tokens.issue_staff(staff, Some(session.id)),
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: app.tokens.access_ttl(),
        tenant_id: staff.tenant_id,
        staff_id: staff.id,
        session_id: session.id,
    }
}

/// The parts of a refresh token, if it has the right shape.
pub fn parse(token: &str) -> Option<(TenantId, StaffId, SessionId, &str)> {
    let mut it = token.strip_prefix("rt1.")?.splitn(4, '.');
    let t = it.next()?.parse().ok()?;
    let s = it.next()?.parse().ok()?;
    let id = it.next()?.parse().ok()?;
    let secret = it.next().filter(|s| !s.is_empty())?;
    Some((t, s, id, secret))
}

/// What presenting a refresh token found.
pub enum Found {
    /// The current token of a live session of an active staff member.
    Current(Box<(StaffRecord, SessionRecord)>),
    /// A rotated-out token of a session: the session was revoked by it.
    Reused,
    /// Unknown, expired, revoked or belonging to an inactive account.
    Invalid,
}

/// Looks a refresh token up. A reuse revokes its session (written here).
pub async fn find(app: &App, token: &str) -> Result<Found, ApiError> {
    let Some((t, s, id, secret)) = parse(token) else {
        return Ok(Found::Invalid);
    };
    let Some(mut rec) = app.store.session(t, s, id)? else {
        return Ok(Found::Invalid);
    };
    if !rec.is_active(Timestamp::now()) {
        return Ok(Found::Invalid);
    }
    if rec.secret_hash != token_hash(secret) {
        rec.revoked = true;
        let mut b = WriteBatch::new();
        app.store.put_session(&mut b, &rec);
        app.writer.write(b).await?;
        tracing::warn!(tenant = %t, staff = %s, session = %id, "refresh token reused; session revoked");
        close_sockets(app, t, s, id).await;
        return Ok(Found::Reused);
    }
    match app.store.staff(t, s)? {
        Some(staff) if staff.active => Ok(Found::Current(Box::new((staff, rec)))),
        _ => Ok(Found::Invalid),
    }
}

/// Rotates a session's secret (added to `batch`); returns the new refresh token.
pub fn rotate(
    app: &App,
    batch: &mut WriteBatch,
    rec: &mut SessionRecord,
    caller: &Caller,
) -> String {
    let now = Timestamp::now();
    let secret = random_key(43);
    rec.secret_hash = token_hash(&secret);
    rec.last_seen = now;
    rec.ip = caller.ip.to_string();
    rec.expires_at = now.after(ttl(app));
    app.store.put_session(batch, rec);
    refresh_token(rec, &secret)
}

/// Ends every session of `staff` (added to `batch`): bumps the
/// `token_version`, so every access token dies too, and revokes every
/// session. Call [`kick`] once the batch is durable.
pub fn revoke_all(
    app: &App,
    batch: &mut WriteBatch,
    staff: &mut StaffRecord,
) -> Result<(), ApiError> {
    staff.token_version += 1;
    for mut s in app.store.sessions(staff.tenant_id, staff.id)? {
        if !s.revoked {
            s.revoked = true;
            app.store.put_session(batch, &s);
        }
    }
    app.store.put_staff(batch, staff);
    Ok(())
}

/// Closes the sockets signed in with session `sid` (4401).
pub async fn close_sockets(app: &App, t: TenantId, staff: StaffId, sid: SessionId) {
    let what = parley_actors::Tell::EndSession {
        staff,
        session: sid,
    };
    crate::ws::tell(app, t, what).await;
}

/// Closes the staff member's open sockets authenticated before their
/// current `token_version` (4401).
pub async fn kick(app: &App, staff: &StaffRecord) {
    let what = parley_actors::Tell::RevokeStaff {
        staff: staff.id,
        token_version: staff.token_version,
    };
    crate::ws::tell(app, staff.tenant_id, what).await;
}

/// A user agent as a person names a device: "Chrome on Linux", "Safari on
/// iOS" (empty or unreadable: "Unknown device").
pub fn device_name(ua: &str) -> String {
    if ua.trim().is_empty() {
        return "Unknown device".into();
    }
    let (browser, os, _) = parley_engine::analytics::describe(ua);
    match (browser.as_str(), os) {
        ("Other", "Other") => "Unknown device".into(),
        (b, "Other") => b.to_string(),
        ("Other", o) => format!("A browser on {o}"),
        (b, o) => format!("{b} on {o}"),
    }
}

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn user_agents_read_as_devices() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(device_name(chrome), "Chrome on Linux");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
        assert_eq!(device_name(iphone), "Safari on iOS");
        assert_eq!(device_name(""), "Unknown device");
    }
}
