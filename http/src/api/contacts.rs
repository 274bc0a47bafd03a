//! Contact messages: the widget's offline form posts to
//! `POST /api/v1/public/{site_key}/contact` (CORS per the site's allowed
//! origins, a honeypot field, a per-address budget); staff read them at
//! `GET /api/v1/contact-messages`.

use super::error::{query_param, ApiError, ApiJson, ApiQuery};
use super::principal::{Authed, Caller};
use super::public::site_for_post;
use super::Page;
use crate::app::contacts::{self as rules, ContactPatch, EntryInput};
use crate::app::notify;
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use parley_engine::account::{ContactEntry, ContactRecord, ContactStatus, MAX_CONTACT_CHARS};
use parley_engine::codes::error as code;
use parley_engine::permissions::Action;
use parley_engine::*;
use parley_storage::{AuthStore, BookingStore, WriteBatch};
use serde::Deserialize;
use serde_json::{json, Value};
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

/// Leaves a message for the site's staff (the widget's offline form).
#[utoipa::path(post, path = "/api/v1/public/{site_key}/contact", tag = "public",
    params(("site_key" = String, Path)), request_body = ContactForm,
    responses((status = 201, description = "`{id}`: stored", body = Object), (status = 400),
        (status = 403, description = "`origin_not_allowed`, or `tenant_suspended`"), (status = 404), (status = 429)))]
pub async fn submit(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
    caller: Caller,
    ApiJson(form): ApiJson<ContactForm>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let site = site_for_post(&app, &key, &headers)?;
    app.limiters.form(caller.ip, site.id)?;
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
        tracing::info!(site = %site.id, ip = %caller.ip, "contact form honeypot filled; dropped");
        return Ok((StatusCode::CREATED, Json(json!({ "id": id }))));
    }
    let rec = ContactRecord {
        id,
        tenant_id: site.tenant_id,
        site_id: site.id,
        name: name.into(),
        email,
        message: message.into(),
        page_url: form.page_url.chars().take(2000).collect(),
        visitor_id: form
            .visitor_token
            .as_deref()
            .and_then(|t| app.tokens.verify_visitor(site.tenant_id, t)),
        ip: caller.ip.to_string(),
        created_at: Timestamp::now(),
        phone: phone.into(),
        service: service.into(),
        status: ContactStatus::New,
        assignee: None,
    };
    let mut b = WriteBatch::new();
    app.store.put_contact(&mut b, &rec);
    alert_staff(&app, &mut b, &site, &rec)?;
    crate::app::webhooks::emit(
        &app,
        &mut b,
        rec.tenant_id,
        "contact_message.created",
        view(&rec),
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
    let bell = notify::add(
        &app,
        &mut b,
        rec.tenant_id,
        &everyone,
        "contact_message",
        &format!("New message from {who}"),
        &format!("#/contacts/{}", rec.id),
    );
    app.writer.write(b).await?;
    crate::mail::sent(&app);
    notify::push(&app, bell).await;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// Mails the new message to every active staff member who has not turned
/// contact alerts off (added to `batch`, with the message itself).
fn alert_staff(
    app: &App,
    batch: &mut WriteBatch,
    site: &parley_engine::records::SiteRecord,
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

/// Filters of `GET /contact-messages`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    site_id: Option<String>,
    /// `new`, `read`, `replied` or `archived`.
    status: Option<String>,
    /// A staff id, `me`, or `none` for unassigned.
    assignee: Option<String>,
    /// Text in the name, email, phone, service or message.
    q: Option<String>,
    cursor: Option<String>,
    /// 1 to 200, default 50.
    limit: Option<usize>,
}

/// Messages left with the contact form, newest first.
#[utoipa::path(get, path = "/api/v1/contact-messages", tag = "contacts", params(ContactQuery),
    responses((status = 200, body = Page)), security(("bearer" = [])))]
pub async fn list(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<ContactQuery>,
) -> Result<Json<Page>, ApiError> {
    me.require(Action::ReadConversations)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let before = query_param::<ContactId>(q.cursor.as_deref(), "cursor")?;
    let site = query_param::<SiteId>(q.site_id.as_deref(), "site_id")?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(ContactStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(code::INVALID, "status is new, read, replied or archived")
        })?),
    };
    let assignee: Option<Option<StaffId>> = match q.assignee.as_deref() {
        None | Some("") => None,
        Some("none") => Some(None),
        Some("me") => Some(Some(me.staff.id)),
        Some(s) => Some(Some(s.parse().map_err(|_| {
            ApiError::bad_request(code::INVALID, "assignee is not valid")
        })?)),
    };
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let keep = |c: &ContactRecord| {
        site.is_none_or(|s| c.site_id == s)
            && status.is_none_or(|s| c.status == s)
            && assignee.is_none_or(|a| c.assignee == a)
            && text.is_none_or(|t| c.matches(t))
    };
    let items = app.store.contacts(me.tenant(), before, limit + 1, &keep)?;
    Ok(Json(Page::of(items, limit, |c| c.id.to_string(), view)))
}

/// The JSON view of a contact message.
fn view(c: &ContactRecord) -> Value {
    json!({
        "id": c.id, "site_id": c.site_id, "name": c.name, "email": c.email,
        "phone": c.phone, "service": c.service, "message": c.message,
        "status": c.status, "assignee": c.assignee,
        "page_url": c.page_url, "visitor_id": c.visitor_id, "created_at": c.created_at,
    })
}

