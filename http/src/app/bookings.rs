//! Consultations: free slots from a site's hours and booking rules, a
//! visitor's booking, staff's changes, and the signed single-use links in
//! the mails that let the visitor cancel or move it. Every write goes
//! through the tenant's Bookings actor, which decides who is free and
//! writes in one step: never a double booking, across every site of the
//! tenant. Each mail carries an `.ics` for the visitor's calendar.

use super::principal::Authed;
use super::ApiError;
use crate::auth::LinkClaims;
use crate::mail::{Envelope, Kind};
use crate::state::App;
use axum::http::StatusCode;
use parley_actors::ask;
use parley_actors::bookings::{BookingsMsg, PlaceError};
use parley_engine::booking::{
    offered, offered_at, BookingEvent, BookingRecord, BookingStatus, Busy, Span,
};
use parley_engine::codes::error as code;
use parley_engine::permissions::Role;
use parley_engine::records::SiteRecord;
use parley_engine::*;
use parley_storage::{AccountStore, AuthStore, BookingStore, WriteBatch};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use utoipa::ToSchema;

/// When the reminder of a booking starting at `start` is due
/// (`bookings.reminder_before_secs` before it).
fn reminder_due(app: &App, start: Timestamp) -> Timestamp {
    let lead = app
        .config
        .bookings
        .reminder_before_secs
        .saturating_mul(1000);
    Timestamp(start.millis().saturating_sub(lead))
}

/// The widest window one slot query may ask for.
const MAX_WINDOW_DAYS: u64 = 62;

fn unavailable(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code::SLOT_UNAVAILABLE, message)
}

fn taken() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        code::SLOT_TAKEN,
        "that slot was just booked by someone else; pick another",
    )
}

fn placed(e: PlaceError) -> ApiError {
    match e {
        PlaceError::Taken => taken(),
        PlaceError::Stale => ApiError::invalid_token("link"),
        PlaceError::Storage(m) => ApiError::internal(m),
    }
}

/// Who takes bookings of `site`: those its rules name, else every active
/// owner and admin; only active staff either way.
fn candidates(app: &App, t: TenantId, named: &[StaffId]) -> Result<Vec<StaffId>, ApiError> {
    let staff = app.store.staff_list(t)?;
    Ok(staff
        .iter()
        .filter(|s| s.active)
        .filter(|s| {
            if named.is_empty() {
                matches!(s.role, Role::Owner | Role::Admin)
            } else {
                named.contains(&s.id)
            }
        })
        .map(|s| s.id)
        .collect())
}

async fn actor(app: &App, t: TenantId) -> Result<ractor::ActorRef<BookingsMsg>, ApiError> {
    app.system.bookings(t).await.map_err(ApiError::internal)
}

async fn busy(app: &App, t: TenantId, span: Span) -> Result<Vec<Busy>, ApiError> {
    let a = actor(app, t).await?;
    ask(&a, app.system.ctx.cfg.call_timeout, |reply| {
        BookingsMsg::Busy { span, reply }
    })
    .await
    .map_err(ApiError::internal)
}

