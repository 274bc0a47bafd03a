//! Account records beyond the core ones: sign-in sessions, single-use
//! tokens, the audit log, the mail outbox, tenant state and site settings,
//! with the pure rules that check them.

use crate::codes::error;
use crate::ids::*;
use crate::time::Timestamp;
use crate::validate::Invalid;
use serde::{Deserialize, Serialize};

/// A staff sign-in on one device: one refresh-token family. The refresh
/// token is `tenant.session.secret`; only a hash of the current secret is
/// stored, and a presented secret that is not the current one revokes the
/// family (it was stolen or replayed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub staff_id: StaffId,
    /// SHA-256 of the current refresh secret.
    pub secret_hash: Vec<u8>,
    /// The client's user agent at sign-in, shortened.
    pub device: String,
    pub ip: String,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    pub expires_at: Timestamp,
    pub revoked: bool,
}

impl SessionRecord {
    /// Usable now: neither revoked nor expired.
    pub fn is_active(&self, now: Timestamp) -> bool {
        !self.revoked && now < self.expires_at
    }
}

/// What a single-use token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    PasswordReset,
    Invitation,
}

/// A single-use, expiring token (password reset or invitation), stored
/// under a hash of its value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneTimeToken {
    pub kind: TokenKind,
    pub tenant_id: TenantId,
    pub staff_id: StaffId,
    pub expires_at: Timestamp,
    /// The staff member's `token_version` when it was issued: a completed
    /// reset, a password change or "sign out everywhere" bumps it, which
    /// voids every link issued before.
    pub staff_version: u32,
}

/// A sign-up waiting for its address to be confirmed by mail (only when
/// the instance sends mail): nothing exists until the link is opened, so an
/// address can be neither squatted nor probed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingSignup {
    /// The tenant's id to be (the confirmation mail sits in its outbox).
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub name: String,
    pub email: String,
    /// argon2id PHC of the chosen password.
    pub password_hash: String,
    pub expires_at: Timestamp,
}

/// Who did an audited action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditActor {
    /// `staff`, `superadmin`, `visitor` or `anonymous`.
    pub kind: String,
    pub id: Option<String>,
    pub email: Option<String>,
}

/// One append-only audit entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: AuditId,
    pub tenant_id: TenantId,
    pub actor: AuditActor,
    /// Dotted verb, e.g. `auth.login`, `staff.update`, `conversation.claim`.
    pub action: String,
    /// `staff`, `site`, `session`, `conversation`, `tenant`.
    pub entity_type: String,
    pub entity_id: Option<String>,
    /// What changed, as a JSON object text (`{}` when nothing to say).
    pub changes: String,
    pub ip: String,
    pub user_agent: String,
    pub at: Timestamp,
}

pub use crate::mail::MailRecord;

/// Where a contact-form message is in its handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ContactStatus {
    #[default]
    New,
    Read,
    Replied,
    Archived,
}

impl ContactStatus {
    /// Parses the contract's word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "new" => Self::New,
            "read" => Self::Read,
            "replied" => Self::Replied,
            "archived" => Self::Archived,
            _ => return None,
        })
    }

    /// The contract's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Read => "read",
            Self::Replied => "replied",
            Self::Archived => "archived",
        }
    }
}

/// A message a visitor left with a site's contact form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactRecord {
    pub id: ContactId,
    pub tenant_id: TenantId,
    pub site_id: SiteId,
    pub name: String,
    pub email: String,
    pub message: String,
    /// The page the form was sent from.
    pub page_url: String,
    pub visitor_id: Option<VisitorId>,
    pub ip: String,
    pub created_at: Timestamp,
    pub phone: String,
    /// Which of the site's services the message is about.
    pub service: String,
    pub status: ContactStatus,
    pub assignee: Option<StaffId>,
}

