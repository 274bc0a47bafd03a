use super::*;
use jiff::tz::TimeZone;

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

/// Hour `h`'s events: a little of everything, differing by hour.
fn events_of(h: u32) -> Vec<Event> {
    let mut v = Vec::new();
    for i in 0..(h % 5 + 1) {
        v.push(Event::Visit(Box::new(VisitTags {
            device: ["desktop", "mobile"][(h + i) as usize % 2].into(),
            browser: "Firefox".into(),
            os: "Linux".into(),
            country: format!("C{}", (h + i) % 7),
            referrer: String::new(),
        })));
        v.push(Event::PageView(format!("/p{}", (h * 3 + i) % 11)));
    }
    if h % 3 == 0 {
        v.push(Event::Conversation);
        v.push(Event::FirstResponse(h as u64 * 1_000));
        v.push(Event::Rating {
            score: (h % 5 + 1) as u8,
            add: true,
        });
    }
    v
}

#[test]
fn daily_rollups_give_the_report_hourly_buckets_give() {
    let start = day_of(480_000 + 7);
    assert_eq!(start % DAY_HOURS, 0);
    let hours: Vec<u32> = (start..start + 5 * DAY_HOURS).collect();
    let buckets: Vec<(u32, Bucket)> = hours
        .iter()
        .map(|&h| {
            let mut b = Bucket::default();
            events_of(h).iter().for_each(|e| b.apply(e));
            (h, b)
        })
        .collect();
    // Days as the writer keeps them, event by event, and as rebuilt from
    // the hourly buckets: the same.
    let mut days: Vec<(u32, Day)> = Vec::new();
    for d in 0..5 {
        let ds = start + d * DAY_HOURS;
        let mut day = Day::default();
        for h in ds..ds + DAY_HOURS {
            events_of(h).iter().for_each(|e| day.apply(ds, h, e));
        }
        let rebuilt = Day::from_hours(ds, buckets.iter().map(|(h, b)| (*h, b)));
        assert_eq!(day, rebuilt);
        days.push((ds, day));
    }
    // An hour outside the day is no part of it.
    let mut d = Day::default();
    d.apply(start, start + DAY_HOURS, &Event::Conversation);
    assert_eq!(d, Day::default());
    // A range from the middle of the first day to the middle of the last:
    // hourly buckets at both ends, the three whole days between as rollups.
    let from = hour_start(start + 13);
    let to = hour_start(start + 4 * DAY_HOURS + 9);
    let paris = TimeZone::get("Europe/Paris").unwrap();
    for res in [Resolution::Day, Resolution::Hour] {
        let hourly = report(
            from,
            to,
            &paris,
            res,
            buckets.iter().map(|(h, b)| (*h, b)),
            "timezone",
        );
        let edges = buckets
            .iter()
            .filter(|(h, _)| *h < start + DAY_HOURS || *h >= start + 4 * DAY_HOURS);
        let mixed = report_from(
            from,
            to,
            &paris,
            res,
            edges.map(|(h, b)| (*h, b)),
            days.iter().map(|(s, d)| (*s, d)),
            "timezone",
        );
        assert_eq!(hourly, mixed);
        assert!(hourly.totals.conversations > 0 && !hourly.top_pages.is_empty());
    }
}