async fn place(
    app: &App,
    booking: BookingRecord,
    candidates: Vec<StaffId>,
    buffer_minutes: u32,
    expect_version: Option<u32>,
    batch: WriteBatch,
) -> Result<BookingRecord, ApiError> {
    let a = actor(app, booking.tenant_id).await?;
    ask(&a, app.system.ctx.cfg.call_timeout, |reply| {
        BookingsMsg::Place {
            booking: Box::new(booking),
            candidates,
            buffer_minutes,
            expect_version,
            batch,
            reply,
        }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(placed)
}

/// The free slots of `site` starting in `[from, to)`: offered by its rules
/// and hours, with someone who takes bookings free then.
pub async fn free_slots(
    app: &App,
    site: &SiteRecord,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Span>, ApiError> {
    if to <= from {
        return Err(ApiError::bad_request(
            code::BAD_REQUEST,
            "from must be before to",
        ));
    }
    let to = to.min(from.after(Duration::from_secs(MAX_WINDOW_DAYS * 86_400)));
    let t = site.tenant_id;
    let rules = app.store.site_forms(t, site.id)?.consultations;
    if !rules.enabled {
        return Ok(Vec::new());
    }
    let hours = app.store.site_settings(t, site.id)?.business_hours;
    let offer = offered(hours.as_ref(), &rules, from, to, Timestamp::now());
    let Some(last) = offer.last() else {
        return Ok(Vec::new());
    };
    let who = candidates(app, t, &rules.staff)?;
    let pad = u64::from(rules.buffer_minutes) * 60_000;
    let window = Span {
        start: Timestamp(offer[0].start.millis().saturating_sub(pad)),
        end: Timestamp(last.end.millis() + pad),
    };
    let booked = busy(app, t, window).await?;
    Ok(offer
        .into_iter()
        .filter(|s| {
            parley_engine::booking::free_staff(&who, &booked, *s, rules.buffer_minutes, None)
                .is_some()
        })
        .collect())
}

/// `POST /public/{site_key}/consultations` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingInput {
    name: String,
    email: String,
    #[serde(default)]
    topic: String,
    /// The slot's start, RFC 3339.
    start: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    company: String,
    /// Anything the visitor wants staff to know beforehand.
    #[serde(default)]
    notes: String,
    /// Honeypot: hidden from people, filled by bots.
    #[serde(default)]
    website: String,
    /// The visitor's time zone, as their browser names it (an IANA name
    /// such as `Europe/Paris`); kept with the booking for staff to see.
    #[serde(default)]
    timezone: String,
}

fn field(value: &str, name: &str, max: usize, required: bool) -> Result<String, ApiError> {
    let v = value.trim();
    if (required && v.is_empty()) || v.chars().count() > max {
        let need = if required { "1" } else { "0" };
        return Err(ApiError::bad_request(
            code::INVALID,
            format!("{name} must have {need} to {max} characters"),
        ));
    }
    Ok(v.to_string())
}

fn parse_start(s: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339(s.trim())
        .ok_or_else(|| ApiError::bad_request(code::INVALID, "start must be an RFC 3339 time"))
}

/// Books a consultation for a visitor; `Ok(None)`: the honeypot was filled
/// (answered like a booking, nothing kept).
pub async fn book(
    app: &App,
    site: &SiteRecord,
    input: BookingInput,
) -> Result<BookingRecord, ApiError> {
    let t = site.tenant_id;
    let name = field(&input.name, "name", 100, true)?;
    let email = parley_engine::validate::email(&input.email)?;
    let phone = field(&input.phone, "phone", 40, false)?;
    let company = field(&input.company, "company", 100, false)?;
    let message = field(&input.notes, "notes", 2000, false)?;
    let start = parse_start(&input.start)?;
    let timezone = parley_engine::account::valid_timezone(&input.timezone)?;
    let forms = app.store.site_forms(t, site.id)?;
    let rules = forms.consultations;
    let topic = field(&input.topic, "topic", 100, !rules.topics.is_empty())?;
    if !rules.topics.is_empty() && !rules.topics.contains(&topic) {
        return Err(ApiError::bad_request(
            code::INVALID,
            format!("topic must be one of: {}", rules.topics.join(", ")),
        ));
    }
    if !rules.enabled {
        return Err(unavailable("this site does not take bookings"));
    }
    let hours = app.store.site_settings(t, site.id)?.business_hours;
    let span = offered_at(hours.as_ref(), &rules, start, Timestamp::now()).ok_or_else(|| {
        unavailable("that time is not a slot this site offers (outside its hours, in the past, too soon or too far ahead)")
    })?;
    let now = Timestamp::now();
    let booking = BookingRecord {
        id: BookingId::new(),
        tenant_id: t,
        site_id: site.id,
        name,
        email,
        phone,
        company,
        topic,
        message,
        span,
        status: BookingStatus::Requested,
        assignee: None,
        notes: String::new(),
        link_version: 0,
        reminded: false,
        history: vec![BookingEvent {
            at: now,
            what: "requested".into(),
            by: "visitor".into(),
        }],
        created_at: now,
        timezone,
    };
    if !input.website.is_empty() {
        tracing::info!(site = %site.id, "booking form honeypot filled; dropped");
        return Ok(booking);
    }
    let who = candidates(app, t, &rules.staff)?;
    if who.is_empty() {
        return Err(unavailable("nobody takes bookings on this site yet"));
    }
    let mut b = WriteBatch::new();
    mail(app, &mut b, &booking, site, Kind::BookingRequested)?;
    schedule_reminder(app, &mut b, &booking);
    super::webhooks::emit(
        app,
        &mut b,
        t,
        "consultation.booked",
        json!({"id": booking.id, "site_id": site.id, "name": booking.name, "email": booking.email,
            "topic": booking.topic, "start": booking.span.start, "end": booking.span.end}),
    );
    let bell = super::notify::add(
        app,
        &mut b,
        t,
        &who,
        "booking",
        &format!(
            "{} booked a consultation: {}",
            booking.name,
            when(app, &booking)
        ),
        &format!("#/consultations/{}", booking.id),
    );
    let booking = place(app, booking, who, rules.buffer_minutes, None, b).await?;
    crate::mail::sent(app);
    super::notify::push(app, bell).await;
    Ok(booking)
}

fn schedule_reminder(app: &App, b: &mut WriteBatch, booking: &BookingRecord) {
    // Booked too late for a reminder: the confirmation is reminder enough.
    let due = reminder_due(app, booking.span.start);
    if due > Timestamp::now() {
        app.store
            .put_reminder(b, due, booking.tenant_id, booking.id);
    }
}

/// The visitor's link to manage `b` (works once: any use bumps the version).
fn manage_link(app: &App, b: &BookingRecord) -> String {
    let token = app.tokens.issue_link(
        "booking",
        b.tenant_id,
        &b.id.to_string(),
        b.link_version,
        b.span.end,
    );
    format!("{}/l/{token}", app.public_url.trim_end_matches('/'))
}

/// When `b` is, in words, in the site's time zone (UTC when it has none),
/// the zone named: the bell's wording, the same as the mails'.
fn when(app: &App, b: &BookingRecord) -> String {
    let tz = app
        .store
        .site_settings(b.tenant_id, b.site_id)
        .ok()
        .and_then(|s| s.business_hours)
        .map(|h| h.timezone)
        .unwrap_or_default();
    let tz = crate::mail_time::known_zone(&tz);
    let zone = jiff::tz::TimeZone::get(&tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let fmt = |t: Timestamp| {
        jiff::Timestamp::from_millisecond(t.millis() as i64)
            .ok()
            .map(|ts| ts.to_zoned_datetime(zone.clone()))
    };
    match (fmt(b.span.start), fmt(b.span.end)) {
        (Some(s), Some(e)) => crate::mail_time::span(&s, &e, &tz),
        _ => b.span.start.to_rfc3339(),
    }
}

/// Queues the visitor's mail of `kind` about `b`, with its `.ics`.
fn mail(
    app: &App,
    batch: &mut WriteBatch,
    b: &BookingRecord,
    site: &SiteRecord,
    kind: Kind,
) -> Result<(), ApiError> {
    let mut env = Envelope::new(b.tenant_id, &b.email, kind).site(site.id);
    env.attachments.push(crate::ics::invitation(
        b,
        &site.name,
        &app.config.mail.from,
        &app.mail_host,
    ));
    let link = b.status.holds_slot().then(|| manage_link(app, b));
    crate::mail::queue(
        app,
        batch,
        env,
        json!({
            "site": site.name, "name": b.name, "topic": b.topic,
            "start": b.span.start, "end": b.span.end,
            "link": link, "moved": b.history.iter().any(|h| h.what == "rescheduled"),
            // The visitor's own zone when their browser named it (else the site's).
            "tz": b.timezone,
        }),
    )?;
    Ok(())
}

/// A booking of the caller's tenant (another tenant's id: not found).
pub fn find(app: &App, me: &Authed, id: &str) -> Result<BookingRecord, ApiError> {
    let id: BookingId = id
        .parse()
        .map_err(|_| ApiError::not_found("consultation"))?;
    app.store
        .booking(me.tenant(), id)?
        .ok_or_else(|| ApiError::not_found("consultation"))
}

fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `PATCH /consultations/{id}` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingPatch {
    /// `confirmed`, `completed`, `cancelled` or `no_show`.
    status: Option<String>,
    /// A staff id of the tenant (who must be free then), or `null`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    assignee: Option<Option<String>>,
    /// Staff's notes.
    notes: Option<String>,
}

/// Staff change a booking's status, assignee or notes. Confirming or
/// cancelling mails the visitor; a new assignee must be free then.
pub async fn update(
    app: &App,
    me: &Authed,
    id: &str,
    body: BookingPatch,
) -> Result<BookingRecord, ApiError> {
    me.require(parley_engine::permissions::Action::ReadConversations)?;
    let old = find(app, me, id)?;
    let mut b = old.clone();
    if let Some(s) = &body.status {
        let next = BookingStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                code::INVALID,
                "status is confirmed, completed, cancelled or no_show",
            )
        })?;
        if !old.status.can_become(next) {
            return Err(ApiError::bad_request(
                code::INVALID_STATE,
                format!(
                    "a {} consultation cannot become {}",
                    old.status.as_str(),
                    next.as_str()
                ),
            ));
        }
        b.status = next;
    }
    if let Some(a) = &body.assignee {
        b.assignee = match a {
            None => None,
            Some(s) => Some(
                s.parse::<StaffId>()
                    .ok()
                    .and_then(|sid| app.store.staff(me.tenant(), sid).ok().flatten())
                    .filter(|st| st.active)
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            code::INVALID,
                            "assignee is not an active staff member",
                        )
                    })?
                    .id,
            ),
        };
    }
    if let Some(n) = &body.notes {
        b.notes = field(n, "notes", 5000, false)?;
    }
    if b == old {
        return Ok(b);
    }
    let now = Timestamp::now();
    if b.status != old.status {
        b.history.push(BookingEvent {
            at: now,
            what: b.status.as_str().into(),
            by: me.staff.name.clone(),
        });
        b.link_version += u32::from(!b.status.holds_slot());
    }
    let site = app.store.site(b.tenant_id, b.site_id)?;
    let rules = app.store.site_forms(b.tenant_id, b.site_id)?.consultations;
    let who = candidates(app, b.tenant_id, &rules.staff)?;
    let mut batch = WriteBatch::new();
    if let Some(site) = &site {
        let kind = match b.status {
            BookingStatus::Confirmed if old.status != BookingStatus::Confirmed => {
                Some(Kind::BookingConfirmed)
            }
            BookingStatus::Cancelled if old.status != BookingStatus::Cancelled => {
                Some(Kind::BookingCancelled)
            }
            _ => None,
        };
        if let Some(kind) = kind {
            mail(app, &mut batch, &b, site, kind)?;
        }
    }
    me.audit(
        app,
        &mut batch,
        "consultation.update",
        ("consultation", b.id.to_string()),
        json!({"status": [old.status, b.status], "assignee": [old.assignee, b.assignee]}),
    );
    let bell = match b.assignee {
        Some(a) if Some(a) != old.assignee && a != me.staff.id => super::notify::add(
            app,
            &mut batch,
            b.tenant_id,
            &[a],
            "assignment",
            &format!(
                "{} assigned you a consultation: {}",
                me.staff.name,
                when(app, &b)
            ),
            &format!("#/consultations/{}", b.id),
        ),
        _ => Default::default(),
    };
    let b = place(app, b, who, rules.buffer_minutes, None, batch).await?;
    crate::mail::sent(app);
    super::notify::push(app, bell).await;
    Ok(b)
}

