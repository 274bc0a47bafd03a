//! Handling contact-form messages: status (`new → read → replied →
//! archived`), assignment to a staff member of the tenant, internal notes,
//! and replies mailed to the sender through the outbox and kept in the
//! thread. Each change holds its tenant's lock and is audited.

use super::principal::Authed;
use super::ApiError;
use crate::mail::{Envelope, Kind};
use crate::state::App;
use parley_engine::account::{ContactEntry, ContactRecord, ContactStatus, MAX_CONTACT_CHARS};
use parley_engine::codes::error as code;
use parley_engine::permissions::Action;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, WriteBatch};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use utoipa::ToSchema;

/// A contact message of the caller's tenant (another tenant's id: not found).
pub fn find(app: &App, me: &Authed, id: &str) -> Result<ContactRecord, ApiError> {
    let id: ContactId = id
        .parse()
        .map_err(|_| ApiError::not_found("contact message"))?;
    app.store
        .contact(me.tenant(), id)?
        .ok_or_else(|| ApiError::not_found("contact message"))
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `PATCH /contact-messages/{id}` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    /// `new`, `read`, `replied` or `archived`.
    status: Option<String>,
    /// A staff id of the tenant, or `null` for nobody.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    assignee: Option<Option<String>>,
}

/// Changes a message's status or assignee.
pub async fn update(
    app: &App,
    me: &Authed,
    id: &str,
    body: ContactPatch,
) -> Result<ContactRecord, ApiError> {
    me.require(Action::ReadConversations)?;
    let _guard = app.locks.tenant(me.tenant()).await;
    let mut c = find(app, me, id)?;
    let before = (c.status, c.assignee);
    if let Some(s) = &body.status {
        c.status = ContactStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(code::INVALID, "status is new, read, replied or archived")
        })?;
    }
    if let Some(a) = &body.assignee {
        c.assignee = match a {
            None => None,
            Some(s) => {
                let staff = s
                    .parse::<StaffId>()
                    .ok()
                    .and_then(|sid| app.store.staff(me.tenant(), sid).ok().flatten())
                    .filter(|st| st.active)
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            code::INVALID,
                            "assignee is not an active staff member",
                        )
                    })?;
                Some(staff.id)
            }
        };
    }
    if (c.status, c.assignee) != before {
        let mut b = WriteBatch::new();
        app.store.put_contact(&mut b, &c);
        me.audit(
            app,
            &mut b,
            "contact.update",
            ("contact", c.id.to_string()),
            json!({"status": [before.0, c.status], "assignee": [before.1, c.assignee]}),
        );
        let from = if c.name.is_empty() { &c.email } else { &c.name };
        let bell = match c.assignee {
            Some(a) if Some(a) != before.1 && a != me.staff.id => super::notify::add(
                app,
                &mut b,
                me.tenant(),
                &[a],
                "assignment",
                &format!("{} assigned you a message from {from}", me.staff.name),
                &format!("#/contacts/{}", c.id),
            ),
            _ => Default::default(),
        };
        app.writer.write(b).await?;
        super::notify::push(app, bell).await;
    }
    Ok(c)
}

/// `POST /contact-messages/{id}/replies` and `…/notes` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    body: String,
}

/// Adds a reply (mailed to the sender; the message becomes `replied`) or
/// an internal note (never mailed) to a message's thread.
pub async fn add_entry(
    app: &App,
    me: &Authed,
    id: &str,
    input: EntryInput,
    reply: bool,
) -> Result<ContactEntry, ApiError> {
    me.require(Action::ReadConversations)?;
    let body = input.body.trim();
    if body.is_empty() || body.chars().count() > MAX_CONTACT_CHARS {
        return Err(ApiError::bad_request(
            code::INVALID,
            format!("body must have 1 to {MAX_CONTACT_CHARS} characters"),
        ));
    }
    let _guard = app.locks.tenant(me.tenant()).await;
    let mut c = find(app, me, id)?;
    let entry = ContactEntry {
        id: AuditId::new(),
        contact_id: c.id,
        reply,
        body: body.to_string(),
        by: me.staff.id,
        by_name: me.staff.name.clone(),
        created_at: Timestamp::now(),
    };
    let mut b = WriteBatch::new();
    app.store.put_contact_entry(&mut b, me.tenant(), &entry);
    if reply {
        let site = app.store.site(me.tenant(), c.site_id)?;
        let site_name = site.as_ref().map(|s| s.name.clone()).unwrap_or_default();
        let mut env = Envelope::new(me.tenant(), &c.email, Kind::ContactReply);
        if site.is_some() {
            env = env.site(c.site_id);
        }
        crate::mail::queue(
            app,
            &mut b,
            env,
            json!({
                "site": site_name, "from": me.staff.name, "body": entry.body,
                "original": c.message, "when": c.created_at.to_rfc3339(),
            }),
        )?;
        c.status = ContactStatus::Replied;
        app.store.put_contact(&mut b, &c);
    }
    me.audit(
        app,
        &mut b,
        if reply {
            "contact.reply"
        } else {
            "contact.note"
        },
        ("contact", c.id.to_string()),
        json!({"entry": entry.id}),
    );
    app.writer.write(b).await?;
    if reply {
        crate::mail::sent(app);
    }
    Ok(entry)
}
