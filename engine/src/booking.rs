//! Consultations: the slots a site offers (from its business hours, in its
//! time zone, with the booking rules of its settings), which staff member
//! is free for one, and the life of a booking (`requested → confirmed →
//! completed | cancelled | no_show`). Pure rules; the Bookings actor of a
//! tenant is the one writer that applies them.

use crate::account::BusinessHours;
use crate::codes::error;
use crate::validate::Invalid;
use crate::{BookingId, SiteId, StaffId, TenantId, Timestamp};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// A site's booking rules (`consultations` in its settings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsultationSettings {
    pub enabled: bool,
    /// Length of one consultation.
    pub slot_minutes: u32,
    /// Free time kept around each booking of a staff member.
    pub buffer_minutes: u32,
    /// How far ahead a slot must start to be bookable.
    pub min_notice_hours: u32,
    /// How many days ahead slots are offered.
    pub horizon_days: u32,
    /// What a visitor may book a consultation about (empty: anything).
    pub topics: Vec<String>,
    /// Who takes bookings; empty: every active owner and admin.
    pub staff: Vec<StaffId>,
}

impl Default for ConsultationSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            slot_minutes: 30,
            buffer_minutes: 0,
            min_notice_hours: 2,
            horizon_days: 30,
            topics: Vec::new(),
            staff: Vec::new(),
        }
    }
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid {
        code: error::INVALID,
        message: message.into(),
    }
}

/// Checks booking rules.
pub fn consultation_settings(mut s: ConsultationSettings) -> Result<ConsultationSettings, Invalid> {
    if !(5..=480).contains(&s.slot_minutes) {
        return Err(invalid("slot_minutes must be 5 to 480"));
    }
    if s.buffer_minutes > 240 {
        return Err(invalid("buffer_minutes must be at most 240"));
    }
    if s.min_notice_hours > 24 * 60 {
        return Err(invalid("min_notice_hours must be at most 1440"));
    }
    if !(1..=365).contains(&s.horizon_days) {
        return Err(invalid("horizon_days must be 1 to 365"));
    }
    s.topics = s
        .topics
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if s.topics.len() > 30 || s.topics.iter().any(|t| t.chars().count() > 100) {
        return Err(invalid("at most 30 topics of at most 100 characters"));
    }
    s.staff.dedup();
    if s.staff.len() > 100 {
        return Err(invalid("at most 100 staff take bookings"));
    }
    Ok(s)
}

/// Bookings are offered inside business hours only: a site cannot switch
/// them on without any, or visitors would be told "fully booked" forever.
pub fn bookings_need_hours(
    c: &ConsultationSettings,
    hours: Option<&crate::account::BusinessHours>,
) -> Result<(), Invalid> {
    if c.enabled && hours.is_none_or(|h| h.days.is_empty()) {
        return Err(invalid(
            "business_hours: set the site's business hours before turning bookings on (slots are offered inside them)",
        ));
    }
    Ok(())
}