/// The first contact-message layout (before handling existed): still read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactRecordV1 {
    pub id: ContactId,
    pub tenant_id: TenantId,
    pub site_id: SiteId,
    pub name: String,
    pub email: String,
    pub message: String,
    pub page_url: String,
    pub visitor_id: Option<VisitorId>,
    pub ip: String,
    pub created_at: Timestamp,
}

impl From<ContactRecordV1> for ContactRecord {
    fn from(c: ContactRecordV1) -> Self {
        Self {
            id: c.id,
            tenant_id: c.tenant_id,
            site_id: c.site_id,
            name: c.name,
            email: c.email,
            message: c.message,
            page_url: c.page_url,
            visitor_id: c.visitor_id,
            ip: c.ip,
            created_at: c.created_at,
            phone: String::new(),
            service: String::new(),
            status: ContactStatus::New,
            assignee: None,
        }
    }
}

impl ContactRecord {
    /// Whether a search text matches (name, email, phone, service, message;
    /// case-insensitive).
    pub fn matches(&self, q: &str) -> bool {
        let q = q.to_lowercase();
        [
            &self.name,
            &self.email,
            &self.phone,
            &self.service,
            &self.message,
        ]
        .iter()
        .any(|f| f.to_lowercase().contains(&q))
    }
}

/// A reply (mailed to the sender) or an internal note on a contact message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactEntry {
    pub id: AuditId,
    pub contact_id: ContactId,
    /// A reply went to the sender by mail; a note never leaves.
    pub reply: bool,
    pub body: String,
    pub by: StaffId,
    pub by_name: String,
    pub created_at: Timestamp,
}

/// A saved reply of a tenant, inserted in the composer by typing `/` and
/// its shortcut.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CannedResponse {
    pub id: CannedId,
    pub tenant_id: TenantId,
    /// 1–32 characters of `a-z`, `0-9`, `-` and `_`; unique in the tenant.
    pub shortcut: String,
    pub body: String,
    pub created_by: StaffId,
    pub updated_at: Timestamp,
}

/// Whether `s` is a valid canned-response shortcut.
pub fn valid_shortcut(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// What a staff member chose for themselves (kept beside their record, so
/// adding a preference needs no migration of staff records).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaffPrefs {
    /// Mail me when a visitor leaves a message with the contact form.
    pub contact_alerts: bool,
    /// The IANA time zone the dashboard and this person's mail show times
    /// in; empty: the browser's (and UTC or the site's zone in mail).
    pub timezone: String,
}

impl Default for StaffPrefs {
    fn default() -> Self {
        Self {
            contact_alerts: true,
            timezone: String::new(),
        }
    }
}

/// The first preferences layout (before the time zone): still read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaffPrefsV1 {
    pub contact_alerts: bool,
}

impl From<StaffPrefsV1> for StaffPrefs {
    fn from(p: StaffPrefsV1) -> Self {
        Self {
            contact_alerts: p.contact_alerts,
            ..Self::default()
        }
    }
}

/// A time zone a person chose: empty (none) or an IANA name jiff knows,
/// such as `Europe/Paris` or `UTC`.
pub fn valid_timezone(tz: &str) -> Result<String, Invalid> {
    let tz = tz.trim();
    if tz.is_empty() || (tz.len() <= 64 && jiff::tz::TimeZone::get(tz).is_ok()) {
        Ok(tz.to_string())
    } else {
        Err(invalid(format!(
            "timezone {tz:?} must be an IANA name like Europe/Paris, or UTC"
        )))
    }
}

/// What a visitor's browser said of itself at their latest connection:
/// shown to staff as device, browser, local time and rough location.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VisitorDevice {
    pub user_agent: String,
    /// IANA time zone (`Europe/Paris`), when the widget could tell.
    pub timezone: String,
    /// The browser's preferred language (`Accept-Language`'s first tag).
    pub language: String,
}

/// One item of a staff member's notification bell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub id: NotificationId,
    /// `contact_message`, `booking` or `assignment`.
    pub kind: String,
    pub title: String,
    /// Where it leads in the dashboard (`#/contacts/…`).
    pub link: String,
    pub read: bool,
    pub created_at: Timestamp,
}

