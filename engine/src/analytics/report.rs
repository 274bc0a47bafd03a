//! A range of buckets read back as the report: totals, a series by hour
//! or day in the caller's time zone, an hour-of-week heatmap and top lists.
//! Hours come as hourly buckets or inside daily rollups ([`Day`]); both
//! give the same report.

use super::{hour_of, hour_start, Bucket, Day, Point, Report, Resolution, Top, DAY_HOURS, HOUR_MS};
use crate::time::Timestamp;
use jiff::tz::TimeZone;
use std::collections::{BTreeMap, HashMap};

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
    report_from(from, to, tz, resolution, buckets, [], geo_source)
}

/// [`report`] from hourly buckets and daily rollups together (by their
/// first hour): a day counts only when all its hours are in the range, so
/// a range's partial first and last days come as hourly buckets.
pub fn report_from<'a>(
    from: Timestamp,
    to: Timestamp,
    tz: &TimeZone,
    resolution: Resolution,
    buckets: impl IntoIterator<Item = (u32, &'a Bucket)>,
    days: impl IntoIterator<Item = (u32, &'a Day)>,
    geo_source: &'static str,
) -> Report {
    let (h0, h1) = (
        hour_of(from),
        hour_of(Timestamp(to.millis().saturating_sub(1))),
    );
    let mut total = Bucket::default();
    let mut by_hour: HashMap<u32, Bucket> = HashMap::new();
    if to > from {
        for (h, b) in buckets {
            if h < h0 || h > h1 {
                continue;
            }
            total.merge(b);
            by_hour.entry(h).or_default().merge_counts(b);
        }
        for (start, d) in days {
            if start < h0 || start.saturating_add(DAY_HOURS - 1) > h1 {
                continue;
            }
            total.merge(&d.all);
            for (h, b) in d.by_hour(start) {
                by_hour.entry(h).or_default().merge_counts(b);
            }
        }
    }
    let mut heatmap = vec![[0u64; 24]; 7];
    for (h, b) in &by_hour {
        if b.conversations == 0 {
            continue;
        }
        let z = local(*h, tz);
        let day = z.weekday().to_monday_zero_offset() as usize;
        heatmap[day][z.hour() as usize] += b.conversations;
    }
    let mut series: Vec<Point> = Vec::new();
    if to > from {
        let mut cur: Option<(String, Bucket)> = None;
        // A day's label is worked out once, at its first hour: the hours
        // up to the next local midnight share it.
        let mut until = 0u64;
        for h in h0..=h1 {
            let start = hour_start(h).millis();
            if resolution == Resolution::Hour || start >= until || cur.is_none() {
                let z = local(h, tz);
                let label = match resolution {
                    Resolution::Hour => rfc3339(&z),
                    Resolution::Day => {
                        let day = z.start_of_day().unwrap_or_else(|_| z.clone());
                        until = day
                            .tomorrow()
                            .ok()
                            .and_then(|t| t.start_of_day().ok())
                            .map(|t| t.timestamp().as_millisecond().max(0) as u64)
                            .unwrap_or(start + HOUR_MS);
                        rfc3339(&day)
                    }
                };
                if cur.as_ref().is_some_and(|(l, _)| *l != label) {
                    let (t, b) = cur.take().expect("checked");
                    series.push(Point {
                        t,
                        totals: b.totals(),
                    });
                }
                cur.get_or_insert_with(|| (label, Bucket::default()));
            }
            if let (Some((_, acc)), Some(b)) = (cur.as_mut(), by_hour.get(&h)) {
                acc.merge_counts(b);
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
