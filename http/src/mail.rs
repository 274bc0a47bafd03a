//! Mail as the application queues it: one template per kind
//! (`http/web/mail/KIND.j2`) with `subject`, `text`, `html` and `reason`
//! blocks, rendered twice — as text (nothing escaped) for the subject, the
//! plain body and its footer, and as HTML (every variable escaped) for the
//! HTML body, which goes inside `layout.html` with the tenant's name and
//! the site's colour in the header and the reason in the footer.
//!
//! [`queue`] renders a mail and adds it to the caller's batch, so it is
//! written with the change that caused it; the mail deliverer sends it.
//! No axum types here: REST handlers, sockets and actors' callers share it.

use crate::state::App;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, Value};
use parley_engine::mail::{
    message_id, MailAttachment, MailBody, MailRecord, MailStatus, SharedBody,
};
use parley_engine::{MailId, SiteId, TenantId, Timestamp};
use parley_storage::{AccountStore, AuthStore, DeskStore, OutboxStore, WriteBatch};

/// What a mail is; each kind has its template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Invitation,
    PasswordReset,
    PasswordChanged,
    Transcript,
    TranscriptConfirm,
    MissedReply,
    ContactAlert,
    VerifyEmail,
    AccountExists,
    ContactReply,
    BookingRequested,
    BookingConfirmed,
    BookingCancelled,
    BookingReminder,
    NewsletterConfirm,
    Newsletter,
}

impl Kind {
    const ALL: [Kind; 16] = [
        Kind::Invitation,
        Kind::PasswordReset,
        Kind::PasswordChanged,
        Kind::Transcript,
        Kind::TranscriptConfirm,
        Kind::MissedReply,
        Kind::ContactAlert,
        Kind::VerifyEmail,
        Kind::AccountExists,
        Kind::ContactReply,
        Kind::BookingRequested,
        Kind::BookingConfirmed,
        Kind::BookingCancelled,
        Kind::BookingReminder,
        Kind::NewsletterConfirm,
        Kind::Newsletter,
    ];

    /// The kind's name: its template's and the outbox's `kind`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Invitation => "invitation",
            Kind::PasswordReset => "password_reset",
            Kind::PasswordChanged => "password_changed",
            Kind::Transcript => "transcript",
            Kind::TranscriptConfirm => "transcript_confirm",
            Kind::MissedReply => "missed_reply",
            Kind::ContactAlert => "contact_alert",
            Kind::VerifyEmail => "verify_email",
            Kind::AccountExists => "account_exists",
            Kind::ContactReply => "contact_reply",
            Kind::BookingRequested => "booking_requested",
            Kind::BookingConfirmed => "booking_confirmed",
            Kind::BookingCancelled => "booking_cancelled",
            Kind::BookingReminder => "booking_reminder",
            Kind::NewsletterConfirm => "newsletter_confirm",
            Kind::Newsletter => "newsletter",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Kind::Invitation => include_str!("../web/mail/invitation.j2"),
            Kind::PasswordReset => include_str!("../web/mail/password_reset.j2"),
            Kind::PasswordChanged => include_str!("../web/mail/password_changed.j2"),
            Kind::Transcript => include_str!("../web/mail/transcript.j2"),
            Kind::TranscriptConfirm => include_str!("../web/mail/transcript_confirm.j2"),
            Kind::MissedReply => include_str!("../web/mail/missed_reply.j2"),
            Kind::ContactAlert => include_str!("../web/mail/contact_alert.j2"),
            Kind::VerifyEmail => include_str!("../web/mail/verify_email.j2"),
            Kind::AccountExists => include_str!("../web/mail/account_exists.j2"),
            Kind::ContactReply => include_str!("../web/mail/contact_reply.j2"),
            Kind::BookingRequested => include_str!("../web/mail/booking_requested.j2"),
            Kind::BookingConfirmed => include_str!("../web/mail/booking_confirmed.j2"),
            Kind::BookingCancelled => include_str!("../web/mail/booking_cancelled.j2"),
            Kind::BookingReminder => include_str!("../web/mail/booking_reminder.j2"),
            Kind::NewsletterConfirm => include_str!("../web/mail/newsletter_confirm.j2"),
            Kind::Newsletter => include_str!("../web/mail/newsletter.j2"),
        }
    }
}