fn entry_view(e: &ContactEntry) -> Value {
    json!({"id": e.id, "body": e.body, "by": {"id": e.by, "name": e.by_name}, "created_at": e.created_at})
}

/// One message with its replies and notes, oldest first.
#[utoipa::path(get, path = "/api/v1/contact-messages/{id}", tag = "contacts",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    me.require(Action::ReadConversations)?;
    let c = rules::find(&app, &me, &id)?;
    let entries = app.store.contact_entries(me.tenant(), c.id)?;
    let mut v = view(&c);
    v["replies"] = entries.iter().filter(|e| e.reply).map(entry_view).collect();
    v["notes"] = entries
        .iter()
        .filter(|e| !e.reply)
        .map(entry_view)
        .collect();
    Ok(Json(v))
}

/// Changes a message's status (`new`, `read`, `replied`, `archived`) or assignee.
#[utoipa::path(patch, path = "/api/v1/contact-messages/{id}", tag = "contacts", request_body = ContactPatch,
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn update(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ContactPatch>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&rules::update(&app, &me, &id, body).await?)))
}

/// Replies to the sender by mail; the reply stays in the thread and the
/// message becomes `replied`.
#[utoipa::path(post, path = "/api/v1/contact-messages/{id}/replies", tag = "contacts", request_body = EntryInput,
    params(("id" = String, Path)), responses((status = 201, body = Object), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn reply(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EntryInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let e = rules::add_entry(&app, &me, &id, body, true).await?;
    Ok((StatusCode::CREATED, Json(entry_view(&e))))
}

/// Adds an internal note (never mailed).
#[utoipa::path(post, path = "/api/v1/contact-messages/{id}/notes", tag = "contacts", request_body = EntryInput,
    params(("id" = String, Path)), responses((status = 201, body = Object), (status = 400), (status = 404)),
    security(("bearer" = [])))]
pub async fn note(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EntryInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let e = rules::add_entry(&app, &me, &id, body, false).await?;
    Ok((StatusCode::CREATED, Json(entry_view(&e))))
}

/// `POST /public/{site_key}/transcript` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptRequest {
    /// The widget's visitor token: whose conversation.
    visitor_token: String,
    /// Where to send it.
    email: String,
}

/// Mails the visitor their conversation (private notes left out).
#[utoipa::path(post, path = "/api/v1/public/{site_key}/transcript", tag = "public",
    params(("site_key" = String, Path)), request_body = TranscriptRequest,
    responses((status = 202, description = "queued for mail"), (status = 400),
        (status = 403, description = "`origin_not_allowed`, or `tenant_suspended`"),
        (status = 404, description = "no site, or no conversation for this visitor"), (status = 429)))]
pub async fn transcript(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
    caller: Caller,
    ApiJson(req): ApiJson<TranscriptRequest>,
) -> Result<StatusCode, ApiError> {
    use parley_storage::{ConversationStore, MessageLog};
    let site = site_for_post(&app, &key, &headers)?;
    app.limiters.form(caller.ip, site.id)?;
    let email = parley_engine::validate::email(&req.email)?;
    let t = site.tenant_id;
    let none = || ApiError::not_found("conversation");
    let visitor = app
        .tokens
        .verify_visitor(t, &req.visitor_token)
        .ok_or_else(none)?;
    let conv = app
        .store
        .visitor_conversation(t, visitor)?
        .ok_or_else(none)?;
    let mut messages = Vec::new();
    let mut after = 0;
    'pages: loop {
        let page = app.store.messages_after(t, conv, after, 500)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for m in page.iter().filter(|m| !m.private) {
            let who = match m.from.kind {
                parley_engine::records::ParticipantKind::Visitor => "You",
                _ => m.from.name.as_deref().unwrap_or("Us"),
            };
            messages.push(json!({"who": who, "body": m.body, "ts": m.ts.to_rfc3339()}));
            if messages.len() >= 2000 {
                break 'pages;
            }
        }
    }
    let mut b = WriteBatch::new();
    crate::mail::queue(
        &app,
        &mut b,
        crate::mail::Envelope::new(t, &email, crate::mail::Kind::Transcript).site(site.id),
        json!({"site": site.name, "messages": messages}),
    )?;
    app.writer.write(b).await?;
    crate::mail::sent(&app);
    Ok(StatusCode::ACCEPTED)
}

/// Every contact message of the tenant as CSV (newest first).
#[utoipa::path(get, path = "/api/v1/contact-messages/export.csv", tag = "contacts",
    responses((status = 200, content_type = "text/csv"), (status = 403)), security(("bearer" = [])))]
pub async fn export(
    State(app): State<App>,
    me: Authed,
) -> Result<axum::response::Response, ApiError> {
    me.require(Action::ExportData)?;
    let items = app
        .store
        .contacts(me.tenant(), None, usize::MAX, &|_| true)?;
    let rows = items.iter().map(|c| {
        vec![
            c.id.to_string(),
            c.created_at.to_rfc3339(),
            c.site_id.to_string(),
            c.name.clone(),
            c.email.clone(),
            c.phone.clone(),
            c.service.clone(),
            c.status.as_str().to_string(),
            c.assignee.map(|a| a.to_string()).unwrap_or_default(),
            c.page_url.clone(),
            c.message.clone(),
        ]
    });
    super::csv_response(
        "contact-messages.csv",
        &[
            "id",
            "created_at",
            "site_id",
            "name",
            "email",
            "phone",
            "service",
            "status",
            "assignee",
            "page_url",
            "message",
        ],
        rows,
    )
}
