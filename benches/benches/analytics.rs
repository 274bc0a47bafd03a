//! Reading analytics: 30 days of a site that has a year of hourly buckets
//! (each with pages, referrers, devices, browsers, OS, countries and
//! histograms), into a report by day in a time zone — what the dashboard's
//! Analytics page asks for. Run: `cargo bench -p parley-benches --bench analytics`.

use criterion::{criterion_group, criterion_main, Criterion};
use jiff::tz::TimeZone;
use parley_engine::analytics::{hour_of, report, Bucket, Event, Resolution, VisitTags, HOUR_MS};
use parley_engine::*;
use parley_storage::keys::{bucket, Tally};
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

criterion_group!(benches, analytics_read);
criterion_main!(benches);