/// The compiled templates.
pub struct Templates(Environment<'static>);

/// A mail ready for the outbox.
#[derive(Debug, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The header colour when the site has none (or an unusable one).
const DEFAULT_COLOUR: &str = "#4f46e5";

/// A colour safe to put in a style attribute: `#rgb` … `#rrggbbaa`.
fn safe_colour(c: &str) -> &str {
    let hex = c.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        c
    } else {
        DEFAULT_COLOUR
    }
}

impl Templates {
    /// Compiles every kind's template; a broken one is a build bug, caught
    /// by the unit tests.
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        crate::mail_time::register(&mut env);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.add_template("layout.html", include_str!("../web/mail/layout.html"))?;
        for k in Kind::ALL {
            env.add_template_owned(format!("{}.txt", k.name()), k.source())?;
            env.add_template_owned(format!("{}.html", k.name()), k.source())?;
        }
        Ok(Self(env))
    }

    /// Renders `kind` with `vars` (an object; `tenant`, `colour` and `to`
    /// are added by [`queue`]).
    pub fn render(
        &self,
        kind: Kind,
        vars: &serde_json::Value,
    ) -> Result<Rendered, minijinja::Error> {
        let ctx = Value::from(Serde(vars));
        let block = |ext: &str, name: &str| -> Result<String, minijinja::Error> {
            let t = self.0.get_template(&format!("{}.{ext}", kind.name()))?;
            let mut r = t.render_captured(ctx.clone())?;
            r.with_state_mut(|s| s.render_block(name))
        };
        let subject = block("txt", "subject")?.trim().replace(['\r', '\n'], " ");
        let reason_text = block("txt", "reason")?;
        let text = format!(
            "{}\n\n-- \n{}\n",
            block("txt", "text")?.trim(),
            reason_text.trim()
        );
        let content = block("html", "html")?;
        let reason = block("html", "reason")?;
        let layout = self.0.get_template("layout.html")?;
        let html = layout.render(minijinja::context! {
            subject => subject.clone(),
            tenant => Value::from(Serde(vars.get("tenant").cloned().unwrap_or_default())),
            colour => vars.get("colour").and_then(|c| c.as_str()).map(safe_colour).unwrap_or(DEFAULT_COLOUR),
            content => Value::from_safe_string(content),
            reason => Value::from_safe_string(reason),
        })?;
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }
}

/// What [`queue`] needs besides the kind's own variables.
pub struct Envelope<'a> {
    pub tenant: TenantId,
    /// The site whose colour heads the mail, if any.
    pub site: Option<SiteId>,
    pub to: &'a str,
    pub kind: Kind,
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<MailAttachment>,
}

impl<'a> Envelope<'a> {
    /// A plain mail of `kind` to `to`.
    pub fn new(tenant: TenantId, to: &'a str, kind: Kind) -> Self {
        Self {
            tenant,
            site: None,
            to,
            kind,
            headers: Vec::new(),
            attachments: Vec::new(),
        }
    }

    /// Headed with this site's colour.
    pub fn site(mut self, site: SiteId) -> Self {
        self.site = Some(site);
        self
    }
}

