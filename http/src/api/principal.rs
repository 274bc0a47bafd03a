//! Who is asking, read from a request: the client's address and user agent
//! ([`Caller`]), a signed-in staff member ([`Authed`], checked by the one
//! [`authenticate`] the staff socket uses too) or the instance operator
//! ([`Operator`]). The types and their rules live in `app::principal`.

use super::error::ApiError;
pub use crate::app::principal::{authenticate, staff_actor, Authed, Caller, Operator};
use crate::proxies::Proxies;
use crate::state::App;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

impl Caller {
    /// Reads the client address (through trusted proxies only, see
    /// [`crate::proxies`]) and the user agent, shortened.
    pub fn from_parts(parts: &Parts, proxies: &Proxies) -> Self {
        Self::from_http(&parts.headers, &parts.extensions, proxies)
    }

    /// The same from a request's headers and extensions.
    pub fn from_http(
        headers: &axum::http::HeaderMap,
        extensions: &axum::http::Extensions,
        proxies: &Proxies,
    ) -> Self {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let user_agent: String = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        Self {
            ip: proxies.client(peer, headers),
            user_agent,
        }
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        Ok(Self::from_parts(parts, &app.proxies))
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

impl FromRequestParts<App> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let (staff, session) = authenticate(app, bearer(parts).unwrap_or(""))?;
        note(parts, format!("staff:{}", staff.id));
        Ok(Self {
            staff,
            session,
            caller: Caller::from_parts(parts, &app.proxies),
        })
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
            caller: Caller::from_parts(parts, &app.proxies),
        })
    }
}
