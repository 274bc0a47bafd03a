//! The newsletter: the public sign-up, the subscriber list and its CSV
//! (owners and admins), and campaigns.

use super::error::{query_param, ApiError, ApiJson, ApiQuery};
use super::principal::{Authed, Caller};
use super::public::site_for_post;
use super::Page;
use crate::app::newsletter::{self as rules, CampaignInput, SignUpInput};
use crate::state::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use parley_engine::codes::error as code;
use parley_engine::newsletter::{CampaignRecord, SubscriberRecord, SubscriberStatus};
use parley_engine::permissions::Action;
use parley_engine::*;
use parley_storage::NewsletterStore;
use serde::Deserialize;
use serde_json::{json, Value};

/// Signs an address up for the site's newsletter: 202 whatever it was.
#[utoipa::path(post, path = "/api/v1/public/{site_key}/newsletter", tag = "public",
    params(("site_key" = String, Path)), request_body = SignUpInput,
    responses((status = 202, description = "a confirmation mail is on its way (or was already)"),
        (status = 400), (status = 403), (status = 404), (status = 429)))]
pub async fn sign_up(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
    caller: Caller,
    ApiJson(input): ApiJson<SignUpInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let site = site_for_post(&app, &key, &headers)?;
    app.limiters.form(caller.ip, site.id)?;
    rules::sign_up(&app, &site, input).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"status": "check_mail"}))))
}

fn view(s: &SubscriberRecord) -> Value {
    json!({
        "id": s.id, "site_id": s.site_id, "email": s.email, "name": s.name, "status": s.status,
        "history": s.history.iter().map(|h| json!({"at": h.at, "status": h.status, "via": h.via})).collect::<Vec<_>>(),
        "created_at": s.created_at,
    })
}

/// Filters of `GET /newsletter`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubscriberQuery {
    /// `pending`, `confirmed` (default) or `unsubscribed`; `all` for every one.
    status: Option<String>,
    site_id: Option<String>,
    /// Text in the address or name.
    q: Option<String>,
    cursor: Option<String>,
    /// 1 to 500, default 100.
    limit: Option<usize>,
}

fn status_filter(s: Option<&str>) -> Result<Option<SubscriberStatus>, ApiError> {
    match s {
        None | Some("") => Ok(Some(SubscriberStatus::Confirmed)),
        Some("all") => Ok(None),
        Some(s) => SubscriberStatus::parse(s).map(Some).ok_or_else(|| {
            ApiError::bad_request(
                code::INVALID,
                "status is pending, confirmed, unsubscribed or all",
            )
        }),
    }
}

/// The newsletter's subscribers, newest first (confirmed ones by default).
#[utoipa::path(get, path = "/api/v1/newsletter", tag = "newsletter", params(SubscriberQuery),
    responses((status = 200, body = Page), (status = 403)), security(("bearer" = [])))]
pub async fn list(
    State(app): State<App>,
    me: Authed,
    ApiQuery(q): ApiQuery<SubscriberQuery>,
) -> Result<Json<Page>, ApiError> {
    me.require(Action::ManageNewsletter)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let before = query_param::<SubscriberId>(q.cursor.as_deref(), "cursor")?;
    let site = query_param::<SiteId>(q.site_id.as_deref(), "site_id")?;
    let status = status_filter(q.status.as_deref())?;
    let text =
        q.q.as_deref()
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty());
    let keep = |s: &SubscriberRecord| {
        status.is_none_or(|x| s.status == x)
            && site.is_none_or(|x| s.site_id == x)
            && text
                .as_deref()
                .is_none_or(|t| s.email.contains(t) || s.name.to_lowercase().contains(t))
    };
    let items = app
        .store
        .subscribers(me.tenant(), before, limit + 1, &keep)?;
    Ok(Json(Page::of(items, limit, |s| s.id.to_string(), view)))
}

/// Every subscriber as CSV (every status, with the latest change).
#[utoipa::path(get, path = "/api/v1/newsletter/export.csv", tag = "newsletter",
    responses((status = 200, content_type = "text/csv"), (status = 403)), security(("bearer" = [])))]