/// A site's public forms beyond chat: the services a contact message may
/// be about, and its consultation bookings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteForms {
    /// What the contact form offers to pick from (empty: no choice asked).
    pub services: Vec<String>,
    pub consultations: crate::booking::ConsultationSettings,
}

/// Checks a site's form settings.
pub fn site_forms(mut f: SiteForms) -> Result<SiteForms, Invalid> {
    f.services = f
        .services
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    f.services.dedup();
    if f.services.len() > 30 || f.services.iter().any(|t| t.chars().count() > 100) {
        return Err(invalid("at most 30 services of at most 100 characters"));
    }
    f.consultations = crate::booking::consultation_settings(f.consultations)?;
    Ok(f)
}

/// The longest contact-form message, in characters.
pub const MAX_CONTACT_CHARS: usize = 5000;

/// A tenant's operational state, set by the instance operator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantState {
    /// A suspended tenant's staff cannot sign in and its widget shows offline.
    pub suspended: bool,
    pub changed_at: Option<Timestamp>,
}

/// Where the widget's bubble sits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    #[default]
    BottomRight,
    BottomLeft,
}

/// Opening hours of one weekday, `HH:MM` in the site's time zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayHours {
    /// `mon` … `sun`.
    pub day: String,
    pub open: String,
    pub close: String,
}

/// When staff answer; outside these hours the widget shows the offline message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA time zone name, e.g. `Europe/Paris`, or `UTC`.
    pub timezone: String,
    pub days: Vec<DayHours>,
}

/// A field the widget asks for before the first message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreChatField {
    /// `name`, `email`, `phone` or a custom key.
    pub name: String,
    pub label: String,
    /// `text`, `email` or `phone`.
    #[serde(default = "text_kind")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
}

fn text_kind() -> String {
    "text".into()
}

/// A site's widget settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSettings {
    /// Origins (`https://example.com`) allowed to embed the widget and call
    /// the site's public routes; empty allows any origin.
    pub allowed_origins: Vec<String>,
    /// `#rrggbb`.
    pub color: String,
    pub position: Position,
    pub greeting: String,
    pub offline_message: String,
    pub business_hours: Option<BusinessHours>,
    pub pre_chat_fields: Vec<PreChatField>,
    /// HMAC secret a site's backend signs visitor identities with.
    pub identity_secret: Option<String>,
    /// The widget's colour scheme: follow the page's (`auto`), or fixed.
    pub theme: Theme,
    /// Seconds after a close within which the visitor's next message reopens
    /// the conversation instead of starting a new one (see
    /// [`crate::conversation::after_close`]); `None`: the server's
    /// `conversation.reopen_window_secs`. At most [`MAX_REOPEN_WINDOW_SECS`].
    pub reopen_window_secs: Option<u64>,
    /// Whether the widget offers chat only inside [`Self::business_hours`]
    /// (outside them it shows the offline form). Off: chat stays open around
    /// the clock while the hours still bound bookings. No effect without hours.
    pub chat_only_in_hours: bool,
}

/// The longest reopen window a site may set: 30 days.
pub const MAX_REOPEN_WINDOW_SECS: u64 = 30 * 24 * 3600;

/// The widget's colour scheme.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follows the visitor's `prefers-color-scheme`.
    #[default]
    Auto,
    Light,
    Dark,
}

/// [`SiteSettings`] as stored before the widget had a theme: read as `auto`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSettingsV1 {
    pub allowed_origins: Vec<String>,
    pub color: String,
    pub position: Position,
    pub greeting: String,
    pub offline_message: String,
    pub business_hours: Option<BusinessHours>,
    pub pre_chat_fields: Vec<PreChatField>,
    pub identity_secret: Option<String>,
}

