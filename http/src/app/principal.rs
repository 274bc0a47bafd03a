//! Who is acting, with no HTTP in sight: the client's address and user
//! agent ([`Caller`]) and a signed-in staff member ([`Authed`]). Every
//! "who may do what" goes through [`Authed::require`], which asks the one
//! permission function in `engine`; every staff access token — REST's
//! bearer and the staff socket's `auth` frame — through [`authenticate`].

use super::ApiError;
use crate::state::App;
use http::StatusCode;
use parley_engine::account::AuditActor;
use parley_engine::codes::error as code;
use parley_engine::permissions::{allowed, Action};
use parley_engine::records::StaffRecord;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore};
use std::net::IpAddr;

/// The client's address and user agent.
#[derive(Clone, Debug)]
pub struct Caller {
    pub ip: IpAddr,
    pub user_agent: String,
}

/// Checks a staff access token: genuine and unexpired, staff active with the
/// token's `token_version`, session not revoked, tenant not suspended
/// (`tenant_suspended`). Anything else is `unauthorized`.
pub fn authenticate(app: &App, token: &str) -> Result<(StaffRecord, Option<SessionId>), ApiError> {
    let claims = app
        .tokens
        .verify_staff(token)
        .ok_or_else(ApiError::unauthorized)?;
    admit(app, &claims)
}

/// The checks of [`authenticate`] after the signature's: the claims
/// unexpired, staff active with their `token_version`, session not revoked,
/// tenant not suspended. A cluster's owner runs them on the claims a
/// gateway forwards for a relayed staff socket (it never sees the token).
pub fn admit(
    app: &App,
    claims: &crate::auth::StaffClaims,
) -> Result<(StaffRecord, Option<SessionId>), ApiError> {
    if claims.exp < Timestamp::now().millis() / 1000 {
        return Err(ApiError::unauthorized());
    }
    let staff = app
        .store
        .staff(claims.tid, claims.sub)?
        .filter(|s| s.active && s.token_version == claims.ver)
        .ok_or_else(ApiError::unauthorized)?;
    if let Some(sid) = claims.sid {
        let now = Timestamp::now();
        let live = app
            .store
            .session(staff.tenant_id, staff.id, sid)?
            .is_some_and(|s| s.is_active(now));
        if !live {
            return Err(ApiError::unauthorized());
        }
    }
    if app.store.tenant_state(staff.tenant_id)?.suspended {
        return Err(ApiError::suspended());
    }
    Ok((staff, claims.sid))
}

/// A signed-in staff member: token genuine and unexpired, staff active with
/// the token's `token_version`, session not revoked, tenant not suspended.
pub struct Authed {
    pub staff: StaffRecord,
    pub session: Option<SessionId>,
    pub caller: Caller,
}

impl Authed {
    /// Whether the role allows `action`.
    pub fn can(&self, action: Action) -> bool {
        allowed(self.staff.role, action)
    }

    /// 403 `forbidden` unless the role allows `action`.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if self.can(action) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                code::FORBIDDEN,
                "your role does not allow this",
            ))
        }
    }

    /// The tenant every lookup of this request is scoped to.
    pub fn tenant(&self) -> TenantId {
        self.staff.tenant_id
    }

    /// This staff member as an audit actor.
    pub fn actor(&self) -> AuditActor {
        staff_actor(&self.staff)
    }

    /// Adds an audit record of this staff member's action to `batch`.
    pub fn audit(
        &self,
        app: &App,
        batch: &mut parley_storage::WriteBatch,
        action: &str,
        entity: (&str, String),
        changes: serde_json::Value,
    ) {
        super::audit::add(
            app,
            batch,
            self.tenant(),
            self.actor(),
            &self.caller,
            action,
            entity,
            changes,
        );
    }
}

/// A staff member as an audit actor.
pub fn staff_actor(s: &StaffRecord) -> AuditActor {
    AuditActor {
        kind: "staff".into(),
        id: Some(s.id.to_string()),
        email: Some(s.email.clone()),
    }
}

/// The instance operator (superadmin).
pub struct Operator {
    pub id: StaffId,
    pub caller: Caller,
}

impl Operator {
    /// The operator as an audit actor.
    pub fn actor(&self) -> AuditActor {
        AuditActor {
            kind: "superadmin".into(),
            id: Some(self.id.to_string()),
            email: None,
        }
    }
}
