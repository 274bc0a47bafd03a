//! The newsletter: sign-ups with double opt-in (a signed link confirms),
//! one-click unsubscribe (RFC 8058), and campaigns sent to the confirmed
//! subscribers through the outbox, a few at a time, carrying on after a
//! restart from the last subscriber mailed. An address is only ever seen
//! by its own tenant's owners and admins.

use super::principal::Authed;
use super::ApiError;
use crate::auth::LinkClaims;
use crate::mail::{Envelope, Kind};
use crate::state::App;
use parley_engine::codes::error as code;
use parley_engine::newsletter::*;
use parley_engine::permissions::Action;
use parley_engine::records::SiteRecord;
use parley_engine::*;
use parley_storage::{AccountStore, NewsletterStore, OutboxStore, WriteBatch};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use utoipa::ToSchema;

/// A pending address gets at most one confirmation mail this often.
const RESEND_AFTER_MS: u64 = 3_600_000;

/// How long a confirmation link works.
const CONFIRM_FOR: Duration = Duration::from_secs(7 * 86_400);

/// `POST /public/{site_key}/newsletter` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpInput {
    email: String,
    #[serde(default)]
    name: String,
    /// Honeypot.
    #[serde(default)]
    website: String,
}

/// Signs an address up (answered the same whatever it was: 202).
pub async fn sign_up(app: &App, site: &SiteRecord, input: SignUpInput) -> Result<(), ApiError> {
    let email = parley_engine::validate::email(&input.email)?.to_ascii_lowercase();
    let name = input.name.trim();
    if name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            code::INVALID,
            "name must have at most 100 characters",
        ));
    }
    if !input.website.is_empty() {
        return Ok(());
    }
    let t = site.tenant_id;
    let _guard = app.locks.tenant(t).await;
    let existing = app.store.subscriber_by_email(t, site.id, &email)?;
    let now = Timestamp::now();
    let mut s = match sign_up_rule(existing.as_ref(), now) {
        SignUp::Nothing => return Ok(()),
        SignUp::New => SubscriberRecord {
            id: SubscriberId::new(),
            tenant_id: t,
            site_id: site.id,
            email,
            name: name.to_string(),
            status: SubscriberStatus::Pending,
            history: vec![SubscriberEvent {
                at: now,
                status: SubscriberStatus::Pending,
                via: "form".into(),
            }],
            confirm_sent_at: None,
            created_at: now,
        },
        SignUp::Mail => {
            let mut s = existing.unwrap_or_else(|| unreachable!("Mail needs a record"));
            s.set(SubscriberStatus::Pending, "form");
            if !name.is_empty() {
                s.name = name.to_string();
            }
            s
        }
    };
    s.confirm_sent_at = Some(now);
    let token = app.tokens.issue_link(
        "confirm",
        t,
        &s.id.to_string(),
        s.history.len() as u32,
        now.after(CONFIRM_FOR),
    );
    let mut b = WriteBatch::new();
    app.store.put_subscriber(&mut b, &s);
    crate::mail::queue(
        app,
        &mut b,
        Envelope::new(t, &s.email, Kind::NewsletterConfirm).site(site.id),
        json!({"site": site.name, "link": link(app, &token)}),
    )?;
    app.writer.write(b).await?;
    crate::mail::sent(app);
    Ok(())
}

fn sign_up_rule(existing: Option<&SubscriberRecord>, now: Timestamp) -> SignUp {
    parley_engine::newsletter::sign_up(existing, now, RESEND_AFTER_MS)
}

fn link(app: &App, token: &str) -> String {
    format!("{}/l/{token}", app.public_url.trim_end_matches('/'))
}

/// The subscriber a link names, if genuine.
pub fn by_link(app: &App, c: &LinkClaims) -> Result<SubscriberRecord, ApiError> {
    let invalid = || ApiError::invalid_token("link");
    let id: SubscriberId = c.sub.parse().map_err(|_| invalid())?;
    app.store.subscriber(c.tid, id)?.ok_or_else(invalid)
}

