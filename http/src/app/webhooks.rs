//! Webhook endpoints of a tenant: registered for some events, each with a
//! `whsec_` secret shown once (when made or rotated; the old one keeps
//! signing for `webhooks.rotation_overlap_hours`), removed with their log.
//! [`emit`] adds an event's deliveries to the batch that writes the event.

use super::principal::Authed;
use super::ApiError;
use crate::state::App;
use parley_engine::codes::error as code;
use parley_engine::permissions::Action;
use parley_engine::webhook::{endpoint_url, new_secret, WebhookEndpoint, EVENTS};
use parley_engine::*;
use parley_storage::{WebhookStore, WriteBatch};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;
use utoipa::ToSchema;

/// Adds the deliveries of `event` for tenant `t` to `batch`.
pub fn emit(app: &App, batch: &mut WriteBatch, t: TenantId, event: &str, data: Value) {
    app.system
        .ctx
        .hooks
        .emit(&app.store, batch, t, event, || data);
}

fn secret() -> String {
    let mut b = [0u8; 24];
    rand::rng().fill_bytes(&mut b);
    new_secret(b)
}

/// `POST /webhooks` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// `https://…` (or `http://`).
    url: String,
    /// Any of `conversation.created`, `conversation.closed`, `message.created`,
    /// `contact_message.created`, `consultation.booked`, `subscriber.confirmed`.
    events: Vec<String>,
}

/// Registers an endpoint; its secret is in the answer, and only there.
pub async fn create(
    app: &App,
    me: &Authed,
    input: WebhookInput,
) -> Result<WebhookEndpoint, ApiError> {
    me.require(Action::ManageWebhooks)?;
    super::plans::require_feature(app, me.tenant(), "webhooks")?;
    let url = endpoint_url(&input.url, app.config.webhooks.allow_private_targets)?;
    let mut events: Vec<String> = Vec::new();
    for e in input.events {
        if !EVENTS.contains(&e.as_str()) {
            return Err(ApiError::bad_request(
                code::INVALID,
                format!("unknown event {e:?}; events are {}", EVENTS.join(", ")),
            ));
        }
        if !events.contains(&e) {
            events.push(e);
        }
    }
    if events.is_empty() {
        return Err(ApiError::bad_request(
            code::INVALID,
            "name at least one event",
        ));
    }
    let _guard = app.locks.tenant(me.tenant()).await;
    if app.store.webhooks(me.tenant())?.len() >= 20 {
        return Err(ApiError::bad_request(
            code::INVALID,
            "at most 20 webhook endpoints",
        ));
    }
    let w = WebhookEndpoint {
        id: WebhookId::new(),
        tenant_id: me.tenant(),
        url,
        events,
        secret: secret(),
        previous: None,
        created_at: Timestamp::now(),
    };
    let mut b = WriteBatch::new();
    app.store.put_webhook(&mut b, &w);
    me.audit(
        app,
        &mut b,
        "webhook.create",
        ("webhook", w.id.to_string()),
        json!({"url": w.url, "events": w.events}),
    );
    app.writer.write(b).await?;
    app.system.ctx.hooks.invalidate(me.tenant());
    Ok(w)
}

/// An endpoint of the caller's tenant.
pub fn find(app: &App, me: &Authed, id: &str) -> Result<WebhookEndpoint, ApiError> {
    me.require(Action::ManageWebhooks)?;
    let id: WebhookId = id.parse().map_err(|_| ApiError::not_found("webhook"))?;
    app.store
        .webhook(me.tenant(), id)?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// Removes an endpoint and its delivery log.
pub async fn delete(app: &App, me: &Authed, id: &str) -> Result<(), ApiError> {
    let _guard = app.locks.tenant(me.tenant()).await;
    let w = find(app, me, id)?;
    let mut b = WriteBatch::new();
    app.store.delete_webhook(&mut b, &w)?;
    me.audit(
        app,
        &mut b,
        "webhook.delete",
        ("webhook", w.id.to_string()),
        json!({"url": w.url}),
    );
    app.writer.write(b).await?;
    app.system.ctx.hooks.invalidate(me.tenant());
    Ok(())
}

/// A new secret; the old one signs too until the overlap window ends.
pub async fn rotate(app: &App, me: &Authed, id: &str) -> Result<WebhookEndpoint, ApiError> {
    let _guard = app.locks.tenant(me.tenant()).await;
    let mut w = find(app, me, id)?;
    let overlap = Duration::from_secs(app.config.webhooks.rotation_overlap_hours * 3600);
    let old = std::mem::replace(&mut w.secret, secret());
    w.previous = Some((old, Timestamp::now().after(overlap)));
    let mut b = WriteBatch::new();
    app.store.put_webhook(&mut b, &w);
    me.audit(
        app,
        &mut b,
        "webhook.rotate_secret",
        ("webhook", w.id.to_string()),
        json!({}),
    );
    app.writer.write(b).await?;
    app.system.ctx.hooks.invalidate(me.tenant());
    Ok(w)
}
