//! The mail outbox as staff see it: every mail the tenant sent or will
//! send, with its delivery state and attempts, and a retry for dead
//! letters. Owners also see bodies (they hold single-use links).

use super::error::{query_param, ApiError, ApiQuery};
use super::principal::Authed;
use super::Page;
use crate::state::App;
use axum::extract::{Path, State};
use axum::Json;
use parley_engine::codes::error as code;
use parley_engine::mail::{MailRecord, MailStatus};
use parley_engine::permissions::Action;
use parley_engine::MailId;
use parley_storage::{OutboxStore, WriteBatch};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

/// `GET /outbox` query.
#[derive(Deserialize, IntoParams)]
pub struct OutboxQuery {
    /// `pending`, `sent` or `failed`.
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// One outbox item as the API shows it.
pub fn mail_view(app: &App, m: &MailRecord, with_body: bool) -> Value {
    // Mail waiting for a transport that does not exist says why.
    let last_error = match m.last_error() {
        Some(e) => Some(e.to_string()),
        None if m.status == MailStatus::Pending && !app.smtp_configured => {
            Some("no SMTP server configured".to_string())
        }
        None => None,
    };
    let mut v = json!({
        "id": m.id, "to": m.to, "subject": m.subject, "kind": m.kind,
        "status": m.status.as_str(), "attempts": m.attempts.len(),
        "last_error": last_error, "created_at": m.created_at, "sent_at": m.sent_at,
        "next_attempt_at": (m.status == MailStatus::Pending).then_some(m.next_attempt_at),
        "message_id": m.message_id,
        "history": m.attempts.iter().map(|a| json!({"at": a.at, "ok": a.ok, "reply": a.reply})).collect::<Vec<_>>(),
    });
    if with_body {
        // A campaign's mail shows its shared body with this recipient's links.
        let body = app.store.mail_body(m).map(|b| b.0).unwrap_or_else(|e| {
            tracing::warn!(mail = %m.id, error = %e, "reading a mail body");
            String::new()
        });
        v["body"] = body.into();
    }
    v
}

/// One mail as it was (or will be) sent: the list's fields, and for those
/// who may read bodies (they hold single-use links) `body` and `html`, the
/// rendered text and HTML.
#[utoipa::path(get, path = "/api/v1/outbox/{id}", tag = "audit",
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn mail(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    me.require(Action::ReadOutbox)?;
    let id: MailId = id.parse().map_err(|_| ApiError::not_found("mail"))?;
    let m = app
        .store
        .mail(me.tenant(), id)?
        .ok_or_else(|| ApiError::not_found("mail"))?;
    let with_body = me.can(Action::ReadMailBodies);
    let mut v = mail_view(&app, &m, with_body);
    if with_body {
        let (_, html) = app.store.mail_body(&m).unwrap_or_default();
        v["html"] = html.into();
    }
    Ok(Json(v))
}

/// The tenant's outgoing mail, newest first, with its delivery state.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "audit", params(OutboxQuery),
    responses((status = 200, body = Page), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn outbox(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> Result<Json<Page>, ApiError> {
    me.require(Action::ReadOutbox)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some("pending") => Some(MailStatus::Pending),
        Some("sent") => Some(MailStatus::Sent),
        Some("failed") => Some(MailStatus::Failed),
        Some(_) => {
            return Err(ApiError::bad_request(
                code::BAD_REQUEST,
                "status is pending, sent or failed",
            ))
        }
    };
    let before = query_param::<MailId>(q.cursor.as_deref(), "cursor")?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let with_body = me.can(Action::ReadMailBodies);
    let keep = |m: &MailRecord| status.is_none_or(|s| m.status == s);
    let items = app.store.mails(me.tenant(), before, limit + 1, &keep)?;
    Ok(Json(Page::of(
        items,
        limit,
        |m| m.id.to_string(),
        |m| mail_view(&app, m, with_body),
    )))
}

/// Puts a failed mail back in the queue for another round of attempts.
#[utoipa::path(post, path = "/api/v1/outbox/{id}/retry", tag = "audit",
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 403), (status = 404), (status = 409, description = "`not_failed`: only failed mail is retried")),
    security(("bearer" = [])))]
pub async fn retry_mail(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    me.require(Action::ReadOutbox)?;
    let id: MailId = id.parse().map_err(|_| ApiError::not_found("mail"))?;
    let old = app
        .store
        .mail(me.tenant(), id)?
        .ok_or_else(|| ApiError::not_found("mail"))?;
    let mut new = old.clone();
    if !new.retry(parley_engine::Timestamp::now()) {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "not_failed",
            "only failed mail can be retried",
        ));
    }
    let mut b = WriteBatch::new();
    app.store.update_mail(&mut b, &old, &new);
    me.audit(
        &app,
        &mut b,
        "mail.retry",
        ("mail", id.to_string()),
        json!({"to": new.to}),
    );
    app.writer.write(b).await?;
    crate::mail::sent(&app);
    Ok(Json(mail_view(&app, &new, me.can(Action::ReadMailBodies))))
}