/// Confirms a sign-up by its mailed link (only the newest link works, and
/// only while pending; confirming twice changes nothing).
pub async fn confirm(app: &App, c: &LinkClaims) -> Result<SubscriberRecord, ApiError> {
    let _guard = app.locks.tenant(c.tid).await;
    let mut s = by_link(app, c)?;
    if s.status == SubscriberStatus::Confirmed {
        return Ok(s);
    }
    if c.act != "confirm"
        || s.status != SubscriberStatus::Pending
        || s.history.len() as u32 != c.ver
    {
        return Err(ApiError::invalid_token("link"));
    }
    s.set(SubscriberStatus::Confirmed, "link");
    let mut b = WriteBatch::new();
    app.store.put_subscriber(&mut b, &s);
    {
        use parley_engine::analytics::{hour_of, Event};
        use parley_storage::keys::{bucket, Tally};
        let at = hour_of(Timestamp::now());
        b.count(
            bucket(s.tenant_id, Tally::Site(s.site_id), at),
            Event::Subscriber,
        );
    }
    crate::app::webhooks::emit(
        app,
        &mut b,
        s.tenant_id,
        "subscriber.confirmed",
        json!({"id": s.id, "site_id": s.site_id, "email": s.email, "name": s.name}),
    );
    app.writer.write(b).await?;
    Ok(s)
}

/// Unsubscribes by the link in any newsletter (works every time).
pub async fn unsubscribe(
    app: &App,
    c: &LinkClaims,
    via: &str,
) -> Result<SubscriberRecord, ApiError> {
    if c.act != "unsubscribe" {
        return Err(ApiError::invalid_token("link"));
    }
    let _guard = app.locks.tenant(c.tid).await;
    let mut s = by_link(app, c)?;
    if s.set(SubscriberStatus::Unsubscribed, via) {
        let mut b = WriteBatch::new();
        app.store.put_subscriber(&mut b, &s);
        app.writer.write(b).await?;
    }
    Ok(s)
}

/// The unsubscribe link of a subscriber (never expires).
pub fn unsubscribe_link(app: &App, s: &SubscriberRecord) -> String {
    let forever = Timestamp::now().after(Duration::from_secs(10 * 365 * 86_400));
    let token = app
        .tokens
        .issue_link("unsubscribe", s.tenant_id, &s.id.to_string(), 0, forever);
    link(app, &token)
}

/// `POST /newsletter/campaigns` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    subject: String,
    /// Markdown.
    body: String,
    /// Only this site's subscribers (default: every site's).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    site_id: Option<SiteId>,
}

/// Writes a campaign (a draft until sent).
pub async fn create_campaign(
    app: &App,
    me: &Authed,
    input: CampaignInput,
) -> Result<CampaignRecord, ApiError> {
    me.require(Action::ManageNewsletter)?;
    let subject = input.subject.trim();
    check_campaign(app, me, &input)?;
    let c = CampaignRecord {
        id: CampaignId::new(),
        tenant_id: me.tenant(),
        site_id: input.site_id,
        subject: subject.replace(['\r', '\n'], " "),
        body: input.body,
        status: CampaignStatus::Draft,
        created_by: me.staff.id,
        created_at: Timestamp::now(),
        sent_at: None,
        queued: 0,
        cursor: None,
    };
    let mut b = WriteBatch::new();
    app.store.put_campaign(&mut b, &c);
    me.audit(
        app,
        &mut b,
        "campaign.create",
        ("campaign", c.id.to_string()),
        json!({"subject": c.subject}),
    );
    app.writer.write(b).await?;
    Ok(c)
}

