//! Who is asking: the client's address and user agent ([`Caller`]), a
//! signed-in staff member ([`Authed`]) or the instance operator
//! ([`Operator`]). Every check of "who may do what" goes through
//! [`Authed::require`], which asks the one permission function in `engine`.

use super::error::ApiError;
use crate::state::App;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use parley_engine::account::AuditActor;
use parley_engine::codes::error as code;
use parley_engine::permissions::{allowed, Action};
use parley_engine::records::StaffRecord;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

/// The client's address and user agent.
#[derive(Clone, Debug)]
pub struct Caller {
    pub ip: IpAddr,
    pub user_agent: String,
}

impl Caller {
    /// Reads the peer address (or the first `X-Forwarded-For` hop when the
    /// config trusts a proxy) and the user agent, shortened.
    pub fn from_parts(parts: &Parts, trust_forwarded_for: bool) -> Self {
        Self::from_http(&parts.headers, &parts.extensions, trust_forwarded_for)
    }

    /// The same from a request's headers and extensions.
    pub fn from_http(
        headers: &axum::http::HeaderMap,
        extensions: &axum::http::Extensions,
        trust_forwarded_for: bool,
    ) -> Self {
        let forwarded = trust_forwarded_for
            .then(|| headers.get("x-forwarded-for"))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok());
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let user_agent: String = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        Self {
            ip: forwarded
                .or(peer)
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            user_agent,
        }
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        Ok(Self::from_parts(
            parts,
            app.config.limits.trust_forwarded_for,
        ))
    }
}

/// The access log's view of a request: the edge middleware puts an empty
/// slot in the request; routing fills in the route template and the
/// authenticating extractor who made it.
#[derive(Clone, Default)]
pub struct LogSlot(pub Arc<LogFields>);

/// What [`LogSlot`] collects.
#[derive(Default)]
pub struct LogFields {
    pub route: OnceLock<String>,
    pub who: OnceLock<String>,
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn note(parts: &Parts, who: String) {
    if let Some(slot) = parts.extensions.get::<LogSlot>() {
        let _ = slot.0.who.set(who);
    }
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

impl FromRequestParts<App> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let claims = bearer(parts)
            .and_then(|t| app.tokens.verify_staff(t))
            .ok_or_else(ApiError::unauthorized)?;
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
        note(parts, format!("staff:{}", staff.id));
        Ok(Self {
            staff,
            session: claims.sid,
            caller: Caller::from_parts(parts, app.config.limits.trust_forwarded_for),
        })
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

impl FromRequestParts<App> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let claims = bearer(parts)
            .and_then(|t| app.tokens.verify_operator(t))
            .ok_or_else(ApiError::unauthorized)?;
        note(parts, format!("superadmin:{}", claims.sub));
        Ok(Self {
            id: claims.sub,
            caller: Caller::from_parts(parts, app.config.limits.trust_forwarded_for),
        })
    }
}
