//! Analytics: the events actors count as they happen, the hourly bucket
//! they are folded into (one per site and hour, one per staff member and
//! hour), and how a range of buckets is read back as totals, a series in
//! the caller's time zone, an hour-of-week heatmap and top lists.
//!
//! Durations are kept as histograms over fixed bounds so that percentiles
//! can be read back from any sum of buckets; top lists are capped per
//! bucket (the rest is folded into [`OTHER`]) so a bucket stays small.

use crate::time::Timestamp;
/// The zone a report is drawn in (re-exported: [`report`] takes one).
pub use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Milliseconds in an hour.
pub const HOUR_MS: u64 = 3_600_000;

/// The most keys one bucket keeps per top list; later ones count as [`OTHER`].
pub const MAX_KEYS: usize = 100;

/// Where keys past [`MAX_KEYS`] are counted.
pub const OTHER: &str = "(other)";

/// The hour (since the epoch) a time falls in: a bucket's key.
pub fn hour_of(t: Timestamp) -> u32 {
    (t.millis() / HOUR_MS).min(u32::MAX as u64) as u32
}

/// When an hour starts.
pub fn hour_start(h: u32) -> Timestamp {
    Timestamp(h as u64 * HOUR_MS)
}

/// Upper bounds of the duration histogram, in milliseconds (the last
/// counter holds everything above the last bound).
pub const BOUNDS_MS: [u64; 34] = [
    1_000,
    2_000,
    3_000,
    5_000,
    10_000,
    15_000,
    20_000,
    30_000,
    45_000,
    60_000,
    90_000,
    120_000,
    180_000,
    240_000,
    300_000,
    420_000,
    600_000,
    900_000,
    1_200_000,
    1_800_000,
    2_700_000,
    3_600_000,
    5_400_000,
    7_200_000,
    10_800_000,
    14_400_000,
    21_600_000,
    28_800_000,
    43_200_000,
    86_400_000,
    172_800_000,
    259_200_000,
    604_800_000,
    2_592_000_000,
];

/// A histogram of durations over [`BOUNDS_MS`]; empty until the first sample.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hist(pub Vec<u64>);

impl Hist {
    /// Counts one duration.
    pub fn add(&mut self, ms: u64) {
        if self.0.is_empty() {
            self.0 = vec![0; BOUNDS_MS.len() + 1];
        }
        let i = BOUNDS_MS.partition_point(|b| *b < ms);
        self.0[i] += 1;
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, o: &Hist) {
        if o.0.is_empty() {
            return;
        }
        if self.0.is_empty() {
            self.0 = vec![0; BOUNDS_MS.len() + 1];
        }
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            *a += b;
        }
    }

    /// How many durations were counted.
    pub fn count(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The `q` quantile (0..=1), interpolated inside its bound, in ms.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * n as f64).max(1.0);
        let mut seen = 0u64;
        for (i, c) in self.0.iter().enumerate() {
            if *c == 0 {
                continue;
            }
            if (seen + c) as f64 >= rank {
                let lo = if i == 0 { 0 } else { BOUNDS_MS[i - 1] };
                let hi = BOUNDS_MS.get(i).copied().unwrap_or(lo * 2);
                let within = (rank - seen as f64) / *c as f64;
                return Some(lo + ((hi - lo) as f64 * within) as u64);
            }
            seen += c;
        }
        None
    }
}

/// What is told of a visitor when they are first counted in an hour.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitTags {
    pub device: String,
    pub browser: String,
    pub os: String,
    /// ISO 3166 alpha-2, or empty when unknown.
    pub country: String,
    /// The referring site's host; empty for a direct visit.
    pub referrer: String,
}

/// One thing that happened, as counted into a bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A visitor's first sighting in the hour (the writer counts it once).
    Visit(Box<VisitTags>),
    /// A page view, by page path.
    PageView(String),
    /// A conversation started.
    Conversation,
    /// A conversation got no staff answer in time.
    Missed,
    /// A message, by side.
    Message {
        staff: bool,
    },
    /// Time to the first staff answer.
    FirstResponse(u64),
    /// Time from start to close (for a staff member: their handle time).
    Resolution(u64),
    /// A rating given (`add`) or replaced (`!add`).
    Rating {
        score: u8,
        add: bool,
    },
    ContactMessage,
    Booking,
    Subscriber,
    /// A staff member answered in a conversation for the first time.
    Chat,
    /// Seconds a staff member was online and available.
    Online(u64),
    /// A staff member replied to a contact message.
    ContactReply,
}