/// A campaign's subject, body and site are acceptable.
fn check_campaign(app: &App, me: &Authed, input: &CampaignInput) -> Result<(), ApiError> {
    let subject = input.subject.trim();
    if subject.is_empty() || subject.chars().count() > 200 {
        return Err(ApiError::bad_request(
            code::INVALID,
            "subject must have 1 to 200 characters",
        ));
    }
    if input.body.trim().is_empty() || input.body.chars().count() > 50_000 {
        return Err(ApiError::bad_request(
            code::INVALID,
            "body must have 1 to 50,000 characters",
        ));
    }
    if let Some(s) = input.site_id {
        if app.store.site(me.tenant(), s)?.is_none() {
            return Err(ApiError::not_found("site"));
        }
    }
    Ok(())
}

/// Rewrites a draft's subject, body and site (a campaign being sent or
/// sent is not changed: 400 `invalid_state`).
pub async fn update_campaign(
    app: &App,
    me: &Authed,
    id: &str,
    input: CampaignInput,
) -> Result<CampaignRecord, ApiError> {
    let _guard = app.locks.tenant(me.tenant()).await;
    let mut c = find_campaign(app, me, id)?;
    check_campaign(app, me, &input)?;
    if c.status != CampaignStatus::Draft {
        return Err(ApiError::bad_request(
            code::INVALID_STATE,
            "only a draft can be edited; this campaign was sent already",
        ));
    }
    c.subject = input.subject.trim().replace(['\r', '\n'], " ");
    c.body = input.body;
    c.site_id = input.site_id;
    let mut b = WriteBatch::new();
    app.store.put_campaign(&mut b, &c);
    me.audit(
        app,
        &mut b,
        "campaign.update",
        ("campaign", c.id.to_string()),
        json!({"subject": c.subject}),
    );
    app.writer.write(b).await?;
    Ok(c)
}

/// A campaign of the caller's tenant.
pub fn find_campaign(app: &App, me: &Authed, id: &str) -> Result<CampaignRecord, ApiError> {
    me.require(Action::ManageNewsletter)?;
    let id: CampaignId = id.parse().map_err(|_| ApiError::not_found("campaign"))?;
    app.store
        .campaign(me.tenant(), id)?
        .ok_or_else(|| ApiError::not_found("campaign"))
}

/// The campaign's body as the subscribers will read it: text and HTML.
/// Raw HTML in the Markdown is shown as text, never run; a link or image
/// whose target is not web, mail or relative
/// ([`parley_engine::newsletter::safe_link_target`]) is kept as its text
/// alone.
pub fn render_body(markdown: &str) -> (String, String) {
    use parley_engine::newsletter::safe_link_target;
    use pulldown_cmark::{html, Event, Parser, Tag, TagEnd};
    // Whether each open link or image was dropped, so its end goes too
    // (an image may sit inside a link and a link inside an image's text).
    let mut dropped: Vec<bool> = Vec::new();
    let events = Parser::new(markdown).filter_map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Some(Event::Text(h)),
        Event::Start(Tag::Link { ref dest_url, .. } | Tag::Image { ref dest_url, .. }) => {
            let drop = !safe_link_target(dest_url);
            dropped.push(drop);
            (!drop).then_some(e)
        }
        Event::End(TagEnd::Link | TagEnd::Image) => (!dropped.pop().unwrap_or(false)).then_some(e),
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    (markdown.to_string(), out)
}

/// Starts sending a draft campaign; the sender task does the rest.
pub async fn send(app: &App, me: &Authed, id: &str) -> Result<CampaignRecord, ApiError> {
    let _guard = app.locks.tenant(me.tenant()).await;
    let mut c = find_campaign(app, me, id)?;
    super::plans::require_feature(app, me.tenant(), "campaigns")?;
    if c.status != CampaignStatus::Draft {
        return Err(ApiError::bad_request(
            code::INVALID_STATE,
            "this campaign was sent already",
        ));
    }
    c.status = CampaignStatus::Sending;
    let mut b = WriteBatch::new();
    app.store.put_campaign(&mut b, &c);
    me.audit(
        app,
        &mut b,
        "campaign.send",
        ("campaign", c.id.to_string()),
        json!({}),
    );
    app.writer.write(b).await?;
    Ok(c)
}

