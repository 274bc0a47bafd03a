//! The audit log: every mutating action becomes an append-only record,
//! written in the same batch as the change it describes. `GET /api/v1/audit`
//! reads it newest first, cursor-paginated, for owners and admins.

use super::error::{ApiError, ApiQuery};
use super::principal::Authed;
use super::Page;
pub use crate::app::audit::{add, by, entry, write};
use crate::state::App;
use axum::extract::State;
use axum::Json;
use parley_engine::account::AuditRecord;
use parley_engine::permissions::Action;
use parley_engine::*;
use parley_storage::AuthStore;
use serde::Deserialize;
use serde_json::Value;

/// The JSON view of an audit record.
pub fn view(r: &AuditRecord) -> Value {
    serde_json::json!({
        "id": r.id,
        "actor": r.actor,
        "device": crate::app::sessions::device_name(&r.user_agent),
        "action": r.action,
        "entity_type": r.entity_type,
        "entity_id": r.entity_id,
        "changes": serde_json::from_str::<Value>(&r.changes).unwrap_or(Value::Null),
        "ip": r.ip,
        "user_agent": r.user_agent,
        "at": r.at,
    })
}

/// Filters of `GET /api/v1/audit`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1 to 200, default 50.
    limit: Option<usize>,
    /// An action (`staff.update`) or a prefix ending in a dot (`auth.`).
    action: Option<String>,
    /// The id of the staff member who acted.
    actor_id: Option<String>,
    entity_type: Option<String>,
    entity_id: Option<String>,
    /// RFC 3339; entries at or after.
    since: Option<String>,
    /// RFC 3339; entries before.
    until: Option<String>,
}

fn time(s: &Option<String>, name: &str) -> Result<Option<Timestamp>, ApiError> {
    s.as_deref()
        .map(|v| {
            Timestamp::parse_rfc3339(v).ok_or_else(|| {
                ApiError::bad_request(
                    parley_engine::codes::error::INVALID,
                    format!("{name} must be an RFC 3339 time"),
                )
            })
        })
        .transpose()
}

/// The audit log, newest first. Each entry names its actor
/// (`actor.name`: the staff member's name now) and what it acted on
/// (`entity_label`: "conversation with Visitor 4F2A", "site Shop"), and
/// the device its user agent was (`device`: "Chrome on Linux").
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "`{items:[{id, actor:{kind,id,email,name}, action, entity_type, entity_id, entity_label, changes, ip, user_agent, device, at}], next_cursor}`", body = Page), (status = 403, description = "agents may not read the audit log")),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Page>, ApiError> {
    me.require(Action::ReadAudit)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let before = match q.cursor.as_deref() {
        Some(c) => Some(c.parse::<AuditId>().map_err(|_| {
            ApiError::bad_request(parley_engine::codes::error::INVALID, "cursor is not valid")
        })?),
        None => None,
    };
    let (since, until) = (time(&q.since, "since")?, time(&q.until, "until")?);
    let keep = |r: &AuditRecord| {
        q.action.as_deref().is_none_or(|a| {
            if a.ends_with('.') {
                r.action.starts_with(a)
            } else {
                r.action == a
            }
        }) && q
            .actor_id
            .as_deref()
            .is_none_or(|a| r.actor.id.as_deref() == Some(a))
            && q.entity_type.as_deref().is_none_or(|e| r.entity_type == e)
            && q.entity_id
                .as_deref()
                .is_none_or(|e| r.entity_id.as_deref() == Some(e))
            && since.is_none_or(|s| r.at >= s)
            && until.is_none_or(|u| r.at < u)
    };
    let items = app.store.audit(me.tenant(), before, limit + 1, &keep)?;
    let names = std::cell::RefCell::new(Names::new(&app, me.tenant()));
    Ok(Json(Page::of(
        items,
        limit,
        |r| r.id.to_string(),
        |r| {
            let mut names = names.borrow_mut();
            let mut v = view(r);
            v["actor"]["name"] = names.actor(&r.actor).into();
            v["entity_label"] = names.entity(&r.entity_type, r.entity_id.as_deref()).into();
            v
        },
    )))
}