/// The counters of one site (or staff member) in one hour.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub visitors: u64,
    pub page_views: u64,
    pub conversations: u64,
    pub missed: u64,
    pub messages_visitor: u64,
    pub messages_staff: u64,
    pub first_response: Hist,
    pub resolution: Hist,
    /// Ratings by score 1..=5.
    pub ratings: [i64; 5],
    pub contact_messages: u64,
    pub bookings: u64,
    pub subscribers: u64,
    pub chats: u64,
    pub online_secs: u64,
    pub contact_replies: u64,
    pub pages: BTreeMap<String, u64>,
    pub referrers: BTreeMap<String, u64>,
    pub devices: BTreeMap<String, u64>,
    pub browsers: BTreeMap<String, u64>,
    pub os: BTreeMap<String, u64>,
    pub countries: BTreeMap<String, u64>,
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    if let Some(v) = map.get_mut(key) {
        *v += n;
    } else if map.len() < MAX_KEYS {
        map.insert(key.to_string(), n);
    } else {
        *map.entry(OTHER.to_string()).or_default() += n;
    }
}

impl Bucket {
    /// Counts one event, in the counters and the top lists.
    pub fn apply(&mut self, e: &Event) {
        self.apply_counts(e);
        match e {
            Event::Visit(tags) => {
                let known = |s: &str| if s.is_empty() { "unknown" } else { s }.to_string();
                bump(&mut self.devices, &known(&tags.device), 1);
                bump(&mut self.browsers, &known(&tags.browser), 1);
                bump(&mut self.os, &known(&tags.os), 1);
                bump(&mut self.countries, &known(&tags.country), 1);
                let r = if tags.referrer.is_empty() {
                    "direct"
                } else {
                    &tags.referrer
                };
                bump(&mut self.referrers, r, 1);
            }
            Event::PageView(p) => bump(&mut self.pages, p, 1),
            _ => {}
        }
    }

    /// Counts one event in the counters and histograms only (the top lists
    /// stay as they are): an hour of a [`Day`].
    pub fn apply_counts(&mut self, e: &Event) {
        match e {
            Event::Visit(_) => self.visitors += 1,
            Event::PageView(_) => self.page_views += 1,
            Event::Conversation => self.conversations += 1,
            Event::Missed => self.missed += 1,
            Event::Message { staff: true } => self.messages_staff += 1,
            Event::Message { staff: false } => self.messages_visitor += 1,
            Event::FirstResponse(ms) => self.first_response.add(*ms),
            Event::Resolution(ms) => self.resolution.add(*ms),
            Event::Rating { score, add } => {
                if let Some(r) = self.ratings.get_mut((*score as usize).wrapping_sub(1)) {
                    *r += if *add { 1 } else { -1 };
                }
            }
            Event::ContactMessage => self.contact_messages += 1,
            Event::Booking => self.bookings += 1,
            Event::Subscriber => self.subscribers += 1,
            Event::Chat => self.chats += 1,
            Event::Online(s) => self.online_secs += s,
            Event::ContactReply => self.contact_replies += 1,
        }
    }

    /// Adds another bucket's counts, top lists too.
    pub fn merge(&mut self, o: &Bucket) {
        self.merge_counts(o);
        let maps = [
            (&mut self.pages, &o.pages),
            (&mut self.referrers, &o.referrers),
            (&mut self.devices, &o.devices),
            (&mut self.browsers, &o.browsers),
            (&mut self.os, &o.os),
            (&mut self.countries, &o.countries),
        ];
        for (a, b) in maps {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(n) => *n += v,
                    None => {
                        a.insert(k.clone(), *v);
                    }
                }
            }
        }
    }

    /// Adds another bucket's counters and histograms (not its top lists).
    pub fn merge_counts(&mut self, o: &Bucket) {
        self.visitors += o.visitors;
        self.page_views += o.page_views;
        self.conversations += o.conversations;
        self.missed += o.missed;
        self.messages_visitor += o.messages_visitor;
        self.messages_staff += o.messages_staff;
        self.first_response.merge(&o.first_response);
        self.resolution.merge(&o.resolution);
        for (a, b) in self.ratings.iter_mut().zip(o.ratings) {
            *a += b;
        }
        self.contact_messages += o.contact_messages;
        self.bookings += o.bookings;
        self.subscribers += o.subscribers;
        self.chats += o.chats;
        self.online_secs += o.online_secs;
        self.contact_replies += o.contact_replies;
    }

    /// The average rating, when any.
    pub fn rating_avg(&self) -> Option<f64> {
        let n: i64 = self.ratings.iter().sum();
        let sum: i64 = self
            .ratings
            .iter()
            .enumerate()
            .map(|(i, c)| (i as i64 + 1) * c)
            .sum();
        (n > 0).then(|| (sum as f64 / n as f64 * 100.0).round() / 100.0)
    }

    /// The counters as the API shows them (no top lists).
    pub fn totals(&self) -> Totals {
        Totals {
            visitors: self.visitors,
            page_views: self.page_views,
            conversations: self.conversations,
            missed: self.missed,
            messages_visitor: self.messages_visitor,
            messages_staff: self.messages_staff,
            first_response_ms_p50: self.first_response.quantile(0.5),
            first_response_ms_p90: self.first_response.quantile(0.9),
            resolution_ms_p50: self.resolution.quantile(0.5),
            rating_avg: self.rating_avg(),
            ratings: self.ratings,
            contact_messages: self.contact_messages,
            bookings: self.bookings,
            subscribers: self.subscribers,
        }
    }
}