/// The booking a link names, if the link is genuine, current and for a
/// booking that still holds its slot.
pub fn by_link(app: &App, claims: &LinkClaims) -> Result<BookingRecord, ApiError> {
    let invalid = || ApiError::invalid_token("link");
    let id: BookingId = claims.sub.parse().map_err(|_| invalid())?;
    let b = app.store.booking(claims.tid, id)?.ok_or_else(invalid)?;
    if claims.act != "booking" || b.link_version != claims.ver || !b.status.holds_slot() {
        return Err(invalid());
    }
    Ok(b)
}

/// The visitor cancels by their link (which then stops working).
pub async fn cancel_by_link(app: &App, claims: &LinkClaims) -> Result<BookingRecord, ApiError> {
    let old = by_link(app, claims)?;
    let mut b = old.clone();
    b.status = BookingStatus::Cancelled;
    b.link_version += 1;
    b.history.push(BookingEvent {
        at: Timestamp::now(),
        what: "cancelled".into(),
        by: "visitor".into(),
    });
    let mut batch = WriteBatch::new();
    if let Some(site) = app.store.site(b.tenant_id, b.site_id)? {
        mail(app, &mut batch, &b, &site, Kind::BookingCancelled)?;
    }
    let b = place(app, b, Vec::new(), 0, Some(old.link_version), batch).await?;
    crate::mail::sent(app);
    Ok(b)
}