/// Why a mail could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("rendering the {0} mail: {1}")]
    Template(&'static str, minijinja::Error),
    #[error(transparent)]
    Storage(#[from] parley_storage::StorageError),
    /// The tenant queued its day's budget of mail bytes already.
    #[error("this account queued its {limit} bytes of mail for today; more is accepted after midnight UTC")]
    OverBudget { limit: u64, retry_after_secs: u64 },
}

/// Each tenant's bytes of mail queued today (UTC), so one tenant cannot
/// fill the disk (or a stranger's inbox) through its outbox. Counted here
/// as mail is queued, and read back from the outbox itself the first time
/// a tenant queues mail on a day (after a restart, or on a node the tenant
/// just moved to), so nothing besides the mail is stored for it.
#[derive(Default)]
pub struct Budget {
    today: std::sync::Mutex<std::collections::HashMap<TenantId, (u64, u64)>>,
}

const DAY_MS: u64 = 86_400_000;

impl Budget {
    /// Counts `bytes` more mail of `t`, or refuses them past `limit` a day.
    pub fn charge(
        &self,
        store: &parley_storage::Store,
        t: TenantId,
        bytes: u64,
        limit: u64,
    ) -> Result<(), MailError> {
        let now = Timestamp::now().millis();
        let day = now / DAY_MS;
        let known = self
            .today
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&t)
            .is_some_and(|(d, _)| *d == day);
        // Read outside the lock: one tenant's scan never stalls another's mail.
        let seed = if known {
            0
        } else {
            store.mail_bytes_since(t, Timestamp(day * DAY_MS))?
        };
        let mut today = self.today.lock().unwrap_or_else(|e| e.into_inner());
        if today.len() > 100_000 {
            today.retain(|_, (d, _)| *d == day);
        }
        let entry = today.entry(t).or_insert((day, seed));
        if entry.0 != day {
            *entry = (day, seed);
        }
        if entry.1.saturating_add(bytes) > limit {
            metrics::counter!("parley_mail_over_budget_total").increment(1);
            return Err(MailError::OverBudget {
                limit,
                retry_after_secs: ((day + 1) * DAY_MS - now).div_ceil(1000),
            });
        }
        entry.1 += bytes;
        Ok(())
    }
}

/// Renders a mail and adds it to `batch` (written with the change that
/// caused it); poke the deliverer with [`sent`] once the batch is durable.
pub fn queue(
    app: &App,
    batch: &mut WriteBatch,
    env: Envelope<'_>,
    vars: serde_json::Value,
) -> Result<MailId, MailError> {
    let r = render(app, &env, vars)?;
    push(app, batch, env, r, None)
}

/// Renders the parts of `env`'s mail with `vars` and the tenant's look.
fn render(
    app: &App,
    env: &Envelope<'_>,
    mut vars: serde_json::Value,
) -> Result<Rendered, MailError> {
    let tenant = app
        .store
        .tenant(env.tenant)?
        .map(|t| t.name)
        .unwrap_or_default();
    let (colour, site_zone) = match env.site {
        Some(s) => {
            let settings = app.store.site_settings(env.tenant, s)?;
            (settings.color, settings.business_hours.map(|h| h.timezone))
        }
        None => (String::new(), None),
    };
    if let Some(o) = vars.as_object_mut() {
        o.entry("tenant").or_insert(tenant.into());
        // Times show in the recipient's zone when the caller knows it, else
        // the site's, else UTC (see `mail_time`).
        let zone = o
            .get(crate::mail_time::ZONE_VAR)
            .and_then(|z| z.as_str())
            .filter(|z| !z.is_empty())
            .map(str::to_string)
            .or(site_zone)
            .unwrap_or_default();
        o.insert(
            crate::mail_time::ZONE_VAR.into(),
            crate::mail_time::known_zone(&zone).into(),
        );
        o.insert("colour".into(), safe_colour(&colour).into());
        o.insert("to".into(), env.to.into());
    }
    app.mail_templates
        .render(env.kind, &vars)
        .map_err(|e| MailError::Template(env.kind.name(), e))
}