/// Where a campaign's body is filled with each subscriber's unsubscribe link.
const UNSUBSCRIBE_MARKER: &str = "@@parley-unsubscribe@@";

/// The id a campaign's body for one site's subscribers is stored under:
/// the campaign's id with the site's mixed into its random part, so every
/// step of the campaign finds the body the first one stored.
fn shared_body_id(c: CampaignId, site: SiteId) -> MailId {
    let mut b = c.to_bytes();
    for (x, y) in b[6..].iter_mut().zip(&site.to_bytes()[6..]) {
        *x ^= y;
    }
    MailId::from_bytes(b)
}

/// Queues the next `n` mails of one campaign being sent; `true` when it
/// is done. Each batch writes the mails and the campaign's cursor together.
async fn step(app: &App, t: TenantId, id: CampaignId, n: usize) -> Result<bool, ApiError> {
    let _guard = app.locks.tenant(t).await;
    let Some(mut c) = app.store.campaign(t, id)? else {
        return Ok(true);
    };
    if c.status != CampaignStatus::Sending {
        return Ok(true);
    }
    let site_filter = c.site_id;
    let next = app.store.subscribers_after(t, c.cursor, n, &|s| {
        s.status == SubscriberStatus::Confirmed && site_filter.is_none_or(|x| s.site_id == x)
    })?;
    let mut b = WriteBatch::new();
    let (text, html) = render_body(&c.body);
    // The body is rendered and stored once per site (its name and colour
    // head it); each subscriber's mail holds its own unsubscribe link.
    let mut bodies: std::collections::HashMap<SiteId, crate::mail::Shared> = Default::default();
    for s in &next {
        let site = app.store.site(t, s.site_id)?;
        let unsub = unsubscribe_link(app, s);
        let mut env = Envelope::new(t, &s.email, Kind::Newsletter);
        if site.is_some() {
            env = env.site(s.site_id);
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = bodies.entry(s.site_id) {
            let id = shared_body_id(c.id, s.site_id);
            let stored = app.store.has_mail_body(t, id)?;
            let vars = json!({
                "site": site.map(|s| s.name).unwrap_or_default(), "subject": c.subject,
                "text": text, "content_html": html, "unsubscribe": UNSUBSCRIBE_MARKER,
            });
            slot.insert(crate::mail::Shared::render(
                app, &mut b, &env, vars, id, stored,
            )?);
        }
        env.headers
            .push(("List-Unsubscribe".into(), format!("<{unsub}>")));
        env.headers.push((
            "List-Unsubscribe-Post".into(),
            "List-Unsubscribe=One-Click".into(),
        ));
        bodies[&s.site_id].queue(app, &mut b, env, vec![(UNSUBSCRIBE_MARKER.into(), unsub)])?;
        c.cursor = Some(s.id);
        c.queued += 1;
    }
    let done = next.len() < n;
    if done {
        c.status = CampaignStatus::Sent;
        c.sent_at = Some(Timestamp::now());
    }
    app.store.put_campaign(&mut b, &c);
    app.writer.write(b).await?;
    crate::mail::sent(app);
    Ok(done)
}

/// Sends every campaign marked sending, `per_second` mails a second, until
/// the server stops.
pub async fn run(app: App, per_second: usize) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let sending = match app.store.campaigns_sending() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "campaigns");
                continue;
            }
        };
        for (t, id) in sending {
            if !app.system.ctx.serves(t).await {
                continue;
            }
            if let Err(e) = step(&app, t, id, per_second.max(1)).await {
                tracing::warn!(tenant = %t, campaign = %id, error = %e.message, "campaign");
            }
        }
    }
}