/// The visitor moves their booking to another free slot by their link
/// (which then stops working; the mail about the move has a new one).
pub async fn reschedule_by_link(
    app: &App,
    claims: &LinkClaims,
    start: &str,
) -> Result<BookingRecord, ApiError> {
    let old = by_link(app, claims)?;
    let start = parse_start(start)?;
    let Some(site) = app.store.site(old.tenant_id, old.site_id)? else {
        return Err(ApiError::invalid_token("link"));
    };
    let rules = app
        .store
        .site_forms(old.tenant_id, old.site_id)?
        .consultations;
    let hours = app
        .store
        .site_settings(old.tenant_id, old.site_id)?
        .business_hours;
    if !rules.enabled {
        return Err(unavailable("this site does not take bookings any more"));
    }
    let span = offered_at(hours.as_ref(), &rules, start, Timestamp::now())
        .ok_or_else(|| unavailable("that time is not a slot this site offers"))?;
    let mut b = old.clone();
    b.span = span;
    b.assignee = None;
    b.reminded = false;
    b.link_version += 1;
    b.history.push(BookingEvent {
        at: Timestamp::now(),
        what: "rescheduled".into(),
        by: "visitor".into(),
    });
    let who = candidates(app, b.tenant_id, &rules.staff)?;
    let mut batch = WriteBatch::new();
    let kind = if b.status == BookingStatus::Confirmed {
        Kind::BookingConfirmed
    } else {
        Kind::BookingRequested
    };
    mail(app, &mut batch, &b, &site, kind)?;
    schedule_reminder(app, &mut batch, &b);
    let b = place(
        app,
        b,
        who,
        rules.buffer_minutes,
        Some(old.link_version),
        batch,
    )
    .await?;
    crate::mail::sent(app);
    Ok(b)
}