/// [`SiteSettings`] as stored before a site had its own reopen window: read
/// as the server's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSettingsV2 {
    pub allowed_origins: Vec<String>,
    pub color: String,
    pub position: Position,
    pub greeting: String,
    pub offline_message: String,
    pub business_hours: Option<BusinessHours>,
    pub pre_chat_fields: Vec<PreChatField>,
    pub identity_secret: Option<String>,
    pub theme: Theme,
}

/// [`SiteSettings`] as stored before the hours and the chat gate were two
/// settings: hours, when set, gated chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSettingsV3 {
    pub allowed_origins: Vec<String>,
    pub color: String,
    pub position: Position,
    pub greeting: String,
    pub offline_message: String,
    pub business_hours: Option<BusinessHours>,
    pub pre_chat_fields: Vec<PreChatField>,
    pub identity_secret: Option<String>,
    pub theme: Theme,
    pub reopen_window_secs: Option<u64>,
}

impl From<SiteSettingsV3> for SiteSettings {
    fn from(v: SiteSettingsV3) -> Self {
        Self {
            allowed_origins: v.allowed_origins,
            color: v.color,
            position: v.position,
            greeting: v.greeting,
            offline_message: v.offline_message,
            business_hours: v.business_hours,
            pre_chat_fields: v.pre_chat_fields,
            identity_secret: v.identity_secret,
            theme: v.theme,
            reopen_window_secs: v.reopen_window_secs,
            chat_only_in_hours: true,
        }
    }
}

impl From<SiteSettingsV2> for SiteSettings {
    fn from(v: SiteSettingsV2) -> Self {
        Self {
            allowed_origins: v.allowed_origins,
            color: v.color,
            position: v.position,
            greeting: v.greeting,
            offline_message: v.offline_message,
            business_hours: v.business_hours,
            pre_chat_fields: v.pre_chat_fields,
            identity_secret: v.identity_secret,
            theme: v.theme,
            reopen_window_secs: None,
            chat_only_in_hours: true,
        }
    }
}

impl From<SiteSettingsV1> for SiteSettings {
    fn from(v: SiteSettingsV1) -> Self {
        Self {
            allowed_origins: v.allowed_origins,
            color: v.color,
            position: v.position,
            greeting: v.greeting,
            offline_message: v.offline_message,
            business_hours: v.business_hours,
            pre_chat_fields: v.pre_chat_fields,
            identity_secret: v.identity_secret,
            theme: Theme::Auto,
            reopen_window_secs: None,
            chat_only_in_hours: true,
        }
    }
}

impl Default for SiteSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            color: "#2563eb".into(),
            position: Position::BottomRight,
            greeting: "Hi! How can we help?".into(),
            offline_message: "We're away right now. Leave a message and we'll get back to you."
                .into(),
            business_hours: None,
            pre_chat_fields: Vec::new(),
            identity_secret: None,
            theme: Theme::Auto,
            reopen_window_secs: None,
            chat_only_in_hours: true,
        }
    }
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid {
        code: error::INVALID,
        message: message.into(),
    }
}

/// Normalises an origin: `scheme://host[:port]`, lower-cased, no path.
pub fn origin(raw: &str) -> Result<String, Invalid> {
    let o = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid(format!(
                "origin {raw:?} must start with https:// or http://"
            ))
        })?;
    let host_ok = !rest.is_empty()
        && rest.len() <= 253
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !host_ok {
        return Err(invalid(format!(
            "origin {raw:?} must be a scheme and host only, like https://example.com"
        )));
    }
    Ok(o)
}

/// Whether a browser `Origin` may use a site with these allowed origins.
pub fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    allowed.is_empty() || allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