/// The counters of a range (or of one point of a series).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    pub visitors: u64,
    pub page_views: u64,
    pub conversations: u64,
    pub missed: u64,
    pub messages_visitor: u64,
    pub messages_staff: u64,
    pub first_response_ms_p50: Option<u64>,
    pub first_response_ms_p90: Option<u64>,
    pub resolution_ms_p50: Option<u64>,
    pub rating_avg: Option<f64>,
    /// How many ratings of each score 1..=5.
    pub ratings: [i64; 5],
    pub contact_messages: u64,
    pub bookings: u64,
    pub subscribers: u64,
}

/// One point of a series: its local start and its counters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// Local start of the hour or day, RFC 3339 with the zone's offset.
    pub t: String,
    #[serde(flatten)]
    pub totals: Totals,
}

/// One row of a top list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Top {
    pub name: String,
    pub count: u64,
}

/// Series resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Hour,
    Day,
}

/// What `GET /api/v1/analytics` answers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub from: Timestamp,
    pub to: Timestamp,
    pub tz: String,
    pub resolution: Resolution,
    pub totals: Totals,
    pub series: Vec<Point>,
    /// Conversations started by local weekday (Monday first) and hour.
    pub heatmap: Vec<[u64; 24]>,
    pub top_pages: Vec<Top>,
    pub referrers: Vec<Top>,
    pub devices: Vec<Top>,
    pub browsers: Vec<Top>,
    pub os: Vec<Top>,
    pub countries: Vec<Top>,
    /// `geoip` when countries come from a MaxMind database, else `timezone`.
    pub geo_source: &'static str,
}

/// One staff member's performance over a range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StaffRow {
    pub staff_id: crate::StaffId,
    pub name: String,
    pub chats: u64,
    pub messages: u64,
    pub first_response_ms_p50: Option<u64>,
    pub first_response_ms_p90: Option<u64>,
    pub handle_ms_p50: Option<u64>,
    pub rating_avg: Option<f64>,
    pub ratings: i64,
    pub online_secs: u64,
    pub contact_replies: u64,
    pub bookings: u64,
}

impl StaffRow {
    /// The row of a staff member's summed buckets.
    pub fn new(staff_id: crate::StaffId, name: String, b: &Bucket) -> Self {
        Self {
            staff_id,
            name,
            chats: b.chats,
            messages: b.messages_staff,
            first_response_ms_p50: b.first_response.quantile(0.5),
            first_response_ms_p90: b.first_response.quantile(0.9),
            handle_ms_p50: b.resolution.quantile(0.5),
            rating_avg: b.rating_avg(),
            ratings: b.ratings.iter().sum(),
            online_secs: b.online_secs,
            contact_replies: b.contact_replies,
            bookings: b.bookings,
        }
    }
}

/// Orders the leaderboard: most chats first, then the faster first response.
pub fn leaderboard(rows: &mut [StaffRow]) {
    rows.sort_by(|a, b| {
        b.chats
            .cmp(&a.chats)
            .then(
                a.first_response_ms_p50
                    .unwrap_or(u64::MAX)
                    .cmp(&b.first_response_ms_p50.unwrap_or(u64::MAX)),
            )
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// Splits `[from, to)` into seconds per hour: online time lands in the
/// hours it was spent in.
pub fn split_hours(from: Timestamp, to: Timestamp) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let mut t = from.millis();
    while t < to.millis() {
        let h = (t / HOUR_MS) as u32;
        let end = ((h as u64 + 1) * HOUR_MS).min(to.millis());
        let secs = (end - t) / 1000;
        if secs > 0 {
            out.push((h, secs));
        }
        t = end;
    }
    out
}

mod day;
mod report;
mod visit;
pub use day::*;
pub use report::*;
pub use visit::*;

#[cfg(test)]
mod tests;