/// Mails the reminders that are due (each booking once, and only while it
/// still holds the slot the reminder was for).
pub async fn remind(app: &App) -> Result<usize, ApiError> {
    let now = Timestamp::now();
    let mut sent = 0;
    for (due, t, id) in app.store.reminders_due(now, 64)? {
        if !app.system.ctx.serves(t).await {
            continue;
        }
        let mut batch = WriteBatch::new();
        app.store.delete_reminder(&mut batch, due, t, id);
        let booking = app.store.booking(t, id)?;
        let site = match &booking {
            Some(b) => app.store.site(t, b.site_id)?,
            None => None,
        };
        let expected = |b: &BookingRecord| reminder_due(app, b.span.start) == due;
        match (booking, site) {
            (Some(b), Some(site)) if b.status.holds_slot() && !b.reminded && expected(&b) => {
                let version = b.link_version;
                let mut b = b;
                b.reminded = true;
                mail(app, &mut batch, &b, &site, Kind::BookingReminder)?;
                let rules = app.store.site_forms(t, b.site_id)?.consultations;
                match place(
                    app,
                    b,
                    Vec::new(),
                    rules.buffer_minutes,
                    Some(version),
                    batch,
                )
                .await
                {
                    Ok(_) => sent += 1,
                    Err(e) => tracing::warn!(error = %e.message, "consultation reminder"),
                }
            }
            _ => app.writer.write(batch).await?,
        }
    }
    if sent > 0 {
        crate::mail::sent(app);
    }
    Ok(sent)
}

/// Runs [`remind`] every `every` until the server stops.
pub async fn run(app: App, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = remind(&app).await {
            tracing::warn!(error = %e.message, "consultation reminders");
        }
    }
}
