//! Handling contact-form messages: status (`new → read → replied →
//! archived`), assignment to a staff member of the tenant, internal notes,
//! and replies mailed to the sender through the outbox and kept in the
//! thread. Each change holds its tenant's lock and is audited.

use super::principal::Authed;
use super::ApiError;
use crate::mail::{Envelope, Kind};
use crate::state::App;
use parley_engine::account::{ContactEntry, ContactRecord, ContactStatus, MAX_CONTACT_CHARS};
use parley_engine::analytics::{hour_of, Event};
use parley_engine::codes::error as code;
use parley_engine::permissions::Action;
use parley_engine::records::SiteRecord;
use parley_engine::*;
use parley_storage::keys::{self, Tally};
use parley_storage::{AccountStore, AuthStore, BookingStore, WriteBatch};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use utoipa::ToSchema;

/// `POST /public/{site_key}/contact` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactForm {
    #[serde(default)]
    name: String,
    email: String,
    message: String,
    /// The page the form was sent from.
    #[serde(default)]
    page_url: String,
    /// The visitor token, when the widget has one.
    #[serde(default)]
    visitor_token: Option<String>,
    #[serde(default)]
    phone: String,
    /// Which of the site's services the message is about.
    #[serde(default)]
    service: String,
    /// Honeypot: hidden from people, filled by bots. A post that fills it
    /// is answered like any other and dropped.
    #[serde(default)]
    website: String,
}

fn invalid(message: &str) -> ApiError {
    ApiError::bad_request(code::INVALID, message)
}

/// A contact message's JSON (the staff view and the webhook's data).
pub fn json(c: &ContactRecord) -> serde_json::Value {
    json!({
        "id": c.id, "site_id": c.site_id, "name": c.name, "email": c.email,
        "phone": c.phone, "service": c.service, "message": c.message,
        "status": c.status, "assignee": c.assignee,
        "page_url": c.page_url, "visitor_id": c.visitor_id, "created_at": c.created_at,
    })
}

/// Stores a message left with a site's contact form (a filled honeypot:
/// answered the same, nothing kept), alerts the staff by mail and in their
/// bell, and tells the webhooks.
pub async fn submit(
    app: &App,
    site: &SiteRecord,
    ip: std::net::IpAddr,
    form: ContactForm,
) -> Result<ContactId, ApiError> {
    let email = parley_engine::validate::email(&form.email)?;
    let name = form.name.trim();
    if name.chars().count() > 100 {
        return Err(invalid("name must have at most 100 characters"));
    }
    let message = form.message.trim();
    if message.is_empty() || message.chars().count() > MAX_CONTACT_CHARS {
        return Err(invalid(&format!(
            "message must have 1 to {MAX_CONTACT_CHARS} characters"
        )));
    }
    let phone = form.phone.trim();
    let service = form.service.trim();
    if phone.chars().count() > 40 || service.chars().count() > 100 {
        return Err(invalid(
            "phone must have at most 40 characters and service at most 100",
        ));
    }
    let services = app.store.site_forms(site.tenant_id, site.id)?.services;
    if !service.is_empty() && !services.is_empty() && !services.iter().any(|s| s == service) {
        return Err(invalid(&format!(
            "service must be one of: {}",
            services.join(", ")
        )));
    }
    let id = ContactId::new();
    if !form.website.is_empty() {
        tracing::info!(site = %site.id, ip = %ip, "contact form honeypot filled; dropped");
        return Ok(id);
    }
    let rec = ContactRecord {
        id,
        tenant_id: site.tenant_id,
        site_id: site.id,
        name: name.into(),
        email,
        message: message.into(),
        page_url: parley_engine::validate::web_url(form.page_url.chars().take(2000).collect()),
        visitor_id: form
            .visitor_token
            .as_deref()
            .and_then(|t| app.visitor_on(site, t))
            .map(|k| k.visitor),
        ip: ip.to_string(),
        created_at: Timestamp::now(),
        phone: phone.into(),
        service: service.into(),
        status: ContactStatus::New,
        assignee: None,
    };
    let mut b = WriteBatch::new();
    app.store.put_contact(&mut b, &rec);
    b.count(
        keys::bucket(
            rec.tenant_id,
            Tally::Site(rec.site_id),
            hour_of(rec.created_at),
        ),
        Event::ContactMessage,
    );
    alert_staff(app, &mut b, site, &rec)?;
    super::webhooks::emit(
        app,
        &mut b,
        rec.tenant_id,
        "contact_message.created",
        json(&rec),
    );
    let everyone: Vec<StaffId> = app
        .store
        .staff_list(rec.tenant_id)?
        .iter()
        .filter(|s| s.active)
        .map(|s| s.id)
        .collect();
    let who = if rec.name.is_empty() {
        &rec.email
    } else {
        &rec.name
    };
    let bell = super::notify::add(
        app,
        &mut b,
        rec.tenant_id,
        &everyone,
        "contact_message",
        &format!("New message from {who}"),
        &format!("#/contacts/{}", rec.id),
    );
    app.writer.write(b).await?;
    crate::mail::sent(app);
    super::notify::push(app, bell).await;
    Ok(id)
}

/// Mails the new message to every active staff member who has not turned
/// contact alerts off (added to `batch`, with the message itself).
fn alert_staff(
    app: &App,
    batch: &mut WriteBatch,
    site: &SiteRecord,
    rec: &ContactRecord,
) -> Result<(), ApiError> {
    use parley_storage::DeskStore;
    let link = crate::mail::app_link(app, &format!("/contacts/{}", rec.id));
    let name = if rec.name.is_empty() {
        rec.email.as_str()
    } else {
        rec.name.as_str()
    };
    for staff in app.store.staff_list(rec.tenant_id)? {
        if !staff.active
            || !app
                .store
                .staff_prefs(rec.tenant_id, staff.id)?
                .contact_alerts
        {
            continue;
        }
        crate::mail::queue(
            app,
            batch,
            crate::mail::Envelope::new(
                rec.tenant_id,
                &staff.email,
                crate::mail::Kind::ContactAlert,
            )
            .site(site.id),
            json!({"site": site.name, "name": name, "email": rec.email, "message": rec.message, "link": link}),
        )?;
    }
    Ok(())
}

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
                "original": c.message, "when": c.created_at,
                "tz": crate::mail::visitor_zone(app, me.tenant(), c.visitor_id),
            }),
        )?;
        c.status = ContactStatus::Replied;
        app.store.put_contact(&mut b, &c);
        b.count(
            keys::bucket(
                me.tenant(),
                Tally::Staff(me.staff.id),
                hour_of(entry.created_at),
            ),
            Event::ContactReply,
        );
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
