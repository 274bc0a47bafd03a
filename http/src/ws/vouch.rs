//! What a cluster node vouches for when it relays a socket to the tenant's
//! owner (`http/CLUSTER.md`, "The bus's credentials"): tokens stay on the
//! node the client connected to. It checks a staff `auth` or a visitor
//! `hello` itself and sends what the token proved; the owner checks that
//! against its records as it would the token's claims, and the visitor's
//! token in `welcome` is written in back on the gateway. Nothing here is
//! believed from anyone but a node: the bus's users are the cluster's nodes.

use super::visitor::Greeting;
use crate::auth::{StaffClaims, VisitorToken};
use crate::state::App;
use parley_engine::protocol::{parse_client, ClientFrame};
use parley_engine::records::{PageInfo, SiteRecord};
use parley_engine::{SessionId, SiteId, StaffId, TenantId, VisitorId};
use serde::{Deserialize, Serialize};

/// A staff access token's claims, its signature checked by the gateway.
/// The owner checks them against its records (staff active with this
/// `token_version`, session live, tenant not suspended) as for a token.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Claims {
    staff: StaffId,
    tenant: TenantId,
    token_version: u32,
    session: Option<SessionId>,
    /// The token's expiry (Unix seconds).
    exp: u64,
}

impl From<StaffClaims> for Claims {
    fn from(c: StaffClaims) -> Self {
        Self {
            staff: c.sub,
            tenant: c.tid,
            token_version: c.ver,
            session: c.sid,
            exp: c.exp,
        }
    }
}

impl Claims {
    /// The claims for a session of tenant `t`; claims for another tenant
    /// are nobody there.
    pub(super) fn on(self, t: TenantId) -> Option<StaffClaims> {
        (self.tenant == t).then(|| StaffClaims {
            sub: self.staff,
            tid: self.tenant,
            ver: self.token_version,
            kind: "staff".into(),
            sid: self.session,
            iat: 0,
            exp: self.exp,
        })
    }
}

/// A visitor's `hello` as the gateway read it: the visitor its token named
/// on the site (if genuine, and whether bound to the site), never the token.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Hello {
    known: Option<(VisitorId, bool)>,
    page: PageInfo,
    tz: String,
}

impl Hello {
    /// What of `g` (read and checked on `site` here) goes to the owner, and
    /// how this node writes the token into the owner's `welcome`.
    pub(super) fn checked(g: Greeting, site: &SiteRecord) -> (Self, Fill) {
        let fill = Fill {
            tenant: site.tenant_id,
            site: site.id,
            kept: match (g.known, g.token) {
                (Some(k), Some(token)) if k.bound => Some((k.visitor, token)),
                _ => None,
            },
        };
        let hello = Self {
            known: g.known.map(|k| (k.visitor, k.bound)),
            page: g.page,
            tz: g.tz,
        };
        (hello, fill)
    }

    /// The greeting the owner's visitor session starts from.
    pub(super) fn greeting(self) -> Greeting {
        Greeting {
            known: self
                .known
                .map(|(visitor, bound)| VisitorToken { visitor, bound }),
            token: None,
            page: self.page,
            tz: self.tz,
        }
    }
}

/// A relayed visitor's token, which the gateway keeps: the one the client
/// sent when it is good here, else one the gateway makes for the visitor
/// the owner's `welcome` names.
pub(super) struct Fill {
    tenant: TenantId,
    site: SiteId,
    kept: Option<(VisitorId, String)>,
}

impl Fill {
    /// `welcome` with its token written in (the owner leaves it empty).
    pub(super) fn welcome(&self, app: &App, frame: Vec<u8>) -> Vec<u8> {
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&frame) else {
            return frame;
        };
        let visitor = v["visitor_id"]
            .as_str()
            .and_then(|s| s.parse::<VisitorId>().ok());
        let (Some(visitor), Some(slot)) = (visitor, v.get_mut("visitor_token")) else {
            return frame;
        };
        *slot = serde_json::Value::String(match &self.kept {
            Some((kept, token)) if *kept == visitor => token.clone(),
            _ => app.tokens.issue_visitor(self.tenant, self.site, visitor),
        });
        serde_json::to_vec(&v).unwrap_or(frame)
    }
}

/// A client message as relayed: an `auth` or `hello` sent again (refused
/// by the owner all the same) has its token blanked, so no token is ever
/// on the bus; everything else goes as it came.
pub(super) fn blank_tokens(text: Vec<u8>) -> Vec<u8> {
    if !text.windows(5).any(|w| w == b"token") {
        return text;
    }
    match std::str::from_utf8(&text).map(parse_client) {
        Ok(Ok(ClientFrame::Auth { .. })) => br#"{"type":"auth","token":""}"#.to_vec(),
        Ok(Ok(ClientFrame::Hello { .. })) => br#"{"type":"hello"}"#.to_vec(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::{blank_tokens, Claims};
    use parley_engine::{StaffId, TenantId};

    #[test]
    fn claims_for_another_tenant_are_nobody_on_its_owner() {
        let (t, other) = (TenantId::new(), TenantId::new());
        let claims = Claims {
            staff: StaffId::new(),
            tenant: t,
            token_version: 3,
            session: None,
            exp: 99,
        };
        assert!(claims.clone().on(other).is_none());
        let c = claims.on(t).unwrap();
        assert_eq!((c.tid, c.ver, c.exp, c.kind.as_str()), (t, 3, 99, "staff"));
    }

    #[test]
    fn a_token_sent_again_is_blanked_and_chat_goes_as_it_came() {
        let blank = |s: &str| String::from_utf8(blank_tokens(s.as_bytes().to_vec())).unwrap();
        assert_eq!(
            blank(r#"{"type":"auth","token":"eyJ.a.b"}"#),
            r#"{"type":"auth","token":""}"#
        );
        assert_eq!(
            blank(r#"{"type":"hello","visitor_token":"eyJ.a.b","page":{"url":"u"}}"#),
            r#"{"type":"hello"}"#
        );
        for same in [
            r#"{"type":"send","client_id":"1","body":"my token is lost"}"#,
            r#"{"type":"send","client_id":"1","body":"hi"}"#,
            r#"{"type":"auth""#,
        ] {
            assert_eq!(blank(same), same);
        }
    }
}