/// A time span `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Span {
    fn overlaps(self, other: Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// This span widened by `pad` on both sides.
    fn padded(self, pad_ms: u64) -> Span {
        Span {
            start: Timestamp(self.start.0.saturating_sub(pad_ms)),
            end: Timestamp(self.end.0.saturating_add(pad_ms)),
        }
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn hhmm(s: &str) -> Option<Time> {
    let (h, m) = s.split_once(':')?;
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

fn to_ts(t: jiff::Timestamp) -> Timestamp {
    Timestamp(t.as_millisecond().max(0) as u64)
}

fn from_ts(t: Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(t.0.min(i64::MAX as u64) as i64)
        .unwrap_or(jiff::Timestamp::MAX)
}

/// Every slot the rules offer that starts in `[from, to)`, ignoring who is
/// booked: inside the business hours of each day in the site's time zone,
/// one after another (`slot_minutes + buffer_minutes` apart) from opening,
/// ending by closing, at least `min_notice_hours` after `now` and within
/// `horizon_days` of it. No business hours: no slots.
pub fn offered(
    hours: Option<&BusinessHours>,
    rules: &ConsultationSettings,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Vec<Span> {
    let Some(hours) = hours else {
        return Vec::new();
    };
    let Ok(tz) = TimeZone::get(&hours.timezone) else {
        return Vec::new();
    };
    let earliest = now.after(std::time::Duration::from_secs(
        u64::from(rules.min_notice_hours) * 3600,
    ));
    let horizon = now.after(std::time::Duration::from_secs(
        u64::from(rules.horizon_days) * 86_400,
    ));
    let from = from.max(earliest);
    let to = to.min(horizon);
    if from >= to {
        return Vec::new();
    }
    let len = u64::from(rules.slot_minutes) * 60_000;
    let step = len + u64::from(rules.buffer_minutes) * 60_000;
    let first = from_ts(from).to_zoned_datetime(tz.clone()).date();
    let mut out = Vec::new();
    let mut day: Date = first.yesterday().unwrap_or(first);
    loop {
        let Ok(midnight) = day.to_zoned_datetime(tz.clone()) else {
            break;
        };
        if to_ts(midnight.timestamp()) >= to {
            break;
        }
        let wd = DAYS[usize::from(day.weekday().to_monday_zero_offset() as u8)];
        for h in hours.days.iter().filter(|d| d.day == wd) {
            let (Some(open), Some(close)) = (hhmm(&h.open), hhmm(&h.close)) else {
                continue;
            };
            let (Ok(o), Ok(c)) = (
                day.to_datetime(open).to_zoned_datetime(tz.clone()),
                day.to_datetime(close).to_zoned_datetime(tz.clone()),
            ) else {
                continue;
            };
            let (open, close) = (to_ts(o.timestamp()).0, to_ts(c.timestamp()).0);
            let mut s = open;
            while s + len <= close {
                let span = Span {
                    start: Timestamp(s),
                    end: Timestamp(s + len),
                };
                if span.start >= from && span.start < to {
                    out.push(span);
                }
                s += step;
            }
        }
        match day.tomorrow() {
            Ok(d) => day = d,
            Err(_) => break,
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The span of the offered slot that starts at `start`, if there is one.
pub fn offered_at(
    hours: Option<&BusinessHours>,
    rules: &ConsultationSettings,
    start: Timestamp,
    now: Timestamp,
) -> Option<Span> {
    offered(hours, rules, start, Timestamp(start.0 + 1), now)
        .into_iter()
        .find(|s| s.start == start)
}

/// One staff member's booked time (a live booking of any site of the tenant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy {
    pub staff: StaffId,
    pub span: Span,
    pub booking: BookingId,
}

/// The first of `candidates` with nothing booked within `buffer_minutes`
/// of `span` (bookings of `except` left out: the one being moved).
pub fn free_staff(
    candidates: &[StaffId],
    busy: &[Busy],
    span: Span,
    buffer_minutes: u32,
    except: Option<BookingId>,
) -> Option<StaffId> {
    let wide = span.padded(u64::from(buffer_minutes) * 60_000);
    candidates.iter().copied().find(|s| {
        !busy
            .iter()
            .any(|b| b.staff == *s && Some(b.booking) != except && b.span.overlaps(wide))
    })
}

/// A booking's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Requested,
    Confirmed,
    Completed,
    Cancelled,
    NoShow,
}

impl BookingStatus {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "requested" => Self::Requested,
            "confirmed" => Self::Confirmed,
            "completed" => Self::Completed,
            "cancelled" => Self::Cancelled,
            "no_show" => Self::NoShow,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Confirmed => "confirmed",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::NoShow => "no_show",
        }
    }

    /// Whether the booking still holds its slot.
    pub fn holds_slot(self) -> bool {
        matches!(self, Self::Requested | Self::Confirmed)
    }

    /// Whether a booking in this status may move to `next`.
    pub fn can_become(self, next: BookingStatus) -> bool {
        use BookingStatus::*;
        self == next
            || matches!(
                (self, next),
                (Requested, Confirmed | Cancelled)
                    | (Confirmed, Completed | Cancelled | NoShow)
                    | (Requested, Completed | NoShow)
            )
    }
}

/// One change in a booking's life, for its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookingEvent {
    pub at: Timestamp,
    /// `requested`, `confirmed`, …, or `rescheduled`.
    pub what: String,
    /// Who: a staff member's name, or `visitor`.
    pub by: String,
}

/// A consultation booked on a site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookingRecord {
    pub id: BookingId,
    pub tenant_id: TenantId,
    pub site_id: SiteId,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub company: String,
    pub topic: String,
    /// What the visitor wrote with the booking.
    pub message: String,
    pub span: Span,
    pub status: BookingStatus,
    pub assignee: Option<StaffId>,
    /// Staff's own notes.
    pub notes: String,
    /// Bumped by every use of a cancel or reschedule link: only links of
    /// the current version work, so each works once.
    pub link_version: u32,
    /// When the reminder mail went out, if it did.
    pub reminded: bool,
    pub history: Vec<BookingEvent>,
    pub created_at: Timestamp,
    /// The visitor's time zone as their browser named it when they booked
    /// (an IANA name), or empty when unknown (bookings made before it was
    /// kept, or over the API without one).
    pub timezone: String,
}

/// [`BookingRecord`] as stored before it kept the visitor's time zone:
/// read with an empty one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookingRecordV1 {
    pub id: BookingId,
    pub tenant_id: TenantId,
    pub site_id: SiteId,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub company: String,
    pub topic: String,
    pub message: String,
    pub span: Span,
    pub status: BookingStatus,
    pub assignee: Option<StaffId>,
    pub notes: String,
    pub link_version: u32,
    pub reminded: bool,
    pub history: Vec<BookingEvent>,
    pub created_at: Timestamp,
}