pub async fn export(State(app): State<App>, me: Authed) -> Result<Response, ApiError> {
    me.require(Action::ManageNewsletter)?;
    me.require(Action::ExportData)?;
    let t = me.tenant();
    let store = app.store.clone();
    super::csv_pages(
        "subscribers.csv",
        &[
            "id",
            "site_id",
            "email",
            "name",
            "status",
            "created_at",
            "changed_at",
        ],
        move |before, n| Ok(store.subscribers(t, before, n, &|_| true)?),
        |s: &SubscriberRecord| s.id,
        |s: &SubscriberRecord| {
            vec![
                s.id.to_string(),
                s.site_id.to_string(),
                s.email.clone(),
                s.name.clone(),
                s.status.as_str().to_string(),
                s.created_at.to_rfc3339(),
                s.history
                    .last()
                    .map(|h| h.at.to_rfc3339())
                    .unwrap_or_default(),
            ]
        },
    )
    .await
}

fn campaign_view(c: &CampaignRecord) -> Value {
    json!({
        "id": c.id, "site_id": c.site_id, "subject": c.subject, "body": c.body, "status": c.status,
        "created_at": c.created_at, "sent_at": c.sent_at, "queued": c.queued,
    })
}

/// Writes a campaign (a draft).
#[utoipa::path(post, path = "/api/v1/newsletter/campaigns", tag = "newsletter", request_body = CampaignInput,
    responses((status = 201, body = Object), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn create_campaign(
    State(app): State<App>,
    me: Authed,
    ApiJson(body): ApiJson<CampaignInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let c = rules::create_campaign(&app, &me, body).await?;
    Ok((StatusCode::CREATED, Json(campaign_view(&c))))
}

/// The tenant's campaigns, newest first.
#[utoipa::path(get, path = "/api/v1/newsletter/campaigns", tag = "newsletter",
    responses((status = 200, body = Page), (status = 403)), security(("bearer" = [])))]
pub async fn campaigns(State(app): State<App>, me: Authed) -> Result<Json<Page>, ApiError> {
    me.require(Action::ManageNewsletter)?;
    let items = app.store.campaigns(me.tenant(), 200)?;
    Ok(Json(Page {
        items: items.iter().map(campaign_view).collect(),
        next_cursor: None,
    }))
}

/// One campaign with its preview: `preview: {subject, text, html}` as a
/// subscriber will get it.
#[utoipa::path(get, path = "/api/v1/newsletter/campaigns/{id}", tag = "newsletter",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)),
    security(("bearer" = [])))]
pub async fn campaign(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = rules::find_campaign(&app, &me, &id)?;
    let (text, html) = rules::render_body(&c.body);
    let mut v = campaign_view(&c);
    v["preview"] = json!({"subject": c.subject, "text": text, "html": html});
    Ok(Json(v))
}

/// Rewrites a draft (subject, body, site); a sent campaign: 400 `invalid_state`.
#[utoipa::path(patch, path = "/api/v1/newsletter/campaigns/{id}", tag = "newsletter", request_body = CampaignInput,
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 400, description = "`invalid_state`: sent already"), (status = 404)),
    security(("bearer" = [])))]
pub async fn update_campaign(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CampaignInput>,
) -> Result<Json<Value>, ApiError> {
    let c = rules::update_campaign(&app, &me, &id, body).await?;
    Ok(Json(campaign_view(&c)))
}

/// Sends a draft to every confirmed subscriber, through the outbox.
#[utoipa::path(post, path = "/api/v1/newsletter/campaigns/{id}/send", tag = "newsletter",
    params(("id" = String, Path)),
    responses((status = 202, body = Object), (status = 400, description = "`invalid_state`: sent already"), (status = 404)),
    security(("bearer" = [])))]
pub async fn send(
    State(app): State<App>,
    me: Authed,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let c = rules::send(&app, &me, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(campaign_view(&c))))
}