/// Adds the mail to `batch` within the tenant's daily budget.
fn push(
    app: &App,
    batch: &mut WriteBatch,
    env: Envelope<'_>,
    r: Rendered,
    shared: Option<SharedBody>,
) -> Result<MailId, MailError> {
    let id = MailId::new();
    let now = Timestamp::now();
    let m = MailRecord {
        id,
        tenant_id: env.tenant,
        to: env.to.to_string(),
        subject: r.subject,
        body: r.text,
        html: r.html,
        kind: env.kind.name().into(),
        message_id: message_id(id, &app.mail_host),
        status: MailStatus::Pending,
        attempts: Vec::new(),
        round_from: 0,
        next_attempt_at: now,
        sent_at: None,
        headers: env.headers,
        attachments: env.attachments,
        created_at: now,
        shared,
    };
    let bytes = parley_storage::codec::encode(&m).len() as u64;
    app.mail_budget.charge(
        &app.store,
        env.tenant,
        bytes,
        app.config.mail.tenant_bytes_per_day,
    )?;
    app.store.put_mail(batch, &m);
    Ok(id)
}

/// A body rendered once and stored once for many recipients (a campaign's
/// mail to every subscriber of a site): each recipient's mail holds only
/// its envelope and its values for the body's markers.
pub struct Shared {
    pub id: MailId,
    subject: String,
}

impl Shared {
    /// Renders `env`'s kind with `vars` (each marker a value of its own,
    /// filled per recipient) and stores the body under `id` in `batch`,
    /// unless `stored` says a batch before did.
    pub fn render(
        app: &App,
        batch: &mut WriteBatch,
        env: &Envelope<'_>,
        vars: serde_json::Value,
        id: MailId,
        stored: bool,
    ) -> Result<Self, MailError> {
        let r = render(app, env, vars)?;
        if !stored {
            let body = MailBody {
                text: r.text,
                html: r.html,
            };
            let bytes = parley_storage::codec::encode(&body).len() as u64;
            app.mail_budget.charge(
                &app.store,
                env.tenant,
                bytes,
                app.config.mail.tenant_bytes_per_day,
            )?;
            app.store.put_mail_body(batch, env.tenant, id, &body);
        }
        Ok(Self {
            id,
            subject: r.subject,
        })
    }

    /// Queues the shared body to `env.to`, its markers filled with `vars`.
    pub fn queue(
        &self,
        app: &App,
        batch: &mut WriteBatch,
        env: Envelope<'_>,
        vars: Vec<(String, String)>,
    ) -> Result<MailId, MailError> {
        let r = Rendered {
            subject: self.subject.clone(),
            text: String::new(),
            html: String::new(),
        };
        push(app, batch, env, r, Some(SharedBody { id: self.id, vars }))
    }
}

/// Tells the deliverer that queued mail is now durable.
pub fn sent(app: &App) {
    app.system.poke_mail();
}

/// The zone a visitor's browser reported (empty when unknown): the
/// recipient's zone for mail to them (`tz` in a mail's variables).
pub fn visitor_zone(app: &App, t: TenantId, v: Option<parley_engine::VisitorId>) -> String {
    v.and_then(|v| app.store.visitor_device(t, v).ok().flatten())
        .map(|d| d.timezone)
        .unwrap_or_default()
}

/// The zone a staff member chose in Account (empty when none).
pub fn staff_zone(app: &App, t: TenantId, s: parley_engine::StaffId) -> String {
    app.store
        .staff_prefs(t, s)
        .map(|p| p.timezone)
        .unwrap_or_default()
}

