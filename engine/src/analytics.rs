//! Analytics: the events actors count as they happen, the hourly bucket
//! they are folded into (one per site and hour, one per staff member and
//! hour), and how a range of buckets is read back as totals, a series in
//! the caller's time zone, an hour-of-week heatmap and top lists.
//!
//! Durations are kept as histograms over fixed bounds so that percentiles
//! can be read back from any sum of buckets; top lists are capped per
//! bucket (the rest is folded into [`OTHER`]) so a bucket stays small.

use crate::time::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

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
    /// Counts one event.
    pub fn apply(&mut self, e: &Event) {
        match e {
            Event::Visit(tags) => {
                self.visitors += 1;
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
            Event::PageView(p) => {
                self.page_views += 1;
                bump(&mut self.pages, p, 1);
            }
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

/// How many rows a top list shows.
pub const TOP_ROWS: usize = 20;

fn top(map: &BTreeMap<String, u64>) -> Vec<Top> {
    let mut v: Vec<Top> = map
        .iter()
        .map(|(k, c)| Top {
            name: k.clone(),
            count: *c,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    v.truncate(TOP_ROWS);
    v
}

/// The resolution a range gets unless asked: hours up to two days, else days.
pub fn default_resolution(from: Timestamp, to: Timestamp) -> Resolution {
    if to.millis().saturating_sub(from.millis()) <= 48 * HOUR_MS {
        Resolution::Hour
    } else {
        Resolution::Day
    }
}

fn local(h: u32, tz: &TimeZone) -> jiff::ZonedDateTime {
    let ts = jiff::Timestamp::from_millisecond(hour_start(h).millis() as i64)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.to_zoned_datetime(tz.clone())
}

fn rfc3339(z: &jiff::ZonedDateTime) -> String {
    z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Builds the report of `[from, to)` from the buckets of every site asked
/// for (`buckets` by hour; several sites may give the same hour).
pub fn report<'a>(
    from: Timestamp,
    to: Timestamp,
    tz: &TimeZone,
    resolution: Resolution,
    buckets: impl IntoIterator<Item = (u32, &'a Bucket)>,
    geo_source: &'static str,
) -> Report {
    let (h0, h1) = (
        hour_of(from),
        hour_of(Timestamp(to.millis().saturating_sub(1))),
    );
    let mut total = Bucket::default();
    let mut by_hour: HashMap<u32, Bucket> = HashMap::new();
    for (h, b) in buckets {
        if h < h0 || h > h1 || to <= from {
            continue;
        }
        total.merge(b);
        by_hour.entry(h).or_default().merge_counts(b);
    }
    let mut heatmap = vec![[0u64; 24]; 7];
    for (h, b) in &by_hour {
        let z = local(*h, tz);
        let day = z.weekday().to_monday_zero_offset() as usize;
        heatmap[day][z.hour() as usize] += b.conversations;
    }
    let mut series: Vec<Point> = Vec::new();
    if to > from {
        let mut cur: Option<(String, Bucket)> = None;
        for h in h0..=h1 {
            let z = local(h, tz);
            let label = match resolution {
                Resolution::Hour => rfc3339(&z),
                Resolution::Day => z
                    .start_of_day()
                    .map(|d| rfc3339(&d))
                    .unwrap_or_else(|_| rfc3339(&z)),
            };
            if cur.as_ref().is_some_and(|(l, _)| *l != label) {
                let (t, b) = cur.take().expect("checked");
                series.push(Point {
                    t,
                    totals: b.totals(),
                });
            }
            let entry = cur.get_or_insert_with(|| (label, Bucket::default()));
            if let Some(b) = by_hour.get(&h) {
                entry.1.merge(b);
            }
        }
        if let Some((t, b)) = cur {
            series.push(Point {
                t,
                totals: b.totals(),
            });
        }
    }
    Report {
        from,
        to,
        tz: tz.iana_name().unwrap_or("UTC").to_string(),
        resolution,
        totals: total.totals(),
        series,
        heatmap,
        top_pages: top(&total.pages),
        referrers: top(&total.referrers),
        devices: top(&total.devices),
        browsers: top(&total.browsers),
        os: top(&total.os),
        countries: top(&total.countries),
        geo_source,
    }
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

/// Browser, operating system and kind of device, from a user agent
/// (parsed by `woothee`, with its names folded into families).
pub fn describe(ua: &str) -> (String, &'static str, &'static str) {
    let Some(r) = woothee::parser::Parser::new().parse(ua) else {
        return ("Other".into(), "Other", "desktop");
    };
    let browser = match r.name {
        "UNKNOWN" | "" => "Other".to_string(),
        "Internet Explorer" => "IE".into(),
        n => n.to_string(),
    };
    let os = match r.os {
        "iPhone" | "iPad" | "iPod" | "iOS" => "iOS",
        "Android" => "Android",
        "Mac OSX" | "macOS" => "macOS",
        "ChromeOS" => "ChromeOS",
        "Linux" | "BSD" => "Linux",
        o if o.starts_with("Windows") => "Windows",
        _ => "Other",
    };
    let device = match (r.category, r.os) {
        (_, "iPad") => "tablet",
        ("smartphone" | "mobilephone", _) if ua.contains("Android") && !ua.contains("Mobile") => {
            "tablet"
        }
        ("smartphone" | "mobilephone", _) => "mobile",
        ("crawler", _) => "bot",
        _ => "desktop",
    };
    (browser, os, device)
}

static ZONES: &str = include_str!("zones.txt");

/// The country (ISO 3166 alpha-2) of an IANA time zone, when it has one.
pub fn country_of_zone(tz: &str) -> Option<&'static str> {
    use std::sync::OnceLock;
    static MAP: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        ZONES
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, c)| c.len() == 2 && *c != "--")
            .collect()
    });
    map.get(tz).copied()
}

/// The path of a page URL (no scheme, host, query or fragment), clipped.
pub fn page_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = match rest.find('/') {
        Some(i) if url.contains("://") => &rest[i..],
        None if url.contains("://") => "/",
        _ => rest,
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let path = if path.is_empty() { "/" } else { path };
    path.chars().take(200).collect()
}

/// The host of a referrer, unless it is empty or the page's own host.
pub fn referrer_host(referrer: &str, page_url: &str) -> String {
    let host = |u: &str| -> String {
        u.split_once("://")
            .map(|(_, r)| r.split(['/', '?', '#']).next().unwrap_or(""))
            .unwrap_or("")
            .rsplit('@')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
            .chars()
            .take(100)
            .collect()
    };
    let r = host(referrer);
    if r.is_empty() || r == host(page_url) {
        String::new()
    } else {
        r.strip_prefix("www.").unwrap_or(&r).to_string()
    }
}

/// The tags of a visitor's visit, from what their browser said.
pub fn visit_tags(user_agent: &str, country: &str, referrer: String) -> VisitTags {
    let (browser, os, device) = describe(user_agent);
    VisitTags {
        device: device.into(),
        browser,
        os: os.into(),
        country: country.into(),
        referrer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_percentiles_come_back_from_sums() {
        let mut a = Hist::default();
        let mut b = Hist::default();
        for s in 1..=50u64 {
            a.add(s * 1000);
        }
        for s in 51..=100u64 {
            b.add(s * 1000);
        }
        a.merge(&b);
        assert_eq!(a.count(), 100);
        let p50 = a.quantile(0.5).unwrap();
        assert!((45_000..=60_000).contains(&p50), "{p50}");
        let p90 = a.quantile(0.9).unwrap();
        assert!((60_000..=120_000).contains(&p90), "{p90}");
        assert_eq!(Hist::default().quantile(0.5), None);
        let mut huge = Hist::default();
        huge.add(u64::MAX / 4);
        assert!(huge.quantile(0.5).is_some());
    }

    #[test]
    fn top_lists_are_capped_per_bucket() {
        let mut b = Bucket::default();
        for i in 0..(MAX_KEYS + 10) {
            b.apply(&Event::PageView(format!("/p{i}")));
        }
        assert_eq!(b.page_views, (MAX_KEYS + 10) as u64);
        assert_eq!(b.pages.len(), MAX_KEYS + 1);
        assert_eq!(b.pages[OTHER], 10);
    }

    #[test]
    fn ratings_replace_and_average() {
        let mut b = Bucket::default();
        b.apply(&Event::Rating {
            score: 5,
            add: true,
        });
        b.apply(&Event::Rating {
            score: 2,
            add: true,
        });
        b.apply(&Event::Rating {
            score: 2,
            add: false,
        });
        b.apply(&Event::Rating {
            score: 4,
            add: true,
        });
        assert_eq!(b.rating_avg(), Some(4.5));
        b.apply(&Event::Rating {
            score: 9,
            add: true,
        });
        assert_eq!(b.ratings.iter().sum::<i64>(), 2);
    }

    #[test]
    fn series_follow_the_callers_days_and_the_heatmap_its_hours() {
        // 2026-03-01T00:00Z is a Sunday; in New York it is Saturday 19:00.
        let start = Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap();
        let mut b = Bucket::default();
        b.apply(&Event::Conversation);
        let h = hour_of(start);
        let buckets = [(h, b.clone()), (h + 5, b.clone()), (h + 30, b)];
        let ny = TimeZone::get("America/New_York").unwrap();
        let to = Timestamp(start.millis() + 48 * HOUR_MS);
        let r = report(
            start,
            to,
            &ny,
            Resolution::Day,
            buckets.iter().map(|(h, b)| (*h, b)),
            "timezone",
        );
        assert_eq!(r.totals.conversations, 3);
        let days: Vec<_> = r
            .series
            .iter()
            .map(|p| (p.t.as_str(), p.totals.conversations))
            .collect();
        assert_eq!(
            days,
            vec![
                ("2026-02-28T00:00:00-05:00", 1),
                ("2026-03-01T00:00:00-05:00", 1),
                ("2026-03-02T00:00:00-05:00", 1),
            ]
        );
        assert_eq!(r.heatmap[5][19], 1, "Saturday 19:00 in New York");
        assert_eq!(r.heatmap[6][0], 1, "Sunday 00:00");
        let hourly = report(
            start,
            to,
            &TimeZone::UTC,
            Resolution::Hour,
            buckets.iter().map(|(h, b)| (*h, b)),
            "timezone",
        );
        assert_eq!(hourly.series.len(), 48);
        assert_eq!(hourly.series[5].totals.conversations, 1);
        assert_eq!(hourly.series[5].t, "2026-03-01T05:00:00+00:00");
        // Outside the range, nothing counts; an empty range is empty.
        let none = report(
            to,
            to,
            &TimeZone::UTC,
            Resolution::Hour,
            buckets.iter().map(|(h, b)| (*h, b)),
            "timezone",
        );
        assert_eq!(none.totals.conversations, 0);
        assert!(none.series.is_empty());
    }

    #[test]
    fn online_time_is_split_by_hour() {
        let t = Timestamp(10 * HOUR_MS + 30 * 60_000);
        let parts = split_hours(t, Timestamp(t.millis() + 2 * HOUR_MS));
        assert_eq!(parts, vec![(10, 1800), (11, 3600), (12, 1800)]);
        assert!(split_hours(t, t).is_empty());
    }

    #[test]
    fn pages_referrers_and_zones() {
        assert_eq!(page_path("https://a.example/pricing?x=1#top"), "/pricing");
        assert_eq!(page_path("https://a.example"), "/");
        assert_eq!(page_path("/docs/x?y"), "/docs/x");
        assert_eq!(
            referrer_host("https://www.google.com/search?q=x", "https://a.example/"),
            "google.com"
        );
        assert_eq!(
            referrer_host("https://a.example/other", "https://a.example/"),
            ""
        );
        assert_eq!(referrer_host("", "https://a.example/"), "");
        assert_eq!(country_of_zone("Europe/Paris"), Some("FR"));
        assert_eq!(country_of_zone("Asia/Calcutta"), Some("IN"));
        assert_eq!(country_of_zone("UTC"), None);
        assert_eq!(country_of_zone("Mars/Olympus"), None);
        let (browser, os, device) = describe(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        );
        assert_eq!((browser.as_str(), os, device), ("Safari", "iOS", "mobile"));
    }
}