impl From<BookingRecordV1> for BookingRecord {
    fn from(v: BookingRecordV1) -> Self {
        Self {
            id: v.id,
            tenant_id: v.tenant_id,
            site_id: v.site_id,
            name: v.name,
            email: v.email,
            phone: v.phone,
            company: v.company,
            topic: v.topic,
            message: v.message,
            span: v.span,
            status: v.status,
            assignee: v.assignee,
            notes: v.notes,
            link_version: v.link_version,
            reminded: v.reminded,
            history: v.history,
            created_at: v.created_at,
            timezone: String::new(),
        }
    }
}

impl BookingRecord {
    /// The booked time of this booking, if it still holds its slot.
    pub fn busy(&self) -> Option<Busy> {
        match (self.status.holds_slot(), self.assignee) {
            (true, Some(staff)) => Some(Busy {
                staff,
                span: self.span,
                booking: self.id,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::DayHours;

    #[test]
    fn bookings_need_business_hours() {
        let on = ConsultationSettings {
            enabled: true,
            ..ConsultationSettings::default()
        };
        let none = BusinessHours {
            timezone: "UTC".into(),
            days: Vec::new(),
        };
        assert!(bookings_need_hours(&on, None).is_err());
        assert!(bookings_need_hours(&on, Some(&none)).is_err());
        assert!(bookings_need_hours(&on, Some(&hours("UTC"))).is_ok());
        assert!(bookings_need_hours(&ConsultationSettings::default(), None).is_ok());
    }

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn hours(tz: &str) -> BusinessHours {
        BusinessHours {
            timezone: tz.into(),
            days: ["mon", "tue", "wed", "thu", "fri"]
                .iter()
                .map(|d| DayHours {
                    day: (*d).into(),
                    open: "09:00".into(),
                    close: "12:00".into(),
                })
                .collect(),
        }
    }

    fn rules() -> ConsultationSettings {
        ConsultationSettings {
            enabled: true,
            slot_minutes: 60,
            buffer_minutes: 0,
            min_notice_hours: 0,
            horizon_days: 30,
            ..Default::default()
        }
    }

    #[test]
    fn slots_follow_business_hours_in_the_sites_time_zone() {
        // Tuesday 2026-12-01, Paris is UTC+1 in winter.
        let now = ts("2026-11-30T00:00:00Z");
        let h = hours("Europe/Paris");
        let s = offered(
            Some(&h),
            &rules(),
            ts("2026-12-01T00:00:00Z"),
            ts("2026-12-02T00:00:00Z"),
            now,
        );
        let starts: Vec<String> = s.iter().map(|s| s.start.to_rfc3339()).collect();
        assert_eq!(
            starts,
            [
                "2026-12-01T08:00:00.000Z",
                "2026-12-01T09:00:00.000Z",
                "2026-12-01T10:00:00.000Z"
            ]
        );
        assert_eq!(s[0].end, ts("2026-12-01T09:00:00Z"));
        // Saturday: closed.
        let sat = offered(
            Some(&h),
            &rules(),
            ts("2026-12-05T00:00:00Z"),
            ts("2026-12-06T00:00:00Z"),
            now,
        );
        assert!(sat.is_empty());
        // Summer time moves the slots an hour earlier in UTC.
        let june = offered(
            Some(&h),
            &ConsultationSettings {
                horizon_days: 365,
                ..rules()
            },
            ts("2027-06-01T00:00:00Z"),
            ts("2027-06-02T00:00:00Z"),
            now,
        );
        assert_eq!(june[0].start, ts("2027-06-01T07:00:00Z"));
        assert!(offered(None, &rules(), now, ts("2027-01-01T00:00:00Z"), now).is_empty());
    }

    #[test]
    fn notice_horizon_and_buffer_shape_the_offer() {
        let h = hours("UTC");
        let now = ts("2026-12-01T08:30:00Z");
        let r = ConsultationSettings {
            min_notice_hours: 1,
            slot_minutes: 30,
            buffer_minutes: 15,
            horizon_days: 1,
            ..rules()
        };
        let s = offered(Some(&h), &r, now, ts("2026-12-10T00:00:00Z"), now);
        let starts: Vec<String> = s
            .iter()
            .map(|s| s.start.to_rfc3339()[11..16].to_string())
            .collect();
        // 09:00 is inside the notice; 45 minutes apart; the next day is past the horizon.
        assert_eq!(starts, ["09:45", "10:30", "11:15"]);
        assert!(offered_at(Some(&h), &r, ts("2026-12-01T10:30:00Z"), now).is_some());
        assert!(offered_at(Some(&h), &r, ts("2026-12-01T10:31:00Z"), now).is_none());
        assert!(offered_at(Some(&h), &r, ts("2026-12-01T09:00:00Z"), now).is_none());
    }

    #[test]
    fn a_staff_member_is_never_booked_twice() {
        let (a, b) = (StaffId::new(), StaffId::new());
        let span = Span {
            start: ts("2026-12-01T09:00:00Z"),
            end: ts("2026-12-01T10:00:00Z"),
        };
        let taken = Busy {
            staff: a,
            span,
            booking: BookingId::new(),
        };
        assert_eq!(free_staff(&[a, b], &[], span, 0, None), Some(a));
        assert_eq!(free_staff(&[a, b], &[taken], span, 0, None), Some(b));
        assert_eq!(free_staff(&[a], &[taken], span, 0, None), None);
        assert_eq!(
            free_staff(&[a], &[taken], span, 0, Some(taken.booking)),
            Some(a)
        );
        let next = Span {
            start: span.end,
            end: ts("2026-12-01T11:00:00Z"),
        };
        assert_eq!(free_staff(&[a], &[taken], next, 0, None), Some(a));
        assert_eq!(free_staff(&[a], &[taken], next, 10, None), None);
    }

    #[test]
    fn statuses_move_forward_only() {
        use BookingStatus::*;
        assert!(Requested.can_become(Confirmed));
        assert!(Confirmed.can_become(Cancelled));
        assert!(!Cancelled.can_become(Confirmed));
        assert!(!Completed.can_become(Requested));
        assert!(Requested.holds_slot() && !Cancelled.holds_slot());
        assert_eq!(BookingStatus::parse("no_show"), Some(NoShow));
    }

    #[test]
    fn settings_are_checked() {
        assert!(consultation_settings(rules()).is_ok());
        assert!(consultation_settings(ConsultationSettings {
            slot_minutes: 0,
            ..rules()
        })
        .is_err());
        let s = consultation_settings(ConsultationSettings {
            topics: vec![" SEO ".into(), "".into()],
            ..rules()
        })
        .unwrap();
        assert_eq!(s.topics, ["SEO"]);
    }
}