/// A link into the dashboard (`/app/#PAGE=VALUE`) built from `auth.public_url`.
pub fn app_link(app: &App, fragment: &str) -> String {
    format!("{}/app/#{fragment}", app.public_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_renders_both_bodies_with_the_layout() {
        let t = Templates::new().unwrap();
        let vars = json!({
            "tenant": "Acme", "colour": "#112233", "to": "a@b.test", "inviter": "Olive",
            "link": "http://x/app/#invite=abc", "hours": 72, "minutes": 60, "site": "Acme site",
            "messages": [{"who": "Olive", "body": "Hello", "ts": "2026-12-01T10:00:00Z"}],
            "from": "Olive", "name": "Vic", "email": "vic@x.test", "message": "Hi", "how": "in Account",
            "when": "2026-12-01T10:00:00Z", "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T10:30:00Z", "tz": "Europe/Paris", "signin": "http://x/app/#signin", "body": "Thanks", "original": "Hi\nthere",
            "topic": "SEO", "moved": false, "subject": "News", "text": "Hello **all**",
            "content_html": "<p>Hello <strong>all</strong></p>", "unsubscribe": "http://x/l/u",
        });
        for k in Kind::ALL {
            let r = t.render(k, &vars).unwrap();
            assert!(!r.subject.is_empty() && !r.subject.contains('\n'), "{k:?}");
            assert!(
                r.text.contains("You received this mail because"),
                "{k:?}: {}",
                r.text
            );
            assert!(
                r.html.contains("<html") && r.html.contains("#112233"),
                "{k:?}"
            );
            assert!(r.html.contains("Acme"), "{k:?}");
        }
    }

    #[test]
    fn variables_are_escaped_in_html_and_left_alone_in_text() {
        let t = Templates::new().unwrap();
        let vars = json!({
            "tenant": "<script>alert(1)</script>", "colour": "red;background:url(x)", "to": "a@b.test",
            "inviter": "O'Neil & <b>Co</b>", "link": "http://x/?a=1&b=2", "hours": 72,
        });
        let r = t.render(Kind::Invitation, &vars).unwrap();
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;"), "{}", r.html);
        assert!(!r.html.contains("<b>Co</b>"));
        assert!(
            r.html.contains(DEFAULT_COLOUR),
            "an unsafe colour is replaced"
        );
        assert!(r.text.contains("O'Neil & <b>Co</b>"), "{}", r.text);
        assert!(r.text.contains("http://x/?a=1&b=2"));
    }

    #[test]
    fn every_time_in_mail_is_in_the_zone_and_names_it() {
        let t = Templates::new().unwrap();
        let vars = json!({
            "tenant": "Acme", "colour": "#112233", "to": "v@x.test", "site": "Acme", "name": "Vic",
            "start": "2026-12-07T16:00:00Z", "end": "2026-12-07T16:30:00.000Z", "tz": "America/New_York",
            "from": "Olive", "body": "Yes", "original": "Hi", "when": "2026-12-07T16:06:43.415Z",
            "messages": [{"who": "You", "body": "Hi", "ts": "2026-12-07T16:06:43.415Z"}],
        });
        let r = t.render(Kind::BookingConfirmed, &vars).unwrap();
        assert_eq!(
            r.subject,
            "Confirmed: your consultation with Acme on Mon 7 Dec 2026, 11:00 (America/New_York)"
        );
        let r = t.render(Kind::BookingRequested, &vars).unwrap();
        assert_eq!(
            r.subject,
            "Your consultation with Acme on Mon 7 Dec 2026, 11:00 (America/New_York)"
        );
        assert!(
            r.text
                .contains("Mon 7 Dec 2026, 11:00 – 11:30 (America/New_York)"),
            "{}",
            r.text
        );
        let r = t.render(Kind::ContactReply, &vars).unwrap();
        assert!(
            r.text
                .contains("You wrote on Mon 7 Dec 2026, 11:06 (America/New_York)"),
            "{}",
            r.text
        );
        let r = t.render(Kind::Transcript, &vars).unwrap();
        assert!(r.html.contains("Mon 7 Dec 2026, 11:06 (America/New_York)"));
        for k in [
            Kind::BookingRequested,
            Kind::BookingConfirmed,
            Kind::BookingCancelled,
            Kind::BookingReminder,
            Kind::ContactReply,
            Kind::Transcript,
            Kind::PasswordChanged,
        ] {
            let r = t.render(k, &vars).unwrap();
            assert!(
                !r.text.contains("T16:") && !r.html.contains("T16:"),
                "{k:?}"
            );
        }
    }

    #[test]
    fn colours_are_checked() {
        assert_eq!(safe_colour("#abc"), "#abc");
        assert_eq!(safe_colour("#A1B2C3"), "#A1B2C3");
        assert_eq!(safe_colour("#12345"), DEFAULT_COLOUR);
        assert_eq!(safe_colour("blue"), DEFAULT_COLOUR);
    }
}
