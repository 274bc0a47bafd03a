//! Reading analytics: 30 days of a site that has a year of hourly buckets
//! (each with pages, referrers, devices, browsers, OS, countries and
//! histograms), into a report by day in a time zone — what the dashboard's
//! Analytics page asks for; and a whole year of five such sites, from the
//! hourly buckets alone (as before daily rollups) and as the server reads
//! it now (whole days from their rollups, `AnalyticsStore::site_range`).
//! Run: `cargo bench -p parley-benches --bench analytics`.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use jiff::tz::TimeZone;
use parley_engine::analytics::{
    day_of, hour_of, report, report_from, Bucket, Day, Event, Resolution, VisitTags, DAY_HOURS,
    HOUR_MS,
};
use parley_engine::*;
use parley_storage::keys::{bucket, day, Tally};
use parley_storage::{AnalyticsStore, Store, StoreConfig, WriteBatch};
use std::time::Duration;

/// A busy hour: a few hundred events over realistic top lists.
fn busy_hour(h: u32) -> Bucket {
    let mut b = Bucket::default();
    let (browsers, os, devices) = (
        ["Chrome", "Safari", "Firefox", "Edge", "Opera", "Other"],
        ["Windows", "macOS", "iOS", "Android", "Linux"],
        ["desktop", "mobile", "tablet"],
    );
    for i in 0..60u32 {
        let k = (i + h) as usize;
        b.apply(&Event::Visit(Box::new(VisitTags {
            device: devices[k % 3].into(),
            browser: browsers[k % 6].into(),
            os: os[k % 5].into(),
            country: format!("C{}", k % 25),
            referrer: format!("ref{}.example", k % 12),
        })));
        for p in 0..3 {
            b.apply(&Event::PageView(format!("/page/{}", (k * 7 + p) % 80)));
        }
    }
    for i in 0..12u64 {
        b.apply(&Event::Conversation);
        b.apply(&Event::Message { staff: false });
        b.apply(&Event::Message { staff: true });
        b.apply(&Event::FirstResponse(5_000 + i * 9_000));
        b.apply(&Event::Resolution(300_000 + i * 60_000));
        b.apply(&Event::Rating {
            score: (i % 5 + 1) as u8,
            add: true,
        });
    }
    b
}

fn analytics_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
    let (t, site) = (TenantId::new(), SiteId::new());
    let now = hour_of(Timestamp::now());
    let year = 365 * 24;
    for chunk in (0..year).collect::<Vec<u32>>().chunks(500) {
        let mut batch = WriteBatch::new();
        for &i in chunk {
            let h = now - year + i;
            batch.put(
                bucket(t, Tally::Site(site), h).to_bytes(),
                parley_storage::codec::encode(&busy_hour(h)),
            );
        }
        store.write_now(batch).unwrap();
    }
    let to = Timestamp(now as u64 * HOUR_MS);
    let from = Timestamp(to.millis() - 30 * 24 * HOUR_MS);
    let tz = TimeZone::get("Europe/Paris").unwrap();
    let mut g = c.benchmark_group("analytics");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function("read_30_days_of_a_year", |b| {
        b.iter(|| {
            let buckets = store
                .buckets(t, Tally::Site(site), hour_of(from), hour_of(to) - 1)
                .unwrap();
            assert_eq!(buckets.len(), 720);
            let r = report(
                from,
                to,
                &tz,
                Resolution::Day,
                buckets.iter().map(|(h, b)| (*h, b)),
                "timezone",
            );
            assert!(r.totals.conversations > 0);
            r
        })
    });
    g.finish();
}

/// A year of five busy sites, as the writer leaves it: hourly buckets and
/// each whole day's rollup.
fn year_of_five_sites(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
    let t = TenantId::new();
    let sites: Vec<SiteId> = (0..5).map(|_| SiteId::new()).collect();
    let now = hour_of(Timestamp::now());
    let year = 366 * 24;
    let first = day_of(now - year);
    for &site in &sites {
        for d in (first..now).step_by(DAY_HOURS as usize) {
            let hours: Vec<(u32, Bucket)> = (d..d + DAY_HOURS).map(|h| (h, busy_hour(h))).collect();
            let mut batch = WriteBatch::new();
            for (h, b) in &hours {
                batch.put(
                    bucket(t, Tally::Site(site), *h).to_bytes(),
                    parley_storage::codec::encode(b),
                );
            }
            let rollup = Day::from_hours(d, hours.iter().map(|(h, b)| (*h, b)));
            batch.put(day(t, site, d), parley_storage::codec::encode(&rollup));
            store.write_now(batch).unwrap();
        }
    }
    let to = Timestamp(now as u64 * HOUR_MS);
    let from = Timestamp(to.millis() - 365 * 24 * HOUR_MS);
    let (h0, h1) = (hour_of(from), hour_of(to) - 1);
    let tz = TimeZone::get("Europe/Paris").unwrap();
    let mut g = c.benchmark_group("analytics_year");
    // Seconds an iteration from the hourly buckets: one iteration a sample.
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(20));
    g.bench_function("365_days_of_5_sites_from_hourly_buckets", |b| {
        b.iter(|| {
            let mut all = Vec::new();
            for &s in &sites {
                all.extend(store.buckets(t, Tally::Site(s), h0, h1).unwrap());
            }
            assert_eq!(all.len(), 5 * 365 * 24);
            let r = report(
                from,
                to,
                &tz,
                Resolution::Day,
                all.iter().map(|(h, b)| (*h, b)),
                "timezone",
            );
            assert!(r.totals.conversations > 0);
            r
        })
    });
    let mut rolled = None;
    g.bench_function("365_days_of_5_sites_with_daily_rollups", |b| {
        b.iter(|| {
            let parts: Vec<_> = sites
                .iter()
                .map(|&s| store.site_range(t, s, h0, h1).unwrap())
                .collect();
            let r = report_from(
                from,
                to,
                &tz,
                Resolution::Day,
                parts
                    .iter()
                    .flat_map(|p| p.buckets.iter().map(|(h, b)| (*h, b))),
                parts
                    .iter()
                    .flat_map(|p| p.days.iter().map(|(h, d)| (*h, d))),
                "timezone",
            );
            assert!(r.totals.conversations > 0);
            rolled.get_or_insert_with(|| r.clone());
            r
        })
    });
    g.finish();
    // Both ways give the same report.
    let mut all = Vec::new();
    for &s in &sites {
        all.extend(store.buckets(t, Tally::Site(s), h0, h1).unwrap());
    }
    let whole = report(
        from,
        to,
        &tz,
        Resolution::Day,
        all.iter().map(|(h, b)| (*h, b)),
        "timezone",
    );
    assert_eq!(Some(whole), rolled, "rollups change no number");
}

criterion_group!(benches, analytics_read, year_of_five_sites);
criterion_main!(benches);