fn hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.len() == 5).then_some(h * 60 + m)
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Checks and normalises site settings (origins, colour, texts, hours, fields).
pub fn site_settings(mut s: SiteSettings) -> Result<SiteSettings, Invalid> {
    if s.allowed_origins.len() > 50 {
        return Err(invalid("at most 50 allowed origins"));
    }
    s.allowed_origins = s
        .allowed_origins
        .iter()
        .map(|o| origin(o))
        .collect::<Result<_, _>>()?;
    s.allowed_origins.dedup();
    let c = s.color.trim().to_ascii_lowercase();
    if c.len() != 7 || !c.starts_with('#') || !c[1..].chars().all(|x| x.is_ascii_hexdigit()) {
        return Err(invalid("color must look like #1a2b3c"));
    }
    s.color = c;
    if s.reopen_window_secs
        .is_some_and(|w| w > MAX_REOPEN_WINDOW_SECS)
    {
        return Err(invalid(
            "reopen_window_secs must be between 0 and 2592000 (30 days)",
        ));
    }
    for (name, text) in [
        ("greeting", &s.greeting),
        ("offline_message", &s.offline_message),
    ] {
        if text.chars().count() > 500 {
            return Err(invalid(format!("{name} must have at most 500 characters")));
        }
    }
    if let Some(h) = &s.business_hours {
        let tz = &h.timezone;
        let tz_ok = tz.len() <= 64 && jiff::tz::TimeZone::get(tz).is_ok();
        if !tz_ok {
            return Err(invalid(format!(
                "timezone {tz:?} must be an IANA name like Europe/Paris, or UTC"
            )));
        }
        for d in &h.days {
            if !DAYS.contains(&d.day.as_str()) {
                return Err(invalid(format!("day {:?} must be one of mon…sun", d.day)));
            }
            match (hhmm(&d.open), hhmm(&d.close)) {
                (Some(o), Some(c)) if o < c => {}
                _ => {
                    return Err(invalid(format!(
                        "hours of {} must be HH:MM with open before close",
                        d.day
                    )))
                }
            }
        }
    }
    if s.pre_chat_fields.len() > 10 {
        return Err(invalid("at most 10 pre-chat fields"));
    }
    for f in &s.pre_chat_fields {
        let name_ok = !f.name.is_empty()
            && f.name.len() <= 40
            && f.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok || f.label.trim().is_empty() || f.label.chars().count() > 100 {
            return Err(invalid(
                "a pre-chat field needs a name (letters, digits, _) and a label of 1 to 100 characters",
            ));
        }
        if !matches!(f.kind.as_str(), "text" | "email" | "phone") {
            return Err(invalid(format!(
                "pre-chat field kind {:?} must be text, email or phone",
                f.kind
            )));
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalise_and_match() {
        assert_eq!(
            origin("HTTPS://Shop.Example.com/").unwrap(),
            "https://shop.example.com"
        );
        assert!(origin("shop.example.com").is_err());
        assert!(origin("https://a.com/path").is_err());
        let allowed = vec!["https://a.com".to_string()];
        assert!(origin_allowed(&allowed, "https://a.com"));
        assert!(!origin_allowed(&allowed, "https://evil.com"));
        assert!(origin_allowed(&[], "https://anything.com"));
    }

    #[test]
    fn settings_are_checked() {
        let ok = SiteSettings {
            allowed_origins: vec!["https://A.com".into()],
            color: "#AABBCC".into(),
            business_hours: Some(BusinessHours {
                timezone: "Europe/Paris".into(),
                days: vec![DayHours {
                    day: "mon".into(),
                    open: "09:00".into(),
                    close: "17:30".into(),
                }],
            }),
            ..Default::default()
        };
        let s = site_settings(ok.clone()).unwrap();
        assert_eq!(s.color, "#aabbcc");
        assert_eq!(s.allowed_origins, vec!["https://a.com"]);
        let mut bad = ok.clone();
        bad.color = "blue".into();
        assert!(site_settings(bad).is_err());
        let mut bad = ok.clone();
        bad.business_hours.as_mut().unwrap().days[0].close = "08:00".into();
        assert!(site_settings(bad).is_err());
        let mut bad = ok;
        bad.business_hours.as_mut().unwrap().timezone = "Paris time".into();
        assert!(site_settings(bad).is_err());
    }
}