/// Names people and things for the audit log as a person reads it
/// ("Alice", "conversation with Visitor 4F2A", "site Shop"), each looked up
/// once a page. What no longer exists keeps its short id.
struct Names<'a> {
    app: &'a App,
    t: TenantId,
    seen: std::collections::HashMap<(String, String), Option<String>>,
}

impl<'a> Names<'a> {
    fn new(app: &'a App, t: TenantId) -> Self {
        Self {
            app,
            t,
            seen: Default::default(),
        }
    }

    fn actor(&mut self, a: &parley_engine::account::AuditActor) -> Option<String> {
        match (a.kind.as_str(), a.id.as_deref()) {
            ("staff", Some(id)) => self
                .lookup("staff", id)
                .or_else(|| a.email.clone())
                .or_else(|| Some(format!("staff member {}", short(id)))),
            ("superadmin", _) => Some("the instance operator".into()),
            ("billing", _) => Some("the payment provider".into()),
            ("visitor", Some(id)) => Some(visitor_name(None, id)),
            ("visitor", None) => Some("a visitor".into()),
            _ => a
                .email
                .clone()
                .or_else(|| Some("someone signed out".into())),
        }
    }

    fn entity(&mut self, kind: &str, id: Option<&str>) -> String {
        let Some(id) = id else {
            return kind.replace('_', " ");
        };
        match self.lookup(kind, id) {
            Some(label) => label,
            None => format!("{} {}", kind.replace('_', " "), short(id)),
        }
    }

    fn lookup(&mut self, kind: &str, id: &str) -> Option<String> {
        let key = (kind.to_string(), id.to_string());
        if let Some(v) = self.seen.get(&key) {
            return v.clone();
        }
        let v = self.find(kind, id);
        self.seen.insert(key, v.clone());
        v
    }

    fn find(&self, kind: &str, id: &str) -> Option<String> {
        use parley_storage::{AccountStore, BookingStore, DeskStore, NewsletterStore};
        use parley_storage::{ConversationStore, OutboxStore, VisitorStore};
        let (app, t) = (self.app, self.t);
        match kind {
            "staff" => {
                let s = app.store.staff(t, id.parse().ok()?).ok()??;
                Some(if s.name.is_empty() { s.email } else { s.name })
            }
            "site" => Some(format!(
                "site {}",
                app.store.site(t, id.parse().ok()?).ok()??.name
            )),
            "tenant" => Some(format!("workspace {}", app.store.tenant(t).ok()??.name)),
            "conversation" => {
                let c = app.store.conversation(t, id.parse().ok()?).ok()??;
                let v = app.store.visitor(t, c.visitor_id).ok().flatten();
                Some(format!(
                    "conversation with {}",
                    visitor_name(v.as_ref(), &c.visitor_id.to_string())
                ))
            }
            "visitor" => {
                let v = app.store.visitor(t, id.parse().ok()?).ok()?;
                Some(visitor_name(v.as_ref(), id))
            }
            "campaign" => Some(format!(
                "newsletter “{}”",
                app.store.campaign(t, id.parse().ok()?).ok()??.subject
            )),
            "canned" => Some(format!(
                "canned response /{}",
                app.store.canned_one(t, id.parse().ok()?).ok()??.shortcut
            )),
            "contact" => {
                let c = app.store.contact(t, id.parse().ok()?).ok()??;
                Some(format!(
                    "message from {}",
                    if c.name.is_empty() { c.email } else { c.name }
                ))
            }
            "consultation" => Some(format!(
                "consultation with {}",
                app.store.booking(t, id.parse().ok()?).ok()??.name
            )),
            "mail" => {
                let m = app.store.mail(t, id.parse().ok()?).ok()??;
                Some(format!("mail “{}” to {}", m.subject, m.to))
            }
            "session" => Some("a session".into()),
            _ => None,
        }
    }
}

/// The last characters of an id, as the dashboard shows ids.
fn short(id: &str) -> String {
    id.chars()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_uppercase()
}

/// A visitor as staff see one: their name or email, else "Visitor" and the
/// end of their id (as the inbox shows them).
fn visitor_name(v: Option<&parley_engine::records::VisitorRecord>, id: &str) -> String {
    v.and_then(|v| v.name.clone().or_else(|| v.email.clone()))
        .unwrap_or_else(|| format!("Visitor {}", &id[id.len().saturating_sub(5)..]))
}
